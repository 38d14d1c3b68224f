//! Scenarios 7 and 8 of `cargo xtask bench`:
//!
//! 7. overhead at realistic latency: sequential short runs through the SDK, the raw-hyper floor
//!    and the official Python SDK against `contree-mock --profile realistic`, each on a fresh
//!    mock; overhead = the instant the client had the result − the instant the mock completed
//!    the operation (`/_mock/timings`), and the first-output latency of streamed SDK runs;
//! 8. fan-out over TLS + HTTP/2 against a mock capped at 100 concurrent streams, at several
//!    concurrencies, at zero and at realistic latency, and at 1,000 over HTTP/1.1 (plain
//!    http) for comparison.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::report::{Report, Stats, mib, ms};
use super::{Mock, PROJECT, SCRIPT, Sizes, TOKEN, run_json, run_json_with};

/// The mock's seed for scenario 7 (every client meets the same delays).
const SEED: &str = "7";

/// GET a control endpoint of the mock with curl (trusting `ca` for an https mock).
fn control(base: &str, path: &str, ca: Option<&Path>) -> Result<Value, String> {
    let mut c = Command::new("curl");
    c.args(["-sS", "--fail"]);
    if let Some(ca) = ca {
        c.arg("--cacert").arg(ca);
    }
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let out = c
        .arg(&url)
        .output()
        .map_err(|e| format!("could not run curl: {e}"))?;
    if !out.status.success() {
        return Err(format!("curl {url} failed with {}", out.status));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{url}: bad JSON: {e}"))
}

/// The client's connection arguments plus `--image`, for one mock.
fn conn_args(cmd: &str, base: &str, ca: Option<&Path>) -> Vec<String> {
    let mut v = vec![
        cmd.to_string(),
        "--base".into(),
        base.into(),
        "--token".into(),
        TOKEN.into(),
        "--project".into(),
        PROJECT.into(),
    ];
    if let Some(ca) = ca {
        v.extend(["--ca".into(), ca.display().to_string()]);
    }
    v
}

fn image(client: &Path, base: &str, ca: Option<&Path>) -> Result<String, String> {
    let mut a = conn_args("resolve", base, ca);
    a.extend(["--tag".into(), "ubuntu:latest".into()]);
    Ok(run_json(client, &a)?["image"]
        .as_str()
        .ok_or("resolve: no image")?
        .to_string())
}

/// Server-side instants by operation id: `completed_unix_us` and `first_output_unix_us`.
fn timings(base: &str) -> Result<(Vec<Value>, HashMap<String, Value>), String> {
    let all = control(base, "/_mock/timings", None)?;
    let list = all.as_array().cloned().unwrap_or_default();
    let by_id = list
        .iter()
        .filter_map(|t| Some((t["operation"].as_str()?.to_string(), t.clone())))
        .collect();
    Ok((list, by_id))
}

/// `at − server[field]` (µs) for each `{"op", "at"}` of `ops`.
fn deltas(ops: &Value, by_id: &HashMap<String, Value>, field: &str) -> Vec<u64> {
    ops.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| {
            let t = by_id.get(o["op"].as_str()?)?;
            Some(o["at"].as_u64()?.saturating_sub(t[field].as_u64()?))
        })
        .collect()
}

/// Everything scenario 7 measured.
#[derive(Default)]
pub(crate) struct Realistic {
    pub sdk: Option<Stats>,
    pub floor: Option<Stats>,
    pub python: Option<Result<Stats, String>>,
    pub first_output: Option<Stats>,
    /// Event-stream requests per SDK run, and the 425s the floor got.
    pub sdk_event_requests: f64,
    pub floor_425: u64,
    pub runs: u64,
}

