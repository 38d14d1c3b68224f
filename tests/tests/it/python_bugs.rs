//! Each bug of the official Python SDK (PYTHON-SDK.md sections 8 and 10), shown absent here.

use std::sync::Arc;
use std::time::Duration;

use contree::ErrorKind;
use contree::auth::{MapEnv, MemFs};
use contree_integration_tests::{client_builder, setup, setup_local};
use contree_mock::{FaultRule, MockServer};

/// Python: a session is stuck (FAILED/EXECUTING) after any error.
#[tokio::test]
async fn sessions_do_not_get_stuck_after_errors() {
    let env = setup_local(MockServer::builder()).await;
    let s = env.contree.images().use_tag("ubuntu:latest").session();
    env.server()
        .inject(FaultRule::new(http::Method::POST, "/v1/instances").status(400));
    assert!(s.shell("true").await.is_err());
    env.server()
        .inject(FaultRule::new(http::Method::POST, "/v1/files").status(400));
    assert!(
        s.shell("true")
            .file("/x", b"upload fails".to_vec())
            .await
            .is_err()
    );
    let out = s.shell("echo alive").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "alive\n");
}

/// Python: any auth field whose value names an environment variable is replaced by it.
#[tokio::test]
async fn explicit_values_are_literal_not_env_names() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .token("MY_TOKEN_VAR")
        .start()
        .await;
    let env = MapEnv::from_iter([("MY_TOKEN_VAR", "something-else"), ("HOME", "/nonexistent")]);
    let contree = contree::Contree::builder()
        .token("MY_TOKEN_VAR")
        .project(server.project().unwrap_or(""))
        .base_url(server.base_url())
        .env(Arc::new(env))
        .fs(Arc::new(MemFs::new()))
        .build()
        .unwrap();
    contree.whoami().await.expect("the literal token was sent");
}

/// Python: `%` in an auth.ini value crashes the constructor (configparser interpolation).
#[tokio::test]
async fn percent_in_auth_ini_token_is_read_raw() {
    let token = "abc%def%%ghi%(x)s";
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .token(token)
        .start()
        .await;
    let fs = MemFs::new();
    fs.insert(
        "/home/me/.config/contree/auth.ini",
        format!(
            "[profile:default]\nurl = {}\ntoken = {token}\nproject = {}\n",
            server.base_url(),
            server.project().unwrap_or("")
        ),
        0o600,
    );
    let contree = contree::Contree::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(fs))
        .build()
        .expect("a % does not break resolution");
    contree.whoami().await.expect("the raw token was sent");
}

/// Python: the client's wait deadline equals the server timeout, so queueing or a slow
/// answer makes it give up (and cancel) while the server would still finish.
#[tokio::test]
async fn wait_deadline_exceeds_server_timeout() {
    let env = setup_local(MockServer::builder()).await;
    // The follow request answers only after the run's whole server timeout has passed.
    env.server().inject(
        FaultRule::new(http::Method::GET, "/v1/operations/")
            .times(1)
            .delay(Duration::from_millis(1500)),
    );
    let run = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo in time")
        .timeout(Duration::from_secs(1));
    assert!(run.wait_deadline() > run.server_timeout());
    let out = run
        .await
        .expect("no client-side give-up at the server timeout");
    assert_eq!(out.stdout_str().unwrap(), "in time\n");
    assert_eq!(env.server().request_count("cancelOperation"), 0);
}

/// Python: `disposable=True` by default, so the result has no image and chaining fails.
#[tokio::test]
async fn default_runs_are_kept_so_chains_work() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo 1 > /v")
        .await
        .unwrap();
    let next = out.image().expect("the default keeps the result");
    let out2 = next.shell("cat /v").await.unwrap();
    assert_eq!(out2.stdout_str().unwrap(), "1\n");
    let session = next.session();
    session.shell("echo 2 >> /v").await.unwrap();
    session.shell("echo 3 >> /v").await.unwrap();
    assert_eq!(
        session.current().read_to_string("/v").await.unwrap(),
        "1\n2\n3\n"
    );
}

