//! Handlers of the 28 operations (inspect lives in `inspect.rs`, process running in `instance.rs`).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use contree_proto::types::{
    ClosableStreamRepr, ExecSpec, FileResponse, FilesListResponse, ImageImportMetadata,
    ImageImportMetadataRegistry, ImageImportMetadataRegistryCredentials, ImageImportRequest,
    ImageListResponse, ImportImageCreatedBody, OperationMetadata,
    OperationSubprocessCreateCreatedBody, UpdateImageTagBody, WhoAmIResponse,
};

use crate::events::{EventLog, SseOptions, spawn_writer};
use crate::instance::{self, ProcPlan};
use crate::respond::Resp;
use crate::router::Route;
use crate::server::Ctx;
use crate::shell::ProcessSpec;
use crate::spawn::{EXEC_NULLABLE, id_param, process_env, stdin_param, truncate_param, valid_cwd};
use crate::state::{FileRec, InstanceRt, OpKind, OpRec, State, Status, valid_tag};
use crate::util::{Query, decode_stream, parse_flag, parse_time_filter};

pub(crate) type R = Result<Resp, Resp>;

/// Runs the handler of a routed, authenticated request.
pub(crate) async fn dispatch(ctx: &Ctx, route: Route) -> Resp {
    let r = match route {
        Route::ListImages => list_images(ctx),
        Route::DeleteImageTag(id) => delete_tag(ctx, &id),
        Route::UpdateImageTag(id) => update_tag(ctx, &id),
        Route::ImportImage => import_image(ctx),
        Route::UploadFile => upload_file(ctx),
        Route::ListFiles => list_files(ctx),
        Route::CheckFileExists(sha) => check_file(ctx, &sha),
        Route::GetFile(sha) => get_file(ctx, &sha),
        Route::SpawnInstance => crate::spawn::spawn_instance(ctx),
        Route::ListOperations => list_operations(ctx),
        Route::GetOperation(id) => get_operation(ctx, &id),
        Route::CancelOperation(id) => cancel_operation(ctx, &id),
        Route::Events(id) => events(ctx, &id),
        Route::SubprocessCreate(id) => subprocess_create(ctx, &id),
        Route::Subprocess(id, spid) => subprocess_get(ctx, &id, &spid),
        Route::SubprocessKill(id, spid) => subprocess_kill(ctx, &id, &spid),
        Route::SubprocessStdin(id, spid) => subprocess_stdin(ctx, &id, &spid).await,
        Route::InspectRedirect => Ok(Resp::empty(307).location("/v1/inspect/")),
        Route::InspectImageRedirect(id) => {
            Ok(Resp::empty(307).location(format!("/v1/inspect/{id}/")))
        }
        Route::FindByTag => crate::inspect::find_by_tag(ctx),
        Route::InspectImage(id) => crate::inspect::inspect_image(ctx, &id),
        Route::Download(id) => crate::inspect::download(ctx, &id, false),
        Route::CheckFile(id) => crate::inspect::download(ctx, &id, true),
        Route::Archive(id) => crate::inspect::archive(ctx, &id, false),
        Route::CheckArchive(id) => crate::inspect::archive(ctx, &id, true),
        Route::List(id) => crate::inspect::list(ctx, &id),
        Route::Grep(id) => crate::inspect::grep(ctx, &id),
        Route::WhoAmI => whoami(ctx),
    };
    r.unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------------------------------------
// shared helpers

pub(crate) fn bad(msg: impl Into<String>) -> Resp {
    Resp::error(400, msg)
}

pub(crate) fn parse_uuid(s: &str, what: &str, status: u16) -> Result<Uuid, Resp> {
    Uuid::parse_str(s).map_err(|_| Resp::error(status, format!("{what} {s:?} is not a valid UUID")))
}

fn parse_int(q: &Query, name: &str, default: i64, min: i64, max: i64) -> Result<i64, Resp> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                bad(format!(
                    "query parameter `{name}` must be an integer in {min}..={max}, got {v:?}"
                ))
            }),
    }
}

fn page(q: &Query) -> Result<(usize, usize), Resp> {
    let limit = parse_int(q, "limit", 100, 1, 1000)?;
    // The spec gives `offset` no maximum: any offset past the end is an empty page.
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => usize::try_from(uint_param(v, "offset")?).unwrap_or(usize::MAX),
    };
    Ok((limit as usize, offset))
}

fn time_window(q: &Query) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), Resp> {
    let now = OffsetDateTime::now_utc();
    let mut out = [None, None];
    for (i, name) in ["since", "until"].iter().enumerate() {
        if let Some(v) = q.get(name) {
            out[i] = Some(parse_time_filter(v, now).ok_or_else(|| {
                bad(format!(
                    "query parameter `{name}` must be an ISO 8601 datetime, a Unix timestamp or an interval like 15m, got {v:?}"
                ))
            })?);
        }
    }
    Ok((out[0], out[1]))
}

