//! Process results in the shapes the service reports.
//!
//! Every JSON body is a `contree_proto::types` value, serialised as is: the generated types send
//! a nullable field's `None` as `null`, as the service does (the official Python SDK's models
//! raise `KeyError` on a missing key), so nothing is patched after serialising.

use contree_proto::types::{InstanceResultResources, InstanceResultState};

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
