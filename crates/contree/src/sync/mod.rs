//! Directory sync: [`Files::sync_dir`] uploads a local tree (only what changed) and
//! returns a reusable [`FileMap`] that runs, sessions and builds take with `.files(map)`.

mod cache;
mod walk;

pub use walk::DEFAULT_EXCLUDES;

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::client::Contree;
use crate::error::{Error, Result};
use crate::files::{Files, UploadedFile};
use crate::run::{FileSource, FileSpec, Run};
use crate::util::BoxFuture;
use cache::{Entry, UploadCache, now_ns, now_secs};
use walk::{Found, WalkOptions};

/// How many files a sync uploads at once by default.
pub const DEFAULT_SYNC_CONCURRENCY: usize = 8;
/// How old a cache entry may get before the server is asked (`HEAD /files/{sha256}`)
/// whether it still has the content.
pub const DEFAULT_REVALIDATE_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Why a path was left out of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A directory of [`DEFAULT_EXCLUDES`] (its name).
    DefaultExclude(String),
    /// Matched an [`exclude`](SyncDir::exclude) pattern.
    Excluded,
    /// Ignored by this `.gitignore`.
    Gitignore(String),
    /// A name that usually holds secrets (`.env*`, keys); see [`SyncDir::secrets`].
    Secret,
    /// A symbolic link, not followed (listed in [`FileMap::symlinks`]); see
    /// [`SyncDir::follow_symlinks`].
    Symlink,
    /// Not a regular file (a socket, FIFO or device).
    NotRegular,
    /// Could not be read.
    Unreadable(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::DefaultExclude(n) => write!(f, "`{n}` is excluded by default"),
            SkipReason::Excluded => f.write_str("matches an exclude pattern"),
            SkipReason::Gitignore(file) => write!(f, "ignored by {file}"),
            SkipReason::Secret => {
                f.write_str("may hold secrets (.env or key file); use .secrets(true) to sync it")
            }
            SkipReason::Symlink => {
                f.write_str("a symbolic link; use .follow_symlinks(true) to sync its target")
            }
            SkipReason::NotRegular => f.write_str("not a regular file"),
            SkipReason::Unreadable(e) => write!(f, "unreadable: {e}"),
        }
    }
}

/// A path left out of a sync, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The path relative to the synced directory.
    pub path: String,
    /// Why.
    pub reason: SkipReason,
}

/// What a sync did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncReport {
    /// Files in the map.
    pub files: usize,
    /// Files whose content was read and hashed: new or changed since the last sync, and
    /// those modified too shortly before the last sync for its record to vouch for them
    /// (within 2 s: a same-size rewrite in the same timestamp tick keeps size and mtime).
    pub hashed: usize,
    /// Files handed to the upload (hashed ones, and cached ones the server lost); each
    /// is sent only if the server lacks its content.
    pub uploaded: usize,
    /// Cache entries re-checked with the server (older than the revalidation age).
    pub revalidated: usize,
    /// Every path left out, with why: nothing is skipped silently.
    pub skipped: Vec<Skipped>,
    /// Problems that did not stop the sync (a corrupt cache file, say).
    pub warnings: Vec<String>,
}

/// One synced file: where it goes and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappedFile {
    /// The uploaded content.
    pub file: UploadedFile,
    /// Permission bits (the local file's).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
}

/// Destination path → uploaded file: the result of a sync, reusable for any number of
/// runs ([`Run::files`]), sessions and builds ([`Build::files`](crate::build::Build::files)).
#[derive(Debug, Clone, Default)]
pub struct FileMap {
    files: BTreeMap<String, MappedFile>,
    symlinks: BTreeMap<String, String>,
    report: SyncReport,
}

impl FileMap {
    /// The files, by destination path.
    pub fn files(&self) -> &BTreeMap<String, MappedFile> {
        &self.files
    }
    /// One file by destination path.
    pub fn get(&self, dest: &str) -> Option<&MappedFile> {
        self.files.get(dest)
    }
    /// How many files.
    pub fn len(&self) -> usize {
        self.files.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
    /// Symbolic links that were not followed: destination → link target. A run cannot
    /// place links; create them with `ln -s` if you need them.
    pub fn symlinks(&self) -> &BTreeMap<String, String> {
        &self.symlinks
    }
    /// What the sync did: counts, and every skipped path with why.
    pub fn report(&self) -> &SyncReport {
        &self.report
    }
    /// The files as [`FileSpec`]s.
    pub fn specs(&self) -> impl Iterator<Item = FileSpec> + '_ {
        self.files.iter().map(|(dest, f)| {
            FileSpec::new(dest.clone(), FileSource::Uploaded(f.file.clone()))
                .mode(f.mode)
                .owner(f.uid, f.gid)
        })
    }
}

