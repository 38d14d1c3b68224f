//! Running operations: the instance state machine, processes and their events, image imports.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use contree_proto::types::{
    EventDataCompletion, EventDataCompletionStatus, EventDataExit, EventDataInit, EventDataNetwork,
    EventDataNetworkConfigured, EventDataShutdown, EventDataShutdownReason, EventDataSpawn,
    EventDataStream, EventDataTruncated, EventResources, NetworkInterface, OperationEventData,
    StdStream,
};
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::EventLog;
use crate::executor::Process;
use crate::fs::{FileKind, Fs};
pub(crate) use crate::import::start_import;
use crate::profile::Plan;
use crate::respond::Resp;
use crate::server::Shared;
use crate::shell::{ProcessIo, ProcessSpec};
use crate::state::{ImageRec, ProcRec, Status, StreamAcc, image_uuid_for};
use crate::util::{mask_env, ts_nanos};

/// What to run as one process.
#[derive(Debug, Clone)]
pub(crate) struct ProcPlan {
    pub(crate) spec: ProcessSpec,
    pub(crate) stdin: Vec<u8>,
    pub(crate) keep_open: bool,
    pub(crate) timeout: Option<Duration>,
    pub(crate) truncate_at: u64,
    /// What the request asked for (the `Command` record).
    pub(crate) asked: crate::rules::Asked,
}

/// What to run as an instance operation.
#[derive(Debug, Clone)]
pub(crate) struct MainPlan {
    pub(crate) proc: ProcPlan,
    pub(crate) networking: bool,
    pub(crate) disposable: bool,
    pub(crate) source: Uuid,
    pub(crate) result_env: BTreeMap<String, String>,
    pub(crate) result_cwd: String,
}

/// How a process ended.
#[derive(Debug, Clone, Copy)]
struct Outcome {
    code: i32,
    signal: i32,
    timed_out: bool,
}

struct Handles {
    stdin_tx: mpsc::Sender<Bytes>,
    stdin_rx: mpsc::Receiver<Bytes>,
    kill_rx: mpsc::UnboundedReceiver<i32>,
}

/// The event log, cancel token and (for instances) filesystem of an operation.
type OpParts = (Arc<EventLog>, CancellationToken, Option<Arc<Mutex<Fs>>>);

pub(crate) fn op_parts(shared: &Shared, op: Uuid) -> Option<OpParts> {
    let st = shared.state();
    let o = st.ops.get(&op)?;
    Some((
        o.events.clone(),
        o.cancel.clone(),
        o.inst.as_ref().map(|i| i.fs.clone()),
    ))
}

pub(crate) fn set_status(shared: &Shared, op: Uuid, s: Status) {
    let changed = match shared.state().ops.get_mut(&op) {
        Some(o) if !o.status.is_terminal() => {
            o.status = s;
            true
        }
        _ => false,
    };
    if changed {
        shared.timings().state(op, s);
    }
}

/// Sleeps for `d` (one state of the profile); `true` if the operation was cancelled meanwhile.
pub(crate) async fn pause(shared: &Shared, token: &CancellationToken, d: Duration) -> bool {
    if d.is_zero() {
        return token.is_cancelled();
    }
    tokio::select! {
        () = token.cancelled() => true,
        () = tokio::time::sleep(d) => false,
        () = shared.stop.cancelled() => true,
    }
}

/// Sets the terminal state and appends the `completion` event (exactly once).
pub(crate) fn finish(
    shared: &Shared,
    op: Uuid,
    status: Status,
    error: Option<String>,
    result_image: Option<Uuid>,
    image_size: Option<i64>,
) {
    let log = {
        let mut st = shared.state();
        let Some(o) = st.ops.get_mut(&op) else { return };
        if o.status.is_terminal() {
            return;
        }
        let elapsed = o.started.elapsed();
        shared.timings().state(op, status);
        o.status = status;
        o.error = error.clone();
        o.duration = Some(elapsed.as_secs_f64());
        o.result_image = result_image;
        o.image_size = image_size;
        if o.inst.is_some() {
            o.consumed_cpu = Some(0.001);
            o.consumed_memory = Some(2048);
        }
        if let Some(inst) = o.inst.as_mut() {
            for p in inst.procs.values_mut() {
                p.stdin = None;
            }
        }
        o.events.clone()
    };
    let elapsed_ms = {
        let st = shared.state();
        st.ops
            .get(&op)
            .and_then(|o| o.duration)
            .map(|d| (d * 1000.0) as i64)
            .unwrap_or(0)
    };
    let mut done =
        EventDataCompletion::new(EventDataCompletionStatus::from(status.as_str()), elapsed_ms);
    done.result_image_uuid = result_image;
    done.error = error;
    done.image_size_bytes = Some(image_size.unwrap_or(0));
    log.push(None, OperationEventData::Completion(done));
    log.close();
}

