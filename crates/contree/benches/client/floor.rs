//! The floor: the same HTTP exchanges as an SDK run, written directly against hyper with no
//! SDK code (spawn, follow the events until `completion`, get the operation). Same headers
//! as the SDK (bearer, project, `Accept-Encoding: gzip`, but `identity` for the event stream),
//! so the server does the same work.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;

use crate::{Args, cpu_us, micros, rss_kib};

struct Floor {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: String,
    project: String,
    spawn_body: Bytes,
    expect: String,
    /// How many `425 Too Early` answers the events request got.
    too_early: AtomicU64,
}

fn gunzip_if(gz: bool, body: Bytes) -> Result<Vec<u8>, String> {
    if !gz {
        return Ok(body.to_vec());
    }
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut out)
        .map_err(|e| format!("gunzip: {e}"))?;
    Ok(out)
}

fn is_gzip(h: &http::HeaderMap) -> bool {
    h.get(http::header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

impl Floor {
    fn new(args: &Args) -> Result<Self, String> {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let script = args.str_or("script", "echo hello");
        let spawn_body = serde_json::to_vec(&json!({
            "command": script,
            "image": args.str("image")?,
            "shell": true,
            "timeout": 600,
            "disposable": false,
        }))
        .map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            base: format!("{}/v1", args.str("base")?.trim_end_matches('/')),
            auth: format!("Bearer {}", args.str("token")?),
            project: args.str("project")?.to_string(),
            spawn_body: Bytes::from(spawn_body),
            expect: args.str_or("expect", "hello\n").to_string(),
            too_early: AtomicU64::new(0),
        })
    }

    fn request(&self, method: http::Method, path: &str) -> http::request::Builder {
        self.request_with(method, path, "gzip")
    }

    fn request_with(
        &self,
        method: http::Method,
        path: &str,
        accept_encoding: &'static str,
    ) -> http::request::Builder {
        http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(http::header::AUTHORIZATION, &self.auth)
            .header("project", &self.project)
            .header(http::header::USER_AGENT, "contree-bench-floor/0")
            .header(http::header::ACCEPT_ENCODING, accept_encoding)
    }

    async fn buffered(&self, req: http::Request<Full<Bytes>>) -> Result<Vec<u8>, String> {
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let status = resp.status();
        let gz = is_gzip(resp.headers());
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        gunzip_if(gz, body)
    }

    async fn run(&self) -> Result<String, String> {
        // 1. spawn
        let req = self
            .request(http::Method::POST, "/instances")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(self.spawn_body.clone()))
            .map_err(|e| e.to_string())?;
        let body = self.buffered(req).await?;
        #[derive(serde::Deserialize)]
        struct Spawned {
            uuid: String,
        }
        let op: Spawned = serde_json::from_slice(&body).map_err(|e| format!("spawn: {e}"))?;

        // 2. follow the events until `completion`
        // Like the SDK: a 425 (events not yet available) is asked again on the transport's
        // short schedule (`TooEarly`: 50 ms, then 50–100 ms apart, never past `Retry-After`).
        let mut too_early = contree_transport::retry::TooEarly::default();
        let resp = loop {
            // As the SDK asks for event streams: uncompressed (no inflate state per stream).
            let req = self
                .request_with(
                    http::Method::GET,
                    &format!("/operations/{}/events?follow=1", op.uuid),
                    "identity",
                )
                .header(http::header::ACCEPT, "text/event-stream")
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| format!("events: {e}"))?;
            if resp.status().as_u16() == 425 {
                let wait = resp
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1);
                let _ = resp.into_body().collect().await;
                self.too_early.fetch_add(1, Ordering::Relaxed);
                let delay = too_early.next_delay(Some(Duration::from_secs(wait)));
                tokio::time::sleep(delay).await;
                continue;
            }
            if !resp.status().is_success() {
                return Err(format!("events: HTTP {}", resp.status()));
            }
            break resp;
        };
        let mut gz = is_gzip(resp.headers()).then(|| flate2::write::GzDecoder::new(Vec::new()));
        let mut body = resp.into_body().into_data_stream();
        let mut window: Vec<u8> = Vec::new();
        let needle = b"event: completion";
        let mut done = false;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("events body: {e}"))?;
            let text: Vec<u8> = match gz.as_mut() {
                Some(d) => {
                    d.write_all(&chunk).map_err(|e| format!("gunzip: {e}"))?;
                    std::mem::take(d.get_mut())
                }
                None => chunk.to_vec(),
            };
            window.extend_from_slice(&text);
            if window.windows(needle.len()).any(|w| w == needle) {
                done = true;
                break;
            }
            let keep = window.len().saturating_sub(needle.len());
            window.drain(..keep);
        }
        if !done {
            return Err("the event stream ended without completion".into());
        }
        drop(body);

        // 3. get the operation
        let req = self
            .request(http::Method::GET, &format!("/operations/{}", op.uuid))
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        let body = self.buffered(req).await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("operation: {e}"))?;
        let status = v["status"].as_str().unwrap_or("");
        let stdout = &v["metadata"]["result"]["stdout"]["value"];
        if !status.eq_ignore_ascii_case("success") || stdout.as_str() != Some(self.expect.as_str())
        {
            return Err(format!(
                "unexpected operation: status {status:?} stdout {stdout}"
            ));
        }
        Ok(op.uuid)
    }
}

