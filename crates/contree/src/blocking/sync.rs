//! Blocking directory sync ([`crate::sync`]) and lineage ([`crate::lineage`]).

use std::path::PathBuf;
use std::time::Duration;

use super::{Contree, Files, Image, IntoBlocking, Run, forward, plain_data};
use crate::error::Result;
use crate::lineage::{FileChange, LineageEntry};
use crate::sync::FileMap;

plain_data!(FileMap, FileChange);

/// A directory sync; call [`output`](Self::output). The same options as the async
/// [`crate::sync::SyncDir`].
///
/// ```
/// # let mock = contree_mock::MockServer::start_blocking();
/// # let contree = contree::blocking::Contree::builder()
/// #   .base_url(mock.base_url()).token(mock.token()).project(mock.project().unwrap_or(""))
/// #   .build()?;
/// let dir = tempfile::tempdir().expect("a temporary directory");
/// std::fs::write(dir.path().join("job.sh"), "echo job\n").unwrap();
/// # let state = tempfile::tempdir().expect("a temporary directory");
/// let map = contree.files().sync_dir(dir.path(), "/src")
/// #   .cache_file(state.path().join("uploads.json"))
///     .output()?;
/// let out = contree.images().use_tag("ubuntu:latest").shell("sh /src/job.sh").files(&map).output()?;
/// assert_eq!(out.stdout_str()?, "job\n");
/// # Ok::<(), contree::Error>(())
/// ```
#[must_use = "a SyncDir does nothing until output() is called"]
pub struct SyncDir {
    pub(crate) inner: crate::sync::SyncDir,
    pub(crate) client: Contree,
}

impl std::fmt::Debug for SyncDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

impl SyncDir {
    /// The async builder this wraps.
    pub fn into_async(self) -> crate::sync::SyncDir {
        self.inner
    }
}

impl SyncDir {
    forward! { "crate::sync::SyncDir", SyncDir:
        exclude(pattern: impl Into<String>);
        excludes(patterns: impl IntoIterator<Item = impl Into<String>>);
        default_excludes(on: bool);
        gitignore(on: bool);
        secrets(include: bool);
        follow_symlinks(follow: bool);
        cache_file(path: impl Into<PathBuf>);
        no_cache_file();
        revalidate_after(age: Duration);
        concurrency(n: usize);
        owner(uid: u32, gid: u32);
        progress(f: impl Fn(usize, usize) + Send + Sync + 'static);
    }

    /// Walks, hashes what changed, uploads what the server lacks, and returns the map.
    pub fn output(self) -> Result<FileMap> {
        self.client.wait(self.inner)
    }
}

impl Files {
    /// Syncs a local directory to `dest` (see [`crate::Files::sync_dir`]); call
    /// [`output`](SyncDir::output).
    pub fn sync_dir(&self, local: impl Into<PathBuf>, dest: impl Into<String>) -> SyncDir {
        SyncDir {
            inner: self.inner.sync_dir(local, dest),
            client: self.client.clone(),
        }
    }
}

impl Run {
    /// Places every file of a synced [`FileMap`] (see [`crate::Run::files`]).
    pub fn files(self, map: &FileMap) -> Self {
        Self {
            inner: self.inner.files(map),
            client: self.client,
        }
    }
}

impl Contree {
    /// Where this client records lineage (see [`crate::Contree::lineage_store`]).
    pub fn lineage_store(&self) -> &std::sync::Arc<dyn crate::lineage::LineageStore> {
        self.async_client().lineage_store()
    }
}

/// A comparison of two versions; call [`output`](Self::output) (see
/// [`crate::lineage::ChangedFiles`]).
#[must_use = "a ChangedFiles does nothing until output() is called"]
pub struct ChangedFiles {
    pub(crate) inner: crate::lineage::ChangedFiles,
    pub(crate) client: Contree,
}

impl std::fmt::Debug for ChangedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

impl ChangedFiles {
    /// The async builder this wraps.
    pub fn into_async(self) -> crate::lineage::ChangedFiles {
        self.inner
    }
}

impl ChangedFiles {
    forward! { "crate::lineage::ChangedFiles", ChangedFiles:
        under(path: impl Into<String>);
    }

    /// Lists both trees (no VM) and returns the changes, sorted by path.
    pub fn output(self) -> Result<Vec<FileChange>> {
        self.client.wait(self.inner)
    }
}

impl Image {
    /// What the lineage store knows of this version (see [`crate::Image::lineage`]).
    pub fn lineage(&self) -> Option<LineageEntry> {
        self.inner.lineage()
    }
    /// The versions this one was made from, nearest first (see
    /// [`crate::Image::ancestors`]).
    pub fn ancestors(&self) -> Vec<Image> {
        self.inner.ancestors().into_blocking(&self.client)
    }
    /// Every version made from this one (see [`crate::Image::descendants`]).
    pub fn descendants(&self) -> Vec<Image> {
        self.inner.descendants().into_blocking(&self.client)
    }
    /// The oldest known ancestor, or this image (see [`crate::Image::root`]).
    pub fn root(&self) -> Image {
        self.inner.root().into_blocking(&self.client)
    }
    /// How many ancestors the store knows (see [`crate::Image::depth`]).
    pub fn depth(&self) -> usize {
        self.inner.depth()
    }
    /// What changed from this version to `other` (see [`crate::Image::changed_files`]);
    /// call [`output`](ChangedFiles::output).
    pub fn changed_files(&self, other: &Image) -> ChangedFiles {
        ChangedFiles {
            inner: self.inner.changed_files(&other.inner),
            client: self.client.clone(),
        }
    }
}