fn kill_all(shared: &Shared, op: Uuid, signal: i32) {
    let st = shared.state();
    if let Some(inst) = st.ops.get(&op).and_then(|o| o.inst.as_ref()) {
        for p in inst.procs.values().filter(|p| p.running) {
            let _ = p.kill.send(signal);
        }
    }
}

/// Ends `op` as `FAILED` with `message` after the configured latency, without running
/// anything (the `fail_operation` fault).
pub(crate) fn fail_later(shared: Arc<Shared>, op: Uuid, message: String) {
    let delays = shared.timings().created(op, "instance");
    tokio::spawn(async move {
        let Some((_, token, _)) = op_parts(&shared, op) else {
            return;
        };
        let (status, error) = if pause(&shared, &token, delays.pending).await {
            (
                Status::Cancelled,
                "operation cancelled by request".to_string(),
            )
        } else {
            (Status::Failed, message)
        };
        finish(&shared, op, status, Some(error), None, None);
    });
}

/// Starts an instance operation in the background.
pub(crate) fn start_instance(shared: Arc<Shared>, op: Uuid, plan: MainPlan) {
    let delays = shared.timings().created(op, "instance");
    // Without latency the operation is assigned before the 201, so clients never see a
    // transient PENDING (and its 425s) in benchmarks and zero-latency tests.
    if delays.pending.is_zero()
        && let Some((log, _, _)) = op_parts(&shared, op)
    {
        assign(&shared, op, &log, &plan);
    }
    tokio::spawn(async move {
        let stop = shared.stop.clone();
        tokio::select! {
            () = run_instance(shared.clone(), op, plan, delays) => {}
            () = stop.cancelled() => {}
        }
    });
}

/// PENDING → ASSIGNED: the VM boots (`init`, then `network` when enabled).
fn assign(shared: &Shared, op: Uuid, log: &EventLog, plan: &MainPlan) {
    set_status(shared, op, Status::Assigned);
    let now = ts_nanos(OffsetDateTime::now_utc());
    let mut init = EventDataInit::new(now, "/run/contreeinitd", false, 1);
    init.hostname = Some(plan.proc.spec.hostname.clone());
    init.kernel = Some("6.1.0-contree-mock #1 SMP PREEMPT".to_owned());
    init.machine = Some("x86_64".to_owned());
    init.boot_id = Some(shared.new_uuid().to_string());
    log.push(Some(0), OperationEventData::Init(init));
    if plan.networking {
        let mut net =
            EventDataNetwork::new(vec![NetworkInterface::new("eth0", 0, 0, 0, 0, 0, 0, 0, 0)]);
        let mut configured = EventDataNetworkConfigured::new();
        configured.ip4 = Some("10.0.0.2/24".to_owned());
        configured.ip4_gw = Some("10.0.0.1".to_owned());
        configured.nameserver = Some("10.0.0.1".to_owned());
        net.configured = Some(configured);
        log.push(Some(0), OperationEventData::Network(net));
    }
}

