//! Uploading a run's files before it is spawned.

use std::collections::{BTreeMap, HashMap};

use futures_util::StreamExt as _;

use super::{FileSource, FileSpec};
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::files::{UploadSource, UploadedFile};
use contree_proto::types;

/// Uploads every distinct content once (bounded concurrency) and builds the spawn map.
pub(crate) async fn prepare_files(
    client: &Contree,
    files: &[FileSpec],
) -> Result<BTreeMap<String, types::InstanceFile>> {
    let mut seen = std::collections::HashSet::new();
    for f in files {
        if !f.dest.starts_with('/') {
            return Err(Error::invalid(format!(
                "file destination `{}` must be an absolute path",
                f.dest
            )));
        }
        if !seen.insert(f.dest.clone()) {
            return Err(Error::invalid(format!(
                "file destination `{}` is given twice",
                f.dest
            )));
        }
        if f.mode > 0o7777 {
            return Err(Error::invalid(format!(
                "file mode {:o} for `{}` has bits beyond 07777",
                f.mode, f.dest
            )));
        }
    }
    // Hash first (cheap, local), so equal contents upload once.
    let mut by_key: HashMap<String, UploadedFile> = HashMap::new();
    let mut keyed: Vec<(usize, String)> = Vec::new();
    let mut jobs: Vec<(String, UploadSource)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match &f.source {
            FileSource::Uploaded(u) => {
                by_key.insert(format!("u:{i}"), u.clone());
                keyed.push((i, format!("u:{i}")));
            }
            FileSource::Bytes(b) => {
                let sha = crate::files::sha256_hex(b);
                if !jobs.iter().any(|(k, _)| *k == sha) {
                    jobs.push((sha.clone(), UploadSource::Bytes(b.clone())));
                }
                keyed.push((i, sha));
            }
            FileSource::Path(p) => {
                let sha = crate::files::sha256_file(p).await?;
                if !jobs.iter().any(|(k, _)| *k == sha) {
                    jobs.push((sha.clone(), UploadSource::Path(p.clone())));
                }
                keyed.push((i, sha));
            }
        }
    }
    let limit = client.inner.config.upload_concurrency;
    let results: Vec<Result<(String, UploadedFile)>> = futures_util::stream::iter(jobs)
        .map(|(sha, src)| {
            let files = client.files();
            async move {
                let up = files.upload(src).known_sha256(sha.clone()).await?;
                Ok((sha, up))
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    for r in results {
        let (k, v) = r?;
        by_key.insert(k, v);
    }
    let mut out = BTreeMap::new();
    for (i, key) in keyed {
        let f = &files[i];
        let up = by_key
            .get(&key)
            .ok_or_else(|| Error::invalid("internal: an upload result is missing"))?;
        out.insert(
            f.dest.clone(),
            types::InstanceFile {
                uuid: Some(up.uuid().parse().map_err(|_| {
                    Error::decode(
                        "uploading a run's files",
                        format!("the upload answered `{}`, not a file UUID", up.uuid()),
                    )
                })?),
                mode: Some(contree_proto::mode::format_mode(f.mode)),
                uid: Some(i64::from(f.uid)),
                gid: Some(i64::from(f.gid)),
            },
        );
    }
    Ok(out)
}
