//! Live output: `Run::stream()` delivers every byte once and in order, across cut streams
//! and failed reconnects; `Run::start()` gives a detached, re-attachable handle.

use bytes::{Bytes, BytesMut};
use contree::{EventKind, OperationStatus, RunEvent, RunOutput};
use contree_integration_tests::{client_builder, setup_local};
use contree_mock::{FaultRule, MockServer};
use futures_util::StreamExt as _;
use http::Method;

const SCRIPT: &str = "seq 1 20000; echo done >&2";

fn expected_stdout() -> String {
    (1..=20000).map(|i| format!("{i}\n")).collect()
}

/// Six times the output: about 160 output events, so cuts every 50 events really happen.
const LONG_SCRIPT: &str = "for i in 1 2 3 4 5 6; do seq 1 20000; done; echo done >&2";

fn expected_long_stdout() -> String {
    expected_stdout().repeat(6)
}

struct Collected {
    stdout: Bytes,
    stderr: Bytes,
    exits: usize,
    completions: usize,
    output: RunOutput,
}

/// Streams `run`, calling `on_started` with the operation id before the first event is read.
async fn collect(run: contree::Run, on_started: impl FnOnce(&str)) -> Collected {
    let mut s = run.stream();
    let mut on_started = Some(on_started);
    let (mut out, mut err) = (BytesMut::new(), BytesMut::new());
    let (mut exits, mut completions) = (0, 0);
    let mut output = None;
    while let Some(ev) = s.next().await {
        match ev.expect("stream item") {
            RunEvent::Started { operation_id } => {
                assert!(output.is_none());
                (on_started.take().expect("one Started event"))(&operation_id);
            }
            RunEvent::Stdout(b) => out.extend_from_slice(&b),
            RunEvent::Stderr(b) => err.extend_from_slice(&b),
            RunEvent::Exit(status) => {
                assert_eq!(status.code, 0);
                exits += 1;
            }
            RunEvent::Completion(c) => {
                assert_eq!(c.status, OperationStatus::Success);
                completions += 1;
            }
            RunEvent::Output(o) => {
                assert!(output.is_none(), "one Output");
                output = Some(*o);
            }
            _ => {}
        }
    }
    Collected {
        stdout: out.freeze(),
        stderr: err.freeze(),
        exits,
        completions,
        output: output.expect("the stream ends with the output"),
    }
}

/// Injects, for the events endpoint of `op`, a sequence of one-shot rules (the mock applies
/// the first matching rule, so they act in order): the first connection is refused with 425,
/// the next with 502, then every connection is cut after `cut` events and every third
/// reconnect is first refused with 425 or 502.
fn inject_cuts(server: &MockServer, op: &str, cut: u64) {
    let path = format!("/v1/operations/{op}/events");
    let rule = || FaultRule::new(Method::GET, path.clone());
    server.inject(rule().status(425));
    server.inject(rule().status(502));
    for i in 0..60 {
        if i % 3 == 2 {
            server.inject(rule().status(if i % 2 == 0 { 425 } else { 502 }));
        }
        server.inject(rule().cut_stream_after(cut));
    }
}

async fn faulted_run(script: &str, expected: String, cut: u64, min_connections: u64) {
    let env = setup_local(MockServer::builder()).await;
    let server = env.server();
    let img = env.contree.images().use_tag("ubuntu:latest");

    let clean = collect(img.shell(script), |_| {}).await;
    assert_eq!(clean.stdout, expected.as_bytes());
    assert_eq!(&clean.stderr[..], b"done\n");

    let before = server.request_count("getOperationEvents");
    let faulted = collect(img.shell(script), |op| {
        inject_cuts(server, op, cut);
    })
    .await;
    let connections = server.request_count("getOperationEvents") - before;

    // Every byte, in order, exactly once.
    assert_eq!(faulted.stdout, expected.as_bytes());
    assert_eq!(&faulted.stderr[..], b"done\n");
    assert_eq!(faulted.exits, 1);
    assert_eq!(faulted.completions, 1);
    // The final output is byte-identical to the fault-free run's.
    let (a, b) = (&clean.output, &faulted.output);
    assert_eq!(a.stdout(), b.stdout());
    assert_eq!(a.stderr(), b.stderr());
    assert_eq!(a.exit_code(), b.exit_code());
    assert_eq!(a.signal(), b.signal());
    assert_eq!(a.stdout_truncated(), b.stdout_truncated());
    assert_eq!(
        a.image().and_then(|i| i.id()),
        b.image().and_then(|i| i.id())
    );
    assert_eq!(b.stdout(), &faulted.stdout);
    // The faults really happened: the stream was re-opened many times.
    assert!(
        connections >= min_connections,
        "expected at least {min_connections} event connections, saw {connections}"
    );
}

#[tokio::test]
async fn stream_survives_cuts_every_50_events_and_425_502_reconnects() {
    // The mock emits about 35 events for this script, so only the 425 and 502 refusals
    // (and the final connection) happen here; see the long variant for the cuts.
    faulted_run(SCRIPT, expected_stdout(), 50, 3).await;
}

#[tokio::test]
async fn long_stream_survives_cuts_every_50_events_and_425_502_reconnects() {
    faulted_run(LONG_SCRIPT, expected_long_stdout(), 50, 5).await;
}

#[tokio::test]
async fn stream_survives_cuts_every_3_events_and_425_502_reconnects() {
    faulted_run(SCRIPT, expected_stdout(), 3, 12).await;
}

