//! Answers as the real service gives them, where an OpenAPI fuzzer or the official Python
//! models found the mock too lenient or its messages untrue.

use std::time::Duration;

use contree_mock::MockServer;
use serde_json::json;

use crate::common::{Client, setup};

/// The keys the official SDK's `InstanceOperationMetadata` requires (`KeyError` otherwise).
const SDK_METADATA_KEYS: &[&str] = &[
    "args",
    "command",
    "cwd",
    "disposable",
    "env",
    "files",
    "hostname",
    "image",
    "result",
    "shell",
    "stdin",
    "timeout",
    "truncate_output_at",
];

#[tokio::test]
async fn a_pending_operation_has_a_numeric_duration_and_a_null_result() {
    let server = MockServer::builder()
        .latency(Duration::from_secs(30))
        .start()
        .await;
    let c = Client::new(&server);
    let op = c.run("echo hi").await;
    let r = c.get(&format!("/operations/{op}")).await;
    let v = r.expect(200, "OperationResponse");
    assert_eq!(v["status"], "PENDING");
    let d = v["duration"].as_f64().expect("a numeric duration");
    assert!((0.0..30.0).contains(&d), "{d}");
    let meta = v["metadata"].as_object().expect("metadata");
    for k in SDK_METADATA_KEYS {
        assert!(meta.contains_key(*k), "metadata lacks {k}: {v}");
    }
    assert!(meta["result"].is_null());
    assert!(meta["env"].is_object() && meta["files"].is_object());
    assert_eq!(meta["stdin"]["value"], "");
    assert_eq!(meta["timeout"], 3600);
    for k in ["error", "image_size", "result_image_uuid", "consumed_cpu"] {
        assert!(v.as_object().unwrap().contains_key(k), "lacks {k}: {v}");
    }
    let result = v["result"].as_object().expect("result");
    assert!(result["image"].is_null() && result["tag"].is_null());
    // A listing shows the same numeric duration.
    let list = c.get("/operations").await.json();
    assert!(list[0]["duration"].is_number(), "{list}");
}

#[tokio::test]
async fn a_running_process_reports_every_resource_key() {
    let (_s, c) = setup().await;
    let op = c.run("sleep 30").await;
    c.wait_status(&op, "EXECUTING").await;
    let v = c.get(&format!("/operations/{op}?inflight=1")).await.json();
    let res = v["metadata"]["result"]["resources"]
        .as_object()
        .expect("resources");
    assert_eq!(res.len(), 16, "{res:?}");
    assert_eq!(v["metadata"]["result"]["state"]["exit_code"], -1);
    let sub = c.get(&format!("/operations/{op}/subprocesses/1")).await;
    let sub = sub.expect(200, "InstanceResult");
    assert_eq!(sub["resources"].as_object().unwrap().len(), 16);
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
}

#[tokio::test]
async fn every_405_names_the_allowed_methods() {
    let (_s, c) = setup().await;
    for (method, path, allow) in [
        ("PUT", "/whoami", "GET"),
        ("POST", "/images", "GET"),
        ("PUT", "/files/abc", "GET, HEAD"),
        ("GET", "/images/x/tag", "PATCH, DELETE"),
        ("PATCH", "/operations/x", "GET, DELETE"),
        ("GET", "/instances", "POST"),
    ] {
        let r = c.send(method, path, &[], None).await;
        let e = r.expect_error(405);
        assert_eq!(r.header("allow").as_deref(), Some(allow), "{method} {path}");
        assert!(e["error"].as_str().unwrap().contains(allow), "{e}");
    }
}

