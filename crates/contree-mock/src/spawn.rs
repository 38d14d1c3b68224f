//! `POST /instances`: validating a spawn request, placing its files, echoing it back.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contree_proto::types::{
    ClosableStreamRepr, ImageSource, InstanceFile, InstanceNetworking, InstanceResourcesLimits,
    InstanceSpawnRequest, InstanceSpawnResponse, OperationInstanceMetadata, OperationMetadata,
    StreamEncoding,
};
use uuid::Uuid;

use crate::api::{R, bad, json_body, new_op};
use crate::fs::Fs;
use crate::instance::{self, ProcPlan};
use crate::respond::Resp;
use crate::rules::{Asked, CommandFile};
use crate::server::Ctx;
use crate::shell::ProcessSpec;
use crate::state::{DEFAULT_PATH, InstanceRt, OpKind, State};
use crate::util::decode_stream;

/// Request keys the spec marks nullable (every other `null` is a 400 naming the key).
const SPAWN_NULLABLE: &[&str] = &["env"];
/// Request keys of `ExecSpec` the spec marks nullable.
pub(crate) const EXEC_NULLABLE: &[&str] = &["env"];
/// The spec's default `resources_limits.max_layer_bytes` (12 GiB).
const DEFAULT_MAX_LAYER_BYTES: i64 = 12_884_901_888;

pub(crate) fn valid_cwd(cwd: &str) -> bool {
    cwd.is_empty() || cwd.starts_with('/')
}

/// A uid/gid: the spec says `integer, minimum 0`; Linux ids are 32-bit.
pub(crate) fn id_param(v: Option<i64>, name: &str) -> Result<u32, Resp> {
    let v = v.unwrap_or(0);
    u32::try_from(v).map_err(|_| {
        bad(format!(
            "{name} must be in 0..={} (a 32-bit Linux id), got {v}",
            u32::MAX
        ))
    })
}

pub(crate) fn truncate_param(v: Option<i64>) -> Result<u64, Resp> {
    match v {
        None => Ok(1_048_576),
        Some(n) if n >= 0 => Ok((n as u64).min(10_485_760)),
        Some(n) => Err(bad(format!("truncate_output_at must be >= 0, got {n}"))),
    }
}

/// Decodes a request's `stdin`: the bytes, whether it stays open, and its normalised echo.
pub(crate) fn stdin_param(
    s: &Option<ClosableStreamRepr>,
) -> Result<(Vec<u8>, bool, ClosableStreamRepr), Resp> {
    match s {
        None => Ok((Vec::new(), false, ClosableStreamRepr::close_only())),
        Some(b) => {
            let enc = b.encoding.clone().unwrap_or(StreamEncoding::Ascii);
            let data = decode_stream(&b.value, Some(enc.as_str())).ok_or_else(|| {
                bad(format!(
                    "stdin.value is not valid {enc} (encoding must be ascii or base64)"
                ))
            })?;
            let close = b.close.unwrap_or(true);
            let mut echo = ClosableStreamRepr::new(b.value.clone());
            echo.encoding = Some(enc);
            echo.close = Some(close);
            Ok((data, !close, echo))
        }
    }
}

