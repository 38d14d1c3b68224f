//! Inspecting an image's files without starting a VM.

use std::fmt;
use std::future::IntoFuture;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use tokio::io::AsyncWriteExt as _;

use crate::client::{Query, request, seg};
use crate::error::{Error, Inner, Result};
use crate::images::{BoxFuture, BoxStream, Image};

/// How much of a download is gathered before it is written to the file.
const DOWNLOAD_WRITE_BUFFER: usize = 1024 * 1024;
use crate::wire;
use contree_proto::types;

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (see [`DirEntry::symlink_target`]).
    Symlink,
    /// A socket, FIFO or device.
    Other,
}

/// One entry of a directory listing ([`Image::ls`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirEntry {
    /// The entry's name within its directory.
    pub name: String,
    /// The full path in the image.
    pub path: String,
    /// File, directory, symlink or other.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (`0o755`), without the file-type bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Owner name (or the uid as text).
    pub owner: String,
    /// Group name (or the gid as text).
    pub group: String,
    /// Last modification time.
    pub mtime: Option<SystemTime>,
    /// Number of hard links.
    pub nlink: u64,
    /// Where a symlink points.
    pub symlink_target: Option<String>,
}

impl DirEntry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }
    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind == EntryKind::Symlink
    }

    fn from_wire(dir: &str, w: types::FileItem) -> Self {
        let name = w.path;
        let kind = if w.is_symlink {
            EntryKind::Symlink
        } else if w.is_dir {
            EntryKind::Dir
        } else if w.is_regular && !w.is_socket && !w.is_fifo {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let uid = u32::try_from(w.uid).unwrap_or(0);
        let gid = u32::try_from(w.gid).unwrap_or(0);
        DirEntry {
            path: join(dir, &name),
            name,
            kind,
            size: u64::try_from(w.size).unwrap_or(0),
            mode: u32::try_from(w.mode).map(|m| m & 0o7777).unwrap_or(0),
            uid,
            gid,
            owner: name_or_id(w.owner),
            group: name_or_id(w.group),
            mtime: u64::try_from(w.mtime)
                .ok()
                .map(|t| std::time::UNIX_EPOCH + Duration::from_secs(t)),
            nlink: u64::try_from(w.nlink).unwrap_or(1),
            symlink_target: Some(w.symlink_to).filter(|s| !s.is_empty()),
        }
    }
}

/// `FileItem.owner` / `group` as text (a name, or the numeric id).
fn name_or_id(v: types::NameOrId) -> String {
    match v {
        types::NameOrId::String(s) => s,
        types::NameOrId::Integer(i) => i.to_string(),
        types::NameOrId::Other(v) => v.to_string(),
        other => format!("{other:?}"),
    }
}

