//! Operations: creation, listing, status, cancel, the event stream, and `whoami`.

use std::sync::Arc;
use std::time::Instant;

use http::header;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use contree_proto::types::{OperationMetadata, WhoAmIResponse};

use super::{R, bad, in_window, page, time_window, uint_param, with_op};
use crate::events::{EventLog, SseOptions, spawn_writer};
use crate::respond::Resp;
use crate::server::Ctx;
use crate::state::{InstanceRt, OpKind, OpRec, Status};
use crate::util::parse_flag;

pub(crate) fn new_op(
    ctx: &Ctx,
    kind: OpKind,
    image: Option<Uuid>,
    metadata: OperationMetadata,
    inst: Option<InstanceRt>,
) -> Uuid {
    let uuid = ctx.shared.new_uuid();
    let rec = OpRec {
        uuid,
        kind,
        status: Status::Pending,
        error: None,
        created_at: OffsetDateTime::now_utc(),
        started: Instant::now(),
        duration: None,
        image_uuid: image,
        result_image: None,
        result_tag: None,
        image_size: None,
        consumed_cpu: None,
        consumed_memory: None,
        metadata,
        events: Arc::new(EventLog::default()),
        inst,
        cancel: CancellationToken::new(),
    };
    let mut st = ctx.shared.state();
    st.ops.insert(uuid, rec);
    st.op_order.push(uuid);
    uuid
}

pub(super) fn list_operations(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let q = &ctx.query;
    let (limit, offset) = page(q)?;
    let window = time_window(q)?;
    let status = match q.get("status") {
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            bad(format!("status must be one of PENDING, ASSIGNED, EXECUTING, SUCCESS, FAILED, CANCELLED; got {s:?}"))
        })?),
        None => None,
    };
    let kind = match q.get("kind") {
        Some(k) => Some(OpKind::parse(k).ok_or_else(|| {
            bad(format!(
                "kind must be `instance` or `image_import`, got {k:?}"
            ))
        })?),
        None => None,
    };
    let st = ctx.shared.state();
    let list: Vec<_> = st
        .op_order
        .iter()
        .filter_map(|id| st.ops.get(id))
        .filter(|o| status.is_none_or(|s| o.status == s))
        .filter(|o| kind.is_none_or(|k| o.kind == k))
        .filter(|o| in_window(o.created_at, &window))
        .skip(offset)
        .take(limit)
        .map(OpRec::summary)
        .collect();
    Ok(Resp::typed(200, &list))
}

pub(super) fn get_operation(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("list")?;
    let inflight = parse_flag(&ctx.query, "inflight").map_err(bad)?;
    with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        Ok(Resp::typed(200, &op.response(inflight)).retry_after(1))
    })
}

pub(super) fn cancel_operation(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("cancel")?;
    let token = with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        if op.status.is_terminal() {
            return Err(Resp::error(
                409,
                format!("operation {uuid} is already {}", op.status.as_str()),
            ));
        }
        Ok(op.cancel.clone())
    })?;
    token.cancel();
    Ok(Resp::empty(202))
}

pub(super) fn events(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("list")?;
    let q = &ctx.query;
    let follow = parse_flag(q, "follow").map_err(bad)?;
    if follow && !ctx.shared.has("spawn") && !ctx.shared.has("spawn_disposable") {
        return Err(Resp::error(
            403,
            "following events (follow=1) needs the `spawn` or `spawn_disposable` permission; use follow=0",
        ));
    }
    let since_q = q.get("since").map(|v| uint_param(v, "since")).transpose()?;
    let since_h = ctx
        .headers
        .get("last-event-id")
        .map(|v| uint_param(&String::from_utf8_lossy(v.as_bytes()), "Last-Event-Id"))
        .transpose()?;
    let spid = q.get("spid").map(|v| uint_param(v, "spid")).transpose()?;
    let log = with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        if op.status == Status::Pending {
            return Err(Resp::error(
                425,
                format!("events not yet available for operation {uuid}"),
            )
            .retry_after(1));
        }
        Ok(op.events.clone())
    })?;
    let fault = ctx.fault.as_ref();
    let rx = spawn_writer(
        log,
        SseOptions {
            since: since_h.or(since_q),
            spid,
            follow,
            keepalive: ctx.shared.cfg.keepalive,
            cut_after: fault.and_then(|f| f.cut_stream_after),
            error_after: fault.and_then(|f| f.sse_error_after),
            extra_fields: fault.is_some_and(|f| f.extra_fields),
            stall: fault.and_then(|f| f.stall_spec()),
        },
    );
    Ok(Resp::stream(200, "text/event-stream", rx).header(header::CACHE_CONTROL, "no-cache"))
}

pub(super) fn whoami(ctx: &Ctx) -> R {
    let cfg = &ctx.shared.cfg;
    let d = Sha256::digest(cfg.token.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    let token_uuid = uuid::Builder::from_random_bytes(b).into_uuid();
    let (running, total) = {
        let st = ctx.shared.state();
        (
            st.ops.values().filter(|o| !o.status.is_terminal()).count(),
            st.ops.len(),
        )
    };
    let stat = [("active", running as i64), ("total", total as i64)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut who = WhoAmIResponse::new(token_uuid.to_string(), cfg.permissions.clone(), stat);
    who.limits = Some(cfg.limits.clone());
    Ok(Resp::typed(200, &who))
}
