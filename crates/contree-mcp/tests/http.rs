//! The server over streamable HTTP: the same tools, and local-file tools refused unless
//! `--allow-local-files` is given.

mod common;

use common::{World, fails, ok};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_over_http_and_local_files_refused_by_default() {
    let w = World::new().await;
    let (c, rec, _child, url) = w.http(&[]).await;
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    let tools = c.list_all_tools().await.unwrap();
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort();
    let mut expected = contree_mcp::TOOL_NAMES.to_vec();
    expected.sort();
    assert_eq!(names, expected);
    assert!(tools.iter().all(|t| t.output_schema.is_some()));

    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo hi"}),
    )
    .await;
    assert_eq!(out["stdout"], "hi\n");
    assert_eq!(
        ok(
            &c,
            "read_file",
            json!({"image": "ubuntu:latest", "path": "/etc/hostname"})
        )
        .await["content"],
        "ubuntu\n"
    );
    let msg = |m: String| assert!(m.contains("--allow-local-files"), "{m}");
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("hostname");
    msg(fails(
        &c,
        "download",
        json!({"image": "ubuntu:latest", "path": "/etc/hostname", "destination": dest}),
    )
    .await);
    assert!(!dest.exists(), "nothing was written");
    msg(fails(
        &c,
        "rsync",
        json!({"source": dir.path(), "destination": "/app"}),
    )
    .await);
    msg(fails(&c, "upload", json!({"path": "/etc/hostname"})).await);
    assert_eq!(
        ok(&c, "upload", json!({"content": "in memory is fine"})).await["size"],
        17
    );
    let _ = rec;
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_local_files_enables_download_over_http() {
    let w = World::new().await;
    let (c, rec, _child, _url) = w.http(&["--allow-local-files"]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("hostname");
    let d = ok(
        &c,
        "download",
        json!({"image": "ubuntu:latest", "path": "/etc/hostname", "destination": dest}),
    )
    .await;
    assert_eq!(d["success"], true);
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "ubuntu\n");
    // Progress notifications reach an HTTP client too.
    let handle = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "for i in 1 2 3; do echo $i; sleep 0.2; done"}),
    )
    .await;
    assert_eq!(handle["stdout"], "1\n2\n3\n");
    for _ in 0..100 {
        if rec.progress.lock().unwrap().len() >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let got: Vec<String> = rec
        .progress
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| p.message.clone())
        .collect();
    assert_eq!(got, vec!["1", "2", "3"]);
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_over_http_cancels_the_operation() {
    use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
    let w = World::new().await;
    let (c, rec, _child, _url) = w.http(&[]).await;
    let serde_json::Value::Object(args) =
        json!({"image": "ubuntu:latest", "command": "echo started; sleep 30", "timeout": 60})
    else {
        unreachable!()
    };
    let handle = c
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(
                CallToolRequestParams::new("run").with_arguments(args),
            )),
            rmcp::service::PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    for _ in 0..200 {
        if !rec.progress.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        !rec.progress.lock().unwrap().is_empty(),
        "the run started and printed"
    );
    handle.cancel(Some("test".into())).await.unwrap();
    let info = w.latest_operation_ended().await;
    assert_eq!(info.status, contree::OperationStatus::Cancelled, "{info:?}");
    c.cancel().await.unwrap();
}