fn join(dir: &str, name: &str) -> String {
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
    /// Checks `path`, resolves the image, and builds `METHOD /inspect/{uuid}/{endpoint}?path=…`.
    async fn path_request(
        &self,
        method: http::Method,
        endpoint: &str,
        path: &str,
    ) -> Result<(String, http::Request<Bytes>)> {
        check_path(path)?;
        let uuid = self.resolve_uuid().await?;
        let mut q = Query::new();
        q.push("path", path);
        let req = request(method, format!("/inspect/{}/{endpoint}", seg(&uuid)), &q);
        Ok((uuid, req))
    }
    /// Lists a directory.
    pub async fn ls(&self, path: &str) -> Result<Vec<DirEntry>> {
        let (uuid, req) = self.path_request(http::Method::GET, "list", path).await?;
        let action = format!("listing {path} in image {uuid}");
        let resp = self
            .client
            .send(&contree_proto::ops::INSPECT_IMAGE_FILE, req, &action)
            .await?;
        let l: types::DirectoryList = wire::decode(&action, resp.body())?;
        Ok(l.files
            .into_iter()
            .map(|w| DirEntry::from_wire(path, w))
            .collect())
    }

    /// The metadata of one path (its entry in the parent directory's listing).
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
    pub async fn exists(&self, path: &str) -> Result<bool> {
        let (uuid, req) = self
            .path_request(http::Method::HEAD, "archive", path)
            .await?;
        match self
            .client
            .send(
                &contree_proto::ops::CHECK_IMAGE_ARCHIVE,
                req,
                &format!("checking {path} in image {uuid}"),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            // 422: exists but is neither a regular file nor a directory.
            Err(e) if e.status() == Some(http::StatusCode::UNPROCESSABLE_ENTITY) => Ok(true),
            Err(e) => Err(e),
        }
    }

    async fn download_stream(&self, path: &str) -> Result<BoxStream<Bytes>> {
        let (uuid, req) = self
            .path_request(http::Method::GET, "download", path)
            .await?;
        let action = format!("downloading {path} from image {uuid}");
        let resp = self
            .client
            .send_streaming(&contree_proto::ops::INSPECT_IMAGE_DOWNLOAD, req, &action)
            .await?;
        Ok(resp
            .into_body()
            .map_err(move |e| Error::transport(action.clone(), e))
            .boxed())
    }

    /// A regular file's content, streamed as it arrives.
    pub async fn read_stream(&self, path: &str) -> Result<BoxStream<Bytes>> {
        self.download_stream(path).await
    }

    /// A regular file's content.
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
    pub async fn archive(&self, path: &str) -> Result<Archive> {
        let (uuid, req) = self
            .path_request(http::Method::GET, "archive", path)
            .await?;
        let action = format!("archiving {path} from image {uuid}");
        let resp = self
            .client
            .send_streaming(&contree_proto::ops::INSPECT_IMAGE_ARCHIVE, req, &action)
            .await?;
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

/// A tar byte stream from [`Image::archive`].
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// img.archive("/etc").await?.extract_to("./etc-copy").await?;
/// # Ok(()) }
/// ```
pub struct Archive {
    stream: BoxStream<Bytes>,
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Archive")
    }
}

impl Archive {
    /// The raw tar bytes as a stream.
    pub fn into_stream(self) -> BoxStream<Bytes> {
        self.stream
    }

    /// The raw tar bytes as an `AsyncRead`.
    pub fn into_async_read(self) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
        tokio_util::io::StreamReader::new(self.stream.map_err(std::io::Error::other))
    }

    /// Collects the whole archive in memory.
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Unpacks into `dir` (created if missing). Refuses, with an error of kind
    /// [`UnsafeArchive`](crate::ErrorKind::UnsafeArchive), any entry whose path is absolute
    /// or climbs out with `..`, and links that point outside `dir`. Returns the number of
    /// entries written.
    pub async fn extract_to(self, dir: impl AsRef<Path>) -> Result<usize> {
        let dir = dir.as_ref().to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("creating directory", dir.clone(), e))?;
        let reader = self.into_async_read();
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        tokio::task::spawn_blocking(move || extract_sync(bridge, &dir))
            .await
            .map_err(|e| Error::invalid(format!("the extraction task failed: {e}")))?
    }
}

fn is_safe_relative(p: &Path) -> bool {
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn extract_sync(reader: impl std::io::Read, dir: &Path) -> Result<usize> {
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let entries = ar
        .entries()
        .map_err(|e| Error::io("reading the archive for", dir, e))?;
    let mut n = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("reading the archive for", dir, e))?;
        let path = entry
            .path()
            .map_err(|e| Error::io("reading an archive entry for", dir, e))?
            .into_owned();
        let unsafe_entry = || {
            Error::new(Inner::UnsafeArchive {
                entry: path.display().to_string(),
            })
        };
        if path.components().any(|c| matches!(c, Component::ParentDir))
            || path.is_absolute()
            || !is_safe_relative(&path)
        {
            return Err(unsafe_entry());
        }
        let kind = entry.header().entry_type();
        if kind.is_hard_link() || kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|e| Error::io("reading an archive link for", dir, e))?
                .map(|t| t.into_owned());
            if let Some(t) = target {
                let base = if kind.is_hard_link() {
                    t.clone()
                } else {
                    path.parent().unwrap_or(Path::new("")).join(&t)
                };
                if t.is_absolute() || !is_safe_relative(&base) {
                    return Err(unsafe_entry());
                }
            }
        }
        let written = entry
            .unpack_in(dir)
            .map_err(|e| Error::io("extracting into", dir, e))?;
        if !written {
            return Err(unsafe_entry());
        }
        n += 1;
    }
    Ok(n)
}

