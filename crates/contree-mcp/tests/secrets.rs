//! Registry credentials against a fake loopback registry, and no token in any output or
//! log (the server runs at trace level over HTTP; its stderr is searched).

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::{World, call, fails, ok};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const REGISTRY_TOKEN: &str = "reg-secret-7c1f";

/// A registry that answers `/v2/` with a Bearer challenge naming its `/token` endpoint,
/// which accepts `user`/`REGISTRY_TOKEN` only. Returns its `host:port`.
async fn fake_registry() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("user:{REGISTRY_TOKEN}"))
    );
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let good = good.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&buf).to_string();
                let path = req.split_whitespace().nth(1).unwrap_or("").to_string();
                let authorized = req.lines().any(|l| {
                    l.to_ascii_lowercase().starts_with("authorization:") && l[14..].trim() == good
                });
                let resp = if path == "/v2/" {
                    format!(
                        "HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer realm=\"http://{addr}/token\",service=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else if path.starts_with("/token?service=fake") && authorized {
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
                        .to_string()
                } else {
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                        .to_string()
                };
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_auth_validates_and_import_uses_the_credentials() {
    let w = World::new().await;
    let (c, _) = w.stdio().await;
    let host = fake_registry().await;
    let image = format!("docker://{host}/team/app:1");

    let refused = fails(&c, "import_image", json!({"registry_url": image})).await;
    assert!(
        refused.contains(&format!("Not authenticated with '{host}'")),
        "{refused}"
    );

    let bad = ok(
        &c,
        "registry_auth",
        json!({"registry_url": image, "username": "user", "token": "wrong"}),
    )
    .await;
    assert_eq!(bad["status"], "error", "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("401"), "{bad}");

    let good = ok(
        &c,
        "registry_auth",
        json!({"registry_url": image, "username": "user", "token": REGISTRY_TOKEN}),
    )
    .await;
    assert_eq!(good["status"], "ok", "{good}");
    assert_eq!(good["registry"], host);
    assert!(!good.to_string().contains(REGISTRY_TOKEN));

    // With credentials kept, the import goes ahead without the anonymous opt-in.
    let (_, v) = call(&c, "import_image", json!({"registry_url": image})).await;
    assert!(!v.to_string().contains("Not authenticated"), "{v}");
    assert!(!v.to_string().contains(REGISTRY_TOKEN), "{v}");
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_in_outputs_or_trace_logs() {
    let w = World::new().await;
    let host = fake_registry().await;
    let log = Arc::new(Mutex::new(String::new()));
    let (c, _rec, child, _url) = w.http_logged(&["--log-level", "trace"], log.clone()).await;
    let mut outputs = String::new();
    for (tool, args) in [
        ("whoami", json!({})),
        (
            "registry_auth",
            json!({"registry_url": host, "username": "user", "token": REGISTRY_TOKEN}),
        ),
        (
            "run",
            json!({"image": "ubuntu:latest", "command": "echo hi"}),
        ),
        ("list_images", json!({})),
        (
            "import_image",
            json!({"registry_url": format!("docker://{host}/x:1")}),
        ),
        (
            "read_file",
            json!({"image": "ubuntu:latest", "path": "/missing"}),
        ),
    ] {
        let (_, v) = call(&c, tool, args).await;
        outputs.push_str(&v.to_string());
    }
    c.cancel().await.unwrap();
    drop(child);
    let logs = log.lock().unwrap().clone();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "the server logged at trace level"
    );
    for secret in [w.mock.token(), REGISTRY_TOKEN] {
        assert!(!outputs.contains(secret), "`{secret}` in tool output");
        assert!(!logs.contains(secret), "`{secret}` in the server's log");
    }
}