impl Run {
    /// Places every file of a synced [`FileMap`]. A file given explicitly before (with
    /// [`file`](Run::file) or [`file_spec`](Run::file_spec)) wins over the map's file at
    /// the same path; several maps merge, the first one winning.
    pub fn files(mut self, map: &FileMap) -> Self {
        for spec in map.specs() {
            if !self.spec.files.iter().any(|f| f.dest == spec.dest) {
                self.spec.files.push(spec);
            }
        }
        self
    }
}

impl Files {
    /// Syncs the local directory `local` to `dest` (absolute): await it for a
    /// [`FileMap`]. See [`SyncDir`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> contree::Result<()> {
    /// # let mock = contree_mock::MockServer::start().await;
    /// # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
    /// #     .project(mock.project().unwrap_or_default()).build()?;
    /// let dir = tempfile::tempdir().expect("a temporary directory");
    /// std::fs::write(dir.path().join("main.py"), "print('hi')\n").unwrap();
    /// std::fs::write(dir.path().join(".env"), "TOKEN=secret\n").unwrap();
    /// # let state = tempfile::tempdir().expect("a temporary directory");
    /// let map = contree.files().sync_dir(dir.path(), "/src")
    /// #   .cache_file(state.path().join("uploads.json"))
    ///     .exclude("*.log")
    ///     .await?;
    /// assert!(map.get("/src/main.py").is_some());
    /// assert_eq!(map.report().skipped[0].path, ".env"); // kept out, and said so
    /// let out = contree.images().use_tag("ubuntu:latest").shell("cat /src/main.py").files(&map).await?;
    /// assert_eq!(out.stdout_str()?, "print('hi')\n");
    /// # Ok(()) }
    /// ```
    pub fn sync_dir(&self, local: impl Into<PathBuf>, dest: impl Into<String>) -> SyncDir {
        SyncDir {
            client: self.client.clone(),
            local: local.into(),
            dest: dest.into(),
            excludes: Vec::new(),
            default_excludes: true,
            gitignore: true,
            secrets: false,
            follow_symlinks: false,
            cache_file: CacheFile::Default,
            revalidate_after: DEFAULT_REVALIDATE_AFTER,
            concurrency: DEFAULT_SYNC_CONCURRENCY,
            owner: (0, 0),
            progress: None,
        }
    }
}

#[derive(Debug, Clone)]
enum CacheFile {
    Default,
    At(PathBuf),
    None,
}

/// Progress callback of a sync: `(files done, files to process)`.
pub type SyncProgressFn = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// A directory sync in preparation; await it for a [`FileMap`].
///
/// Defaults: the directories of [`DEFAULT_EXCLUDES`] are left out, `.gitignore` files
/// are honoured, `.env*` and key files are left out, symbolic links are not followed;
/// every path left out is in the [report](FileMap::report). A persistent cache (local
/// path, size, mtime, inode and mode → sha256 and file UUID) in `sync-cache/` under the
/// SDK's configuration directory (from the client's environment) makes a re-sync of an
/// unchanged tree read no file and send no request; entries older than
/// [`revalidate_after`](Self::revalidate_after) are re-checked with `HEAD /files/{sha256}`.
/// A file modified less than 2 s before the walk that recorded it is read again by the
/// next sync (git's "racy clean" rule: a same-size rewrite within one timestamp tick keeps
/// size and mtime), so the cache never hides a change, however fast the edits.
#[must_use = "a SyncDir does nothing until awaited"]
pub struct SyncDir {
    client: Contree,
    local: PathBuf,
    dest: String,
    excludes: Vec<String>,
    default_excludes: bool,
    gitignore: bool,
    secrets: bool,
    follow_symlinks: bool,
    cache_file: CacheFile,
    revalidate_after: Duration,
    concurrency: usize,
    owner: (u32, u32),
    progress: Option<SyncProgressFn>,
}

impl fmt::Debug for SyncDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncDir")
            .field("local", &self.local)
            .field("dest", &self.dest)
            .field("excludes", &self.excludes)
            .finish_non_exhaustive()
    }
}

