//! An independent client: the official Python MCP SDK (`mcp`, pinned) launches the
//! binary over stdio, lists the 19 tools and calls `run`, `list_images`, `read_file` and
//! `grep`, then a detached and a failing `import_image` (tests/python/client.py). The SDK
//! is installed once into a virtualenv under the target directory. Without Python or PyPI
//! the test is skipped, except under `CI=true`, where that is a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{World, target_dir};

/// The pinned version of the official Python MCP SDK.
const MCP_VERSION: &str = "2.3.0";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn skip_or_fail(why: String) -> Option<PathBuf> {
    if ci() {
        panic!("CI=true: the Python MCP client test cannot run: {why}");
    }
    eprintln!("SKIPPED (not under CI): {why}");
    None
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

fn has_pinned_sdk(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            &format!(
                "import importlib.metadata as m, mcp; assert m.version('mcp') == '{MCP_VERSION}'"
            ),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The virtualenv's python with `mcp==MCP_VERSION`, created on first use.
fn python_with_sdk() -> Option<PathBuf> {
    let venv = target_dir()
        .join("mcp-python")
        .join(format!("venv-mcp-{MCP_VERSION}"));
    let python = venv_python(&venv);
    if has_pinned_sdk(&python) {
        return Some(python);
    }
    let base = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    match Command::new(&base)
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .output()
    {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            return skip_or_fail(format!(
                "`{base} -m venv` failed: {}",
                String::from_utf8_lossy(&o.stderr)
            ));
        }
        Err(e) => return skip_or_fail(format!("`{base}` cannot be run: {e}")),
    }
    let pip = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
        ])
        .arg(format!("mcp=={MCP_VERSION}"))
        .output();
    match pip {
        Ok(o) if o.status.success() && has_pinned_sdk(&python) => Some(python),
        Ok(o) => skip_or_fail(format!(
            "installing mcp=={MCP_VERSION} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => skip_or_fail(format!("pip cannot be run: {e}")),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_client_lists_and_calls_tools() {
    let Some(python) = tokio::task::spawn_blocking(python_with_sdk).await.unwrap() else {
        return;
    };
    let w = World::new().await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client.py");
    let out = tokio::process::Command::new(&python)
        .env_clear()
        .envs(w.env())
        .arg(&script)
        .arg(common::BIN)
        .output()
        .await
        .expect("the Python client runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Python client failed:\n{stdout}\n{stderr}"
    );
    for check in [
        "ok list_tools: 19 tools",
        "ok run: stdout 'hi\\n'",
        "ok list_images",
        "ok read_file: 'ubuntu\\n'",
        "ok grep",
        "ok import_image wait=false",
        "ok import_image that fails",
    ] {
        assert!(stdout.contains(check), "missing `{check}` in:\n{stdout}");
    }
    // The server never logs the token (its stderr is the client's stderr here).
    assert!(!stderr.contains(w.mock.token()), "{stderr}");
}