/// Scenario 7.
pub(crate) fn realistic(
    sizes: &Sizes,
    mock_bin: &Path,
    client: &Path,
    python: Option<&(PathBuf, PathBuf, PathBuf)>,
) -> Result<Realistic, String> {
    let profile = ["--profile", "realistic", "--seed", SEED];
    let warmup = 2u64;
    let mut r = Realistic {
        runs: sizes.real_n,
        ..Realistic::default()
    };
    let seq_args = |cmd: &str, base: &str, img: &str| -> Vec<String> {
        let mut a = conn_args(cmd, base, None);
        a.extend([
            "--image".into(),
            img.into(),
            "--script".into(),
            SCRIPT.into(),
        ]);
        a.extend(["--n".into(), sizes.real_n.to_string()]);
        a.extend(["--warmup".into(), warmup.to_string()]);
        a
    };
    for (cmd, label) in [("seq-sdk", "SDK"), ("seq-floor", "floor")] {
        eprintln!(
            "xtask bench: [7] realistic profile: {} sequential runs, {label}",
            sizes.real_n
        );
        let mock = Mock::start_args(mock_bin, &profile)?;
        let img = image(client, &mock.base_url, None)?;
        let v = run_json(client, &seq_args(cmd, &mock.base_url, &img))?;
        let (_, by_id) = timings(&mock.base_url)?;
        let st = Stats::new(&deltas(&v["ops"], &by_id, "completed_unix_us"));
        if cmd == "seq-sdk" {
            let counters = control(&mock.base_url, "/_mock/counters", None)?;
            let events = counters["getOperationEvents"].as_u64().unwrap_or(0);
            r.sdk_event_requests = events as f64 / (sizes.real_n + warmup).max(1) as f64;
            r.sdk = Some(st);
        } else {
            r.floor_425 = v["too_early_425"].as_u64().unwrap_or(0);
            r.floor = Some(st);
        }
    }
    if let Some((py, script, home)) = python {
        eprintln!(
            "xtask bench: [7] realistic profile: {} sequential runs, Python SDK",
            sizes.real_n
        );
        let mock = Mock::start_args(mock_bin, &profile)?;
        let img = image(client, &mock.base_url, None)?;
        let mut a = vec![script.display().to_string()];
        a.extend(seq_args("seq", &mock.base_url, &img));
        r.python = Some(run_json_with(py, &a, home).and_then(|v| {
            let (list, _) = timings(&mock.base_url)?;
            // Sequential runs create one operation each, in order, after the warm-ups.
            let lat: Vec<u64> = v["returned_unix_us"]
                .as_array()
                .into_iter()
                .flatten()
                .zip(list.iter().skip(warmup as usize))
                .filter_map(|(at, t)| {
                    Some(
                        at.as_u64()?
                            .saturating_sub(t["completed_unix_us"].as_u64()?),
                    )
                })
                .collect();
            if lat.is_empty() {
                return Err(format!(
                    "no Python run succeeded: {}",
                    v["first_error"].as_str().unwrap_or("?")
                ));
            }
            Ok(Stats::new(&lat))
        }));
    }
    eprintln!(
        "xtask bench: [7] realistic profile: {} streamed runs (first output)",
        sizes.first_n
    );
    let mock = Mock::start_args(mock_bin, &profile)?;
    let img = image(client, &mock.base_url, None)?;
    let mut a = conn_args("first-output-sdk", &mock.base_url, None);
    a.extend([
        "--image".into(),
        img,
        "--n".into(),
        sizes.first_n.to_string(),
    ]);
    let v = run_json(client, &a)?;
    let (_, by_id) = timings(&mock.base_url)?;
    r.first_output = Some(Stats::new(&deltas(
        &v["ops"],
        &by_id,
        "first_output_unix_us",
    )));
    Ok(r)
}

/// One fan-out of scenario 8.
pub(crate) struct FanOut {
    pub label: String,
    pub concurrency: u64,
    pub result: Result<(Value, u64), String>,
}

/// Scenario 8: `(profile label, mock args)` × concurrency over TLS + h2, then HTTP/1.1.
pub(crate) fn h2_fanout(sizes: &Sizes, mock_bin: &Path, client: &Path, dir: &Path) -> Vec<FanOut> {
    let pem = dir.join("mock-ca.pem");
    let pem_s = pem.display().to_string();
    let mut out = Vec::new();
    let profiles: [(&str, &[&str]); 2] = [
        ("zero latency", &["--latency", "0"]),
        ("realistic", &["--profile", "realistic", "--seed", SEED]),
    ];
    for (label, prof) in profiles {
        for &c in &sizes.h2_levels {
            let mut args: Vec<&str> = prof.to_vec();
            args.extend([
                "--tls",
                "--max-concurrent-streams",
                "100",
                "--cert-out",
                &pem_s,
            ]);
            eprintln!(
                "xtask bench: [8] https+h2 ({label}): {} runs at concurrency {c}",
                sizes.h2_n
            );
            out.push(FanOut {
                label: format!("https + HTTP/2, {label}"),
                concurrency: c,
                result: one_fanout(sizes, mock_bin, client, &args, Some(&pem), c),
            });
        }
    }
    eprintln!(
        "xtask bench: [8] http/1.1 (zero latency): {} runs at concurrency 1000",
        sizes.h2_n
    );
    out.push(FanOut {
        label: "plain http/1.1, zero latency".into(),
        concurrency: 1000,
        result: one_fanout(sizes, mock_bin, client, &["--latency", "0"], None, 1000),
    });
    out
}

