//! `contree-faults`: the seeded fault-schedule harness behind `cargo xtask faults`.
//!
//! Each schedule (one seed) starts an in-process `contree-mock`, prepares an image without
//! faults, then runs five workloads (an awaited run with a file, `Run::stream`, an
//! interactive `cat` with stdin and an `exec`, a detached run re-attached by id, a
//! download), each under 0 to 3 faults drawn from the seed (503×N, 429 + Retry-After, reset
//! before or after processing, mid-body drop, SSE cut every K events, `sse_error`, a stall
//! past the idle timeout, truncated gzip). Every command carries a unique marker and
//! prints a known byte pattern. It counts lost and duplicated output bytes, duplicated
//! spawns (operations, or subprocesses, per marker beyond one) and failures under
//! schedules that allowed success; it prints the failing seeds and ends with
//! `faults: N schedules, L lost bytes, D duplicated bytes, S duplicated spawns, F unexpected failures`.
//! Every TRACE log line and every error rendering is scanned for the token (a canary).
//!
//! Usage: `contree-faults [--seeds N | --quick] [--first-seed S] [--jobs J] [--verbose]`.

mod canary;
mod schedule;
mod workloads;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use contree::{Contree, RetryConfig, Timeouts};
use contree_mock::MockServer;
use futures_util::StreamExt as _;

use canary::CanaryWriter;
use schedule::{MAX_ATTEMPTS, Plan};
use workloads::Got;

/// The client's read-idle timeout (stalls last [`schedule::STALL`], longer).
const READ_IDLE: Duration = Duration::from_millis(400);
/// The client's per-attempt timeout (buffered bodies stall longer).
const ATTEMPT: Duration = Duration::from_millis(1_500);
/// A workload that takes longer has hung.
const WORKLOAD_LIMIT: Duration = Duration::from_secs(90);

struct Args {
    schedules: u64,
    first_seed: u64,
    jobs: usize,
    verbose: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        schedules: 1_000,
        first_seed: 1,
        jobs: 6,
        verbose: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match arg.as_str() {
            "--seeds" | "--schedules" => a.schedules = num("--seeds")?,
            "--quick" => a.schedules = 100,
            "--first-seed" | "--seed" => a.first_seed = num("--first-seed")?,
            "--jobs" => a.jobs = num("--jobs")?.max(1) as usize,
            "--verbose" | "-v" => a.verbose = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: contree-faults [--seeds N | --quick] [--first-seed S] [--jobs J] [--verbose]"
                ));
            }
        }
    }
    Ok(a)
}

/// The totals over all schedules.
#[derive(Debug, Default)]
struct Totals {
    schedules: u64,
    lost: u64,
    duplicated: u64,
    spawns: u64,
    unexpected: u64,
    allowed_failures: u64,
    faults: u64,
    failing_seeds: Vec<u64>,
}

