//! Reading an image's files without starting a VM: list, stat, read, download, archive, grep.

mod archive;
mod entry;
mod extract;
mod grep;

pub use archive::Archive;
pub use entry::{DirEntry, EntryKind};
pub use grep::{Grep, GrepCase, GrepMatch, GrepResult, Submatch};

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::AsyncWriteExt as _;

use crate::api;
use crate::error::{Error, Inner, Result};
use crate::image::Image;
use crate::util::BoxStream;

/// How much of a download is gathered before it is written to the file.
const DOWNLOAD_WRITE_BUFFER: usize = 1024 * 1024;

pub(crate) fn join(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

fn check_path(path: &str) -> Result<()> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "image path `{path}` must be absolute (start with `/`)"
        )))
    }
}

impl Image {
    /// Checks `path` and resolves the image's UUID.
    async fn path_uuid(&self, path: &str) -> Result<String> {
        check_path(path)?;
        self.resolve_uuid().await
    }

    /// Lists a directory.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the path does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn ls(&self, path: &str) -> Result<Vec<DirEntry>> {
        let uuid = self.path_uuid(path).await?;
        let action = format!("listing {path} in image {uuid}");
        let l = api::list_dir(&self.client, &uuid, path, &action).await?;
        Ok(l.files
            .into_iter()
            .map(|w| DirEntry::from_wire(path, w))
            .collect())
    }

    /// The metadata of one path (its entry in the parent directory's listing).
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the path does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn stat(&self, path: &str) -> Result<DirEntry> {
        check_path(path)?;
        let trimmed = path.trim_end_matches('/');
        if trimmed.is_empty() {
            return Ok(DirEntry {
                name: "/".into(),
                path: "/".into(),
                kind: EntryKind::Dir,
                size: 0,
                mode: 0o755,
                uid: 0,
                gid: 0,
                owner: "0".into(),
                group: "0".into(),
                mtime: None,
                nlink: 1,
                symlink_target: None,
            });
        }
        let (parent, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let parent = if parent.is_empty() { "/" } else { parent };
        self.ls(parent)
            .await?
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| Error::not_found(format!("`{path}` in image {self}")))
    }

    /// Whether a file or directory exists at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` when a tag does not resolve; a missing path is `Ok(false)` (and so is an
    /// image UUID the server does not know: both are a 404 there); the [errors of every
    /// call](crate#errors).
    pub async fn exists(&self, path: &str) -> Result<bool> {
        let uuid = self.path_uuid(path).await?;
        let action = format!("checking {path} in image {uuid}");
        match api::check_archive(&self.client, &uuid, path, &action).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            // 422: exists but is neither a regular file nor a directory.
            Err(e) if e.status() == Some(http::StatusCode::UNPROCESSABLE_ENTITY) => Ok(true),
            Err(e) => Err(e),
        }
    }

    async fn download_stream(&self, path: &str) -> Result<BoxStream<Bytes>> {
        let uuid = self.path_uuid(path).await?;
        let action = format!("downloading {path} from image {uuid}");
        let resp = api::download(&self.client, &uuid, path, &action).await?;
        Ok(resp
            .into_body()
            .map_err(move |e| Error::transport(action.clone(), e))
            .boxed())
    }

    /// A regular file's content, streamed as it arrives.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the file does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn read_stream(&self, path: &str) -> Result<BoxStream<Bytes>> {
        self.download_stream(path).await
    }

    /// A regular file's content.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the file does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn read(&self, path: &str) -> Result<Bytes> {
        let mut s = self.download_stream(path).await?;
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = s.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// A regular file's content as UTF-8 text (an error of kind
    /// [`Utf8`](crate::ErrorKind::Utf8) if it is not).
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the file does not exist; `Utf8` when the file is not UTF-8;
    /// the [errors of every call](crate#errors).
    pub async fn read_to_string(&self, path: &str) -> Result<String> {
        let b = self.read(path).await?;
        String::from_utf8(b.to_vec()).map_err(|e| {
            Error::new(Inner::Utf8 {
                stream: "the file",
                source: e.utf8_error(),
            })
        })
    }

    /// Downloads a regular file to `local`, streaming it into a temporary file beside the
    /// target and renaming it into place (no partial files on failure). If `local` is an
    /// existing directory (or ends with `/`), the file keeps its name inside it; missing
    /// parent directories are created. Returns the written path.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the file does not exist; `Io` when the local file cannot be
    /// written; the [errors of every call](crate#errors).
    pub async fn download(&self, path: &str, local: impl AsRef<Path>) -> Result<PathBuf> {
        let local = local.as_ref();
        let name = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Error::invalid(format!("`{path}` does not name a file")))?;
        let is_dir_hint = local.as_os_str().to_string_lossy().ends_with(['/', '\\']);
        let target = if is_dir_hint
            || tokio::fs::metadata(local)
                .await
                .map(|m| m.is_dir())
                .unwrap_or(false)
        {
            local.join(name)
        } else {
            local.to_path_buf()
        };
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| Error::io("creating directory", parent.clone(), e))?;
        let mut stream = self.download_stream(path).await?;
        let tmp = tempfile::NamedTempFile::new_in(&parent)
            .map_err(|e| Error::io("creating a temporary file in", parent.clone(), e))?;
        let std_file = tmp
            .reopen()
            .map_err(|e| Error::io("opening", tmp.path().to_path_buf(), e))?;
        // Writes go to the blocking pool in large pieces (one hop per MiB, not per chunk).
        let mut file = tokio::io::BufWriter::with_capacity(
            DOWNLOAD_WRITE_BUFFER,
            tokio::fs::File::from_std(std_file),
        );
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        }
        file.flush()
            .await
            .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
        file.get_ref()
            .sync_all()
            .await
            .map_err(|e| Error::io("syncing", tmp.path().to_path_buf(), e))?;
        drop(file);
        tmp.persist(&target)
            .map_err(|e| Error::io("moving the download into place at", target.clone(), e.error))?;
        Ok(target)
    }

    /// A tar archive of a file or directory (a directory becomes the archive root).
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or the path does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn archive(&self, path: &str) -> Result<Archive> {
        let uuid = self.path_uuid(path).await?;
        let action = format!("archiving {path} from image {uuid}");
        let resp = api::archive(&self.client, &uuid, path, &action).await?;
        Ok(Archive {
            stream: resp
                .into_body()
                .map_err(move |e| Error::transport(action.clone(), e))
                .boxed(),
        })
    }

    /// Searches file contents (ripgrep on the server). Add options, then await.
    pub fn grep(&self, pattern: impl Into<String>) -> Grep {
        Grep {
            image: self.clone(),
            patterns: vec![pattern.into()],
            paths: Vec::new(),
            globs: Vec::new(),
            max_count: None,
            max_total: None,
            case: None,
            before: None,
            after: None,
        }
    }
}
