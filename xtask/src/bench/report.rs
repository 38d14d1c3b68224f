//! Figures, ratios, goals, and the Markdown report of `cargo xtask bench`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::{MIB, Sizes, machine, verdict};

/// Latency statistics (microseconds).
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub n: usize,
    pub mean: f64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl Stats {
    pub fn new(lat: &[u64]) -> Self {
        if lat.is_empty() {
            return Stats::default();
        }
        let mut v = lat.to_vec();
        v.sort_unstable();
        // Nearest rank.
        let pct = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Stats {
            n: v.len(),
            mean: v.iter().sum::<u64>() as f64 / v.len() as f64,
            p50: pct(0.50),
            p99: pct(0.99),
            max: v[v.len() - 1],
        }
    }
}

/// Said beside the Python figures when some of its runs failed.
const PY_ERROR_NOTE: &str = "Failed Python runs are counted, not retried, and left out of the \
     latencies. The usual failure is the SDK's own: a poll that finds the operation still running \
     gets `duration: null` and no `result` (both allowed by the spec), which its `OperationModel` \
     cannot structure (docs/PYTHON-SDK.md, spec vs SDK-model mismatches).";

pub(super) fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

pub(super) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn rate(bytes: u64, d: Duration) -> String {
    format!("{:.0} MiB/s", bytes as f64 / MIB as f64 / d.as_secs_f64())
}

/// One goal line.
#[derive(Debug, Clone)]
pub(crate) struct Goal {
    scenario: String,
    goal: String,
    measured: String,
    met: Option<bool>,
}

/// CPU time used during scenario 1 (microseconds), by the measured runs of each client and
/// by the mock while the SDK ran (warm-up runs included: `mock_runs` counts them).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CpuPerRun {
    pub sdk_us: u64,
    pub floor_us: u64,
    pub mock_us: u64,
    pub mock_runs: u64,
}

struct Section {
    title: String,
    rows: Vec<(String, String)>,
    notes: Vec<String>,
}

/// Everything measured, in order.
pub(crate) struct Report {
    sizes: Sizes,
    machine: Vec<(String, String)>,
    sections: Vec<Section>,
    goals: Vec<Goal>,
    seq_sdk: Option<(Stats, u64)>,
    /// CPU per sequential run (µs): the SDK client and the mock server.
    seq_cpu: Option<(f64, f64)>,
    fan_sdk: Option<(f64, u64)>,
    elapsed: Option<(Duration, Duration)>,
}

impl Report {
    pub fn new(sizes: &Sizes) -> Self {
        Report {
            sizes: sizes.clone(),
            machine: machine(),
            sections: Vec::new(),
            goals: Vec::new(),
            seq_sdk: None,
            seq_cpu: None,
            fan_sdk: None,
            elapsed: None,
        }
    }

    pub(super) fn section(&mut self, title: &str, rows: Vec<(String, String)>, notes: Vec<String>) {
        self.sections.push(Section {
            title: title.into(),
            rows,
            notes,
        });
    }

    pub(super) fn goal(&mut self, scenario: &str, goal: &str, measured: String, met: Option<bool>) {
        self.goals.push(Goal {
            scenario: scenario.into(),
            goal: goal.into(),
            measured,
            met,
        });
    }

