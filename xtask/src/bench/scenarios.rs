//! The scenarios `run` drives, one function each (1, 2 and 6 share a mock; 3 and 4 share a
//! generated file; 7 and 8 are in `scale.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::report::{self, Report, Stats};
use super::{
    MIB, Mock, PROJECT, PY_SCRIPT, SCRIPT, Sizes, TOKEN, files_equal, generate, latencies,
    python_env, run_json, run_json_with, scale, timed, warm_page_cache,
};
use crate::util;

/// What every scenario gets: the sizes, the release binaries and the bench directory.
pub(super) struct Bench<'a> {
    pub sizes: &'a Sizes,
    pub mock_bin: &'a Path,
    pub client_bin: &'a Path,
    pub dir: &'a Path,
}

/// A mock's address and an image on it: the arguments of the client program.
struct Conn {
    base: String,
    image: String,
}

impl Conn {
    /// Resolves `ubuntu:latest` on the mock at `base` through the client program.
    fn resolve(client_bin: &Path, base: &str) -> Result<Self, String> {
        let mut conn = Conn {
            base: base.to_string(),
            image: String::new(),
        };
        let mut a = conn.args("resolve");
        a.extend(["--tag".into(), "ubuntu:latest".into()]);
        conn.image = run_json(client_bin, &a)?["image"]
            .as_str()
            .ok_or("resolve: no image")?
            .to_string();
        Ok(conn)
    }

    /// `cmd --base B --token T --project P`.
    fn args(&self, cmd: &str) -> Vec<String> {
        vec![
            cmd.to_string(),
            "--base".into(),
            self.base.clone(),
            "--token".into(),
            TOKEN.into(),
            "--project".into(),
            PROJECT.into(),
        ]
    }

    /// [`args`](Self::args), the image, the script and `--k v` for each extra.
    fn with_image(&self, cmd: &str, extra: &[(&str, String)]) -> Vec<String> {
        let mut v = self.args(cmd);
        v.extend(["--image".into(), self.image.clone()]);
        v.extend(["--script".into(), SCRIPT.into()]);
        for (k, val) in extra {
            v.push(format!("--{k}"));
            v.push(val.clone());
        }
        v
    }
}

/// Scenarios 1, 2 and 6, on one zero-latency mock.
pub(super) fn api(b: &Bench<'_>, report: &mut Report) -> Result<(), String> {
    let sizes = b.sizes;
    if !(sizes.wants(1) || sizes.wants(2) || sizes.wants(6)) {
        return Ok(());
    }
    let mock = Mock::start(b.mock_bin)?;
    let conn = Conn::resolve(b.client_bin, &mock.base_url)?;
    if sizes.wants(1) {
        sequential(b, &mock, &conn, report)?;
    }
    if sizes.wants(2) {
        eprintln!(
            "xtask bench: [2] fan-out {} runs at concurrency {}",
            sizes.fan_n, sizes.fan_c
        );
        let extra = [
            ("n", sizes.fan_n.to_string()),
            ("concurrency", sizes.fan_c.to_string()),
            ("warmup", sizes.warmup.to_string()),
        ];
        let sdk = run_json(b.client_bin, &conn.with_image("fanout-sdk", &extra))?;
        let floor = run_json(b.client_bin, &conn.with_image("fanout-floor", &extra))?;
        report.fanout(&sdk, &floor);
    }
    if sizes.wants(6) {
        python(b, &conn, report)?;
    }
    report.mock_hwm_runs(mock.hwm_kib());
    Ok(())
}

/// 1. Sequential, alternating rounds of SDK and floor.
fn sequential(b: &Bench<'_>, mock: &Mock, conn: &Conn, report: &mut Report) -> Result<(), String> {
    let sizes = b.sizes;
    let per_round = sizes.seq_n / sizes.seq_rounds;
    let (mut sdk_lat, mut floor_lat) = (Vec::new(), Vec::new());
    let (mut sdk_hwm, mut floor_425) = (0, 0);
    let mut cpu = report::CpuPerRun::default();
    for round in 0..sizes.seq_rounds {
        eprintln!(
            "xtask bench: [1] sequential round {}/{}",
            round + 1,
            sizes.seq_rounds
        );
        let extra = [
            ("n", per_round.to_string()),
            ("warmup", sizes.warmup.to_string()),
        ];
        let mock_before = mock.cpu_us();
        let s = run_json(b.client_bin, &conn.with_image("seq-sdk", &extra))?;
        cpu.mock_us += mock.cpu_us().saturating_sub(mock_before);
        cpu.mock_runs += per_round + sizes.warmup;
        cpu.sdk_us += s["cpu_us"].as_u64().unwrap_or(0);
        sdk_lat.extend(latencies(&s));
        sdk_hwm = sdk_hwm.max(s["hwm_kib"].as_u64().unwrap_or(0));
        let f = run_json(b.client_bin, &conn.with_image("seq-floor", &extra))?;
        cpu.floor_us += f["cpu_us"].as_u64().unwrap_or(0);
        floor_lat.extend(latencies(&f));
        floor_425 += f["too_early_425"].as_u64().unwrap_or(0);
    }
    report.seq(
        Stats::new(&sdk_lat),
        Stats::new(&floor_lat),
        sdk_hwm,
        floor_425,
        cpu,
    );
    Ok(())
}

