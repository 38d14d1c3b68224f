use std::time::Duration;

use contree_mock::{FaultRule, MockServer};
use http::Method;
use serde_json::{Value, json};

use crate::common::{Client, SseReader, setup};

fn types(evs: &[Value]) -> Vec<String> {
    evs.iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn lifecycle_order_ids_and_filters() {
    let (_s, c) = setup().await;
    let op = c.run("echo out; echo err >&2").await;
    c.wait(&op).await;
    let evs = c.events(&op, "").await;
    let ids: Vec<u64> = evs.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(
        ids,
        (0..evs.len() as u64).collect::<Vec<_>>(),
        "ids start at 0, no gaps here"
    );
    let t = types(&evs);
    assert_eq!(&t[..3], &["init", "network", "spawn"]);
    assert_eq!(&t[t.len() - 3..], &["exit", "shutdown", "completion"]);
    assert!(t.contains(&"stdout".to_string()) && t.contains(&"stderr".to_string()));
    assert_eq!(evs[0]["spid"], 0);
    assert_eq!(evs[2]["spid"], 1);
    let completion = evs.last().unwrap();
    assert!(completion.get("spid").is_none(), "completion has no spid");
    assert_eq!(completion["data"]["status"], "SUCCESS");
    assert_eq!(t.iter().filter(|x| *x == "completion").count(), 1);

    let only1 = c.events(&op, "?spid=1").await;
    assert!(only1.iter().all(|e| e["spid"] == 1));
    assert_eq!(types(&only1).first().map(String::as_str), Some("spawn"));
    assert_eq!(types(&only1).last().map(String::as_str), Some("exit"));
    let since = c.events(&op, "?since=2").await;
    assert_eq!(since[0]["id"], 3);
    // Last-Event-Id wins over since.
    let r = c
        .send(
            "GET",
            &format!("/operations/{op}/events?since=0"),
            &[("last-event-id", "4")],
            None,
        )
        .await;
    let frames = crate::common::parse_sse(&r.text());
    assert_eq!(frames[0].id, Some(5));
    // follow=1 on a terminal operation ends after the last event.
    assert_eq!(c.events(&op, "?follow=1").await.len(), evs.len());
    assert_eq!(c.events(&op, "?follow").await.len(), evs.len());

    c.get(&format!("/operations/{op}/events?since=abc"))
        .await
        .expect_error(400);
    c.get(&format!("/operations/{op}/events?follow=yes"))
        .await
        .expect_error(400);
    c.send(
        "GET",
        &format!("/operations/{op}/events"),
        &[("last-event-id", "x")],
        None,
    )
    .await
    .expect_error(400);
    c.get("/operations/00000000-0000-4000-8000-000000000000/events")
        .await
        .expect_error(404);
    c.get("/operations/nope/events").await.expect_error(400);
}

#[tokio::test]
async fn no_network_event_without_networking() {
    let (_s, c) = setup().await;
    let op = c
        .spawn(json!({"command": "true", "image": "tag:busybox:latest", "networking": {"enabled": false}}))
        .await;
    c.wait(&op).await;
    let t = types(&c.events(&op, "").await);
    assert!(!t.contains(&"network".to_string()), "{t:?}");
}

/// Live following (plain and gzip): events arrive while the process runs.
#[tokio::test]
async fn follow_streams_live_events_with_and_without_gzip() {
    for gzip in [false, true] {
        let (_s, c) = setup().await;
        let c = if gzip { c.gzip() } else { c };
        let op = c
            .spawn(json!({"command": "cat", "image": "tag:busybox:latest",
                          "stdin": {"value": "", "close": false}}))
            .await;
        c.wait_status(&op, "EXECUTING").await;
        let resp = c
            .open(
                "GET",
                &format!("/operations/{op}/events?follow=1"),
                &[],
                None,
            )
            .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers().get("content-encoding").is_some(), gzip);
        let mut sse = SseReader::new(resp);
        // Read up to the spawn event, then feed stdin and see the echo arrive live.
        loop {
            let f = sse.next().await.expect("frame");
            if f.event.as_deref() == Some("spawn") {
                break;
            }
        }
        let r = c
            .post_json(
                &format!("/operations/{op}/subprocesses/1/stdin"),
                json!({"value": "live\n", "close": false}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
        let mut seen = Vec::new();
        loop {
            let f = sse.next().await.expect("frame");
            let ty = f.event.clone().unwrap_or_default();
            seen.push(ty.clone());
            if ty == "stdout" {
                assert_eq!(f.data_json.unwrap()["data"]["value"], "live\n");
                break;
            }
        }
        assert!(
            seen.contains(&"stdin".to_string()),
            "stdin is recorded: {seen:?}"
        );
        let r = c
            .post_json(
                &format!("/operations/{op}/subprocesses/1/stdin"),
                json!({"value": ""}),
            )
            .await;
        assert_eq!(r.status, 204);
        let mut rest = Vec::new();
        while let Some(f) = sse.next().await {
            rest.push(f.event.unwrap_or_default());
        }
        assert!(!sse.broken, "a gzip stream must end with its trailer");
        assert_eq!(
            rest.last().map(String::as_str),
            Some("completion"),
            "{rest:?}"
        );
    }
}

#[tokio::test]
async fn keepalive_comments_while_idle() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .keepalive(Duration::from_millis(20))
        .start()
        .await;
    let c = Client::new(&server);
    let op = c
        .spawn(json!({"command": "cat", "image": "tag:busybox:latest", "stdin": {"value": "", "close": false}}))
        .await;
    c.wait_status(&op, "EXECUTING").await;
    let mut sse = SseReader::new(
        c.open(
            "GET",
            &format!("/operations/{op}/events?follow=1"),
            &[],
            None,
        )
        .await,
    );
    loop {
        let f = sse.next().await.unwrap();
        if f.comment.as_deref() == Some("keepalive") {
            assert!(f.event.is_none() && f.id.is_none());
            break;
        }
    }
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
}

#[tokio::test]
async fn too_early_before_assigned() {
    let server = MockServer::builder()
        .latency(Duration::from_secs(5))
        .start()
        .await;
    let c = Client::new(&server);
    let op = c.run("true").await;
    let r = c.get(&format!("/operations/{op}/events")).await;
    r.expect_error(425);
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    let v = c
        .get(&format!("/operations/{op}"))
        .await
        .expect(200, "OperationResponse");
    assert_eq!(v["status"], "PENDING");
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
}

#[tokio::test]
async fn sse_error_and_cut_stream_faults_resume_with_last_event_id() {
    let (server, c) = setup().await;
    let op = c.run("echo a").await;
    c.wait(&op).await;
    let all = c.events(&op, "").await;
    server.inject(FaultRule::new(Method::GET, "/v1/operations/").sse_error_after(2));
    let r = c.get(&format!("/operations/{op}/events")).await;
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.contains(
            ": stream ended with error, retry since last event id\n\nevent: sse_error\ndata: "
        ),
        "{text}"
    );
    let frames = crate::common::parse_sse(&text);
    let ids: Vec<u64> = frames.iter().filter_map(|f| f.id).collect();
    assert_eq!(ids, vec![0, 1]);
    let err = frames.last().unwrap();
    assert_eq!(err.event.as_deref(), Some("sse_error"));
    assert!(err.id.is_none());
    let r = c
        .send(
            "GET",
            &format!("/operations/{op}/events"),
            &[("last-event-id", "1")],
            None,
        )
        .await;
    let rest = crate::common::parse_sse(&r.text());
    assert_eq!(rest.len(), all.len() - 2);
    assert_eq!(rest[0].id, Some(2));

    server.inject(FaultRule::new(Method::GET, "/v1/operations/").cut_stream_after(1));
    let r = c.get(&format!("/operations/{op}/events")).await;
    assert_eq!(crate::common::parse_sse(&r.text()).len(), 1);
    // extra_fields adds unknown members to events; they still parse.
    server.inject(FaultRule::new(Method::GET, "/v1/operations/").extra_fields());
    let r = c.get(&format!("/operations/{op}/events")).await;
    assert!(r.text().contains("x_mock_unknown_field"));
    // 410 with Retry-After, as the service sends while finalising.
    server.inject(
        FaultRule::new(Method::GET, "/v1/operations/")
            .status(410)
            .retry_after(2),
    );
    let r = c.get(&format!("/operations/{op}/events")).await;
    r.expect_error(410);
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
}
