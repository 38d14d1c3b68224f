//! Tests of processes: argv runs, stdin, streaming output, killing, pipelines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{base_fs, run_with, sh, sh_fs, spec, stdout};
use crate::fs::Fs;
use crate::shell::{ProcessIo, run_process};

#[tokio::test]
async fn pipelines_run_concurrently() {
    assert_eq!(stdout("yes | head -n 3").await, "y\ny\ny\n");
    assert_eq!(stdout("yes abc | head -c 8").await, "abc\nabc\n");
    assert_eq!(stdout("seq 1 100000 | tail -n 2").await, "99999\n100000\n");
    assert_eq!(stdout("echo hello | tr a-z A-Z | cat").await, "HELLO\n");
    assert_eq!(stdout("head -c 100 /dev/zero | wc -c").await, "100\n");
    assert_eq!(
        stdout("cat /dev/zero | head -c 5 | base64").await,
        "AAAAAAA=\n"
    );
    assert_eq!(
        stdout("printf 'b\\na\\nb\\n' | sort | uniq -c").await,
        "      1 a\n      2 b\n"
    );
}

#[tokio::test]
async fn urandom_is_seeded() {
    let a = stdout("head -c 32 /dev/urandom | sha256sum").await;
    let b = stdout("head -c 32 /dev/urandom | sha256sum").await;
    assert_eq!(a, b);
    let fs = Arc::new(Mutex::new(base_fs()));
    let (tx, rx) = mpsc::channel(1);
    drop(tx);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let st = run_process(
        fs,
        spec("head -c 32 /dev/urandom | sha256sum"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        43,
    )
    .await;
    assert_eq!(st, 0);
    assert_ne!(String::from_utf8_lossy(&orx.recv().await.unwrap()), a);
}

#[tokio::test]
async fn non_shell_runs() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let mut sp = spec("/bin/echo");
    sp.shell = false;
    sp.args = vec!["a b".into(), "$HOME".into(), "*".into()];
    let o = run_with(fs.clone(), sp, &[]).await;
    assert_eq!((o.status, o.stdout.as_str()), (0, "a b $HOME *\n"));
    let mut sp = spec("nosuch");
    sp.shell = false;
    let o = run_with(fs.clone(), sp, &[]).await;
    assert_eq!(
        (o.status, o.stderr.as_str()),
        (127, "sh: nosuch: not found\n")
    );
    let mut sp = spec("sh");
    sp.shell = false;
    sp.args = vec![
        "-c".into(),
        "echo $0 $1".into(),
        "name".into(),
        "arg".into(),
    ];
    assert_eq!(run_with(fs.clone(), sp, &[]).await.stdout, "name arg\n");
    // scripts in the filesystem run; binaries cannot
    fs.lock()
        .unwrap()
        .write_with(
            "/usr/bin/hello",
            Bytes::from_static(b"#!/bin/sh\necho hello $1\nexit 5\n"),
            0o755,
            0,
            0,
        )
        .unwrap();
    let o = run_with(fs.clone(), spec("hello world; echo $?"), &[]).await;
    assert_eq!(o.stdout, "hello world\n5\n");
    fs.lock()
        .unwrap()
        .write_with(
            "/usr/bin/bin",
            Bytes::from_static(b"\x7fELF\0"),
            0o755,
            0,
            0,
        )
        .unwrap();
    assert_eq!(run_with(fs, spec("bin"), &[]).await.status, 126);
}

#[tokio::test]
async fn stdin_and_interactive_cat() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let o = run_with(fs.clone(), spec("cat; echo end"), &["a\n", "b\n"]).await;
    assert_eq!(o.stdout, "a\nb\nend\n");
    let o = run_with(
        fs.clone(),
        spec("read x; read y; echo \"$y-$x\"; cat"),
        &["1\n2\nrest\n"],
    )
    .await;
    assert_eq!(o.stdout, "2-1\nrest\n");
    let o = run_with(fs.clone(), spec("sh"), &["echo from\n", "echo stdin\n"]).await;
    assert_eq!(o.stdout, "from\nstdin\n");

    // interactive: each line comes back before the next is written
    let (tx, rx) = mpsc::channel(1);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let mut sp = spec("cat");
    sp.shell = false;
    let task = tokio::spawn(run_process(
        fs,
        sp,
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    ));
    for line in ["one\n", "two\n"] {
        tx.send(Bytes::from(line)).await.unwrap();
        assert_eq!(orx.recv().await.unwrap(), line);
    }
    drop(tx);
    assert_eq!(task.await.unwrap(), 0);
}

