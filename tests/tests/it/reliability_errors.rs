//! Errors a newcomer matches on (issue 20): a run from a missing image or tag is
//! `is_not_found()` and `kind() == NotFound` whichever way the server reports it (400 on the
//! spawn, 404, or an accepted spawn whose operation fails), a server 404 is kind `NotFound`,
//! and `Debug` shows the same kind as `kind()`.

use contree::{Error, ErrorKind};
use contree_integration_tests::setup_local;
use contree_mock::{FaultRule, MockServer};
use futures_util::StreamExt as _;
use http::{Method, StatusCode};

const NIL: &str = "00000000-0000-0000-0000-000000000000";

fn spawn_rule() -> FaultRule {
    FaultRule::new(Method::POST, "/v1/instances")
}

fn assert_not_found(e: &Error, what: &str) {
    assert_eq!(e.kind(), ErrorKind::NotFound, "{what}: {e}");
    assert!(e.is_not_found(), "{what}: {e}");
    let debug = format!("{e:?}");
    assert!(debug.contains("kind: NotFound"), "{what}: {debug}");
    assert!(
        !debug.contains("Api"),
        "{what}: Debug contradicts kind(): {debug}"
    );
}

/// The number of image look-ups (`GET /v1/inspect/…`) the server has seen.
fn lookups(server: &MockServer) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.method == Method::GET && r.path.starts_with("/v1/inspect/"))
        .count()
}

/// Behaviour 1: the server refuses the spawn with 400 (what contree-mock does for an
/// unknown image, and what the service may do: its spec documents no 404 there).
#[tokio::test]
async fn a_400_on_spawn_from_a_missing_image_is_not_found() {
    let env = setup_local(MockServer::builder()).await;
    let images = env.contree.images();
    let before = lookups(env.server());
    let e = images
        .use_tag("no-such-image:0")
        .shell("true")
        .await
        .expect_err("no such tag");
    assert_not_found(&e, "missing tag");
    assert_eq!(
        e.status(),
        Some(StatusCode::BAD_REQUEST),
        "the server's own answer stays readable"
    );
    assert!(e.to_string().contains("tag:no-such-image:0"), "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    assert_eq!(
        lookups(env.server()) - before,
        1,
        "one cheap look-up decides"
    );
    let e = images
        .use_uuid(NIL)
        .shell("true")
        .await
        .expect_err("no such image");
    assert_not_found(&e, "missing uuid");
    assert!(e.to_string().contains(NIL), "{e}");
    // Every way to start a run says the same.
    let e = images
        .use_tag("no-such-image:0")
        .shell("true")
        .start()
        .await
        .expect_err("start");
    assert_not_found(&e, "start()");
    let e = images
        .use_tag("no-such-image:0")
        .shell("cat")
        .spawn()
        .await
        .expect_err("spawn");
    assert_not_found(&e, "spawn()");
    let mut live = images.use_tag("no-such-image:0").shell("true").stream();
    let e = live.next().await.expect("one item").expect_err("stream()");
    assert_not_found(&e, "stream()");
    let session = images.use_uuid(NIL).session();
    let e = session.shell("true").await.expect_err("session");
    assert_not_found(&e, "session run");
}

/// A 400 for another reason, from an image that exists, stays an API error: the look-up
/// decides, not the status alone.
#[tokio::test]
async fn a_400_on_spawn_from_an_existing_image_stays_api() {
    let env = setup_local(MockServer::builder()).await;
    env.server().inject(spawn_rule().status(400));
    let e = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("true")
        .await
        .expect_err("refused");
    assert_eq!(e.kind(), ErrorKind::Api, "{e}");
    assert!(!e.is_not_found(), "{e}");
    assert_eq!(e.status(), Some(StatusCode::BAD_REQUEST));
    assert!(format!("{e:?}").contains("kind: Api"), "{e:?}");
}