    pub fn seq(&mut self, sdk: Stats, floor: Stats, sdk_hwm: u64, floor_425: u64, cpu: CpuPerRun) {
        let ratio = sdk.mean / floor.mean;
        let p50 = sdk.p50 as f64 / floor.p50 as f64;
        let p99 = sdk.p99 as f64 / floor.p99 as f64;
        let rows = vec![
            (
                "runs (each side)".into(),
                format!("{} / {}", sdk.n, floor.n),
            ),
            (
                "SDK p50 / p99 / mean / max".into(),
                format!(
                    "{} / {} / {} / {}",
                    ms(sdk.p50 as f64),
                    ms(sdk.p99 as f64),
                    ms(sdk.mean),
                    ms(sdk.max as f64)
                ),
            ),
            (
                "floor p50 / p99 / mean / max".into(),
                format!(
                    "{} / {} / {} / {}",
                    ms(floor.p50 as f64),
                    ms(floor.p99 as f64),
                    ms(floor.mean),
                    ms(floor.max as f64)
                ),
            ),
            ("SDK/floor time (mean)".into(), format!("{ratio:.3}")),
            ("SDK/floor p50 / p99".into(), format!("{p50:.3} / {p99:.3}")),
            ("SDK client peak RSS".into(), mib(sdk_hwm)),
            (
                "CPU per run: SDK client / floor client / mock server".into(),
                format!(
                    "{} / {} / {}",
                    ms(cpu.sdk_us as f64 / sdk.n.max(1) as f64),
                    ms(cpu.floor_us as f64 / floor.n.max(1) as f64),
                    ms(cpu.mock_us as f64 / cpu.mock_runs.max(1) as f64),
                ),
            ),
            (
                "floor: `425 Too Early` answers to the events request".into(),
                format!(
                    "{floor_425} (asked again on the SDK's schedule: 50 ms, then 50–100 ms apart)"
                ),
            ),
        ];
        let mut notes = vec![format!(
            "Each run: `POST /instances` (`{}`), `GET /operations/{{id}}/events?follow=1` until \
             `completion`, `GET /operations/{{id}}`. The floor sends the same requests with the same \
             headers (`Accept-Encoding: gzip`, and `identity` for the event stream, as the SDK asks \
             for it) through a bare hyper client. SDK and floor run \
             in {} alternating rounds (separate processes, {} warm-up runs each) so machine noise \
             hits both alike.",
            super::SCRIPT,
            self.sizes.seq_rounds,
            self.sizes.warmup
        )];
        notes.push(
            "The mock runs at zero latency here, so an operation is assigned before its spawn \
             returns and no `425 Too Early` is expected; scenario 7 measures the waiting against \
             realistic state delays."
                .to_string(),
        );
        self.section("1. Sequential runs: SDK vs raw-hyper floor", rows, notes);
        self.goal(
            "1",
            "SDK/floor time <= 1.15",
            format!("{ratio:.3}"),
            Some(ratio <= 1.15),
        );
        self.seq_cpu = Some((
            cpu.sdk_us as f64 / sdk.n.max(1) as f64,
            cpu.mock_us as f64 / cpu.mock_runs.max(1) as f64,
        ));
        self.seq_sdk = Some((sdk, sdk_hwm));
    }

    pub fn fanout(&mut self, sdk: &Value, floor: &Value) {
        let c = self.sizes.fan_c;
        let one = |v: &Value| {
            let lat: Vec<u64> = super::latencies(v);
            let st = Stats::new(&lat);
            let wall = v["wall_us"].as_u64().unwrap_or(1) as f64 / 1e6;
            let tput = st.n as f64 / wall;
            let hwm = v["hwm_kib"].as_u64().unwrap_or(0);
            let base = v["baseline_rss_kib"].as_u64().unwrap_or(0);
            let errors = v["errors"].as_u64().unwrap_or(0);
            (st, wall, tput, hwm, base, errors, v["first_error"].clone())
        };
        let (s, s_wall, s_tput, s_hwm, s_base, s_err, s_first) = one(sdk);
        let (f, f_wall, f_tput, f_hwm, _, f_err, _) = one(floor);
        let per_run = s_hwm.saturating_sub(s_base) as f64 / c as f64;
        let mut rows = vec![
            (
                "runs / concurrency".into(),
                format!("{} / {c}", self.sizes.fan_n),
            ),
            (
                "SDK throughput".into(),
                format!("{s_tput:.0} runs/s ({:.2} s wall)", s_wall),
            ),
            (
                "SDK latency p50 / p99".into(),
                format!("{} / {}", ms(s.p50 as f64), ms(s.p99 as f64)),
            ),
            ("SDK client peak RSS".into(), mib(s_hwm)),
            (
                "SDK memory per in-flight run".into(),
                format!(
                    "{per_run:.1} KiB ((peak {} - before {}) / {c})",
                    mib(s_hwm),
                    mib(s_base)
                ),
            ),
            ("SDK errors".into(), s_err.to_string()),
            (
                "floor throughput (reference)".into(),
                format!("{f_tput:.0} runs/s ({:.2} s wall)", f_wall),
            ),
            (
                "floor latency p50 / p99".into(),
                format!("{} / {}", ms(f.p50 as f64), ms(f.p99 as f64)),
            ),
            (
                "floor peak RSS / errors".into(),
                format!("{} / {f_err}", mib(f_hwm)),
            ),
            (
                "floor: `425 Too Early` answers".into(),
                floor["too_early_425"].as_u64().unwrap_or(0).to_string(),
            ),
            (
                "SDK/floor throughput".into(),
                format!("{:.3}", s_tput / f_tput),
            ),
        ];
        if let Some(e) = s_first.as_str() {
            rows.push(("SDK first error".into(), e.to_string()));
        }
        let notes = vec![
            "The client, the mock and (for scenario 6) Python share the machine's cores; \
             throughput here is what the whole machine sustains, client plus server."
                .to_string(),
        ];
        self.section("2. Fan-out from one image", rows, notes);
        self.fan_sdk = Some((s_tput, s_hwm));
    }