/// Scenario 1 floor: sequential runs.
pub(crate) async fn seq(args: &Args) -> Result<String, String> {
    let f = Floor::new(args)?;
    for _ in 0..args.num("warmup", 5)? {
        f.run().await?;
    }
    let n = args.num("n", 100)?;
    let mut lat = Vec::with_capacity(n as usize);
    let mut ops = Vec::with_capacity(n as usize);
    let cpu_before = cpu_us();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        let op = f.run().await?;
        lat.push(micros(t.elapsed()));
        ops.push(json!({"op": op, "at": crate::unix_us()}));
    }
    let total = micros(started.elapsed());
    let (hwm, rss) = rss_kib();
    Ok(json!({
        "latencies_us": lat,
        "ops": ops,
        "total_us": total,
        "hwm_kib": hwm,
        "rss_kib": rss,
        "cpu_us": cpu_us().saturating_sub(cpu_before),
        "too_early_425": f.too_early.load(Ordering::Relaxed),
    })
    .to_string())
}

/// Scenario 2 floor: concurrent fan-out.
pub(crate) async fn fanout(args: &Args) -> Result<String, String> {
    let f = Arc::new(Floor::new(args)?);
    for _ in 0..args.num("warmup", 5)? {
        f.run().await?;
    }
    let n = args.num("n", 1000)?;
    let conc = args.num("concurrency", 64)? as usize;
    let (_, baseline_rss) = rss_kib();
    let started = Instant::now();
    let results: Vec<Result<u64, String>> = futures_util::stream::iter(0..n)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                f.run().await?;
                Ok::<_, String>(micros(t.elapsed()))
            })
        })
        .buffer_unordered(conc)
        .map(|j| j.unwrap_or_else(|e| Err(format!("task failed: {e}"))))
        .collect()
        .await;
    let wall = micros(started.elapsed());
    let (hwm, rss) = rss_kib();
    let errors = results.iter().filter(|r| r.is_err()).count();
    let first_error = results.iter().find_map(|r| r.as_ref().err().cloned());
    let lat: Vec<u64> = results.into_iter().filter_map(Result::ok).collect();
    Ok(json!({
        "latencies_us": lat,
        "wall_us": wall,
        "errors": errors,
        "first_error": first_error,
        "hwm_kib": hwm,
        "rss_kib": rss,
        "baseline_rss_kib": baseline_rss,
        "too_early_425": f.too_early.load(Ordering::Relaxed),
    })
    .to_string())
}
