//! An instance's life: start, the main process, wind-down, the image it leaves, cancellation.

use std::sync::{Arc, Mutex};

use contree_proto::types::{
    EventDataInit, EventDataNetwork, EventDataNetworkConfigured, EventDataShutdown,
    EventDataShutdownReason, NetworkInterface, OperationEventData,
};
use time::OffsetDateTime;
use uuid::Uuid;

use super::subprocess::{drive_proc, register_proc};
use super::{MainPlan, finish, kill_all, op_parts, pause, set_status};
use crate::events::EventLog;
use crate::fs::Fs;
use crate::profile::Plan;
use crate::server::Shared;
use crate::state::{ImageRec, Status, image_size, image_uuid_for};
use crate::util::ts_nanos;

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
    let Some((_, handles)) = register_proc(&shared, op, Some(1), &plan.proc) else {
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
        image_size(&snapshot)
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
