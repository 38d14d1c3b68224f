//! Handlers of the 28 operations, one module per concern (inspect lives in `inspect.rs`, the
//! spawn in `spawn.rs`, process running in `instance/`).

mod body;
mod files;
mod images;
mod operations;
mod subprocesses;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::respond::Resp;
use crate::router::Route;
use crate::server::Ctx;
use crate::state::State;
use crate::util::{Query, parse_time_filter};

pub(crate) use body::json_body;
pub(crate) use operations::new_op;

pub(crate) type R = Result<Resp, Resp>;

/// Runs the handler of a routed, authenticated request.
pub(crate) async fn dispatch(ctx: &Ctx, route: Route) -> Resp {
    let r = match route {
        Route::ListImages => images::list_images(ctx),
        Route::DeleteImageTag(id) => images::delete_tag(ctx, &id),
        Route::UpdateImageTag(id) => images::update_tag(ctx, &id),
        Route::ImportImage => images::import_image(ctx),
        Route::UploadFile => files::upload_file(ctx),
        Route::ListFiles => files::list_files(ctx),
        Route::CheckFileExists(sha) => files::check_file(ctx, &sha),
        Route::GetFile(sha) => files::get_file(ctx, &sha),
        Route::SpawnInstance => crate::spawn::spawn_instance(ctx),
        Route::ListOperations => operations::list_operations(ctx),
        Route::GetOperation(id) => operations::get_operation(ctx, &id),
        Route::CancelOperation(id) => operations::cancel_operation(ctx, &id),
        Route::Events(id) => operations::events(ctx, &id),
        Route::SubprocessCreate(id) => subprocesses::create(ctx, &id),
        Route::Subprocess(id, spid) => subprocesses::get(ctx, &id, &spid),
        Route::SubprocessKill(id, spid) => subprocesses::kill(ctx, &id, &spid),
        Route::SubprocessStdin(id, spid) => subprocesses::stdin(ctx, &id, &spid).await,
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
        Route::WhoAmI => operations::whoami(ctx),
    };
    r.unwrap_or_else(|e| e)
}

pub(crate) fn bad(msg: impl Into<String>) -> Resp {
    Resp::error(400, msg)
}

pub(crate) fn parse_uuid(s: &str, what: &str, status: u16) -> Result<Uuid, Resp> {
    Uuid::parse_str(s).map_err(|_| Resp::error(status, format!("{what} {s:?} is not a valid UUID")))
}

pub(crate) fn parse_int(
    q: &Query,
    name: &str,
    default: i64,
    min: i64,
    max: i64,
) -> Result<i64, Resp> {
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

pub(crate) fn page(q: &Query) -> Result<(usize, usize), Resp> {
    let limit = parse_int(q, "limit", 100, 1, 1000)?;
    // The spec gives `offset` no maximum: any offset past the end is an empty page.
    let offset = match q.get("offset") {
        None => 0,
        Some(v) => usize::try_from(uint_param(v, "offset")?).unwrap_or(usize::MAX),
    };
    Ok((limit as usize, offset))
}

pub(crate) fn time_window(
    q: &Query,
) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), Resp> {
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

pub(crate) fn in_window(
    t: OffsetDateTime,
    w: &(Option<OffsetDateTime>, Option<OffsetDateTime>),
) -> bool {
    w.0.is_none_or(|s| t >= s) && w.1.is_none_or(|u| t <= u)
}

/// Finds an operation, mapping failures to 400/404.
pub(crate) fn with_op<T>(
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

/// A non-negative integer parameter; a value beyond `u64` saturates (it matches nothing, which
/// is what such a number means: the spec allows 400 only for a value that does not parse).
pub(crate) fn uint_param(v: &str, name: &str) -> Result<u64, Resp> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(v.parse::<u64>().unwrap_or(u64::MAX));
    }
    Err(bad(format!(
        "{name} must be a non-negative integer, got {v:?}"
    )))
}
