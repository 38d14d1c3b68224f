//! The resumable event stream against a scripted HTTP server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use contree_auth::StaticProvider;
use contree_transport::{ErrorKind, EventParams, RetryConfig, SseEvent, Timeouts, Transport};
use futures_util::StreamExt;
use support::{Action, End, TestServer, frame, gzip, transport};

fn follow() -> EventParams {
    EventParams {
        follow: true,
        ..EventParams::default()
    }
}

fn names(events: &[SseEvent]) -> Vec<(Option<u64>, String)> {
    events.iter().map(|e| (e.id, e.event.clone())).collect()
}

async fn collect_all(mut s: contree_transport::EventStream) -> Vec<SseEvent> {
    let mut out = vec![];
    while let Some(ev) = s.next().await {
        out.push(ev.unwrap());
    }
    out
}

/// The full log of a tiny run: ids 0..=n-1, the last one `completion`.
fn log(n: u64) -> Vec<(u64, &'static str)> {
    (0..n)
        .map(|i| {
            let name = match i {
                0 => "init",
                1 => "spawn",
                _ if i == n - 1 => "completion",
                _ if i == n - 2 => "exit",
                _ => "stdout",
            };
            (i, name)
        })
        .collect()
}

fn frames(events: &[(u64, &str)]) -> Vec<Vec<u8>> {
    events.iter().map(|(i, n)| frame(*i, n)).collect()
}

#[tokio::test]
async fn a_stream_cut_every_k_events_yields_each_event_once_in_order() {
    let full = log(10);
    let k = 3;
    // The server honours Last-Event-Id but also re-sends the last delivered event (overlap),
    // which must be dropped as a duplicate.
    let mut actions = vec![];
    let mut start = 0usize;
    while start < full.len() {
        let from = start.saturating_sub(1);
        let end = (start + k).min(full.len());
        let last_piece = end == full.len();
        actions.push(Action::sse(
            frames(&full[from..end]),
            if last_piece { End::Finish } else { End::Drop },
        ));
        start = end;
    }
    let srv = TestServer::start(actions).await;
    let t = transport(&srv.base_url());
    let events = collect_all(t.events("op-1", follow())).await;
    let want: Vec<_> = full
        .iter()
        .map(|(i, n)| (Some(*i), n.to_string()))
        .collect();
    assert_eq!(names(&events), want);

    let reqs = srv.requests();
    assert_eq!(reqs.len(), 4);
    assert_eq!(reqs[0].target, "/v1/operations/op-1/events?follow=1");
    assert_eq!(reqs[0].header("accept"), Some("text/event-stream"));
    assert_eq!(
        reqs[0].header("last-event-id"),
        None,
        "no id means from the start"
    );
    assert_eq!(reqs[1].header("last-event-id"), Some("2"));
    assert_eq!(reqs[2].header("last-event-id"), Some("5"));
    assert_eq!(reqs[3].header("last-event-id"), Some("8"));
}

#[tokio::test]
async fn sse_error_frames_and_clean_eofs_resume_without_loss() {
    let full = log(7);
    let mut first = frames(&full[..3]);
    first.push(b": stream ended with error, retry since last event id\n\n".to_vec());
    first.push(b"event: sse_error\ndata: upstream event source closed unexpectedly\n\n".to_vec());
    let srv = TestServer::start(vec![
        // sse_error after 3 events (the server then closes cleanly).
        Action::sse(first, End::Finish),
        // A clean EOF without completion while following: reconnect.
        Action::sse(frames(&full[3..5]), End::Finish),
        Action::sse(frames(&full[5..]), End::Finish),
    ])
    .await;
    let t = transport(&srv.base_url());
    let events = collect_all(t.events("op-1", follow())).await;
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.event != "sse_error"));
    assert_eq!(
        events.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    let reqs = srv.requests();
    assert_eq!(reqs[1].header("last-event-id"), Some("2"));
    assert_eq!(reqs[2].header("last-event-id"), Some("4"));
}

