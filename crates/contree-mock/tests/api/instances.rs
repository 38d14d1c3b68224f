use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::{Client, setup};

fn stdout(v: &Value) -> String {
    repr(&v["metadata"]["result"]["stdout"])
}

fn stderr(v: &Value) -> String {
    repr(&v["metadata"]["result"]["stderr"])
}

fn repr(s: &Value) -> String {
    match s["encoding"].as_str() {
        Some("base64") => String::from_utf8_lossy(
            &base64::engine::general_purpose::STANDARD
                .decode(s["value"].as_str().unwrap())
                .unwrap(),
        )
        .into_owned(),
        _ => s["value"].as_str().unwrap().to_string(),
    }
}

async fn upload(c: &Client, data: &[u8]) -> String {
    let v = c
        .send(
            "POST",
            "/files",
            &[],
            Some(bytes::Bytes::copy_from_slice(data)),
        )
        .await
        .expect(201, "FileResponse");
    v["uuid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn echo_runs_and_an_unchanged_image_keeps_its_uuid() {
    let (_s, c) = setup().await;
    let r = c
        .post_json(
            "/instances",
            json!({"command": "echo hello", "image": "tag:busybox:latest", "shell": true}),
        )
        .await;
    let echo = r.expect(201, "InstanceSpawnResponse");
    // The echo is normalised: image resolved, defaults filled, no result yet.
    assert!(uuid::Uuid::parse_str(echo["image"].as_str().unwrap()).is_ok());
    assert_eq!(echo["hostname"], "linuxkit");
    assert_eq!(echo["args"], json!([]));
    assert_eq!(echo["cwd"], "");
    assert_eq!(echo["uid"], 0);
    assert_eq!(echo["truncate_output_at"], 1_048_576);
    assert_eq!(echo["disposable"], false);
    assert!(echo["result"].is_null());
    let v = c.wait(echo["uuid"].as_str().unwrap()).await;
    assert_eq!(v["status"], "SUCCESS");
    assert_eq!(v["kind"], "instance");
    assert_eq!(stdout(&v), "hello\n");
    assert_eq!(v["metadata"]["result"]["state"]["exit_code"], 0);
    assert_eq!(v["metadata"]["command"], "echo hello");
    assert_eq!(v["metadata"]["image"], echo["image"]);
    // Nothing written: the result image is the source image.
    assert_eq!(v["result_image_uuid"], echo["image"]);
    assert_eq!(v["result"]["image"], echo["image"]);
    assert_eq!(v["image_uuid"], echo["image"]);
    // SUCCESS does not mean exit 0.
    let v = c.wait(&c.run("echo oops >&2; exit 3").await).await;
    assert_eq!(v["status"], "SUCCESS");
    assert_eq!(v["metadata"]["result"]["state"]["exit_code"], 3);
    assert_eq!(stderr(&v), "oops\n");
    let v = c.wait(&c.run("definitely-not-a-command").await).await;
    assert_eq!(v["metadata"]["result"]["state"]["exit_code"], 127);
    assert!(
        stderr(&v).contains("definitely-not-a-command: not found"),
        "{}",
        stderr(&v)
    );
}

#[tokio::test]
async fn writes_make_new_content_addressed_images() {
    let (_s, c) = setup().await;
    let a = c.wait(&c.run("echo one > /f.txt").await).await;
    let b = c.wait(&c.run("echo one > /f.txt").await).await;
    let other = c.wait(&c.run("echo two > /f.txt").await).await;
    let img = a["result_image_uuid"].as_str().unwrap();
    assert_ne!(a["result_image_uuid"], a["image_uuid"]);
    assert_eq!(
        a["result_image_uuid"], b["result_image_uuid"],
        "same content, same UUID"
    );
    assert_ne!(a["result_image_uuid"], other["result_image_uuid"]);
    assert!(a["image_size"].as_i64().unwrap() > 0);
    // The new image is runnable and has the file.
    let v = c
        .wait(
            &c.spawn(json!({"command": "cat /f.txt", "image": img, "shell": true}))
                .await,
        )
        .await;
    assert_eq!(stdout(&v), "one\n");
    assert_eq!(v["result_image_uuid"], img, "reading changes nothing");
    let dl = c.get(&format!("/inspect/{img}/download?path=/f.txt")).await;
    assert_eq!(dl.status, 200);
    assert_eq!(&dl.body[..], b"one\n");
}

#[tokio::test]
async fn disposable_runs_have_no_result_image() {
    let (_s, c) = setup().await;
    let op = c
        .spawn(json!({"command": "echo x > /y", "image": "tag:busybox:latest", "shell": true, "disposable": true}))
        .await;
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "SUCCESS");
    assert!(v["result_image_uuid"].is_null());
    assert!(v["result"]["image"].is_null());
    let evs = c.events(&op, "").await;
    let completion = evs.last().unwrap();
    assert_eq!(completion["type"], "completion");
    assert!(completion["data"]["result_image_uuid"].is_null());
    assert_eq!(completion["data"]["image_size_bytes"], 0);
}