/// The environment of a process: image env + request env with `shell`, request env alone without.
pub(crate) fn process_env(
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

fn check_permission(ctx: &Ctx, disposable: bool) -> Result<(), Resp> {
    if !disposable {
        return ctx.shared.require("spawn");
    }
    if ctx.shared.has("spawn_disposable") || ctx.shared.has("spawn") {
        return Ok(());
    }
    ctx.shared.require("spawn_disposable")
}

/// Validated scalar settings of a spawn request.
struct Settings {
    uid: u32,
    gid: u32,
    truncate_at: u64,
    timeout: i64,
    stdin: Vec<u8>,
    keep_open: bool,
    stdin_echo: ClosableStreamRepr,
    networking: bool,
    shell: bool,
    hostname: String,
    disposable: bool,
}

fn settings(ctx: &Ctx, body: &InstanceSpawnRequest) -> Result<Settings, Resp> {
    if body.command.is_empty() {
        return Err(bad("command must not be empty"));
    }
    let cwd = body.cwd.clone().unwrap_or_default();
    if !valid_cwd(&cwd) {
        return Err(bad(format!("cwd must be absolute or empty, got {cwd:?}")));
    }
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
    if let Some(l) = &body.resources_limits
        && l.max_layer_bytes.is_some_and(|m| m < 1)
    {
        return Err(bad("resources_limits.max_layer_bytes must be >= 1"));
    }
    let (stdin, keep_open, stdin_echo) = stdin_param(&body.stdin)?;
    Ok(Settings {
        uid: id_param(body.uid, "uid")?,
        gid: id_param(body.gid, "gid")?,
        truncate_at: truncate_param(body.truncate_output_at)?,
        timeout: body.timeout.unwrap_or(max_timeout),
        stdin,
        keep_open,
        stdin_echo,
        networking: body
            .networking
            .as_ref()
            .and_then(|n| n.enabled)
            .unwrap_or(true),
        shell: body.shell.unwrap_or(false),
        hostname: body
            .hostname
            .clone()
            .unwrap_or_else(|| "linuxkit".to_string()),
        disposable: body.disposable.unwrap_or(false),
    })
}

fn resolve_image(st: &State, source: &ImageSource) -> Result<Uuid, Resp> {
    match source {
        ImageSource::Tag(t) => {
            let tag = t.0.strip_prefix("tag:").unwrap_or(&t.0);
            st.resolve_tag(tag).ok_or_else(|| {
                bad(format!(
                    "image tag {tag:?} not found; import it or use a listed tag"
                ))
            })
        }
        ImageSource::Uuid(u) if st.images.contains_key(u) => Ok(*u),
        ImageSource::Uuid(u) => Err(bad(format!("image {u} not found"))),
        other => Err(bad(format!(
            "image must be a UUID or `tag:<tag>`, got {other:?}"
        ))),
    }
}

/// The image's filesystem with the request's files placed, the files' normalised echo, and
/// their record for the command log.
type Placed = (
    Fs,
    BTreeMap<String, InstanceFile>,
    BTreeMap<String, CommandFile>,
);

/// Places the request's `files` on a copy of the image's filesystem.
fn place_files(
    st: &State,
    image: Uuid,
    files: Option<&BTreeMap<String, InstanceFile>>,
) -> Result<Placed, Resp> {
    let Some(img) = st.images.get(&image) else {
        return Err(bad(format!("image {image} not found")));
    };
    let mut fs = (*img.fs).clone();
    let mut echo = BTreeMap::new();
    let mut record = BTreeMap::new();
    for (path, spec) in files.into_iter().flatten() {
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
            .ok_or_else(|| {
                bad(format!(
                    "files[{path:?}].mode must be an octal string like \"0644\", got {mode_str:?}"
                ))
            })?;
        let fuid = id_param(spec.uid, "files.uid")?;
        let fgid = id_param(spec.gid, "files.gid")?;
        fs.write_with(path, data.clone(), mode, fuid, fgid)
            .map_err(|e| bad(format!("files[{path:?}]: cannot place the file: {e}")))?;
        record.insert(
            path.clone(),
            CommandFile {
                uuid: fid.to_string(),
                data,
                mode,
                uid: fuid,
                gid: fgid,
            },
        );
        let mut f = InstanceFile::new();
        f.uuid = Some(fid);
        f.uid = Some(i64::from(fuid));
        f.gid = Some(i64::from(fgid));
        f.mode = Some(mode_str);
        echo.insert(path.clone(), f);
    }
    Ok((fs, echo, record))
}

/// The normalised request with its defaults: `metadata` of the operation (every key the
/// official SDK's `InstanceOperationMetadata` requires: `env` `{}` when not given, `stdin`
/// empty and closed, `timeout` the effective limit, `result` `null` until the process ends).
fn metadata(
    body: &InstanceSpawnRequest,
    s: &Settings,
    image: Uuid,
    files: BTreeMap<String, InstanceFile>,
) -> OperationInstanceMetadata {
    let mut m = OperationInstanceMetadata::new(body.command.clone(), ImageSource::Uuid(image));
    m.hostname = Some(s.hostname.clone());
    m.args = Some(body.args.clone().unwrap_or_default());
    m.shell = Some(s.shell);
    m.env = Some(body.env.as_value().cloned().unwrap_or_default());
    m.preserve_env = Some(body.preserve_env.unwrap_or(false));
    m.preserve_cwd = Some(body.preserve_cwd.unwrap_or(false));
    m.cwd = Some(body.cwd.clone().unwrap_or_default());
    m.uid = Some(i64::from(s.uid));
    m.gid = Some(i64::from(s.gid));
    let mut limits = InstanceResourcesLimits::new();
    limits.max_layer_bytes = Some(
        body.resources_limits
            .as_ref()
            .and_then(|l| l.max_layer_bytes)
            .unwrap_or(DEFAULT_MAX_LAYER_BYTES),
    );
    m.resources_limits = Some(limits);
    let mut net = InstanceNetworking::new();
    net.enabled = Some(s.networking);
    m.networking = Some(net);
    m.stdin = Some(s.stdin_echo.clone());
    m.timeout = Some(s.timeout);
    m.truncate_output_at = Some(s.truncate_at as i64);
    m.disposable = Some(s.disposable);
    m.files = Some(files);
    m
}

/// The spawn response: the normalised request, the operation id and `result: null`.
fn spawn_echo(op: Uuid, m: &OperationInstanceMetadata) -> InstanceSpawnResponse {
    let mut r = InstanceSpawnResponse::new();
    r.uuid = Some(op);
    r.command = Some(m.command.clone());
    // The reference as the request gave it, `tag:…` included (as the service may echo it).
    r.image = Some(m.image.clone());
    r.hostname = m.hostname.clone();
    r.args = m.args.clone();
    r.shell = m.shell;
    r.env = m.env.clone();
    r.preserve_env = m.preserve_env;
    r.cwd = m.cwd.clone();
    r.uid = m.uid;
    r.gid = m.gid;
    r.resources_limits = m.resources_limits.clone();
    r.networking = m.networking.clone();
    r.stdin = m.stdin.clone();
    r.timeout = m.timeout;
    r.truncate_output_at = m.truncate_output_at;
    r.disposable = m.disposable;
    r.files = m.files.clone();
    r
}

/// The `fail_operation` fault: a 201 for an operation that fails without running.
fn accept_and_fail(ctx: &Ctx, body: &InstanceSpawnRequest, message: String) -> Resp {
    let meta = OperationInstanceMetadata::new(body.command.clone(), body.image.clone());
    let op = new_op(
        ctx,
        OpKind::Instance,
        None,
        OperationMetadata::Instance(meta.clone()),
        None,
    );
    instance::fail_later(ctx.shared.clone(), op, message);
    Resp::typed(201, &spawn_echo(op, &meta)).location(format!("/v1/operations/{op}"))
}

pub(crate) fn spawn_instance(ctx: &Ctx) -> R {
    let body: InstanceSpawnRequest = json_body(ctx, SPAWN_NULLABLE, &["args"])?;
    check_permission(ctx, body.disposable.unwrap_or(false))?;
    if let Some(message) = ctx.fault.as_ref().and_then(|f| f.fail_operation.clone()) {
        return Ok(accept_and_fail(ctx, &body, message));
    }
    let s = settings(ctx, &body)?;
    let (image, fs, files, placed, image_env, image_cwd) = {
        let st = ctx.shared.state();
        let image = resolve_image(&st, &body.image)?;
        let (fs, files, placed) = place_files(&st, image, body.files.as_ref())?;
        let img = st.images.get(&image);
        (
            image,
            fs,
            files,
            placed,
            img.map(|i| i.env.clone()).unwrap_or_default(),
            img.map(|i| i.cwd.clone())
                .unwrap_or_else(|| "/".to_string()),
        )
    };
    let cwd = body.cwd.clone().unwrap_or_default();
    let resolved_cwd = if cwd.is_empty() {
        image_cwd.clone()
    } else {
        cwd
    };
    let req_env = body.env.as_value().cloned();
    let meta = metadata(&body, &s, image, files);
    let inst = InstanceRt {
        fs: Arc::new(Mutex::new(fs)),
        procs: BTreeMap::new(),
        next_spid: 2,
        disposable: s.disposable,
        truncate_at: s.truncate_at,
        hostname: s.hostname.clone(),
        image_env: image_env.clone(),
        default_cwd: resolved_cwd.clone(),
        sub_tasks: Vec::new(),
        closing: false,
    };
    let op = new_op(
        ctx,
        OpKind::Instance,
        Some(image),
        OperationMetadata::Instance(meta.clone()),
        Some(inst),
    );
    let plan = ProcPlan {
        spec: ProcessSpec {
            command: body.command.clone(),
            args: if s.shell {
                Vec::new()
            } else {
                body.args.clone().unwrap_or_default()
            },
            shell: s.shell,
            env: process_env(s.shell, &image_env, req_env.as_ref()),
            cwd: resolved_cwd.clone(),
            uid: s.uid,
            gid: s.gid,
            hostname: s.hostname.clone(),
        },
        stdin: s.stdin,
        keep_open: s.keep_open,
        timeout: Some(Duration::from_secs(s.timeout.max(1) as u64)),
        truncate_at: s.truncate_at,
        asked: Asked {
            image: Some(image),
            env: req_env.clone().unwrap_or_default(),
            files: placed,
        },
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
            networking: s.networking,
            disposable: s.disposable,
            source: image,
            result_env,
            result_cwd,
        },
    );
    Ok(Resp::typed(201, &spawn_echo(op, &meta)).location(format!("/v1/operations/{op}")))
}