    /// A scenario that could not run at all.
    pub fn scenario_failed(&mut self, title: &str, why: &str) {
        self.section(
            title,
            vec![("result".into(), format!("failed: {why}"))],
            vec![],
        );
    }

    pub fn python_skipped(&mut self, why: &str) {
        self.section(
            "6. Official Python SDK",
            vec![("status".into(), format!("not run: {why}"))],
            vec![],
        );
        for g in [
            "Rust >= 20x faster (sequential)",
            ">= 10x throughput (fan-out)",
            "<= 1/5 of Python's peak RSS",
        ] {
            self.goal("6", g, "not measured".into(), None);
        }
    }

    pub fn python(
        &mut self,
        version: &str,
        seq: Result<Value, String>,
        fan: Result<Value, String>,
    ) {
        let mut rows = vec![("contree-sdk version".into(), version.to_string())];
        let mut notes = vec![
            "The Python SDK waits by polling `GET /operations/{id}` (first poll at once, then at \
             least 0.1 s apart); the Rust SDK follows the event stream. Both run `disposable=False` \
             from the same image UUID with the same script, on the same mock process."
                .to_string(),
        ];
        match (&seq, self.seq_sdk.clone()) {
            (Ok(v), Some((rust, rust_hwm))) if !super::latencies(v).is_empty() => {
                let st = Stats::new(&super::latencies(v));
                let hwm = v["hwm_kib"].as_u64().unwrap_or(0);
                let errors = v["errors"].as_u64().unwrap_or(0);
                let attempts = v["attempts"].as_u64().unwrap_or(st.n as u64);
                let speed = st.mean / rust.mean;
                let mem = rust_hwm as f64 / hwm.max(1) as f64;
                rows.push((
                    "sequential: Python p50 / p99 / mean".into(),
                    format!(
                        "{} / {} / {} ({} runs)",
                        ms(st.p50 as f64),
                        ms(st.p99 as f64),
                        ms(st.mean),
                        st.n
                    ),
                ));
                rows.push(("sequential: Python peak RSS".into(), mib(hwm)));
                rows.push(("sequential: Python errors".into(), errors.to_string()));
                if let Some(e) = v["first_error"].as_str() {
                    rows.push(("sequential: Python first error".into(), e.to_string()));
                    notes.push(PY_ERROR_NOTE.to_string());
                }
                if let (Some(py_cpu), Some((rust_cpu, mock_cpu))) =
                    (v["cpu_us"].as_u64(), self.seq_cpu)
                {
                    // The CPU of failed runs is in the total, so it is shared over every attempt.
                    let py_cpu = py_cpu as f64 / attempts.max(1) as f64;
                    rows.push((
                        "sequential: client CPU per run, Python / Rust".into(),
                        format!(
                            "{} / {} ({:.1}x)",
                            ms(py_cpu),
                            ms(rust_cpu),
                            py_cpu / rust_cpu.max(1.0)
                        ),
                    ));
                    let share = rust_cpu / py_cpu.max(1.0);
                    self.goal(
                        "6 (seq)",
                        "client CPU per run <= 1/20 of Python's",
                        format!("1/{:.1}", 1.0 / share.max(1e-9)),
                        Some(share <= 0.05),
                    );
                    notes.push(format!(
                        "Each run also costs the mock server about {} of CPU on the same two \
                         cores, for either client; with the server's share in both times, the \
                         end-to-end ratio stays well below the ratio of client CPU.",
                        ms(mock_cpu)
                    ));
                }
                rows.push((
                    "sequential: Rust speed-up (Python mean / Rust mean)".into(),
                    format!("{speed:.1}x"),
                ));
                rows.push((
                    "sequential: peak RSS Rust / Python".into(),
                    format!("{mem:.3} ({} vs {})", mib(rust_hwm), mib(hwm)),
                ));
                self.goal(
                    "6 (seq)",
                    "Rust >= 20x faster than Python",
                    format!("{speed:.1}x"),
                    Some(speed >= 20.0),
                );
                self.goal(
                    "6 (seq)",
                    "Rust peak RSS <= 1/5 of Python's",
                    format!("{mem:.3}"),
                    Some(mem <= 0.2),
                );
            }
            (Ok(v), Some(_)) => {
                let e = v["first_error"].as_str().unwrap_or("no run succeeded");
                rows.push(("sequential".into(), format!("every run failed: {e}")));
                notes.push(PY_ERROR_NOTE.to_string());
                self.goal(
                    "6 (seq)",
                    "Rust >= 20x faster than Python",
                    "not measured".into(),
                    None,
                );
            }
            (Err(e), _) => {
                rows.push(("sequential".into(), format!("failed: {e}")));
                self.goal(
                    "6 (seq)",
                    "Rust >= 20x faster than Python",
                    "not measured".into(),
                    None,
                );
            }
            _ => {}
        }
        match (&fan, self.fan_sdk) {
            (Ok(v), Some((rust_tput, rust_hwm))) => {
                let st = Stats::new(&super::latencies(v));
                let wall = v["wall_us"].as_u64().unwrap_or(1) as f64 / 1e6;
                let tput = st.n as f64 / wall;
                let hwm = v["hwm_kib"].as_u64().unwrap_or(0);
                let errors = v["errors"].as_u64().unwrap_or(0);
                let ratio = rust_tput / tput;
                let mem = rust_hwm as f64 / hwm.max(1) as f64;
                rows.push((
                    "fan-out: Python throughput".into(),
                    format!(
                        "{tput:.0} runs/s ({} ok of {}, {:.2} s wall)",
                        st.n, self.sizes.py_fan_n, wall
                    ),
                ));
                rows.push((
                    "fan-out: Python p50 / p99".into(),
                    format!("{} / {}", ms(st.p50 as f64), ms(st.p99 as f64)),
                ));
                rows.push(("fan-out: Python peak RSS".into(), mib(hwm)));
                rows.push(("fan-out: Python errors".into(), errors.to_string()));
                if let Some(e) = v["first_error"].as_str() {
                    rows.push(("fan-out: Python first error".into(), e.to_string()));
                    if !notes.iter().any(|n| n == PY_ERROR_NOTE) {
                        notes.push(PY_ERROR_NOTE.to_string());
                    }
                }
                rows.push((
                    "fan-out: throughput Rust / Python".into(),
                    format!("{ratio:.1}x"),
                ));
                rows.push((
                    "fan-out: peak RSS Rust / Python".into(),
                    format!("{mem:.3} ({} vs {})", mib(rust_hwm), mib(hwm)),
                ));
                if self.sizes.py_fan_n != self.sizes.fan_n {
                    notes.push(format!(
                        "Python fan-out ran {} runs (Rust {}); throughput is per second, so \
                         comparable, but peak RSS grows with the mock's answers, not the run count.",
                        self.sizes.py_fan_n, self.sizes.fan_n
                    ));
                }
                self.goal(
                    "6 (fan-out)",
                    "Rust >= 10x Python's throughput",
                    format!("{ratio:.1}x"),
                    Some(ratio >= 10.0),
                );
                self.goal(
                    "6 (fan-out)",
                    "Rust peak RSS <= 1/5 of Python's",
                    format!("{mem:.3}"),
                    Some(mem <= 0.2),
                );
            }
            (Err(e), _) => {
                rows.push(("fan-out".into(), format!("failed: {e}")));
                self.goal(
                    "6 (fan-out)",
                    "Rust >= 10x Python's throughput",
                    "not measured".into(),
                    None,
                );
            }
            _ => {}
        }
        self.section("6. Official Python SDK on scenarios 1 and 2", rows, notes);
    }

