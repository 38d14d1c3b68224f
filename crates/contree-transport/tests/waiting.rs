//! Waiting without the one-second floor (425 Too Early), the SSE `retry:` clamp, the cap on
//! buffered bodies, and the "may have taken effect" note, against the scripted server's
//! request log (timestamps of when each request arrived; nothing here times the client).

mod support;

use std::time::Duration;

use contree_transport::{ErrorKind, EventParams, RequestOptions, Timeouts, Transport};
use futures_util::StreamExt;
use support::{Action, End, TestServer, creds, fast_retry, frame, gzip, ops};

fn transport_with(
    base: &str,
    f: impl FnOnce(contree_transport::TransportBuilder) -> contree_transport::TransportBuilder,
) -> Transport {
    let b = Transport::builder()
        .credentials(std::sync::Arc::new(contree_auth::StaticProvider::new(
            creds(base),
        )))
        .retry(fast_retry())
        .timeouts(Timeouts {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(5),
            read_idle: Some(Duration::from_secs(5)),
            operation: None,
        });
    f(b).build().unwrap()
}

fn too_early() -> Action {
    Action::json(425, r#"{"error":"events not yet available"}"#).with_header("Retry-After", "1")
}

fn gaps(srv: &TestServer) -> Vec<Duration> {
    let reqs = srv.requests();
    reqs.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test]
async fn events_after_a_425_with_retry_after_1_are_asked_again_well_before_the_second() {
    let log = [frame(0, "status"), frame(1, "completion")];
    let srv = TestServer::start(vec![
        too_early(),
        too_early(),
        too_early(),
        Action::sse(log.to_vec(), End::Finish),
    ])
    .await;
    let t = transport_with(&srv.base_url(), |b| b);
    let follow = EventParams {
        follow: true,
        ..EventParams::default()
    };
    let events: Vec<_> = t.events("op-1", follow).collect().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(Result::is_ok));
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 4, "three 425s, then the stream");
    let gaps = gaps(&srv);
    // The old client slept the whole Retry-After (1 s) between these requests.
    for g in &gaps {
        assert!(
            *g < Duration::from_millis(600),
            "asked again only after {g:?}: {gaps:?}"
        );
    }
    println!("425 waiting: gaps between requests {gaps:?} (server said Retry-After: 1)");
}

#[tokio::test]
async fn a_waiting_run_asks_within_the_documented_request_bound() {
    // The operation never becomes streamable: the client gives up after waiting as long as
    // the plain Retry-After schedule would have (here 2 reconnect "units" of 1 s), asking at
    // most 21 times in the first second, 20 in the next, and at most 5 times a second after.
    let srv = TestServer::start(vec![too_early(); 64]).await;
    let t = transport_with(&srv.base_url(), |b| {
        b.retry(contree_transport::RetryConfig {
            max_stream_reconnects: 2,
            ..fast_retry()
        })
    });
    let err = t
        .open_events(
            "op-1",
            EventParams {
                follow: true,
                ..EventParams::default()
            },
        )
        .await
        .expect_err("never streamable");
    assert!(err.is_status(425), "{err}");
    let reqs = srv.requests();
    let first = reqs[0].at;
    let in_first_second = reqs
        .iter()
        .filter(|r| r.at - first < Duration::from_secs(1))
        .count();
    assert!(
        in_first_second <= 21,
        "{in_first_second} requests in the first second"
    );
    assert!(
        in_first_second >= 3,
        "only {in_first_second} requests in the first second"
    );
    // While young, never closer than 50 ms after the first retry (at most 20 a second).
    for w in reqs.windows(2).skip(2) {
        assert!(
            w[1].at - w[0].at >= Duration::from_millis(45),
            "{:?}",
            w[1].at - w[0].at
        );
    }
    // After 2 s of waiting: at most 5 a second (delays of at least 200 ms).
    let old: Vec<_> = reqs
        .iter()
        .filter(|r| r.at - first >= Duration::from_millis(2200))
        .collect();
    for w in old.windows(2) {
        assert!(
            w[1].at - w[0].at >= Duration::from_millis(190),
            "{:?}",
            w[1].at - w[0].at
        );
    }
    // Two 1-second units of waiting, then one more 2-second budget of reconnections:
    // bounded either way.
    assert!(reqs.len() <= 21 + 20 + 5 * 3, "{} requests", reqs.len());
    println!(
        "425 bound: {} requests in total, {in_first_second} in the first second",
        reqs.len()
    );
}

