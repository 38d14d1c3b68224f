//! Processes in a running instance: registration, streams, stdin, spawn, truncation and exit events.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use contree_proto::types::{
    EventDataExit, EventDataSpawn, EventDataStream, EventDataTruncated, EventResources,
    OperationEventData, StdStream,
};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{Handles, Outcome, ProcPlan, op_parts};
use crate::events::EventLog;
use crate::executor::Process;
use crate::fs::Fs;
use crate::respond::Resp;
use crate::server::Shared;
use crate::shell::ProcessIo;
use crate::state::{ProcRec, StreamAcc};
use crate::util::mask_env;

/// Registers a process of `op`: `spid` for the main process, or `None` for a subprocess, which
/// takes the next spid, allocated here under the same lock as the record so that a refused
/// start (the instance is winding down) uses none.
pub(super) fn register_proc(
    shared: &Shared,
    op: Uuid,
    spid: Option<u32>,
    plan: &ProcPlan,
) -> Option<(u32, Handles)> {
    let (stdin_tx, stdin_rx) = mpsc::channel(64);
    let (kill_tx, kill_rx) = mpsc::unbounded_channel();
    let mut st = shared.state();
    let inst = st.ops.get_mut(&op)?.inst.as_mut()?;
    let spid = match spid {
        Some(spid) => spid,
        None if inst.closing => return None,
        None => {
            inst.next_spid += 1;
            inst.next_spid - 1
        }
    };
    inst.procs.insert(
        spid,
        ProcRec {
            pid: 1000 + spid,
            stdin: plan.keep_open.then(|| stdin_tx.clone()),
            kill: kill_tx,
            running: true,
            stdin_acc: StreamAcc::new(plan.truncate_at),
            stdout: StreamAcc::new(plan.truncate_at),
            stderr: StreamAcc::new(plan.truncate_at),
            state: None,
            resources: None,
        },
    );
    Some((
        spid,
        Handles {
            stdin_tx,
            stdin_rx,
            kill_rx,
        },
    ))
}

/// Starts a subprocess in a running instance and returns its spid (≥ 2, allocated only once it
/// starts); 409 if the instance is winding down.
pub(crate) fn start_subprocess(shared: Arc<Shared>, op: Uuid, plan: ProcPlan) -> Result<u32, Resp> {
    let Some((log, _, Some(fs))) = op_parts(&shared, op) else {
        return Err(Resp::error(
            409,
            format!("operation {op} is not an instance"),
        ));
    };
    let (spid, handles) = register_proc(&shared, op, None, &plan).ok_or_else(|| {
        Resp::error(
            409,
            format!("operation {op} is finishing; no new subprocesses"),
        )
    })?;
    let task = tokio::spawn(drive_proc(shared.clone(), op, spid, plan, handles, log, fs));
    let task = tokio::spawn(async move {
        let _ = task.await;
    });
    if let Some(inst) = shared
        .state()
        .ops
        .get_mut(&op)
        .and_then(|o| o.inst.as_mut())
    {
        inst.sub_tasks.push(task);
    }
    Ok(spid)
}

fn record(shared: &Shared, op: Uuid, spid: u32, log: &EventLog, stream: &str, chunk: &[u8]) {
    let part = {
        let mut st = shared.state();
        let Some(p) = st
            .ops
            .get_mut(&op)
            .and_then(|o| o.inst.as_mut())
            .and_then(|i| i.procs.get_mut(&spid))
        else {
            return;
        };
        let acc = match stream {
            "stdin" => &mut p.stdin_acc,
            "stdout" => &mut p.stdout,
            _ => &mut p.stderr,
        };
        acc.accept(chunk)
    };
    if let Some(part) = part {
        if spid == 1 && stream != "stdin" && !part.is_empty() {
            shared.timings().first_output(op);
        }
        let mut chunk = EventDataStream::from_bytes(&part);
        chunk.truncated = Some(false);
        let data = match stream {
            "stdin" => OperationEventData::Stdin(chunk),
            "stdout" => OperationEventData::Stdout(chunk),
            _ => OperationEventData::Stderr(chunk),
        };
        log.push(Some(spid), data);
    }
}

/// Records bytes written to a process's stdin as `stdin` events (capped).
pub(crate) fn record_stdin(shared: &Shared, op: Uuid, spid: u32, log: &EventLog, data: &[u8]) {
    record(shared, op, spid, log, "stdin", data);
}