/// Python: nullable or extra fields break cattrs structuring.
#[tokio::test]
async fn unknown_and_nullable_fields_are_tolerated() {
    let env = setup_local(MockServer::builder()).await;
    env.server()
        .inject(FaultRule::any_method("/v1/").times(50).extra_fields());
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo tolerant")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "tolerant\n");
    env.contree.images().list().await.unwrap();
    env.contree.whoami().await.unwrap();
}

/// Python: stdout is decoded as strict UTF-8 after the run succeeded and raises on binary.
#[tokio::test]
async fn binary_output_is_bytes_with_lossy_and_strict_text() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("printf 'a\\377\\376b'")
        .await
        .unwrap();
    assert_eq!(out.stdout().as_ref(), b"a\xff\xfeb");
    assert_eq!(out.stdout_lossy(), "a\u{fffd}\u{fffd}b");
    assert_eq!(out.stdout_str().unwrap_err().kind(), ErrorKind::Utf8);
}

/// Python: `download(path, "dir/")` raises IsADirectoryError; nothing is streamed.
#[tokio::test]
async fn download_into_a_directory() {
    let env = setup().await;
    let img = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo payload > /out.txt")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = img.download("/out.txt", dir.path()).await.unwrap();
    assert_eq!(p, dir.path().join("out.txt"));
    assert_eq!(std::fs::read_to_string(p).unwrap(), "payload\n");
}

/// Python: a read timeout on the spawn POST is retried and can start a duplicate run.
#[tokio::test]
async fn spawn_is_not_blindly_replayed() {
    let env = setup_local(MockServer::builder()).await;
    env.server().inject(
        FaultRule::new(http::Method::POST, "/v1/instances")
            .times(1)
            .close_after_processing(),
    );
    let r = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo once")
        .await;
    assert!(
        r.is_err(),
        "an ambiguous spawn failure is reported, not replayed"
    );
    assert_eq!(env.server().request_count("spawnInstance"), 1);
}

/// Python: one transient 5xx while polling aborts the wait and cancels the operation.
#[tokio::test]
async fn transient_errors_while_waiting_are_survived() {
    let env = setup_local(MockServer::builder()).await;
    env.server().inject(
        FaultRule::new(http::Method::GET, "/v1/operations/")
            .times(2)
            .status(502),
    );
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo survived")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "survived\n");
    assert_eq!(env.server().request_count("cancelOperation"), 0);
}

/// Python: `tag_as` on a tag-only image sends `/images/None/tag`.
#[tokio::test]
async fn tagging_a_tag_reference_resolves_it() {
    let env = setup().await;
    let img = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .tag_as("facade-bug-tag:1")
        .await
        .unwrap();
    assert!(img.id().is_some());
    img.untag("facade-bug-tag:1").await.unwrap();
}

/// Python: a wrong base URL or token surfaces only as an opaque repr with all headers.
#[tokio::test]
async fn api_errors_say_what_happened_without_secrets() {
    let env = setup().await;
    let c = client_builder(&env.base_url, "super-secret-token", Some("test-project"))
        .build()
        .unwrap();
    let e = c.images().list().await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains("listing images"), "{text}");
    assert!(text.contains("401"), "{text}");
    assert!(!text.contains("super-secret-token"), "{text}");
    assert!(!format!("{e:?}").contains("super-secret-token"));
}

/// Python (section 10): `Url::join`-style joining drops a base-URL path prefix such as
/// `/sandboxes`, and the 302 `Location` of find-by-tag lacks that prefix.
#[tokio::test]
async fn base_url_path_prefix_is_kept() {
    let env = setup_local(MockServer::builder().prefix("/sandboxes")).await;
    assert!(env.base_url.ends_with("/sandboxes"), "{}", env.base_url);
    let img = env.contree.images().get("ubuntu:latest").await.unwrap();
    let out = img.shell("echo prefixed").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "prefixed\n");
    // Inspect calls go through the prefix too.
    assert!(out.image().unwrap().ls("/").await.is_ok());
}
