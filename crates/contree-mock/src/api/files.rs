//! Files: upload (deduplicated by sha256), listing, HEAD/GET by digest.

use contree_proto::types::{FileResponse, FilesListResponse};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{R, in_window, page, time_window};
use crate::respond::Resp;
use crate::server::Ctx;
use crate::state::FileRec;

pub(super) fn upload_file(ctx: &Ctx) -> R {
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

pub(super) fn list_files(ctx: &Ctx) -> R {
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

pub(super) fn check_file(ctx: &Ctx, sha: &str) -> R {
    ctx.shared.require("list")?;
    let sha = sha_param(sha)?;
    let found = ctx.shared.state().files.contains_key(&sha);
    Ok(Resp::empty(if found { 200 } else { 404 }))
}

pub(super) fn get_file(ctx: &Ctx, sha: &str) -> R {
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