fn one_fanout(
    sizes: &Sizes,
    mock_bin: &Path,
    client: &Path,
    mock_args: &[&str],
    ca: Option<&Path>,
    c: u64,
) -> Result<(Value, u64), String> {
    let mock = Mock::start_args(mock_bin, mock_args)?;
    let img = image(client, &mock.base_url, ca)?;
    let before = control(&mock.base_url, "/_mock/connections", ca)?["accepted"]
        .as_u64()
        .unwrap_or(0);
    let mut a = conn_args("fanout-sdk", &mock.base_url, ca);
    a.extend(["--image".into(), img, "--script".into(), SCRIPT.into()]);
    a.extend(["--n".into(), sizes.h2_n.to_string()]);
    a.extend([
        "--concurrency".into(),
        c.to_string(),
        "--warmup".into(),
        "5".into(),
    ]);
    let v = run_json(client, &a)?;
    let after = control(&mock.base_url, "/_mock/connections", ca)?["accepted"]
        .as_u64()
        .unwrap_or(0);
    Ok((v, after.saturating_sub(before)))
}

impl Report {
    /// Scenario 7's section and goals.
    pub fn realistic(&mut self, r: &Realistic) {
        let line = |s: &Option<Stats>| {
            s.as_ref().map_or("not measured".to_string(), |s| {
                format!("p50 {} p99 {}", ms(s.p50 as f64), ms(s.p99 as f64))
            })
        };
        let py = match &r.python {
            Some(Ok(s)) => line(&Some(s.clone())),
            Some(Err(e)) => format!("failed: {e}"),
            None => "not measured (no Python SDK)".into(),
        };
        let summary = format!(
            "realistic: SDK overhead {}; Python {py}; floor {}",
            line(&r.sdk),
            line(&r.floor)
        );
        let rows = vec![
            ("runs per client".into(), r.runs.to_string()),
            ("SDK overhead (returned − completed)".into(), line(&r.sdk)),
            ("raw-hyper floor overhead".into(), line(&r.floor)),
            ("Python SDK overhead".into(), py.clone()),
            (
                "SDK first output (received − produced), streamed runs".into(),
                line(&r.first_output),
            ),
            (
                "SDK event-stream requests per run (425s included)".into(),
                format!("{:.2}", r.sdk_event_requests),
            ),
            ("floor: 425 answers".into(), r.floor_425.to_string()),
            ("summary".into(), summary),
        ];
        let notes = vec![
            "Each client runs on a fresh `contree-mock --profile realistic --seed 7` (PENDING \
             50–400 ms answering 425 with `Retry-After: 1`, ASSIGNED 20–200 ms), so all meet the \
             same delays. Overhead is the client's wall-clock instant when the awaited run \
             returned minus the mock's `completed_unix_us` for that operation (same machine, \
             same clock); it is what the client adds after the service finished."
                .to_string(),
            "The SDK follows the event stream (425s asked again after 50 ms, then 50–100 ms apart for \
             2 s, then up to 400 ms; jittered); the floor does the same exchanges through bare hyper with the same 425 \
             schedule; the Python SDK polls `GET /operations/{id}` (first poll at once, then at \
             least 0.1 s apart)."
                .to_string(),
        ];
        self.section("7. Overhead at realistic latency", rows, notes);
        if let Some(s) = &r.sdk {
            self.goal(
                "7",
                "SDK overhead p50 <= 15 ms",
                ms(s.p50 as f64),
                Some(s.p50 <= 15_000),
            );
            self.goal(
                "7",
                "SDK overhead p99 <= 60 ms",
                ms(s.p99 as f64),
                Some(s.p99 <= 60_000),
            );
            if let Some(Ok(p)) = &r.python {
                self.goal(
                    "7",
                    "SDK overhead below Python's at p50 and p99",
                    format!(
                        "p50 {} vs {}, p99 {} vs {}",
                        ms(s.p50 as f64),
                        ms(p.p50 as f64),
                        ms(s.p99 as f64),
                        ms(p.p99 as f64)
                    ),
                    Some(s.p50 < p.p50 && s.p99 < p.p99),
                );
            } else {
                self.goal("7", "SDK overhead below Python's at p50 and p99", py, None);
            }
        }
        if let Some(f) = &r.first_output {
            self.goal(
                "7",
                "first output <= 60 ms after produced (p50)",
                ms(f.p50 as f64),
                Some(f.p50 <= 60_000),
            );
        }
    }

