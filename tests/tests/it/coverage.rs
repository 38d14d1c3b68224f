//! Operation coverage: one mock server, one scenario per capability of the SDK (client,
//! images, files, runs, inspect, live output, processes, operations), then every operation
//! of `contree_proto::OPERATIONS` must have been requested at least once (the mock's
//! per-operation counters). Self-contained: it does not depend on other test binaries or
//! on test order.

use std::time::Duration;

use bytes::Bytes;
use contree::Signal;
use contree_integration_tests::setup_local;
use contree_mock::MockServer;
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends one raw HTTP/1.1 request and returns the status code. Used only for the three
/// operations the facade deliberately does not expose: the two 307 `/inspect` redirects
/// (which the official client does not implement either) and `HEAD …/download`
/// (`Image::exists` answers the same question with `HEAD …/archive`).
async fn raw_status(base_url: &str, token: &str, project: &str, method: &str, path: &str) -> u16 {
    let host = base_url.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nProject: {project}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp).await.unwrap();
    let head = String::from_utf8_lossy(&resp);
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_operation_of_the_api_is_called() {
    let env = setup_local(MockServer::builder()).await;
    let c = &env.contree;
    let server = env.server();

    // Client.
    c.whoami().await.unwrap();

    // Images: list, strict get by tag (302), inspect, import, tag and untag.
    c.images().list().await.unwrap();
    let ubuntu = c.images().get("ubuntu:latest").await.unwrap();
    ubuntu.info().await.unwrap();
    let alpine = c.images().import("alpine:3.20").await.unwrap();
    assert!(alpine.id().is_some());

    // Files: upload (dedup lookup first), exists, get, list.
    let up = c
        .files()
        .upload(Bytes::from_static(b"payload\n"))
        .await
        .unwrap();
    assert!(c.files().exists(up.sha256()).await.unwrap());
    assert!(c.files().get(up.sha256()).await.unwrap().is_some());
    let files: Vec<_> = c.files().list().stream().try_collect().await.unwrap();
    assert!(!files.is_empty());

    // Runs (spawn, events, status) with a placed file.
    let out = ubuntu
        .shell("cat /data/payload > /copy; echo hello")
        .file("/data/payload", up.clone())
        .await
        .unwrap();
    let img = out.image().unwrap().clone();
    let tagged = img.tag_as("coverage:1").await.unwrap();
    tagged.untag("coverage:1").await.unwrap();

    // Inspect: ls, read (download), archive, exists (HEAD archive), grep.
    assert!(!img.ls("/").await.unwrap().is_empty());
    assert_eq!(&img.read("/copy").await.unwrap()[..], b"payload\n");
    assert!(
        !img.archive("/data")
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .is_empty()
    );
    assert!(img.exists("/copy").await.unwrap());
    img.grep("payload").path("/data").await.unwrap();

    // Live output and operations: stream, list, get, cancel.
    let mut s = img.shell("echo live").stream();
    while let Some(ev) = s.next().await {
        ev.unwrap();
    }
    c.operations().list().await.unwrap();
    let long = img.shell("sleep 100").start().await.unwrap();
    c.operations().get(long.operation_id()).await.unwrap();

    // Processes: spawn (stdin), exec (create + get), kill.
    let mut cat = img.run("cat").spawn().await.unwrap();
    let stdin = cat.stdin().unwrap();
    stdin.send("x\n").await.unwrap();
    stdin.close().await.unwrap();
    cat.wait().await.unwrap();
    let sleeper = img.shell("sleep 100").spawn().await.unwrap();
    sleeper.exec("echo sub").await.unwrap();
    sleeper.kill(Signal::Kill).await.unwrap();
    sleeper.wait().await.unwrap();
    long.cancel().await.unwrap();

    // The three operations the facade does not expose, called raw.
    let uuid = img.id().unwrap();
    let (tok, proj) = (server.token(), server.project().unwrap_or(""));
    let base = &env.base_url;
    let head = raw_status(
        base,
        tok,
        proj,
        "HEAD",
        &format!("/v1/inspect/{uuid}/download?path=/copy"),
    )
    .await;
    assert_eq!(head, 200);
    assert_eq!(raw_status(base, tok, proj, "GET", "/v1/inspect").await, 307);
    assert_eq!(
        raw_status(base, tok, proj, "GET", &format!("/v1/inspect/{uuid}")).await,
        307
    );

    // Give in-flight background requests (process followers) a moment to land.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let missing: Vec<&str> = contree_proto::OPERATIONS
        .iter()
        .map(|op| op.id)
        .filter(|id| server.request_count(id) == 0)
        .collect();
    assert_eq!(contree_proto::OPERATIONS.len(), 28);
    assert!(
        missing.is_empty(),
        "operations no test scenario called: {missing:?} (counters: {:?})",
        server.counters()
    );
}