#[tokio::test(start_paused = true)]
async fn output_streams_while_running() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let (_tx, rx) = mpsc::channel(1);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let start = tokio::time::Instant::now();
    let task = tokio::spawn(run_process(
        fs,
        spec("echo a; sleep 1; echo b; sleep 0.5; echo c"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    ));
    let mut seen = Vec::new();
    while let Some(chunk) = orx.recv().await {
        seen.push((chunk, start.elapsed()));
    }
    assert_eq!(task.await.unwrap(), 0);
    let chunks: Vec<&[u8]> = seen.iter().map(|(c, _)| c.as_ref()).collect();
    assert_eq!(chunks, [b"a\n", b"b\n", b"c\n"]);
    assert!(seen[0].1 < Duration::from_secs(1));
    assert!(seen[1].1 >= Duration::from_secs(1) && seen[1].1 < Duration::from_millis(1500));
    assert!(seen[2].1 >= Duration::from_millis(1500));
}

#[tokio::test]
async fn large_output_comes_in_kb_chunks() {
    let o = sh("seq 1 20000").await;
    assert_eq!(o.stdout.lines().count(), 20000);
    assert!(o.chunks.len() > 5, "{} chunks", o.chunks.len());
    assert!(
        o.chunks
            .iter()
            .all(|c| c.len() <= crate::shell::io::CHUNK_MAX)
    );
    assert!(
        o.chunks[..o.chunks.len() - 1]
            .iter()
            .all(|c| c.len() >= crate::shell::io::CHUNK_MIN)
    );
}

async fn assert_killable(fs: &Arc<Mutex<Fs>>, cmd: &str, wait: Duration) {
    let (_tx, rx) = mpsc::channel(1);
    let (otx, orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    let fut = run_process(
        fs.clone(),
        spec(cmd),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    );
    let r = tokio::time::timeout(wait, fut).await;
    assert!(r.is_err(), "{cmd} should still run");
    drop(orx);
    // the filesystem lock is free once the future is gone
    assert!(fs.try_lock().is_ok(), "{cmd}");
}

#[tokio::test(start_paused = true)]
async fn dropping_the_future_kills_a_waiting_process() {
    let fs = Arc::new(Mutex::new(base_fs()));
    for cmd in ["sleep 1000", "cat", "sleep 1; sleep infinity", "read x"] {
        assert_killable(&fs, cmd, Duration::from_secs(5)).await;
    }
}

#[tokio::test]
async fn dropping_the_future_kills_a_busy_process() {
    // Busy commands yield to the runtime, so a timeout can fire and drop them.
    let fs = Arc::new(Mutex::new(base_fs()));
    for cmd in [
        "yes",
        "while true; do :; done",
        "yes | cat > /tmp/big",
        "cat /dev/zero | cat",
        "seq 1 100000000",
    ] {
        assert_killable(&fs, cmd, Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn big_redirected_output_is_fast_enough_to_finish() {
    // Appends are amortised: this writes ~1.3 MB through the redirection in ~160 chunks.
    let (o, fs) = sh_fs("seq 1 200000 > /tmp/big; wc -l < /tmp/big; tail -n 1 /tmp/big").await;
    assert_eq!(o.stdout, "200000\n200000\n");
    assert_eq!(fs.lock().unwrap().stat("/tmp/big").unwrap().size, 1_288_895);
}

#[tokio::test]
async fn small_writes_in_a_loop_are_merged() {
    let o = sh("for i in $(seq 1 500); do echo $i; done").await;
    assert_eq!(o.stdout.lines().count(), 500);
    assert!(o.chunks.len() < 20, "{} chunks", o.chunks.len());
    assert!(
        o.chunks
            .iter()
            .all(|c| c.len() <= crate::shell::io::CHUNK_MAX)
    );
}

#[tokio::test(start_paused = true)]
async fn stdout_receiver_gone_stops_writers() {
    let fs = Arc::new(Mutex::new(base_fs()));
    let (_tx, rx) = mpsc::channel(1);
    let (otx, orx) = mpsc::unbounded_channel();
    let (etx, _erx) = mpsc::unbounded_channel();
    drop(orx);
    let st = run_process(
        fs,
        spec("yes; echo done >&2"),
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        1,
    );
    // `yes` sees a broken pipe instead of running forever
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(60), st).await.ok(),
        Some(0)
    );
}
