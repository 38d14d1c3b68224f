use serde_json::{Value, json};

use crate::common::{Client, setup};
use crate::schema;

async fn list(c: &Client, q: &str) -> Vec<Value> {
    let v = c
        .get(&format!("/images{q}"))
        .await
        .expect(200, "ImageListResponse");
    v["images"].as_array().unwrap().clone()
}

async fn find(c: &Client, tag: &str) -> Option<String> {
    let r = c.get(&format!("/inspect/?tag={tag}")).await;
    match r.status {
        302 => {
            let loc = r.header("location").unwrap();
            assert!(
                loc.starts_with("/v1/inspect/") && loc.ends_with('/'),
                "{loc}"
            );
            Some(
                loc.trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
            )
        }
        404 => {
            r.expect_error(404);
            None
        }
        s => panic!("unexpected status {s}"),
    }
}

/// Runs a command that writes a file, returning the new (untagged, private) image.
async fn new_image(c: &Client, content: &str) -> String {
    let op = c.run(&format!("echo {content} > /new.txt")).await;
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "SUCCESS");
    let img = v["result_image_uuid"].as_str().unwrap().to_string();
    assert_ne!(Some(img.as_str()), v["image_uuid"].as_str());
    img
}

#[tokio::test]
async fn preloaded_tags_filters_and_pagination() {
    let (_s, c) = setup().await;
    let all = list(&c, "").await;
    let tags: Vec<&str> = all.iter().filter_map(|i| i["tag"].as_str()).collect();
    for t in ["ubuntu:latest", "busybox:latest", "python:3.12"] {
        assert!(tags.contains(&t), "{t} missing from {tags:?}");
        assert!(find(&c, t).await.is_some());
    }
    assert!(
        all.iter().all(|i| i["operation_uuid"].is_null()),
        "public images have no operation"
    );
    let page1 = list(&c, "?limit=1").await;
    let page2 = list(&c, "?limit=1&offset=1").await;
    assert_eq!(page1.len(), 1);
    assert_eq!(page2.len(), 1);
    assert_ne!(page1[0], page2[0]);
    assert!(list(&c, "?offset=1000").await.is_empty());
    for bad in [
        "?limit=0",
        "?limit=1001",
        "?offset=-1",
        "?limit=x",
        "?since=yesterday",
    ] {
        c.get(&format!("/images{bad}")).await.expect_error(400);
    }
    let busy = list(&c, "?tag=busy").await;
    assert!(!busy.is_empty());
    assert!(
        busy.iter()
            .all(|i| i["tag"].as_str().unwrap().starts_with("busy"))
    );
    let uuid = find(&c, "busybox:latest").await.unwrap();
    let by_uuid = list(&c, &format!("?uuid={uuid}")).await;
    assert!(!by_uuid.is_empty());
    assert!(by_uuid.iter().all(|i| i["uuid"] == uuid.as_str()));
    // Preloaded images were created in 2024.
    assert!(list(&c, "?since=1h").await.is_empty());
    assert!(
        !list(&c, "?until=2030-01-01T00:00:00%2B00:00")
            .await
            .is_empty()
    );
    assert!(list(&c, "?until=1000000").await.is_empty());
}

