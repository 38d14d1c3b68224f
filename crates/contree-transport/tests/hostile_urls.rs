//! Hostile base URLs: the token is never sent, and the refusal comes before any connection
//! is started (no DNS lookup, no connect), so no traffic leaves the loopback range.
//!
//! Every URL here points either at the loopback trap server below or at a name under the
//! reserved `.invalid` TLD, so even a regression could not reach another machine.

mod support;

use std::sync::Arc;

use contree_auth::{Credentials, SecretToken, StaticProvider};
use contree_transport::{Body, RequestOptions, Transport};
use support::{Action, TOKEN, TestServer, ops};

/// (base URL with `{port}` for the trap's port, allow_insecure_http)
fn hostile(port: u16) -> Vec<(String, bool)> {
    let table = [
        // userinfo: the host is what follows `@`
        ("http://127.0.0.1@localhost:{port}", false),
        ("http://127.0.0.1:{port}@localhost:{port}", false),
        ("http://user:pw@127.0.0.1:{port}", false),
        ("http://127.0.0.1@127.0.0.1:{port}", true),
        ("https://user@127.0.0.1:{port}", false),
        // a text prefix of 127. is not a loopback address
        ("http://127.0.0.1.invalid:{port}", false),
        ("http://127.anything.invalid:{port}", false),
        ("http://127.1.invalid:{port}", false),
        // *.localhost is resolver-dependent: not trusted
        ("http://x.localhost:{port}", false),
        ("http://a.b.localhost.:{port}", false),
        ("http://localhost.invalid:{port}", false),
        // IPv4-mapped IPv6 of a non-loopback address
        ("http://[::ffff:10.0.0.1]:{port}", false),
        ("http://[::ffff:192.0.2.1]:{port}", false),
        ("http://[::2]:{port}", false),
        // upper-case scheme to a remote name
        ("HTTP://example.invalid:{port}", false),
        ("Http://example.invalid:{port}", false),
        // trailing dots
        ("http://example.invalid.:{port}", false),
        ("http://127.0.0.1.:{port}", false),
        ("http://localhost..:{port}", false),
        // numeric forms a resolver would map to 127.0.0.1, but that are not addresses
        ("http://2130706433:{port}", false),
        ("http://0x7f000001:{port}", false),
        ("http://127.1:{port}", false),
        // not http(s)
        ("ftp://127.0.0.1:{port}", true),
    ];
    table
        .iter()
        .map(|(u, a)| (u.replace("{port}", &port.to_string()), *a))
        .collect()
}

#[tokio::test]
async fn hostile_base_urls_never_send_the_token_nor_connect() {
    let trap = TestServer::start(vec![Action::json(200, "{}"); 64]).await;
    let cases = hostile(trap.addr.port());
    let mut refused_by_credentials = 0;
    let mut refused_by_transport = 0;
    for (url, allow) in &cases {
        let creds = match Credentials::builder(SecretToken::new(TOKEN))
            .base_url(url.as_str())
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                assert!(!e.to_string().contains("pw@"), "{url}: {e}");
                refused_by_credentials += 1;
                continue;
            }
        };
        let t = Transport::builder()
            .credentials(Arc::new(StaticProvider::new(creds)))
            .allow_insecure_http(*allow)
            .build()
            .unwrap();
        let req = http::Request::get("/whoami").body(Body::empty()).unwrap();
        let err = t
            .send(&ops::WHOAMI, req, &RequestOptions::default())
            .await
            .expect_err(url);
        assert_eq!(
            err.kind(),
            contree_transport::ErrorKind::Config,
            "{url}: {err}"
        );
        assert!(!err.to_string().contains(TOKEN), "{url}: {err}");
        assert_eq!(
            t.connections_started(),
            0,
            "{url}: a connection was started"
        );
        refused_by_transport += 1;
        // The same URL fails the rule the facade applies at build time.
        assert!(
            contree_transport::check_base_url(url, *allow).is_err(),
            "{url}"
        );
    }
    assert!(trap.requests().is_empty(), "the trap received a request");
    assert_eq!(trap.connections(), 0, "the trap saw a connection");
    println!(
        "hostile base URLs: {} cases, {refused_by_credentials} refused by the credentials, {refused_by_transport} by the transport, 0 tokens sent, 0 connections",
        cases.len()
    );
}

#[tokio::test]
async fn loopback_forms_still_work_without_the_opt_in() {
    let srv = TestServer::start(vec![Action::json(200, "{}"); 4]).await;
    let port = srv.addr.port();
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("HTTP://127.0.0.1:{port}/"),
        format!("http://localhost:{port}"),
        format!("http://LOCALHOST:{port}"),
    ] {
        let creds = Credentials::builder(SecretToken::new(TOKEN))
            .base_url(url.as_str())
            .build()
            .unwrap();
        let t = Transport::builder()
            .credentials(Arc::new(StaticProvider::new(creds)))
            .build()
            .unwrap();
        let req = http::Request::get("/whoami").body(Body::empty()).unwrap();
        let resp = t.send(&ops::WHOAMI, req, &RequestOptions::default()).await;
        assert!(resp.is_ok(), "{url}: {:?}", resp.err());
    }
    assert_eq!(srv.requests().len(), 4);
}