    pub fn mock_hwm_runs(&mut self, kib: u64) {
        self.push_note_last(format!(
            "Mock server peak RSS after scenarios 1, 2 and 6: {}.",
            mib(kib)
        ));
    }

    pub fn mock_hwm_files(&mut self, kib: u64) {
        self.push_note_last(format!(
            "Mock server peak RSS after scenarios 3 and 4: {} (it keeps uploaded files in \
             memory; {} of data).",
            mib(kib),
            mib(self.sizes.file_bytes / 1024)
        ));
    }

    fn push_note_last(&mut self, note: String) {
        if let Some(s) = self.sections.last_mut() {
            s.notes.push(note);
        }
    }

    pub fn upload(&mut self, up: &Value, sha: Duration, sha_ok: bool, curl: Duration, bytes: u64) {
        let first = Duration::from_micros(up["first_us"].as_u64().unwrap_or(0));
        let second = Duration::from_micros(up["second_us"].as_u64().unwrap_or(0));
        let hwm = up["hwm_kib"].as_u64().unwrap_or(0);
        let floor = sha + curl;
        let speed = floor.as_secs_f64() / first.as_secs_f64();
        let dedup_speed = sha.as_secs_f64() / second.as_secs_f64();
        let rows = vec![
            ("file".into(), format!("{} MiB, pseudo-random", bytes / MIB)),
            (
                "SDK first upload (hash + dedup check + upload)".into(),
                format!("{} ({})", secs(first), rate(bytes, first)),
            ),
            (
                "SDK second upload (dedup hit: hash + check)".into(),
                format!("{} ({})", secs(second), rate(bytes, second)),
            ),
            (
                "floor: `sha256sum`".into(),
                format!("{} ({})", secs(sha), rate(bytes, sha)),
            ),
            (
                "floor: `curl -T` POST /files".into(),
                format!("{} ({})", secs(curl), rate(bytes, curl)),
            ),
            (
                "speed vs floor, first upload (floor = sha256sum + curl)".into(),
                format!("{speed:.3}"),
            ),
            (
                "speed vs floor, dedup hit (floor = sha256sum)".into(),
                format!("{dedup_speed:.3}"),
            ),
            ("SDK client peak RSS".into(), mib(hwm)),
            (
                "sha256 agrees with sha256sum".into(),
                if sha_ok { "yes" } else { "NO" }.into(),
            ),
        ];
        let notes = vec![
            "The SDK hashes the file (1 MiB reads), asks `GET /files/{sha256}`, and on 404 streams \
             it with `POST /files`. The mock reads the whole body and hashes it again; that server \
             time is in both the SDK's and curl's figures."
                .to_string(),
        ];
        self.section("3. Upload", rows, notes);
        self.goal(
            "3",
            "upload >= 0.8 of floor speed",
            format!("{speed:.3} (dedup hit {dedup_speed:.3})"),
            Some(speed >= 0.8 && dedup_speed >= 0.8),
        );
        self.goal(
            "3",
            "upload peak RSS < 64 MiB",
            mib(hwm),
            Some(hwm < 64 * 1024),
        );
    }