#[tokio::test]
async fn tag_untag_and_find_by_tag() {
    let (_s, c) = setup().await;
    let img = new_image(&c, "tagging").await;
    // Untagged images are listed, but not with `tagged`.
    let rows = list(&c, &format!("?uuid={img}")).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["tag"].is_null());
    assert!(list(&c, &format!("?uuid={img}&tagged=1")).await.is_empty());
    assert!(list(&c, &format!("?uuid={img}&tagged")).await.is_empty());
    assert_eq!(list(&c, &format!("?uuid={img}&tagged=0")).await.len(), 1);

    let v = c
        .patch_json(&format!("/images/{img}/tag"), json!({"tag": "mine:1"}))
        .await
        .expect(200, "Image");
    assert_eq!(v["tag"], "mine:1");
    assert_eq!(v["uuid"], img.as_str());
    assert!(v["operation_uuid"].is_string());
    assert_eq!(find(&c, "mine:1").await.as_deref(), Some(img.as_str()));
    assert_eq!(list(&c, "?tag=mine").await.len(), 1);
    // A second tag; removing one keeps the other.
    c.patch_json(&format!("/images/{img}/tag"), json!({"tag": "mine:2"}))
        .await
        .expect(200, "Image");
    let r = c.delete(&format!("/images/{img}/tag?tag=mine:1")).await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(find(&c, "mine:1").await, None);
    assert_eq!(find(&c, "mine:2").await.as_deref(), Some(img.as_str()));
    c.delete(&format!("/images/{img}/tag?tag=mine:1"))
        .await
        .expect_error(404);
    // Without `tag`, every tag goes.
    assert_eq!(c.delete(&format!("/images/{img}/tag")).await.status, 204);
    assert_eq!(find(&c, "mine:2").await, None);

    // A tag moves between images; a user tag shadows the public one until removed.
    let public = find(&c, "busybox:latest").await.unwrap();
    c.patch_json(
        &format!("/images/{img}/tag"),
        json!({"tag": "busybox:latest"}),
    )
    .await
    .expect(200, "Image");
    assert_eq!(
        find(&c, "busybox:latest").await.as_deref(),
        Some(img.as_str())
    );
    assert_eq!(
        c.delete(&format!("/images/{img}/tag?tag=busybox:latest"))
            .await
            .status,
        204
    );
    assert_eq!(find(&c, "busybox:latest").await, Some(public));

    let missing = "00000000-0000-4000-8000-000000000001";
    c.patch_json(&format!("/images/{missing}/tag"), json!({"tag": "x:1"}))
        .await
        .expect_error(404);
    c.patch_json(&format!("/images/{img}/tag"), json!({"tag": "bad tag!"}))
        .await
        .expect_error(400);
    c.patch_json(&format!("/images/{img}/tag"), json!({}))
        .await
        .expect_error(400);
    c.patch_json("/images/not-a-uuid/tag", json!({"tag": "x:1"}))
        .await
        .expect_error(400);
    c.delete(&format!("/images/{missing}/tag"))
        .await
        .expect_error(404);
    c.get("/inspect/").await.expect_error(400);
}

#[tokio::test]
async fn import_known_and_unknown_references() {
    let (_s, c) = setup().await;
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "docker://docker.io/library/alpine:3.20",
                                "credentials": {"username": "u", "password": "hunter2"}},
                   "tag": "alpine:3.20", "timeout": 60}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    schema::validate_with(
        "importImage201",
        json!({"type": "object", "required": ["uuid"],
               "properties": {"uuid": {"$ref": "#/components/schemas/UUIDSchema"}}}),
        &body,
    );
    let op = body["uuid"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("/v1/operations/{op}")));
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "SUCCESS", "{v}");
    assert_eq!(v["kind"], "image_import");
    assert!(v["image_uuid"].is_null());
    let img = v["result_image_uuid"].as_str().unwrap().to_string();
    assert_eq!(v["result"]["image"], img.as_str());
    assert_eq!(v["result"]["tag"], "alpine:3.20");
    assert_eq!(
        v["metadata"]["registry"]["credentials"]["password"],
        "<MASKED>"
    );
    assert!(!v.to_string().contains("hunter2"));
    assert_eq!(find(&c, "alpine:3.20").await.as_deref(), Some(img.as_str()));
    // Importing unchanged content again yields the same image.
    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "alpine:3.20"}, "tag": null}),
        )
        .await;
    let again = c.wait(r.json()["uuid"].as_str().unwrap()).await;
    assert_eq!(again["result_image_uuid"], img.as_str());
    assert!(again["result"]["tag"].is_null());

    let r = c
        .post_json(
            "/images/import",
            json!({"registry": {"url": "docker://ghcr.io/nobody/nothing:9"}}),
        )
        .await;
    let op = r.json()["uuid"].as_str().unwrap().to_string();
    let v = c.wait(&op).await;
    assert_eq!(v["status"], "FAILED");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("ghcr.io/nobody/nothing:9"),
        "{v}"
    );
    assert!(v["result_image_uuid"].is_null());

    c.post_json("/images/import", json!({"tag": "x"}))
        .await
        .expect_error(400);
    c.post_json(
        "/images/import",
        json!({"registry": {"url": "alpine"}, "tag": "bad tag"}),
    )
    .await
    .expect_error(400);
    c.send("POST", "/images/import", &[], Some("{".into()))
        .await
        .expect_error(400);
    // The import operations are listed by kind.
    let ops = c.get("/operations?kind=image_import").await.json();
    assert_eq!(ops.as_array().unwrap().len(), 3);
}
