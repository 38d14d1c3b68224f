//! What a run asks for: its target, stdin and files.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncRead;

use crate::files::UploadedFile;
use crate::image::Image;
use crate::session::Session;

/// Where a run starts.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Image(Image),
    Session(Session),
}

/// A shared, take-once async reader (readers cannot be cloned or replayed).
type SharedReader = Arc<tokio::sync::Mutex<Option<Box<dyn AsyncRead + Send + Unpin>>>>;

/// What a run reads on stdin.
#[derive(Clone)]
pub(crate) enum Stdin {
    Bytes(Bytes),
    File(PathBuf),
    Reader(SharedReader),
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stdin::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Stdin::File(p) => write!(f, "File({})", p.display()),
            Stdin::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// Where the content of a placed file comes from.
#[derive(Clone, Debug)]
pub enum FileSource {
    /// A local file, uploaded (once per content) before the run.
    Path(PathBuf),
    /// In-memory bytes, uploaded (once per content) before the run.
    Bytes(Bytes),
    /// A file already uploaded with [`Files::upload`](crate::Files::upload).
    Uploaded(UploadedFile),
}

impl From<PathBuf> for FileSource {
    fn from(p: PathBuf) -> Self {
        FileSource::Path(p)
    }
}
impl From<&std::path::Path> for FileSource {
    fn from(p: &std::path::Path) -> Self {
        FileSource::Path(p.to_path_buf())
    }
}
/// A local file by reference, so `&path_buf` works where a path is taken.
///
/// ```
/// let path = std::path::PathBuf::from("data.csv");
/// let source = contree::FileSource::from(&path);
/// assert!(matches!(source, contree::FileSource::Path(p) if p == path));
/// ```
impl From<&PathBuf> for FileSource {
    fn from(p: &PathBuf) -> Self {
        FileSource::Path(p.clone())
    }
}
impl From<Bytes> for FileSource {
    fn from(b: Bytes) -> Self {
        FileSource::Bytes(b)
    }
}
impl From<Vec<u8>> for FileSource {
    fn from(b: Vec<u8>) -> Self {
        FileSource::Bytes(Bytes::from(b))
    }
}
impl From<&'static [u8]> for FileSource {
    fn from(b: &'static [u8]) -> Self {
        FileSource::Bytes(Bytes::from_static(b))
    }
}
impl From<UploadedFile> for FileSource {
    fn from(f: UploadedFile) -> Self {
        FileSource::Uploaded(f)
    }
}

/// A file to place in the VM before the command runs.
///
/// ```
/// use contree::FileSpec;
/// let spec = FileSpec::new("/usr/local/bin/tool", std::path::PathBuf::from("target/tool"))
///     .mode(0o755)
///     .owner(1000, 1000);
/// assert_eq!(spec.dest(), "/usr/local/bin/tool");
/// ```
#[derive(Clone, Debug)]
pub struct FileSpec {
    pub(crate) dest: String,
    pub(crate) source: FileSource,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl FileSpec {
    /// A file at absolute path `dest` with mode `0644`, owned by root.
    pub fn new(dest: impl Into<String>, source: impl Into<FileSource>) -> Self {
        Self {
            dest: dest.into(),
            source: source.into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }
    /// Permission bits, e.g. `0o755`.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
    /// Owner uid and gid.
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    /// The destination path.
    pub fn dest(&self) -> &str {
        &self.dest
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct RunSpec {
    pub(crate) command: String,
    pub(crate) shell: bool,
    pub(crate) args: Vec<String>,
    pub(crate) env: Option<BTreeMap<String, String>>,
    pub(crate) cwd: Option<String>,
    pub(crate) uid: Option<u32>,
    pub(crate) gid: Option<u32>,
    pub(crate) hostname: Option<String>,
    pub(crate) stdin: Option<Stdin>,
    pub(crate) files: Vec<FileSpec>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) disposable: bool,
    pub(crate) truncate_output_at: Option<u64>,
    pub(crate) networking: Option<bool>,
    pub(crate) max_layer_bytes: Option<u64>,
    pub(crate) preserve_env: bool,
    pub(crate) preserve_cwd: bool,
    pub(crate) tag: Option<String>,
}
