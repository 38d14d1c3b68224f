//! `run` with `wait=true`: output lines as progress notifications, in order, then the
//! final output; cancelling the request cancels the operation.

mod common;

use std::time::Duration;

use common::{Client, Recorder, World};
use rmcp::model::{CallToolRequestParams, ClientRequest, Request, ServerResult};
use rmcp::service::PeerRequestOptions;
use serde_json::json;

async fn start_run(
    c: &Client,
    args: serde_json::Value,
) -> rmcp::service::RequestHandle<rmcp::RoleClient> {
    let serde_json::Value::Object(args) = args else {
        unreachable!()
    };
    c.send_cancellable_request(
        ClientRequest::CallToolRequest(Request::new(
            CallToolRequestParams::new("run").with_arguments(args),
        )),
        PeerRequestOptions::no_options(),
    )
    .await
    .unwrap()
}

async fn messages(rec: &Recorder, at_least: usize) -> Vec<String> {
    // Notifications are handled apart from the response: wait (bounded) until they are in.
    for _ in 0..100 {
        let got: Vec<String> = rec
            .progress
            .lock()
            .unwrap()
            .iter()
            .filter_map(|p| p.message.clone())
            .collect();
        if got.len() >= at_least {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    rec.progress
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| p.message.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_lines_arrive_as_progress_in_order_then_the_final_output() {
    let w = World::new().await;
    let (c, rec) = w.stdio().await;
    let handle = start_run(
        &c,
        json!({"image": "ubuntu:latest", "command": "for i in 1 2 3; do echo $i; sleep 0.2; done"}),
    )
    .await;
    let token = handle.progress_token.clone();
    let resp = handle.await_response().await.unwrap();
    let ServerResult::CallToolResult(result) = resp else {
        panic!("not a tool result: {resp:?}")
    };
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let out = result.structured_content.unwrap();
    assert_eq!(out["stdout"], "1\n2\n3\n");
    assert_eq!(out["exit_code"], 0);
    assert_eq!(messages(&rec, 3).await, vec!["1", "2", "3"]);
    let progress = rec.progress.lock().unwrap().clone();
    assert!(
        progress.iter().all(|p| p.progress_token == token),
        "notifications carry the request's token"
    );
    assert!(
        progress.windows(2).all(|w| w[0].progress < w[1].progress),
        "progress increases"
    );
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_lines_are_marked() {
    let w = World::new().await;
    let (c, rec) = w.stdio().await;
    let handle = start_run(
        &c,
        json!({"image": "ubuntu:latest", "command": "echo out; echo err >&2; printf tail"}),
    )
    .await;
    handle.await_response().await.unwrap();
    let got = messages(&rec, 3).await;
    assert!(
        got.contains(&"out".to_string())
            && got.contains(&"[stderr] err".to_string())
            && got.contains(&"tail".to_string()),
        "{got:?}"
    );
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_the_request_cancels_the_operation() {
    let w = World::new().await;
    let (c, rec) = w.stdio().await;
    let handle = start_run(&c, json!({"image": "ubuntu:latest", "command": "echo started; sleep 30; echo never", "timeout": 60})).await;
    // The first line proves the run is executing.
    assert_eq!(
        messages(&rec, 1).await.first().map(String::as_str),
        Some("started")
    );
    handle.cancel(Some("test".into())).await.unwrap();
    let info = w.latest_operation_ended().await;
    assert_eq!(info.status, contree::OperationStatus::Cancelled, "{info:?}");
    c.cancel().await.unwrap();
}
