//! `send` / `send_streaming` against a scripted HTTP server.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use contree_auth::{Credentials, ProvideCredentials, SecretToken};
use contree_transport::{
    Body, ErrorKind, Progress, RequestOptions, RetryConfig, Timeouts, Transport,
};
use futures_util::StreamExt;
use http::Request;
use support::{Action, End, TestServer, gzip, ops, transport};
use tokio::io::AsyncReadExt;

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn spawn_req() -> Request<Body> {
    Request::post("/instances")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"command":"echo hi"}"#))
        .unwrap()
}

#[tokio::test]
async fn n_503_then_success_on_idempotent_get() {
    let srv = TestServer::start(vec![
        Action::status(503),
        Action::json(503, r#"{"error":"busy"}"#),
        Action::status(503),
        Action::json(200, r#"{"ok":true}"#),
    ])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.body().as_ref(), br#"{"ok":true}"#);
    assert_eq!(srv.requests().len(), 4);
}

#[tokio::test]
async fn retries_stop_at_max_attempts_with_a_clear_error() {
    let srv = TestServer::start(vec![
        Action::json(503, r#"{"error":"busy 1"}"#),
        Action::json(503, r#"{"error":"busy 2"}"#),
        Action::json(503, r#"{"error":"busy 3"}"#),
        Action::json(503, r#"{"error":"busy 4"}"#),
        Action::json(200, "{}"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(err.api_message(), Some("busy 4"));
    assert_eq!(err.attempts(), 4);
    assert!(err.is_retryable());
    let msg = err.to_string();
    for part in ["GET", "/whoami", "whoAmI", "503", "busy 4", "4 attempts"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    assert_eq!(srv.requests().len(), 4);
}

#[tokio::test]
async fn post_429_with_retry_after_is_retried_and_processed_once() {
    let srv = TestServer::start(vec![
        Action::json(429, r#"{"error":"slow down"}"#).with_header("Retry-After", "1"),
        Action::json(201, r#"{"uuid":"op-1"}"#),
    ])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    // The replayed POST carries the same body (never an empty one).
    assert_eq!(reqs[0].body, reqs[1].body);
    assert_eq!(reqs[1].body, br#"{"command":"echo hi"}"#);
}

#[tokio::test]
async fn retry_after_beyond_the_cap_gives_up_with_the_hint() {
    let srv = TestServer::start(vec![
        Action::json(429, r#"{"error":"slow down"}"#).with_header("Retry-After", "3600"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let err = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert!(err.to_string().contains("retry after 3600s"), "{err}");
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn post_503_is_not_retried_but_can_be_forced_idempotent() {
    let srv = TestServer::start(vec![
        Action::status(503),
        Action::status(503),
        Action::json(201, "{}"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let err = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(503));
    assert_eq!(err.attempts(), 1);
    assert_eq!(srv.requests().len(), 1);
    let opts = RequestOptions {
        idempotent: Some(true),
        ..RequestOptions::default()
    };
    let resp = t.send(&ops::SPAWN, spawn_req(), &opts).await.unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(srv.requests().len(), 3);
}

#[tokio::test]
async fn reset_after_post_was_sent_is_not_replayed() {
    let srv = TestServer::start(vec![Action::Drop, Action::json(201, "{}")]).await;
    let t = transport(&srv.base_url());
    let err = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_eq!(err.attempts(), 1);
    let msg = err.to_string();
    assert!(msg.contains("POST /instances"), "{msg}");
    assert!(msg.contains("not replayed"), "{msg}");
    assert!(msg.contains("not idempotent"), "{msg}");
    assert_eq!(srv.requests().len(), 1, "the POST was sent exactly once");
}

#[tokio::test]
async fn reset_on_get_is_retried() {
    let srv = TestServer::start(vec![Action::Drop, Action::json(200, "{}")]).await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn incomplete_body_on_get_is_retried() {
    let srv = TestServer::start(vec![
        Action::Chunked {
            status: 200,
            headers: vec![],
            chunks: vec![b"{\"par".to_vec()],
            end: End::Drop,
        },
        Action::json(200, r#"{"whole":1}"#),
    ])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.body().as_ref(), br#"{"whole":1}"#);
}

#[tokio::test]
async fn connect_failure_is_retried_even_for_post() {
    // Reserve a port, then close it so connections are refused.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let t = transport(&base);
    let err = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_eq!(err.attempts(), 4, "connect failures are retried: {err}");
    assert!(err.to_string().contains("could not connect"), "{err}");
}

#[derive(Debug)]
struct RotatingProvider {
    calls: AtomicU64,
    refreshes: AtomicU64,
    base: String,
}

#[async_trait]
impl ProvideCredentials for RotatingProvider {
    async fn provide_credentials(&self) -> Result<Credentials, contree_auth::Error> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Credentials::builder(SecretToken::new("old-token"))
            .base_url(&self.base)
            .build()
    }
    async fn refresh_credentials(&self) -> Result<Credentials, contree_auth::Error> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Credentials::builder(SecretToken::new("new-token"))
            .base_url(&self.base)
            .build()
    }
}

#[tokio::test]
async fn a_401_refreshes_credentials_once_and_retries() {
    let srv = TestServer::start(vec![
        Action::json(401, r#"{"error":"expired"}"#),
        Action::json(201, "{}"),
        Action::json(401, r#"{"error":"expired"}"#),
        Action::json(401, r#"{"error":"still expired"}"#),
        Action::json(200, "{}"),
    ])
    .await;
    let provider = Arc::new(RotatingProvider {
        calls: AtomicU64::new(0),
        refreshes: AtomicU64::new(0),
        base: srv.base_url(),
    });
    let t = Transport::builder()
        .credentials(provider.clone())
        .retry(support::fast_retry())
        .build()
        .unwrap();
    // Even a non-idempotent POST: a 401 means it was rejected.
    let resp = t
        .send(&ops::SPAWN, spawn_req(), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    let reqs = srv.requests();
    assert_eq!(reqs[0].header("authorization"), Some("Bearer old-token"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer new-token"));

    // Twice 401 in one call: one refresh, then the error.
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(401));
    assert_eq!(err.api_message(), Some("still expired"));
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 2);
    assert_eq!(srv.requests().len(), 4);
}

#[tokio::test]
async fn headers_and_url_prefix() {
    let srv = TestServer::start(vec![Action::json(200, "{}"), Action::json(200, "{}")]).await;
    let base = format!("{}/sandboxes", srv.base_url());
    let t = Transport::builder()
        .credentials(Arc::new(contree_auth::StaticProvider::new(support::creds(
            &base,
        ))))
        .user_agent_prefix("my-agent/2.0")
        .build()
        .unwrap();
    t.send(
        &ops::WHOAMI,
        get("/images?limit=10&tag=a%20b"),
        &RequestOptions::default(),
    )
    .await
    .unwrap();
    // A base that already ends in /v1 is accepted once.
    let t2 = Transport::builder()
        .credentials(Arc::new(contree_auth::StaticProvider::new(support::creds(
            &format!("{base}/v1"),
        ))))
        .build()
        .unwrap();
    t2.send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs[0].target, "/sandboxes/v1/images?limit=10&tag=a%20b");
    assert_eq!(reqs[1].target, "/sandboxes/v1/whoami");
    let r = &reqs[0];
    assert_eq!(
        r.header("authorization"),
        Some(&*format!("Bearer {}", support::TOKEN))
    );
    assert_eq!(r.header("project"), Some("proj-1"));
    assert_eq!(r.header("accept-encoding"), Some("gzip"));
    let ua = r.header("user-agent").unwrap();
    assert!(ua.starts_with("my-agent/2.0 contree-rs/"), "{ua}");
    assert!(ua.ends_with("; rust)"), "{ua}");
    assert_eq!(r.header("accept"), None);
}

#[tokio::test]
async fn plain_http_to_a_remote_host_is_refused_without_opt_in() {
    let t = transport("http://contree.example.invalid");
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("plain http"), "{err}");
    assert_eq!(err.attempts(), 0);
    // With the opt-in the request is attempted (and fails to resolve: a connect error).
    let t = Transport::builder()
        .credentials(Arc::new(contree_auth::StaticProvider::new(support::creds(
            "http://contree.example.invalid",
        ))))
        .retry(RetryConfig::disabled())
        .allow_insecure_http(true)
        .build()
        .unwrap();
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let srv = TestServer::start(vec![
        Action::status(302).with_header("Location", "/v1/inspect/img-1/"),
        Action::status(302).with_header("Location", "/v1/elsewhere"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(
            &ops::FIND_BY_TAG,
            get("/inspect/?tag=ubuntu"),
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 302);
    assert_eq!(resp.headers()["location"], "/v1/inspect/img-1/");
    // Where 302 is not a success code, it is an error, not a redirect to follow.
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(302));
    assert!(err.to_string().contains("unexpected status"), "{err}");
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn gzip_bodies_are_decoded() {
    let payload = br#"{"hello":"world"}"#;
    let srv = TestServer::start(vec![Action::Respond {
        status: 200,
        headers: vec![("Content-Encoding".into(), "gzip".into())],
        body: gzip(payload),
    }])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.body().as_ref(), payload);
    assert!(resp.headers().get("content-encoding").is_none());
}

#[tokio::test]
async fn streamed_gzip_decodes_incrementally_and_truncation_is_an_error() {
    // A sync-flushed gzip stream: the first part must decode before the rest arrives.
    use flate2::{Compression, FlushCompress};
    let mut c = flate2::Compress::new(Compression::default(), false);
    let mut raw_deflate = Vec::new();
    let mut out = vec![0u8; 1024];
    let before = c.total_out();
    c.compress(b"first part|", &mut out, FlushCompress::Sync)
        .unwrap();
    raw_deflate.extend_from_slice(&out[..(c.total_out() - before) as usize]);
    let first_len = raw_deflate.len();
    let before = c.total_out();
    c.compress(b"second part", &mut out, FlushCompress::Finish)
        .unwrap();
    raw_deflate.extend_from_slice(&out[..(c.total_out() - before) as usize]);
    // Wrap in a gzip header and trailer.
    let header = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut crc = flate2::Crc::new();
    crc.update(b"first part|second part");
    let mut trailer = crc.sum().to_le_bytes().to_vec();
    trailer.extend_from_slice(&(22u32).to_le_bytes());
    let mut chunk1 = header.clone();
    chunk1.extend_from_slice(&raw_deflate[..first_len]);
    let chunk2 = raw_deflate[first_len..].to_vec();

    let srv = TestServer::start(vec![
        // Complete stream, but the server stalls after the first chunk until we read it.
        Action::Chunked {
            status: 200,
            headers: vec![("Content-Encoding".into(), "gzip".into())],
            chunks: vec![chunk1.clone()],
            end: End::Stall,
        },
        // Truncated: no trailer.
        Action::Chunked {
            status: 200,
            headers: vec![("Content-Encoding".into(), "gzip".into())],
            chunks: vec![chunk1.clone(), chunk2.clone()],
            end: End::Finish,
        },
        Action::Chunked {
            status: 200,
            headers: vec![("Content-Encoding".into(), "gzip".into())],
            chunks: vec![chunk1, chunk2, trailer],
            end: End::Finish,
        },
    ])
    .await;
    let t = transport(&srv.base_url());
    let resp = t
        .send_streaming(
            &ops::GET_FILE,
            get("/files/abc"),
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.next().await.unwrap().unwrap();
    assert_eq!(
        first.as_ref(),
        b"first part|",
        "decoded before the stream ended"
    );
    drop(body);

    let resp = t
        .send_streaming(
            &ops::GET_FILE,
            get("/files/abc"),
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    let err = resp.into_body().collect().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Stream, "{err}");
    assert!(err.to_string().contains("trailer"), "{err}");

    let resp = t
        .send_streaming(
            &ops::GET_FILE,
            get("/files/abc"),
            &RequestOptions::default(),
        )
        .await
        .unwrap();
    let mut s = String::new();
    resp.into_body()
        .into_async_read()
        .read_to_string(&mut s)
        .await
        .unwrap();
    assert_eq!(s, "first part|second part");
}

#[tokio::test]
async fn stalled_stream_hits_the_idle_timeout() {
    let srv = TestServer::start(vec![Action::Chunked {
        status: 200,
        headers: vec![],
        chunks: vec![b"some bytes".to_vec()],
        end: End::Stall,
    }])
    .await;
    let t = transport(&srv.base_url());
    let opts = RequestOptions {
        read_idle: Some(Some(Duration::from_millis(200))),
        ..RequestOptions::default()
    };
    let resp = t
        .send_streaming(&ops::GET_FILE, get("/files/abc"), &opts)
        .await
        .unwrap();
    let mut body = resp.into_body();
    assert_eq!(body.next().await.unwrap().unwrap().as_ref(), b"some bytes");
    let err = body.next().await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("read-idle"), "{err}");
    assert!(body.next().await.is_none(), "the body ends after an error");
}

#[tokio::test]
async fn stalled_headers_hit_the_attempt_timeout_and_the_deadline() {
    let srv = TestServer::start(vec![Action::Stall, Action::Stall, Action::Stall]).await;
    let t = transport(&srv.base_url());
    let opts = RequestOptions {
        attempt_timeout: Some(Duration::from_millis(100)),
        retry: Some(RetryConfig::disabled()),
        ..RequestOptions::default()
    };
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &opts)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");

    let opts = RequestOptions {
        operation_timeout: Some(Some(Duration::from_millis(150))),
        ..RequestOptions::default()
    };
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &opts)
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("deadline"), "{err}");
}

#[tokio::test]
async fn streaming_upload_with_progress_known_and_unknown_length() {
    let srv = TestServer::start(vec![Action::json(201, "{}"), Action::json(201, "{}")]).await;
    let t = transport(&srv.base_url());
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let s2 = seen.clone();
    let data: &'static [u8] = b"0123456789abcdef";
    let body = Body::from_reader(data, Some(16)).with_progress(move |p| s2.lock().unwrap().push(p));
    let req = Request::post("/files").body(body).unwrap();
    t.send(&ops::UPLOAD, req, &RequestOptions::default())
        .await
        .unwrap();
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(
        last,
        Progress {
            sent: 16,
            total: Some(16)
        }
    );

    let chunks = futures_util::stream::iter(vec![
        Ok::<_, std::io::Error>(Bytes::from_static(b"abc")),
        Ok(Bytes::from_static(b"def")),
    ]);
    let req = Request::post("/files")
        .body(Body::from_stream(chunks, None))
        .unwrap();
    t.send(&ops::UPLOAD, req, &RequestOptions::default())
        .await
        .unwrap();
    let reqs = srv.requests();
    assert_eq!(reqs[0].body, data);
    assert_eq!(reqs[0].header("content-length"), Some("16"));
    assert_eq!(reqs[1].body, b"abcdef");
    assert_eq!(reqs[1].header("transfer-encoding"), Some("chunked"));
}

#[tokio::test]
async fn a_consumed_stream_body_is_never_replayed_or_emptied() {
    let srv = TestServer::start(vec![
        Action::json(429, r#"{"error":"later"}"#),
        Action::json(201, "{}"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let data: &'static [u8] = b"payload";
    let req = Request::post("/files")
        .body(Body::from_reader(data, Some(7)))
        .unwrap();
    let err = t
        .send(&ops::UPLOAD, req, &RequestOptions::default())
        .await
        .unwrap_err();
    // The 429 would be retried for a bytes body, but the stream was already sent.
    assert!(err.is_status(429), "{err}");
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].body, data);
}

#[tokio::test]
async fn a_stream_body_shorter_than_declared_is_a_body_error() {
    let srv = TestServer::start(vec![Action::json(201, "{}")]).await;
    let t = transport(&srv.base_url());
    let data: &'static [u8] = b"short";
    let req = Request::post("/files")
        .body(Body::from_reader(data, Some(10)))
        .unwrap();
    let err = t
        .send(&ops::UPLOAD, req, &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Body, "{err}");
    assert!(err.to_string().contains("declared 10 bytes"), "{err}");
}

#[tokio::test]
async fn api_error_body_text_and_no_token_echo() {
    let body = format!(r#"{{"error":"bad token {}"}}"#, support::TOKEN);
    let srv = TestServer::start(vec![
        Action::json(404, r#"{"error":"image not found","traceback":["x"]}"#),
        Action::Respond {
            status: 400,
            headers: vec![],
            body: body.into_bytes(),
        },
    ])
    .await;
    let t = transport(&srv.base_url());
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.api_message(), Some("image not found"));
    assert!(!err.is_retryable());
    let err = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(!err.to_string().contains(support::TOKEN), "{err}");
    assert!(!format!("{err:?}").contains(support::TOKEN));
    assert!(err.to_string().contains("<redacted>"));
}

#[tokio::test]
async fn builder_validation() {
    let err = Transport::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let provider = Arc::new(contree_auth::StaticProvider::new(support::creds(
        "https://h",
    )));
    let err = Transport::builder()
        .credentials(provider.clone())
        .add_root_certificates_pem(b"not pem".to_vec())
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let t = Transport::builder()
        .credentials(provider)
        .timeouts(Timeouts::default())
        .build()
        .unwrap();
    assert!(!format!("{t:?}").contains(support::TOKEN));
}
