//! Subprocesses of a running instance: create, status, kill, stdin.

use bytes::Bytes;
use uuid::Uuid;

use contree_proto::types::{ClosableStreamRepr, ExecSpec, OperationSubprocessCreateCreatedBody};

use super::{R, bad, json_body, parse_uuid, uint_param, with_op};
use crate::instance::{self, ProcPlan};
use crate::respond::Resp;
use crate::rules::Asked;
use crate::server::Ctx;
use crate::shell::ProcessSpec;
use crate::spawn::{EXEC_NULLABLE, id_param, process_env, stdin_param, truncate_param, valid_cwd};
use crate::state::{OpKind, State, Status};
use crate::util::decode_stream;

/// What a subprocess endpoint answers for an instance that has finished: create and kill 409
/// ("not currently EXECUTING / ASSIGNED"), stdin 410 ("Gone — the instance finished").
#[derive(Clone, Copy)]
enum Finished {
    Conflict,
    Gone,
}

/// The one check of the parent operation for the subprocess endpoints that need a live
/// instance: 409 if it is not an instance, 425 (`Retry-After`) while pending, and `finished`'s
/// status once it has finished.
fn running_instance(st: &State, uuid: Uuid, finished: Finished) -> Result<(), Resp> {
    let op = &st.ops[&uuid];
    if op.kind != OpKind::Instance {
        return Err(Resp::error(
            409,
            format!("operation {uuid} is not an instance"),
        ));
    }
    match op.status {
        Status::Pending => Err(Resp::error(
            425,
            format!("operation {uuid} has no worker yet; retry shortly"),
        )
        .retry_after(1)),
        Status::Assigned | Status::Executing => Ok(()),
        s => {
            let code = match finished {
                Finished::Conflict => 409,
                Finished::Gone => 410,
            };
            Err(Resp::error(
                code,
                format!("operation {uuid} is {}, not running", s.as_str()),
            ))
        }
    }
}

/// A `spid` path parameter: an integer >= 1 (400 otherwise). A spid beyond the mock's 32-bit
/// counter cannot name a process, so it is `None` and the handlers answer 404.
fn spid_param(s: &str) -> Result<Option<u32>, Resp> {
    match uint_param(s, "spid") {
        Ok(n) if n >= 1 => Ok(u32::try_from(n).ok()),
        _ => Err(bad(format!("spid must be an integer >= 1, got {s:?}"))),
    }
}

fn no_process(spid: &str, uuid: Uuid) -> Resp {
    Resp::error(
        404,
        format!("no live process with spid {spid} in operation {uuid}"),
    )
}

pub(super) fn create(ctx: &Ctx, id: &str) -> R {
    let body: ExecSpec = json_body(ctx, EXEC_NULLABLE, &["args"])?;
    let cwd = body.cwd.clone().unwrap_or_default();
    if !valid_cwd(&cwd) {
        return Err(bad(format!("cwd must be absolute or empty, got {cwd:?}")));
    }
    let uid = id_param(body.uid, "uid")?;
    let gid = id_param(body.gid, "gid")?;
    let (stdin, keep_open, _) = stdin_param(&body.stdin)?;
    let shell = body.shell.unwrap_or(false);
    let (uuid, plan_parts) = with_op(ctx, id, |st, uuid| {
        running_instance(st, uuid, Finished::Conflict)?;
        let op = st
            .ops
            .get(&uuid)
            .ok_or_else(|| Resp::error(404, "operation vanished"))?;
        let image = op.image_uuid;
        let Some(inst) = op.inst.as_ref() else {
            return Err(Resp::error(
                409,
                format!("operation {uuid} is not an instance"),
            ));
        };
        let perm = if inst.disposable {
            "spawn_disposable"
        } else {
            "spawn"
        };
        // The spid is allocated by `start_subprocess`, after every check: a refused create
        // uses none.
        Ok((
            uuid,
            (
                perm,
                inst.image_env.clone(),
                inst.default_cwd.clone(),
                inst.hostname.clone(),
                inst.truncate_at,
                image,
            ),
        ))
    })?;
    let (perm, image_env, default_cwd, hostname, default_trunc, image) = plan_parts;
    ctx.shared.require(perm)?;
    let truncate_at = match body.truncate_output_at {
        None => default_trunc,
        v => truncate_param(v)?,
    };
    let plan = ProcPlan {
        spec: ProcessSpec {
            command: body.command.clone(),
            args: if shell {
                Vec::new()
            } else {
                body.args.clone().unwrap_or_default()
            },
            shell,
            env: process_env(shell, &image_env, body.env.as_value()),
            cwd: if cwd.is_empty() { default_cwd } else { cwd },
            uid,
            gid,
            hostname,
        },
        stdin,
        keep_open,
        timeout: None,
        truncate_at,
        asked: Asked {
            image,
            env: body.env.as_value().cloned().unwrap_or_default(),
            files: Default::default(),
        },
    };
    let spid = instance::start_subprocess(ctx.shared.clone(), uuid, plan)?;
    let created = OperationSubprocessCreateCreatedBody::new(i64::from(spid));
    Ok(Resp::typed(201, &created).location(format!("/v1/operations/{uuid}/subprocesses/{spid}")))
}

