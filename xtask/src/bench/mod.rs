//! `cargo xtask bench [--quick]`: the SDK measured side by side with a raw-HTTP floor, plain
//! tools (`sha256sum`, `curl`) and the official Python SDK, against the mock server running
//! as a separate process in zero-latency mode. Writes `<target>/bench/REPORT.md` and prints a
//! summary.
//!
//! Scenarios (see the README's "Benchmarks" section):
//! 1. sequential runs, SDK vs the raw-hyper floor (same HTTP exchanges), in alternating rounds;
//! 2. fan-out from one image at high concurrency (throughput, p99, peak RSS per in-flight run);
//! 3. upload of a generated file (hash + dedup check + upload) vs `sha256sum` and `curl`, then
//!    the dedup hit;
//! 4. download of that file from an image vs `curl` on the same URL with the same headers;
//! 5. SSE decoding of a recorded stream (criterion);
//! 6. the official Python SDK (`contree-sdk`, in a virtualenv) doing scenarios 1 and 2;
//! 7. overhead at realistic latency (`--profile realistic`): SDK, floor and Python SDK, and the
//!    first output of streamed runs (see `scale.rs`);
//! 8. fan-out over TLS + HTTP/2 with a 100-stream server cap, and over HTTP/1.1.

mod report;
mod scale;
mod scenarios;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::util;
use report::Report;

const PY_SCRIPT: &str = include_str!("py_bench.py");
const TOKEN: &str = "test-token";
const PROJECT: &str = "test-project";
const SCRIPT: &str = "echo hello";
const MIB: u64 = 1024 * 1024;

/// Sizes of one bench run.
#[derive(Debug, Clone)]
pub(crate) struct Sizes {
    pub quick: bool,
    /// `--only 1,8`: the scenarios to run (all when empty).
    pub only: Vec<u32>,
    pub seq_n: u64,
    pub seq_rounds: u64,
    pub warmup: u64,
    pub fan_n: u64,
    pub fan_c: u64,
    pub file_bytes: u64,
    pub events: u64,
    pub criterion_secs: u64,
    pub py_seq_n: u64,
    pub py_fan_n: u64,
    /// Scenario 7: sequential runs per client, streamed runs.
    pub real_n: u64,
    pub first_n: u64,
    /// Scenario 8: runs per line, and the concurrencies.
    pub h2_n: u64,
    pub h2_levels: Vec<u64>,
}

impl Sizes {
    /// Whether scenario `n` runs (no `--only`, or one naming it).
    pub fn wants(&self, n: u32) -> bool {
        self.only.is_empty() || self.only.contains(&n)
    }

    fn new(quick: bool) -> Self {
        if quick {
            Sizes {
                quick,
                only: Vec::new(),
                seq_n: 100,
                seq_rounds: 2,
                warmup: 5,
                fan_n: 1000,
                fan_c: 256,
                file_bytes: 64 * MIB,
                events: 100_000,
                criterion_secs: 2,
                py_seq_n: 50,
                py_fan_n: 500,
                real_n: 40,
                first_n: 10,
                h2_n: 1000,
                h2_levels: vec![100, 1000],
            }
        } else {
            Sizes {
                quick,
                only: Vec::new(),
                seq_n: 500,
                seq_rounds: 5,
                warmup: 10,
                fan_n: 5000,
                fan_c: 256,
                file_bytes: 1024 * MIB,
                events: 1_000_000,
                criterion_secs: 10,
                py_seq_n: 500,
                py_fan_n: 5000,
                real_n: 200,
                first_n: 50,
                h2_n: 5000,
                h2_levels: vec![100, 1000, 2000],
            }
        }
    }
}

/// A mock server child process, killed by PID on drop.
struct Mock {
    child: Child,
    base_url: String,
}

impl Mock {
    fn start(bin: &Path) -> Result<Self, String> {
        Self::start_args(bin, &["--latency", "0"])
    }

