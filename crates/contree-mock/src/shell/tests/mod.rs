//! Tests of the simulated shell: builtins, pipelines, redirections, streaming and cancellation.

mod builtins;
mod language;
mod process;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{ProcessIo, ProcessSpec, run_process};
use crate::fs::Fs;

struct Out {
    status: i32,
    stdout: String,
    stderr: String,
    chunks: Vec<Bytes>,
}

fn base_fs() -> Fs {
    let mut fs = Fs::new();
    fs.set_clock(Some(1_700_000_000));
    for d in ["/tmp", "/root", "/home/user", "/etc", "/bin", "/usr/bin"] {
        fs.mkdir_p(d).unwrap();
    }
    fs.write(
        "/etc/passwd",
        Bytes::from_static(
            b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        ),
    )
    .unwrap();
    fs.write(
        "/etc/group",
        Bytes::from_static(b"root:x:0:\nuser:x:1000:\n"),
    )
    .unwrap();
    fs
}

fn spec(cmd: &str) -> ProcessSpec {
    ProcessSpec {
        command: cmd.to_owned(),
        args: Vec::new(),
        shell: true,
        env: BTreeMap::new(),
        cwd: "/root".to_owned(),
        uid: 0,
        gid: 0,
        hostname: "box".to_owned(),
    }
}

async fn run_with(fs: Arc<Mutex<Fs>>, spec: ProcessSpec, stdin: &[&str]) -> Out {
    let (tx, rx) = mpsc::channel(16);
    let (otx, mut orx) = mpsc::unbounded_channel();
    let (etx, mut erx) = mpsc::unbounded_channel();
    for s in stdin {
        tx.send(Bytes::from(s.to_string())).await.unwrap();
    }
    drop(tx);
    let status = run_process(
        fs,
        spec,
        ProcessIo {
            stdin: rx,
            stdout: otx,
            stderr: etx,
        },
        42,
    )
    .await;
    let mut chunks = Vec::new();
    while let Ok(c) = orx.try_recv() {
        chunks.push(c);
    }
    let mut err = Vec::new();
    while let Ok(c) = erx.try_recv() {
        err.extend_from_slice(&c);
    }
    let stdout = String::from_utf8_lossy(&chunks.concat()).into_owned();
    Out {
        status,
        stdout,
        stderr: String::from_utf8_lossy(&err).into_owned(),
        chunks,
    }
}

async fn sh_fs(cmd: &str) -> (Out, Arc<Mutex<Fs>>) {
    let fs = Arc::new(Mutex::new(base_fs()));
    let out = run_with(fs.clone(), spec(cmd), &[]).await;
    (out, fs)
}

async fn sh(cmd: &str) -> Out {
    sh_fs(cmd).await.0
}

async fn stdout(cmd: &str) -> String {
    let o = sh(cmd).await;
    assert_eq!(o.stderr, "", "unexpected stderr for {cmd:?}");
    o.stdout
}