async fn run_instance(shared: Arc<Shared>, op: Uuid, plan: MainPlan, delays: Plan) {
    let Some((log, token, Some(fs))) = op_parts(&shared, op) else {
        return;
    };
    let pending = shared
        .state()
        .ops
        .get(&op)
        .is_some_and(|o| o.status == Status::Pending);
    if pending {
        if pause(&shared, &token, delays.pending).await {
            finish_cancelled(&shared, op);
            return;
        }
        assign(&shared, op, &log, &plan);
    }
    if pause(&shared, &token, delays.boot).await {
        shutdown_event(&log, "signal");
        finish_cancelled(&shared, op);
        return;
    }
    set_status(&shared, op, Status::Executing);
    {
        let mut g = fs.lock().unwrap_or_else(|e| e.into_inner());
        let _ = g.mkdir_p(&plan.proc.spec.cwd);
    }
    let Some(handles) = register_proc(&shared, op, 1, &plan.proc) else {
        return;
    };
    let main = drive_proc(
        shared.clone(),
        op,
        1,
        plan.proc.clone(),
        handles,
        log.clone(),
        fs.clone(),
    );
    tokio::pin!(main);
    let (outcome, cancelled) = tokio::select! {
        o = &mut main => (o, false),
        () = token.cancelled() => {
            kill_all(&shared, op, 9);
            (main.await, true)
        }
    };
    wind_down(&shared, op).await;
    let reason = if cancelled {
        "signal"
    } else if outcome.timed_out {
        "timeout"
    } else if outcome.signal > 0 {
        "signal"
    } else {
        "job_complete"
    };
    shutdown_event(&log, reason);
    if cancelled {
        finish_cancelled(&shared, op);
    } else if plan.disposable {
        finish(&shared, op, Status::Success, None, None, None);
    } else {
        persist(&shared, op, &plan, &fs);
    }
}

pub(crate) fn finish_cancelled(shared: &Shared, op: Uuid) {
    finish(
        shared,
        op,
        Status::Cancelled,
        Some("operation cancelled by request".into()),
        None,
        None,
    );
}

/// The VM winds down: no new subprocesses, the remaining ones are killed and awaited.
async fn wind_down(shared: &Shared, op: Uuid) {
    let tasks = {
        let mut st = shared.state();
        match st.ops.get_mut(&op).and_then(|o| o.inst.as_mut()) {
            Some(inst) => {
                inst.closing = true;
                std::mem::take(&mut inst.sub_tasks)
            }
            None => Vec::new(),
        }
    };
    kill_all(shared, op, 9);
    for t in tasks {
        let _ = t.await;
    }
}

/// SUCCESS with a result image: the filesystem's snapshot (its UUID derived from the content,
/// so a run that changed nothing keeps the source's).
fn persist(shared: &Shared, op: Uuid, plan: &MainPlan, fs: &Mutex<Fs>) {
    let snapshot = fs.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let uuid = image_uuid_for(&snapshot, &plan.result_env, &plan.result_cwd);
    let size = if uuid == plan.source {
        0
    } else {
        snapshot
            .walk("/")
            .map(|all| {
                all.iter()
                    .filter(|(_, m)| m.kind == FileKind::File)
                    .map(|(_, m)| m.size)
                    .sum::<i64>()
            })
            .unwrap_or(0)
    };
    shared.state().add_image(ImageRec {
        uuid,
        fs: Arc::new(snapshot),
        env: plan.result_env.clone(),
        cwd: plan.result_cwd.clone(),
        created_at: OffsetDateTime::now_utc(),
        operation_uuid: Some(op),
    });
    finish(shared, op, Status::Success, None, Some(uuid), Some(size));
}

fn shutdown_event(log: &EventLog, reason: &str) {
    let stopped_at = ts_nanos(OffsetDateTime::now_utc());
    let reason = EventDataShutdownReason::from(reason);
    log.push(
        Some(0),
        OperationEventData::Shutdown(EventDataShutdown::new(stopped_at, reason)),
    );
}

fn register_proc(shared: &Shared, op: Uuid, spid: u32, plan: &ProcPlan) -> Option<Handles> {
    let (stdin_tx, stdin_rx) = mpsc::channel(64);
    let (kill_tx, kill_rx) = mpsc::unbounded_channel();
    let mut st = shared.state();
    let inst = st.ops.get_mut(&op)?.inst.as_mut()?;
    if spid != 1 && inst.closing {
        return None;
    }
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
    Some(Handles {
        stdin_tx,
        stdin_rx,
        kill_rx,
    })
}

/// Starts a subprocess (spid ≥ 2) in a running instance; 409 if the instance is winding down.
pub(crate) fn start_subprocess(
    shared: Arc<Shared>,
    op: Uuid,
    spid: u32,
    plan: ProcPlan,
) -> Result<(), Resp> {
    let handles = register_proc(&shared, op, spid, &plan).ok_or_else(|| {
        Resp::error(
            409,
            format!("operation {op} is finishing; no new subprocesses"),
        )
    })?;
    let Some((log, _, Some(fs))) = op_parts(&shared, op) else {
        return Err(Resp::error(
            409,
            format!("operation {op} is not an instance"),
        ));
    };
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
    Ok(())
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

async fn drive_proc(
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