/// Lost and duplicated bytes of `got` against `expected`: what lies between their common
/// prefix and common suffix.
fn diff(expected: &[u8], got: &[u8]) -> (u64, u64) {
    let prefix = expected.iter().zip(got).take_while(|(a, b)| a == b).count();
    let room = expected.len().min(got.len()) - prefix;
    let suffix = expected
        .iter()
        .rev()
        .zip(got.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    (
        (expected.len() - prefix - suffix) as u64,
        (got.len() - prefix - suffix) as u64,
    )
}

fn client(server: &MockServer) -> Contree {
    contree_integration_tests::client_builder(server.base_url(), server.token(), server.project())
        .timeouts(Timeouts {
            connect: Duration::from_secs(5),
            attempt: ATTEMPT,
            read_idle: Some(READ_IDLE),
            operation: None,
        })
        .retry(RetryConfig {
            max_attempts: MAX_ATTEMPTS,
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(50),
            ..RetryConfig::default()
        })
        .build()
        .expect("a client for the in-process mock")
}

/// Runs schedule `seed`; returns its lines for the report and adds to `totals`.
async fn schedule(seed: u64, token: String, canary: CanaryWriter) -> (Totals, Vec<String>) {
    let mut t = Totals {
        schedules: 1,
        ..Totals::default()
    };
    let mut lines = Vec::new();
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .keepalive(Duration::from_millis(100))
        .seed(seed)
        .token(token)
        .start()
        .await;
    let contree = client(&server);
    let plans = schedule::draw(seed);
    let img = contree.images().use_tag("ubuntu:latest");
    let download = plans
        .iter()
        .find(|p| p.workload == schedule::Workload::Download)
        .map_or(1, |p| p.lines);
    let data = match workloads::prepare_download(&img, download).await {
        Ok(d) => d,
        Err(e) => {
            canary.check(e.as_bytes());
            t.unexpected += 1;
            t.failing_seeds.push(seed);
            lines.push(format!("seed {seed}: the fault-free setup failed: {e}"));
            return (t, lines);
        }
    };
    for (i, plan) in plans.iter().enumerate() {
        let marker = format!("mk{seed}x{i}");
        let bad = workload(
            &contree, &server, &img, &data, plan, &marker, &canary, &mut t,
        )
        .await;
        if let Some(why) = bad {
            if !t.failing_seeds.contains(&seed) {
                t.failing_seeds.push(seed);
            }
            let faults: Vec<String> = plan.faults.iter().map(|f| f.to_string()).collect();
            lines.push(format!(
                "seed {seed}: {:?} [{}]: {why}",
                plan.workload,
                faults.join(", ")
            ));
        }
    }
    server.shutdown().await;
    (t, lines)
}

/// Runs one workload under its faults; `Some(why)` when it went wrong.
#[allow(clippy::too_many_arguments)]
async fn workload(
    contree: &Contree,
    server: &MockServer,
    img: &contree::Image,
    data: &contree::Image,
    plan: &Plan,
    marker: &str,
    canary: &CanaryWriter,
    t: &mut Totals,
) -> Option<String> {
    let before = match workloads::operation_ids(contree).await {
        Ok(b) => b,
        Err(e) => {
            return Some(format!(
                "listing operations before the workload failed: {e}"
            ));
        }
    };
    for f in &plan.faults {
        server.inject(f.rule());
    }
    t.faults += plan.faults.len() as u64;
    let mut got = Got::default();
    let result = tokio::time::timeout(
        WORKLOAD_LIMIT,
        workloads::run(contree, img, data, plan, marker, &mut got),
    )
    .await
    .unwrap_or_else(|_| Err(format!("hung for over {WORKLOAD_LIMIT:?}")));
    server.clear_faults();
    let mut problems = Vec::new();

    // Output: all of it, once, on success; on failure, only a correct prefix.
    for out in &got.outputs {
        let (expected, received) = (&out.expected, &out.received);
        let (lost, dup) = diff(expected, received);
        let (lost, dup) = if out.complete {
            (lost, dup)
        } else {
            (
                0,
                if expected.starts_with(received) {
                    0
                } else {
                    dup.max(1)
                },
            )
        };
        if lost + dup > 0 {
            problems.push(format!(
                "{lost} bytes lost, {dup} duplicated (got {} of {})",
                received.len(),
                expected.len()
            ));
        }
        t.lost += lost;
        t.duplicated += dup;
    }

    // Spawns: one operation per marker at most, and one subprocess per exec.
    match workloads::operation_ids(contree).await {
        Ok(after) => {
            let new = after.difference(&before).count() as u64;
            if new > 1 {
                t.spawns += new - 1;
                problems.push(format!("{new} operations for one run"));
            }
        }
        Err(e) => problems.push(format!("listing operations failed: {e}")),
    }
    if got.execs
        && let Some(id) = &got.op_id
    {
        match workloads::subprocess_spawns(contree, id).await {
            Ok(n) if n > 1 => {
                t.spawns += n - 1;
                problems.push(format!("{n} subprocesses for one exec"));
            }
            Ok(_) => {}
            Err(e) => problems.push(format!("reading the subprocess spawns failed: {e}")),
        }
    }

    if let Err(e) = &result {
        if canary.check(e.as_bytes()) {
            problems.push("the error text holds the token".to_string());
        }
        if plan.allows_failure() {
            t.allowed_failures += 1;
        } else {
            t.unexpected += 1;
            problems.push(format!("failed: {e}"));
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("contree-faults: {e}");
            return ExitCode::from(2);
        }
    };
    let token = format!(
        "canary-tok-{:016x}",
        schedule::Rng::new(args.first_seed).next_u64()
    );
    let canary = CanaryWriter::new(&token);
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(canary.clone())
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let started = Instant::now();
    let seeds = args.first_seed..args.first_seed + args.schedules;
    let totals = rt.block_on(async {
        let mut all = Totals::default();
        let mut runs = futures_util::stream::iter(seeds)
            .map(|seed| {
                let (token, canary) = (token.clone(), canary.clone());
                tokio::spawn(async move { (seed, schedule(seed, token, canary).await) })
            })
            .buffer_unordered(args.jobs);
        while let Some(done) = runs.next().await {
            let (seed, (t, lines)) = match done {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("faults: a schedule panicked: {e}");
                    all.unexpected += 1;
                    continue;
                }
            };
            for l in &lines {
                println!("{l}");
            }
            if args.verbose {
                println!("seed {seed}: done");
            }
            all.schedules += t.schedules;
            all.lost += t.lost;
            all.duplicated += t.duplicated;
            all.spawns += t.spawns;
            all.unexpected += t.unexpected;
            all.allowed_failures += t.allowed_failures;
            all.faults += t.faults;
            all.failing_seeds.extend(t.failing_seeds);
        }
        all
    });
    let mut failing = totals.failing_seeds.clone();
    failing.sort_unstable();
    let s = &canary.scanned;
    println!(
        "faults: {} faults injected, {} workloads failed as their schedule allowed, {:.1} s",
        totals.faults,
        totals.allowed_failures,
        started.elapsed().as_secs_f64()
    );
    println!(
        "canary: {} log lines and error texts ({} bytes) scanned, {} leaks",
        s.lines.load(Ordering::Relaxed),
        s.bytes.load(Ordering::Relaxed),
        s.leaks.load(Ordering::Relaxed)
    );
    if !failing.is_empty() {
        let shown: Vec<String> = failing.iter().map(u64::to_string).collect();
        println!(
            "failing seeds (re-run one with --first-seed S --seeds 1): {}",
            shown.join(" ")
        );
    }
    println!(
        "faults: {} schedules, {} lost bytes, {} duplicated bytes, {} duplicated spawns, {} unexpected failures",
        totals.schedules, totals.lost, totals.duplicated, totals.spawns, totals.unexpected
    );
    let clean = totals.lost == 0
        && totals.duplicated == 0
        && totals.spawns == 0
        && totals.unexpected == 0
        && s.leaks.load(Ordering::Relaxed) == 0;
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn diff_counts_lost_and_duplicated_bytes() {
        assert_eq!(diff(b"abcdef", b"abcdef"), (0, 0));
        assert_eq!(diff(b"abcdef", b"abc"), (3, 0));
        assert_eq!(diff(b"abcdef", b"abcdefdef"), (0, 3));
        assert_eq!(diff(b"abcdef", b"abdef"), (1, 0));
        assert_eq!(diff(b"aaaa", b"aaaaaa"), (0, 2));
    }
}