pub(super) fn get(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
    ctx.shared.require("list")?;
    let spid = spid_param(raw_spid)?;
    with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        match op.status {
            Status::Pending => {
                return Err(Resp::error(425, "the operation has no worker yet").retry_after(1));
            }
            Status::Cancelled => {
                // The spec lists 404 here ("events are dropped for cancelled operations") while
                // its /events keeps serving the log up to `completion`; see docs/SPEC-DEFECTS.md.
                return Err(Resp::error(
                    404,
                    format!(
                        "operation {uuid} was cancelled: per-process results of cancelled operations are not kept (read its event log at /events instead)"
                    ),
                ));
            }
            _ => {}
        }
        let p = op
            .inst
            .as_ref()
            .and_then(|i| spid.and_then(|s| i.procs.get(&s)))
            .ok_or_else(|| {
                Resp::error(
                    404,
                    format!("no process with spid {raw_spid} in operation {uuid}"),
                )
            })?;
        Ok(Resp::typed(200, &p.result()))
    })
}

pub(super) fn kill(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
    let spid = spid_param(raw_spid)?;
    let signal = match ctx.query.get("signal") {
        None => 9,
        Some(s) => crate::util::parse_signal(s).ok_or_else(|| {
            bad(format!(
                "unknown signal {s:?}; use a number or a name like TERM"
            ))
        })?,
    };
    let (kill, perm) = with_op(ctx, id, |st, uuid| {
        running_instance(st, uuid, Finished::Conflict)?;
        let op = &st.ops[&uuid];
        let inst = op
            .inst
            .as_ref()
            .ok_or_else(|| Resp::error(409, "not an instance"))?;
        let perm = if inst.disposable {
            "spawn_disposable"
        } else {
            "spawn"
        };
        match spid.and_then(|s| inst.procs.get(&s)) {
            Some(p) if p.running => Ok((p.kill.clone(), perm)),
            _ => Err(no_process(raw_spid, uuid)),
        }
    })?;
    ctx.shared.require(perm)?;
    let _ = kill.send(signal);
    Ok(Resp::empty(204))
}

pub(super) async fn stdin(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
    let spid_opt = spid_param(raw_spid)?;
    let body: ClosableStreamRepr = json_body(ctx, &[], &[])?;
    let enc = body.encoding.as_ref().map_or("ascii", |e| e.as_str());
    let data = decode_stream(&body.value, Some(enc)).ok_or_else(|| {
        bad(format!(
            "value is not valid {enc} (encoding must be ascii or base64)"
        ))
    })?;
    let close = body.close.unwrap_or(true);
    let (sender, log, perm, spid) = with_op(ctx, id, |st, uuid| {
        running_instance(st, uuid, Finished::Gone)?;
        let op = &st.ops[&uuid];
        let inst = op
            .inst
            .as_ref()
            .ok_or_else(|| Resp::error(409, "not an instance"))?;
        let perm = if inst.disposable {
            "spawn_disposable"
        } else {
            "spawn"
        };
        let (spid, p) = spid_opt
            .and_then(|s| inst.procs.get(&s).map(|p| (s, p)))
            .filter(|(_, p)| p.running)
            .ok_or_else(|| no_process(raw_spid, uuid))?;
        let tx = p.stdin.clone().ok_or_else(|| {
            Resp::error(
                409,
                format!(
                    "the stdin of spid {spid} is closed (spawn with stdin.close=false to stream it)"
                ),
            )
        })?;
        Ok((tx, op.events.clone(), perm, spid))
    })?;
    ctx.shared.require(perm)?;
    let uuid = parse_uuid(id, "operation id", 400)?;
    if !data.is_empty() {
        instance::record_stdin(&ctx.shared, uuid, spid, &log, &data);
        if sender.send(Bytes::from(data)).await.is_err() {
            return Err(Resp::error(
                404,
                format!("the process with spid {spid} has exited"),
            ));
        }
    }
    drop(sender);
    if close {
        let mut st = ctx.shared.state();
        if let Some(p) = st
            .ops
            .get_mut(&uuid)
            .and_then(|o| o.inst.as_mut())
            .and_then(|i| i.procs.get_mut(&spid))
        {
            p.stdin = None;
        }
    }
    Ok(Resp::empty(204))
}
