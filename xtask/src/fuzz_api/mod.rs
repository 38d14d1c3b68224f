//! `cargo xtask fuzz-api`: schemathesis (pinned, in a cached virtualenv) runs every operation of
//! the spec against the mock server binary with bounded examples, one worker and a fixed seed.
//!
//! `hooks.py` feeds real ids (an uploaded file, a finished instance and its tagged image, a
//! running instance and fresh subprocesses) so operations reach their 2xx paths, and holds the
//! short, commented allow-list of spec defects (docs/SPEC-DEFECTS.md). Any 5xx, and any failed
//! check outside the allow-list, fails the command.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{root, run, start_mock, target_dir};

/// The schemathesis release the allow-list was written against.
const SCHEMATHESIS: &str = "4.32.5";
/// Test cases per operation and phase.
const MAX_EXAMPLES: &str = "50";
/// Fixed, so a failure reproduces.
const SEED: &str = "20261202";
const HOOKS: &str = include_str!("hooks.py");

fn work_dir() -> PathBuf {
    target_dir().join("xtask-fuzz-api")
}

/// The venv's `schemathesis`, installing the pinned release when it is not there yet.
fn ensure_schemathesis(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join(format!("venv-schemathesis-{SCHEMATHESIS}"));
    let python = venv.join("bin").join("python");
    let probe = format!(
        "import importlib.metadata as m; assert m.version('schemathesis') == '{SCHEMATHESIS}'"
    );
    let ready = Command::new(&python)
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ready {
        eprintln!(
            "xtask fuzz-api: installing schemathesis=={SCHEMATHESIS} into {}",
            venv.display()
        );
        let mut mk = Command::new("python3");
        mk.args(["-m", "venv", "--clear"]).arg(&venv);
        run(mk).map_err(|e| format!("{e} (fuzz-api needs Python 3.10+ with venv)"))?;
        let mut pip = Command::new(&python);
        pip.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .arg(format!("schemathesis=={SCHEMATHESIS}"));
        run(pip).map_err(|e| format!("{e} (is PyPI reachable?)"))?;
    }
    Ok(venv.join("bin").join("schemathesis"))
}

/// `cargo xtask fuzz-api [-- EXTRA SCHEMATHESIS ARGS]`.
pub fn run_fuzz(args: &[String]) -> Result<(), String> {
    let spec = crate::codegen::spec_path(&root(), None, std::env::var("CONTREE_OPENAPI_SPEC").ok());
    if !spec.exists() {
        return Err(format!(
            "fuzz-api needs the OpenAPI spec at {} (set CONTREE_OPENAPI_SPEC to use another)",
            spec.display()
        ));
    }
    let dir = work_dir();
    std::fs::create_dir_all(dir.join("hooks"))
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let st = ensure_schemathesis(&dir)?;
    std::fs::write(dir.join("hooks").join("contree_fuzz_hooks.py"), HOOKS)
        .map_err(|e| format!("cannot write the hooks: {e}"))?;
    let mock = start_mock(false, &["--latency", "1", "--seed", "7"])?;
    let (token, project) = (contree_defaults::TOKEN, contree_defaults::PROJECT);
    let extra: Vec<&str> = args
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .map(String::as_str)
        .collect();
    let mut cmd = Command::new(st);
    // Schemathesis keeps a `.schemathesis/` cache in its working directory: not the checkout.
    cmd.current_dir(&dir)
        .arg("run")
        .arg(&spec)
        .args(["--url", &format!("{}/v1", mock.base_url)])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["-H", &format!("Project: {project}")])
        .args([
            "--max-examples",
            MAX_EXAMPLES,
            "--workers",
            "1",
            "--seed",
            SEED,
        ])
        .args([
            "--generation-database",
            "none",
            "--request-timeout",
            "20",
            "--no-color",
        ])
        .args(["--report", "junit", "--report-dir"])
        .arg(dir.join("report"))
        .args(&extra)
        .env("SCHEMATHESIS_HOOKS", "contree_fuzz_hooks")
        .env("PYTHONPATH", dir.join("hooks"))
        .env("CONTREE_FUZZ_BASE_URL", &mock.base_url)
        .env("CONTREE_FUZZ_TOKEN", token)
        .env("CONTREE_FUZZ_PROJECT", project);
    let summary = dir.join("summary.json");
    let _ = std::fs::remove_file(&summary);
    cmd.env("CONTREE_FUZZ_SUMMARY", &summary);
    run(cmd).map_err(|e| {
        format!("{e}: schemathesis found a failure outside the allow-list of xtask/src/fuzz_api/hooks.py")
    })?;
    check_coverage(&summary)
}

/// Every operation of the spec must have reached a 2xx/3xx at least once.
fn check_coverage(summary: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(summary)
        .map_err(|e| format!("the hooks wrote no summary at {}: {e}", summary.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("unreadable fuzz summary: {e}"))?;
    let successes = v["successes"].as_object().cloned().unwrap_or_default();
    let missing: Vec<String> = contree_operation_labels()
        .into_iter()
        .filter(|op| successes.get(op).and_then(|n| n.as_u64()).unwrap_or(0) == 0)
        .collect();
    if let Some(allowed) = v["allowed"].as_object() {
        for (why, n) in allowed {
            eprintln!("xtask fuzz-api: allowed {n:>4} x {why}");
        }
    }
    if missing.is_empty() {
        eprintln!(
            "xtask fuzz-api: all {} operations reached a 2xx/3xx",
            successes.len()
        );
        Ok(())
    } else {
        Err(format!(
            "these operations never reached a 2xx/3xx (feed them real data in hooks.py): {}",
            missing.join(", ")
        ))
    }
}

/// `METHOD /path` of every operation of the spec.
fn contree_operation_labels() -> Vec<String> {
    let spec = crate::codegen::spec_path(&root(), None, std::env::var("CONTREE_OPENAPI_SPEC").ok());
    let Ok(text) = std::fs::read_to_string(spec) else {
        return Vec::new();
    };
    let Ok(doc) = serde_yaml::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in ["get", "head", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out
}

/// The mock binary's default credentials (`contree-mock --help` lists them).
mod contree_defaults {
    pub const TOKEN: &str = "test-token";
    pub const PROJECT: &str = "test-project";
}