#[tokio::test]
async fn stream_survives_sse_error_frames() {
    let env = setup_local(MockServer::builder()).await;
    let server = env.server();
    let img = env.contree.images().use_tag("ubuntu:latest");
    let got = collect(img.shell(SCRIPT), |op| {
        for _ in 0..20 {
            server.inject(
                FaultRule::new(Method::GET, format!("/v1/operations/{op}/events"))
                    .sse_error_after(4),
            );
        }
    })
    .await;
    assert_eq!(got.stdout, expected_stdout().as_bytes());
    assert_eq!(&got.stderr[..], b"done\n");
}

#[tokio::test]
async fn start_gives_a_detached_reattachable_handle() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let handle = img
        .shell("echo one; echo two >&2; echo three > /f")
        .start()
        .await
        .unwrap();
    let id = handle.operation_id().to_string();
    assert_eq!(id.len(), 36, "an operation uuid: {id}");

    // Events from the handle end with the output.
    let items: Vec<RunEvent> = handle.events().map(|r| r.expect("event")).collect().await;
    let out = match items.last() {
        Some(RunEvent::Output(o)) => o.clone(),
        other => panic!("last item is not the output: {other:?}"),
    };
    assert_eq!(out.stdout_str().unwrap(), "one\n");
    assert_eq!(out.operation_id(), id);
    let waited = handle.wait().await.unwrap();
    assert_eq!(waited.stdout(), out.stdout());

    // Re-attach from just the id, with a different client.
    let other = client_builder(&env.base_url, env.server().token(), env.server().project())
        .build()
        .unwrap();
    let again = other.operations().attach(id.clone());
    let out2 = again.wait().await.unwrap();
    assert_eq!(out2.stdout_str().unwrap(), "one\n");
    assert_eq!(out2.stderr_str().unwrap(), "two\n");
    let new_image = out2.image().expect("a kept run has an image");
    assert_eq!(new_image.operation_id(), Some(id.as_str()));
    assert_eq!(new_image.read_to_string("/f").await.unwrap(), "three\n");
    assert_eq!(
        new_image.parent().map(contree::ImageId::from),
        img.resolve().await.unwrap().id(),
        "the produced image knows its parent"
    );

    // Resume the events after a given id: nothing before it is repeated.
    let all: Vec<contree::Event> = other
        .operations()
        .events(&id)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert!(all.last().unwrap().is_completion());
    let mid = all[all.len() / 2].id.unwrap();
    let rest: Vec<contree::Event> = other
        .operations()
        .events_since(&id, mid)
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(
        rest.len(),
        all.iter().filter(|e| e.id.unwrap() > mid).count()
    );
    assert!(rest.iter().all(|e| e.id.unwrap() > mid));
    let resumed: Vec<RunEvent> = again.events_since(mid).map(|r| r.unwrap()).collect().await;
    assert!(matches!(resumed.last(), Some(RunEvent::Output(_))));
}

#[tokio::test]
async fn cancel_a_started_run() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let handle = img.shell("sleep 100").start().await.unwrap();
    // Wait until it runs (its first process event), then cancel.
    let mut events = env.contree.operations().events(handle.operation_id());
    while let Some(ev) = events.next().await {
        if matches!(ev.unwrap().kind, EventKind::Spawn { .. }) {
            break;
        }
    }
    handle.cancel().await.unwrap();
    let err = handle.wait().await.unwrap_err();
    assert_eq!(err.kind(), contree::ErrorKind::OperationCancelled);
    let info = handle.status().await.unwrap();
    assert_eq!(info.status, OperationStatus::Cancelled);
    assert!(env.server().request_count("cancelOperation") >= 1);
}

#[tokio::test]
async fn a_streamed_run_on_a_session_advances_it() {
    let env = setup_local(MockServer::builder()).await;
    let session = env.contree.images().use_tag("ubuntu:latest").session();
    let mut s = session.shell("echo 1 > /marker; echo hi").stream();
    let mut last = None;
    while let Some(ev) = s.next().await {
        last = Some(ev.unwrap());
    }
    let Some(RunEvent::Output(out)) = last else {
        panic!("no output")
    };
    assert_eq!(session.history().len(), 2);
    assert_eq!(session.current().id(), out.image().unwrap().id());
    assert_eq!(
        session.current().read_to_string("/marker").await.unwrap(),
        "1\n"
    );
    // A started run on a session advances it when waited for.
    let h = session.shell("echo 2 >> /marker").start().await.unwrap();
    let out = h.wait().await.unwrap();
    assert_eq!(session.history().len(), 3);
    assert_eq!(session.current().id(), out.image().unwrap().id());
}

#[tokio::test]
async fn streamed_runs_read_to_their_end_reuse_their_connections() {
    // A stream consumed to its end reads its event response past `completion`, so that
    // connection serves the next request (before, every streamed run opened a new one).
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().get("ubuntu:latest").await.unwrap();
    let runs = 8;
    for i in 0..runs {
        let c = collect(img.shell(format!("echo {i}")), |_| {}).await;
        assert_eq!(c.stdout, format!("{i}\n").as_bytes());
        assert_eq!(c.completions, 1);
    }
    let opened = env.server().connections_accepted();
    assert!(
        opened <= 3,
        "{runs} streamed runs opened {opened} connections"
    );
}
