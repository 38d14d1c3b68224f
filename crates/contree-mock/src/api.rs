//! Handlers of the 28 operations (inspect lives in `inspect.rs`, process running in `instance.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use contree_proto::types::{
    ClosableStreamRepr, ExecSpec, ImageImportRequest, ImageSource, InstanceSpawnRequest,
    UpdateImageTagBody,
};

use crate::events::{EventLog, SseOptions, spawn_writer};
use crate::instance::{self, ProcPlan};
use crate::respond::Resp;
use crate::router::Route;
use crate::server::Ctx;
use crate::shell::ProcessSpec;
use crate::state::{DEFAULT_PATH, FileRec, InstanceRt, OpKind, OpRec, State, Status, valid_tag};
use crate::util::{Query, decode_stream, parse_flag, parse_time_filter};

type R = Result<Resp, Resp>;

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
        Route::SpawnInstance => spawn_instance(ctx),
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
    let offset = parse_int(q, "offset", 0, 0, i64::MAX)?;
    Ok((limit as usize, offset as usize))
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

fn json_body<T: for<'de> Deserialize<'de>>(ctx: &Ctx) -> Result<T, Resp> {
    if ctx.body.is_empty() {
        return Err(bad("the request body is empty; send a JSON object"));
    }
    serde_json::from_slice(&ctx.body).map_err(|e| bad(format!("invalid request body: {e}")))
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
                rows.push(st.image_json(img, None));
            }
            continue;
        }
        for t in &tags {
            if prefix.is_none_or(|p| t.starts_with(p)) {
                rows.push(st.image_json(img, Some(t)));
            }
        }
    }
    let images: Vec<Value> = rows.into_iter().skip(offset).take(limit).collect();
    Ok(Resp::json(200, json!({"images": images})))
}

fn update_tag(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("set_image_tag")?;
    let uuid = parse_uuid(id, "image UUID", 400)?;
    let body: UpdateImageTagBody = json_body(ctx)?;
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
    Ok(Resp::json(200, st.image_json(&img, Some(&tag))))
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
    let body: ImageImportRequest = json_body(ctx)?;
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
    let mut registry = json!({"url": body.registry.url});
    if let Some(c) = &body.registry.credentials {
        let mut cred = json!({});
        if let Some(u) = &c.username {
            cred["username"] = json!(u);
        }
        if c.password.is_some() {
            cred["password"] = json!("<MASKED>");
        }
        registry["credentials"] = cred;
    }
    let metadata = json!({"registry": registry, "tag": tag, "timeout": timeout});
    let op = new_op(ctx, OpKind::ImageImport, None, metadata, None);
    instance::start_import(ctx.shared.clone(), op, body.registry.url, tag);
    Ok(Resp::json(201, json!({"uuid": op})).location(format!("/v1/operations/{op}")))
}

fn new_op(
    ctx: &Ctx,
    kind: OpKind,
    image: Option<Uuid>,
    metadata: Value,
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
    Ok(Resp::json(
        201,
        json!({"uuid": rec.uuid, "sha256": rec.sha256, "size": rec.data.len()}),
    ))
}

fn list_files(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let (limit, offset) = page(&ctx.query)?;
    let window = time_window(&ctx.query)?;
    let st = ctx.shared.state();
    let files: Vec<Value> = st
        .file_order
        .iter()
        .filter_map(|s| st.files.get(s))
        .filter(|f| in_window(f.created_at, &window))
        .skip(offset)
        .take(limit)
        .map(FileRec::json)
        .collect();
    Ok(Resp::json(200, json!({"files": files})))
}

