//! A tiny raw HTTP/1.1 client for driving the mock (deliberately not the SDK).

use std::io::Read as _;
use std::io::Write as _;
use std::time::Duration;

use bytes::Bytes;
use contree_mock::MockServer;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::schema;

/// A finished response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body, gunzipped if it was gzip-encoded.
    pub body: Bytes,
    pub was_gzip: bool,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// Asserts the status and that an error body matches the `Error` schema.
    pub fn expect_error(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        let v = self.json();
        schema::validate("Error", &v);
        v
    }

    /// Asserts the status and validates the JSON body against a component schema.
    pub fn expect(&self, status: u16, schema_name: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        let v = self.json();
        schema::validate(schema_name, &v);
        v
    }
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct Client {
    pub addr: String,
    pub prefix: String,
    pub token: Option<String>,
    pub project: Option<String>,
    pub gzip: bool,
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

impl Client {
    pub fn new(server: &MockServer) -> Self {
        let base = server.base_url().trim_start_matches("http://");
        let (addr, prefix) = match base.find('/') {
            Some(i) => (base[..i].to_string(), base[i..].to_string()),
            None => (base.to_string(), String::new()),
        };
        Self {
            addr,
            prefix,
            token: Some(server.token().to_string()),
            project: server.project().map(str::to_string),
            gzip: false,
        }
    }

    pub fn gzip(mut self) -> Self {
        self.gzip = true;
        self
    }

    /// Opens a request and returns the response head with the unread body.
    pub async fn open(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> hyper::Response<Incoming> {
        let stream = TcpStream::connect(&self.addr)
            .await
            .expect("connect to the mock");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let uri = if path.starts_with("/_mock") {
            path.to_string()
        } else {
            format!("{}/v1{}", self.prefix, path)
        };
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("host", &self.addr);
        if let Some(t) = &self.token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(p) = &self.project {
            req = req.header("project", p);
        }
        if self.gzip {
            req = req.header("accept-encoding", "gzip");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body.unwrap_or_default()))
            .expect("valid request");
        sender.send_request(req).await.expect("response head")
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Reply {
        let resp = tokio::time::timeout(Duration::from_secs(20), async {
            let resp = self.open(method, path, headers, body).await;
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await.expect("full body").to_bytes();
            (parts, bytes)
        })
        .await
        .expect("the request finished within 20 s");
        let (parts, raw) = resp;
        let was_gzip = parts
            .headers
            .get("content-encoding")
            .is_some_and(|v| v == "gzip");
        let body = if was_gzip {
            Bytes::from(gunzip(&raw))
        } else {
            raw
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            was_gzip,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], None).await
    }

    pub async fn head(&self, path: &str) -> Reply {
        self.send("HEAD", path, &[], None).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, &[], None).await
    }

    pub async fn post_json(&self, path: &str, v: Value) -> Reply {
        self.send(
            "POST",
            path,
            &[("content-type", "application/json")],
            Some(Bytes::from(v.to_string())),
        )
        .await
    }

    pub async fn patch_json(&self, path: &str, v: Value) -> Reply {
        self.send(
            "PATCH",
            path,
            &[("content-type", "application/json")],
            Some(Bytes::from(v.to_string())),
        )
        .await
    }

    /// Spawns and returns the operation id (asserting 201 + Location + schema).
    pub async fn spawn(&self, body: Value) -> String {
        let r = self.post_json("/instances", body).await;
        let v = r.expect(201, "InstanceSpawnResponse");
        let id = v["uuid"].as_str().expect("uuid").to_string();
        assert_eq!(
            r.header("location").as_deref(),
            Some(format!("/v1/operations/{id}").as_str())
        );
        id
    }

    /// Spawns a shell command on busybox.
    pub async fn run(&self, cmd: &str) -> String {
        self.spawn(json!({"command": cmd, "image": "tag:busybox:latest", "shell": true}))
            .await
    }

    /// Polls until the operation is terminal; returns the validated `OperationResponse`.
    pub async fn wait(&self, op: &str) -> Value {
        let fut = async {
            loop {
                let r = self.get(&format!("/operations/{op}")).await;
                let v = r.expect(200, "OperationResponse");
                schema::operation(&v);
                assert_eq!(r.header("retry-after").as_deref(), Some("1"));
                if matches!(
                    v["status"].as_str(),
                    Some("SUCCESS" | "FAILED" | "CANCELLED")
                ) {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .expect("the operation finished within 20 s")
    }

    /// Waits until the operation reaches `status`.
    pub async fn wait_status(&self, op: &str, status: &str) {
        let fut = async {
            loop {
                let v = self.get(&format!("/operations/{op}")).await.json();
                if v["status"] == status {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), fut)
            .await
            .unwrap_or_else(|_| panic!("operation {op} never reached {status}"));
    }

    /// GET /events (not following) → validated events.
    pub async fn events(&self, op: &str, query: &str) -> Vec<Value> {
        let r = self.get(&format!("/operations/{op}/events{query}")).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("text/event-stream")
        );
        assert_eq!(r.header("cache-control").as_deref(), Some("no-cache"));
        parse_sse(&r.text())
            .into_iter()
            .filter_map(|f| f.data_json)
            .collect()
    }
}

/// One parsed SSE frame.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    pub id: Option<u64>,
    pub event: Option<String>,
    pub data: String,
    pub data_json: Option<Value>,
    pub comment: Option<String>,
}

/// Parses a complete SSE text; validates every event frame against `OperationEvent`.
pub fn parse_sse(text: &str) -> Vec<Frame> {
    let mut out = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.is_empty()) {
        let mut f = Frame::default();
        for line in block.lines() {
            if let Some(c) = line.strip_prefix(':') {
                f.comment = Some(c.trim().to_string());
            } else if let Some(v) = line.strip_prefix("id: ") {
                f.id = Some(v.parse().expect("integer id"));
            } else if let Some(v) = line.strip_prefix("event: ") {
                f.event = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("data: ") {
                f.data = v.to_string();
            }
        }
        if f.event.as_deref().is_some_and(|e| e != "sse_error") {
            let v: Value = serde_json::from_str(&f.data).expect("event data is JSON");
            schema::event(&v);
            assert_eq!(
                Some(v["id"].as_u64().unwrap()),
                f.id,
                "id: line equals data.id"
            );
            assert_eq!(
                v["type"].as_str(),
                f.event.as_deref(),
                "event: line equals data.type"
            );
            f.data_json = Some(v);
        }
        out.push(f);
    }
    out
}

/// Reads a streamed SSE body incrementally (gunzipping on the fly).
pub struct SseReader {
    body: Incoming,
    gz: Option<flate2::write::GzDecoder<Vec<u8>>>,
    buf: String,
    pub ended: bool,
    pub broken: bool,
}

impl SseReader {
    pub fn new(resp: hyper::Response<Incoming>) -> Self {
        let gz = resp
            .headers()
            .get("content-encoding")
            .is_some_and(|v| v == "gzip")
            .then(|| flate2::write::GzDecoder::new(Vec::new()));
        Self {
            body: resp.into_body(),
            gz,
            buf: String::new(),
            ended: false,
            broken: false,
        }
    }

    /// The next complete frame (`None` at the end of the stream).
    pub async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..i + 2).collect();
                return parse_sse(&block).into_iter().next();
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(Duration::from_secs(20), self.body.frame()).await {
                Err(_) => panic!("no SSE data within 20 s"),
                Ok(None) => self.ended = true,
                Ok(Some(Err(_))) => {
                    self.ended = true;
                    self.broken = true;
                }
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        let plain = match &mut self.gz {
                            Some(gz) => {
                                gz.write_all(&data).expect("gzip chunk");
                                gz.flush().expect("gzip flush");
                                std::mem::take(gz.get_mut())
                            }
                            None => data.to_vec(),
                        };
                        self.buf.push_str(&String::from_utf8_lossy(&plain));
                    }
                }
            }
        }
    }
}

/// A zero-latency server and a client for it.
pub async fn setup() -> (MockServer, Client) {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .seed(42)
        .start()
        .await;
    let client = Client::new(&server);
    (server, client)
}