fn in_window(t: OffsetDateTime, w: &(Option<OffsetDateTime>, Option<OffsetDateTime>)) -> bool {
    w.0.is_none_or(|s| t >= s) && w.1.is_none_or(|u| t <= u)
}

/// Parses a JSON request body into its proto type, as strictly as the spec reads:
/// `null` only at the keys it marks nullable (`nullable`, dotted paths, `*` for any key) and
/// arrays only where it declares them (`arrays`). The generated types read `null` as absent and
/// accept a JSON array for a struct (serde's positional form), which would hide a client that
/// sends either. Unknown keys stay allowed (the schemas allow additional properties).
pub(crate) fn json_body<T: for<'de> Deserialize<'de>>(
    ctx: &Ctx,
    nullable: &[&str],
    arrays: &[&str],
) -> Result<T, Resp> {
    if ctx.body.is_empty() {
        return Err(bad("the request body is empty; send a JSON object"));
    }
    let v: Value =
        serde_json::from_slice(&ctx.body).map_err(|e| bad(format!("invalid request body: {e}")))?;
    let parsed =
        serde_json::from_value::<T>(v.clone()).map_err(|e| match wide_integer(&v, "") {
            Some((path, n)) => bad(format!(
                "`{path}` is {n}, beyond the 64-bit integers this service accepts"
            )),
            None => bad(format!("invalid request body: {e}")),
        })?;
    let declared = |path: &str| {
        // A key is declared when a value of no JSON type but float makes the body unparsable.
        let mut probe = v.clone();
        set_path(&mut probe, path, serde_json::json!(0.5));
        serde_json::from_value::<T>(probe).is_err()
    };
    let mut odd = Vec::new();
    odd_members(&v, "", &mut odd);
    for (path, is_null) in odd {
        let allowed = if is_null { nullable } else { arrays };
        if allowed.iter().any(|n| path_matches(n, &path)) || !declared(&path) {
            continue;
        }
        let what = if is_null {
            "must not be null; omit it to use the default"
        } else {
            "must not be an array"
        };
        return Err(bad(format!("`{path}` {what}")));
    }
    Ok(parsed)
}

/// Every object member (at any depth, not inside arrays) that is `null` (true) or an array.
fn odd_members(v: &Value, at: &str, out: &mut Vec<(String, bool)>) {
    let Value::Object(map) = v else { return };
    for (k, child) in map {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match child {
            Value::Null => out.push((path, true)),
            Value::Array(_) => out.push((path, false)),
            other => odd_members(other, &path, out),
        }
    }
}

/// The first integer-valued number outside `i64` (clients and fuzzers send them as floats).
fn wide_integer(v: &Value, at: &str) -> Option<(String, String)> {
    match v {
        Value::Number(n) => {
            let beyond_i64 = n.is_u64() && n.as_i64().is_none();
            let integral_float = n.is_f64()
                && n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() >= 9.2e18);
            let wide = beyond_i64 || integral_float;
            wide.then(|| (at.to_string(), n.to_string()))
        }
        Value::Object(map) => map.iter().find_map(|(k, c)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            wide_integer(c, &path)
        }),
        _ => None,
    }
}

