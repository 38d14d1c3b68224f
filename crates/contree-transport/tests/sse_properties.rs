//! Property test on stable (seeded, bounded): the SSE decoder under arbitrary chunking gives
//! the same frames (and the same refusal) as decoding the whole input at once, never panics,
//! and respects its caps. `cargo fuzz` explores the same property without bounds
//! (`cargo xtask fuzz`, needs nightly).

use std::time::{Duration, Instant};

use contree_transport::sse::{MAX_ID_LEN, SseDecoder, SseFrame};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Fragments that hit every branch of the decoder when glued together at random.
const PIECES: &[&[u8]] = &[
    b"data",
    b"data:",
    b"data: ",
    b"event:",
    b"event: spawn",
    b"id:",
    b"id: ",
    b"id: 7",
    b"retry:",
    b"retry: 1500",
    b"retry: 15x",
    b":",
    b": keepalive",
    b"\n",
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\r\n\r\n",
    b"\xEF\xBB\xBF",
    b"\xEF",
    b"\xFF",
    b"\0",
    b"x",
    b"{\"a\":1}",
    b"sse_error",
    b"Data: z",
    b" ",
    b"::",
    b"foo: bar",
    b"data: y\n",
    b"data: y\n",
    b"data: y\r\n",
    b"id: 3\n",
    b"\n\n",
    b"\n\n",
];

fn input(rng: &mut StdRng) -> Vec<u8> {
    let mut out = Vec::new();
    let n = rng.random_range(0..60);
    for _ in 0..n {
        match rng.random_range(0..20) {
            // A long run (exercises the caps and line buffering).
            0 => out.extend(std::iter::repeat_n(b'a', rng.random_range(0..300))),
            // Random bytes.
            1 => out.extend((0..rng.random_range(0..8)).map(|_| rng.random::<u8>())),
            // An id just under or over the cap.
            2 => {
                out.extend_from_slice(b"id: ");
                let len = MAX_ID_LEN - 1 + rng.random_range(0..3);
                out.extend(std::iter::repeat_n(b'1', len));
                out.push(b'\n');
            }
            _ => out.extend_from_slice(PIECES[rng.random_range(0..PIECES.len())]),
        }
    }
    out
}

/// Decodes with the given cuts; returns the frames, whether it was refused, and the last id.
fn run(input: &[u8], cuts: &[usize], cap: usize) -> (Vec<SseFrame>, bool, String) {
    let mut d = SseDecoder::with_max_frame_len(cap);
    let mut frames = Vec::new();
    let mut prev = 0;
    let mut refused = false;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(prev, input.len());
        if d.feed(&input[prev..cut]).is_err() {
            refused = true;
            break;
        }
        frames.extend(std::iter::from_fn(|| d.next_frame()));
        prev = cut;
    }
    d.finish();
    frames.extend(std::iter::from_fn(|| d.next_frame()));
    (frames, refused, d.last_event_id().to_string())
}

#[test]
fn chunking_never_changes_the_frames() {
    let seed = 0x5EED_55E0;
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let mut inputs = 0u64;
    let mut chunkings = 0u64;
    let mut frames_seen = 0usize;
    while inputs < 4000 && started.elapsed() < Duration::from_secs(5) {
        let bytes = input(&mut rng);
        let cap = if rng.random_bool(0.2) { 64 } else { 1 << 16 };
        let (whole, refused, last) = run(&bytes, &[], cap);
        frames_seen += whole.len();
        for f in &whole {
            assert!(f.data.len() <= cap, "seed {seed} input {inputs}");
            assert!(!f.event.is_empty());
            assert!(
                f.id.as_ref()
                    .is_none_or(|id| id.len() <= MAX_ID_LEN && !id.contains('\0'))
            );
        }
        for _ in 0..4 {
            let mut cuts: Vec<usize> = (0..rng.random_range(0..12))
                .map(|_| rng.random_range(0..=bytes.len()))
                .collect();
            if rng.random_bool(0.1) {
                cuts = (0..bytes.len()).collect(); // byte by byte
            }
            cuts.sort_unstable();
            let (split, split_refused, split_last) = run(&bytes, &cuts, cap);
            assert_eq!(
                refused, split_refused,
                "seed {seed} input {inputs} cuts {cuts:?}"
            );
            if !refused {
                assert_eq!(whole, split, "seed {seed} input {inputs} cuts {cuts:?}");
                assert_eq!(last, split_last, "seed {seed} input {inputs}");
            }
            chunkings += 1;
        }
        inputs += 1;
    }
    assert!(inputs >= 500, "only {inputs} inputs ran");
    println!(
        "sse property: {inputs} inputs x {chunkings} chunkings ({frames_seen} frames), seed {seed:#x}, 0 mismatches"
    );
}
