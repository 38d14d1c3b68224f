//! Uploading a file: [`Upload`] and its [`UploadSource`].

use std::fmt;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};

use super::{Files, UploadedFile};
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::util::BoxFuture;

/// What to upload.
pub enum UploadSource {
    /// A local file (hashed and uploaded in a stream).
    Path(PathBuf),
    /// In-memory bytes.
    Bytes(Bytes),
    /// Any reader; it is spooled to a temporary file while being hashed.
    Reader(Box<dyn AsyncRead + Send + Unpin>),
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadSource::Path(p) => write!(f, "Path({})", p.display()),
            UploadSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            UploadSource::Reader(_) => f.write_str("Reader"),
        }
    }
}

impl From<PathBuf> for UploadSource {
    fn from(p: PathBuf) -> Self {
        UploadSource::Path(p)
    }
}
impl From<&Path> for UploadSource {
    fn from(p: &Path) -> Self {
        UploadSource::Path(p.to_path_buf())
    }
}
/// A local file by reference, so `&path_buf` works where a path is taken.
///
/// ```
/// let path = std::path::PathBuf::from("data.csv");
/// let source = contree::UploadSource::from(&path);
/// assert!(matches!(source, contree::UploadSource::Path(p) if p == path));
/// ```
impl From<&PathBuf> for UploadSource {
    fn from(p: &PathBuf) -> Self {
        UploadSource::Path(p.clone())
    }
}
impl From<Bytes> for UploadSource {
    fn from(b: Bytes) -> Self {
        UploadSource::Bytes(b)
    }
}
impl From<Vec<u8>> for UploadSource {
    fn from(b: Vec<u8>) -> Self {
        UploadSource::Bytes(Bytes::from(b))
    }
}
impl From<&'static [u8]> for UploadSource {
    fn from(b: &'static [u8]) -> Self {
        UploadSource::Bytes(Bytes::from_static(b))
    }
}

impl UploadSource {
    /// Wraps any reader.
    pub fn reader(r: impl AsyncRead + Send + Unpin + 'static) -> Self {
        UploadSource::Reader(Box::new(r))
    }
}

/// Progress callback: `(bytes_sent, total_bytes)`.
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

/// An upload in preparation: await it for the [`UploadedFile`].
#[must_use = "an Upload does nothing until awaited"]
pub struct Upload {
    pub(crate) client: Contree,
    pub(crate) source: UploadSource,
    pub(crate) progress: Option<ProgressFn>,
    pub(crate) known_sha256: Option<String>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upload")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Upload {
    /// Calls `f(sent, total)` as bytes are sent (not called when the content was
    /// already on the server).
    pub fn progress(mut self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    pub(crate) fn known_sha256(mut self, sha: String) -> Self {
        self.known_sha256 = Some(sha);
        self
    }

    async fn execute(self) -> Result<UploadedFile> {
        let files = Files::new(self.client.clone());
        match self.source {
            UploadSource::Bytes(b) => {
                let sha = match self.known_sha256 {
                    Some(s) => s,
                    None => sha256_hex(&b),
                };
                if let Some(found) = files.get(&sha).await? {
                    return Ok(found);
                }
                let len = b.len() as u64;
                let body = contree_transport::Body::from(b);
                let out = files.post(body, &sha).await?;
                if let Some(p) = &self.progress {
                    p(len, Some(len));
                }
                Ok(out)
            }
            UploadSource::Path(path) => {
                let sha = match self.known_sha256 {
                    Some(s) => s,
                    None => sha256_file(&path).await?,
                };
                if let Some(found) = files.get(&sha).await? {
                    return Ok(found);
                }
                upload_path(&files, &path, &sha, self.progress).await
            }
            UploadSource::Reader(mut r) => {
                // Spool to a temporary file while hashing, then upload from it.
                let tmp = tempfile::NamedTempFile::new().map_err(|e| {
                    Error::io("creating a temporary file in", std::env::temp_dir(), e)
                })?;
                let path = tmp.path().to_path_buf();
                let mut out = tokio::fs::File::from_std(
                    tmp.reopen()
                        .map_err(|e| Error::io("opening", path.clone(), e))?,
                );
                let mut hasher = Sha256::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = r
                        .read(&mut buf)
                        .await
                        .map_err(|e| Error::io("reading the upload source for", path.clone(), e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buf[..n]);
                    out.write_all(&buf[..n])
                        .await
                        .map_err(|e| Error::io("writing", path.clone(), e))?;
                }
                out.flush()
                    .await
                    .map_err(|e| Error::io("writing", path.clone(), e))?;
                drop(out);
                let sha = hex::encode(hasher.finalize());
                if let Some(found) = files.get(&sha).await? {
                    return Ok(found);
                }
                let res = upload_path(&files, &path, &sha, self.progress).await;
                drop(tmp);
                res
            }
        }
    }
}

impl IntoFuture for Upload {
    type Output = Result<UploadedFile>;
    type IntoFuture = BoxFuture<Result<UploadedFile>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

async fn upload_path(
    files: &Files,
    path: &Path,
    sha: &str,
    progress: Option<ProgressFn>,
) -> Result<UploadedFile> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io("opening", path, e))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| Error::io("reading metadata of", path, e))?
        .len();
    let reader = Counting {
        inner: file,
        sent: 0,
        total: Some(len),
        progress,
    };
    let body = contree_transport::Body::from_reader(reader, Some(len));
    files.post(body, sha).await
}

/// An `AsyncRead` that reports progress.
struct Counting<R> {
    inner: R,
    sent: u64,
    total: Option<u64>,
    progress: Option<ProgressFn>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let n = (buf.filled().len() - before) as u64;
            if n > 0 {
                self.sent += n;
                if let Some(p) = &self.progress {
                    p(self.sent, self.total);
                }
            }
        }
        r
    }
}

/// Hex sha256 of bytes.
pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// Hex sha256 of a local file, streamed in 1 MiB chunks.
pub(crate) async fn sha256_file(path: &Path) -> Result<String> {
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| Error::io("opening", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| Error::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

pub(crate) fn check_sha(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{sha256}` is not a hex sha256 (64 hex digits)"
        )))
    }
}
