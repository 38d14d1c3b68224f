//! `ADD <url>`: downloads kept per URL with their validators, revalidated on each build.
//!
//! For each URL (named by the sha256 of its text) the cache directory holds
//! `<hash>.json` (`{url, etag, last_modified, sha256}`) and `<hash>.data` (the content).
//! A build sends the stored `ETag`/`Last-Modified` as `If-None-Match`/`If-Modified-Since`;
//! a `304` reuses `<hash>.data` (if its sha256 still matches), a `200` replaces both.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::CopyOptions;
use super::cache::write_atomic;
use super::stage::{Pending, target_for};
use crate::error::{Error, Result};

/// The largest download accepted (1 GiB).
const MAX_BYTES: u64 = 1 << 30;

#[derive(Serialize, Deserialize)]
struct Entry {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
    sha256: String,
}

/// `build-cache/urls` under the configuration directory (`config_dir`, the client's
/// [`Contree::config_dir`](crate::Contree)), else a temporary directory kept in `scratch`
/// until the build ends (no revalidation then).
pub(crate) fn default_dir(
    config_dir: Option<PathBuf>,
    scratch: &mut Vec<tempfile::TempDir>,
) -> Result<PathBuf> {
    if let Some(dir) = config_dir {
        return Ok(dir.join("build-cache").join("urls"));
    }
    let tmp = tempfile::tempdir()
        .map_err(|e| Error::io("creating a temporary directory in", std::env::temp_dir(), e))?;
    let dir = tmp.path().to_path_buf();
    scratch.push(tmp);
    Ok(dir)
}

/// The staged file of `ADD url dest` (downloaded or revalidated into `dir`); errors name
/// the URL and the Dockerfile line.
pub(crate) async fn pending(
    dir: &Path,
    url: &str,
    dest: &str,
    workdir: &str,
    opts: CopyOptions,
    line: Option<usize>,
) -> Result<Pending> {
    let (path, sha) = fetch(dir, url).await.map_err(|e| {
        let at = line.map_or(String::new(), |n| format!("Dockerfile line {n}: "));
        Error::invalid(format!(
            "{at}ADD {}: {e}",
            contree_transport::redact_url(url)
        ))
    })?;
    let (uid, gid) = opts.owner.unwrap_or((0, 0));
    Ok(Pending {
        dest: target_for(dest, false, &file_name(url), workdir),
        path,
        uploaded: None,
        sha,
        // Docker's mode for a file added from a URL.
        mode: opts.mode.unwrap_or(0o600),
        uid,
        gid,
    })
}

/// The last path segment of `url` (`index.html` when there is none).
pub(crate) fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let after_host = path.split_once("://").map_or(path, |(_, r)| r);
    match after_host.split_once('/') {
        Some((_, p)) => match p.rsplit('/').next() {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => "index.html".into(),
        },
        None => "index.html".into(),
    }
}

/// Downloads or revalidates `url` into `dir`; returns the content's path and sha256.
async fn fetch(dir: &Path, url: &str) -> Result<(PathBuf, String)> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| Error::io("creating the URL cache directory", dir, e))?;
    let name = hex::encode(Sha256::digest(url.as_bytes()));
    let (meta, data) = (
        dir.join(format!("{name}.json")),
        dir.join(format!("{name}.data")),
    );
    let stored: Option<Entry> = tokio::fs::read(&meta)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    // Revalidate only when the stored content is intact.
    let stored = match stored {
        Some(e) if e.url == url && sha_of(&data).await.ok().as_deref() == Some(&e.sha256) => {
            Some(e)
        }
        _ => None,
    };
    let known = contree_transport::Validators {
        etag: stored.as_ref().and_then(|e| e.etag.clone()),
        last_modified: stored.as_ref().and_then(|e| e.last_modified.clone()),
    };
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    let got = contree_transport::fetch_to_file(url, &known, tmp.path(), MAX_BYTES)
        .await
        .map_err(|e| Error::transport("downloading", e))?;
    match (got, stored) {
        (contree_transport::Fetched::NotModified, Some(e)) => Ok((data, e.sha256)),
        (contree_transport::Fetched::NotModified, None) => Err(Error::invalid(
            "the server answered 304 Not Modified to an unconditional request",
        )),
        (contree_transport::Fetched::Downloaded { validators, .. }, _) => {
            let sha = sha_of(tmp.path()).await?;
            tmp.persist(&data)
                .map_err(|e| Error::io("replacing", data.clone(), e.error))?;
            let entry = Entry {
                url: url.to_string(),
                etag: validators.etag,
                last_modified: validators.last_modified,
                sha256: sha.clone(),
            };
            let body = serde_json::to_vec(&entry).unwrap_or_default();
            let d = dir.to_path_buf();
            tokio::task::spawn_blocking(move || write_atomic(&d, &meta, &body))
                .await
                .map_err(|e| Error::invalid(format!("the cache writer task failed: {e}")))??;
            Ok((data, sha))
        }
        _ => Err(Error::invalid("unexpected download outcome")),
    }
}

async fn sha_of(path: &Path) -> Result<String> {
    let p = path.to_path_buf();
    tokio::task::spawn_blocking(move || super::stage::sha256_file_blocking(&p))
        .await
        .map_err(|e| Error::invalid(format!("the hashing task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_come_from_the_last_segment() {
        assert_eq!(
            super::file_name("https://h.example/a/b.tar.gz?x=1"),
            "b.tar.gz"
        );
        assert_eq!(super::file_name("https://h.example/"), "index.html");
        assert_eq!(super::file_name("https://h.example"), "index.html");
    }
}
