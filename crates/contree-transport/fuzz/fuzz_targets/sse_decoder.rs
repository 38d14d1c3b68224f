//! Fuzzes the incremental SSE decoder: it must never panic, must respect its size cap, and
//! must produce the same frames however the input is split into chunks.
#![no_main]

use contree_transport::sse::{SseDecoder, SseFrame};
use libfuzzer_sys::fuzz_target;

fn run(input: &[u8], cuts: &[usize], cap: usize) -> (Vec<SseFrame>, bool) {
    let mut d = SseDecoder::with_max_frame_len(cap);
    let mut frames = Vec::new();
    let mut prev = 0;
    let mut failed = false;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(prev, input.len());
        if d.feed(&input[prev..cut]).is_err() {
            failed = true;
            break;
        }
        while let Some(f) = d.next_frame() {
            frames.push(f);
        }
        prev = cut;
    }
    d.finish();
    while let Some(f) = d.next_frame() {
        frames.push(f);
    }
    (frames, failed)
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    // The first byte chooses the chunking; the rest is the stream.
    let step = usize::from(data[0] % 16) + 1;
    let input = &data[1..];
    let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
    let cap = 1 << 16;
    let (whole, whole_failed) = run(input, &[], cap);
    let (split, split_failed) = run(input, &cuts, cap);
    assert_eq!(whole_failed, split_failed);
    if !whole_failed {
        assert_eq!(whole, split);
    }
    for f in &whole {
        assert!(f.data.len() <= cap);
        assert!(!f.event.is_empty());
        assert!(f.id.as_deref().is_none_or(|id| !id.contains('\0')));
    }
});
