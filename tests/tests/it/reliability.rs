//! Reliability of the facade under faults (issue 16): exec output across cut streams,
//! follower failures, deadlines, a failed follow-up step of a run.

use contree::{ErrorKind, Signal};
use contree_integration_tests::setup_local;
use contree_mock::{FaultRule, MockServer};
use futures_util::StreamExt as _;
use http::Method;
use tokio::io::AsyncReadExt as _;

fn seq(n: u64) -> Vec<u8> {
    (1..=n)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes()
}

fn events_rule() -> FaultRule {
    FaultRule::new(Method::GET, "/v1/operations/").path_suffix("/events")
}

/// Defect 4: a spid-filtered stream that ends cleanly after 2 events is resumed, so the
/// exec's whole output is read (it was cut at 4,097 of 23,893 bytes, reported as EOF).
#[tokio::test]
async fn an_exec_output_cut_every_two_events_is_read_whole() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let main = img.shell("sleep 100").spawn().await.unwrap();
    env.server()
        .inject(events_rule().cut_stream_after(2).forever());
    let mut sub = main.exec("seq 1 5000").spawn().await.unwrap();
    let mut out = Vec::new();
    sub.take_stdout()
        .unwrap()
        .read_to_end(&mut out)
        .await
        .expect("the whole output, or an error");
    assert_eq!(out.len(), 23_893);
    assert_eq!(out, seq(5000));
    assert!(sub.wait().await.unwrap().success());
    env.server().clear_faults();
    main.kill(Signal::Kill).await.unwrap();
}

/// Defect 4: when the exec's event stream cannot be resumed, reading its output fails with
/// an `io::Error` (a contree error of kind `Process`) instead of a silent early EOF.
#[tokio::test]
async fn a_follower_failure_reaches_read_as_an_error() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let main = img.shell("sleep 100").spawn().await.unwrap();
    // The exec's first stream ends after 2 events; every reconnection is refused with a
    // 404, which is not retried.
    env.server().inject(events_rule().cut_stream_after(2));
    env.server().inject(events_rule().status(404).forever());
    let mut sub = main.exec("seq 1 5000").spawn().await.unwrap();
    let mut out = Vec::new();
    let err = sub
        .take_stdout()
        .unwrap()
        .read_to_end(&mut out)
        .await
        .expect_err("a cut-short output is an error, not EOF");
    assert!(out.len() < 23_893, "{} bytes", out.len());
    assert!(
        seq(5000).starts_with(&out),
        "what was read is a correct prefix"
    );
    let inner = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<contree::Error>())
        .expect("a contree::Error inside the io::Error");
    assert_eq!(inner.kind(), ErrorKind::Process);
    assert!(err.to_string().contains("cut short"), "{err}");
    // The stream form reports it too.
    let mut stderr = sub.take_stderr().unwrap();
    let mut saw_error = false;
    while let Some(item) = stderr.next().await {
        saw_error |= item.is_err();
    }
    assert!(saw_error, "the stderr stream ends with the error");
    assert!(sub.wait().await.is_err());
    env.server().clear_faults();
    // The main process's follower met the 404s too: end the run by id.
    env.contree
        .operations()
        .cancel(main.operation_id())
        .await
        .unwrap();
}

/// Defect 7: `Run::stream()` has an overall deadline (the run's wait deadline): a run that
/// cannot finish in time ends the stream with a `Timeout` error instead of waiting forever.
#[tokio::test]
async fn a_streamed_run_ends_at_its_deadline() {
    // Operations stay PENDING for a minute: the run cannot end before the deadline.
    let server = MockServer::builder()
        .latency(std::time::Duration::from_secs(60))
        .start()
        .await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .wait_margin(std::time::Duration::from_millis(1))
    .build()
    .unwrap();
    let img = contree.images().use_tag("ubuntu:latest");
    let run = img
        .shell("echo hi")
        .timeout(std::time::Duration::from_secs(1));
    let mut live = run.stream();
    let mut last = None;
    while let Some(item) = live.next().await {
        if let Err(e) = item {
            last = Some(e);
        }
    }
    let e = last.expect("the stream ends with an error");
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.operation_id().is_some(), "{e}");
    assert!(e.to_string().contains("still running"), "{e}");
}

/// Defect 7: `Operations::events()` has an overall deadline (`events_deadline` on the
/// builder; per call with `events_with_deadline`).
#[tokio::test]
async fn operation_events_end_at_the_deadline() {
    let server = MockServer::builder()
        .latency(std::time::Duration::ZERO)
        .start()
        .await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .events_deadline(std::time::Duration::from_millis(300))
    .build()
    .unwrap();
    let handle = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("sleep 100")
        .start()
        .await
        .unwrap();
    let id = handle.operation_id().to_string();
    let mut events = contree.operations().events(&id);
    let mut seen = 0;
    let err = loop {
        match events
            .next()
            .await
            .expect("the stream ends with an error, not silently")
        {
            Ok(_) => seen += 1,
            Err(e) => break e,
        }
    };
    assert!(seen >= 1, "the events before the deadline arrive");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(
        events.next().await.is_none(),
        "nothing after the deadline error"
    );
    // A re-attached run's events are bounded the same way.
    let mut attached = contree.operations().attach(id.clone()).events();
    let err = loop {
        if let Err(e) = attached.next().await.expect("an error at the deadline") {
            break e;
        }
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    handle.cancel().await.unwrap();
}

/// A run whose follow-up tag request fails still advances its session to the version it
/// made, and reports the error.
#[tokio::test]
async fn a_failed_tag_request_still_advances_the_session() {
    let env = setup_local(MockServer::builder()).await;
    let session = env.contree.images().use_tag("ubuntu:latest").session();
    let start = session.current();
    env.server()
        .inject(FaultRule::new(Method::PATCH, "/v1/images/").status(409));
    let err = session
        .shell("echo made > /made")
        .tag("release-1")
        .await
        .expect_err("the tag request failed");
    assert_eq!(err.status(), Some(http::StatusCode::CONFLICT), "{err}");
    let now = session.current();
    assert_ne!(now, start, "the session moved to the version the run made");
    assert_eq!(now.read_to_string("/made").await.unwrap(), "made\n");
    assert_eq!(session.history().len(), 2);
    // The same for a streamed run.
    env.server()
        .inject(FaultRule::new(Method::PATCH, "/v1/images/").status(409));
    let mut live = session
        .shell("echo again >> /made")
        .tag("release-2")
        .stream();
    let mut failed = false;
    while let Some(item) = live.next().await {
        failed |= item.is_err();
    }
    assert!(failed, "the streamed run reports the tag failure");
    assert_eq!(session.history().len(), 3);
    assert_eq!(
        session.current().read_to_string("/made").await.unwrap(),
        "made\nagain\n"
    );
}

/// A server sha256 that differs from the local one is an error, not only a log line.
#[tokio::test]
async fn an_upload_stored_with_another_sha256_is_an_error() {
    let env = setup_local(MockServer::builder()).await;
    env.server()
        .inject(FaultRule::new(Method::POST, "/v1/files").corrupt_request_body());
    let err = env
        .contree
        .files()
        .upload(bytes::Bytes::from_static(b"precious bytes\n"))
        .await
        .expect_err("a corrupted upload is refused");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("sha256"), "{err}");
    // A run with that file fails too, rather than running on other bytes.
    env.server()
        .inject(FaultRule::new(Method::POST, "/v1/files").corrupt_request_body());
    let err = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("cat /in")
        .file("/in", bytes::Bytes::from_static(b"other precious bytes\n"))
        .await
        .expect_err("the run is not started on corrupted input");
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
}
