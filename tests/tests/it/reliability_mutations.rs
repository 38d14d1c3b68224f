//! Property test on mutated spec examples (issue 16): every example of
//! `contree-proto/src/generated/examples.json`, mutated (wrong types, removed fields, nulls,
//! huge numbers, odd strings, unknown fields, truncated or corrupted bytes, deep nesting), is
//! fed to the generated type's decoder and, for events, to `contree::Event::from_json`.
//! Nothing panics; a decode error names the JSON path of the value that was broken (or one
//! of its ancestors); unknown fields are accepted; `Event::from_json` never reads a broken
//! payload as a typed event. Seeded, bounded to a few seconds; prints how many cases ran.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use contree::{Event, EventKind};
use contree_proto::json::{DecodeError, decode};
use contree_proto::types;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const EXAMPLES: &str = include_str!("../../../crates/contree-proto/src/generated/examples.json");
const SEED: u64 = 0x16_16_20_26;
/// Mutations per example (each example's type, and events through `Event::from_json`).
const PER_EXAMPLE: usize = 300;
/// The key added as an unknown field.
const UNKNOWN: &str = "zz_unknown_field";

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A path in serde_path_to_error's notation (`files[0].mode`; `.` for the root).
fn show(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    if s.is_empty() { ".".into() } else { s }
}

/// Whether `a` is `b` or one of its ancestors.
fn within(a: &str, b: &str) -> bool {
    a == "." || a == b || {
        b.starts_with(a) && matches!(b.as_bytes().get(a.len()), Some(b'.') | Some(b'['))
    }
}

/// Whether the error path `err` names the broken value at `target`: the value itself, one
/// of its ancestors (a missing field is reported on its object), or a place inside it (a
/// replacement that is itself malformed inside).
fn names(err: &str, target: &str) -> bool {
    let deep = target.contains(['.', '[']) && target != ".";
    (within(err, target) && !(err == "." && deep)) || within(target, err)
}

fn paths(v: &Value, here: &mut Vec<Seg>, out: &mut Vec<Vec<Seg>>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                here.push(Seg::Key(k.clone()));
                paths(child, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                here.push(Seg::Index(i));
                paths(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Seg::Key(k) => &mut v[k.as_str()],
        Seg::Index(i) => &mut v[*i],
    })
}

/// A value of another JSON type than `v`.
fn wrong_type(v: &Value, rng: &mut StdRng) -> Value {
    let all = [
        json!(42),
        json!("text"),
        json!(true),
        json!([1, "x"]),
        json!({"k": 1}),
    ];
    loop {
        let w = all[rng.random_range(0..all.len())].clone();
        let same = std::mem::discriminant(&w) == std::mem::discriminant(v)
            || (v.is_number() && w.is_number());
        if !same {
            return w;
        }
    }
}

fn huge_number(rng: &mut StdRng) -> Value {
    let all = [
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e308),
        json!(-1),
        json!(9_007_199_254_740_993_u64),
        json!(0.5),
        json!(-0.0),
        json!(i64::MAX),
    ];
    all[rng.random_range(0..all.len())].clone()
}

fn odd_string(rng: &mut StdRng) -> Value {
    let all = [
        String::new(),
        " ".into(),
        "\u{0}".into(),
        "e\u{301}\u{202E}x".into(),
        "../../etc/passwd".into(),
        "null".into(),
        "-1".into(),
        "99999999999999999999999".into(),
        "a".repeat(100_000),
        "\"".into(),
        "tag:".into(),
        "not-a-uuid".into(),
        "2026-13-45T99:99:99Z".into(),
        "@@@not base64@@@".into(),
        "\u{FFFD}\u{FEFF}".into(),
    ];
    Value::String(all[rng.random_range(0..all.len())].clone())
}

/// What a case did to the example.
enum Change {
    /// The value at this path was replaced by something else.
    Value(String),
    /// The field at this path was removed.
    Removed(String),
    /// An unknown field was added to the object at this path (given with the new key).
    Unknown(String),
    /// The bytes were truncated, corrupted or nested too deep: any path will do.
    Bytes,
}

