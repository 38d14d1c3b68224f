//! `run` (with live progress and cancellation) and the operation tools.

use std::collections::BTreeMap;
use std::time::Duration;

use contree::{
    FileSpec, OperationInfo, OperationKind, OperationStatus, RunEvent, RunHandle, RunOutput,
    UploadedFile,
};
use futures_util::StreamExt as _;
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};

use crate::server::ContreeMcp;
use crate::tools::{err, image_ref, parse_time};
use crate::types::*;

/// The official shape from what `GET /operations/{id}` says.
pub(crate) fn from_info(info: &OperationInfo) -> OperationOutput {
    OperationOutput {
        uuid: info.id.clone(),
        status: info.status.as_str().to_string(),
        kind: info.kind.as_ref().map(|k| k.as_str().to_string()),
        error: info.error.clone(),
        created_at: info.created_at.clone(),
        result: info.result_image.as_ref().map(|img| ResultImage {
            image: Some(img.clone()),
            tag: None,
        }),
        duration: info.duration.map(|d| d.as_secs_f64()),
        image_size: info.image_size,
        image_uuid: info.image.clone(),
        result_image_uuid: info.result_image.clone(),
        ..OperationOutput::default()
    }
}

/// Adds a run's exit status, output and resources.
pub(crate) fn add_run(o: &mut OperationOutput, out: &RunOutput) {
    o.exit_code = Some(out.exit_code());
    o.timed_out = Some(out.timed_out());
    o.stdout = Some(out.stdout_lossy().into_owned());
    o.stderr = Some(out.stderr_lossy().into_owned());
    o.stdout_truncated = Some(out.stdout_truncated());
    o.stderr_truncated = Some(out.stderr_truncated());
    let r = out.resources();
    o.consumed_cpu = r.consumed_cpu.or(o.consumed_cpu);
    o.consumed_memory = r.consumed_memory.or(o.consumed_memory);
    o.image_size = r.image_size.or(o.image_size);
    if o.duration.is_none() {
        o.duration = out.duration().map(|d| d.as_secs_f64());
    }
    if o.image_uuid.is_none() {
        o.image_uuid = out.source_image().map(str::to_string);
    }
    if let Some(img) = out.image().and_then(|i| i.id()) {
        o.result_image_uuid = Some(img.to_string());
        o.result = Some(ResultImage {
            image: Some(img.to_string()),
            tag: out.image().and_then(|i| i.tag()).map(str::to_string),
        });
    }
}

/// An operation's state; a finished run also gets its exit code and output.
pub(crate) async fn describe(s: &ContreeMcp, id: &str) -> Result<OperationOutput, String> {
    let info = s.contree.operations().get(id).await.map_err(err)?;
    Ok(describe_info(s, &info).await)
}

/// [`describe`] from an operation already fetched.
async fn describe_info(s: &ContreeMcp, info: &OperationInfo) -> OperationOutput {
    let mut o = from_info(info);
    if info.status.is_terminal() && info.kind == Some(OperationKind::Instance) {
        // The run is over: its event log is complete, so this returns at once.
        if let Ok(out) = s
            .contree
            .operations()
            .attach(info.id.clone())
            .wait_timeout(Duration::from_secs(60))
            .await
        {
            add_run(&mut o, &out);
        }
    }
    o
}

pub(crate) async fn get_operation(s: &ContreeMcp, id: &str) -> Result<OperationOutput, String> {
    describe(s, id.trim()).await
}

