//! Changing the tree: writes, directories, removal, links, renames, modes and owners.

use bytes::Bytes;

use super::{FileKind, Fs, FsError, Node, child_prefix, join, parent_of, split};

impl Fs {
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
}
