//! The official Python client (`contree-client` from PyPI) against the mock.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use contree_mock::MockServer;

const SCRIPT: &str = r#"
import sys
from contree_client.http import ContreeClient

base, token, project = sys.argv[1], sys.argv[2], sys.argv[3]
c = ContreeClient(token, base_url=base, project=project)
spawned = c.spawn_instance("echo hello from python; echo data > /out.txt", "tag:busybox:latest", shell=True)
op = spawned.uuid
types = []
for ev in c.follow_operation_events(op, timeout=60):
    types.append(ev.type)
assert types[0] == "init", types
assert types[-1] == "completion", types
assert "stdout" in types, types
status = c.get_operation_status(op)
assert status.status == "SUCCESS", status
img = status.result_image_uuid
up = c.upload_file(b"uploaded bytes")
assert up.size == 14, up
listing = c.inspect_image_list(img, "/")
names = [f.path for f in listing.files]
assert "out.txt" in names, names
data = c.inspect_image_download(img, "/out.txt")
assert data == b"data\n", data
found = c.inspect_find_image_by_tag("busybox:latest")
assert len(found) == 36, found
print("PYTHON-CLIENT-OK", len(types))
"#;

fn venv_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("contree-client-venv")
}

fn ensure_venv(dir: &Path) -> Result<PathBuf, String> {
    let python = dir.join("bin").join("python");
    let ok = Command::new(&python)
        .args(["-c", "import contree_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Ok(python);
    }
    let out = Command::new("python3")
        .args(["-m", "venv"])
        .arg(dir)
        .output()
        .map_err(|e| format!("python3 is not available: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "python3 -m venv failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let out = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "contree-client==0.4.4",
        ])
        .output()
        .map_err(|e| format!("pip is not available: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip install contree-client failed (offline?): {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(python)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_client_works_against_the_mock() {
    let python = match tokio::task::spawn_blocking(|| ensure_venv(&venv_dir()))
        .await
        .unwrap()
    {
        Ok(p) => p,
        Err(reason) => {
            eprintln!("SKIP official_python_client_works_against_the_mock: {reason}");
            return;
        }
    };
    let server = MockServer::builder()
        .latency(Duration::from_millis(2))
        .start()
        .await;
    let base = server.base_url().to_string();
    let token = server.token().to_string();
    let project = server.project().unwrap_or_default().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", SCRIPT, &base, &token, &project])
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("PYTHON-CLIENT-OK"),
        "python client failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.request_count("getOperationEvents") >= 1);
    assert_eq!(server.request_count("spawnInstance"), 1);
    assert_eq!(server.request_count("uploadFile"), 1);
}