pub(super) async fn drive_proc(
    shared: Arc<Shared>,
    op: Uuid,
    spid: u32,
    plan: ProcPlan,
    h: Handles,
    log: Arc<EventLog>,
    fs: Arc<Mutex<Fs>>,
) -> Outcome {
    let pid = 1000 + spid;
    spawn_event(&log, spid, pid, &plan);
    let spec = plan.spec.clone();
    let Handles {
        stdin_tx,
        stdin_rx,
        mut kill_rx,
    } = h;
    if !plan.stdin.is_empty() {
        record(&shared, op, spid, &log, "stdin", &plan.stdin);
        let _ = stdin_tx.try_send(Bytes::from(plan.stdin.clone()));
    }
    drop(stdin_tx);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    let (err_tx, mut err_rx) = mpsc::unbounded_channel::<Bytes>();
    let io = ProcessIo {
        stdin: stdin_rx,
        stdout: out_tx,
        stderr: err_tx,
    };
    let started = Instant::now();
    let process = Process {
        command: plan.asked.command(op, spid, &spec, &plan.stdin),
        spec,
        fs,
        io,
        seed: shared.next_seed(),
    };
    let fallback = shared.cfg.executor.0.clone();
    let mut fut = Box::pin(crate::rules::execute(&shared.rules, fallback, process));
    let deadline = plan.timeout.map(|t| tokio::time::Instant::now() + t);
    let timer = async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(timer);
    let outcome = loop {
        tokio::select! {
            biased;
            Some(c) = out_rx.recv() => record(&shared, op, spid, &log, "stdout", &c),
            Some(c) = err_rx.recv() => record(&shared, op, spid, &log, "stderr", &c),
            Some(sig) = kill_rx.recv() => break Outcome { code: -1, signal: sig, timed_out: false },
            () = &mut timer => break Outcome { code: -1, signal: 9, timed_out: true },
            () = shared.stop.cancelled() => break Outcome { code: -1, signal: 9, timed_out: false },
            code = &mut fut => break Outcome { code, signal: -1, timed_out: false },
        }
    };
    // Dropping the future kills the process (if it still runs) and closes its pipes.
    drop(fut);
    while let Ok(c) = out_rx.try_recv() {
        record(&shared, op, spid, &log, "stdout", &c);
    }
    while let Ok(c) = err_rx.try_recv() {
        record(&shared, op, spid, &log, "stderr", &c);
    }
    let elapsed = started.elapsed();
    truncation_events(&shared, op, spid, &log);
    let duration_ms = elapsed.as_millis() as i64;
    let mut exit = EventDataExit::new(
        i64::from(pid),
        i64::from(outcome.code),
        i64::from(outcome.signal),
        outcome.timed_out,
        duration_ms,
        event_resources(),
    );
    exit.core_dump = Some(false);
    log.push(Some(spid), OperationEventData::Exit(exit));
    record_exit(&shared, op, spid, pid, outcome, elapsed);
    outcome
}

/// The `spawn` event: the process's parameters as the service echoes them (a shell command is
/// the wrapped `<shell> -c <cmd>` form; secret-looking env values masked).
fn spawn_event(log: &EventLog, spid: u32, pid: u32, plan: &ProcPlan) {
    let spec = &plan.spec;
    let (command, args) = if spec.shell {
        let sh = spec
            .env
            .get("SHELL")
            .cloned()
            .unwrap_or_else(|| "/bin/sh".to_string());
        (sh, vec!["-c".to_string(), spec.command.clone()])
    } else {
        (spec.command.clone(), spec.args.clone())
    };
    let mut spawned = EventDataSpawn::new(
        i64::from(pid),
        command,
        args,
        spec.shell,
        spec.cwd.clone(),
        i64::from(spec.uid),
        i64::from(spec.gid),
        plan.timeout.map_or(0, |t| t.as_secs() as i64),
        plan.truncate_at as i64,
    );
    spawned.env = Some(mask_env(&spec.env));
    log.push(Some(spid), OperationEventData::Spawn(spawned));
}

/// One `truncated` event per stream of the process that crossed its cap.
fn truncation_events(shared: &Shared, op: Uuid, spid: u32, log: &EventLog) {
    let truncs: Vec<(&str, u64, u64)> = {
        let st = shared.state();
        st.ops
            .get(&op)
            .and_then(|o| o.inst.as_ref())
            .and_then(|i| i.procs.get(&spid))
            .map(|p| {
                [
                    ("stdin", &p.stdin_acc),
                    ("stdout", &p.stdout),
                    ("stderr", &p.stderr),
                ]
                .into_iter()
                .filter(|(_, a)| a.truncated())
                .map(|(n, a)| (n, a.data.len() as u64, a.dropped))
                .collect()
            })
            .unwrap_or_default()
    };
    for (stream, emitted, dropped) in truncs {
        let t = EventDataTruncated::new(StdStream::from(stream), emitted as i64, dropped as i64);
        log.push(Some(spid), OperationEventData::Truncated(t));
    }
}

/// Records the ended process's state and resources (what `GET …/subprocesses/{spid}` and
/// `metadata.result` report).
fn record_exit(
    shared: &Shared,
    op: Uuid,
    spid: u32,
    pid: u32,
    outcome: Outcome,
    elapsed: Duration,
) {
    let mut st = shared.state();
    if let Some(p) = st
        .ops
        .get_mut(&op)
        .and_then(|o| o.inst.as_mut())
        .and_then(|i| i.procs.get_mut(&spid))
    {
        p.running = false;
        p.stdin = None;
        p.state = Some(crate::wire::process_state(
            pid,
            outcome.code,
            outcome.signal,
            outcome.timed_out,
        ));
        p.resources = Some(crate::wire::process_resources(
            elapsed.as_secs_f64(),
            outcome.signal,
        ));
    }
}

/// The `exit` event's resources (plausible constants).
fn event_resources() -> EventResources {
    EventResources {
        user_time_us: 1000,
        max_rss_kb: 2048,
        voluntary_ctx_switches: 1,
        ..EventResources::default()
    }
}
