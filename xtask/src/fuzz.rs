//! `cargo xtask fuzz [--time SECS] [TARGET ...]`: runs the cargo-fuzz targets of
//! `crates/contree-transport/fuzz` (`sse_decoder`, `auth_ini`, `json`), each for `SECS`
//! seconds (default 60), when a nightly toolchain and cargo-fuzz are installed.
//!
//! cargo-fuzz needs nightly (libFuzzer's sanitizer flags); the pinned toolchain is stable.
//! Without nightly this says so plainly and exits successfully: the same properties run on
//! stable in the normal test suite as seeded, bounded property tests
//! (`contree-transport/tests/sse_properties.rs`, `contree-auth` `inifile::proptest`).

use std::process::{Command, Stdio};

use crate::util::root;

/// The targets, in the order they run.
const TARGETS: [&str; 3] = ["sse_decoder", "auth_ini", "json"];

pub fn run_fuzz(args: &[String]) -> Result<(), String> {
    let mut secs: u64 = 60;
    let mut targets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--time" => {
                secs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--time needs a number of seconds")?;
            }
            t if TARGETS.contains(&t) => targets.push(t.to_string()),
            other => {
                return Err(format!(
                    "unknown fuzz argument `{other}`; targets are {}",
                    TARGETS.join(", ")
                ));
            }
        }
    }
    if targets.is_empty() {
        targets = TARGETS.iter().map(|t| t.to_string()).collect();
    }
    let dir = root().join("crates/contree-transport/fuzz");
    let works = |args: &[&str]| {
        Command::new("cargo")
            .args(args)
            .current_dir(&dir)
            .env_remove("RUSTUP_TOOLCHAIN")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !works(&["+nightly", "--version"]) {
        println!(
            "fuzz: no nightly toolchain is installed, so the {} cargo-fuzz targets ({}) were NOT run. \
             Install one with `rustup toolchain install nightly && cargo install cargo-fuzz`, then run \
             `cargo xtask fuzz` again. The same properties run on stable in `cargo xtask test` \
             (seeded property tests: SSE chunking, auth.ini round trip).",
            targets.len(),
            targets.join(", ")
        );
        return missing_under_ci("a nightly toolchain");
    }
    if !works(&["+nightly", "fuzz", "--version"]) {
        println!(
            "fuzz: nightly is installed but cargo-fuzz is not, so the {} targets ({}) were NOT run. \
             Install it with `cargo install cargo-fuzz`, then run `cargo xtask fuzz` again.",
            targets.len(),
            targets.join(", ")
        );
        return missing_under_ci("cargo-fuzz");
    }
    for t in &targets {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(&dir).env_remove("RUSTUP_TOOLCHAIN").args([
            "+nightly",
            "fuzz",
            "run",
            t,
            "--",
            &format!("-max_total_time={secs}"),
        ]);
        crate::util::run(cmd)?;
    }
    println!(
        "fuzz: {} targets ran {secs} s each ({}), no crash",
        targets.len(),
        targets.join(", ")
    );
    Ok(())
}

/// A missing tool skips the fuzz run locally (after saying so) but fails it under `CI=true`,
/// where nothing a check needs may skip.
fn missing_under_ci(tool: &str) -> Result<(), String> {
    if crate::util::under_ci() {
        return Err(format!(
            "fuzz: CI=true and {tool} is missing, so the fuzz targets cannot run: install it \
             (`rustup toolchain install nightly && cargo install cargo-fuzz`)"
        ));
    }
    Ok(())
}
