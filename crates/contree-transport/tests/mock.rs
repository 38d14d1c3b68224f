//! The "Done when" scenarios against `contree-mock` with injected faults.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use contree_auth::{Credentials, ProvideCredentials, SecretToken, StaticProvider};
use contree_mock::{FaultRule, MockServer};
use contree_proto::OperationMeta;
use contree_transport::{
    Body, ErrorKind, EventParams, RequestOptions, RetryConfig, SseEvent, Timeouts, Transport,
};
use futures_util::StreamExt;
use http::{Method, Request};
use support::ops;

static LIST_OPERATIONS: OperationMeta = OperationMeta {
    id: "listOperations",
    method: Method::GET,
    path: "/operations",
    success: &[200],
    idempotent: true,
    streaming: false,
};

async fn start() -> MockServer {
    MockServer::builder().latency(Duration::ZERO).start().await
}

fn creds_for(server: &MockServer, token: &str) -> Credentials {
    let mut b = Credentials::builder(SecretToken::new(token)).base_url(server.base_url());
    if let Some(p) = server.project() {
        b = b.project(p);
    }
    b.build().unwrap()
}

fn transport_for(server: &MockServer, timeouts: Timeouts) -> Transport {
    Transport::builder()
        .credentials(Arc::new(StaticProvider::new(creds_for(
            server,
            server.token(),
        ))))
        .retry(support::fast_retry())
        .timeouts(timeouts)
        .build()
        .unwrap()
}