    pub fn download(
        &mut self,
        down: &Value,
        curl_gzip: Duration,
        curl_plain: Duration,
        same: bool,
        bytes: u64,
    ) {
        let t = Duration::from_micros(down["us"].as_u64().unwrap_or(0));
        let hwm = down["hwm_kib"].as_u64().unwrap_or(0);
        let got = down["bytes"].as_u64().unwrap_or(0);
        let speed = curl_gzip.as_secs_f64() / t.as_secs_f64();
        let rows = vec![
            (
                "SDK `Image::download` to disk".into(),
                format!("{} ({})", secs(t), rate(bytes, t)),
            ),
            (
                "floor: `curl --compressed` (same headers as the SDK)".into(),
                format!("{} ({})", secs(curl_gzip), rate(bytes, curl_gzip)),
            ),
            (
                "reference: `curl` without Accept-Encoding".into(),
                format!("{} ({})", secs(curl_plain), rate(bytes, curl_plain)),
            ),
            ("speed vs floor".into(), format!("{speed:.3}")),
            ("SDK client peak RSS".into(), mib(hwm)),
            (
                "bytes written / identical to curl's".into(),
                format!("{got} / {}", if same { "yes" } else { "NO" }),
            ),
        ];
        let notes = vec![
            "The SDK sends `Accept-Encoding: gzip` (the service compresses responses), so the mock \
             gzips the file on the fly and the SDK inflates it; the floor is curl with the same \
             request (`--compressed`). The SDK also fsyncs the file before renaming it into place; \
             curl does not."
                .to_string(),
        ];
        self.section("4. Download", rows, notes);
        self.goal(
            "4",
            "download >= 0.8 of floor speed",
            format!("{speed:.3}"),
            Some(speed >= 0.8),
        );
        self.goal(
            "4",
            "download peak RSS < 64 MiB",
            mib(hwm),
            Some(hwm < 64 * 1024),
        );
    }

