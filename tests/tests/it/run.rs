//! Runs: the builder's options, outputs, chaining, files, stdin, event-stream waiting.

use std::time::Duration;

use contree::{ErrorKind, FileSpec, ImageId};
use contree_integration_tests::{setup, setup_local};
use contree_mock::{FaultRule, MockServer};

#[tokio::test]
async fn shell_run_yields_output_and_a_new_version() {
    let env = setup().await;
    let ubuntu = env.contree.images().use_tag("ubuntu:latest");
    let out = ubuntu.shell("echo hello; echo oops >&2").await.unwrap();
    assert_eq!(out.exit_code(), 0);
    assert!(out.success());
    assert_eq!(out.stdout_str().unwrap(), "hello\n");
    assert_eq!(out.stderr_lossy(), "oops\n");
    assert!(!out.operation_id().is_empty());
    assert!(!out.timed_out());
    assert_eq!(out.signal(), None);
    let next = out.image().expect("kept by default");
    assert!(next.id().is_some());
    assert_eq!(next.operation_id(), Some(out.operation_id()));
    assert!(next.parent().is_some(), "the new version knows its parent");
}

#[tokio::test]
async fn chain_from_the_new_version() {
    let env = setup().await;
    let first = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo one > /chain.txt")
        .await
        .unwrap();
    let img1 = first.image().unwrap();
    let second = img1
        .shell("cat /chain.txt; echo two >> /chain.txt")
        .await
        .unwrap();
    assert_eq!(second.stdout_str().unwrap(), "one\n");
    assert_eq!(
        second.image().unwrap().parent().map(ImageId::from),
        img1.id()
    );
    let third = second
        .image()
        .unwrap()
        .shell("cat /chain.txt")
        .await
        .unwrap();
    assert_eq!(third.stdout_str().unwrap(), "one\ntwo\n");
    // The first version is immutable.
    let again = img1.shell("cat /chain.txt").await.unwrap();
    assert_eq!(again.stdout_str().unwrap(), "one\n");
}

#[tokio::test]
async fn non_zero_exit_is_data_and_check_makes_it_an_error() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo bad >&2; exit 3")
        .await
        .unwrap();
    assert_eq!(out.exit_code(), 3);
    assert!(!out.success());
    let err = out.check().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NonZeroExit);
    assert_eq!(err.exit_code(), Some(3));
    assert!(err.to_string().contains("exited with code 3"), "{err}");
    assert!(err.to_string().contains("bad"), "{err}");
    assert!(err.operation_id().is_some());
}

#[tokio::test]
async fn command_with_args_env_and_cwd() {
    let env = setup().await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let out = img
        .run("/bin/sh")
        .args(["-c", "echo \"$GREETING $1\"; pwd", "sh", "world"])
        .env("GREETING", "hello")
        .cwd("/tmp/work")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "hello world\n/tmp/work\n");
    let out = img
        .shell("echo $A$B")
        .envs([("A", "x"), ("B", "y")])
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "xy\n");
    let err = img.shell("true").arg("nope").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = img.shell("true").cwd("relative").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn stdin_bytes_string_file_and_reader() {
    let env = setup().await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let out = img.shell("cat").stdin("from a string\n").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "from a string\n");
    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, b'\n'];
    let out = img.shell("cat").stdin(&binary).await.unwrap();
    assert_eq!(out.stdout().as_ref(), &binary[..]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    std::fs::write(&path, "from a file\n").unwrap();
    let out = img.shell("cat").stdin_file(&path).await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "from a file\n");
    let reader = std::io::Cursor::new(b"from a reader\n".to_vec());
    let run = img.shell("cat").stdin_reader(reader);
    let out = run.clone().await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "from a reader\n");
    // A reader is consumed once; a second await says so instead of sending empty stdin.
    let err = run.await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // Bytes stdin is resent on every await of a clone (no empty second run).
    let run = img.shell("cat").stdin("again\n");
    assert_eq!(run.clone().await.unwrap().stdout_str().unwrap(), "again\n");
    assert_eq!(run.await.unwrap().stdout_str().unwrap(), "again\n");
}

