//! Startup and zero-latency spawn-and-wait round trip of the mock server.
//!
//! `cargo bench -p contree-mock` (or `cargo xtask bench`). Prints min / median / p95; no
//! assertions (timings are reported, never tested).

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{name:<44} n={:<4} min={:>9.3?} median={:>9.3?} p95={:>9.3?}",
        v.len(),
        v[0],
        pct(0.5),
        pct(0.95)
    );
}

fn binary_startup() -> Duration {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_contree-mock"))
        .args(["--port", "0", "--latency", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the binary");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("LISTENING line");
    let took = started.elapsed();
    assert!(line.starts_with("LISTENING http://127.0.0.1:"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
    took
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    host: &str,
    method: &str,
    path: &str,
    body: &str,
) -> Bytes {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("authorization", "Bearer test-token")
        .header("project", "test-project")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("request");
    sender.ready().await.expect("connection ready");
    let resp = sender.send_request(req).await.expect("response");
    resp.into_body().collect().await.expect("body").to_bytes()
}

/// POST /v1/instances, then follow the event stream until `completion`.
async fn spawn_and_wait(sender: &mut SendRequest<Full<Bytes>>, host: &str) -> Duration {
    let started = Instant::now();
    let body = send(
        sender,
        host,
        "POST",
        "/v1/instances",
        r#"{"command":"echo hi","image":"tag:busybox:latest","shell":true}"#,
    )
    .await;
    let v: serde_json::Value = serde_json::from_slice(&body).expect("spawn JSON");
    let op = v["uuid"].as_str().expect("uuid");
    let events = send(
        sender,
        host,
        "GET",
        &format!("/v1/operations/{op}/events?follow=1"),
        "",
    )
    .await;
    let took = started.elapsed();
    assert!(
        String::from_utf8_lossy(&events).contains("event: completion"),
        "the stream ends with completion"
    );
    took
}

fn main() {
    let startups: Vec<Duration> = (0..10).map(|_| binary_startup()).collect();
    stats("binary start (spawn → LISTENING line)", startups);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut inproc = Vec::new();
        for _ in 0..20 {
            let t = Instant::now();
            let s = contree_mock::MockServer::builder()
                .latency(Duration::ZERO)
                .start()
                .await;
            inproc.push(t.elapsed());
            s.shutdown().await;
        }
        stats("in-process MockServer::start", inproc);

        let server = contree_mock::MockServer::builder()
            .latency(Duration::ZERO)
            .start()
            .await;
        let host = server.addr().to_string();
        let tcp = tokio::net::TcpStream::connect(&host)
            .await
            .expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        for _ in 0..20 {
            spawn_and_wait(&mut sender, &host).await;
        }
        let mut rounds = Vec::new();
        for _ in 0..300 {
            rounds.push(spawn_and_wait(&mut sender, &host).await);
        }
        stats("spawn-and-wait round trip (zero latency)", rounds);
        server.shutdown().await;
    });
}
