//! Fan-out from one version with a concurrency bound, `wait_all`/`wait_any`, and the
//! operations API (get, list with filters as a stream, cancel, wait with deadline, events).

use std::collections::BTreeSet;
use std::time::Duration;

use contree::{EventKind, ImageId, OperationKind, OperationStatus};
use contree_integration_tests::setup_local;
use contree_mock::MockServer;
use futures_util::{StreamExt as _, TryStreamExt as _};

#[tokio::test]
async fn fan_out_200_runs_at_concurrency_32() {
    let env = setup_local(MockServer::builder()).await;
    let base = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .resolve()
        .await
        .unwrap();
    let runs = (0..200).map(|i| base.shell(format!("echo {i} > /n; cat /n")));
    let mut results = env.contree.fan_out(runs).concurrency(32).stream();
    let mut seen = BTreeSet::new();
    let mut ops = BTreeSet::new();
    while let Some(r) = results.next().await {
        let out = r.output.expect("run output");
        assert_eq!(out.stdout_str().unwrap(), format!("{}\n", r.index));
        let image = out.image().expect("kept");
        assert_eq!(
            image.parent().map(ImageId::from),
            base.id(),
            "knows its parent"
        );
        assert_eq!(image.operation_id(), Some(out.operation_id()));
        assert!(seen.insert(r.index), "index {} twice", r.index);
        assert!(ops.insert(out.operation_id().to_string()));
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(seen.last(), Some(&199));
    // No run was spawned twice.
    assert_eq!(env.server().request_count("spawnInstance"), 200);
}

#[tokio::test]
async fn fan_out_defaults_to_the_accounts_concurrency_and_keeps_input_order() {
    let env = setup_local(MockServer::builder().limit("instance_max_concurrency", 3)).await;
    let base = env.contree.images().use_tag("ubuntu:latest");
    let outs = base.fan_out_shell(["echo a", "echo b", "exit 4"]).await;
    assert_eq!(env.server().request_count("whoAmI"), 1);
    assert_eq!(
        env.contree
            .cached_whoami()
            .unwrap()
            .instance_max_concurrency(),
        Some(3)
    );
    let outs: Vec<_> = outs.into_iter().map(|o| o.unwrap()).collect();
    assert_eq!(outs[0].stdout_str().unwrap(), "a\n");
    assert_eq!(outs[1].stdout_str().unwrap(), "b\n");
    assert_eq!(outs[2].exit_code(), 4);
}

#[tokio::test]
async fn wait_any_returns_the_first_finisher_and_wait_all_everything() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let slow = img.shell("sleep 30; echo slow").start().await.unwrap();
    let fast = img.shell("echo fast").start().await.unwrap();
    let handles = vec![slow.clone(), fast.clone()];
    let (index, out) = env.contree.operations().wait_any(&handles).await.unwrap();
    assert_eq!(index, 1);
    assert_eq!(out.unwrap().stdout_str().unwrap(), "fast\n");
    assert!(
        !env.contree
            .operations()
            .get(slow.operation_id())
            .await
            .unwrap()
            .status
            .is_terminal()
    );
    slow.cancel().await.unwrap();

    let a = img.shell("echo 1").start().await.unwrap();
    let b = img.shell("echo 2").start().await.unwrap();
    let all = env.contree.operations().wait_all(&[a, b]).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].as_ref().unwrap().stdout_str().unwrap(), "1\n");
    assert_eq!(all[1].as_ref().unwrap().stdout_str().unwrap(), "2\n");
    assert!(env.contree.operations().wait_any(&[]).await.is_none());
}

#[tokio::test]
async fn operations_get_list_cancel_wait_events() {
    let env = setup_local(MockServer::builder()).await;
    let ops = env.contree.operations();
    let img = env.contree.images().use_tag("ubuntu:latest");
    let done = img.shell("echo hi").await.unwrap();

    // get
    let info = ops.get(done.operation_id()).await.unwrap();
    assert_eq!(info.id, done.operation_id());
    assert_eq!(info.status, OperationStatus::Success);
    assert_eq!(info.kind, Some(OperationKind::Instance));
    assert_eq!(
        info.result_image.clone().map(ImageId::from),
        done.image().and_then(|i| i.id())
    );

    // wait with a deadline: a long run is still running when the deadline passes.
    let long = img.shell("sleep 100").start().await.unwrap();
    let err = ops
        .wait(long.operation_id(), Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(err.operation_id(), Some(long.operation_id()));
    let running = ops.get(long.operation_id()).await.unwrap();
    assert!(!running.status.is_terminal(), "not cancelled by the wait");

    // list with filters, as a stream over pages
    let executing: Vec<_> = ops
        .list()
        .status(OperationStatus::Executing)
        .kind(OperationKind::Instance)
        .limit(1)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(executing.len(), 1);
    assert_eq!(executing[0].id, long.operation_id());
    let succeeded = ops
        .list()
        .status(OperationStatus::Success)
        .since(Duration::from_secs(3600))
        .await
        .unwrap();
    assert!(succeeded.iter().any(|o| o.id == done.operation_id()));
    assert!(
        succeeded
            .iter()
            .all(|o| o.status == OperationStatus::Success)
    );
    let imports = ops.list().kind(OperationKind::ImageImport).await.unwrap();
    assert!(imports.is_empty());

    // cancel, then waiting returns the terminal state
    ops.cancel(long.operation_id()).await.unwrap();
    let ended = ops
        .wait(long.operation_id(), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(ended.status, OperationStatus::Cancelled);
    let again = ops.cancel(long.operation_id()).await.unwrap_err();
    assert_eq!(again.status(), Some(http::StatusCode::CONFLICT));

    // events: typed, ordered, ending with completion
    let events: Vec<_> = ops.events(done.operation_id()).try_collect().await.unwrap();
    let ids: Vec<u64> = events.iter().map(|e| e.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert!(matches!(events[0].kind, EventKind::Init));
    assert!(
        events
            .iter()
            .any(|e| e.spid == Some(1)
                && matches!(&e.kind, EventKind::Stdout(b) if &b[..] == b"hi\n"))
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Exit(s) if s.success()))
    );
    match &events.last().unwrap().kind {
        EventKind::Completion(c) => {
            assert_eq!(c.status, OperationStatus::Success);
            assert_eq!(c.result_image, info.result_image);
        }
        other => panic!("last event is {other:?}"),
    }

    // Unknown operations are not found.
    let missing = ops
        .get("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
}
