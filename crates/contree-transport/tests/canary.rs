//! The secrets canary for contree-transport: the transport, its builder, its streams and
//! every error kind a token can reach, formatted with `{:?}`, `{:#?}` and `{}`; the token
//! must never appear (the TRACE-log check is `no_secrets_in_logs.rs`).

mod support;

use std::sync::Arc;

use contree_auth::{Credentials, SecretToken, StaticProvider};
use contree_transport::{Body, EventParams, RequestOptions, Timeouts, Transport};
use futures_util::StreamExt;
use support::{Action, End, TOKEN, TestServer, creds, fast_retry, frame, ops, transport};

#[derive(Default)]
struct Cases {
    n: usize,
    kinds: std::collections::BTreeSet<String>,
}

impl Cases {
    fn check(&mut self, what: &str, v: &(impl std::fmt::Debug + ?Sized)) {
        for s in [format!("{v:?}"), format!("{v:#?}")] {
            assert!(!s.contains(TOKEN), "{what} leaks the token: {s}");
            self.n += 1;
        }
    }
    fn error(&mut self, what: &str, e: &contree_transport::Error) {
        self.check(what, e);
        let s = e.to_string();
        assert!(!s.contains(TOKEN), "{what} Display leaks the token: {s}");
        self.n += 1;
        self.kinds.insert(format!("{:?}", e.kind()));
    }
}

fn get(path: &str) -> http::Request<Body> {
    http::Request::get(path).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn no_transport_type_or_error_shows_the_token() {
    let mut c = Cases::default();
    let srv = TestServer::start(vec![
        // Api: the server echoes the token in its error text and a header.
        Action::json(400, &format!(r#"{{"error":"bad token {TOKEN}"}}"#))
            .with_header("X-Echo", TOKEN),
        // Connect after send (POST, may have taken effect).
        Action::Drop,
        // Timeout (attempt).
        Action::Stall,
        // Decode / Stream: a broken event stream body.
        Action::sse(vec![b"data: x\n".to_vec()], End::Drop),
        Action::sse(vec![frame(0, "completion")], End::Finish),
        // ResponseTooLarge.
        Action::json(200, &format!("\"{}\"", "x".repeat(4096))),
    ])
    .await;
    let t = transport(&srv.base_url());
    c.check("Transport", &t);
    c.check(
        "TransportBuilder",
        &Transport::builder()
            .credentials(Arc::new(StaticProvider::new(creds("http://127.0.0.1:1")))),
    );
    let e = t
        .send(&ops::WHOAMI, get("/whoami"), &RequestOptions::default())
        .await
        .unwrap_err();
    c.error("Api", &e);
    let post = http::Request::post("/instances")
        .body(Body::from("{}"))
        .unwrap();
    let e = t
        .send(&ops::SPAWN, post, &RequestOptions::default())
        .await
        .unwrap_err();
    c.error("Connect", &e);
    let opts = RequestOptions {
        attempt_timeout: Some(std::time::Duration::from_millis(100)),
        retry: Some(contree_transport::RetryConfig {
            max_attempts: 1,
            ..fast_retry()
        }),
        ..RequestOptions::default()
    };
    let e = t
        .send(&ops::WHOAMI, get("/whoami"), &opts)
        .await
        .unwrap_err();
    c.error("Timeout", &e);
    let stream = t.events(
        "op-1",
        EventParams {
            follow: true,
            ..EventParams::default()
        },
    );
    c.check("EventStream", &stream);
    let items: Vec<_> = stream.collect().await;
    c.check("stream items", &items);
    let opts = RequestOptions {
        max_response_bytes: Some(100),
        ..RequestOptions::default()
    };
    let e = t
        .send(&ops::WHOAMI, get("/whoami"), &opts)
        .await
        .unwrap_err();
    c.error("ResponseTooLarge", &e);

    // Config: a base URL with the token as userinfo is refused without echoing it.
    let e = contree_transport::check_base_url(&format!("http://{TOKEN}@127.0.0.1:1"), true)
        .unwrap_err();
    c.error("Config (userinfo)", &e);
    let e = contree_transport::check_base_url(&format!("http://u:{TOKEN}@h.invalid"), false)
        .unwrap_err();
    c.error("Config (password)", &e);

    // Credentials: the provider fails; Config: no provider.
    let bad = Credentials::builder(SecretToken::new(format!("{TOKEN}\n")));
    c.check("CredentialsBuilder", &bad);
    let no_provider = Transport::builder().build().unwrap_err();
    c.error("Config (no provider)", &no_provider);
    let body = Body::from(TOKEN.to_string());
    c.check("Body", &body);
    let _ = Timeouts::default();

    assert!(c.n >= 25, "only {} cases", c.n);
    println!(
        "transport secrets canary: {} formatting cases over error kinds {:?}, 0 leaks",
        c.n, c.kinds
    );
}