fn spawn_req(cmd: &str) -> Request<Body> {
    let body = serde_json::json!({"command": cmd, "image": "tag:busybox:latest", "shell": true});
    Request::post("/instances")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn spawn(t: &Transport, cmd: &str) -> String {
    let resp = t
        .send(&ops::SPAWN, spawn_req(cmd), &RequestOptions::default())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    v["uuid"].as_str().unwrap().to_string()
}

async fn operation_count(t: &Transport) -> usize {
    let req = Request::get("/operations").body(Body::empty()).unwrap();
    let resp = t
        .send(&LIST_OPERATIONS, req, &RequestOptions::default())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    v.as_array().map(|a| a.len()).unwrap_or(0)
}

async fn all_events(t: &Transport, op: &str) -> Vec<SseEvent> {
    let p = EventParams {
        follow: true,
        ..EventParams::default()
    };
    let mut s = t.open_events(op, p).await.unwrap();
    let mut out = vec![];
    while let Some(ev) = s.next().await {
        out.push(ev.unwrap());
    }
    out
}

#[tokio::test]
async fn n_503s_then_success_on_an_idempotent_get() {
    let server = start().await;
    let t = transport_for(&server, Timeouts::default());
    server.inject(
        FaultRule::new(Method::GET, "/v1/whoami")
            .times(3)
            .status(503),
    );
    let req = Request::get("/whoami").body(Body::empty()).unwrap();
    let resp = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(server.request_count("whoAmI"), 4);
}

#[tokio::test]
async fn spawn_429_with_retry_after_creates_exactly_one_instance() {
    let server = start().await;
    let t = transport_for(&server, Timeouts::default());
    server.inject(
        FaultRule::new(Method::POST, "/v1/instances")
            .times(1)
            .status(429)
            .retry_after(1),
    );
    spawn(&t, "true").await;
    assert_eq!(server.request_count("spawnInstance"), 2);
    assert_eq!(
        operation_count(&t).await,
        1,
        "exactly one instance was created"
    );
}

#[tokio::test]
async fn a_reset_after_spawn_was_sent_is_not_replayed() {
    let server = start().await;
    let t = transport_for(&server, Timeouts::default());
    server.inject(FaultRule::new(Method::POST, "/v1/instances").close_after_processing());
    let err = t
        .send(&ops::SPAWN, spawn_req("true"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    assert_eq!(err.attempts(), 1);
    let msg = err.to_string();
    assert!(msg.contains("POST /instances (spawnInstance)"), "{msg}");
    assert!(msg.contains("may already have taken effect"), "{msg}");
    assert_eq!(server.request_count("spawnInstance"), 1, "not replayed");
    // The server did process it: replaying would have created a second instance.
    assert_eq!(operation_count(&t).await, 1);

    server.inject(FaultRule::new(Method::POST, "/v1/instances").close_before_response());
    let err = t
        .send(&ops::SPAWN, spawn_req("true"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect);
    assert_eq!(server.request_count("spawnInstance"), 2);
}

#[tokio::test]
async fn event_streams_cut_every_k_events_or_by_sse_error_yield_each_event_once() {
    let server = start().await;
    let t = transport_for(&server, Timeouts::default());
    let op = spawn(&t, "echo one; echo two; echo three; echo four; echo five").await;
    let reference = all_events(&t, &op).await;
    assert_eq!(reference.last().unwrap().event, "completion");
    assert!(reference.len() >= 5, "{reference:?}");
    let ids: Vec<u64> = reference.iter().map(|e| e.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    for k in [1, 2, 3] {
        let path = format!("/v1/operations/{op}/events");
        server.inject(
            FaultRule::new(Method::GET, &path)
                .forever()
                .cut_stream_after(k),
        );
        let before = server.request_count("getOperationEvents");
        let got = all_events(&t, &op).await;
        server.clear_faults();
        assert_eq!(got, reference, "cut every {k}");
        let connections = server.request_count("getOperationEvents") - before;
        assert!(
            connections >= (reference.len() as u64).div_ceil(k),
            "k={k}: {connections}"
        );

        server.inject(
            FaultRule::new(Method::GET, &path)
                .forever()
                .sse_error_after(k),
        );
        let got = all_events(&t, &op).await;
        server.clear_faults();
        assert_eq!(got, reference, "sse_error every {k}");
    }

    // 410 (not yet durable) with Retry-After, then the full log.
    server.inject(
        FaultRule::new(Method::GET, format!("/v1/operations/{op}/events"))
            .status(410)
            .retry_after(0),
    );
    assert_eq!(all_events(&t, &op).await, reference);
}

#[tokio::test]
async fn a_live_followed_stream_survives_cuts() {
    let server = start().await;
    let t = transport_for(&server, Timeouts::default());
    let op = spawn(&t, "echo a; sleep 0.2; echo b; sleep 0.2; echo c").await;
    server.inject(
        FaultRule::new(Method::GET, format!("/v1/operations/{op}/events"))
            .forever()
            .cut_stream_after(2),
    );
    let got = all_events(&t, &op).await;
    server.clear_faults();
    let reference = all_events(&t, &op).await;
    assert_eq!(got, reference);
    let stdout: Vec<&str> = got
        .iter()
        .filter(|e| e.event == "stdout")
        .map(|e| e.data.as_str())
        .collect();
    assert_eq!(stdout.len(), 3, "{stdout:?}");
}

#[tokio::test]
async fn a_stalled_event_stream_hits_the_idle_timeout() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .keepalive(Duration::from_secs(600))
        .start()
        .await;
    let t = Transport::builder()
        .credentials(Arc::new(StaticProvider::new(creds_for(
            &server,
            server.token(),
        ))))
        .retry(RetryConfig {
            max_stream_reconnects: 0,
            ..support::fast_retry()
        })
        .timeouts(Timeouts {
            read_idle: Some(Duration::from_millis(300)),
            ..Timeouts::default()
        })
        .build()
        .unwrap();
    let op = spawn(&t, "echo started; sleep 600").await;
    let p = EventParams {
        follow: true,
        ..EventParams::default()
    };
    let mut s = t.open_events(&op, p).await.unwrap();
    let err = loop {
        match s.next().await {
            Some(Ok(ev)) => assert_ne!(ev.event, "completion"),
            Some(Err(e)) => break e,
            None => panic!("the stream ended instead of timing out"),
        }
    };
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("read-idle"), "{err}");
}

#[derive(Debug)]
struct Rotating {
    stale: Credentials,
    fresh: Credentials,
    refreshes: AtomicU64,
}

#[async_trait]
impl ProvideCredentials for Rotating {
    async fn provide_credentials(&self) -> Result<Credentials, contree_auth::Error> {
        Ok(self.stale.clone())
    }
    async fn refresh_credentials(&self) -> Result<Credentials, contree_auth::Error> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        Ok(self.fresh.clone())
    }
}

#[tokio::test]
async fn a_401_refreshes_credentials_once() {
    let server = start().await;
    let provider = Arc::new(Rotating {
        stale: creds_for(&server, "stale-token"),
        fresh: creds_for(&server, server.token()),
        refreshes: AtomicU64::new(0),
    });
    assert!(!provider.is_static(), "the default: a provider may refresh");
    let t = Transport::builder()
        .credentials(provider.clone())
        .retry(support::fast_retry())
        .build()
        .unwrap();
    let req = Request::get("/whoami").body(Body::empty()).unwrap();
    let resp = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.request_count("whoAmI"), 2);

    // A refresh that does not help: one refresh, then the 401 error.
    let provider = Arc::new(Rotating {
        stale: creds_for(&server, "stale-token"),
        fresh: creds_for(&server, "still-stale"),
        refreshes: AtomicU64::new(0),
    });
    let t = Transport::builder()
        .credentials(provider.clone())
        .retry(support::fast_retry())
        .build()
        .unwrap();
    let req = Request::get("/whoami").body(Body::empty()).unwrap();
    let err = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(401), "{err}");
    assert_eq!(provider.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.request_count("whoAmI"), 4);
}

