//! Property test on stable (seeded, bounded): for generated `auth.ini` files, whatever the
//! reader accepts, the writer writes, and parse -> write -> parse gives the same document
//! (and writing it again gives the same bytes). `cargo fuzz` explores the same property
//! without bounds (`cargo xtask fuzz`, needs nightly).

use std::path::Path;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{parse, same_document, serialize};

const LINES: &[&str] = &[
    "[DEFAULT]",
    "[profile:a]",
    "[profile:b]",
    "[ spaced ]",
    "[a]b]",
    "[cli]",
    "profile = a",
    "token = t0k",
    "TOKEN = T",
    "url: https://x/",
    "type=iam",
    "project =",
    "k = v = w",
    "k2 = a:b",
    "# comment",
    "; comment",
    "   # indented comment",
    "",
    "   ",
    "junk",
    "= v",
    "[",
    "[]",
    "key = %(x)s",
    "x = \\",
    "empty =",
    "k3 = trailing   ",
];

const CONT: &[&str] = &[
    "  more", "\tb = c", "    d: e", "  ", "  [x]", "  #c", "   ;c", "  x\ty",
];

fn file(rng: &mut StdRng) -> String {
    let mut out = String::new();
    if rng.random_bool(0.1) {
        out.push('\u{feff}');
    }
    if rng.random_bool(0.7) {
        out.push_str("[profile:p]\n");
    }
    for _ in 0..rng.random_range(0..25) {
        let line = if rng.random_bool(0.25) {
            CONT[rng.random_range(0..CONT.len())].to_string()
        } else if rng.random_bool(0.1) {
            // A fresh key with random text.
            let len = rng.random_range(0..12);
            let v: String = (0..len)
                .map(|_| {
                    let c = rng.random_range(0x20u8..0x7f);
                    c as char
                })
                .collect();
            format!("k{} = {v}", rng.random_range(0..1000))
        } else {
            LINES[rng.random_range(0..LINES.len())].to_string()
        };
        out.push_str(&line);
        out.push_str(match rng.random_range(0..10) {
            0 => "\r\n",
            1 => "\r",
            _ => "\n",
        });
    }
    out
}

#[test]
fn parse_write_parse_is_the_identity() {
    let seed = 0x0A11_71A1;
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();
    let path = Path::new("auth.ini");
    let (mut inputs, mut accepted) = (0u64, 0u64);
    while inputs < 5000 && started.elapsed() < Duration::from_secs(5) {
        let text = file(&mut rng);
        inputs += 1;
        let Ok(doc) = parse(path, text.as_bytes()) else {
            continue;
        };
        accepted += 1;
        let bytes = serialize(path, &doc).unwrap_or_else(|e| {
            panic!("seed {seed:#x} input {inputs}: {text:?} accepted but not writable: {e}")
        });
        let again = parse(path, &bytes).unwrap_or_else(|e| {
            panic!(
                "seed {seed:#x} input {inputs}: written {:?} unreadable: {e}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert!(
            same_document(&doc, &again),
            "seed {seed:#x} input {inputs}: {text:?}"
        );
        assert_eq!(
            serialize(path, &again).unwrap(),
            bytes,
            "seed {seed:#x} input {inputs}: not stable"
        );
    }
    assert!(accepted >= 200, "only {accepted} of {inputs} inputs parsed");
    println!(
        "auth.ini property: {inputs} generated files, {accepted} accepted by the reader, all round-tripped (seed {seed:#x})"
    );
}