/// Case sensitivity of a [`Grep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrepCase {
    /// Exact case (the default).
    Sensitive,
    /// Ignore case.
    Insensitive,
    /// Ignore case unless the pattern has an upper-case letter.
    Smart,
}

/// A content search in an image ([`Image::grep`]); await it for a [`GrepResult`].
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let hits = img.grep("^root:").path("/etc").glob("passwd*").max_total(10).await?;
/// for m in hits.matches() {
///     println!("{}:{}: {}", m.path, m.line_number, m.line.trim_end());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Grep does nothing until awaited"]
pub struct Grep {
    image: Image,
    patterns: Vec<String>,
    paths: Vec<String>,
    globs: Vec<String>,
    max_count: Option<u32>,
    max_total: Option<u32>,
    case: Option<GrepCase>,
    before: Option<u32>,
    after: Option<u32>,
}

impl Grep {
    /// Another pattern (patterns are OR-ed; at most 16).
    pub fn pattern(mut self, p: impl Into<String>) -> Self {
        self.patterns.push(p.into());
        self
    }
    /// A file or directory to search (repeatable; default `/`).
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.paths.push(p.into());
        self
    }
    /// A ripgrep glob filter (`*.rs`, `!*.min.js`; repeatable).
    pub fn glob(mut self, g: impl Into<String>) -> Self {
        self.globs.push(g.into());
        self
    }
    /// At most this many matches per file.
    pub fn max_count(mut self, n: u32) -> Self {
        self.max_count = Some(n);
        self
    }
    /// At most this many matches in total (server default 1000).
    pub fn max_total(mut self, n: u32) -> Self {
        self.max_total = Some(n);
        self
    }
    /// Case sensitivity.
    pub fn case(mut self, c: GrepCase) -> Self {
        self.case = Some(c);
        self
    }
    /// Lines of context before and after each match.
    pub fn context(mut self, before: u32, after: u32) -> Self {
        self.before = Some(before);
        self.after = Some(after);
        self
    }

    async fn execute(self) -> Result<GrepResult> {
        let uuid = self.image.resolve_uuid().await?;
        let mut q = Query::new();
        for p in &self.patterns {
            q.push("pattern", p);
        }
        for p in &self.paths {
            q.push("path", p);
        }
        for g in &self.globs {
            q.push("glob", g);
        }
        q.opt("max_count", self.max_count)
            .opt("max_total", self.max_total)
            .opt(
                "case",
                self.case.map(|c| match c {
                    GrepCase::Sensitive => "sensitive",
                    GrepCase::Insensitive => "insensitive",
                    GrepCase::Smart => "smart",
                }),
            )
            .opt("before", self.before)
            .opt("after", self.after);
        let req = request(
            http::Method::GET,
            format!("/inspect/{}/grep", seg(&uuid)),
            &q,
        );
        let action = format!("searching image {uuid}");
        let resp = self
            .image
            .client
            .send(&contree_proto::ops::INSPECT_IMAGE_GREP, req, &action)
            .await?;
        let w: types::GrepResult = wire::decode(&action, resp.body())?;
        Ok(GrepResult {
            matches: w
                .matches
                .into_iter()
                .map(|m| GrepMatch {
                    path: m.path,
                    line_number: u64::try_from(m.line_number).unwrap_or(0),
                    byte_offset: u64::try_from(m.absolute_offset).unwrap_or(0),
                    line: m.line_text,
                    line_len: u64::try_from(m.line_bytes).unwrap_or(0),
                    is_context: m.kind == types::GrepMatchType::Context,
                    submatches: m
                        .submatches
                        .into_iter()
                        .map(|s| Submatch {
                            text: s.text,
                            start: usize::try_from(s.start).unwrap_or(0),
                            end: usize::try_from(s.end).unwrap_or(0),
                        })
                        .collect(),
                })
                .collect(),
            truncated: w.truncated,
        })
    }
}

