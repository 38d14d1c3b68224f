use std::io::BufRead as _;
use std::process::{Command, Stdio};

use crate::common::Client;

/// The binary prints exactly one `LISTENING` line and serves with the given credentials.
#[tokio::test]
async fn binary_prints_listening_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_contree-mock"))
        .args([
            "--port",
            "0",
            "--token",
            "bin-token",
            "--project",
            "bin-project",
        ])
        .args(["--latency", "0", "--seed", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .strip_prefix("LISTENING ")
        .expect("LISTENING line")
        .trim()
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    let c = Client {
        addr: base.trim_start_matches("http://").to_string(),
        prefix: String::new(),
        token: Some("bin-token".into()),
        project: Some("bin-project".into()),
        gzip: false,
    };
    c.get("/whoami").await.expect(200, "WhoAmIResponse");
    let mut wrong = c.clone();
    wrong.token = Some("test-token".into());
    wrong.get("/whoami").await.expect_error(401);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn help_lists_every_flag_the_contract_and_the_control_endpoints() {
    for flag in ["--help", "-h"] {
        let out = Command::new(env!("CARGO_BIN_EXE_contree-mock"))
            .arg(flag)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [
            "--port N",
            "--token T",
            "--project P",
            "--no-project",
            "--latency MS",
            "--seed N",
            "--prefix PATH",
            "--profile P",
            "--tls",
            "--cert-out PATH",
            "--max-concurrent-streams N",
            "(default 0: any free port)",
            "(default 5)",
            contree_mock::DEFAULT_TOKEN,
            contree_mock::DEFAULT_PROJECT,
            "LISTENING http://127.0.0.1:PORT",
            "POST   /_mock/faults",
            "DELETE /_mock/faults",
            "GET    /_mock/counters",
            "GET    /_mock/timings",
        ] {
            assert!(text.contains(needle), "--help lacks {needle:?}:\n{text}");
        }
    }
}

#[test]
fn binary_rejects_bad_arguments() {
    let out = Command::new(env!("CARGO_BIN_EXE_contree-mock"))
        .args(["--port", "not-a-number"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--port"));
}

/// `start_blocking` serves from its own runtime thread, usable without any async runtime.
#[test]
fn blocking_server_serves_without_a_runtime() {
    use std::io::{Read as _, Write as _};
    let server = contree_mock::MockServer::start_blocking();
    let mut tcp = std::net::TcpStream::connect(server.addr()).unwrap();
    write!(
        tcp,
        "GET /v1/whoami HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\nproject: {}\r\nconnection: close\r\n\r\n",
        server.token(),
        server.project().unwrap()
    )
    .unwrap();
    let mut resp = String::new();
    tcp.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"permissions\""), "{resp}");
    assert_eq!(server.request_count("whoAmI"), 1);
    drop(server);
}