impl SyncDir {
    /// Leaves out paths matching this `.gitignore`-style pattern (`*.log`, `/build`,
    /// `docs/**/*.pdf`; `!` re-includes).
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.excludes.push(pattern.into());
        self
    }
    /// Several [`exclude`](Self::exclude) patterns.
    pub fn excludes<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.excludes.extend(patterns.into_iter().map(Into::into));
        self
    }
    /// Whether the directories of [`DEFAULT_EXCLUDES`] are left out (default `true`).
    pub fn default_excludes(mut self, on: bool) -> Self {
        self.default_excludes = on;
        self
    }
    /// Whether `.gitignore` files are honoured (default `true`).
    pub fn gitignore(mut self, on: bool) -> Self {
        self.gitignore = on;
        self
    }
    /// Whether `.env*` and key files (`*.pem`, `*.key`, `id_rsa`, …) are synced
    /// (default `false`: they are left out and reported).
    pub fn secrets(mut self, include: bool) -> Self {
        self.secrets = include;
        self
    }
    /// Whether symbolic links are followed (their targets synced) or left out and listed
    /// in [`FileMap::symlinks`] (default).
    pub fn follow_symlinks(mut self, follow: bool) -> Self {
        self.follow_symlinks = follow;
        self
    }
    /// Keeps the upload cache in this file instead of the default one.
    pub fn cache_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cache_file = CacheFile::At(path.into());
        self
    }
    /// Uses no persistent cache (every file is hashed).
    pub fn no_cache_file(mut self) -> Self {
        self.cache_file = CacheFile::None;
        self
    }
    /// How old a cache entry may get before the server is asked whether it still has
    /// the content (default 24 hours).
    pub fn revalidate_after(mut self, age: Duration) -> Self {
        self.revalidate_after = age;
        self
    }
    /// How many files are hashed and uploaded at once (default 8).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
    /// The owner of every file in the map (default root).
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = (uid, gid);
        self
    }
    /// Calls `f(done, total)` as files are processed.
    pub fn progress(mut self, f: impl Fn(usize, usize) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    fn cache_path(&self) -> Option<PathBuf> {
        match &self.cache_file {
            CacheFile::At(p) => Some(p.clone()),
            CacheFile::None => None,
            CacheFile::Default => {
                let scope = crate::build::server_scope(&self.client);
                Some(
                    self.client
                        .config_dir()?
                        .join("sync-cache")
                        .join(format!("{scope}.json")),
                )
            }
        }
    }

    async fn execute(self) -> Result<FileMap> {
        if !self.dest.starts_with('/') {
            return Err(Error::invalid(format!(
                "sync destination `{}` must be an absolute path",
                self.dest
            )));
        }
        let root = tokio::fs::canonicalize(&self.local)
            .await
            .map_err(|e| Error::io("opening the directory to sync", self.local.clone(), e))?;
        let opts = WalkOptions {
            excludes: self.excludes.clone(),
            default_excludes: self.default_excludes,
            gitignore: self.gitignore,
            secrets: self.secrets,
            follow_symlinks: self.follow_symlinks,
        };
        let cache_path = self.cache_path();
        let (walked, cache, warnings, seen_at_ns) = tokio::task::spawn_blocking({
            let root = root.clone();
            move || {
                let mut warnings = Vec::new();
                let cache = UploadCache::load(cache_path, &mut warnings);
                // Before the walk: every state it reads is at least this recent.
                let seen_at_ns = now_ns();
                walk::walk(&root, &opts).map(|w| (w, cache, warnings, seen_at_ns))
            }
        })
        .await
        .map_err(|e| Error::invalid(format!("the directory walk failed: {e}")))??;
        let counters = Counters::default();
        let total = walked.files.len();
        let cache = Arc::new(std::sync::Mutex::new(cache));
        let results: Vec<Result<(String, UploadedFile, u32)>> =
            futures_util::stream::iter(walked.files)
                .map(|found| self.sync_one(found, &cache, &counters, (seen_at_ns, total)))
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
        let dest = self.dest.trim_end_matches('/');
        let mut files = BTreeMap::new();
        for r in results {
            let (rel, file, mode) = r?;
            let (uid, gid) = self.owner;
            files.insert(
                format!("{dest}/{rel}"),
                MappedFile {
                    file,
                    mode,
                    uid,
                    gid,
                },
            );
        }
        let cache = Arc::try_unwrap(cache)
            .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
            .unwrap_or_default();
        tokio::task::spawn_blocking(move || cache.save())
            .await
            .map_err(|e| Error::invalid(format!("saving the upload cache failed: {e}")))??;
        let report = SyncReport {
            files: files.len(),
            hashed: counters.hashed.load(Ordering::Relaxed),
            uploaded: counters.uploaded.load(Ordering::Relaxed),
            revalidated: counters.revalidated.load(Ordering::Relaxed),
            skipped: walked.skipped,
            warnings,
        };
        let symlinks = walked
            .symlinks
            .into_iter()
            .map(|(rel, target)| (format!("{dest}/{rel}"), target))
            .collect();
        Ok(FileMap {
            files,
            symlinks,
            report,
        })
    }

    /// One file: reused from the cache (revalidated when old), or hashed and uploaded. A
    /// cache entry too recent to vouch for the file ([`Entry::is_racy`]) is checked by
    /// hashing the file; the upload is skipped when the content is the cached one.
    /// `(seen_at_ns, total)`: when this sync's walk started, and how many files it found.
    async fn sync_one(
        &self,
        found: Found,
        cache: &std::sync::Mutex<UploadCache>,
        counters: &Counters,
        (seen_at_ns, total): (i64, usize),
    ) -> Result<(String, UploadedFile, u32)> {
        let files = self.client.files();
        let now = now_secs();
        let cached = {
            let c = cache.lock().unwrap_or_else(|p| p.into_inner());
            c.get(&found.path)
                .filter(|e| e.state == found.state)
                .cloned()
        };
        let mut hashed = None;
        let cached = match cached {
            Some(e) if e.is_racy() => {
                counters.hashed.fetch_add(1, Ordering::Relaxed);
                let sha = crate::files::sha256_file(&found.path).await?;
                if sha == e.sha256 {
                    Some(e)
                } else {
                    hashed = Some(sha);
                    None
                }
            }
            other => other,
        };
        // `checked_at` moves only when the server is asked.
        let (sha, uuid, checked_at) = match cached {
            Some(e) if !e.is_stale(self.revalidate_after, now) => (e.sha256, e.uuid, e.checked_at),
            Some(e) => {
                counters.revalidated.fetch_add(1, Ordering::Relaxed);
                if files.exists(&e.sha256).await? {
                    (e.sha256, e.uuid, now)
                } else {
                    counters.uploaded.fetch_add(1, Ordering::Relaxed);
                    let up = files
                        .upload(found.path.clone())
                        .known_sha256(e.sha256)
                        .await?;
                    (up.sha256().to_string(), up.uuid().to_string(), now)
                }
            }
            None => {
                let sha = match hashed {
                    Some(sha) => sha,
                    None => {
                        counters.hashed.fetch_add(1, Ordering::Relaxed);
                        crate::files::sha256_file(&found.path).await?
                    }
                };
                counters.uploaded.fetch_add(1, Ordering::Relaxed);
                let up = files.upload(found.path.clone()).known_sha256(sha).await?;
                (up.sha256().to_string(), up.uuid().to_string(), now)
            }
        };
        cache.lock().unwrap_or_else(|p| p.into_inner()).put(
            &found.path,
            Entry {
                state: found.state.clone(),
                sha256: sha.clone(),
                uuid: uuid.clone(),
                checked_at,
                seen_at_ns,
            },
        );
        let done = counters.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(p) = &self.progress {
            p(done, total);
        }
        Ok((found.rel, UploadedFile::new(uuid, sha), found.state.mode))
    }
}

#[derive(Default)]
struct Counters {
    hashed: AtomicUsize,
    uploaded: AtomicUsize,
    revalidated: AtomicUsize,
    done: AtomicUsize,
}

impl IntoFuture for SyncDir {
    type Output = Result<FileMap>;
    type IntoFuture = BoxFuture<Result<FileMap>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use contree_auth::MapEnv;

    #[test]
    fn the_default_sync_cache_is_in_the_config_dir_of_the_clients_env() {
        let client = crate::Contree::offline_in(MapEnv::new().with("CONTREE_HOME", "/ct"));
        let path = client
            .files()
            .sync_dir("/src", "/dst")
            .cache_path()
            .unwrap();
        assert_eq!(path.parent(), Some(Path::new("/ct/sync-cache")));
        let client = crate::Contree::offline_in(MapEnv::new());
        assert_eq!(client.files().sync_dir("/src", "/dst").cache_path(), None);
        let explicit = client
            .files()
            .sync_dir("/src", "/dst")
            .cache_file("/c.json");
        assert_eq!(explicit.cache_path().as_deref(), Some(Path::new("/c.json")));
    }
}
