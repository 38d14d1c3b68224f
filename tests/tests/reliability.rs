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
