//! Captures every tracing event (and `log` record) at TRACE during a full scenario and checks
//! that the bearer token never appears.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use contree_transport::{Body, EventParams, RequestOptions};
use futures_util::StreamExt;
use support::{Action, End, Refreshing, TOKEN, TestServer, frame, ops, transport_with};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_never_appears_in_trace_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber in this test binary");

    let srv = TestServer::start(vec![
        // send: retries on 503, then an error body echoing the token, then success
        Action::status(503),
        Action::json(200, "{}"),
        Action::json(400, &format!(r#"{{"error":"bad token {TOKEN}"}}"#)),
        // 401 -> refresh -> success (a provider that is not static, returning the same token)
        Action::json(401, r#"{"error":"expired"}"#),
        Action::json(201, "{}"),
        // a reset after a POST
        Action::Drop,
        // events with a cut and an sse_error
        Action::sse(vec![frame(0, "init")], End::Drop),
        Action::sse(
            vec![
                frame(1, "spawn"),
                b"event: sse_error\ndata: upstream closed\n\n".to_vec(),
            ],
            End::Finish,
        ),
        Action::sse(vec![frame(2, "completion")], End::Finish),
    ])
    .await;
    let t = transport_with(Arc::new(Refreshing(contree_auth::StaticProvider::new(
        support::creds(&srv.base_url()),
    ))));
    let get = || http::Request::get("/whoami").body(Body::empty()).unwrap();
    let post = || {
        http::Request::post("/instances")
            .body(Body::from(r#"{"command":"true"}"#))
            .unwrap()
    };
    let opts = RequestOptions::default();
    t.send(&ops::WHOAMI, get(), &opts).await.unwrap();
    let e = t.send(&ops::WHOAMI, get(), &opts).await.unwrap_err();
    tracing::error!(error = %e, debug = ?e, "logged by the application");
    t.send(&ops::SPAWN, post(), &opts).await.unwrap();
    let e = t.send(&ops::SPAWN, post(), &opts).await.unwrap_err();
    tracing::error!(error = %e, "logged by the application");
    let mut s = t.events(
        "op-1",
        EventParams {
            follow: true,
            ..EventParams::default()
        },
    );
    let mut n = 0;
    while let Some(ev) = s.next().await {
        ev.unwrap();
        n += 1;
    }
    assert_eq!(n, 3);
    tracing::debug!(transport = ?t, "logged by the application");

    // The same over HTTP/2 (TLS + ALPN), where h2 logs its frames.
    let tls = support::tls::https_server(vec![b"h2".to_vec()]).await;
    let t2 = contree_transport::Transport::builder()
        .credentials(std::sync::Arc::new(contree_auth::StaticProvider::new(
            support::creds(&tls.base),
        )))
        .add_root_certificates_pem(tls.ca_pem.clone().into_bytes())
        .build()
        .unwrap();
    let resp = t2.send(&ops::WHOAMI, get(), &opts).await.unwrap();
    assert!(String::from_utf8_lossy(resp.body()).starts_with("HTTP/2.0"));

    let logs = String::from_utf8_lossy(&capture.0.lock().unwrap()).to_string();
    // The capture is not vacuous: it saw the retries, the refresh and the reconnects.
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("refreshing credentials"), "{logs}");
    assert!(logs.contains("reconnecting the event stream"), "{logs}");
    assert!(logs.contains("TRACE"), "TRACE-level output was captured");
    assert!(logs.contains("h2"), "HTTP/2 frames were logged too");
    assert!(!logs.contains(TOKEN), "the token leaked into the logs");
    assert!(
        !logs.contains("Bearer"),
        "an Authorization header value leaked"
    );
}
