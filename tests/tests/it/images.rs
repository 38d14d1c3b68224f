//! Images: list (page and stream, filters), lazy and strict references, oci/import, tags.

use std::time::Duration;

use contree_integration_tests::{setup, setup_local};
use contree_mock::MockServer;
use futures_util::TryStreamExt as _;

#[tokio::test]
async fn list_page_and_stream() {
    let env = setup().await;
    let page = env.contree.images().list().await.unwrap();
    assert!(!page.is_empty(), "the mock has public images");
    assert!(page.iter().all(|i| i.id().is_some()));
    // Stream with a page size of 1 walks every page and yields the same images.
    let all: Vec<_> = env
        .contree
        .images()
        .list()
        .limit(1)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert!(all.len() >= page.len().min(100));
    let first_page_uuids: Vec<_> = page.iter().map(|i| i.id().unwrap().to_string()).collect();
    for uuid in &first_page_uuids {
        assert!(
            all.iter()
                .any(|i| i.id().is_some_and(|id| id == uuid.as_str())),
            "{uuid} missing from stream"
        );
    }
}

#[tokio::test]
async fn list_filters() {
    let env = setup().await;
    let tagged = env.contree.images().list().tagged().await.unwrap();
    assert!(!tagged.is_empty());
    assert!(tagged.iter().all(|i| i.tag().is_some()));
    let ubuntu = env
        .contree
        .images()
        .list()
        .tag_prefix("ubuntu")
        .await
        .unwrap();
    assert!(!ubuntu.is_empty());
    assert!(
        ubuntu
            .iter()
            .all(|i| i.tag().unwrap_or("").starts_with("ubuntu"))
    );
    let one = ubuntu[0].id().unwrap().to_string();
    let by_uuid = env.contree.images().list().uuid(one.clone()).await.unwrap();
    // One row per tag of that image.
    assert!(!by_uuid.is_empty());
    assert!(
        by_uuid
            .iter()
            .all(|i| i.id().is_some_and(|id| id == one.as_str()))
    );
    // Nothing is created in the future; everything was created before "in an hour".
    let future = std::time::SystemTime::now() + Duration::from_secs(3600);
    assert!(
        env.contree
            .images()
            .list()
            .since(future)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !env.contree
            .images()
            .list()
            .until(future)
            .await
            .unwrap()
            .is_empty()
    );
    // An age filter: created within the last ten years.
    let _ = env
        .contree
        .images()
        .list()
        .since(Duration::from_secs(10 * 365 * 24 * 3600))
        .await
        .unwrap();
}

#[tokio::test]
async fn use_tag_is_lazy_and_get_is_strict() {
    let env = setup_local(MockServer::builder()).await;
    let before = env.server().counters();
    let lazy = env.contree.images().use_tag("ubuntu:latest");
    let _lazy2 = env
        .contree
        .images()
        .use_uuid("00000000-0000-0000-0000-000000000000");
    assert_eq!(
        env.server().counters(),
        before,
        "use_* must not call the API"
    );
    assert_eq!(lazy.id(), None);
    assert_eq!(lazy.tag(), Some("ubuntu:latest"));

    let pinned = env.contree.images().get("ubuntu:latest").await.unwrap();
    assert!(pinned.id().is_some());
    assert_eq!(env.server().request_count("inspectFindImageByTag"), 1);
    // The 302 was not followed: no inspectImage call.
    assert_eq!(env.server().request_count("inspectImage"), 0);
    let again = env
        .contree
        .images()
        .get(pinned.id().unwrap())
        .await
        .unwrap();
    assert_eq!(again.id(), pinned.id());
    assert_eq!(lazy.resolve().await.unwrap().id(), pinned.id());

    let missing = env
        .contree
        .images()
        .get("no-such-image:1")
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test]
async fn oci_uses_existing_then_imports_missing() {
    let env = setup_local(MockServer::builder()).await;
    let existing = env.contree.images().oci("ubuntu:latest").await.unwrap();
    assert!(existing.id().is_some());
    assert_eq!(env.server().request_count("importImage"), 0);

    let imported = env.contree.images().oci("alpine:3.20").await.unwrap();
    assert!(imported.id().is_some());
    assert_eq!(imported.tag(), Some("alpine:3.20"));
    assert_eq!(env.server().request_count("importImage"), 1);
    // Now it exists: no second import.
    let again = env.contree.images().oci("alpine:3.20").await.unwrap();
    assert_eq!(again.id(), imported.id());
    assert_eq!(env.server().request_count("importImage"), 1);
}

