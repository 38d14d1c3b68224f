//! The five workloads: each command carries a unique marker and prints a known pattern.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use contree::{Contree, EventKind, Image, RunEvent};
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::AsyncReadExt as _;

use crate::schedule::{Plan, Workload};

/// What a workload got, for comparison with what it should have got.
#[derive(Debug, Default)]
pub struct Got {
    /// Byte sequences received, with what was expected.
    pub outputs: Vec<Output>,
    /// The operation the workload spawned, once known.
    pub op_id: Option<String>,
    /// Whether the workload started subprocesses (their spawns are counted too).
    pub execs: bool,
}

/// One byte sequence a workload received.
#[derive(Debug)]
pub struct Output {
    pub expected: Vec<u8>,
    pub received: Vec<u8>,
    /// Whether the SDK said the sequence was complete (an `Ok` end of the read): it must
    /// then be exactly what was expected; otherwise only a correct prefix.
    pub complete: bool,
}

impl Got {
    fn push(&mut self, expected: &[u8], received: &[u8], complete: bool) {
        self.outputs.push(Output {
            expected: expected.to_vec(),
            received: received.to_vec(),
            complete,
        });
    }
}

/// `seq 1 n` as the mock prints it.
pub fn seq(n: u64) -> Vec<u8> {
    (1..=n)
        .map(|i| format!("{i}\n"))
        .collect::<String>()
        .into_bytes()
}

fn command(marker: &str, lines: u64) -> (String, Vec<u8>) {
    let mut expected = format!("{marker}\n").into_bytes();
    expected.extend(seq(lines));
    (format!("echo {marker}; seq 1 {lines}"), expected)
}

/// Runs `plan`'s workload against `img` (`data` is the image holding the download).
pub async fn run(
    contree: &Contree,
    img: &Image,
    data: &Image,
    plan: &Plan,
    marker: &str,
    got: &mut Got,
) -> Result<(), String> {
    match plan.workload {
        Workload::Awaited => awaited(img, plan, marker, got).await,
        Workload::Streamed => streamed(img, plan, marker, got).await,
        Workload::Interactive => interactive(img, plan, marker, got).await,
        Workload::Detached => detached(contree, img, plan, marker, got).await,
        Workload::Download => download(data, plan, got).await,
    }
}

async fn awaited(img: &Image, plan: &Plan, marker: &str, got: &mut Got) -> Result<(), String> {
    let content: Vec<u8> = (0..plan.lines / 10 + 1)
        .flat_map(|i| format!("{marker} file line {i}\n").into_bytes())
        .collect();
    let (cmd, tail) = command(marker, plan.lines);
    let mut expected = content.clone();
    expected.extend(tail);
    let out = img
        .shell(format!("cat /in.txt; {cmd}"))
        .file("/in.txt", content)
        .await
        .map_err(fail)?;
    got.op_id = Some(out.operation_id().to_string());
    got.push(&expected, out.stdout(), true);
    Ok(())
}

async fn collect_run_events(
    mut events: contree::BoxStream<RunEvent>,
    expected: &[u8],
    got: &mut Got,
) -> Result<(), String> {
    let mut chunks = BytesMut::new();
    let mut output = None;
    let result = async {
        while let Some(ev) = events.next().await {
            match ev.map_err(fail)? {
                RunEvent::Started { operation_id } => got.op_id = Some(operation_id),
                RunEvent::Stdout(b) => chunks.extend_from_slice(&b),
                RunEvent::Output(o) => output = Some(o),
                _ => {}
            }
        }
        Ok::<_, String>(())
    }
    .await;
    got.push(expected, &chunks, result.is_ok());
    result?;
    let output =
        output.ok_or_else(|| "the event stream ended without its RunEvent::Output".to_string())?;
    got.push(expected, output.stdout(), true);
    Ok(())
}

async fn streamed(img: &Image, plan: &Plan, marker: &str, got: &mut Got) -> Result<(), String> {
    let (cmd, expected) = command(marker, plan.lines);
    collect_run_events(img.shell(cmd).stream(), &expected, got).await
}