    /// Starts the mock with these flags (besides `--port 0`).
    fn start_args(bin: &Path, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(bin)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("the mock has no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the mock server did not print `LISTENING <url>` within 30 s".into());
            }
        };
        let base_url = match line.strip_prefix("LISTENING ") {
            Some(u) => u.trim().to_string(),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("unexpected first line from the mock: {line:?}"));
            }
        };
        Ok(Mock { child, base_url })
    }

    /// The mock's peak RSS so far (KiB).
    fn hwm_kib(&self) -> u64 {
        proc_status_kib(&format!("/proc/{}/status", self.child.id()), "VmHWM:")
    }

    /// CPU time (user + system) the mock used so far, in microseconds (10 ms ticks).
    fn cpu_us(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces); utime and stime are
        // fields 14 and 15 of the line.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10_000
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn proc_status_kib(path: &str, field: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `cargo xtask bench [--quick]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut only = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            // `--only 1,8`: run these scenarios only (the report says so).
            "--only" => {
                let list = it
                    .next()
                    .ok_or("bench: --only needs a list, e.g. --only 1,8")?;
                for n in list.split(',') {
                    only.push(n.trim().parse::<u32>().map_err(|_| {
                        format!("bench: --only takes scenario numbers, got `{list}`")
                    })?);
                }
            }
            other => {
                return Err(format!(
                    "bench: unknown argument `{other}` (--quick, --only N[,N...])"
                ));
            }
        }
    }
    let sizes = Sizes {
        only,
        ..Sizes::new(quick)
    };
    let started = Instant::now();
    let dir = util::target_dir().join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut report = Report::new(&sizes);

    // Builds (release).
    let mut build = util::cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "contree-mock",
        "--bin",
        "contree-mock",
    ]);
    util::run(build)?;
    let mock_bin = util::target_dir().join("release").join("contree-mock");
    let client_bin = build_bench_exe("contree", "client")?;
    let build_time = started.elapsed();
    eprintln!("xtask bench: built in {build_time:.0?}");

    let bench = scenarios::Bench {
        sizes: &sizes,
        mock_bin: &mock_bin,
        client_bin: &client_bin,
        dir: &dir,
    };
    scenarios::api(&bench, &mut report)?;
    scenarios::at_scale(&bench, &mut report);
    scenarios::files(&bench, &mut report)?;
    scenarios::events(&bench, &mut report)?;

    report.set_elapsed(started.elapsed(), build_time);
    let md = report.markdown();
    let path = dir.join("REPORT.md");
    std::fs::write(&path, &md).map_err(|e| format!("writing {}: {e}", path.display()))?;
    println!("{}", report.summary());
    println!("report: {}", path.display());
    Ok(())
}

/// Builds a bench target and returns its executable (from cargo's JSON messages).
fn build_bench_exe(package: &str, bench: &str) -> Result<PathBuf, String> {
    let mut c = util::cargo();
    c.args([
        "bench",
        "--no-run",
        "-p",
        package,
        "--bench",
        bench,
        "--message-format=json-render-diagnostics",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    eprintln!("xtask: running {c:?}");
    let out = c
        .output()
        .map_err(|e| format!("could not run cargo bench --no-run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the `{bench}` bench of {package} failed with {}",
            out.status
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == bench)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo did not report the executable of the `{bench}` bench"))
}

/// Runs a client program and parses its `RESULT {json}` line.
fn run_json(bin: &Path, args: &[String]) -> Result<Value, String> {
    let mut c = Command::new(bin);
    c.args(args);
    run_result(c)
}

/// Runs the Python program with an empty `CONTREE_HOME` and no credentials in the environment.
fn run_json_with(python: &Path, args: &[String], home: &Path) -> Result<Value, String> {
    let mut c = Command::new(python);
    c.args(args).env("CONTREE_HOME", home);
    for var in [
        "NEBIUS_API_KEY",
        "NEBIUS_PROJECT_ID",
        "CONTREE_TOKEN",
        "CONTREE_BASE_URL",
        "CONTREE_PROFILE",
    ] {
        c.env_remove(var);
    }
    run_result(c)
}

fn run_result(mut c: Command) -> Result<Value, String> {
    c.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let shown = format!("{c:?}");
    let out = c
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{shown} failed with {}", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or_else(|| format!("{shown} printed no RESULT line"))?;
    serde_json::from_str(line).map_err(|e| format!("{shown}: bad RESULT json: {e}"))
}

fn latencies(v: &Value) -> Vec<u64> {
    v["latencies_us"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// Runs a command to completion, returning its wall time and stdout.
fn timed(c: &mut Command) -> Result<(Duration, String), String> {
    let shown = format!("{c:?}");
    let t = Instant::now();
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    let took = t.elapsed();
    if !out.status.success() {
        return Err(format!("{shown} failed with {}", out.status));
    }
    Ok((took, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Writes `bytes` of xorshift pseudo-random (incompressible) data.
fn generate(path: &Path, bytes: u64) -> Result<(), String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(MIB as usize, f);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = bytes;
    while left > 0 {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        let n = left.min(MIB) as usize;
        w.write_all(&buf[..n])
            .map_err(|e| format!("{}: {e}", path.display()))?;
        left -= n as u64;
    }
    w.flush().map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}

/// Reads the file once so every reader (SDK, `sha256sum`, `curl`) finds it in the page cache.
fn warm_page_cache(path: &Path) {
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = std::io::copy(&mut f, &mut std::io::sink());
    }
}

fn files_equal(a: &Path, b: &Path) -> Result<bool, String> {
    let out = Command::new("cmp")
        .args(["-s"])
        .arg(a)
        .arg(b)
        .status()
        .map_err(|e| format!("could not run cmp: {e}"))?;
    Ok(out.success())
}

/// The virtualenv with the official Python SDK: `(python, contree-sdk version)`.
fn python_env(dir: &Path) -> Result<(PathBuf, String), String> {
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    if !python.exists() {
        eprintln!("xtask bench: creating {}", venv.display());
        let st = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|e| format!("python3 is not available: {e}"))?;
        if !st.success() {
            return Err(format!("`python3 -m venv` failed with {st}"));
        }
    }
    let version = |python: &Path| -> Option<String> {
        let out = Command::new(python)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('contree-sdk'))",
            ])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    if let Some(v) = version(&python) {
        return Ok((python, v));
    }
    eprintln!("xtask bench: pip install contree-sdk");
    let st = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "contree-sdk",
        ])
        .status()
        .map_err(|e| format!("could not run pip: {e}"))?;
    if !st.success() {
        return Err(format!("`pip install contree-sdk` failed with {st}"));
    }
    let v = version(&python).ok_or("contree-sdk is not importable after pip install")?;
    Ok((python, v))
}

/// CPU model, logical cores, memory, kernel, load.
pub(crate) fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = proc_status_kib("/proc/meminfo", "MemTotal:");
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let load = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    vec![
        ("CPU".into(), model),
        ("logical cores".into(), cores),
        (
            "memory".into(),
            format!("{:.1} GiB", mem as f64 / MIB as f64),
        ),
        ("kernel".into(), kernel),
        ("load average at start".into(), load),
        ("rustc".into(), rustc),
        ("date".into(), date),
    ]
}

/// A goal verdict, for the report.
pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**MISSED**" }
}