fn set_path(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        let Some(next) = cur.as_object_mut().and_then(|m| m.get_mut(k)) else {
            return;
        };
        if keys.peek().is_none() {
            *next = new;
            return;
        }
        cur = next;
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('.'), path.split('.'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}

/// Finds an operation, mapping failures to 400/404.
fn with_op<T>(
    ctx: &Ctx,
    id: &str,
    f: impl FnOnce(&mut State, Uuid) -> Result<T, Resp>,
) -> Result<T, Resp> {
    let uuid = parse_uuid(id, "operation id", 400)?;
    let mut st = ctx.shared.state();
    if !st.ops.contains_key(&uuid) {
        return Err(Resp::error(404, format!("operation {uuid} not found")));
    }
    f(&mut st, uuid)
}

// ---------------------------------------------------------------------------------------------
// images

fn list_images(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let q = &ctx.query;
    let (limit, offset) = page(q)?;
    let window = time_window(q)?;
    let prefix = q.get("tag");
    let tagged = q.get("tagged").is_some_and(|v| v != "0") || prefix.is_some();
    let uuid = match q.get("uuid") {
        Some(u) => Some(parse_uuid(u, "uuid", 400)?),
        None => None,
    };
    let st = ctx.shared.state();
    let mut rows = Vec::new();
    for id in &st.image_order {
        let Some(img) = st.images.get(id) else {
            continue;
        };
        if uuid.is_some_and(|u| u != *id) || !in_window(img.created_at, &window) {
            continue;
        }
        let tags = st.tags_of(*id);
        if tags.is_empty() {
            if !tagged {
                rows.push(st.image(img, None));
            }
            continue;
        }
        for t in &tags {
            if prefix.is_none_or(|p| t.starts_with(p)) {
                rows.push(st.image(img, Some(t)));
            }
        }
    }
    let mut list = ImageListResponse::new();
    list.images = Some(rows.into_iter().skip(offset).take(limit).collect());
    Ok(Resp::typed(200, &list))
}

fn update_tag(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("set_image_tag")?;
    let uuid = parse_uuid(id, "image UUID", 400)?;
    let body: UpdateImageTagBody = json_body(ctx, &[], &[])?;
    let tag = body
        .tag
        .strip_prefix("tag:")
        .unwrap_or(&body.tag)
        .to_string();
    if !valid_tag(&tag) {
        return Err(bad(format!(
            "{tag:?} is not a valid tag (e.g. `myimage:1.0`)"
        )));
    }
    let mut st = ctx.shared.state();
    let Some(img) = st.images.get(&uuid).cloned() else {
        return Err(Resp::error(404, format!("image {uuid} not found")));
    };
    st.user_tags.insert(tag.clone(), uuid);
    Ok(Resp::typed(200, &st.image(&img, Some(&tag))))
}

fn delete_tag(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("set_image_tag")?;
    let uuid = parse_uuid(id, "image UUID", 404)?;
    let mut st = ctx.shared.state();
    if !st.images.contains_key(&uuid) {
        return Err(Resp::error(404, format!("image {uuid} not found")));
    }
    match ctx.query.get("tag") {
        Some(tag) => {
            if st.user_tags.get(tag) == Some(&uuid) {
                st.user_tags.remove(tag);
            } else if st.public_tags.get(tag) != Some(&uuid) {
                return Err(Resp::error(404, format!("image {uuid} has no tag {tag:?}")));
            }
        }
        None => st.user_tags.retain(|_, u| *u != uuid),
    }
    Ok(Resp::empty(204))
}

fn import_image(ctx: &Ctx) -> R {
    ctx.shared.require("import")?;
    let body: ImageImportRequest = json_body(ctx, &["tag"], &[])?;
    let tag = body.tag.clone().into_value();
    if body.registry.url.trim().is_empty() {
        return Err(bad("registry.url must not be empty"));
    }
    if let Some(t) = &tag
        && !valid_tag(t)
    {
        return Err(bad(format!("{t:?} is not a valid tag")));
    }
    let timeout = body.timeout.unwrap_or(300);
    if timeout < 1 {
        return Err(bad("timeout must be a positive number of seconds"));
    }
    let mut registry = ImageImportMetadataRegistry::new();
    registry.url = Some(body.registry.url.clone());
    registry.credentials = body.registry.credentials.as_ref().map(|c| {
        let mut cred = ImageImportMetadataRegistryCredentials::new();
        cred.username = c.username.clone();
        cred.password = c.password.as_ref().map(|_| "<MASKED>".to_string());
        cred
    });
    let mut metadata = ImageImportMetadata::new();
    metadata.registry = Some(registry);
    metadata.tag = tag.clone();
    metadata.timeout = Some(timeout);
    let op = new_op(
        ctx,
        OpKind::ImageImport,
        None,
        OperationMetadata::ImageImport(metadata),
        None,
    );
    instance::start_import(ctx.shared.clone(), op, body.registry.url, tag);
    Ok(Resp::typed(201, &ImportImageCreatedBody::new(op)).location(format!("/v1/operations/{op}")))
}

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

// ---------------------------------------------------------------------------------------------
// files

fn upload_file(ctx: &Ctx) -> R {
    let sha = hex::encode(Sha256::digest(&ctx.body));
    let now = OffsetDateTime::now_utc();
    let new_uuid = ctx.shared.new_uuid();
    let mut st = ctx.shared.state();
    let rec = if let Some(rec) = st.files.get_mut(&sha) {
        rec.updated_at = now;
        rec.clone()
    } else {
        let rec = FileRec {
            uuid: new_uuid,
            sha256: sha.clone(),
            data: ctx.body.clone(),
            created_at: now,
            updated_at: now,
        };
        st.files.insert(sha.clone(), rec.clone());
        st.file_order.push(sha.clone());
        st.file_by_uuid.insert(new_uuid, sha.clone());
        rec
    };
    let body = FileResponse::new(rec.uuid, rec.sha256.clone(), rec.data.len() as i64);
    Ok(Resp::typed(201, &body))
}

fn list_files(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let (limit, offset) = page(&ctx.query)?;
    let window = time_window(&ctx.query)?;
    let st = ctx.shared.state();
    let mut list = FilesListResponse::new();
    list.files = Some(
        st.file_order
            .iter()
            .filter_map(|s| st.files.get(s))
            .filter(|f| in_window(f.created_at, &window))
            .skip(offset)
            .take(limit)
            .map(FileRec::proto)
            .collect(),
    );
    Ok(Resp::typed(200, &list))
}

/// A file digest path parameter. The spec lists only 404 for these endpoints, so a digest that
/// is not 64 hex characters is a file that cannot exist (404, with a message saying why).
fn sha_param(sha: &str) -> Result<String, Resp> {
    if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(Resp::error(
            404,
            format!("no file with sha256 {sha:?}: a SHA-256 digest is 64 hex characters"),
        ))
    }
}

