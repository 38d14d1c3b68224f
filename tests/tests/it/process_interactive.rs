//! Interactive processes: `Run::spawn()` (stdin as `AsyncWrite`, stdout/stderr as
//! `AsyncRead`, kill, wait) and `exec()` of subprocesses (spid 2+) in a running VM.

use contree::{ErrorKind, Signal};
use contree_integration_tests::setup_local;
use contree_mock::{FaultRule, MockServer};
use futures_util::StreamExt as _;
use http::Method;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test]
async fn lines_written_to_cat_come_back_on_stdout() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let mut cat = img.run("cat").spawn().await.unwrap();
    assert_eq!(cat.spid(), 1);

    // The spawn kept stdin open (`close: false`), else `cat` would have ended at once
    // and the writes below would be refused.
    let mut stdin = cat.take_stdin().unwrap();
    let mut stdout = cat.take_stdout().unwrap();
    let lines: Vec<String> = (1..=50).map(|i| format!("line {i}\n")).collect();
    for line in &lines {
        stdin.write_all(line.as_bytes()).await.unwrap();
    }
    stdin.shutdown().await.unwrap();
    let mut got = String::new();
    stdout.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, lines.concat());
    let status = cat.wait().await.unwrap();
    assert!(status.success(), "{status:?}");
    // Every chunk was one POST, plus one to close.
    assert_eq!(
        env.server().request_count("operationSubprocessStdin"),
        lines.len() as u64 + 1
    );
    let out = cat.output().await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), lines.concat());
}

#[tokio::test]
async fn kill_with_sigterm_ends_sleep_and_reports_the_signal() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let sleeper = img.shell("sleep 100").spawn().await.unwrap();
    sleeper.kill(Signal::Term).await.unwrap();
    let status = sleeper.wait().await.unwrap();
    assert_eq!(status.signal, Some(15));
    assert_eq!(status.code, -1);
    assert!(!status.success());
    let kill = env
        .server()
        .requests()
        .into_iter()
        .find(|r| r.method == Method::DELETE && r.path.contains("/subprocesses/1"))
        .expect("a kill request");
    assert_eq!(kill.query.as_deref(), Some("signal=TERM"));
    let out = sleeper.output().await.unwrap();
    assert_eq!(out.signal(), Some(15));
}

#[tokio::test]
async fn exec_runs_subprocesses_in_the_running_vm() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let main = img
        .shell("echo main > /state; sleep 100")
        .spawn()
        .await
        .unwrap();

    // A non-interactive exec: output read back through the subprocess endpoint.
    let ls = main.exec("cat /state; echo err >&2; exit 3").await.unwrap();
    assert!(ls.spid >= 2);
    assert_eq!(&ls.stdout[..], b"main\n");
    assert_eq!(&ls.stderr[..], b"err\n");
    assert_eq!(ls.status.code, 3);
    assert!(env.server().request_count("operationSubprocess") >= 1);

    // An interactive exec with the same handle type.
    let mut sub = main.run_handle().exec("cat").spawn().await.unwrap();
    assert!(sub.spid() > ls.spid);
    let mut stdin = sub.take_stdin().unwrap();
    let mut out = sub.take_stdout().unwrap();
    stdin.send("hello from exec\n").await.unwrap();
    let first = out.next().await.expect("a chunk").unwrap();
    assert_eq!(&first[..], b"hello from exec\n");
    stdin.close().await.unwrap();
    assert!(sub.wait().await.unwrap().success());
    assert!(out.next().await.is_none(), "stdout ends at exit");

    // An executable with arguments.
    let echo = main.exec("echo").args(["a", "b"]).await.unwrap();
    assert_eq!(&echo.stdout[..], b"a b\n");

    main.kill(Signal::Kill).await.unwrap();
    assert_eq!(main.wait().await.unwrap().signal, Some(9));
}

#[tokio::test]
async fn a_stdin_chunk_answered_504_is_not_retried() {
    let env = setup_local(MockServer::builder()).await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let mut cat = img.run("cat").spawn().await.unwrap();
    let path = format!("/v1/operations/{}/subprocesses/1/stdin", cat.operation_id());
    env.server()
        .inject(FaultRule::new(Method::POST, path).status(504));
    let stdin = cat.stdin().unwrap();
    let err = stdin.send("once\n").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Process);
    assert!(err.to_string().contains("504"), "{err}");
    assert_eq!(env.server().request_count("operationSubprocessStdin"), 1);
    // The writer is still usable.
    stdin.send("twice\n").await.unwrap();
    stdin.close().await.unwrap();
    let mut got = String::new();
    cat.take_stdout()
        .unwrap()
        .read_to_string(&mut got)
        .await
        .unwrap();
    assert_eq!(got, "twice\n");
}

#[tokio::test]
async fn a_spawned_run_on_a_session_advances_it() {
    let env = setup_local(MockServer::builder()).await;
    let session = env.contree.images().use_tag("ubuntu:latest").session();
    let mut p = session.shell("cat > /typed").spawn().await.unwrap();
    let mut stdin = p.take_stdin().unwrap();
    stdin.write_all(b"typed in\n").await.unwrap();
    stdin.shutdown().await.unwrap();
    assert!(p.wait().await.unwrap().success());
    let out = p.output().await.unwrap();
    assert_eq!(session.history().len(), 2);
    assert_eq!(session.current().id(), out.image().unwrap().id());
    assert_eq!(
        session.current().read_to_string("/typed").await.unwrap(),
        "typed in\n"
    );
}

#[tokio::test]
async fn stdin_waits_until_the_process_is_registered() {
    // A slow server: the VM takes a while to boot, so a write sent right after the spawn
    // would be refused (425 while queued, 404 before the process exists).
    let server = MockServer::builder()
        .latency(std::time::Duration::from_millis(150))
        .start()
        .await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .build()
    .unwrap();
    let mut cat = contree
        .images()
        .use_tag("ubuntu:latest")
        .run("cat")
        .spawn()
        .await
        .unwrap();
    let stdin = cat.stdin().unwrap();
    stdin.send("early\n").await.unwrap();
    stdin.close().await.unwrap();
    let mut got = String::new();
    cat.take_stdout()
        .unwrap()
        .read_to_string(&mut got)
        .await
        .unwrap();
    assert_eq!(got, "early\n");
    // Each write was sent once, after registration: no refused attempts.
    assert_eq!(server.request_count("operationSubprocessStdin"), 2);
}
