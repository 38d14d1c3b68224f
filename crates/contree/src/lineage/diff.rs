//! What changed between two image versions, from inspect listings (no VM).

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;

use crate::error::Result;
use crate::image::Image;
use crate::inspect::{DirEntry, EntryKind};
use crate::util::BoxFuture;

/// How many directory listings a comparison requests at once.
const LIST_CONCURRENCY: usize = 8;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// Only in the newer version.
    Added,
    /// Only in the older version.
    Removed,
    /// In both, with a different type, size, mode, owner, modification time or link
    /// target (directories: type, mode or owner).
    Modified,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileChange {
    /// The path in the image.
    pub path: String,
    /// Added, removed or modified.
    pub kind: ChangeKind,
    /// The entry in the older version.
    pub before: Option<DirEntry>,
    /// The entry in the newer version.
    pub after: Option<DirEntry>,
}

/// A comparison of two versions ([`Image::changed_files`]); await it for the changes,
/// sorted by path.
#[must_use = "a ChangedFiles does nothing until awaited"]
pub struct ChangedFiles {
    from: Image,
    to: Image,
    under: String,
}

impl fmt::Debug for ChangedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChangedFiles")
            .field("from", &self.from)
            .field("to", &self.to)
            .field("under", &self.under)
            .finish()
    }
}

impl ChangedFiles {
    pub(crate) fn new(from: Image, to: Image) -> Self {
        Self {
            from,
            to,
            under: "/".into(),
        }
    }

    /// Compares only the tree under this absolute path (default `/`; the whole tree
    /// takes one listing per directory of both versions).
    pub fn under(mut self, path: impl Into<String>) -> Self {
        self.under = path.into();
        self
    }

    async fn execute(self) -> Result<Vec<FileChange>> {
        let from = self.from.resolve().await?;
        let to = self.to.resolve().await?;
        let (a, b) =
            futures_util::future::try_join(tree(&from, &self.under), tree(&to, &self.under))
                .await?;
        Ok(compare(a, b))
    }
}

impl IntoFuture for ChangedFiles {
    type Output = Result<Vec<FileChange>>;
    type IntoFuture = BoxFuture<Result<Vec<FileChange>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

/// Every entry under `root` (a missing `root` is an empty tree).
async fn tree(image: &Image, root: &str) -> Result<BTreeMap<String, DirEntry>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_string()];
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < LIST_CONCURRENCY
            && let Some(dir) = pending.pop()
        {
            let image = image.clone();
            running.push(async move { (image.ls(&dir).await, dir) });
        }
        let Some((listed, dir)) = running.next().await else {
            break;
        };
        let entries = match listed {
            Ok(e) => e,
            Err(e) if e.is_not_found() && dir == root => Vec::new(),
            Err(e) => return Err(e),
        };
        for e in entries {
            if e.name == "." || e.name == ".." {
                continue;
            }
            if e.kind == EntryKind::Dir {
                pending.push(e.path.clone());
            }
            out.insert(e.path.clone(), e);
        }
    }
    Ok(out)
}

fn differs(a: &DirEntry, b: &DirEntry) -> bool {
    let owner = a.kind != b.kind || a.mode != b.mode || a.uid != b.uid || a.gid != b.gid;
    if a.kind == EntryKind::Dir && b.kind == EntryKind::Dir {
        return owner;
    }
    owner || a.size != b.size || a.mtime != b.mtime || a.symlink_target != b.symlink_target
}

fn compare(
    mut before: BTreeMap<String, DirEntry>,
    after: BTreeMap<String, DirEntry>,
) -> Vec<FileChange> {
    let mut out = Vec::new();
    for (path, b) in after {
        match before.remove(&path) {
            None => out.push(FileChange {
                path,
                kind: ChangeKind::Added,
                before: None,
                after: Some(b),
            }),
            Some(a) if differs(&a, &b) => out.push(FileChange {
                path,
                kind: ChangeKind::Modified,
                before: Some(a),
                after: Some(b),
            }),
            Some(_) => {}
        }
    }
    for (path, a) in before {
        out.push(FileChange {
            path,
            kind: ChangeKind::Removed,
            before: Some(a),
            after: None,
        });
    }
    out.sort_by(|x, y| x.path.cmp(&y.path));
    out
}