/// Writes the Python bench script and an empty `CONTREE_HOME` into the bench directory.
fn python_files(dir: &Path) -> Result<(PathBuf, PathBuf), String> {
    let script = dir.join("py_bench.py");
    std::fs::write(&script, PY_SCRIPT).map_err(|e| format!("writing {}: {e}", script.display()))?;
    let home = dir.join("empty-contree-home");
    std::fs::create_dir_all(&home).map_err(|e| e.to_string())?;
    Ok((script, home))
}

/// 6. The official Python SDK doing 1 and 2.
fn python(b: &Bench<'_>, conn: &Conn, report: &mut Report) -> Result<(), String> {
    let sizes = b.sizes;
    let (python, version) = match python_env(b.dir) {
        Err(e) => {
            report.python_skipped(&e);
            return Ok(());
        }
        Ok(found) => found,
    };
    let (script, home) = python_files(b.dir)?;
    let py_args = |mode: &str, extra: &[(&str, String)]| -> Vec<String> {
        let mut v = vec![script.display().to_string()];
        v.extend(conn.with_image(mode, extra));
        v
    };
    eprintln!("xtask bench: [6] Python SDK {version}: sequential");
    let seq_extra = [
        ("n", sizes.py_seq_n.to_string()),
        ("warmup", sizes.warmup.to_string()),
    ];
    let seq = run_json_with(&python, &py_args("seq", &seq_extra), &home);
    eprintln!("xtask bench: [6] Python SDK {version}: fan-out");
    let fan_extra = [
        ("n", sizes.py_fan_n.to_string()),
        ("concurrency", sizes.fan_c.to_string()),
        ("warmup", sizes.warmup.to_string()),
    ];
    let fan = run_json_with(&python, &py_args("fanout", &fan_extra), &home);
    report.python(&version, seq, fan);
    Ok(())
}

/// 7. Overhead at realistic latency (fresh realistic mocks), 8. fan-out over TLS + h2.
pub(super) fn at_scale(b: &Bench<'_>, report: &mut Report) {
    let sizes = b.sizes;
    if sizes.wants(7) {
        let py = python_env(b.dir).ok().and_then(|(python, _)| {
            python_files(b.dir)
                .ok()
                .map(|(script, home)| (python, script, home))
        });
        match scale::realistic(sizes, b.mock_bin, b.client_bin, py.as_ref()) {
            Ok(r) => report.realistic(&r),
            Err(e) => report.scenario_failed("7. Overhead at realistic latency", &e),
        }
    }
    if sizes.wants(8) {
        let fan = scale::h2_fanout(sizes, b.mock_bin, b.client_bin, b.dir);
        report.h2_fanout(&fan, sizes.h2_n);
    }
}

/// The `Authorization` and `Project` headers, for curl.
fn curl_headers() -> [String; 2] {
    [
        format!("Authorization: Bearer {TOKEN}"),
        format!("Project: {PROJECT}"),
    ]
}