fn sha_param(sha: &str) -> Result<String, Resp> {
    if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(sha.to_ascii_lowercase())
    } else {
        Err(bad(format!(
            "{sha:?} is not a SHA-256 hex digest (64 hex characters)"
        )))
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
        Some(f) => Ok(Resp::json(200, f.json())),
        None => Err(Resp::error(
            404,
            format!("no file with sha256 {sha} in this namespace"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// instances

fn valid_cwd(cwd: &str) -> bool {
    cwd.is_empty() || cwd.starts_with('/')
}

fn id_param(v: Option<i64>, name: &str) -> Result<u32, Resp> {
    let v = v.unwrap_or(0);
    u32::try_from(v).map_err(|_| bad(format!("{name} must be an integer >= 0, got {v}")))
}

fn truncate_param(v: Option<i64>) -> Result<u64, Resp> {
    match v {
        None => Ok(1_048_576),
        Some(n) if n >= 0 => Ok((n as u64).min(10_485_760)),
        Some(n) => Err(bad(format!("truncate_output_at must be >= 0, got {n}"))),
    }
}

fn stdin_param(s: &Option<ClosableStreamRepr>) -> Result<(Vec<u8>, bool, Value), Resp> {
    match s {
        None => Ok((Vec::new(), false, Value::Null)),
        Some(b) => {
            let enc = b.encoding.as_ref().map_or("ascii", |e| e.as_str());
            let data = decode_stream(&b.value, Some(enc)).ok_or_else(|| {
                bad(format!(
                    "stdin.value is not valid {enc} (encoding must be ascii or base64)"
                ))
            })?;
            let close = b.close.unwrap_or(true);
            Ok((
                data,
                !close,
                json!({"value": b.value, "encoding": enc, "close": close}),
            ))
        }
    }
}

/// The environment of a process: image env + request env with `shell`, request env alone without.
fn process_env(
    shell: bool,
    image_env: &BTreeMap<String, String>,
    env: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut out = if shell {
        image_env.clone()
    } else {
        BTreeMap::new()
    };
    if let Some(e) = env {
        out.extend(e.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    out.entry("PATH".to_string())
        .or_insert_with(|| DEFAULT_PATH.to_string());
    out
}

fn spawn_instance(ctx: &Ctx) -> R {
    let body: InstanceSpawnRequest = json_body(ctx)?;
    let req_env = body.env.as_value().cloned();
    let disposable = body.disposable.unwrap_or(false);
    if disposable {
        if !ctx.shared.has("spawn_disposable") && !ctx.shared.has("spawn") {
            return Err(ctx
                .shared
                .require("spawn_disposable")
                .err()
                .unwrap_or_else(|| bad("")));
        }
    } else {
        ctx.shared.require("spawn")?;
    }
    if body.command.is_empty() {
        return Err(bad("command must not be empty"));
    }
    let cwd = body.cwd.clone().unwrap_or_default();
    if !valid_cwd(&cwd) {
        return Err(bad(format!("cwd must be absolute or empty, got {cwd:?}")));
    }
    let uid = id_param(body.uid, "uid")?;
    let gid = id_param(body.gid, "gid")?;
    let truncate_at = truncate_param(body.truncate_output_at)?;
    let max_timeout = ctx
        .shared
        .cfg
        .limits
        .get("instance_max_timeout")
        .copied()
        .unwrap_or(3600);
    if let Some(t) = body.timeout
        && (t < 1 || t > max_timeout)
    {
        return Err(bad(format!(
            "timeout must be in 1..={max_timeout} seconds, got {t}"
        )));
    }
    let (stdin, keep_open, stdin_json) = stdin_param(&body.stdin)?;
    if let Some(l) = &body.resources_limits
        && l.max_layer_bytes.is_some_and(|m| m < 1)
    {
        return Err(bad("resources_limits.max_layer_bytes must be >= 1"));
    }
    let networking = body
        .networking
        .as_ref()
        .and_then(|n| n.enabled)
        .unwrap_or(true);
    let shell = body.shell.unwrap_or(false);
    let hostname = body
        .hostname
        .clone()
        .unwrap_or_else(|| "linuxkit".to_string());

    let (image, fs, files_json) = {
        let st = ctx.shared.state();
        let image = match &body.image {
            ImageSource::Tag(t) => {
                let tag = t.0.strip_prefix("tag:").unwrap_or(&t.0);
                st.resolve_tag(tag).ok_or_else(|| {
                    bad(format!(
                        "image tag {tag:?} not found; import it or use a listed tag"
                    ))
                })?
            }
            ImageSource::Uuid(u) => {
                if !st.images.contains_key(u) {
                    return Err(bad(format!("image {u} not found")));
                }
                *u
            }
            other => {
                return Err(bad(format!(
                    "image must be a UUID or `tag:<tag>`, got {other:?}"
                )));
            }
        };
        let Some(img) = st.images.get(&image) else {
            return Err(bad(format!("image {image} not found")));
        };
        let mut fs = (*img.fs).clone();
        let mut files_json = serde_json::Map::new();
        for (path, spec) in body.files.iter().flatten() {
            if !path.starts_with('/') {
                return Err(bad(format!("files: {path:?} is not an absolute path")));
            }
            let Some(fid) = spec.uuid else {
                return Err(bad(format!("files[{path:?}].uuid is required")));
            };
            let data = st
                .file_by_uuid
                .get(&fid)
                .and_then(|s| st.files.get(s))
                .map(|f| f.data.clone())
                .ok_or_else(|| bad(format!("files[{path:?}]: no uploaded file with uuid {fid}")))?;
            let mode_str = spec.mode.clone().unwrap_or_else(|| "0644".to_string());
            let mode = u32::from_str_radix(&mode_str, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .ok_or_else(|| bad(format!("files[{path:?}].mode must be an octal string like \"0644\", got {mode_str:?}")))?;
            let fuid = id_param(spec.uid, "files.uid")?;
            let fgid = id_param(spec.gid, "files.gid")?;
            fs.write_with(path, data, mode, fuid, fgid)
                .map_err(|e| bad(format!("files[{path:?}]: cannot place the file: {e}")))?;
            files_json.insert(
                path.clone(),
                json!({"uuid": fid, "uid": fuid, "gid": fgid, "mode": mode_str}),
            );
        }
        (image, fs, files_json)
    };
    let (image_env, image_cwd) = {
        let st = ctx.shared.state();
        let img = st.images.get(&image);
        (
            img.map(|i| i.env.clone()).unwrap_or_default(),
            img.map(|i| i.cwd.clone())
                .unwrap_or_else(|| "/".to_string()),
        )
    };
    let resolved_cwd = if cwd.is_empty() {
        image_cwd.clone()
    } else {
        cwd.clone()
    };

    let mut echo = json!({
        "command": body.command,
        "image": image,
        "hostname": hostname,
        "args": body.args.clone().unwrap_or_default(),
        "shell": shell,
        "env": req_env,
        "preserve_env": body.preserve_env.unwrap_or(false),
        "cwd": cwd,
        "uid": uid,
        "gid": gid,
        "resources_limits": {"max_layer_bytes": body.resources_limits.as_ref().and_then(|l| l.max_layer_bytes).unwrap_or(12_884_901_888_i64)},
        "networking": {"enabled": networking},
        "truncate_output_at": truncate_at,
        "disposable": disposable,
        "files": Value::Object(files_json),
    });
    if !stdin_json.is_null() {
        echo["stdin"] = stdin_json;
    }
    if let Some(t) = body.timeout {
        echo["timeout"] = json!(t);
    }
    let mut metadata = echo.clone();
    metadata["preserve_cwd"] = json!(body.preserve_cwd.unwrap_or(false));

    let timeout = Duration::from_secs(body.timeout.unwrap_or(max_timeout).max(1) as u64);
    let env = process_env(shell, &image_env, req_env.as_ref());
    let inst = InstanceRt {
        fs: Arc::new(Mutex::new(fs)),
        procs: BTreeMap::new(),
        next_spid: 2,
        disposable,
        truncate_at,
        hostname: hostname.clone(),
        image_env: image_env.clone(),
        default_cwd: resolved_cwd.clone(),
        sub_tasks: Vec::new(),
        closing: false,
    };
    let op = new_op(ctx, OpKind::Instance, Some(image), metadata, Some(inst));
    let plan = ProcPlan {
        spec: ProcessSpec {
            command: body.command.clone(),
            args: if shell {
                Vec::new()
            } else {
                body.args.clone().unwrap_or_default()
            },
            shell,
            env,
            cwd: resolved_cwd.clone(),
            uid,
            gid,
            hostname,
        },
        stdin,
        keep_open,
        timeout: Some(timeout),
        truncate_at,
    };
    let mut result_env = image_env;
    if body.preserve_env.unwrap_or(false) {
        for (k, v) in req_env.iter().flatten() {
            if v.is_empty() {
                result_env.remove(k);
            } else {
                result_env.insert(k.clone(), v.clone());
            }
        }
    }
    let result_cwd = if body.preserve_cwd.unwrap_or(false) {
        resolved_cwd
    } else {
        image_cwd
    };
    instance::start_instance(
        ctx.shared.clone(),
        op,
        instance::MainPlan {
            proc: plan,
            networking,
            disposable,
            source: image,
            result_env,
            result_cwd,
        },
    );
    echo["uuid"] = json!(op);
    echo["result"] = Value::Null;
    Ok(Resp::json(201, echo).location(format!("/v1/operations/{op}")))
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
        Some("instance") => Some(OpKind::Instance),
        Some("image_import") => Some(OpKind::ImageImport),
        Some(k) => {
            return Err(bad(format!(
                "kind must be `instance` or `image_import`, got {k:?}"
            )));
        }
        None => None,
    };
    let st = ctx.shared.state();
    let list: Vec<Value> = st
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
    Ok(Resp::json(200, Value::Array(list)))
}

fn get_operation(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("list")?;
    let inflight = parse_flag(&ctx.query, "inflight").map_err(bad)?;
    with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        Ok(Resp::json(200, op.response(inflight)).retry_after(1))
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
    let int_param = |v: &str, name: &str| -> Result<u64, Resp> {
        v.trim()
            .parse::<u64>()
            .map_err(|_| bad(format!("{name} must be a non-negative integer, got {v:?}")))
    };
    let since_q = q.get("since").map(|v| int_param(v, "since")).transpose()?;
    let since_h = ctx
        .headers
        .get("last-event-id")
        .map(|v| int_param(&String::from_utf8_lossy(v.as_bytes()), "Last-Event-Id"))
        .transpose()?;
    let spid = q
        .get("spid")
        .map(|v| int_param(v, "spid"))
        .transpose()?
        .map(|s| u32::try_from(s).map_err(|_| bad("spid is too large")))
        .transpose()?;
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

fn spid_param(s: &str) -> Result<u32, Resp> {
    s.parse::<u32>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| bad(format!("spid must be an integer >= 1, got {s:?}")))
}

fn subprocess_create(ctx: &Ctx, id: &str) -> R {
    let body: ExecSpec = json_body(ctx)?;
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
    Ok(Resp::json(201, json!({"spid": spid}))
        .location(format!("/v1/operations/{uuid}/subprocesses/{spid}")))
}

fn subprocess_get(ctx: &Ctx, id: &str, spid: &str) -> R {
    ctx.shared.require("list")?;
    let spid = spid_param(spid)?;
    with_op(ctx, id, |st, uuid| {
        let op = &st.ops[&uuid];
        match op.status {
            Status::Pending => {
                return Err(Resp::error(425, "the operation has no worker yet").retry_after(1));
            }
            Status::Cancelled => {
                return Err(Resp::error(
                    404,
                    format!("operation {uuid} was cancelled; its events were dropped"),
                ));
            }
            _ => {}
        }
        let p = op
            .inst
            .as_ref()
            .and_then(|i| i.procs.get(&spid))
            .ok_or_else(|| {
                Resp::error(
                    404,
                    format!("no process with spid {spid} in operation {uuid}"),
                )
            })?;
        Ok(Resp::json(200, p.result()))
    })
}

fn subprocess_kill(ctx: &Ctx, id: &str, spid: &str) -> R {
    let spid = spid_param(spid)?;
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
        match inst.procs.get(&spid) {
            Some(p) if p.running => Ok((p.kill.clone(), perm)),
            _ => Err(Resp::error(
                404,
                format!("no live process with spid {spid}"),
            )),
        }
    })?;
    ctx.shared.require(perm)?;
    let _ = kill.send(signal);
    Ok(Resp::empty(204))
}

async fn subprocess_stdin(ctx: &Ctx, id: &str, spid: &str) -> R {
    let spid = spid_param(spid)?;
    let body: ClosableStreamRepr = json_body(ctx)?;
    let enc = body.encoding.as_ref().map_or("ascii", |e| e.as_str());
    let data = decode_stream(&body.value, Some(enc)).ok_or_else(|| {
        bad(format!(
            "value is not valid {enc} (encoding must be ascii or base64)"
        ))
    })?;
    let close = body.close.unwrap_or(true);
    let (sender, log, perm) = with_op(ctx, id, |st, uuid| {
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
        let p = inst
            .procs
            .get(&spid)
            .filter(|p| p.running)
            .ok_or_else(|| Resp::error(404, format!("no live process with spid {spid}")))?;
        let tx = p.stdin.clone().ok_or_else(|| {
            Resp::error(
                409,
                format!(
                    "the stdin of spid {spid} is closed (spawn with stdin.close=false to stream it)"
                ),
            )
        })?;
        Ok((tx, op.events.clone(), perm))
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
    Ok(Resp::json(
        200,
        json!({
            "token_uuid": token_uuid.to_string(),
            "token_expiration": Value::Null,
            "permissions": cfg.permissions,
            "limits": cfg.limits,
            "operations_stat": {"active": running, "total": total},
        }),
    ))
}