    pub fn events(&mut self, crit_home: &Path, meta: &Path) -> Result<(), String> {
        let meta: Value = serde_json::from_str(
            &std::fs::read_to_string(meta).map_err(|e| format!("{}: {e}", meta.display()))?,
        )
        .map_err(|e| format!("{}: {e}", meta.display()))?;
        let events = meta["events"].as_u64().unwrap_or(0) as f64;
        let bytes = meta["bytes"].as_u64().unwrap_or(0) as f64;
        let mean_ns = |name: &str| -> Result<f64, String> {
            let p = crit_home
                .join("sse")
                .join(name)
                .join("new")
                .join("estimates.json");
            let v: Value = serde_json::from_str(
                &std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?,
            )
            .map_err(|e| format!("{}: {e}", p.display()))?;
            v["mean"]["point_estimate"]
                .as_f64()
                .ok_or_else(|| format!("{}: no mean estimate", p.display()))
        };
        let mut rows = vec![(
            "input".into(),
            format!(
                "{} events, {:.1} MB, fed in 16 KiB chunks",
                events as u64,
                bytes / 1e6
            ),
        )];
        for (name, label) in [
            ("decode", "SSE decode"),
            ("decode_json", "SSE decode + JSON into `OperationEvent`"),
            ("decode_sdk", "SSE decode + the SDK's `Event` decoding"),
        ] {
            let ns = mean_ns(name)?;
            let s = ns / 1e9;
            let eps = events / s;
            let mbs = bytes / s / 1e6;
            rows.push((
                label.into(),
                format!(
                    "{eps:.0} events/s, {mbs:.0} MB/s ({:.1} ms per stream)",
                    ns / 1e6
                ),
            ));
            self.goal(
                "5",
                &format!("{label}: >= 500,000 events/s"),
                format!("{eps:.0}"),
                Some(eps >= 500_000.0),
            );
        }
        let notes = vec![
            "Criterion (10 samples, flat sampling), one thread. The stream repeats the frames of \
             runs recorded from the mock (`crates/contree/benches/fixtures`), with ids renumbered. \
             `OperationEvent` is the generated wire type with every field typed; the SDK's \
             `Event` (`Event::from_json`) is what following a run decodes per event."
                .to_string(),
        ];
        self.section("5. Event stream decoding", rows, notes);
        Ok(())
    }

