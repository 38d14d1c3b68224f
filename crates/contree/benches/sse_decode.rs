//! Scenario 5 of `cargo xtask bench`: decoding a recorded stream of SSE events.
//!
//! `fixtures/run-events.sse` is the event stream of runs recorded from `contree-mock`
//! (`GET /v1/operations/{id}/events`). The bench repeats its frames, renumbering the ids, into
//! one stream of `CONTREE_BENCH_EVENTS` events (default 1,000,000 under `cargo bench`, 1,000
//! when run as a test by `cargo test --all-targets`), then measures:
//! - `sse/decode`: [`SseDecoder`] fed in 16 KiB chunks (what a socket read yields), every
//!   frame taken out;
//! - `sse/decode_json`: the same plus decoding each frame's `data` into the generated wire type
//!   `contree_proto::types::OperationEvent` (every field of every event, typed);
//! - `sse/decode_sdk`: the same plus [`contree::Event::from_json`], the SDK's own decoding of
//!   each event while it follows a run (what a user of `Run::stream` pays per event).
//!
//! When `CONTREE_BENCH_META` names a file, the input's event and byte counts are written to
//! it as JSON (for the report of `cargo xtask bench`).

use std::time::Duration;

use contree_transport::sse::SseDecoder;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const FIXTURE: &str = include_str!("fixtures/run-events.sse");
const CHUNK: usize = 16 * 1024;

/// One frame of the fixture with its id replaced by `{ID}` (in the `id:` line and the JSON).
fn templates() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for block in FIXTURE.split("\n\n") {
        let mut id = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id: ") {
                id = Some(v.trim().to_string());
            }
        }
        let Some(id) = id else { continue };
        let text = format!("{block}\n\n");
        let (head, rest) = text
            .split_once('\n')
            .expect("an SSE block in the fixture has several lines");
        assert_eq!(
            head,
            format!("id: {id}"),
            "the fixture's frames start with id"
        );
        let json_id = format!("\"id\":{id},");
        assert!(rest.contains(&json_id), "the fixture's data carry their id");
        let (a, b) = rest.split_once(&json_id).expect("checked above");
        out.push((format!("{a}\"id\":"), format!(",{b}")));
    }
    assert!(!out.is_empty(), "the fixture holds SSE frames");
    out
}

fn stream(n: usize) -> Vec<u8> {
    let t = templates();
    let mut s = String::with_capacity(n * 200);
    for i in 0..n {
        let (a, b) = &t[i % t.len()];
        s.push_str("id: ");
        s.push_str(&i.to_string());
        s.push('\n');
        s.push_str(a);
        s.push_str(&i.to_string());
        s.push_str(b);
    }
    s.into_bytes()
}

/// What is done with each frame.
#[derive(Clone, Copy)]
enum Json {
    /// Nothing: the SSE decoding alone.
    None,
    /// Decoded into the generated `OperationEvent`.
    Proto,
    /// Decoded by the SDK into `contree::Event`.
    Sdk,
}

fn decode(input: &[u8], json: Json) -> usize {
    let mut d = SseDecoder::new();
    let mut frames = 0;
    for chunk in input.chunks(CHUNK) {
        d.feed(chunk).expect("the recorded stream decodes");
        while let Some(f) = d.next_frame() {
            match json {
                Json::None => {
                    std::hint::black_box(&f);
                }
                Json::Proto => {
                    let ev: contree_proto::types::OperationEvent =
                        serde_json::from_str(&f.data).expect("the recorded events are valid");
                    std::hint::black_box(ev);
                }
                Json::Sdk => {
                    let ev = contree::Event::from_json(&f.event, &f.data);
                    assert!(
                        !matches!(ev.kind, contree::EventKind::Other { .. }),
                        "the SDK knows every recorded event: {ev:?}"
                    );
                    std::hint::black_box(ev);
                }
            }
            frames += 1;
        }
    }
    frames
}

fn bench(c: &mut Criterion) {
    let under_bench = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("CONTREE_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if under_bench { 1_000_000 } else { 1_000 });
    let input = stream(n);
    assert_eq!(decode(&input, Json::Proto), n, "every event is decoded");
    assert_eq!(decode(&input, Json::Sdk), n, "every event is decoded");
    if let Ok(path) = std::env::var("CONTREE_BENCH_META") {
        let meta = serde_json::json!({ "events": n, "bytes": input.len(), "chunk": CHUNK });
        std::fs::write(&path, meta.to_string()).expect("the meta file is writable");
    }
    let secs = std::env::var("CONTREE_BENCH_MEASURE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut g = c.benchmark_group("sse");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(secs))
        .throughput(Throughput::Elements(n as u64));
    g.bench_function("decode", |b| b.iter(|| decode(&input, Json::None)));
    g.bench_function("decode_json", |b| b.iter(|| decode(&input, Json::Proto)));
    g.bench_function("decode_sdk", |b| b.iter(|| decode(&input, Json::Sdk)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
