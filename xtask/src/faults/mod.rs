//! `cargo xtask faults [--seeds N] [--quick] [--first-seed S] [--jobs J] [--verbose]`: the
//! seeded fault-schedule harness.
//!
//! The harness is the `contree-faults` binary of the integration-test crate (`tests/`,
//! which already depends on `contree` and `contree-mock`): xtask itself depends on none of
//! our crates, so `cargo xtask codegen` builds in seconds and works even while the SDK does
//! not compile, and the harness reuses the debug build the tests already made. This command
//! builds it, runs it with the in-process mock, and fails unless its last line reports zero
//! lost bytes, duplicated bytes, duplicated spawns and unexpected failures.

use std::process::Command;
use std::time::Instant;

use crate::util::{cargo, run, target_dir};

/// Schedules of the quick form (`--quick`, part of `cargo xtask ci`).
pub const QUICK_SCHEDULES: u64 = 100;
/// Schedules of the full form.
pub const DEFAULT_SCHEDULES: u64 = 1_000;

/// The harness arguments for `args` (`--quick` becomes `--seeds 100`).
fn harness_args(args: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut seeds = DEFAULT_SCHEDULES;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => seeds = QUICK_SCHEDULES,
            "--seeds" | "--schedules" => {
                seeds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--seeds needs a number of schedules")?;
            }
            "--first-seed" | "--seed" | "--jobs" => {
                let v = it.next().ok_or_else(|| format!("{a} needs a number"))?;
                out.extend([a.clone(), v.clone()]);
            }
            "--verbose" | "-v" => out.push(a.clone()),
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: cargo xtask faults [--seeds N] [--quick] [--first-seed S] [--jobs J] [--verbose]"
                ));
            }
        }
    }
    out.extend(["--seeds".to_string(), seeds.to_string()]);
    Ok(out)
}

/// `cargo xtask faults`.
pub fn run_faults(args: &[String]) -> Result<(), String> {
    let harness = harness_args(args)?;
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "contree-integration-tests",
        "--bin",
        "contree-faults",
    ]);
    run(build)?;
    let bin = target_dir().join("debug").join("contree-faults");
    let started = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.args(&harness);
    let result = run(cmd);
    eprintln!(
        "xtask: faults ran in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    result.map_err(|e| format!("{e}: the fault schedules found losses, duplicates, duplicated spawns, unexpected failures or a leaked token (see the failing seeds above)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn quick_and_seeds_choose_the_schedule_count() {
        assert_eq!(harness_args(&[]).unwrap(), s(&["--seeds", "1000"]));
        assert_eq!(
            harness_args(&s(&["--quick"])).unwrap(),
            s(&["--seeds", "100"])
        );
        assert_eq!(
            harness_args(&s(&["--seeds", "7", "--first-seed", "40"])).unwrap(),
            s(&["--first-seed", "40", "--seeds", "7"])
        );
        assert!(harness_args(&s(&["--seeds"])).is_err());
        assert!(harness_args(&s(&["--bogus"])).is_err());
    }
}