    /// Scenario 8's section and goals.
    pub fn h2_fanout(&mut self, runs: &[FanOut], n: u64) {
        let mut rows = Vec::new();
        let mut tput: HashMap<(String, u64), f64> = HashMap::new();
        for f in runs {
            let key = format!("{} @ {}", f.label, f.concurrency);
            match &f.result {
                Err(e) => rows.push((key, format!("failed: {e}"))),
                Ok((v, conns)) => {
                    let st = Stats::new(&super::latencies(v));
                    let wall = v["wall_us"].as_u64().unwrap_or(1).max(1) as f64 / 1e6;
                    let t = st.n as f64 / wall;
                    let errors = v["errors"].as_u64().unwrap_or(0);
                    let hwm = v["hwm_kib"].as_u64().unwrap_or(0);
                    let base = v["baseline_rss_kib"].as_u64().unwrap_or(0);
                    let per = hwm.saturating_sub(base) as f64 / f.concurrency as f64;
                    rows.push((
                        key.clone(),
                        format!(
                            "{t:.0} runs/s, p99 {}, {errors} failed, {conns} connections, peak \
                             RSS {}, {per:.1} KiB per in-flight run",
                            ms(st.p99 as f64),
                            mib(hwm)
                        ),
                    ));
                    tput.insert((f.label.clone(), f.concurrency), t);
                    let h2 = f.label.starts_with("https");
                    if h2 {
                        let bound = f.concurrency.div_ceil(100) + 2;
                        self.goal(
                            "8",
                            &format!("{key}: connections <= {bound}"),
                            conns.to_string(),
                            Some(*conns <= bound),
                        );
                        self.goal(
                            "8",
                            &format!("{key}: zero failed runs"),
                            errors.to_string(),
                            Some(errors == 0),
                        );
                        if f.concurrency >= 1000 {
                            self.goal(
                                "8",
                                &format!("{key}: <= 24 KiB client memory per in-flight run"),
                                format!("{per:.1} KiB"),
                                Some(per <= 24.0),
                            );
                        }
                    }
                }
            }
        }
        let mut labels: Vec<String> = runs.iter().map(|f| f.label.clone()).collect();
        labels.dedup();
        for label in labels {
            if let (Some(a), Some(b)) = (
                tput.get(&(label.clone(), 100)),
                tput.get(&(label.clone(), 1000)),
            ) && label.starts_with("https")
            {
                let ratio = b / a;
                self.goal(
                    "8",
                    &format!("{label}: throughput at 1,000 >= 8x at 100"),
                    format!("{ratio:.1}x"),
                    Some(ratio >= 8.0),
                );
            }
        }
        let notes = vec![format!(
            "{n} runs of `{SCRIPT}` per line through the SDK's fan-out (one client process per \
             line, a fresh mock each), the mock serving https with a self-signed certificate the \
             client trusts, `--max-concurrent-streams 100`. Connections = TCP connections the \
             mock accepted during the fan-out. KiB per in-flight run = (client peak RSS − RSS \
             before the fan-out) / concurrency. At zero latency every line is bound by the CPU \
             of the two cores the client and the mock share (the runs/s cannot grow with \
             concurrency); at realistic latency the runs wait on the service, which is where \
             the stream cap would serialise a client that queues behind one connection."
        )];
        self.section(
            "8. Fan-out over TLS + HTTP/2 (server cap 100 streams)",
            rows,
            notes,
        );
    }
}