impl IntoFuture for Grep {
    type Output = Result<GrepResult>;
    type IntoFuture = BoxFuture<Result<GrepResult>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

/// The answer of a [`Grep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrepResult {
    matches: Vec<GrepMatch>,
    truncated: bool,
}

impl GrepResult {
    /// Matching lines (and context lines, see [`GrepMatch::is_context`]), in file order.
    pub fn matches(&self) -> &[GrepMatch] {
        &self.matches
    }
    /// Whether the search stopped early (`max_total` or the server's deadline).
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// One line of a [`GrepResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrepMatch {
    /// Absolute path of the file.
    pub path: String,
    /// 1-based line number.
    pub line_number: u64,
    /// Byte offset of the line in the file.
    pub byte_offset: u64,
    /// The line, with its terminator (cut at 4096 bytes).
    pub line: String,
    /// The line's real length in bytes.
    pub line_len: u64,
    /// Whether this is a context line rather than a match.
    pub is_context: bool,
    /// The matching parts of the line.
    pub submatches: Vec<Submatch>,
}

/// A matching span within a [`GrepMatch`] line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Submatch {
    /// The matched text.
    pub text: String,
    /// Start byte offset within the line.
    pub start: usize,
    /// End byte offset within the line.
    pub end: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_item_owner_int_or_string() {
        let item = |path: &str, owner: &str, group: &str| {
            format!(
                r#"{{"path":"{path}","owner":{owner},"group":{group},"mode":33188,"size":1,
                "uid":0,"gid":0,"mtime":0,"nlink":1,"is_dir":false,"is_regular":true,
                "is_symlink":false,"is_socket":false,"is_fifo":false,"symlink_to":""}}"#
            )
        };
        let body = format!(
            r#"{{"path":"/","files":[{},{}]}}"#,
            item("a", "0", r#""root""#),
            item("b", r#""bob""#, "1000")
        );
        let l: types::DirectoryList = wire::decode("test", body.as_bytes()).unwrap();
        let files: Vec<DirEntry> = l
            .files
            .into_iter()
            .map(|w| DirEntry::from_wire("/", w))
            .collect();
        assert_eq!(files[0].owner, "0");
        assert_eq!(files[0].group, "root");
        assert_eq!(files[1].owner, "bob");
        assert_eq!(files[1].group, "1000");
        assert_eq!(files[0].mode, 0o644);
    }

    fn tar_with(path: &str, link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        let data = b"x";
        if let Some(target) = link {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            // set_path refuses `..`; write the raw name to build hostile archives.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_link_name(target).unwrap();
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        } else {
            h.set_size(1);
            h.set_mode(0o644);
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn extract_refuses_traversal() {
        let dir = tempfile::tempdir().unwrap();
        for (p, link) in [
            ("../evil", None),
            ("a/../../evil", None),
            ("ln", Some("../../etc")),
        ] {
            let tar = tar_with(p, link);
            let e = extract_sync(&tar[..], dir.path()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::UnsafeArchive, "{p}");
        }
        assert!(!dir.path().parent().unwrap().join("evil").exists());
        let ok = tar_with("good.txt", None);
        assert_eq!(extract_sync(&ok[..], dir.path()).unwrap(), 1);
        assert_eq!(std::fs::read(dir.path().join("good.txt")).unwrap(), b"x");
    }

    #[test]
    fn safe_relative() {
        assert!(is_safe_relative(Path::new("a/b/../c")));
        assert!(!is_safe_relative(Path::new("a/../../c")));
        assert!(!is_safe_relative(Path::new("/etc")));
    }
}