fn mutate(example: &Value, rng: &mut StdRng) -> (Vec<u8>, Change) {
    let mut all = Vec::new();
    paths(example, &mut Vec::new(), &mut all);
    let path = all[rng.random_range(0..all.len())].clone();
    let mut v = example.clone();
    let target = at(&mut v, &path);
    let shown = show(&path);
    let change = match rng.random_range(0..9) {
        0 | 1 => {
            *target = wrong_type(target, rng);
            Change::Value(shown)
        }
        2 => {
            *target = Value::Null;
            Change::Value(shown)
        }
        3 => {
            *target = huge_number(rng);
            Change::Value(shown)
        }
        4 => {
            *target = odd_string(rng);
            Change::Value(shown)
        }
        5 if matches!(path.last(), Some(Seg::Key(_))) => {
            let Some(Seg::Key(k)) = path.last() else {
                unreachable!()
            };
            let parent = at(&mut v, &path[..path.len() - 1]);
            parent.as_object_mut().expect("an object").remove(k);
            Change::Removed(shown)
        }
        6 if target.is_object() => {
            target
                .as_object_mut()
                .expect("an object")
                .insert(UNKNOWN.into(), json!({"nested": [1, 2]}));
            Change::Unknown(show(&[path, vec![Seg::Key(UNKNOWN.into())]].concat()))
        }
        7 => {
            let bytes = serde_json::to_vec(&v).expect("serialisable");
            let mut bytes = bytes;
            if rng.random_bool(0.5) {
                let cut = rng.random_range(0..bytes.len());
                bytes.truncate(cut);
            } else {
                let i = rng.random_range(0..bytes.len());
                bytes[i] = rng.random();
            }
            return (bytes, Change::Bytes);
        }
        _ => {
            let depth = rng.random_range(100..20_000);
            let mut bytes = "[".repeat(depth).into_bytes();
            bytes.extend(serde_json::to_vec(&v).expect("serialisable"));
            bytes.extend("]".repeat(depth).into_bytes());
            return (bytes, Change::Bytes);
        }
    };
    (serde_json::to_vec(&v).expect("serialisable"), change)
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    decoded: usize,
    errors: usize,
    /// Errors whose path is exactly the broken value (or inside it).
    exact: usize,
    events: usize,
    failures: Vec<String>,
}

/// Decodes `bytes` as `T` and checks the properties for `change`.
fn check<T: serde::de::DeserializeOwned>(
    name: &str,
    bytes: &[u8],
    change: &Change,
    baseline_ok: bool,
    t: &mut Tally,
) {
    t.cases += 1;
    let r: Result<Result<T, DecodeError>, _> =
        catch_unwind(AssertUnwindSafe(|| decode::<T>(bytes)));
    let fail = |t: &mut Tally, why: String| {
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        t.failures.push(format!("{name}: {why}; input: {shown}"));
    };
    match r {
        Err(_) => fail(t, "the decoder panicked".into()),
        Ok(Ok(_)) => t.decoded += 1,
        Ok(Err(e)) => {
            t.errors += 1;
            let text = e.to_string();
            if e.path().is_empty() || !text.contains(&format!("`{}`", e.path())) {
                fail(t, format!("the error does not name a path: {text}"));
            }
            match change {
                Change::Value(p) | Change::Removed(p) if within(p, e.path()) && p != "." => {
                    t.exact += 1;
                }
                Change::Value(p) | Change::Removed(p) if !names(e.path(), p) => {
                    fail(t, format!("broke `{p}`, the error names `{}`", e.path()));
                }
                // A struct takes unknown fields; only a typed map (`env`) may refuse the
                // new entry, and then the error names it.
                Change::Unknown(p) if baseline_ok && !within(p, e.path()) => {
                    fail(t, format!("an unknown field was refused: {text}"));
                }
                _ => {}
            }
        }
    }
}

/// `Event::from_json` on the mutated event: no panic, and a payload the generated type
/// refuses inside `data` is never read as a typed event.
fn check_event(bytes: &[u8], t: &mut Tally) {
    t.events += 1;
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let name = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "stdout".into());
    let ev = match catch_unwind(|| Event::from_json(&name, text)) {
        Ok(ev) => ev,
        Err(_) => {
            t.failures
                .push(format!("Event::from_json panicked on {text:.300}"));
            return;
        }
    };
    if let Err(e) = decode::<types::OperationEvent>(bytes)
        && (e.path() == "data" || e.path().starts_with("data."))
        && !matches!(ev.kind, EventKind::Other { .. })
    {
        t.failures.push(format!(
            "Event::from_json read a broken payload ({}) as {:?}: {text:.300}",
            e.path(),
            ev.kind
        ));
    }
}