#[tokio::test]
async fn import_with_credentials_tag_and_timeout() {
    let env = setup().await;
    let img = env
        .contree
        .images()
        .import("docker.io/library/alpine:3.20")
        .credentials("robot", "s3cret-password")
        .tag("my-alpine:1")
        .timeout(Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(img.tag(), Some("my-alpine:1"));
    assert!(img.operation_id().is_some());
    let found = env.contree.images().get("my-alpine:1").await.unwrap();
    assert_eq!(found.id(), img.id());
    let dbg = format!(
        "{:?}",
        env.contree
            .images()
            .import("x")
            .credentials("u", "s3cret-password")
    );
    assert!(!dbg.contains("s3cret-password"), "{dbg}");
}

#[tokio::test]
async fn a_started_import_returns_its_operation_at_once_and_waits_later() {
    let env = setup_local(MockServer::builder()).await;
    let server = env.server.as_ref().expect("an in-process mock");
    let before = server.requests().len();
    let op = env
        .contree
        .images()
        .import("docker.io/library/busybox:1.36")
        .tag("bb:started")
        .start()
        .await
        .unwrap();
    let sent: Vec<String> = server.requests()[before..]
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(sent, ["POST /v1/images/import"], "only the import is sent");
    let done = env
        .contree
        .operations()
        .wait(&op, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(done.status, contree::OperationStatus::Success);
    assert_eq!(done.kind, Some(contree::OperationKind::ImageImport));
    let found = env.contree.images().get("bb:started").await.unwrap();
    assert_eq!(
        done.result_image,
        found.id().map(String::from),
        "the operation's result is the tagged image"
    );
    // oci() awaited would find the existing tag; start() always sends the import.
    let again = env
        .contree
        .images()
        .oci("docker.io/library/busybox:1.36")
        .start()
        .await
        .unwrap();
    assert_ne!(again, op, "a second import is a new operation");
    let bad = env.contree.images().import("oci://x/y").start().await;
    assert_eq!(bad.unwrap_err().kind(), contree::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn import_of_unknown_reference_fails_as_operation() {
    let env = setup().await;
    let err = env
        .contree
        .images()
        .import("docker.io/nobody/nothing:0")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            contree::ErrorKind::OperationFailed | contree::ErrorKind::Api
        ),
        "{err}"
    );
}

#[tokio::test]
async fn tag_untag_one_and_all() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo tagged > /t")
        .await
        .unwrap();
    let img = out.image().unwrap().clone();
    let a = img.tag_as("facade-a:1").await.unwrap();
    assert_eq!(a.tag(), Some("facade-a:1"));
    img.tag_as("facade-b:1").await.unwrap();
    assert_eq!(
        env.contree.images().get("facade-a:1").await.unwrap().id(),
        img.id()
    );
    assert_eq!(
        env.contree.images().get("facade-b:1").await.unwrap().id(),
        img.id()
    );
    img.untag("facade-a:1").await.unwrap();
    assert!(
        env.contree
            .images()
            .get("facade-a:1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(env.contree.images().get("facade-b:1").await.is_ok());
    img.tag_as("facade-c:1").await.unwrap();
    img.untag_all().await.unwrap();
    assert!(
        env.contree
            .images()
            .get("facade-b:1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        env.contree
            .images()
            .get("facade-c:1")
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Tagging a lazy tag reference resolves it first (no `/images/None/tag`).
    let lazy = env.contree.images().use_tag("ubuntu:latest");
    let t = lazy.tag_as("facade-ubuntu:1").await.unwrap();
    assert!(t.id().is_some());
    t.untag("facade-ubuntu:1").await.unwrap();
}

#[tokio::test]
async fn image_info() {
    let env = setup().await;
    let info = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .info()
        .await
        .unwrap();
    assert!(info.id().is_some());
    let created = info
        .created_at()
        .expect("the mock reports an RFC 3339 creation time");
    assert!(created.year() >= 2024, "{created}");
    assert!(info.created_at_raw().is_some_and(|raw| raw.contains('T')));
}

/// One owner of the OCI rule: `index.docker.io/ubuntu` normalises the same way in
/// contree-proto (the owner), the facade's `OciReference` and the mock (which calls proto's
/// rule; its unit test `refs_normalise_like_docker` has this case), and importing it from
/// the mock fetches Docker Hub's `library/ubuntu:latest`.
#[tokio::test]
async fn index_docker_io_normalises_the_same_in_proto_facade_and_mock() {
    let expected = "docker://docker.io/library/ubuntu:latest";
    let proto = contree_proto::image_ref::OciReference::parse("index.docker.io/ubuntu").unwrap();
    assert_eq!(proto.url(), expected);
    assert_eq!(proto.tag(), "ubuntu:latest");
    let facade = contree::OciReference::parse("index.docker.io/ubuntu").unwrap();
    assert_eq!(facade.url, expected);
    assert_eq!(facade.tag.as_deref(), Some("ubuntu:latest"));
    let env = setup().await;
    let images = env.contree.images();
    let via_index = images
        .import("index.docker.io/ubuntu")
        .untagged()
        .await
        .unwrap();
    let via_hub = images
        .import("docker://docker.io/library/ubuntu:latest")
        .untagged()
        .await
        .unwrap();
    assert!(via_index.id().is_some());
    assert_eq!(via_index.id(), via_hub.id(), "the same manifest");
}
