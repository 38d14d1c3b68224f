//! Operations that end FAILED are results, as in the official server (its `OperationOutput`
//! carries `status` and `error`), not tool errors; and `import_image(wait=false)` returns the
//! id of the import it sent, at once.

#[macro_use]
mod common;

use common::{Via, World, ok};
use contree_mock::FaultRule;
use serde_json::json;

async fn a_failed_run_is_an_output_with_its_status_and_error(via: Via) {
    let w = World::new().await;
    w.mock.inject(
        FaultRule::new(http::Method::POST, "/v1/instances")
            .fail_operation("out of quota: the project may run 0 instances")
            .times(1),
    );
    let (c, _, _child) = w.connect(via).await;
    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo never"}),
    )
    .await;
    assert_eq!(out["status"], "FAILED", "{out}");
    assert_eq!(out["kind"], "instance", "{out}");
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("out of quota"),
        "the service's error is kept: {out}"
    );
    assert!(out["uuid"].as_str().is_some_and(|u| !u.is_empty()), "{out}");
    // The next run is not affected.
    let next = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo fine"}),
    )
    .await;
    assert_eq!(next["status"], "SUCCESS", "{next}");
    assert_eq!(next["stdout"], "fine\n", "{next}");
    c.cancel().await.unwrap();
}

async fn a_failed_import_is_an_output_and_a_detached_one_returns_its_id_at_once(via: Via) {
    let w = World::new().await;
    let (c, _, _child) = w.connect(via).await;
    // Not in the mock's catalogue: the import operation ends FAILED.
    let failed = ok(
        &c,
        "import_image",
        json!({"registry_url": "docker://docker.io/library/no-such-image:1",
               "i_accept_that_anonymous_access_might_be_rate_limited": true}),
    )
    .await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert_eq!(failed["kind"], "image_import", "{failed}");
    assert!(failed["error"].is_string(), "{failed}");

    let before = w.mock.requests().len();
    let started = ok(
        &c,
        "import_image",
        json!({"registry_url": "docker://docker.io/library/busybox:1.36", "wait": false,
               "i_accept_that_anonymous_access_might_be_rate_limited": true}),
    )
    .await;
    assert_eq!(started.as_object().map(|o| o.len()), Some(1), "{started}");
    let id = started["operation_id"].as_str().expect("an operation id");
    // One request: the import itself (no listing of operations to find it, no waiting).
    let sent: Vec<String> = w.mock.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(sent, ["POST /v1/images/import"], "{sent:?}");
    let op = ok(&c, "wait_operations", json!({"operation_ids": [id]})).await;
    assert_eq!(op["results"][id]["status"], "SUCCESS", "{op}");
    assert_eq!(op["results"][id]["kind"], "image_import", "{op}");
    c.cancel().await.unwrap();
}

over_both!(
    a_failed_run_is_an_output_with_its_status_and_error,
    a_failed_import_is_an_output_and_a_detached_one_returns_its_id_at_once,
);
