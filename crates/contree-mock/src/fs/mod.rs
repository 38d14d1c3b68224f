//! An in-memory filesystem: the root filesystem of every mock image and instance.
//!
//! The tree is a flat ordered map from canonical absolute paths to nodes whose file contents are
//! reference-counted [`Bytes`], so cloning a whole image filesystem for a run is cheap.
//!
//! ```
//! use contree_mock::fs::{Fs, FileKind};
//! let mut fs = Fs::new();
//! fs.mkdir_p("/etc").unwrap();
//! fs.write("/etc/hostname", "box\n".into()).unwrap();
//! fs.symlink("/etc/hostname", "/hn").unwrap();
//! assert_eq!(fs.read("/hn").unwrap(), "box\n");
//! assert_eq!(fs.lstat("/hn").unwrap().kind, FileKind::Symlink);
//! assert_eq!(fs.stat("/hn").unwrap().mode, 0o100644);
//! ```

mod read;
#[cfg(test)]
mod tests;
mod write;

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;

/// The type-bits of `st_mode` for a regular file.
pub const S_IFREG: u32 = 0o100000;
/// The type-bits of `st_mode` for a directory.
pub const S_IFDIR: u32 = 0o040000;
/// The type-bits of `st_mode` for a symbolic link.
pub const S_IFLNK: u32 = 0o120000;

/// Symbolic links followed while resolving one path before giving up (like Linux's `ELOOP`).
const MAX_SYMLINK_HOPS: usize = 40;

/// The kind of a filesystem entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
}

/// Metadata of one entry, like `stat(2)`.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The entry kind.
    pub kind: FileKind,
    /// Size in bytes (4096 for directories, the target length for symlinks).
    pub size: i64,
    /// Full `st_mode` including the type bits, e.g. `0o100644`.
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time, Unix seconds.
    pub mtime: i64,
    /// Link count (1 for files and symlinks, 2 + subdirectories for directories).
    pub nlink: u32,
    /// The symlink target (empty unless `kind` is [`FileKind::Symlink`]).
    pub symlink_to: String,
}

/// A filesystem error; the string is the path concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsError {
    /// No such file or directory.
    NotFound(String),
    /// A path component is not a directory.
    NotADirectory(String),
    /// The operation needs a file but the path is a directory.
    IsADirectory(String),
    /// The path already exists.
    Exists(String),
    /// The directory is not empty.
    NotEmpty(String),
    /// Any other invalid request (the string says what is wrong).
    Invalid(String),
}

impl FsError {
    /// The message of the error without the path, like `strerror`, e.g. `No such file or directory`.
    pub fn reason(&self) -> &str {
        match self {
            FsError::NotFound(_) => "No such file or directory",
            FsError::NotADirectory(_) => "Not a directory",
            FsError::IsADirectory(_) => "Is a directory",
            FsError::Exists(_) => "File exists",
            FsError::NotEmpty(_) => "Directory not empty",
            FsError::Invalid(m) => m,
        }
    }
}

impl fmt::Display for FsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsError::NotFound(p)
            | FsError::NotADirectory(p)
            | FsError::IsADirectory(p)
            | FsError::Exists(p)
            | FsError::NotEmpty(p) => write!(f, "{p}: {}", self.reason()),
            FsError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for FsError {}

#[derive(Clone, Debug)]
struct Node {
    kind: FileKind,
    data: Bytes,
    /// Permission bits only (no type bits).
    perm: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    target: String,
}

impl Node {
    fn dir(perm: u32, mtime: i64) -> Node {
        Node {
            kind: FileKind::Dir,
            data: Bytes::new(),
            perm,
            uid: 0,
            gid: 0,
            mtime,
            target: String::new(),
        }
    }
}

/// An in-memory filesystem tree (see the [module docs](self)).
///
/// Paths are absolute; a relative path is taken relative to `/`. `.` and `..` are understood,
/// symbolic links are followed in every component but the last unless the method says it follows.
///
/// ```
/// use contree_mock::fs::Fs;
/// let mut fs = Fs::new();
/// fs.write_with("/app/run.sh", "echo hi\n".into(), 0o755, 1000, 1000).unwrap();
/// let before = fs.content_hash();
/// let copy = fs.clone(); // cheap: file contents are shared
/// assert_eq!(copy.content_hash(), before);
/// let names: Vec<String> = fs.walk("/").unwrap().into_iter().map(|(p, _)| p).collect();
/// assert_eq!(names, ["/", "/app", "/app/run.sh"]);
/// ```
#[derive(Clone, Debug)]
pub struct Fs {
    /// Every entry except the root, keyed by canonical absolute path.
    nodes: BTreeMap<String, Node>,
    root: Node,
    /// Fixed modification time for new writes; `None` means the wall clock.
    clock: Option<i64>,
}