#[tokio::test]
async fn transient_statuses_are_retried_before_and_during_the_stream() {
    let full = log(5);
    let srv = TestServer::start(vec![
        Action::json(425, r#"{"error":"booting"}"#).with_header("Retry-After", "0"),
        Action::status(502),
        Action::sse(frames(&full[..2]), End::Drop),
        Action::status(504),
        Action::status(410).with_header("Retry-After", "0"),
        Action::sse(frames(&full[2..]), End::Finish),
    ])
    .await;
    let t = transport(&srv.base_url());
    // open_events retries the 425/502 before handing out the stream.
    let s = t.open_events("op-1", follow()).await.unwrap();
    let events = collect_all(s).await;
    assert_eq!(
        events.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(events.last().unwrap().event, "completion");
    assert_eq!(srv.requests().len(), 6);
}

#[tokio::test]
async fn completion_ends_the_stream_even_if_the_connection_stays_open() {
    let srv = TestServer::start(vec![Action::sse(frames(&log(4)), End::Stall)]).await;
    let t = transport(&srv.base_url());
    let events = collect_all(t.events("op-1", follow())).await;
    assert_eq!(events.len(), 4);
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn fatal_status_is_an_error_from_the_call() {
    let srv = TestServer::start(vec![
        Action::json(404, r#"{"error":"operation not found"}"#),
        Action::json(403, r#"{"error":"follow needs SPAWN"}"#),
    ])
    .await;
    let t = transport(&srv.base_url());
    let err = t.open_events("nope", follow()).await.unwrap_err();
    assert!(err.is_status(404));
    assert_eq!(err.api_message(), Some("operation not found"));
    assert!(err.to_string().contains("/operations/nope/events"), "{err}");

    // The lazy variant yields the error once, then ends.
    let mut s = t.events("op-1", follow());
    let err = s.next().await.unwrap().unwrap_err();
    assert!(err.is_status(403));
    assert!(s.next().await.is_none());
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn filtered_and_snapshot_streams_end_at_eof() {
    let srv = TestServer::start(vec![
        Action::sse(vec![frame(3, "stdout"), frame(5, "exit")], End::Finish),
        Action::sse(frames(&log(3)[..2]), End::Finish),
    ])
    .await;
    let t = transport(&srv.base_url());
    let p = EventParams {
        follow: true,
        spid: Some(2),
        since: Some(0),
    };
    let events = collect_all(t.events("op-1", p)).await;
    assert_eq!(
        names(&events),
        vec![(Some(3), "stdout".into()), (Some(5), "exit".into())]
    );
    // follow=false: whatever is there, then the end.
    let events = collect_all(t.events("op-1", EventParams::default())).await;
    assert_eq!(events.len(), 2);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[0].target,
        "/v1/operations/op-1/events?follow=1&spid=2&since=0"
    );
    // since=Some(0) seeds the resume point: Last-Event-Id is not sent before any event.
    assert_eq!(reqs[0].header("last-event-id"), Some("0"));
    assert_eq!(reqs[1].target, "/v1/operations/op-1/events");
}

#[tokio::test]
async fn gzip_event_stream_is_decoded() {
    let mut body = Vec::new();
    for f in frames(&log(3)) {
        body.extend_from_slice(&f);
    }
    let srv = TestServer::start(vec![Action::Chunked {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/event-stream".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        chunks: vec![gzip(&body)],
        end: End::Finish,
    }])
    .await;
    let t = transport(&srv.base_url());
    let events = collect_all(t.events("op-1", follow())).await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].event, "completion");
}

fn gzip_sse(frames: &[Vec<u8>]) -> Action {
    let mut body = Vec::new();
    for f in frames {
        body.extend_from_slice(f);
    }
    Action::Chunked {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "text/event-stream".into()),
            ("Content-Encoding".into(), "gzip".into()),
        ],
        chunks: vec![gzip(&body)],
        end: End::Finish,
    }
}

#[tokio::test]
async fn event_streams_are_requested_uncompressed_unless_configured() {
    let srv = TestServer::start(vec![
        Action::sse(frames(&log(3)), End::Finish),
        Action::json(200, "{}"),
        gzip_sse(&frames(&log(3))),
    ])
    .await;
    let t = transport(&srv.base_url());
    assert!(!t.compress_event_streams());
    assert_eq!(collect_all(t.events("op-1", follow())).await.len(), 3);
    t.send(
        &support::ops::WHOAMI,
        http::Request::get("/whoami")
            .body(contree_transport::Body::empty())
            .unwrap(),
        &contree_transport::RequestOptions::default(),
    )
    .await
    .unwrap();
    let gz = Transport::builder()
        .credentials(Arc::new(StaticProvider::new(support::creds(
            &srv.base_url(),
        ))))
        .compress_event_streams(true)
        .build()
        .unwrap();
    assert_eq!(collect_all(gz.events("op-1", follow())).await.len(), 3);
    let reqs = srv.requests();
    assert_eq!(reqs[0].header("accept-encoding"), Some("identity"));
    assert_eq!(
        reqs[1].header("accept-encoding"),
        Some("gzip"),
        "other requests ask for gzip"
    );
    assert_eq!(reqs[2].header("accept-encoding"), Some("gzip"));
}

#[tokio::test]
async fn a_stream_read_past_completion_leaves_its_connection_to_the_next_request() {
    for first in [
        Action::sse(frames(&log(4)), End::Finish),
        gzip_sse(&frames(&log(4))),
    ] {
        let srv = TestServer::start(vec![first, Action::json(200, "{}")]).await;
        let t = transport(&srv.base_url());
        let events = collect_all(t.events("op-1", follow())).await;
        assert_eq!(events.last().unwrap().event, "completion");
        // hyper-util hands a finished connection back to its pool from a task of its own;
        // give it a moment (a connection that was closed instead never comes back).
        tokio::time::sleep(Duration::from_millis(50)).await;
        t.send(
            &support::ops::WHOAMI,
            http::Request::get("/whoami")
                .body(contree_transport::Body::empty())
                .unwrap(),
            &contree_transport::RequestOptions::default(),
        )
        .await
        .unwrap();
        assert_eq!(srv.requests().len(), 2);
        assert_eq!(
            srv.connections(),
            1,
            "the request after the stream reused its connection"
        );
    }
}

#[tokio::test]
async fn a_stream_dropped_at_completion_does_not_reuse_an_unfinished_connection() {
    // The end of the response has not arrived when `completion` is read: the connection is
    // not reusable, so the next request opens a new one (and nothing hangs).
    let srv = TestServer::start(vec![
        Action::sse(frames(&log(3)), End::Stall),
        Action::json(200, "{}"),
    ])
    .await;
    let t = transport(&srv.base_url());
    let mut s = t.events("op-1", follow());
    let mut last = None;
    while let Some(ev) = s.next().await {
        let ev = ev.unwrap();
        let done = ev.event == "completion";
        last = Some(ev);
        if done {
            break;
        }
    }
    assert_eq!(last.unwrap().event, "completion");
    drop(s);
    t.send(
        &support::ops::WHOAMI,
        http::Request::get("/whoami")
            .body(contree_transport::Body::empty())
            .unwrap(),
        &contree_transport::RequestOptions::default(),
    )
    .await
    .unwrap();
    assert_eq!(srv.connections(), 2);
}

fn idle_transport(base: &str, reconnects: u32) -> Transport {
    Transport::builder()
        .credentials(Arc::new(StaticProvider::new(support::creds(base))))
        .retry(RetryConfig {
            max_stream_reconnects: reconnects,
            ..support::fast_retry()
        })
        .timeouts(Timeouts {
            read_idle: Some(Duration::from_millis(200)),
            ..Timeouts::default()
        })
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_stalled_event_stream_hits_the_idle_timeout_and_resumes() {
    let full = log(5);
    let srv = TestServer::start(vec![
        Action::sse(frames(&full[..2]), End::Stall),
        Action::sse(frames(&full[2..]), End::Finish),
    ])
    .await;
    let t = idle_transport(&srv.base_url(), 3);
    let events = collect_all(t.events("op-1", follow())).await;
    assert_eq!(
        events.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert_eq!(srv.requests()[1].header("last-event-id"), Some("1"));
}

#[tokio::test]
async fn a_stalled_event_stream_gives_up_with_a_timeout_error() {
    let srv = TestServer::start(vec![
        Action::sse(vec![frame(0, "init")], End::Stall),
        Action::sse(vec![], End::Stall),
    ])
    .await;
    let t = idle_transport(&srv.base_url(), 1);
    let mut s = t.events("op-1", follow());
    assert_eq!(s.next().await.unwrap().unwrap().id, Some(0));
    let err = s.next().await.unwrap().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(s.next().await.is_none());
    assert_eq!(srv.requests().len(), 2);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let srv = TestServer::start(vec![Action::sse(vec![frame(0, "init")], End::Stall)]).await;
    let t = transport(&srv.base_url());
    let mut s = t.open_events("op-1", follow()).await.unwrap();
    assert_eq!(s.next().await.unwrap().unwrap().id, Some(0));
    assert_eq!(srv.closed_connections(), 0);
    drop(s);
    // The server's connection handler returns once it reads EOF from the client.
    let mut waited = 0;
    while srv.closed_connections() == 0 && waited < 500 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += 1;
    }
    assert_eq!(srv.closed_connections(), 1, "the request was cancelled");
}

#[tokio::test]
async fn retry_field_and_comments_are_accepted() {
    let mut chunks = vec![b"\xEF\xBB\xBFretry: 1\r\n: keepalive\r\n\r\n".to_vec()];
    chunks.push(frame(0, "init"));
    let srv = TestServer::start(vec![
        Action::sse(chunks, End::Drop),
        Action::sse(vec![frame(1, "completion")], End::Finish),
    ])
    .await;
    let t = transport(&srv.base_url());
    let events = collect_all(t.events("op-1", follow())).await;
    assert_eq!(
        events.iter().map(|e| e.id.unwrap()).collect::<Vec<_>>(),
        vec![0, 1]
    );
}
