//! Uploaded files: content-addressed by sha256, uploaded only when missing.

use std::fmt;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _, ReadBuf};

use crate::client::{Contree, Query, request, seg};
use crate::error::{Error, Result};
use crate::images::{BoxFuture, BoxStream, TimeFilter, rfc3339};
use crate::wire;
use contree_proto::types;

/// The file manager: `contree.files()`.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// let up = contree.files().upload(std::path::PathBuf::from("model.bin")).await?;
/// assert!(contree.files().exists(up.sha256()).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Files {
    client: Contree,
}

/// A file stored on the server, usable in runs ([`Run::file`](crate::Run::file)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadedFile {
    uuid: String,
    sha256: String,
    size: Option<i64>,
}

impl UploadedFile {
    /// A reference to a file uploaded earlier (its file UUID and sha256).
    pub fn new(uuid: impl Into<String>, sha256: impl Into<String>) -> Self {
        Self {
            uuid: uuid.into(),
            sha256: sha256.into(),
            size: None,
        }
    }
    /// The file's UUID (what runs reference).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }
    /// The hex sha256 of the content.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// The size in bytes, when the server reported it (`-1` means unknown).
    pub fn size(&self) -> Option<i64> {
        self.size
    }

    fn from_wire(w: types::FileResponse) -> Self {
        UploadedFile {
            uuid: w.uuid.to_string(),
            sha256: w.sha256,
            size: Some(w.size),
        }
    }
}

/// A file record from [`Files::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// The file.
    pub file: UploadedFile,
    /// First upload by this namespace (ISO 8601), if reported.
    pub created_at: Option<String>,
    /// Last re-upload (ISO 8601), if reported.
    pub updated_at: Option<String>,
}

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
    client: Contree,
    source: UploadSource,
    progress: Option<ProgressFn>,
    known_sha256: Option<String>,
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

fn check_sha(sha256: &str) -> Result<()> {
    if sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "`{sha256}` is not a hex sha256 (64 hex digits)"
        )))
    }
}

impl Files {
    pub(crate) fn new(client: Contree) -> Self {
        Self { client }
    }

    /// Uploads a local path, bytes, or a reader ([`UploadSource::reader`]). The content is
    /// hashed first (streamed) and uploaded only if the server does not have it yet.
    pub fn upload(&self, source: impl Into<UploadSource>) -> Upload {
        Upload {
            client: self.client.clone(),
            source: source.into(),
            progress: None,
            known_sha256: None,
        }
    }

    /// Whether content with this sha256 was uploaded by your namespace (`HEAD`).
    pub async fn exists(&self, sha256: &str) -> Result<bool> {
        check_sha(sha256)?;
        let sha = sha256.to_ascii_lowercase();
        let req = request(
            http::Method::HEAD,
            format!("/files/{}", seg(&sha)),
            &Query::new(),
        );
        match self
            .client
            .send(
                &contree_proto::ops::CHECK_FILE_EXISTS,
                req,
                &format!("checking file {sha}"),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The uploaded file with this sha256, or `None` (`GET /files/{sha256}`).
    pub async fn get(&self, sha256: &str) -> Result<Option<UploadedFile>> {
        check_sha(sha256)?;
        let sha = sha256.to_ascii_lowercase();
        let req = request(
            http::Method::GET,
            format!("/files/{}", seg(&sha)),
            &Query::new(),
        );
        let action = format!("looking up file {sha}");
        match self
            .client
            .send(&contree_proto::ops::GET_FILE, req, &action)
            .await
        {
            Ok(resp) => {
                let w: types::FileResponse = wire::decode(&action, resp.body())?;
                Ok(Some(UploadedFile::from_wire(w)))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn post(&self, body: contree_transport::Body, sha: &str) -> Result<UploadedFile> {
        let req = http::Request::builder()
            .method(http::Method::POST)
            .uri("/files")
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .map_err(|e| Error::invalid(format!("could not build the upload request: {e}")))?;
        let action = format!("uploading file {sha}");
        let resp = self
            .client
            .send_body(&contree_proto::ops::UPLOAD_FILE, req, &action)
            .await?;
        let w: types::FileResponse = wire::decode(&action, resp.body())?;
        let up = UploadedFile::from_wire(w);
        if up.sha256 != sha {
            tracing::warn!(local = %sha, server = %up.sha256, "uploaded file hash differs from the local hash");
        }
        Ok(up)
    }

    /// Lists uploaded files as a stream over all pages (newest filters optional).
    pub fn list(&self) -> ListFiles {
        ListFiles {
            client: self.client.clone(),
            page_size: 100,
            since: None,
            until: None,
        }
    }
}

/// Lists uploaded files; call [`stream`](ListFiles::stream).
#[derive(Debug, Clone)]
#[must_use = "a ListFiles does nothing until streamed"]
pub struct ListFiles {
    client: Contree,
    page_size: u32,
    since: Option<TimeFilter>,
    until: Option<TimeFilter>,
}

impl ListFiles {
    /// Page size (1..=1000, default 100).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, 1000);
        self
    }
    /// Only files uploaded after this instant or within this age.
    pub fn since(mut self, t: impl Into<TimeFilter>) -> Self {
        self.since = Some(t.into());
        self
    }
    /// Only files uploaded before this instant or more than this age ago.
    pub fn until(mut self, t: impl Into<TimeFilter>) -> Self {
        self.until = Some(t.into());
        self
    }

    /// Every matching file, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<FileInfo> {
        use futures_util::StreamExt as _;
        let now = SystemTime::now();
        let resolve = |t: &TimeFilter| match t {
            TimeFilter::At(t) => *t,
            TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
        };
        let since = self.since.as_ref().map(|t| rfc3339(resolve(t)));
        let until = self.until.as_ref().map(|t| rfc3339(resolve(t)));
        let page = self.page_size;
        let client = self.client.clone();
        futures_util::stream::unfold(Some(0u64), move |next| {
            let client = client.clone();
            let since = since.clone();
            let until = until.clone();
            async move {
                let offset = next?;
                let mut q = Query::new();
                q.push("limit", page)
                    .push("offset", offset)
                    .opt("since", since)
                    .opt("until", until);
                let req = request(http::Method::GET, "/files".into(), &q);
                let r = async {
                    let resp = client
                        .send(&contree_proto::ops::LIST_FILES, req, "listing files")
                        .await?;
                    let l: types::FilesListResponse = wire::decode("listing files", resp.body())?;
                    Ok::<_, Error>(l.files.unwrap_or_default())
                }
                .await;
                match r {
                    Ok(items) => {
                        let n = items.len() as u64;
                        let next = (n >= u64::from(page)).then_some(offset + n);
                        let infos: Vec<Result<FileInfo>> = items
                            .into_iter()
                            .map(|w| {
                                Ok(FileInfo {
                                    file: UploadedFile {
                                        uuid: w.uuid.to_string(),
                                        sha256: w.sha256,
                                        size: Some(w.size),
                                    },
                                    created_at: Some(w.created_at),
                                    updated_at: Some(w.updated_at),
                                })
                            })
                            .collect();
                        Some((futures_util::stream::iter(infos), next))
                    }
                    Err(e) => Some((futures_util::stream::iter(vec![Err(e)]), None)),
                }
            }
        })
        .flatten()
        .boxed()
    }
}
