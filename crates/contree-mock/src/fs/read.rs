//! Reading the tree: lookups, metadata, listings, walks and the content hash.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{FileKind, Fs, FsError, Meta, Node, child_prefix, name_of};

impl Fs {
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