fn build_run(s: &ContreeMcp, p: &RunParams) -> Result<contree::Run, String> {
    let image = image_ref(s, &p.image)?;
    let mut r = if p.shell {
        image.shell(p.command.clone())
    } else {
        image.run(p.command.clone())
    };
    for (k, v) in p.env.iter().flatten() {
        // An empty value unsets a preserved variable, as `null` does.
        r = r.env(k.clone(), v.clone().unwrap_or_default());
    }
    r = r
        .preserve_env(p.preserve_env)
        .uid(p.uid)
        .gid(p.gid)
        .timeout(Duration::from_secs(p.timeout.max(1)))
        .disposable(p.disposable)
        .truncate_output_at(p.truncate_output_at);
    if !p.cwd.trim().is_empty() {
        r = r.cwd(p.cwd.clone());
    }
    if let Some(n) = p.max_layer_bytes {
        r = r.max_layer_bytes(n);
    }
    if let Some(stdin) = &p.stdin {
        r = r.stdin(stdin.as_bytes());
    }
    let mut files: BTreeMap<String, FileSpec> = BTreeMap::new();
    if let Some(id) = p.directory_state_id {
        let state = s.sync.state_files(id)?;
        for f in state {
            let spec = FileSpec::new(f.target.clone(), UploadedFile::new(f.uuid, f.sha256))
                .mode(f.mode & 0o7777);
            files.insert(f.target, spec);
        }
    }
    for (dest, uuid) in p.files.iter().flatten() {
        let spec = FileSpec::new(dest.clone(), UploadedFile::new(uuid.clone(), "")).mode(0o644);
        files.insert(dest.clone(), spec);
    }
    for spec in files.into_values() {
        r = r.file_spec(spec);
    }
    Ok(r)
}

/// Cancels the operation when dropped before being disarmed: a client's cancellation, a
/// dropped connection or any early return leave no run behind.
struct CancelOnDrop(Option<RunHandle>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(h) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                if let Err(e) = h.cancel().await {
                    tracing::debug!(operation_id = h.operation_id(), error = %e, "cancel after the client went away");
                }
            });
        }
    }
}

/// Splits output chunks into lines (a partial line waits for the rest).
#[derive(Default)]
pub(crate) struct Lines {
    pending: Vec<u8>,
}

impl Lines {
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=pos).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]);
            out.push(line.trim_end_matches('\r').to_string());
        }
        // Bounded memory: a very long line goes out in pieces.
        if self.pending.len() > 16 * 1024 {
            out.push(String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned());
        }
        out
    }
    pub(crate) fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty())
            .then(|| String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned())
    }
}

struct Progress {
    peer: Peer<RoleServer>,
    token: Option<ProgressToken>,
    n: u64,
}

impl Progress {
    async fn line(&mut self, prefix: &str, line: String) {
        let Some(token) = &self.token else { return };
        self.n += 1;
        let param = ProgressNotificationParam::new(token.clone(), self.n as f64)
            .with_message(format!("{prefix}{line}"));
        if let Err(e) = self.peer.notify_progress(param).await {
            tracing::debug!(error = %e, "progress notification not delivered");
        }
    }
}

/// An operation whose wait failed with `e`: when it ended FAILED or CANCELLED on the
/// server, that is a result, whose `status` and `error` say so (as in the official server,
/// whose `wait_operation` returns the operation whatever its end); otherwise `e`.
pub(crate) async fn ended(
    s: &ContreeMcp,
    id: &str,
    e: contree::Error,
) -> Result<OperationOutput, String> {
    match s.contree.operations().get(id).await {
        Ok(info) if info.status.is_terminal() => {
            let mut o = describe_info(s, &info).await;
            if o.error.is_none() {
                o.error = Some(e.to_string());
            }
            Ok(o)
        }
        _ => Err(err(e)),
    }
}

/// A `kind` operation the facade saw succeed: what the service says of it, or only that
/// when it cannot be asked again.
pub(crate) async fn succeeded(s: &ContreeMcp, id: &str, kind: OperationKind) -> OperationOutput {
    match s.contree.operations().get(id).await {
        Ok(info) => from_info(&info),
        Err(_) => OperationOutput {
            uuid: id.to_string(),
            status: OperationStatus::Success.as_str().to_string(),
            kind: Some(kind.as_str().to_string()),
            ..OperationOutput::default()
        },
    }
}

/// How following a run ended.
enum Followed {
    /// The run's output (it ended SUCCESS).
    Output(Box<RunOutput>),
    /// Waiting failed: the operation ended FAILED or CANCELLED, or the service could not
    /// be asked.
    Failed(contree::Error),
    /// The client cancelled the request.
    Cancelled,
}