    pub fn set_elapsed(&mut self, total: Duration, build: Duration) {
        self.elapsed = Some((total, build));
        // Scenario order (6 ran before 3, 4 and 5).
        self.sections.sort_by(|a, b| a.title.cmp(&b.title));
    }

    fn goals_table(&self, out: &mut String) {
        out.push_str("| scenario | goal | measured | verdict |\n|---|---|---|---|\n");
        for g in &self.goals {
            let v = match g.met {
                Some(m) => verdict(m),
                None => "not measured",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                g.scenario, g.goal, g.measured, v
            );
        }
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# contree-rs benchmark report{}\n",
            if self.sizes.quick {
                " (--quick: reduced sizes)"
            } else {
                ""
            }
        );
        if !self.sizes.only.is_empty() {
            let list: Vec<String> = self.sizes.only.iter().map(u32::to_string).collect();
            let _ = writeln!(
                out,
                "Scenarios run: {} only (`--only`); the others were not run.\n",
                list.join(", ")
            );
        }
        out.push_str("Generated by `cargo xtask bench`. Release builds; the mock server runs as a separate process on the same machine, with `--latency 0` except where a scenario says otherwise (7 and 8 use `--profile realistic`, 8 also `--tls`).\n\n");
        out.push_str("## Machine\n\n| | |\n|---|---|\n");
        for (k, v) in &self.machine {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        if let Some((total, build)) = self.elapsed {
            let _ = writeln!(
                out,
                "| bench wall time | {} (of which builds {}) |",
                secs(total),
                secs(build)
            );
        }
        out.push_str("\n## Goals\n\n");
        self.goals_table(&mut out);
        let missed: Vec<&Goal> = self.goals.iter().filter(|g| g.met == Some(false)).collect();
        if missed.is_empty() {
            out.push_str("\nEvery measured goal is met.\n");
        } else {
            let _ = writeln!(out, "\n{} goal(s) missed:", missed.len());
            for g in missed {
                let _ = writeln!(
                    out,
                    "- scenario {}: {} — measured {}.",
                    g.scenario, g.goal, g.measured
                );
            }
        }
        for s in &self.sections {
            let _ = writeln!(out, "\n## {}\n\n| figure | value |\n|---|---|", s.title);
            for (k, v) in &s.rows {
                let _ = writeln!(out, "| {k} | {v} |");
            }
            if !s.notes.is_empty() {
                out.push('\n');
                for n in &s.notes {
                    let _ = writeln!(out, "- {n}");
                }
            }
        }
        out
    }

    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "\n== contree-rs bench{} ==",
            if self.sizes.quick { " (--quick)" } else { "" }
        );
        for (k, v) in &self.machine {
            let _ = writeln!(out, "{k}: {v}");
        }
        for s in &self.sections {
            let _ = writeln!(out, "\n-- {}", s.title);
            for (k, v) in &s.rows {
                let _ = writeln!(out, "  {k}: {v}");
            }
        }
        out.push_str("\n-- goals\n");
        for g in &self.goals {
            let v = match g.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "not measured",
            };
            let _ = writeln!(
                out,
                "  [{v}] scenario {}: {} (measured {})",
                g.scenario, g.goal, g.measured
            );
        }
        if let Some((total, build)) = self.elapsed {
            let _ = writeln!(
                out,
                "\nbench wall time {} (builds {})",
                secs(total),
                secs(build)
            );
        }
        out
    }
}
