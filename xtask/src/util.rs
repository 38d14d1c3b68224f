//! Shared helpers and the `test`, `ci` and `mock` commands.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The cargo target directory (`CARGO_TARGET_DIR` when set, else `<root>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root().join(dir)
            }
        }
        _ => root().join("target"),
    }
}

/// The `cargo` the xtask was started with.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Runs a command, failing with its rendering when it does not exit 0.
pub fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    eprintln!("xtask: running {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed with {status}"))
    }
}

/// A mock server child process, killed (by PID) on drop.
pub struct MockProcess {
    child: Child,
    /// The base URL the server printed.
    pub base_url: String,
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds and starts the mock server binary with `--port 0`, waiting for its `LISTENING` line.
pub fn start_mock(release: bool, extra: &[&str]) -> Result<MockProcess, String> {
    let mut build = cargo();
    build.args([
        "build",
        "--quiet",
        "-p",
        "contree-mock",
        "--bin",
        "contree-mock",
    ]);
    if release {
        build.arg("--release");
    }
    run(build)?;
    let bin = target_dir()
        .join(if release { "release" } else { "debug" })
        .join("contree-mock");
    let mut child = Command::new(&bin)
        .args(["--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        // Keep draining so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let started = Instant::now();
    let line = rx.recv_timeout(Duration::from_secs(30)).map_err(|_| {
        let _ = child.kill();
        "the mock server did not print `LISTENING <url>` within 30 s".to_string()
    })?;
    let base_url = line
        .strip_prefix("LISTENING ")
        .ok_or_else(|| format!("unexpected first line from the mock server: {line:?}"))?
        .trim()
        .to_string();
    eprintln!(
        "xtask: mock server listening at {base_url} (ready in {:?})",
        started.elapsed()
    );
    Ok(MockProcess { child, base_url })
}

/// `cargo xtask test`: every test of the workspace, with the mock binary running.
pub fn test(args: &[String]) -> Result<(), String> {
    run_tests(args, under_ci())
}

/// Whether this runs under CI (`CI=true` or `CI=1`), where no check may skip.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The tests; with `ci`, they run with `CI=true`, so a test that would skip for want of
/// something (the spec, Python) fails instead.
fn run_tests(args: &[String], ci: bool) -> Result<(), String> {
    let passthrough: Vec<&str> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .map(String::as_str)
        .collect();
    let mock = start_mock(false, &[])?;
    let with_mock = |cmd: &mut Command| {
        cmd.env("CONTREE_TEST_BASE_URL", &mock.base_url);
        if ci {
            cmd.env("CI", "true");
        }
    };
    let mut unit = cargo();
    // Benchmarks are not tests (`cargo xtask bench` runs them); `--all-targets` would run
    // their `harness = false` mains in debug mode. Clippy still checks them in `ci`.
    unit.args([
        "test",
        "--workspace",
        "--lib",
        "--bins",
        "--tests",
        "--examples",
    ]);
    if !passthrough.is_empty() {
        unit.arg("--").args(&passthrough);
    }
    with_mock(&mut unit);
    run(unit)?;
    let mut doc = cargo();
    doc.args(["test", "--workspace", "--doc"]);
    with_mock(&mut doc);
    run(doc)?;
    // Every example of the facade, against the same mock.
    for example in EXAMPLES {
        let mut ex = cargo();
        ex.args(["run", "--quiet", "-p", "contree", "--example", example]);
        with_mock(&mut ex);
        if *example == "from_env" {
            // It reads only what `Contree::from_env()` reads: point that at the mock (whose
            // default token and project these are). The environment wins over auth.ini.
            ex.env("CONTREE_BASE_URL", &mock.base_url)
                .env("NEBIUS_API_KEY", "test-token")
                .env("NEBIUS_PROJECT_ID", "test-project");
        }
        run(ex)?;
    }
    Ok(())
}

/// The examples of `crates/contree/examples` that `cargo xtask test` runs.
const EXAMPLES: &[&str] = &[
    "quickstart",
    "branching",
    "streaming",
    "session",
    "files",
    "interactive",
    "blocking",
    "from_profile",
    "build",
    "sync",
    "from_env",
];

/// `cargo xtask ci`: what `.ci/run` runs (fmt, clippy, codegen check, test, faults --quick, doc).
pub fn ci(_args: &[String]) -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)?;
    let spec = crate::codegen::spec_path(&root(), None, std::env::var("CONTREE_OPENAPI_SPEC").ok());
    // A missing spec fails CI: codegen --check, the spec-lock test and the mock's schema
    // validation all need it.
    if !spec.exists() {
        return Err(format!(
            "the OpenAPI spec is not at {}: check out ../shared/spec beside the repository (or set \
             CONTREE_OPENAPI_SPEC); CI checks the generated code and the mock against it",
            spec.display()
        ));
    }
    eprintln!("xtask: running codegen --check against {}", spec.display());
    crate::codegen::check_dir(&spec, &crate::codegen::out_dir(&root()))?;
    eprintln!("xtask: checking that crates/contree/src builds no request paths by hand");
    crate::codegen::facade_paths::check(&root())?;
    // Under `cargo xtask ci` the tests run as under CI: nothing they need may skip.
    run_tests(&[], true)?;
    crate::faults::run_faults(&["--quick".to_string()])?;
    // Schemathesis against the mock: every operation, bounded, with the spec-defect allow-list.
    crate::fuzz_api::run_fuzz(&[])?;
    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps"])
        .env("RUSTDOCFLAGS", "-D warnings");
    run(doc)?;
    // The five publishable crates: crates.io metadata, then `cargo package` with verification.
    crate::package::run_package(&[])?;
    Ok(())
}

/// `cargo xtask mock`: the mock server in the foreground.
pub fn mock(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "-p", "contree-mock", "--bin", "contree-mock", "--"])
        .args(args);
    run(cmd)
}