#[tokio::test]
async fn a_subprocess_post_answered_425_is_retried_soon_and_sent_until_accepted() {
    // 425 = not processed: safe to repeat even for a POST, and asked again soon.
    let srv = TestServer::start(vec![
        too_early(),
        too_early(),
        too_early(),
        too_early(),
        Action::json(201, r#"{"uuid":"u"}"#),
    ])
    .await;
    let t = transport_with(&srv.base_url(), |b| b);
    let req = http::Request::post("/instances/op-1/subprocesses")
        .body(contree_transport::Body::from(r#"{"command":"true"}"#))
        .unwrap();
    let resp = t
        .send(&ops::SPAWN, req, &RequestOptions::default())
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(
        srv.requests().len(),
        5,
        "4 x 425 fit the attempt budget as free retries"
    );
    for g in gaps(&srv) {
        assert!(g < Duration::from_millis(600), "{g:?}");
    }
}

#[tokio::test]
async fn the_server_retry_field_is_clamped_to_the_backoff_cap() {
    // `retry: 3600000` (one hour), then a dropped connection: the reconnection waits at most
    // `max_backoff` (5 ms in `fast_retry`), not an hour.
    let mut first = b"retry: 3600000\n\n".to_vec();
    first.extend(frame(0, "status"));
    let srv = TestServer::start(vec![
        Action::sse(vec![first], End::Drop),
        Action::sse(vec![frame(1, "completion")], End::Finish),
    ])
    .await;
    let t = transport_with(&srv.base_url(), |b| b);
    let follow = EventParams {
        follow: true,
        ..EventParams::default()
    };
    let events = tokio::time::timeout(
        Duration::from_secs(60),
        t.events("op-1", follow).collect::<Vec<_>>(),
    )
    .await
    .expect("the stream must not sleep for the server's hour");
    assert_eq!(events.len(), 2);
    assert_eq!(srv.requests().len(), 2);
    assert_eq!(srv.requests()[1].header("last-event-id"), Some("0"));
}

#[tokio::test]
async fn a_gzip_bomb_on_a_buffered_call_fails_with_its_own_kind_within_the_cap() {
    // 16 MiB of zeros compress to ~16 KiB.
    let bomb = gzip(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 64 * 1024);
    let srv = TestServer::start(vec![Action::Respond {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        body: bomb,
    }])
    .await;
    let t = transport_with(&srv.base_url(), |b| b.max_response_bytes(1 << 20));
    let req = http::Request::get("/whoami")
        .body(contree_transport::Body::empty())
        .unwrap();
    let err = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResponseTooLarge, "{err}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(msg.contains("1048576 bytes once decompressed"), "{msg}");
    assert!(msg.contains("max_response_bytes"), "{msg}");
    assert_eq!(srv.requests().len(), 1, "not retried");
}

#[tokio::test]
async fn the_cap_applies_to_plain_bodies_and_can_be_raised_per_call() {
    let big = "x".repeat(300_000);
    let body = format!("\"{big}\"");
    let srv = TestServer::start(vec![Action::json(200, &body), Action::json(200, &body)]).await;
    let t = transport_with(&srv.base_url(), |b| b.max_response_bytes(100_000));
    let get = || {
        http::Request::get("/whoami")
            .body(contree_transport::Body::empty())
            .unwrap()
    };
    let err = t
        .send(&ops::WHOAMI, get(), &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ResponseTooLarge);
    assert!(!err.to_string().contains("decompressed"), "{err}");
    let opts = RequestOptions {
        max_response_bytes: Some(1 << 20),
        ..RequestOptions::default()
    };
    let resp = t.send(&ops::WHOAMI, get(), &opts).await.unwrap();
    assert_eq!(resp.body().len(), body.len());
}

#[tokio::test]
async fn a_timed_out_post_says_it_may_have_taken_effect() {
    let srv = TestServer::start(vec![Action::Stall, Action::Stall]).await;
    let t = transport_with(&srv.base_url(), |b| {
        b.timeouts(Timeouts {
            attempt: Duration::from_millis(200),
            ..Timeouts::default()
        })
    });
    let post = http::Request::post("/instances")
        .body(contree_transport::Body::from(r#"{"command":"true"}"#))
        .unwrap();
    let err = t
        .send(&ops::SPAWN, post, &RequestOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.may_have_taken_effect());
    let msg = err.to_string();
    assert!(msg.contains("may already have taken effect"), "{msg}");
    assert!(msg.contains("not replayed"), "{msg}");
    assert_eq!(
        srv.requests().len(),
        1,
        "a POST that may have been processed is not replayed"
    );

    // An idempotent GET that timed out says no such thing (and is retried).
    let srv = TestServer::start(vec![Action::Stall, Action::json(200, "{}")]).await;
    let t = transport_with(&srv.base_url(), |b| {
        b.timeouts(Timeouts {
            attempt: Duration::from_millis(200),
            ..Timeouts::default()
        })
        .retry(contree_transport::RetryConfig {
            max_attempts: 1,
            ..fast_retry()
        })
    });
    let get = http::Request::get("/whoami")
        .body(contree_transport::Body::empty())
        .unwrap();
    let err = t
        .send(&ops::WHOAMI, get, &RequestOptions::default())
        .await
        .unwrap_err();
    assert!(!err.may_have_taken_effect());
    assert!(!err.to_string().contains("taken effect"), "{err}");
}