#[tokio::test]
async fn files_are_placed_and_uploaded_once_per_content() {
    let env = setup_local(MockServer::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("tool.sh");
    std::fs::write(&local, "echo from tool\n").unwrap();
    let uploaded = env
        .contree
        .files()
        .upload(b"pre-uploaded\n".to_vec())
        .await
        .unwrap();
    let uploads_before = env.server().request_count("uploadFile");
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("cat /a.txt /b.txt /c.txt /d.txt; sh /opt/tool.sh")
        .file("/a.txt", b"same\n".to_vec())
        .file("/b.txt", b"same\n".to_vec())
        .file("/c.txt", uploaded.clone())
        .file_spec(
            FileSpec::new("/d.txt", b"other\n".to_vec())
                .mode(0o600)
                .owner(1000, 1000),
        )
        .file_spec(FileSpec::new("/opt/tool.sh", local.clone()).mode(0o755))
        .await
        .unwrap();
    assert_eq!(
        out.stdout_str().unwrap(),
        "same\nsame\npre-uploaded\nother\nfrom tool\n"
    );
    // "same" once, "other" once, the tool once; the pre-uploaded file not again.
    assert_eq!(env.server().request_count("uploadFile") - uploads_before, 3);
    // A second run with the same contents uploads nothing (sha256 lookup hits).
    env.contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("true")
        .file("/a.txt", b"same\n".to_vec())
        .file("/opt/tool.sh", local)
        .await
        .unwrap();
    assert_eq!(env.server().request_count("uploadFile") - uploads_before, 3);
    let listing = out.image().unwrap().stat("/d.txt").await.unwrap();
    assert_eq!(listing.mode, 0o600);
    assert_eq!(listing.uid, 1000);
}

#[tokio::test]
async fn file_destination_checks() {
    let env = setup().await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let e = img
        .shell("true")
        .file("relative.txt", b"x".to_vec())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = img
        .shell("true")
        .file("/x", b"1".to_vec())
        .file("/x", b"2".to_vec())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[tokio::test]
async fn disposable_runs_have_no_image_and_default_is_kept() {
    let env = setup().await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let kept = img.shell("echo k").await.unwrap();
    assert!(kept.image().is_some());
    let gone = img.shell("echo d").disposable(true).await.unwrap();
    assert!(gone.image().is_none());
    assert_eq!(gone.stdout_str().unwrap(), "d\n");
}

#[tokio::test]
async fn truncate_output_at_flags_truncation() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo 0123456789abcdef")
        .truncate_output_at(8)
        .await
        .unwrap();
    assert!(out.stdout_truncated());
    assert!(out.stdout().len() <= 8, "{:?}", out.stdout());
    assert!(!out.stderr_truncated());
}

#[tokio::test]
async fn options_are_accepted_and_tag_result() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo opts > /opts")
        .hostname("facade-host")
        .uid(0)
        .gid(0)
        .networking(false)
        .max_layer_bytes(1 << 30)
        .preserve_env(true)
        .preserve_cwd(true)
        .cwd("/srv")
        .timeout(Duration::from_secs(30))
        .tag("facade-run-tag:1")
        .await
        .unwrap();
    let img = out.image().unwrap();
    assert_eq!(img.tag(), Some("facade-run-tag:1"));
    let found = env.contree.images().get("facade-run-tag:1").await.unwrap();
    assert_eq!(found.id(), img.id());
    assert!(out.duration().is_some() || out.resources().elapsed.is_some());
}

#[tokio::test]
async fn wait_deadline_always_exceeds_server_timeout() {
    let env = setup().await;
    let run = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("true")
        .timeout(Duration::from_secs(5));
    assert_eq!(run.server_timeout(), Duration::from_secs(5));
    assert!(run.wait_deadline() > run.server_timeout());
}

#[tokio::test]
async fn waits_on_the_event_stream_not_by_polling() {
    let env = setup_local(MockServer::builder()).await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("sleep 0.3; echo done")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "done\n");
    assert!(env.server().request_count("getOperationEvents") >= 1);
    assert_eq!(
        env.server().request_count("getOperationStatus"),
        1,
        "the operation is fetched exactly once, after completion"
    );
}

#[tokio::test]
async fn falls_back_to_polling_when_following_is_forbidden() {
    let env = setup_local(MockServer::builder()).await;
    // The first GET under /v1/operations/ after the spawn is the events follow request.
    env.server().inject(
        FaultRule::new(http::Method::GET, "/v1/operations/")
            .times(1)
            .status(403),
    );
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo polled")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "polled\n");
    assert!(env.server().request_count("getOperationStatus") >= 1);
}

