//! A scripted raw HTTP/1.1 test server: each request pops the next scripted action.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contree_auth::{Credentials, ProvideCredentials, SecretToken, StaticProvider};
use contree_transport::{RetryConfig, Timeouts, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub mod tls;

pub const TOKEN: &str = "tok-SECRET-4f9a1c";

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Action {
    /// A complete response with Content-Length.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// A chunked response; after the chunks: finish, drop the connection, or stall.
    Chunked {
        status: u16,
        headers: Vec<(String, String)>,
        chunks: Vec<Vec<u8>>,
        end: End,
    },
    /// Close the connection without answering (after reading the request).
    Drop,
    /// Never answer.
    Stall,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Finish,
    Drop,
    Stall,
}

impl Action {
    pub fn status(status: u16) -> Self {
        Action::Respond {
            status,
            headers: vec![],
            body: vec![],
        }
    }
    pub fn json(status: u16, body: &str) -> Self {
        Action::Respond {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.as_bytes().to_vec(),
        }
    }
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        match &mut self {
            Action::Respond { headers, .. } | Action::Chunked { headers, .. } => {
                headers.push((name.into(), value.into()))
            }
            _ => {}
        }
        self
    }
    pub fn sse(chunks: Vec<Vec<u8>>, end: End) -> Self {
        Action::Chunked {
            status: 200,
            headers: vec![("Content-Type".into(), "text/event-stream".into())],
            chunks,
            end,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When the request head had arrived.
    pub at: std::time::Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    actions: VecDeque<Action>,
    requests: Vec<Recorded>,
}

pub struct TestServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    closed: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start(actions: Vec<Action>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            actions: actions.into(),
            requests: vec![],
        }));
        let closed = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (st, cl, acc) = (state.clone(), closed.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                acc.fetch_add(1, Ordering::SeqCst);
                let (st, cl) = (st.clone(), cl.clone());
                tokio::spawn(async move {
                    serve(sock, st).await;
                    cl.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            state,
            closed,
            accepted,
            task,
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn push(&self, action: Action) {
        self.state.lock().unwrap().actions.push_back(action);
    }

    /// Connections the server accepted.
    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections the server saw closed (by either side).
    pub fn closed_connections(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

async fn read_request(sock: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Recorded> {
    let head_end = loop {
        if let Some(p) = find(buf, b"\r\n\r\n") {
            break p;
        }
        let mut tmp = [0u8; 4096];
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let at = std::time::Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split(' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < len {
            let mut tmp = [0u8; 4096];
            let n = sock.read(&mut tmp).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&tmp[..n]);
        }
        body = buf.drain(..len).collect();
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let line_end = loop {
                if let Some(p) = find(buf, b"\r\n") {
                    break p;
                }
                let mut tmp = [0u8; 4096];
                let n = sock.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            };
            let size_line = String::from_utf8_lossy(&buf[..line_end]).to_string();
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                let mut tmp = [0u8; 4096];
                let n = sock.read(&mut tmp).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
    }
    Some(Recorded {
        method,
        target,
        headers,
        body,
        at,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        302 => "Found",
        401 => "Unauthorized",
        404 => "Not Found",
        410 => "Gone",
        425 => "Too Early",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

async fn wait_for_close(sock: &mut TcpStream) {
    let mut tmp = [0u8; 1024];
    loop {
        match sock.read(&mut tmp).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

async fn serve(mut sock: TcpStream, state: Arc<Mutex<State>>) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut sock, &mut buf).await else {
            return;
        };
        let action = {
            let mut st = state.lock().unwrap();
            st.requests.push(req);
            st.actions.pop_front()
        };
        let action =
            action.unwrap_or_else(|| Action::json(599, r#"{"error":"no scripted response"}"#));
        match action {
            Action::Respond {
                status,
                headers,
                body,
            } => {
                let mut out = Vec::new();
                write!(out, "HTTP/1.1 {status} {}\r\n", reason(status)).unwrap();
                for (n, v) in &headers {
                    write!(out, "{n}: {v}\r\n").unwrap();
                }
                write!(out, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
                out.extend_from_slice(&body);
                if sock.write_all(&out).await.is_err() {
                    return;
                }
            }
            Action::Chunked {
                status,
                headers,
                chunks,
                end,
            } => {
                let mut out = Vec::new();
                write!(out, "HTTP/1.1 {status} {}\r\n", reason(status)).unwrap();
                for (n, v) in &headers {
                    write!(out, "{n}: {v}\r\n").unwrap();
                }
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                if sock.write_all(&out).await.is_err() {
                    return;
                }
                for c in chunks {
                    let mut out = format!("{:x}\r\n", c.len()).into_bytes();
                    out.extend_from_slice(&c);
                    out.extend_from_slice(b"\r\n");
                    if sock.write_all(&out).await.is_err() {
                        return;
                    }
                    let _ = sock.flush().await;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                match end {
                    End::Finish => {
                        if sock.write_all(b"0\r\n\r\n").await.is_err() {
                            return;
                        }
                    }
                    End::Drop => return,
                    End::Stall => {
                        wait_for_close(&mut sock).await;
                        return;
                    }
                }
            }
            Action::Drop => return,
            Action::Stall => {
                wait_for_close(&mut sock).await;
                return;
            }
        }
    }
}

/// One SSE frame as the service writes it.
pub fn frame(id: u64, event: &str) -> Vec<u8> {
    format!("id: {id}\nevent: {event}\ndata: {{\"id\":{id},\"type\":\"{event}\"}}\n\n").into_bytes()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn creds(base: &str) -> Credentials {
    Credentials::builder(SecretToken::new(TOKEN))
        .project("proj-1")
        .base_url(base)
        .build()
        .unwrap()
}

pub fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(5),
        max_stream_reconnects: 5,
    }
}

pub fn transport(base: &str) -> Transport {
    transport_with(Arc::new(StaticProvider::new(creds(base))))
}

/// A provider that hands out the same credentials as [`StaticProvider`] but does not say it is
/// static, so the transport refreshes it after a 401.
#[derive(Debug)]
pub struct Refreshing(pub StaticProvider);

#[async_trait::async_trait]
impl ProvideCredentials for Refreshing {
    async fn provide_credentials(&self) -> Result<Credentials, contree_auth::Error> {
        self.0.provide_credentials().await
    }
}

/// [`transport`] with another credentials provider.
pub fn transport_with(provider: Arc<dyn ProvideCredentials>) -> Transport {
    Transport::builder()
        .credentials(provider)
        .retry(fast_retry())
        .timeouts(Timeouts {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(5),
            read_idle: Some(Duration::from_secs(5)),
            operation: None,
        })
        .build()
        .unwrap()
}

pub mod ops {
    use contree_proto::OperationMeta;
    use http::Method;

    pub static WHOAMI: OperationMeta = OperationMeta {
        id: "whoAmI",
        method: Method::GET,
        path: "/whoami",
        success: &[200],
        idempotent: true,
        streaming: false,
    };
    pub static SPAWN: OperationMeta = OperationMeta {
        id: "spawnInstance",
        method: Method::POST,
        path: "/instances",
        success: &[201],
        idempotent: false,
        streaming: false,
    };
    pub static FIND_BY_TAG: OperationMeta = OperationMeta {
        id: "inspectFindImageByTag",
        method: Method::GET,
        path: "/inspect/",
        success: &[302],
        idempotent: true,
        streaming: false,
    };
    pub static GET_FILE: OperationMeta = OperationMeta {
        id: "getFile",
        method: Method::GET,
        path: "/files/{sha256}",
        success: &[200],
        idempotent: true,
        streaming: true,
    };
    pub static UPLOAD: OperationMeta = OperationMeta {
        id: "uploadFile",
        method: Method::POST,
        path: "/files",
        success: &[200, 201],
        idempotent: false,
        streaming: false,
    };
}