#[tokio::test]
async fn a_401_with_a_static_token_fails_at_once_with_one_request() {
    // A refresh could only return the same token: no refresh, no second request.
    let server = start().await;
    let provider = StaticProvider::new(creds_for(&server, "wrong-token"));
    assert!(provider.is_static());
    let t = Transport::builder()
        .credentials(Arc::new(provider))
        .retry(support::fast_retry())
        .build()
        .unwrap();
    let req = Request::get("/whoami").body(Body::empty()).unwrap();
    let err = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(401), "{err}");
    assert_eq!(err.attempts(), 1, "{err}");
    assert_eq!(server.request_count("whoAmI"), 1);
    // A non-idempotent POST too: one request, no instance.
    let err = t
        .send(&ops::SPAWN, spawn_req("true"), &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_status(401), "{err}");
    assert_eq!(server.request_count("spawnInstance"), 1);
}

#[tokio::test]
async fn a_pending_operation_is_followed_without_the_one_second_floor() {
    // The mock keeps the operation PENDING for 400 ms and answers its event stream 425 with
    // `Retry-After: 1` meanwhile. The old client slept the whole second: 2 events requests
    // (one 425, then the stream). The short schedule asks again after 25-50 ms, 50-100 ms,
    // 100-200 ms, ...: at least 3 requests before the operation is streamable, and within the
    // documented bound (at most 8 in the first second).
    let server = MockServer::builder()
        .latency(Duration::from_millis(400))
        .start()
        .await;
    let t = transport_for(&server, Timeouts::default());
    let op = spawn(&t, "echo hi").await;
    let events = all_events(&t, &op).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("completion"));
    let log = server.requests();
    let asks = log
        .iter()
        .filter(|r| r.operation_id.as_deref() == Some("getOperationEvents"))
        .count();
    assert!(
        asks >= 3,
        "only {asks} events requests: the client slept out the Retry-After"
    );
    assert!(
        asks <= 8 + 1,
        "{asks} events requests: more than the documented bound"
    );
    println!("pending operation followed with {asks} events requests");
}