/// Follows a run to its end, sending its output lines as progress notifications.
async fn follow(handle: &RunHandle, ctx: &RequestContext<RoleServer>) -> Followed {
    let mut progress = Progress {
        peer: ctx.peer.clone(),
        token: ctx.meta.get_progress_token(),
        n: 0,
    };
    let (mut out_lines, mut err_lines) = (Lines::default(), Lines::default());
    let mut events = handle.events();
    let mut final_out = None;
    loop {
        let ev = tokio::select! {
            _ = ctx.ct.cancelled() => return Followed::Cancelled,
            ev = events.next() => ev,
        };
        match ev {
            Some(Ok(RunEvent::Stdout(b))) => {
                for l in out_lines.push(&b) {
                    progress.line("", l).await;
                }
            }
            Some(Ok(RunEvent::Stderr(b))) => {
                for l in err_lines.push(&b) {
                    progress.line("[stderr] ", l).await;
                }
            }
            Some(Ok(RunEvent::Output(out))) => {
                final_out = Some(out);
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                // Live output is gone (e.g. following is refused); the result is not.
                tracing::debug!(operation_id = handle.operation_id(), error = %e, "live output ended; waiting for the result");
                break;
            }
            None => break,
        }
    }
    if let Some(l) = out_lines.finish() {
        progress.line("", l).await;
    }
    if let Some(l) = err_lines.finish() {
        progress.line("[stderr] ", l).await;
    }
    if let Some(out) = final_out {
        return Followed::Output(out);
    }
    tokio::select! {
        _ = ctx.ct.cancelled() => Followed::Cancelled,
        w = handle.wait() => match w {
            Ok(out) => Followed::Output(Box::new(out)),
            Err(e) => Followed::Failed(e),
        },
    }
}

pub(crate) async fn run(
    s: &ContreeMcp,
    p: RunParams,
    ctx: RequestContext<RoleServer>,
) -> Result<RunResult, String> {
    let handle = build_run(s, &p)?.start().await.map_err(err)?;
    let id = handle.operation_id().to_string();
    if !p.wait {
        return Ok(RunResult::started(id));
    }
    let mut guard = CancelOnDrop(Some(handle.clone()));
    let out = match follow(&handle, &ctx).await {
        Followed::Output(out) => out,
        Followed::Cancelled => {
            drop(guard); // cancels the operation
            return Err(format!(
                "cancelled by the client; operation {id} was cancelled"
            ));
        }
        Followed::Failed(e) => {
            // Anything but an end on the server is an error, and the run, if still going,
            // is cancelled with the guard.
            let o = ended(s, &id, e).await?;
            guard.0 = None;
            return Ok(RunResult::output(o));
        }
    };
    guard.0 = None;
    let mut o = succeeded(s, &id, OperationKind::Instance).await;
    add_run(&mut o, &out);
    Ok(RunResult::output(o))
}

fn parse_status(s: &str) -> Result<OperationStatus, String> {
    Ok(match s.trim().to_ascii_uppercase().as_str() {
        "PENDING" | "P" => OperationStatus::Pending,
        "ASSIGNED" | "A" => OperationStatus::Assigned,
        "EXECUTING" | "E" => OperationStatus::Executing,
        "SUCCESS" | "S" => OperationStatus::Success,
        "FAILED" | "F" => OperationStatus::Failed,
        "CANCELLED" | "C" => OperationStatus::Cancelled,
        other => {
            return Err(format!(
                "`status` is `{other}`: use PENDING, ASSIGNED, EXECUTING, SUCCESS, FAILED or CANCELLED"
            ));
        }
    })
}

pub(crate) async fn list_operations(
    s: &ContreeMcp,
    p: ListOperationsParams,
) -> Result<OperationList, String> {
    let mut q = s.contree.operations().list().limit(p.limit.clamp(1, 1000));
    if let Some(st) = p.status.as_deref().filter(|v| !v.trim().is_empty()) {
        q = q.status(parse_status(st)?);
    }
    if let Some(k) = p.kind.as_deref().filter(|v| !v.trim().is_empty()) {
        q = q.kind(match k.trim() {
            "instance" => OperationKind::Instance,
            "image_import" => OperationKind::ImageImport,
            other => {
                return Err(format!(
                    "`type` is `{other}`: use `instance` or `image_import`"
                ));
            }
        });
    }
    if let Some(t) = p.since.as_deref() {
        q = q.since(parse_time(t)?);
    }
    let ops = q.await.map_err(err)?;
    Ok(OperationList {
        operations: ops
            .iter()
            .map(|o| OperationSummary {
                uuid: o.id.clone(),
                kind: o.kind.as_ref().map(|k| k.as_str().to_string()),
                status: o.status.as_str().to_string(),
                error: o.error.clone(),
                created_at: o.created_at.clone(),
                duration: o.duration.map(|d| d.as_secs_f64()),
                image_uuid: o.image.clone(),
                result_image_uuid: o.result_image.clone(),
            })
            .collect(),
    })
}