/// Behaviour 2: the server answers the spawn with 404.
#[tokio::test]
async fn a_404_on_spawn_is_not_found() {
    let env = setup_local(MockServer::builder()).await;
    env.server().inject(spawn_rule().status(404).times(2));
    let images = env.contree.images();
    let e = images
        .use_tag("ubuntu:latest")
        .shell("true")
        .await
        .expect_err("404");
    assert_not_found(&e, "404 on spawn");
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
    let e = images.use_uuid(NIL).shell("true").await.expect_err("404");
    assert_not_found(&e, "404 on spawn from a uuid");
}

/// Behaviour 3: the server accepts the spawn and fails the operation.
#[tokio::test]
async fn an_accepted_spawn_whose_operation_fails_for_a_missing_image_is_not_found() {
    let env = setup_local(MockServer::builder()).await;
    let images = env.contree.images();
    let msg = "image not found";
    env.server()
        .inject(spawn_rule().fail_operation(msg).times(3));
    let e = images
        .use_tag("no-such-image:0")
        .shell("true")
        .await
        .expect_err("failed");
    assert_not_found(&e, "failed operation, tag");
    assert!(e.operation_id().is_some(), "the operation stays named: {e}");
    assert!(e.to_string().contains(msg), "{e}");
    let e = images
        .use_uuid(NIL)
        .shell("true")
        .await
        .expect_err("failed");
    assert_not_found(&e, "failed operation, uuid");
    let mut live = images.use_uuid(NIL).shell("true").stream();
    let mut last = None;
    while let Some(item) = live.next().await {
        if let Err(e) = item {
            last = Some(e);
        }
    }
    assert_not_found(
        &last.expect("the stream ends with an error"),
        "failed operation, stream()",
    );
    // The same failure from an image that exists stays OperationFailed.
    env.server()
        .inject(spawn_rule().fail_operation("out of quota"));
    let e = images
        .use_tag("ubuntu:latest")
        .shell("true")
        .await
        .expect_err("failed");
    assert_eq!(e.kind(), ErrorKind::OperationFailed, "{e}");
    assert!(!e.is_not_found(), "{e}");
    assert!(format!("{e:?}").contains("kind: OperationFailed"), "{e:?}");
}

/// Inspecting or tagging a missing image or tag, and any server 404, is kind `NotFound`
/// (`kind()` and `is_not_found()` agree), and `Debug` says so.
#[tokio::test]
async fn a_server_404_is_kind_not_found() {
    let env = setup_local(MockServer::builder()).await;
    let images = env.contree.images();
    let missing_tag = images.use_tag("no-such-image:0");
    let missing_uuid = images.use_uuid(NIL);
    assert_not_found(
        &missing_tag.ls("/").await.expect_err("ls"),
        "ls on a missing tag",
    );
    assert_not_found(
        &missing_uuid.ls("/").await.expect_err("ls"),
        "ls on a missing uuid",
    );
    assert_not_found(&missing_uuid.info().await.expect_err("info"), "info");
    assert_not_found(
        &missing_tag.resolve().await.expect_err("resolve"),
        "resolve",
    );
    assert_not_found(
        &images.get("no-such-image:0").await.expect_err("get"),
        "get",
    );
    assert_not_found(
        &missing_uuid.tag_as("x").await.expect_err("tag_as"),
        "tag_as",
    );
    assert_not_found(
        &missing_tag.tag_as("x").await.expect_err("tag_as"),
        "tag_as a tag",
    );
    let e = missing_uuid
        .read_to_string("/etc/os-release")
        .await
        .expect_err("read");
    assert_not_found(&e, "read");
    let ubuntu = images.use_tag("ubuntu:latest");
    let e = ubuntu
        .read_to_string("/no/such/file")
        .await
        .expect_err("read");
    assert_not_found(&e, "a missing file");
    // An injected 404 on any call is NotFound too.
    env.server()
        .inject(FaultRule::new(Method::GET, "/v1/operations").status(404));
    let e = env.contree.operations().list().await.expect_err("404");
    assert_not_found(&e, "404 on a listing");
    assert_eq!(e.status(), Some(StatusCode::NOT_FOUND));
}
