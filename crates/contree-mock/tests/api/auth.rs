use std::time::Duration;

use contree_mock::MockServer;
use serde_json::json;

use crate::common::{Client, setup};
use crate::schema;

#[tokio::test]
async fn bearer_and_project_are_required() {
    let (_server, c) = setup().await;
    let mut anon = c.clone();
    anon.token = None;
    let e = anon.get("/images").await.expect_error(401);
    assert!(e["error"].as_str().unwrap().contains("Authorization"));
    let mut wrong = c.clone();
    wrong.token = Some("nope".into());
    wrong.get("/whoami").await.expect_error(401);
    let mut no_project = c.clone();
    no_project.project = None;
    let e = no_project.get("/images").await.expect_error(401);
    assert!(e["error"].as_str().unwrap().contains("Project"));
    let mut other = c.clone();
    other.project = Some("someone-else".into());
    other.get("/images").await.expect_error(403);
    // HEAD errors carry no body.
    let r = anon.head(&format!("/files/{}", "a".repeat(64))).await;
    assert_eq!(r.status, 401);
    assert!(r.body.is_empty());
    c.get("/images").await.expect(200, "ImageListResponse");
}

#[tokio::test]
async fn jwt_mode_needs_no_project() {
    let server = MockServer::builder()
        .no_project()
        .token("jwt")
        .start()
        .await;
    let mut c = Client::new(&server);
    assert_eq!(c.project, None);
    c.get("/whoami").await.expect(200, "WhoAmIResponse");
    c.token = Some("test-token".into());
    c.get("/whoami").await.expect_error(401);
}

#[tokio::test]
async fn whoami_reports_configured_permissions_and_limits() {
    let server = MockServer::builder()
        .permission("import", false)
        .limit("instance_max_timeout", 60)
        .start()
        .await;
    let c = Client::new(&server);
    let v = c.get("/whoami").await.expect(200, "WhoAmIResponse");
    assert_eq!(v["permissions"]["import"], false);
    assert_eq!(v["permissions"]["list"], true);
    assert_eq!(v["limits"]["instance_max_timeout"], 60);
    assert!(v["token_expiration"].is_null());
    let e = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "docker://alpine:3.20"}}),
        )
        .await
        .expect_error(403);
    assert!(e["error"].as_str().unwrap().contains("import"));
    // The limit is enforced on spawn.
    c.post_json(
        "/instances",
        json!({"command": "true", "image": "tag:busybox:latest", "timeout": 61}),
    )
    .await
    .expect_error(400);
}

#[tokio::test]
async fn list_only_tokens_cannot_follow_or_spawn() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .permissions([("list", true)])
        .start()
        .await;
    let c = Client::new(&server);
    c.post_json(
        "/instances",
        json!({"command": "true", "image": "tag:busybox:latest"}),
    )
    .await
    .expect_error(403);
    let none = "00000000-0000-4000-8000-000000000000";
    c.get(&format!("/operations/{none}/events?follow=1"))
        .await
        .expect_error(403);
    c.get(&format!("/operations/{none}/events"))
        .await
        .expect_error(404);
    c.delete(&format!("/operations/{none}"))
        .await
        .expect_error(403);
    c.patch_json(&format!("/images/{none}/tag"), json!({"tag": "x:1"}))
        .await
        .expect_error(403);
    let server = MockServer::builder()
        .permission("list", false)
        .start()
        .await;
    let c = Client::new(&server);
    for p in ["/images", "/files", "/operations"] {
        c.get(p).await.expect_error(403);
    }
    schema::validate("WhoAmIResponse", &c.get("/whoami").await.json());
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let (_server, c) = setup().await;
    c.get("/nope").await.expect_error(404);
    c.send("PUT", "/images", &[], None).await.expect_error(405);
    c.send("POST", "/whoami", &[], None).await.expect_error(405);
}
