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

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use sha2::{Digest, Sha256};

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

    /// Whether `path` exists (following symlinks).
    pub fn exists(&self, path: &str) -> bool {
        matches!(self.resolve(path, true), Ok((_, true)))
    }

    /// The canonical absolute path of `path` with every symlink resolved (like `realpath -m`
    /// for the last component: it need not exist, but its parent must).
    pub fn canonicalize(&self, path: &str) -> Result<String, FsError> {
        self.resolve(path, true).map(|(c, _)| c)
    }

    /// Reads a whole file, following symlinks.
    pub fn read(&self, path: &str) -> Result<Bytes, FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        match self.node(&canon) {
            Some(n) if exists => match n.kind {
                FileKind::File => Ok(n.data.clone()),
                _ => Err(FsError::IsADirectory(path.to_owned())),
            },
            _ => Err(FsError::NotFound(path.to_owned())),
        }
    }

    /// Creates or truncates a file (mode `0o644`, root-owned when created); the parent must exist.
    pub fn write(&mut self, path: &str, data: Bytes) -> Result<(), FsError> {
        self.put(path, data, false).map(|_| ())
    }

    /// Appends to a file, creating it (mode `0o644`) when missing; the parent must exist.
    pub fn append(&mut self, path: &str, data: &[u8]) -> Result<(), FsError> {
        self.put(path, Bytes::copy_from_slice(data), true)
            .map(|_| ())
    }

    /// Writes or appends; returns the canonical path and whether the file was created.
    fn put(&mut self, path: &str, data: Bytes, append: bool) -> Result<(String, bool), FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        let now = self.now();
        if exists {
            let n = self
                .node_mut(&canon)
                .ok_or_else(|| FsError::NotFound(path.to_owned()))?;
            if n.kind != FileKind::File {
                return Err(FsError::IsADirectory(path.to_owned()));
            }
            if append {
                // Amortised O(1) appends when the content is not shared (e.g. `seq 1 1000000 > f`).
                let current = std::mem::take(&mut n.data);
                let mut buf = match current.try_into_mut() {
                    Ok(b) => b,
                    Err(shared) => bytes::BytesMut::from(&shared[..]),
                };
                buf.extend_from_slice(&data);
                n.data = buf.freeze();
            } else {
                n.data = data;
            }
            n.mtime = now;
            return Ok((canon, false));
        }
        if canon == "/" {
            return Err(FsError::IsADirectory(path.to_owned()));
        }
        self.check_parent(&canon, path)?;
        self.nodes.insert(
            canon.clone(),
            Node {
                kind: FileKind::File,
                data,
                perm: 0o644,
                uid: 0,
                gid: 0,
                mtime: now,
                target: String::new(),
            },
        );
        self.touch_parent(&canon);
        Ok((canon, true))
    }

    /// Writes a file with the given permission bits and owner, creating missing parent
    /// directories (like the placement of files on spawn).
    pub fn write_with(
        &mut self,
        path: &str,
        data: Bytes,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<(), FsError> {
        let canon = self.resolve(path, true).map(|(c, _)| c);
        let canon = match canon {
            Ok(c) => c,
            Err(FsError::NotFound(_)) => {
                // Create the missing parents, then resolve again.
                let parent = parent_of(&join(&split(path).map(str::to_owned).collect::<Vec<_>>()))
                    .to_owned();
                self.mkdir_p(&parent)?;
                self.resolve(path, true)?.0
            }
            Err(e) => return Err(e),
        };
        if canon == "/" {
            return Err(FsError::IsADirectory(path.to_owned()));
        }
        self.mkdir_p(parent_of(&canon))?;
        self.put(&canon, data, false)?;
        if let Some(n) = self.node_mut(&canon) {
            n.perm = mode & 0o7777;
            n.uid = uid;
            n.gid = gid;
        }
        Ok(())
    }

    /// Creates one directory (mode `0o755`); the parent must exist and the path must not.
    pub fn mkdir(&mut self, path: &str) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        if exists {
            return Err(FsError::Exists(path.to_owned()));
        }
        self.check_parent(&canon, path)?;
        let now = self.now();
        self.nodes.insert(canon.clone(), Node::dir(0o755, now));
        self.touch_parent(&canon);
        Ok(())
    }

    /// Creates a directory and any missing parents; existing directories are fine.
    pub fn mkdir_p(&mut self, path: &str) -> Result<(), FsError> {
        let comps: Vec<String> = split(path).map(str::to_owned).collect();
        let mut prefix = String::new();
        for c in comps {
            prefix.push('/');
            prefix.push_str(&c);
            let (canon, exists) = self.resolve(&prefix, true)?;
            if exists {
                match self.node(&canon) {
                    Some(n) if n.kind == FileKind::Dir => {}
                    _ => return Err(FsError::Exists(prefix)),
                }
            } else {
                self.check_parent(&canon, &prefix)?;
                let now = self.now();
                self.nodes.insert(canon.clone(), Node::dir(0o755, now));
                self.touch_parent(&canon);
            }
        }
        Ok(())
    }

    /// Removes an entry (a symlink itself, not its target). A non-empty directory needs
    /// `recursive`; the root cannot be removed.
    pub fn remove(&mut self, path: &str, recursive: bool) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(path, false)?;
        if !exists {
            return Err(FsError::NotFound(path.to_owned()));
        }
        if canon == "/" {
            return Err(FsError::Invalid(
                "refusing to remove '/': the root directory cannot be removed".to_owned(),
            ));
        }
        let prefix = child_prefix(&canon);
        let children: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        if !children.is_empty() && !recursive {
            return Err(FsError::NotEmpty(path.to_owned()));
        }
        for k in children {
            self.nodes.remove(&k);
        }
        self.nodes.remove(&canon);
        self.touch_parent(&canon);
        Ok(())
    }

    /// Creates a symbolic link at `link` pointing to `target` (which need not exist).
    pub fn symlink(&mut self, target: &str, link: &str) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(link, false)?;
        if exists {
            return Err(FsError::Exists(link.to_owned()));
        }
        self.check_parent(&canon, link)?;
        let now = self.now();
        self.nodes.insert(
            canon.clone(),
            Node {
                kind: FileKind::Symlink,
                data: Bytes::new(),
                perm: 0o777,
                uid: 0,
                gid: 0,
                mtime: now,
                target: target.to_owned(),
            },
        );
        self.touch_parent(&canon);
        Ok(())
    }

    /// Moves an entry (with its subtree) to a new path, replacing a file or empty directory there.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        let (src, exists) = self.resolve(from, false)?;
        if !exists {
            return Err(FsError::NotFound(from.to_owned()));
        }
        if src == "/" {
            return Err(FsError::Invalid(
                "cannot move the root directory".to_owned(),
            ));
        }
        let (dst, dst_exists) = self.resolve(to, false)?;
        if dst == src {
            return Ok(());
        }
        if dst.starts_with(&child_prefix(&src)) {
            return Err(FsError::Invalid(format!(
                "cannot move '{from}' to a subdirectory of itself, '{to}'"
            )));
        }
        self.check_parent(&dst, to)?;
        if dst_exists {
            let src_dir = self.node(&src).map(|n| n.kind == FileKind::Dir) == Some(true);
            let dst_dir = self.node(&dst).map(|n| n.kind == FileKind::Dir) == Some(true);
            if dst_dir && !src_dir {
                return Err(FsError::IsADirectory(to.to_owned()));
            }
            if src_dir && !dst_dir {
                return Err(FsError::NotADirectory(to.to_owned()));
            }
            self.remove(&dst, false)?;
        }
        let prefix = child_prefix(&src);
        let moved: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(n) = self.nodes.remove(&src) {
            self.nodes.insert(dst.clone(), n);
        }
        for k in moved {
            if let Some(n) = self.nodes.remove(&k) {
                self.nodes.insert(format!("{dst}{}", &k[src.len()..]), n);
            }
        }
        self.touch_parent(&src);
        self.touch_parent(&dst);
        Ok(())
    }

    /// Sets the permission bits (type bits in `mode` are ignored), following symlinks.
    pub fn chmod(&mut self, path: &str, mode: u32) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        match self.node_mut(&canon) {
            Some(n) if exists => {
                n.perm = mode & 0o7777;
                Ok(())
            }
            _ => Err(FsError::NotFound(path.to_owned())),
        }
    }

    /// Sets the owner, following symlinks.
    pub fn chown(&mut self, path: &str, uid: u32, gid: u32) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        match self.node_mut(&canon) {
            Some(n) if exists => {
                n.uid = uid;
                n.gid = gid;
                Ok(())
            }
            _ => Err(FsError::NotFound(path.to_owned())),
        }
    }

    /// Sets the modification time, following symlinks (creates nothing).
    pub fn set_mtime(&mut self, path: &str, mtime: i64) -> Result<(), FsError> {
        let (canon, exists) = self.resolve(path, true)?;
        match self.node_mut(&canon) {
            Some(n) if exists => {
                n.mtime = mtime;
                Ok(())
            }
            _ => Err(FsError::NotFound(path.to_owned())),
        }
    }

    /// Metadata of `path`, following symlinks.
    pub fn stat(&self, path: &str) -> Result<Meta, FsError> {
        self.meta(path, true)
    }

    /// Metadata of `path` itself (a symlink is not followed).
    pub fn lstat(&self, path: &str) -> Result<Meta, FsError> {
        self.meta(path, false)
    }

    fn meta(&self, path: &str, follow: bool) -> Result<Meta, FsError> {
        let (canon, exists) = self.resolve(path, follow)?;
        match self.node(&canon) {
            Some(n) if exists => Ok(self.meta_of(&canon, n)),
            _ => Err(FsError::NotFound(path.to_owned())),
        }
    }

    /// The entries of a directory (following symlinks to it), sorted by name, with `lstat` metadata.
    pub fn list(&self, dir: &str) -> Result<Vec<(String, Meta)>, FsError> {
        let (canon, exists) = self.resolve(dir, true)?;
        let node = match self.node(&canon) {
            Some(n) if exists => n,
            _ => return Err(FsError::NotFound(dir.to_owned())),
        };
        if node.kind != FileKind::Dir {
            return Err(FsError::NotADirectory(dir.to_owned()));
        }
        Ok(self.children(&canon))
    }

    fn children(&self, canon: &str) -> Vec<(String, Meta)> {
        let prefix = child_prefix(canon);
        let mut out: Vec<(String, Meta)> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| !k[prefix.len()..].contains('/'))
            .map(|(k, n)| (name_of(k).to_owned(), self.meta_of(k, n)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every entry under `root` (following a symlink at `root` itself but no others), depth-first
    /// with siblings sorted by name, starting with `root`; paths are canonical and absolute.
    pub fn walk(&self, root: &str) -> Result<Vec<(String, Meta)>, FsError> {
        let (canon, exists) = self.resolve(root, true)?;
        let node = match self.node(&canon) {
            Some(n) if exists => n,
            _ => return Err(FsError::NotFound(root.to_owned())),
        };
        let mut out = vec![(canon.clone(), self.meta_of(&canon, node))];
        if node.kind == FileKind::Dir {
            self.walk_into(&canon, &mut out);
        }
        Ok(out)
    }

    fn walk_into(&self, canon: &str, out: &mut Vec<(String, Meta)>) {
        for (name, meta) in self.children(canon) {
            let path = if canon == "/" {
                format!("/{name}")
            } else {
                format!("{canon}/{name}")
            };
            let is_dir = meta.kind == FileKind::Dir;
            out.push((path.clone(), meta));
            if is_dir {
                self.walk_into(&path, out);
            }
        }
    }

    /// Number of entries, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Always false: a filesystem has at least its root.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// SHA-256 over every entry's path, kind, mode, owner, content and symlink target (not
    /// mtimes): equal trees give equal hashes, whatever the order they were built in.
    pub fn content_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut feed = |path: &str, n: &Node| {
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update([match n.kind {
                FileKind::File => b'f',
                FileKind::Dir => b'd',
                FileKind::Symlink => b'l',
            }]);
            h.update(n.perm.to_le_bytes());
            h.update(n.uid.to_le_bytes());
            h.update(n.gid.to_le_bytes());
            h.update((n.data.len() as u64).to_le_bytes());
            h.update(&n.data);
            h.update((n.target.len() as u64).to_le_bytes());
            h.update(n.target.as_bytes());
        };
        feed("/", &self.root);
        for (k, n) in &self.nodes {
            feed(k, n);
        }
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Fs {
        let mut fs = Fs::new();
        fs.set_clock(Some(100));
        fs.mkdir_p("/a/b/c").unwrap();
        fs.write("/a/b/file", Bytes::from_static(b"hello")).unwrap();
        fs.write("/a-b", Bytes::from_static(b"x")).unwrap();
        fs.symlink("b", "/a/lnk").unwrap();
        fs
    }

    #[test]
    fn new_has_root_only() {
        let fs = Fs::new();
        let m = fs.stat("/").unwrap();
        assert_eq!(m.kind, FileKind::Dir);
        assert_eq!(m.mode, 0o040755);
        assert_eq!(fs.list("/").unwrap().len(), 0);
        assert_eq!(Fs::default().content_hash(), fs.content_hash());
    }

    #[test]
    fn write_read_append() {
        let mut fs = sample();
        assert_eq!(fs.read("/a/b/file").unwrap(), "hello");
        fs.append("/a/b/file", b" world").unwrap();
        assert_eq!(fs.read("/a/b/file").unwrap(), "hello world");
        fs.append("/a/new", b"n").unwrap();
        assert_eq!(fs.read("/a/new").unwrap(), "n");
        fs.write("/a/b/file", Bytes::from_static(b"z")).unwrap();
        assert_eq!(fs.stat("/a/b/file").unwrap().size, 1);
        assert_eq!(fs.stat("/a/b/file").unwrap().mode, 0o100644);
    }

    #[test]
    fn append_to_a_clone_leaves_the_original_alone() {
        let mut a = sample();
        let b = a.clone();
        for _ in 0..3 {
            a.append("/a/b/file", b"!").unwrap();
        }
        assert_eq!(a.read("/a/b/file").unwrap(), "hello!!!");
        assert_eq!(b.read("/a/b/file").unwrap(), "hello");
        let mut c = a.clone();
        c.append("/a/b/file", b"?").unwrap();
        assert_eq!(a.read("/a/b/file").unwrap(), "hello!!!");
        assert_eq!(c.read("/a/b/file").unwrap(), "hello!!!?");
    }

    #[test]
    fn errors() {
        let mut fs = sample();
        assert_eq!(fs.read("/nope"), Err(FsError::NotFound("/nope".to_owned())));
        assert_eq!(
            fs.write("/x/y", Bytes::new()),
            Err(FsError::NotFound("/x/y".to_owned()))
        );
        assert!(matches!(fs.read("/a"), Err(FsError::IsADirectory(_))));
        assert!(matches!(
            fs.write("/a", Bytes::new()),
            Err(FsError::IsADirectory(_))
        ));
        assert!(matches!(
            fs.read("/a/b/file/x"),
            Err(FsError::NotADirectory(_))
        ));
        assert!(matches!(fs.mkdir("/a"), Err(FsError::Exists(_))));
        assert!(matches!(fs.mkdir_p("/a/b/file/q"), Err(FsError::Exists(_))));
        assert!(matches!(fs.remove("/a", false), Err(FsError::NotEmpty(_))));
        assert!(matches!(fs.remove("/", true), Err(FsError::Invalid(_))));
        assert!(matches!(fs.symlink("x", "/a-b"), Err(FsError::Exists(_))));
        assert_eq!(
            FsError::NotFound("/q".into()).to_string(),
            "/q: No such file or directory"
        );
    }

    #[test]
    fn symlinks_and_dotdot() {
        let mut fs = sample();
        assert_eq!(fs.read("/a/lnk/file").unwrap(), "hello");
        assert_eq!(fs.read("/a/lnk/../b/./file").unwrap(), "hello");
        assert_eq!(fs.read("/../../a/b/file").unwrap(), "hello");
        assert_eq!(fs.lstat("/a/lnk").unwrap().kind, FileKind::Symlink);
        assert_eq!(fs.lstat("/a/lnk").unwrap().mode, 0o120777);
        assert_eq!(fs.stat("/a/lnk").unwrap().kind, FileKind::Dir);
        fs.symlink("/loop2", "/loop1").unwrap();
        fs.symlink("/loop1", "/loop2").unwrap();
        assert!(matches!(fs.read("/loop1"), Err(FsError::Invalid(_))));
        // writing through a symlink writes the target
        fs.symlink("/a/b/file", "/f").unwrap();
        fs.write("/f", Bytes::from_static(b"via")).unwrap();
        assert_eq!(fs.read("/a/b/file").unwrap(), "via");
        // removing a symlink keeps the target
        fs.remove("/a/lnk", false).unwrap();
        assert!(fs.exists("/a/b/file"));
        assert_eq!(fs.canonicalize("/f").unwrap(), "/a/b/file");
    }

    #[test]
    fn list_and_walk_are_sorted_depth_first() {
        let fs = sample();
        let names: Vec<String> = fs.list("/a").unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["b", "lnk"]);
        let paths: Vec<String> = fs.walk("/").unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(
            paths,
            ["/", "/a", "/a/b", "/a/b/c", "/a/b/file", "/a/lnk", "/a-b"]
        );
        assert_eq!(fs.stat("/a/b").unwrap().nlink, 3);
        assert!(matches!(fs.list("/a-b"), Err(FsError::NotADirectory(_))));
    }

    #[test]
    fn write_with_creates_parents() {
        let mut fs = Fs::new();
        fs.write_with(
            "/opt/app/run.sh",
            Bytes::from_static(b"#!/bin/sh"),
            0o755,
            1000,
            1000,
        )
        .unwrap();
        let m = fs.stat("/opt/app/run.sh").unwrap();
        assert_eq!((m.mode, m.uid, m.gid), (0o100755, 1000, 1000));
        assert_eq!(fs.stat("/opt/app").unwrap().kind, FileKind::Dir);
    }

    #[test]
    fn remove_and_rename() {
        let mut fs = sample();
        fs.rename("/a/b", "/z").unwrap();
        assert_eq!(fs.read("/z/file").unwrap(), "hello");
        assert!(fs.exists("/z/c"));
        assert!(!fs.exists("/a/b"));
        assert!(matches!(
            fs.rename("/z", "/z/c/q"),
            Err(FsError::Invalid(_))
        ));
        fs.remove("/z", true).unwrap();
        assert!(!fs.exists("/z/c"));
        assert!(fs.exists("/a-b"));
    }

    #[test]
    fn content_hash_ignores_mtime_and_order() {
        let mut x = Fs::new();
        x.mkdir_p("/d").unwrap();
        x.write("/d/1", Bytes::from_static(b"1")).unwrap();
        x.write("/d/2", Bytes::from_static(b"2")).unwrap();
        let mut y = Fs::new();
        y.set_clock(Some(5));
        y.mkdir("/d").unwrap();
        y.write("/d/2", Bytes::from_static(b"2")).unwrap();
        y.write("/d/1", Bytes::from_static(b"1")).unwrap();
        assert_eq!(x.content_hash(), y.content_hash());
        y.chmod("/d/1", 0o600).unwrap();
        assert_ne!(x.content_hash(), y.content_hash());
        y.chmod("/d/1", 0o644).unwrap();
        assert_eq!(x.content_hash(), y.content_hash());
        y.chown("/d/1", 1, 1).unwrap();
        assert_ne!(x.content_hash(), y.content_hash());
        let clone = x.clone();
        x.write("/d/1", Bytes::from_static(b"changed")).unwrap();
        assert_ne!(x.content_hash(), clone.content_hash());
    }
}