macro_rules! dispatch {
    ($name:expr, $bytes:expr, $change:expr, $ok:expr, $t:expr; $($ty:ident),* $(,)?) => {
        match $name {
            $(stringify!($ty) => check::<types::$ty>($name, $bytes, $change, $ok, $t),)*
            other => panic!("examples.json names type {other}, which this test does not know"),
        }
    };
}

fn run(name: &str, bytes: &[u8], change: &Change, baseline_ok: bool, t: &mut Tally) {
    dispatch!(name, bytes, change, baseline_ok, t;
        OperationEvent, OperationEventSSEFrameData, Error, UUIDSchema, ImageSourceTag,
        ImageSource, FileItem, DirectoryList, GrepSubmatch, GrepMatch, GrepResult,
        ImageImportRequest, ImageListResponse, ImageImportMetadata, Image, StreamRepr,
        ClosableStreamRepr, InstanceResourcesLimits, ExecSpec, InstanceSpawnRequest,
        InstanceSpawnResponse, OperationSummary, InstanceResult, OperationResponse,
        FileResponse, EventDataInit, EventDataSpawn, EventDataStream, EventDataTruncated,
        EventDataSizeCap,
    );
}

/// The event examples, plus every `EventData*` example wrapped as an event of its type.
fn event_seeds(examples: &[(String, Value)]) -> Vec<Value> {
    let wrap: BTreeMap<&str, &[&str]> = [
        ("EventDataInit", &["init"][..]),
        ("EventDataSpawn", &["spawn"][..]),
        ("EventDataStream", &["stdout", "stderr", "stdin"][..]),
        ("EventDataTruncated", &["truncated"][..]),
        ("EventDataSizeCap", &["size_cap"][..]),
    ]
    .into_iter()
    .collect();
    let mut seeds = Vec::new();
    for (ty, v) in examples {
        if ty == "OperationEvent" {
            seeds.push(v.clone());
        }
        for kind in wrap.get(ty.as_str()).copied().unwrap_or_default() {
            seeds.push(
                json!({"id": 7, "spid": 1, "ts": "2026-06-08T20:00:00Z", "type": kind, "data": v}),
            );
        }
    }
    seeds
}

#[test]
fn mutated_spec_examples_never_panic_and_errors_name_the_path() {
    let examples: Vec<Value> = serde_json::from_str(EXAMPLES).expect("examples.json");
    let examples: Vec<(String, Value)> = examples
        .into_iter()
        .map(|e| {
            (
                e["type"].as_str().expect("type").to_string(),
                e["value"].clone(),
            )
        })
        .collect();
    assert!(examples.len() >= 30, "{} examples", examples.len());
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut t = Tally::default();
    for (ty, example) in &examples {
        // Every example decodes as its type before it is mutated.
        let bytes = serde_json::to_vec(example).unwrap();
        let (failures, errors) = (t.failures.len(), t.errors);
        run(ty, &bytes, &Change::Bytes, false, &mut t);
        assert_eq!(t.failures.len(), failures, "{:?}", t.failures);
        assert_eq!(t.errors, errors, "the example of {ty} does not decode");
        for _ in 0..PER_EXAMPLE {
            let (bytes, change) = mutate(example, &mut rng);
            run(ty, &bytes, &change, true, &mut t);
        }
    }
    let seeds = event_seeds(&examples);
    assert!(seeds.len() >= 12, "{} event seeds", seeds.len());
    for seed in &seeds {
        for _ in 0..PER_EXAMPLE {
            let (bytes, change) = mutate(seed, &mut rng);
            run("OperationEvent", &bytes, &change, true, &mut t);
            check_event(&bytes, &mut t);
        }
    }
    println!(
        "mutated spec examples: {} decoder cases over {} examples and {} event seeds ({} decoded, {} errors naming their path, {} of them exactly the broken value), {} Event::from_json cases, {} failures",
        t.cases,
        examples.len(),
        seeds.len(),
        t.decoded,
        t.errors,
        t.exact,
        t.events,
        t.failures.len()
    );
    let mut distinct: Vec<&String> = t.failures.iter().collect();
    distinct.sort();
    distinct.dedup_by_key(|f| f.split(';').next().unwrap_or("").to_string());
    assert!(
        t.failures.is_empty(),
        "{} failures; one of each kind:\n{}",
        t.failures.len(),
        distinct
            .iter()
            .take(30)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