async fn detached(
    contree: &Contree,
    img: &Image,
    plan: &Plan,
    marker: &str,
    got: &mut Got,
) -> Result<(), String> {
    let (cmd, expected) = command(marker, plan.lines);
    let id = img
        .shell(cmd)
        .start()
        .await
        .map_err(fail)?
        .operation_id()
        .to_string();
    got.op_id = Some(id.clone());
    // Re-attached from the id alone, as another process would.
    let handle = contree.operations().attach(id);
    collect_run_events(handle.events(), &expected, got).await?;
    let out = handle.wait().await.map_err(fail)?;
    got.push(&expected, out.stdout(), true);
    Ok(())
}

fn io_error(what: &str, e: std::io::Error) -> String {
    format!("{what}: {e} [{e:?}]")
}

/// An SDK error as the report shows it (both renderings, for the secrets canary).
pub fn fail(e: contree::Error) -> String {
    format!("{e} [{e:?}]")
}

async fn interactive(img: &Image, plan: &Plan, marker: &str, got: &mut Got) -> Result<(), String> {
    let mut main = img
        .shell(format!("echo {marker}; cat"))
        .spawn()
        .await
        .map_err(fail)?;
    got.op_id = Some(main.operation_id().to_string());
    got.execs = true;
    let mut stdout = main.take_stdout().expect("stdout");
    let mut stdin = main.take_stdin().expect("stdin");

    let (cmd, exec_expected) = command(&format!("{marker}-exec"), plan.lines);
    let mut exec = main.exec(cmd).spawn().await.map_err(fail)?;
    let mut exec_out = Vec::new();
    let read = exec
        .take_stdout()
        .expect("exec stdout")
        .read_to_end(&mut exec_out)
        .await;
    got.push(&exec_expected, &exec_out, read.is_ok());
    read.map_err(|e| io_error("reading the exec's stdout", e))?;
    exec.wait().await.map_err(fail)?;

    let mut expected = format!("{marker}\n").into_bytes();
    for i in 0..8 {
        let line = Bytes::from(format!("{marker} stdin chunk {i}\n"));
        expected.extend_from_slice(&line);
        stdin.send(line).await.map_err(fail)?;
    }
    stdin.close().await.map_err(fail)?;
    let mut out = Vec::new();
    let read = stdout.read_to_end(&mut out).await;
    got.push(&expected, &out, read.is_ok());
    read.map_err(|e| io_error("reading cat's stdout", e))?;
    main.wait().await.map_err(fail)?;
    let output = main.output().await.map_err(fail)?;
    got.push(&expected, output.stdout(), true);
    Ok(())
}

async fn download(data: &Image, plan: &Plan, got: &mut Got) -> Result<(), String> {
    let bytes = data.read("/data.txt").await.map_err(fail)?;
    got.push(&seq(plan.lines), &bytes, true);
    Ok(())
}

/// The image the download workload reads, made without faults.
pub async fn prepare_download(img: &Image, lines: u64) -> Result<Image, String> {
    let out = img
        .shell(format!("seq 1 {lines} > /data.txt"))
        .await
        .map_err(fail)?;
    out.into_image()
        .ok_or_else(|| "the setup run made no image".to_string())
}

/// Every operation id the server lists.
pub async fn operation_ids(contree: &Contree) -> Result<BTreeSet<String>, String> {
    contree
        .operations()
        .list()
        .stream()
        .map_ok(|op| op.id)
        .try_collect()
        .await
        .map_err(fail)
}

/// Subprocesses (spid 2+) spawned in operation `id`, read once it is over (cancelled
/// first if a failed workload left it running).
pub async fn subprocess_spawns(contree: &Contree, id: &str) -> Result<u64, String> {
    let _ = contree.operations().cancel(id).await;
    let count = async {
        let mut n = 0;
        let mut events = contree.operations().events(id);
        while let Some(ev) = events.next().await {
            let ev = ev.map_err(fail)?;
            if matches!(ev.kind, EventKind::Spawn { .. }) && ev.spid.is_some_and(|s| s >= 2) {
                n += 1;
            }
        }
        Ok::<_, String>(n)
    };
    match tokio::time::timeout(Duration::from_secs(30), count).await {
        Ok(r) => r,
        Err(_) => Err(format!("reading the events of {id} took over 30 s")),
    }
}