#[tokio::test]
async fn files_env_cwd_ids_hostname_and_stdin() {
    let (_s, c) = setup().await;
    let fid = upload(&c, b"payload\n").await;
    let op = c
        .spawn(json!({
            "command": "cat /root/in.txt; echo $FOO; pwd; echo $HOSTNAME; touch made; cat",
            "image": "tag:busybox:latest",
            "shell": true,
            "env": {"FOO": "bar"},
            "cwd": "/work/dir",
            "uid": 1000,
            "gid": 1001,
            "hostname": "box",
            "stdin": {"value": base64::engine::general_purpose::STANDARD.encode("from stdin"), "encoding": "base64"},
            "files": {"/root/in.txt": {"uuid": fid, "uid": 7, "gid": 8, "mode": "0600"}},
        }))
        .await;
    let v = c.wait(&op).await;
    assert_eq!(stdout(&v), "payload\nbar\n/work/dir\nbox\nfrom stdin");
    let img = v["result_image_uuid"].as_str().unwrap();
    let root = c
        .get(&format!("/inspect/{img}/list?path=/root"))
        .await
        .expect(200, "DirectoryList");
    let f = root["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "in.txt")
        .unwrap();
    assert_eq!(f["mode"], 0o100600);
    assert_eq!((f["uid"].as_i64(), f["gid"].as_i64()), (Some(7), Some(8)));
    let dir = c
        .get(&format!("/inspect/{img}/list?path=/work/dir"))
        .await
        .expect(200, "DirectoryList");
    let made = dir["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "made")
        .unwrap();
    assert_eq!(
        (made["uid"].as_i64(), made["gid"].as_i64()),
        (Some(1000), Some(1001))
    );
    let spawn = c
        .events(&op, "?spid=1")
        .await
        .into_iter()
        .find(|e| e["type"] == "spawn")
        .unwrap();
    assert_eq!(spawn["data"]["uid"], 1000);
    assert_eq!(spawn["data"]["cwd"], "/work/dir");
    assert_eq!(spawn["data"]["command"], "/bin/sh");
    assert_eq!(
        spawn["data"]["args"],
        json!([
            "-c",
            "cat /root/in.txt; echo $FOO; pwd; echo $HOSTNAME; touch made; cat"
        ])
    );
}

#[tokio::test]
async fn non_shell_commands_and_env_inheritance() {
    let (_s, c) = setup().await;
    let v = c
        .wait(
            &c.spawn(
                json!({"command": "echo", "args": ["a", "b c"], "image": "tag:busybox:latest"}),
            )
            .await,
        )
        .await;
    assert_eq!(stdout(&v), "a b c\n");
    // Secrets are masked in spawn events.
    let op = c
        .spawn(json!({"command": "true", "image": "tag:busybox:latest", "env": {"API_TOKEN": "s3cret", "X": "1"}}))
        .await;
    c.wait(&op).await;
    let spawn = c
        .events(&op, "")
        .await
        .into_iter()
        .find(|e| e["type"] == "spawn")
        .unwrap();
    assert_eq!(spawn["data"]["env"]["API_TOKEN"], "<MASKED>");
    assert_eq!(spawn["data"]["env"]["X"], "1");
}

#[tokio::test]
async fn timeout_kills_and_sets_timed_out() {
    let (_s, c) = setup().await;
    let op = c
        .spawn(json!({"command": "echo started; sleep 30", "image": "tag:busybox:latest", "shell": true, "timeout": 1}))
        .await;
    let v = c.wait(&op).await;
    let state = &v["metadata"]["result"]["state"];
    assert_eq!(state["timed_out"], true);
    assert_eq!(state["exit_code"], -1);
    assert_eq!(state["signal"], 9);
    assert_eq!(stdout(&v), "started\n");
    let evs = c.events(&op, "").await;
    let exit = evs.iter().find(|e| e["type"] == "exit").unwrap();
    assert_eq!(exit["data"]["timed_out"], true);
    assert_eq!(exit["data"]["code"], -1);
    let shutdown = evs.iter().find(|e| e["type"] == "shutdown").unwrap();
    assert_eq!(shutdown["data"]["reason"], "timeout");
}

#[tokio::test]
async fn truncate_output_at_caps_streams() {
    let (_s, c) = setup().await;
    let op = c
        .spawn(
            json!({"command": "echo 0123456789; echo ok >&2", "image": "tag:busybox:latest",
                      "shell": true, "truncate_output_at": 4}),
        )
        .await;
    let v = c.wait(&op).await;
    let out = &v["metadata"]["result"]["stdout"];
    assert_eq!(out["value"], "0123");
    assert_eq!(out["truncated"], true);
    assert_eq!(v["metadata"]["result"]["stderr"]["truncated"], false);
    let evs = c.events(&op, "").await;
    let emitted: String = evs
        .iter()
        .filter(|e| e["type"] == "stdout")
        .map(|e| e["data"]["value"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(emitted, "0123");
    let t: Vec<&Value> = evs.iter().filter(|e| e["type"] == "truncated").collect();
    assert_eq!(t.len(), 1);
    assert_eq!(
        t[0]["data"],
        json!({"stream": "stdout", "bytes_emitted": 4, "bytes_dropped": 7})
    );
    // The truncated event comes before exit.
    let pos = |ty: &str| evs.iter().position(|e| e["type"] == ty).unwrap();
    assert!(pos("truncated") < pos("exit"));
}

#[tokio::test]
async fn invalid_spawn_requests_are_400() {
    let (_s, c) = setup().await;
    let bad = [
        json!({"command": "true"}),
        json!({"image": "tag:busybox:latest"}),
        json!({"command": "true", "image": "busybox:latest"}),
        json!({"command": "true", "image": "tag:no-such:tag"}),
        json!({"command": "true", "image": "00000000-0000-4000-8000-000000000000"}),
        json!({"command": "true", "image": "tag:busybox:latest", "cwd": "relative"}),
        json!({"command": "true", "image": "tag:busybox:latest", "uid": -1}),
        json!({"command": "true", "image": "tag:busybox:latest", "timeout": 0}),
        json!({"command": "true", "image": "tag:busybox:latest", "stdin": {"value": "!!", "encoding": "base64"}}),
        json!({"command": "true", "image": "tag:busybox:latest",
               "files": {"/x": {"uuid": "00000000-0000-4000-8000-000000000000"}}}),
        json!({"command": "true", "image": "tag:busybox:latest", "files": {"/x": {"uuid": "nope"}}}),
    ];
    for b in bad {
        c.post_json("/instances", b.clone()).await.expect_error(400);
    }
    c.send("POST", "/instances", &[], Some("not json".into()))
        .await
        .expect_error(400);
    let fid = upload(&c, b"x").await;
    c.post_json(
        "/instances",
        json!({"command": "true", "image": "tag:busybox:latest", "files": {"/x": {"uuid": fid, "mode": "rw"}}}),
    )
    .await
    .expect_error(400);
    let ops = c.get("/operations").await.json();
    assert!(
        ops.as_array().unwrap().is_empty(),
        "rejected spawns create no operation"
    );
}