impl Default for Fs {
    fn default() -> Self {
        Fs::new()
    }
}

fn split(path: &str) -> impl DoubleEndedIterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty() && *c != ".")
}

fn join(parts: &[String]) -> String {
    if parts.is_empty() {
        "/".to_owned()
    } else {
        let mut s = String::new();
        for p in parts {
            s.push('/');
            s.push_str(p);
        }
        s
    }
}

/// The parent of a canonical path (`/` for top-level entries and for `/` itself).
fn parent_of(canon: &str) -> &str {
    match canon.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &canon[..i],
    }
}

/// The last component of a canonical path (empty for `/`).
fn name_of(canon: &str) -> &str {
    canon.rsplit('/').next().unwrap_or("")
}

/// The key prefix shared by every descendant of a canonical directory path.
fn child_prefix(canon: &str) -> String {
    if canon == "/" {
        "/".to_owned()
    } else {
        format!("{canon}/")
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Fs {
    /// A filesystem holding only the root directory `/` (mode `0o755`, owned by root).
    pub fn new() -> Fs {
        Fs {
            nodes: BTreeMap::new(),
            root: Node::dir(0o755, 0),
            clock: None,
        }
    }

    /// Fixes the modification time given to entries created or changed from now on
    /// (`None`: the wall clock). Preloaded images use a fixed clock so they are reproducible.
    pub fn set_clock(&mut self, clock: Option<i64>) {
        self.clock = clock;
    }

    fn now(&self) -> i64 {
        self.clock.unwrap_or_else(now_secs)
    }

    fn node(&self, canon: &str) -> Option<&Node> {
        if canon == "/" {
            Some(&self.root)
        } else {
            self.nodes.get(canon)
        }
    }

    fn node_mut(&mut self, canon: &str) -> Option<&mut Node> {
        if canon == "/" {
            Some(&mut self.root)
        } else {
            self.nodes.get_mut(canon)
        }
    }

    /// Resolves `path` to a canonical path; the bool says whether it exists.
    /// Missing intermediate directories are an error, a missing last component is not.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<(String, bool), FsError> {
        let mut pending: Vec<String> = split(path).rev().map(str::to_owned).collect();
        let mut cur: Vec<String> = Vec::new();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            if comp == ".." {
                cur.pop();
                continue;
            }
            let last = pending.is_empty();
            cur.push(comp);
            let cand = join(&cur);
            match self.nodes.get(&cand) {
                None => {
                    if last {
                        return Ok((cand, false));
                    }
                    return Err(FsError::NotFound(path.to_owned()));
                }
                Some(n) if n.kind == FileKind::Symlink && (!last || follow_last) => {
                    hops += 1;
                    if hops > MAX_SYMLINK_HOPS {
                        return Err(FsError::Invalid(format!(
                            "{path}: Too many levels of symbolic links"
                        )));
                    }
                    cur.pop();
                    if n.target.starts_with('/') {
                        cur.clear();
                    }
                    pending.extend(split(&n.target).rev().map(str::to_owned));
                }
                Some(n) if n.kind == FileKind::File && !last => {
                    return Err(FsError::NotADirectory(path.to_owned()));
                }
                Some(_) => {}
            }
        }
        Ok((join(&cur), true))
    }

    fn meta_of(&self, canon: &str, n: &Node) -> Meta {
        let (type_bits, size, nlink) = match n.kind {
            FileKind::File => (S_IFREG, n.data.len() as i64, 1),
            FileKind::Symlink => (S_IFLNK, n.target.len() as i64, 1),
            FileKind::Dir => {
                let prefix = child_prefix(canon);
                let subdirs = self
                    .nodes
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .filter(|(k, v)| v.kind == FileKind::Dir && !k[prefix.len()..].contains('/'))
                    .count();
                (S_IFDIR, 4096, 2 + subdirs as u32)
            }
        };
        Meta {
            kind: n.kind.clone(),
            size,
            mode: type_bits | (n.perm & 0o7777),
            uid: n.uid,
            gid: n.gid,
            mtime: n.mtime,
            nlink,
            symlink_to: n.target.clone(),
        }
    }

    /// Checks that the parent directory of canonical `canon` exists and is a directory.
    fn check_parent(&self, canon: &str, path: &str) -> Result<(), FsError> {
        match self.node(parent_of(canon)) {
            Some(p) if p.kind == FileKind::Dir => Ok(()),
            Some(_) => Err(FsError::NotADirectory(path.to_owned())),
            None => Err(FsError::NotFound(path.to_owned())),
        }
    }

    fn touch_parent(&mut self, canon: &str) {
        let now = self.now();
        if let Some(p) = self.node_mut(parent_of(canon)) {
            p.mtime = now;
        }
    }
}
