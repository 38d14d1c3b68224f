//! Running operations: the instance state machine, processes and their events, image imports.

mod lifecycle;
mod subprocess;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contree_proto::types::{EventDataCompletion, EventDataCompletionStatus, OperationEventData};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::events::EventLog;
use crate::fs::Fs;
use crate::server::Shared;
use crate::shell::ProcessSpec;
use crate::state::Status;

pub(crate) use crate::import::start_import;
pub(crate) use lifecycle::{finish_cancelled, start_instance};
pub(crate) use subprocess::{record_stdin, start_subprocess};

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
