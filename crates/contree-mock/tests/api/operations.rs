use std::time::Duration;

use contree_mock::MockServer;
use serde_json::json;

use crate::common::{Client, setup};
use crate::schema;

#[tokio::test]
async fn list_is_a_bare_array_with_filters_and_pagination() {
    let (_s, c) = setup().await;
    let a = c.run("true").await;
    let b = c.run("exit 1").await;
    c.wait(&a).await;
    c.wait(&b).await;
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "docker://nope/nothing"}}),
        )
        .await;
    let imp = r.json()["uuid"].as_str().unwrap().to_string();
    c.wait(&imp).await;
    let list_schema =
        json!({"type": "array", "items": {"$ref": "#/components/schemas/OperationSummary"}});
    let all = c.get("/operations").await;
    assert_eq!(all.status, 200);
    let all = all.json();
    schema::validate_with("listOperations200", list_schema.clone(), &all);
    assert_eq!(all.as_array().unwrap().len(), 3);
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|o| o["uuid"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&c.get("/operations?kind=instance").await.json()),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(
        ids(&c.get("/operations?kind=image_import").await.json()),
        vec![imp.clone()]
    );
    assert_eq!(
        ids(&c.get("/operations?status=FAILED").await.json()),
        vec![imp.clone()]
    );
    assert_eq!(
        c.get("/operations?status=SUCCESS")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(
        c.get("/operations?status=PENDING")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&c.get("/operations?limit=1&offset=1").await.json()),
        vec![b.clone()]
    );
    assert!(
        c.get("/operations?since=2099-01-01T00:00:00Z")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.get("/operations?since=1h&until=1")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        c.get("/operations?since=1h")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for bad in [
        "?status=success",
        "?kind=other",
        "?limit=0",
        "?offset=x",
        "?until=later",
    ] {
        c.get(&format!("/operations{bad}")).await.expect_error(400);
    }
    let one = c
        .get(&format!("/operations/{b}"))
        .await
        .expect(200, "OperationResponse");
    schema::operation(&one);
    assert_eq!(one["metadata"]["result"]["state"]["exit_code"], 1);
    assert!(one["duration"].as_f64().unwrap() >= 0.0);
    c.get("/operations/00000000-0000-4000-8000-000000000000")
        .await
        .expect_error(404);
    c.get("/operations/not-a-uuid").await.expect_error(400);
    c.get(&format!("/operations/{b}?inflight=2"))
        .await
        .expect_error(400);
}

#[tokio::test]
async fn inflight_shows_partial_output() {
    let (_s, c) = setup().await;
    let op = c
        .spawn(json!({"command": "cat", "image": "tag:busybox:latest", "stdin": {"value": "partial", "close": false}}))
        .await;
    c.wait_status(&op, "EXECUTING").await;
    let fut = async {
        loop {
            let v = c
                .get(&format!("/operations/{op}?inflight=1"))
                .await
                .expect(200, "OperationResponse");
            schema::operation(&v);
            let r = &v["metadata"]["result"];
            if r["stdout"]["value"] == "partial" {
                assert_eq!(r["state"]["exit_code"], -1);
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("partial output");
    let plain = c.get(&format!("/operations/{op}")).await.json();
    assert!(
        plain["metadata"]["result"].is_null(),
        "result is null without inflight while running"
    );
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
}

#[tokio::test]
async fn cancel_running_and_pending_operations() {
    let (_s, c) = setup().await;
    let op = c.run("sleep 30").await;
    c.wait_status(&op, "EXECUTING").await;
    let r = c.delete(&format!("/operations/{op}")).await;
    assert_eq!(r.status, 202);
    assert!(r.body.is_empty());
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "CANCELLED");
    assert!(v["result_image_uuid"].is_null());
    assert!(v["error"].is_string());
    let evs = c.events(&op, "").await;
    let last = evs.last().unwrap();
    assert_eq!(last["type"], "completion");
    assert_eq!(last["data"]["status"], "CANCELLED");
    assert!(last["data"]["error"].is_string());
    c.delete(&format!("/operations/{op}"))
        .await
        .expect_error(409);
    c.delete("/operations/00000000-0000-4000-8000-000000000000")
        .await
        .expect_error(404);
    c.delete("/operations/bad").await.expect_error(400);

    let server = MockServer::builder()
        .latency(Duration::from_secs(5))
        .start()
        .await;
    let slow = Client::new(&server);
    let op = slow.run("true").await;
    assert_eq!(slow.delete(&format!("/operations/{op}")).await.status, 202);
    let v = slow.wait(&op).await;
    assert_eq!(v["status"], "CANCELLED");
    let evs = slow.events(&op, "").await;
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0]["type"], "completion");
}

/// The state machine passes through ASSIGNED and EXECUTING.
#[tokio::test]
async fn states_progress_in_order() {
    let server = MockServer::builder()
        .latency(Duration::from_millis(200))
        .start()
        .await;
    let c = Client::new(&server);
    // Raw request: no schema compilation between the spawn and the first poll.
    let r = c
        .post_json(
            "/instances",
            json!({"command": "sleep 0.2", "image": "tag:busybox:latest", "shell": true}),
        )
        .await;
    let op = r.json()["uuid"].as_str().unwrap().to_string();
    let mut seen = vec![];
    let fut = async {
        loop {
            let s = c.get(&format!("/operations/{op}")).await.json()["status"]
                .as_str()
                .unwrap()
                .to_string();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == "SUCCESS" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap();
    assert_eq!(seen, ["PENDING", "ASSIGNED", "EXECUTING", "SUCCESS"]);
}
