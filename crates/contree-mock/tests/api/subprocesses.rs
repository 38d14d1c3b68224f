use std::time::Duration;

use contree_mock::MockServer;
use serde_json::{Value, json};

use crate::common::{Client, Reply, setup};
use crate::schema;

async fn long_running(c: &Client) -> String {
    let op = c
        .spawn(json!({"command": "cat", "image": "tag:busybox:latest", "stdin": {"value": "", "close": false}}))
        .await;
    c.wait_status(&op, "EXECUTING").await;
    op
}

async fn create(c: &Client, op: &str, body: Value) -> u64 {
    let r = c
        .post_json(&format!("/operations/{op}/subprocesses"), body)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let v = r.json();
    schema::validate_with(
        "subprocessCreate201",
        json!({"type": "object", "required": ["spid"], "properties": {"spid": {"type": "integer", "minimum": 2}}}),
        &v,
    );
    let spid = v["spid"].as_u64().unwrap();
    assert_eq!(
        r.header("location"),
        Some(format!("/v1/operations/{op}/subprocesses/{spid}"))
    );
    spid
}

async fn result(c: &Client, op: &str, spid: u64) -> Value {
    let fut = async {
        loop {
            let v = c
                .get(&format!("/operations/{op}/subprocesses/{spid}"))
                .await
                .expect(200, "InstanceResult");
            if v["state"]["exit_code"] != -1 || v["state"]["signal"] != -1 {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("subprocess exited")
}

#[tokio::test]
async fn exec_stdin_and_kill_in_a_running_instance() {
    let (_s, c) = setup().await;
    let op = long_running(&c).await;
    let spid = create(
        &c,
        &op,
        json!({"command": "echo sub; pwd", "shell": true, "cwd": "/tmp"}),
    )
    .await;
    assert_eq!(spid, 2);
    let v = result(&c, &op, spid).await;
    assert_eq!(v["stdout"]["value"], "sub\n/tmp\n");
    assert_eq!(v["state"]["exit_code"], 0);
    let evs = c.events(&op, "?spid=2").await;
    assert!(evs.iter().all(|e| e["spid"] == 2));
    let t: Vec<&str> = evs.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(t.first(), Some(&"spawn"));
    assert_eq!(t.last(), Some(&"exit"));
    assert!(t[1..t.len() - 1].iter().all(|x| *x == "stdout"), "{t:?}");

    // Streamed stdin.
    let spid = create(
        &c,
        &op,
        json!({"command": "cat", "stdin": {"value": "a", "close": false}}),
    )
    .await;
    assert_eq!(spid, 3);
    for chunk in ["b", "c"] {
        let r = c
            .post_json(
                &format!("/operations/{op}/subprocesses/{spid}/stdin"),
                json!({"value": chunk, "close": false}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = c
        .post_json(
            &format!("/operations/{op}/subprocesses/{spid}/stdin"),
            json!({"value": "ZA==", "encoding": "base64"}),
        )
        .await;
    assert_eq!(r.status, 204);
    let v = result(&c, &op, spid).await;
    assert_eq!(v["stdout"]["value"], "abcd");
    // Closed stdin → 409; unknown spid → 404; bad body → 400.
    let closed = c
        .post_json(
            &format!("/operations/{op}/subprocesses/{spid}/stdin"),
            json!({"value": "x"}),
        )
        .await;
    assert!(matches!(closed.status, 404 | 409), "{}", closed.status);
    c.post_json(
        &format!("/operations/{op}/subprocesses/99/stdin"),
        json!({"value": "x"}),
    )
    .await
    .expect_error(404);
    c.post_json(
        &format!("/operations/{op}/subprocesses/1/stdin"),
        json!({"encoding": 5}),
    )
    .await
    .expect_error(400);
    // A process spawned without close=false has its stdin at EOF already.
    let spid = create(&c, &op, json!({"command": "sleep", "args": ["30"]})).await;
    c.post_json(
        &format!("/operations/{op}/subprocesses/{spid}/stdin"),
        json!({"value": "x"}),
    )
    .await
    .expect_error(409);
    // Kill with a signal name.
    c.delete(&format!(
        "/operations/{op}/subprocesses/{spid}?signal=BOGUS"
    ))
    .await
    .expect_error(400);
    let r = c
        .delete(&format!(
            "/operations/{op}/subprocesses/{spid}?signal=SIGTERM"
        ))
        .await;
    assert_eq!(r.status, 204);
    let v = result(&c, &op, spid as u64).await;
    assert_eq!(v["state"]["exit_code"], -1);
    assert_eq!(v["state"]["signal"], 15);
    let exit = c
        .events(&op, &format!("?spid={spid}"))
        .await
        .into_iter()
        .find(|e| e["type"] == "exit")
        .unwrap();
    assert_eq!(
        (
            exit["data"]["code"].as_i64(),
            exit["data"]["signal"].as_i64()
        ),
        (Some(-1), Some(15))
    );
    assert_eq!(exit["data"]["timed_out"], false);
    c.delete(&format!("/operations/{op}/subprocesses/{spid}"))
        .await
        .expect_error(404);
    c.get(&format!("/operations/{op}/subprocesses/77"))
        .await
        .expect_error(404);
    c.get(&format!("/operations/{op}/subprocesses/0"))
        .await
        .expect_error(400);

    // Killing spid 1 ends the operation.
    assert_eq!(
        c.delete(&format!("/operations/{op}/subprocesses/1?signal=15"))
            .await
            .status,
        204
    );
    let v = c.wait(&op).await;
    assert_eq!(v["metadata"]["result"]["state"]["signal"], 15);
    let evs = c.events(&op, "").await;
    let shutdown = evs.iter().find(|e| e["type"] == "shutdown").unwrap();
    assert_eq!(shutdown["data"]["reason"], "signal");
    // After the end: create 409, stdin 410, kill 409, get still works.
    c.post_json(
        &format!("/operations/{op}/subprocesses"),
        json!({"command": "true"}),
    )
    .await
    .expect_error(409);
    let r = c
        .post_json(
            &format!("/operations/{op}/subprocesses/1/stdin"),
            json!({"value": "x"}),
        )
        .await;
    assert_eq!(r.status, 410);
    c.delete(&format!("/operations/{op}/subprocesses/1"))
        .await
        .expect_error(409);
    c.get(&format!("/operations/{op}/subprocesses/1"))
        .await
        .expect(200, "InstanceResult");
}

#[tokio::test]
async fn subprocess_endpoints_are_too_early_before_assignment() {
    let server = MockServer::builder()
        .latency(Duration::from_secs(5))
        .start()
        .await;
    let c = Client::new(&server);
    let op = c.run("true").await;
    for r in [
        c.post_json(
            &format!("/operations/{op}/subprocesses"),
            json!({"command": "true"}),
        )
        .await,
        c.get(&format!("/operations/{op}/subprocesses/1")).await,
        c.delete(&format!("/operations/{op}/subprocesses/1")).await,
        c.post_json(
            &format!("/operations/{op}/subprocesses/1/stdin"),
            json!({"value": ""}),
        )
        .await,
    ] {
        assert_eq!(r.status, 425, "{}", r.text());
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    }
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
    c.wait(&op).await;
    // Cancelled operations drop their process events.
    c.get(&format!("/operations/{op}/subprocesses/1"))
        .await
        .expect_error(404);
}

#[tokio::test]
async fn subprocesses_of_imports_conflict() {
    let (_s, c) = setup().await;
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "alpine:3.20"}}),
        )
        .await;
    let op = r.json()["uuid"].as_str().unwrap().to_string();
    c.wait(&op).await;
    c.post_json(
        &format!("/operations/{op}/subprocesses"),
        json!({"command": "true"}),
    )
    .await
    .expect_error(409);
    c.post_json(
        "/operations/00000000-0000-4000-8000-000000000000/subprocesses",
        json!({"command": "true"}),
    )
    .await
    .expect_error(404);
}

#[tokio::test]
async fn a_refused_create_uses_no_spid() {
    let (_s, c) = setup().await;
    let op = long_running(&c).await;
    let path = format!("/operations/{op}/subprocesses");
    c.post_json(&path, json!({"command": "true", "truncate_output_at": -1}))
        .await
        .expect_error(400);
    // Spids are monotonic and never reused; a refused create must not use one.
    assert_eq!(create(&c, &op, json!({"command": "true"})).await, 2);
    c.post_json(&path, json!({"command": "true", "cwd": "relative"}))
        .await
        .expect_error(400);
    assert_eq!(create(&c, &op, json!({"command": "true"})).await, 3);
}

/// The three subprocess endpoints that need a live instance, on spid 1 (create, stdin, kill).
async fn live_endpoints(c: &Client, op: &str) -> [Reply; 3] {
    let path = format!("/operations/{op}/subprocesses");
    [
        c.post_json(&path, json!({"command": "true"})).await,
        c.post_json(&format!("{path}/1/stdin"), json!({"value": "x"}))
            .await,
        c.delete(&format!("{path}/1")).await,
    ]
}

#[tokio::test]
async fn stdin_answers_from_the_same_check_as_create_and_kill() {
    // Pending: the same 425 from all three.
    let server = MockServer::builder()
        .latency(Duration::from_secs(5))
        .start()
        .await;
    let c = Client::new(&server);
    let op = c.run("true").await;
    let [create, stdin, kill] = live_endpoints(&c, &op).await;
    let early = create.expect_error(425);
    assert_eq!(stdin.expect_error(425), early);
    assert_eq!(kill.expect_error(425), early);
    // Finished: create and kill 409, stdin 410 (per the spec), with one message.
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
    c.wait(&op).await;
    let [create, stdin, kill] = live_endpoints(&c, &op).await;
    let done = create.expect_error(409);
    assert_eq!(kill.expect_error(409), done);
    assert_eq!(stdin.status, 410);
    assert_eq!(stdin.json()["error"], done["error"], "{}", stdin.text());
    // Not an instance: the same 409 from all three.
    let (_s, c) = setup().await;
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "alpine:3.20"}}),
        )
        .await;
    let import = r.json()["uuid"].as_str().unwrap().to_string();
    c.wait(&import).await;
    let [create, stdin, kill] = live_endpoints(&c, &import).await;
    let conflict = create.expect_error(409);
    assert_eq!(stdin.expect_error(409), conflict);
    assert_eq!(kill.expect_error(409), conflict);
}