fn check_file(ctx: &Ctx, sha: &str) -> R {
    ctx.shared.require("list")?;
    let sha = sha_param(sha)?;
    let found = ctx.shared.state().files.contains_key(&sha);
    Ok(Resp::empty(if found { 200 } else { 404 }))
}

fn get_file(ctx: &Ctx, sha: &str) -> R {
    ctx.shared.require("list")?;
    let sha = sha_param(sha)?;
    let st = ctx.shared.state();
    match st.files.get(&sha) {
        Some(f) => Ok(Resp::typed(200, &f.proto())),
        None => Err(Resp::error(
            404,
            format!("no file with sha256 {sha} in this namespace"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// operations

fn list_operations(ctx: &Ctx) -> R {
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

fn get_operation(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("list")?;
    let inflight = parse_flag(&ctx.query, "inflight").map_err(bad)?;
    with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        Ok(Resp::typed(200, &op.response(inflight)).retry_after(1))
    })
}

fn cancel_operation(ctx: &Ctx, id: &str) -> R {
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

fn events(ctx: &Ctx, id: &str) -> R {
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

// ---------------------------------------------------------------------------------------------
// subprocesses

/// Checks the parent operation for the subprocess endpoints: 409/425 per the spec.
fn running_instance(st: &State, uuid: Uuid) -> Result<(), Resp> {
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
        s => Err(Resp::error(
            409,
            format!("operation {uuid} is {}, not running", s.as_str()),
        )),
    }
}

/// A non-negative integer parameter; a value beyond `u64` saturates (it matches nothing, which
/// is what such a number means: the spec allows 400 only for a value that does not parse).
fn uint_param(v: &str, name: &str) -> Result<u64, Resp> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(v.parse::<u64>().unwrap_or(u64::MAX));
    }
    Err(bad(format!(
        "{name} must be a non-negative integer, got {v:?}"
    )))
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

fn subprocess_create(ctx: &Ctx, id: &str) -> R {
    let body: ExecSpec = json_body(ctx, EXEC_NULLABLE, &["args"])?;
    let cwd = body.cwd.clone().unwrap_or_default();
    if !valid_cwd(&cwd) {
        return Err(bad(format!("cwd must be absolute or empty, got {cwd:?}")));
    }
    let uid = id_param(body.uid, "uid")?;
    let gid = id_param(body.gid, "gid")?;
    let (stdin, keep_open, _) = stdin_param(&body.stdin)?;
    let shell = body.shell.unwrap_or(false);
    let (uuid, spid, plan_parts) = with_op(ctx, id, |st, uuid| {
        running_instance(st, uuid)?;
        let op = st
            .ops
            .get_mut(&uuid)
            .ok_or_else(|| Resp::error(404, "operation vanished"))?;
        let Some(inst) = op.inst.as_mut() else {
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
        let spid = inst.next_spid;
        inst.next_spid += 1;
        Ok((
            uuid,
            spid,
            (
                perm,
                inst.image_env.clone(),
                inst.default_cwd.clone(),
                inst.hostname.clone(),
                inst.truncate_at,
            ),
        ))
    })?;
    let (perm, image_env, default_cwd, hostname, default_trunc) = plan_parts;
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
    };
    instance::start_subprocess(ctx.shared.clone(), uuid, spid, plan)?;
    let created = OperationSubprocessCreateCreatedBody::new(i64::from(spid));
    Ok(Resp::typed(201, &created).location(format!("/v1/operations/{uuid}/subprocesses/{spid}")))
}

fn subprocess_get(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
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

fn subprocess_kill(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
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
        running_instance(st, uuid)?;
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

async fn subprocess_stdin(ctx: &Ctx, id: &str, raw_spid: &str) -> R {
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
        let op = &st.ops[&uuid];
        if op.kind != OpKind::Instance {
            return Err(Resp::error(
                409,
                format!("operation {uuid} is not an instance"),
            ));
        }
        match op.status {
            Status::Pending => {
                return Err(Resp::error(425, "the operation has no worker yet").retry_after(1));
            }
            s if s.is_terminal() => {
                return Err(Resp::error(410, format!("operation {uuid} has finished")));
            }
            _ => {}
        }
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

// ---------------------------------------------------------------------------------------------
// whoami

fn whoami(ctx: &Ctx) -> R {
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