#[tokio::test]
async fn event_stream_cuts_are_resumed() {
    let env = setup_local(MockServer::builder()).await;
    env.server().inject(
        FaultRule::new(http::Method::GET, "/v1/operations/")
            .times(3)
            .cut_stream_after(1),
    );
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo a; echo b; echo c")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "a\nb\nc\n");
}

#[tokio::test]
async fn spawn_rejection_is_an_api_error() {
    let env = setup_local(MockServer::builder()).await;
    env.server()
        .inject(FaultRule::new(http::Method::POST, "/v1/instances").status(400));
    let err = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("true")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api, "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn unknown_image_fails_clearly() {
    let env = setup().await;
    let err = env
        .contree
        .images()
        .use_tag("does-not-exist:0")
        .shell("true")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn builders_are_send_static_and_reusable() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let env = setup().await;
    let run = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo again");
    let fut = std::future::IntoFuture::into_future(run.clone());
    assert_send_static(&fut);
    let a = tokio::spawn(fut).await.unwrap().unwrap();
    let b = run.await.unwrap();
    assert_eq!(a.stdout(), b.stdout());
    assert_ne!(a.operation_id(), b.operation_id());
}

#[tokio::test]
async fn hostname_uid_gid_reach_the_vm() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("hostname; id -u; id -g")
        .hostname("facade-host")
        .uid(1000)
        .gid(1001)
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "facade-host\n1000\n1001\n");
}

#[tokio::test]
async fn preserve_env_and_cwd_are_stored_in_the_result() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("true")
        .env("KEPT", "yes")
        .cwd("/kept/dir")
        .preserve_env(true)
        .preserve_cwd(true)
        .await
        .unwrap();
    let next = out.image().unwrap();
    let out = next.shell("echo $KEPT; pwd").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "yes\n/kept/dir\n");
}

#[tokio::test]
async fn server_timeout_kills_and_is_reported() {
    let env = setup().await;
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo started; sleep 30; echo never")
        .timeout(Duration::from_secs(1))
        .await
        .expect("a timed-out command is a result, not an error");
    assert!(out.timed_out());
    assert!(!out.success());
    assert_eq!(out.stdout_str().unwrap(), "started\n");
    let e = out.check().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NonZeroExit);
    assert!(e.to_string().contains("timed out"), "{e}");
}

#[tokio::test]
async fn sequential_runs_reuse_their_connections() {
    // Each run is a spawn, an event stream followed to its end and an operation fetch. The
    // stream is read past `completion` to the end of its response, so its connection goes
    // back to the pool; before that fix every run opened (and closed) a connection.
    let env = setup_local(MockServer::builder()).await;
    let img = env
        .contree
        .images()
        .get("ubuntu:latest")
        .await
        .expect("the preloaded tag resolves");
    let runs = 10;
    for i in 0..runs {
        let out = img.shell(format!("echo {i}")).await.unwrap();
        assert_eq!(out.stdout_str().unwrap(), format!("{i}\n"));
    }
    let opened = env.server().connections_accepted();
    assert!(
        opened <= 3,
        "{runs} sequential runs opened {opened} connections"
    );
    // The event streams are asked for uncompressed (no inflate state per followed run);
    // everything else may be gzip.
    let reqs = env.server().requests();
    let header = |r: &contree_mock::RecordedRequest| {
        r.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
            .map(|(_, v)| v.clone())
    };
    let events: Vec<_> = reqs
        .iter()
        .filter(|r| r.operation_id.as_deref() == Some("getOperationEvents"))
        .collect();
    assert_eq!(events.len(), runs);
    assert!(
        events
            .iter()
            .all(|r| header(r).as_deref() == Some("identity"))
    );
    let spawn = reqs
        .iter()
        .find(|r| r.operation_id.as_deref() == Some("spawnInstance"))
        .expect("a spawn was recorded");
    assert_eq!(header(spawn).as_deref(), Some("gzip"));
}

#[tokio::test]
async fn compressed_event_streams_are_an_option() {
    let env = setup_local(MockServer::builder()).await;
    let server = env.server();
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .compress_event_streams(true)
    .build()
    .unwrap();
    let out = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo zipped")
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "zipped\n");
    let events: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.operation_id.as_deref() == Some("getOperationEvents"))
        .collect();
    assert_eq!(events.len(), 1);
    let enc = events[0]
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("accept-encoding"))
        .map(|(_, v)| v.as_str());
    assert_eq!(enc, Some("gzip"));
}
