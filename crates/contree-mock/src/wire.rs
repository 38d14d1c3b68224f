//! From proto's generated types to the bodies the mock sends.
//!
//! Every JSON body is a `contree_proto::types` value. The generated types leave an optional
//! field out when it is `None`; the service (and the official Python SDK's models, which raise
//! `KeyError` on a missing key) sends the spec's nullable fields as explicit `null`. The lists
//! below name those keys per body; [`to_json`] writes them back after serialising.

use contree_proto::types::{InstanceResultResources, InstanceResultState};
use serde::Serialize;
use serde_json::Value;

/// Nullable keys of `Image`.
pub(crate) const IMAGE_NULLS: &[&str] = &["tag", "operation_uuid"];
/// Nullable keys of `ImageListResponse`.
pub(crate) const IMAGE_LIST_NULLS: &[&str] = &["images.tag", "images.operation_uuid"];
/// Nullable keys of `OperationSummary` (a list of them, too).
pub(crate) const SUMMARY_NULLS: &[&str] = &[
    "error",
    "image_size",
    "consumed_cpu",
    "consumed_memory",
    "image_uuid",
    "result_image_uuid",
];
/// Nullable keys of `OperationResponse` besides [`SUMMARY_NULLS`].
pub(crate) const RESPONSE_NULLS: &[&str] = &["result.image", "result.tag"];
/// Nullable keys of an instance's `metadata` (`result` stays `null` until the process ends).
pub(crate) const INSTANCE_METADATA_NULLS: &[&str] = &["metadata.result"];
/// Nullable keys of an import's `metadata`.
pub(crate) const IMPORT_METADATA_NULLS: &[&str] = &["metadata.tag"];
/// Nullable keys of `InstanceSpawnResponse`.
pub(crate) const SPAWN_NULLS: &[&str] = &["result"];

/// Serialises `v`, then writes `null` at every key path of `nulls` that is missing
/// (`a.b` descends into object `a`, and into each element when `a` is an array).
pub(crate) fn to_json<T: Serialize>(v: &T, nulls: &[&[&str]]) -> Value {
    let mut out = serde_json::to_value(v).unwrap_or(Value::Null);
    for path in nulls.iter().flat_map(|l| l.iter()) {
        fill_null(&mut out, path);
    }
    out
}

fn fill_null(v: &mut Value, path: &str) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| fill_null(i, path)),
        Value::Object(map) => match path.split_once('.') {
            None => {
                map.entry(path).or_insert(Value::Null);
            }
            Some((head, rest)) => {
                if let Some(child) = map.get_mut(head) {
                    fill_null(child, rest);
                }
            }
        },
        _ => {}
    }
}

/// `InstanceResult.state` (`signal: -1` for none, as the service reports it).
pub(crate) fn process_state(
    pid: u32,
    code: i32,
    signal: i32,
    timed_out: bool,
) -> InstanceResultState {
    let mut s = InstanceResultState::new();
    s.exit_code = Some(i64::from(code));
    s.signal = Some(i64::from(signal));
    s.timed_out = Some(timed_out);
    s.pid = Some(i64::from(pid));
    s.core_dump = Some(false);
    s.stopped = Some(false);
    s.continued = Some(false);
    s
}

/// `InstanceResult.resources` with every key the official SDK requires (plausible constants;
/// `signal` > 0 counts one received signal).
pub(crate) fn process_resources(elapsed_secs: f64, signal: i32) -> InstanceResultResources {
    let mut r = InstanceResultResources::new();
    r.elapsed_time = Some(elapsed_secs);
    r.monotonic_time = Some(elapsed_secs);
    r.user_cpu_time = Some(if elapsed_secs > 0.0 { 0.001 } else { 0.0 });
    r.system_cpu_time = Some(0.0);
    r.max_rss = Some(2048);
    r.block_input = Some(0);
    r.block_output = Some(0);
    r.page_faults = Some(0);
    r.page_faults_io = Some(0);
    r.voluntary_switches = Some(i64::from(elapsed_secs > 0.0));
    r.involuntary_switches = Some(0);
    r.shared_memory = Some(0);
    r.unshared_memory = Some(0);
    r.signals = Some(i64::from(signal > 0));
    r.swaps = Some(0);
    r.cost = Some(0.0);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_are_written_where_missing_only() {
        let v = serde_json::json!({"a": 1, "list": [{"x": 2}, {"t": "k"}], "m": {"r": 3}});
        let out = to_json(&v, &[&["a", "b", "list.t", "m.q", "zz.y"]]);
        assert_eq!(out["a"], 1);
        assert!(out["b"].is_null() && out.as_object().unwrap().contains_key("b"));
        assert!(out["list"][0].as_object().unwrap()["t"].is_null());
        assert_eq!(out["list"][1]["t"], "k");
        assert!(out["m"].as_object().unwrap().contains_key("q"));
        assert!(!out.as_object().unwrap().contains_key("zz"));
    }
}