#[tokio::test]
async fn null_for_a_field_the_spec_does_not_mark_nullable_is_a_400_naming_it() {
    let (_s, c) = setup().await;
    let spawn = |extra: serde_json::Value| {
        let mut body = json!({"command": "true", "image": "tag:busybox:latest"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    for (extra, field) in [
        (json!({"timeout": null}), "timeout"),
        (json!({"args": null}), "args"),
        (
            json!({"stdin": {"value": "x", "close": null}}),
            "stdin.close",
        ),
        (
            json!({"networking": {"enabled": null}}),
            "networking.enabled",
        ),
    ] {
        let r = c.post_json("/instances", spawn(extra)).await;
        let e = r.expect_error(400);
        assert!(
            e["error"].as_str().unwrap().contains(&format!("`{field}`")),
            "{e}"
        );
    }
    // Unknown keys may be anything (the schemas allow additional properties), null included.
    let r = c
        .post_json(
            "/instances",
            spawn(json!({"x_extra": null, "y_extra": [1]})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // A struct is an object: serde's positional array form is refused.
    let r = c
        .post_json("/instances", spawn(json!({"networking": [false]})))
        .await;
    let e = r.expect_error(400);
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("`networking` must not be an array"),
        "{e}"
    );
    // `env` is nullable in the spec.
    let r = c.post_json("/instances", spawn(json!({"env": null}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let op = r.json()["uuid"].as_str().unwrap().to_string();
    c.wait(&op).await;
    // So is an import's `tag`; its `timeout` is not.
    let registry = json!({"url": "docker://busybox"});
    let r = c
        .post_json("/images/import", json!({"registry": registry, "tag": null}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": registry, "timeout": null}),
        )
        .await;
    assert!(
        r.expect_error(400)["error"]
            .as_str()
            .unwrap()
            .contains("`timeout`")
    );
    // Subprocess create and stdin.
    let op = c.run("sleep 30").await;
    c.wait_status(&op, "EXECUTING").await;
    let r = c
        .post_json(
            &format!("/operations/{op}/subprocesses"),
            json!({"command": "true", "cwd": null}),
        )
        .await;
    assert!(
        r.expect_error(400)["error"]
            .as_str()
            .unwrap()
            .contains("`cwd`")
    );
    let r = c
        .post_json(
            &format!("/operations/{op}/subprocesses/1/stdin"),
            json!({"value": "", "close": null}),
        )
        .await;
    assert!(
        r.expect_error(400)["error"]
            .as_str()
            .unwrap()
            .contains("`close`")
    );
}

#[tokio::test]
async fn a_malformed_digest_is_a_file_that_does_not_exist() {
    let (_s, c) = setup().await;
    assert_eq!(c.head("/files/not-hex").await.status, 404);
    let e = c.get("/files/not-hex").await.expect_error(404);
    assert!(e["error"].as_str().unwrap().contains("64 hex"), "{e}");
}

#[tokio::test]
async fn numbers_beyond_the_mock_widths_get_true_answers() {
    let (_s, c) = setup().await;
    let r = c
        .post_json(
            "/instances",
            json!({"command": "true", "image": "tag:busybox:latest", "uid": 4_294_967_296_u64}),
        )
        .await;
    let e = r.expect_error(400);
    assert!(
        e["error"].as_str().unwrap().contains("0..=4294967295"),
        "{e}"
    );
    let r = c
        .post_json(
            "/instances",
            json!({"command": "true", "image": "tag:busybox:latest", "gid": 4.4e21}),
        )
        .await;
    let e = r.expect_error(400);
    assert!(e["error"].as_str().unwrap().contains("`gid` is"), "{e}");
    assert!(e["error"].as_str().unwrap().contains("64-bit"), "{e}");
    // An offset past any list is an empty page, however large.
    let r = c.get("/files?offset=99999999999999999999999999").await;
    assert_eq!(r.expect(200, "FilesListResponse")["files"], json!([]));
    let op = c.run("echo hi").await;
    c.wait(&op).await;
    for spid in ["4294967296", "99999999999999999999999"] {
        let e = c
            .get(&format!("/operations/{op}/subprocesses/{spid}"))
            .await
            .expect_error(404);
        assert!(e["error"].as_str().unwrap().contains(spid), "{e}");
    }
    c.get(&format!("/operations/{op}/subprocesses/0"))
        .await
        .expect_error(400);
    // A huge spid filter parses, so it is no 400: it matches no event.
    let evs = c
        .events(
            &op,
            "?spid=99999999999999999999999&since=99999999999999999999",
        )
        .await;
    assert!(evs.is_empty(), "{evs:?}");
    c.get(&format!("/operations/{op}/events?spid=-1"))
        .await
        .expect_error(400);
}

#[tokio::test]
async fn a_cancelled_operation_keeps_its_log_but_not_its_process_results() {
    let (_s, c) = setup().await;
    let op = c.run("sleep 30").await;
    c.wait_status(&op, "EXECUTING").await;
    assert_eq!(c.delete(&format!("/operations/{op}")).await.status, 202);
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "CANCELLED");
    let evs = c.events(&op, "").await;
    assert_eq!(evs.last().unwrap()["type"], "completion");
    let e = c
        .get(&format!("/operations/{op}/subprocesses/1"))
        .await
        .expect_error(404);
    assert!(e["error"].as_str().unwrap().contains("/events"), "{e}");
}
