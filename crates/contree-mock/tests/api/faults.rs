use std::time::Duration;

use contree_mock::{FaultRule, MockServer};
use http::Method;
use http_body_util::BodyExt as _;
use serde_json::json;

use crate::common::{Client, setup};
use crate::schema;

#[tokio::test]
async fn status_faults_with_retry_after_are_counted() {
    let (server, c) = setup().await;
    server.inject(
        FaultRule::new(Method::POST, "/v1/instances")
            .times(2)
            .status(429)
            .retry_after(1),
    );
    let body = json!({"command": "true", "image": "tag:busybox:latest"});
    for _ in 0..2 {
        let r = c.post_json("/instances", body.clone()).await;
        r.expect_error(429);
        assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    }
    c.spawn(body).await;
    assert_eq!(server.request_count("spawnInstance"), 3);
    assert_eq!(
        c.get("/operations").await.json().as_array().unwrap().len(),
        1
    );
    // Other operations are not affected; counters are per operationId.
    server.inject(
        FaultRule::any_method("/v1/whoami")
            .status(503)
            .delay(Duration::from_millis(5)),
    );
    c.get("/whoami").await.expect_error(503);
    c.get("/whoami").await.expect(200, "WhoAmIResponse");
    assert_eq!(server.request_count("whoAmI"), 2);
    assert_eq!(server.request_count("listImages"), 0);
    let log = server.requests();
    assert_eq!(log.len(), 6);
    assert!(log.iter().all(|r| {
        r.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "Bearer <redacted>")
    }));
    assert_eq!(log[0].operation_id.as_deref(), Some("spawnInstance"));
}

#[tokio::test]
async fn close_before_and_after_processing() {
    let (server, c) = setup().await;
    let body = json!({"command": "true", "image": "tag:busybox:latest"});
    server.inject(FaultRule::new(Method::POST, "/v1/instances").close_before_response());
    let resp = c.clone();
    let err = tokio::spawn(async move { resp.post_json("/instances", body).await }).await;
    assert!(err.is_err(), "the connection is dropped without a response");
    assert!(
        c.get("/operations")
            .await
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "not processed"
    );
    let body = json!({"command": "true", "image": "tag:busybox:latest"});
    server.inject(FaultRule::new(Method::POST, "/v1/instances").close_after_processing());
    let resp = c.clone();
    let err = tokio::spawn(async move { resp.post_json("/instances", body).await }).await;
    assert!(err.is_err());
    assert_eq!(
        c.get("/operations").await.json().as_array().unwrap().len(),
        1,
        "processed"
    );
    assert_eq!(server.request_count("spawnInstance"), 2);
}

#[tokio::test]
async fn close_mid_body_malformed_json_and_extra_fields() {
    let (server, c) = setup().await;
    server.inject(FaultRule::new(Method::GET, "/v1/images").close_mid_body(10));
    let resp = c.open("GET", "/images", &[], None).await;
    assert_eq!(resp.status(), 200);
    let (mut got, mut failed) = (0, false);
    let mut body = resp.into_body();
    while let Some(f) = body.frame().await {
        match f {
            Ok(f) => got += f.into_data().map(|d| d.len()).unwrap_or(0),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the body ends with an error");
    assert_eq!(got, 10);

    server.inject(FaultRule::new(Method::GET, "/v1/whoami").malformed_json());
    let r = c.get("/whoami").await;
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    server.inject(FaultRule::new(Method::GET, "/v1/images").extra_fields());
    let v = c.get("/images").await.expect(200, "ImageListResponse");
    assert!(v["x_mock_unknown_field"].is_object());
    assert!(v["images"][0]["x_mock_unknown_field"].is_object());
}

#[tokio::test]
async fn control_endpoint_and_prefix() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .prefix("/sandboxes")
        .start()
        .await;
    assert!(server.base_url().ends_with("/sandboxes"));
    let c = Client::new(&server);
    assert_eq!(c.prefix, "/sandboxes");
    let r = c
        .post_json(
            "/_mock/faults",
            json!({"method": "GET", "path": "/v1/operations", "times": 1, "status": 502}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    c.get("/operations").await.expect_error(502);
    let v = c.get("/operations").await;
    assert_eq!(v.status, 200);
    schema::validate_with("ops", json!({"type": "array"}), &v.json());
    let counters = c.get("/_mock/counters").await.json();
    assert_eq!(counters["listOperations"], 2);
    assert_eq!(
        c.post_json("/_mock/faults", json!({"status": "x"}))
            .await
            .status,
        400
    );
    c.post_json(
        "/_mock/faults",
        json!({"path": "/v1/", "times": null, "status": 500}),
    )
    .await;
    c.get("/whoami").await.expect_error(500);
    c.get("/whoami").await.expect_error(500);
    assert_eq!(c.delete("/_mock/faults").await.status, 204);
    c.get("/whoami").await.expect(200, "WhoAmIResponse");
    // Location headers carry /v1 without the deployment prefix, like the real service.
    let op = c.run("true").await;
    assert!(!op.is_empty());
    server.clear_faults();
}