/// 3 and 4: upload and download of a generated file, on a fresh mock.
pub(super) fn files(b: &Bench<'_>, report: &mut Report) -> Result<(), String> {
    let sizes = b.sizes;
    if !(sizes.wants(3) || sizes.wants(4)) {
        return Ok(());
    }
    let mock = Mock::start(b.mock_bin)?;
    let data = b.dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let src = data.join("upload.bin");
    eprintln!(
        "xtask bench: [3] generating {} MiB of pseudo-random data",
        sizes.file_bytes / MIB
    );
    generate(&src, sizes.file_bytes)?;
    let conn = Conn::resolve(b.client_bin, &mock.base_url)?;
    warm_page_cache(&src);
    let dest = "/data/big.bin";
    let placed = upload(b, &conn, &src, dest, report)?;
    let outs = download(b, &conn, &placed, dest, &data, report)?;
    report.mock_hwm_files(mock.hwm_kib());
    for f in [&src, &outs.0, &outs.1] {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

/// 3. Upload through the SDK (then the dedup hit), and the floors; the image it placed.
fn upload(
    b: &Bench<'_>,
    conn: &Conn,
    src: &Path,
    dest: &str,
    report: &mut Report,
) -> Result<String, String> {
    eprintln!("xtask bench: [3] upload through the SDK (then the dedup hit)");
    let mut a = conn.args("upload");
    a.extend([
        "--file".into(),
        src.display().to_string(),
        "--image".into(),
        conn.image.clone(),
        "--dest".into(),
        dest.into(),
    ]);
    let up = run_json(b.client_bin, &a)?;
    eprintln!("xtask bench: [3] floors: sha256sum, curl upload");
    let (sha_time, sha_out) = timed(Command::new("sha256sum").arg(src))?;
    let sha_ok = sha_out.split_whitespace().next() == up["sha256"].as_str();
    let [auth, project] = curl_headers();
    let (curl_up_time, _) = timed(
        Command::new("curl")
            .args(["-sS", "--fail", "-o", "/dev/null", "-X", "POST"])
            .args(["-H", &auth, "-H", &project])
            .args([
                "-H",
                "Content-Type: application/octet-stream",
                "-H",
                "Expect:",
            ])
            .arg("-T")
            .arg(src)
            .arg(format!("{}/v1/files", conn.base)),
    )?;
    report.upload(&up, sha_time, sha_ok, curl_up_time, b.sizes.file_bytes);
    Ok(up["image"].as_str().ok_or("upload: no image")?.to_string())
}

/// 4. Download through the SDK, and curl on the same URL; the two output files.
fn download(
    b: &Bench<'_>,
    conn: &Conn,
    placed: &str,
    dest: &str,
    data: &Path,
    report: &mut Report,
) -> Result<(PathBuf, PathBuf), String> {
    eprintln!("xtask bench: [4] download through the SDK");
    let sdk_out = data.join("download-sdk.bin");
    let curl_out = data.join("download-curl.bin");
    let _ = std::fs::remove_file(&sdk_out);
    let _ = std::fs::remove_file(&curl_out);
    let mut a = conn.args("download");
    a.extend([
        "--image".into(),
        placed.to_string(),
        "--path".into(),
        dest.into(),
        "--out".into(),
        sdk_out.display().to_string(),
    ]);
    let down = run_json(b.client_bin, &a)?;
    eprintln!("xtask bench: [4] floor: curl on the same URL");
    let url = format!("{}/v1/inspect/{placed}/download?path={dest}", conn.base);
    let [auth, project] = curl_headers();
    let curl = |compressed: bool| -> Result<Duration, String> {
        let _ = std::fs::remove_file(&curl_out);
        let mut c = Command::new("curl");
        c.args(["-sS", "--fail", "-H", &auth, "-H", &project]);
        if compressed {
            c.arg("--compressed");
        }
        c.arg("-o").arg(&curl_out).arg(&url);
        timed(&mut c).map(|(t, _)| t)
    };
    let curl_gzip = curl(true)?;
    let same = files_equal(&sdk_out, &curl_out)?;
    let curl_plain = curl(false)?;
    report.download(&down, curl_gzip, curl_plain, same, b.sizes.file_bytes);
    Ok((sdk_out, curl_out))
}

/// 5. Events decoding (criterion).
pub(super) fn events(b: &Bench<'_>, report: &mut Report) -> Result<(), String> {
    let sizes = b.sizes;
    if !sizes.wants(5) {
        return Ok(());
    }
    eprintln!(
        "xtask bench: [5] SSE decoding of {} events (criterion)",
        sizes.events
    );
    let crit_home = b.dir.join("criterion");
    let meta = b.dir.join("sse-meta.json");
    let mut c = util::cargo();
    c.args([
        "bench",
        "-p",
        "contree",
        "--bench",
        "sse_decode",
        "--",
        "--noplot",
    ])
    .env("CRITERION_HOME", &crit_home)
    .env("CONTREE_BENCH_EVENTS", sizes.events.to_string())
    .env(
        "CONTREE_BENCH_MEASURE_SECS",
        sizes.criterion_secs.to_string(),
    )
    .env("CONTREE_BENCH_META", &meta);
    util::run(c)?;
    report.events(&crit_home, &meta)?;
    Ok(())
}