enum Waited {
    Done(String, Box<OperationOutput>),
    Error(String, String),
}

async fn wait_one(s: ContreeMcp, id: String, deadline: Duration) -> Waited {
    match s.contree.operations().wait(&id, deadline).await {
        Ok(_) => match describe(&s, &id).await {
            Ok(o) => Waited::Done(id, Box::new(o)),
            Err(e) => Waited::Error(id, e),
        },
        Err(e) => Waited::Error(id, err(e)),
    }
}

pub(crate) async fn wait_operations(
    s: &ContreeMcp,
    p: WaitOperationsParams,
) -> Result<WaitOutput, String> {
    let any = match p.mode.trim() {
        "all" | "" => false,
        "any" => true,
        other => return Err(format!("`mode` is `{other}`: use `all` or `any`")),
    };
    if !(p.timeout.is_finite() && p.timeout > 0.0) {
        return Err("`timeout` must be a positive number of seconds".into());
    }
    let mut ids: Vec<String> = Vec::new();
    for id in p.operation_ids.iter().map(|i| i.trim().to_string()) {
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.is_empty() {
        return Err("`operation_ids` is empty".into());
    }
    let deadline = Duration::from_secs_f64(p.timeout.min(86_400.0));
    let mut pending: futures_util::stream::FuturesUnordered<_> = ids
        .iter()
        .map(|id| wait_one(s.clone(), id.clone(), deadline + Duration::from_secs(5)))
        .collect();
    let mut out = WaitOutput {
        results: BTreeMap::new(),
        completed: Vec::new(),
        cancelled: Vec::new(),
        timed_out_ids: Vec::new(),
        errors: BTreeMap::new(),
        timed_out: false,
    };
    let timer = tokio::time::sleep(deadline);
    tokio::pin!(timer);
    loop {
        tokio::select! {
            next = pending.next() => match next {
                Some(Waited::Done(id, o)) => {
                    out.completed.push(id.clone());
                    out.results.insert(id, *o);
                    if any { break; }
                }
                Some(Waited::Error(id, e)) => { out.errors.insert(id, e); }
                None => break,
            },
            _ = &mut timer => break,
        }
    }
    drop(pending);
    let unfinished: Vec<String> = ids
        .iter()
        .filter(|id| !out.results.contains_key(*id) && !out.errors.contains_key(*id))
        .cloned()
        .collect();
    if any && !out.completed.is_empty() {
        for id in unfinished {
            match s.contree.operations().cancel(&id).await {
                Ok(()) => out.cancelled.push(id),
                Err(e) => {
                    out.errors.insert(id, err(e));
                }
            }
        }
    } else {
        out.timed_out = !unfinished.is_empty();
        out.timed_out_ids = unfinished;
    }
    Ok(out)
}

pub(crate) async fn cancel_operation(s: &ContreeMcp, id: &str) -> Result<CancelOutput, String> {
    let id = id.trim();
    let ops = s.contree.operations();
    let info = ops.get(id).await.map_err(err)?;
    if info.status.is_terminal() {
        return Ok(CancelOutput {
            cancelled: info.status == OperationStatus::Cancelled,
            operation_id: id.to_string(),
            status: info.status.as_str().to_string(),
        });
    }
    if let Err(e) = ops.cancel(id).await {
        // 409: it finished in between.
        if e.status().map(|s| s.as_u16()) != Some(409) {
            return Err(err(e));
        }
    }
    let status = ops
        .get(id)
        .await
        .map(|i| i.status.as_str().to_string())
        .unwrap_or_else(|_| "UNKNOWN".into());
    Ok(CancelOutput {
        cancelled: true,
        operation_id: id.to_string(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn lines_are_split_across_chunks() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"1\n2"), vec!["1"]);
        assert_eq!(l.push(b"\r\n3\n"), vec!["2", "3"]);
        assert_eq!(l.push(b"tail"), Vec::<String>::new());
        assert_eq!(l.finish().as_deref(), Some("tail"));
        assert_eq!(l.finish(), None);
    }
}
