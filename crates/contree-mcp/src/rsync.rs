//! `rsync`: a local directory uploaded (new and changed files only) through the facade's
//! file upload API, recorded as a directory state that `run` places in the VM.
//!
//! The cache (`files.json` in the cache directory) remembers, per local file, its size,
//! mtime, inode, mode, sha256 and server file UUID, and per directory state its files.
//! Entries unused for [`PRUNE_AFTER`] are dropped whenever the cache is loaded or saved,
//! so it does not grow without bound; file UUIDs are re-checked on the server
//! ([`REVALIDATE_AFTER`]) because uploads expire there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt as _;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::server::ContreeMcp;
use crate::tools::{err, expand_home};
use crate::types::{RsyncOutput, RsyncParams};

/// Cache entries not used for this long are removed.
pub const PRUNE_AFTER: Duration = Duration::from_secs(60 * 86_400);
/// Server file UUIDs older than this are checked again before a state is reused.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(86_400);
const UPLOAD_CONCURRENCY: usize = 8;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct FileRec {
    size: u64,
    mtime_ns: i128,
    ino: u64,
    mode: u32,
    sha256: String,
    uuid: String,
    used_at: u64,
}

/// A file of a directory state: where it goes and what it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub(crate) struct StateFile {
    pub(crate) target: String,
    pub(crate) uuid: String,
    pub(crate) sha256: String,
    pub(crate) mode: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StateRec {
    id: i64,
    source: String,
    destination: String,
    excludes: Vec<String>,
    files: Vec<StateFile>,
    validated_at: u64,
    used_at: u64,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheData {
    next_id: i64,
    files: BTreeMap<String, FileRec>,
    states: BTreeMap<String, StateRec>,
}

impl CacheData {
    fn prune(&mut self, now: u64) {
        let cutoff = now.saturating_sub(PRUNE_AFTER.as_secs());
        self.files.retain(|_, f| f.used_at >= cutoff);
        self.states.retain(|_, s| s.used_at >= cutoff);
    }
}

/// The `rsync` cache: in memory, persisted to a JSON file when it has a path.
#[derive(Debug)]
pub struct SyncCache {
    path: Option<PathBuf>,
    data: Mutex<CacheData>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl SyncCache {
    /// Loads the cache at `path` (a missing or unreadable file starts empty).
    pub fn open(path: Option<PathBuf>) -> std::io::Result<Self> {
        let mut data: CacheData = match &path {
            Some(p) => match std::fs::read(p) {
                Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                    tracing::warn!(path = %p.display(), error = %e, "the rsync cache is unreadable; starting afresh");
                    CacheData::default()
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => CacheData::default(),
                Err(e) => return Err(e),
            },
            None => CacheData::default(),
        };
        data.prune(now_secs());
        Ok(Self {
            path,
            data: Mutex::new(data),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheData> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self) {
        let Some(path) = &self.path else { return };
        let bytes = {
            let mut d = self.lock();
            d.prune(now_secs());
            serde_json::to_vec(&*d).unwrap_or_default()
        };
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir)?;
            let tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::fs::write(tmp.path(), &bytes)?;
            tmp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        if let Err(e) = write() {
            tracing::warn!(path = %path.display(), error = %e, "cannot save the rsync cache");
        }
    }

    /// The files of directory state `id`, for `run`.
    pub(crate) fn state_files(&self, id: i64) -> Result<Vec<StateFile>, String> {
        let d = self.lock();
        let state = d.states.values().find(|s| s.id == id).ok_or_else(|| {
            format!("directory state {id} is unknown (it may have been pruned after 60 days unused); call rsync again")
        })?;
        if state.files.is_empty() {
            return Err(format!(
                "directory state {id} has no files (is {} empty or fully excluded?)",
                state.source
            ));
        }
        Ok(state.files.clone())
    }

    #[cfg(test)]
    fn file_count(&self) -> usize {
        self.lock().files.len()
    }
}

/// Compiled exclude patterns, matched anywhere in a relative path.
pub(crate) struct Excludes(Vec<(Regex, bool)>);

fn glob_to_regex(glob: &str) -> Result<Regex, String> {
    let mut re = String::from("(?i)^");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                re.push_str(".*");
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    Regex::new(&re).map_err(|e| format!("exclude pattern `{glob}` is invalid: {e}"))
}

impl Excludes {
    pub(crate) fn new(patterns: &[String]) -> Result<Self, String> {
        let mut v = Vec::new();
        for p in patterns {
            let p = p.trim().trim_start_matches("./").trim_matches('/');
            if p.is_empty() {
                continue;
            }
            v.push((glob_to_regex(p)?, p.contains('/')));
        }
        Ok(Self(v))
    }

    /// Whether the relative path (components joined by `/`) is excluded: a pattern
    /// without `/` matches any single component; one with `/` matches any run of
    /// trailing components (so `src/gen` excludes `a/src/gen` too).
    pub(crate) fn is_excluded(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        self.0.iter().any(|(re, has_slash)| {
            if *has_slash {
                (0..parts.len()).any(|i| re.is_match(&parts[i..].join("/")))
            } else {
                parts.last().is_some_and(|name| re.is_match(name))
            }
        })
    }
}

struct LocalFile {
    rel: String,
    abs: PathBuf,
    size: u64,
    mtime_ns: i128,
    ino: u64,
    mode: u32,
}

#[cfg(unix)]
fn ino_mode(m: &std::fs::Metadata) -> (u64, u32) {
    use std::os::unix::fs::MetadataExt as _;
    (m.ino(), m.mode())
}

#[cfg(not(unix))]
fn ino_mode(m: &std::fs::Metadata) -> (u64, u32) {
    (
        0,
        if m.permissions().readonly() {
            0o100444
        } else {
            0o100644
        },
    )
}

/// Walks `root`: files (symlinks to files are followed, symlinked directories are not),
/// pruning excluded directories without descending into them.
fn walk(root: &Path, excludes: &Excludes) -> std::io::Result<Vec<LocalFile>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel_dir.is_empty() {
                name.clone()
            } else {
                format!("{rel_dir}/{name}")
            };
            if excludes.is_excluded(&rel) {
                continue;
            }
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push((entry.path(), rel));
                continue;
            }
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue; // a dangling symlink
            };
            if !meta.is_file() {
                continue;
            }
            let mtime_ns = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as i128)
                .unwrap_or(0);
            let (ino, mode) = ino_mode(&meta);
            out.push(LocalFile {
                rel,
                abs: entry.path(),
                size: meta.len(),
                mtime_ns,
                ino,
                mode,
            });
        }
    }
    out.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// What `rsync` was asked, checked: the canonical source, the destination without a
/// trailing `/`, the sorted excludes, and the state key they make.
struct Request {
    source: PathBuf,
    destination: String,
    excludes: Vec<String>,
    key: String,
}

fn check_request(p: &RsyncParams) -> Result<Request, String> {
    let source = expand_home(p.source.trim());
    if !source.is_absolute() {
        return Err(format!(
            "`source` must be an absolute local directory, not `{}`",
            p.source
        ));
    }
    let source = std::fs::canonicalize(&source)
        .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
    if !source.is_dir() {
        return Err(format!("{} is not a directory", source.display()));
    }
    if !p.destination.trim().starts_with('/') {
        return Err(format!(
            "`destination` must be an absolute path in the VM, not `{}`",
            p.destination
        ));
    }
    let destination = p.destination.trim().trim_end_matches('/').to_string();
    let mut excludes = p.exclude.clone().unwrap_or_default();
    excludes.sort();
    excludes.dedup();
    let key = format!(
        "{}\u{0}{destination}\u{0}{}",
        source.display(),
        excludes.join("\u{0}")
    );
    Ok(Request {
        source,
        destination,
        excludes,
        key,
    })
}

impl SyncCache {
    /// Per local file, its cached record when the file is unchanged; and whether the
    /// state's server files are due for a re-check.
    fn plan(&self, key: &str, local: &[LocalFile], now: u64) -> (Vec<Option<FileRec>>, bool) {
        let d = self.lock();
        let revalidate = d
            .states
            .get(key)
            .is_none_or(|st| now.saturating_sub(st.validated_at) >= REVALIDATE_AFTER.as_secs());
        let known = local
            .iter()
            .map(|f| {
                d.files
                    .get(&f.abs.display().to_string())
                    .filter(|r| {
                        r.size == f.size
                            && r.mtime_ns == f.mtime_ns
                            && r.ino == f.ino
                            && r.mode == f.mode
                            && !r.uuid.is_empty()
                    })
                    .cloned()
            })
            .collect();
        (known, revalidate)
    }

    /// Records the synced files and the state; returns its id.
    fn record(
        &self,
        req: Request,
        local: &[LocalFile],
        recs: Vec<FileRec>,
        revalidated: bool,
        now: u64,
    ) -> (i64, Vec<StateFile>) {
        let mut d = self.lock();
        let mut state_files = Vec::with_capacity(local.len());
        for (f, mut rec) in local.iter().zip(recs) {
            rec.used_at = now;
            state_files.push(StateFile {
                target: format!("{}/{}", req.destination, f.rel),
                uuid: rec.uuid.clone(),
                sha256: rec.sha256.clone(),
                mode: f.mode,
            });
            d.files.insert(f.abs.display().to_string(), rec);
        }
        let (id, validated_at) = match d.states.get(&req.key) {
            Some(st) => (st.id, if revalidated { now } else { st.validated_at }),
            None => {
                d.next_id = d.next_id.max(0) + 1;
                (d.next_id, now)
            }
        };
        d.states.insert(
            req.key,
            StateRec {
                id,
                source: req.source.display().to_string(),
                destination: req.destination,
                excludes: req.excludes,
                files: state_files.clone(),
                validated_at,
                used_at: now,
            },
        );
        (id, state_files)
    }
}

/// Uploads what changed (and what the server no longer has, when re-checking), at most
/// [`UPLOAD_CONCURRENCY`] at a time; returns each file's record and whether it was sent.
async fn upload_changed(
    files: contree::Files,
    local: &[LocalFile],
    known: Vec<Option<FileRec>>,
    revalidate: bool,
    now: u64,
) -> Result<Vec<(FileRec, bool)>, String> {
    let owned: Vec<(PathBuf, FileRec, Option<FileRec>)> = local
        .iter()
        .zip(known)
        .map(|(f, rec)| {
            let fresh = FileRec {
                size: f.size,
                mtime_ns: f.mtime_ns,
                ino: f.ino,
                mode: f.mode,
                sha256: String::new(),
                uuid: String::new(),
                used_at: now,
            };
            (f.abs.clone(), fresh, rec)
        })
        .collect();
    let jobs = owned.into_iter().map(move |(abs, mut fresh, rec)| {
        let files = files.clone();
        async move {
            if let Some(rec) = rec {
                let still_there = !revalidate || files.exists(&rec.sha256).await.map_err(err)?;
                if still_there {
                    return Ok::<_, String>((rec, false));
                }
            }
            let up = files.upload(abs).await.map_err(err)?;
            fresh.sha256 = up.sha256().to_string();
            fresh.uuid = up.uuid().to_string();
            Ok((fresh, true))
        }
    });
    let results: Vec<Result<(FileRec, bool), String>> = futures_util::stream::iter(jobs)
        .buffered(UPLOAD_CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}

pub(crate) async fn rsync(s: &ContreeMcp, p: RsyncParams) -> Result<RsyncOutput, String> {
    let req = check_request(&p)?;
    let excludes = Excludes::new(&req.excludes)?;
    let root = req.source.clone();
    let local = tokio::task::spawn_blocking(move || walk(&root, &excludes))
        .await
        .map_err(|e| format!("walking the directory failed: {e}"))?
        .map_err(|e| format!("cannot read {}: {e}", req.source.display()))?;
    let now = now_secs();
    let (known, revalidate) = s.sync.plan(&req.key, &local, now);
    let results = upload_changed(s.contree.files(), &local, known, revalidate, now).await?;
    let uploaded = results.iter().filter(|(_, sent)| *sent).count();
    let recs = results.into_iter().map(|(r, _)| r).collect();
    let destination = if req.destination.is_empty() {
        "/".to_string()
    } else {
        req.destination.clone()
    };
    let (id, state_files) = s.sync.record(req, &local, recs, revalidate, now);
    s.sync.save();
    Ok(RsyncOutput {
        directory_state_id: id,
        files: state_files.len(),
        uploaded,
        destination,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(p: &[&str]) -> Excludes {
        Excludes::new(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn excludes_match_anywhere_in_the_path() {
        let e = ex(&["__pycache__", "*.pyc", "src/gen", ".git"]);
        assert!(e.is_excluded("__pycache__"));
        assert!(e.is_excluded("pkg/sub/__pycache__"));
        assert!(e.is_excluded("a/b/c.pyc"));
        assert!(e.is_excluded("x/src/gen"));
        assert!(e.is_excluded(".git"));
        assert!(e.is_excluded("vendor/lib/.git"));
        assert!(!e.is_excluded("src/main.py"));
        assert!(!e.is_excluded("gitignore"));
        assert!(!e.is_excluded("src/generate.py"));
    }

    #[test]
    fn the_walk_prunes_excluded_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/__pycache__")).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("a/__pycache__/x.pyc"), "x").unwrap();
        std::fs::write(dir.path().join("a/keep.py"), "k").unwrap();
        std::fs::write(dir.path().join("b/drop.pyc"), "d").unwrap();
        let files = walk(dir.path(), &ex(&["__pycache__", "*.pyc"])).unwrap();
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["a/keep.py"]);
    }

    #[test]
    fn old_entries_are_pruned_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("files.json");
        let old = now_secs() - PRUNE_AFTER.as_secs() - 10;
        let mut data = CacheData::default();
        for (name, used_at) in [("/old", old), ("/new", now_secs())] {
            data.files.insert(
                name.into(),
                FileRec {
                    size: 1,
                    mtime_ns: 1,
                    ino: 1,
                    mode: 0o100644,
                    sha256: "s".into(),
                    uuid: "u".into(),
                    used_at,
                },
            );
        }
        std::fs::write(&path, serde_json::to_vec(&data).unwrap()).unwrap();
        let cache = SyncCache::open(Some(path)).unwrap();
        assert_eq!(cache.file_count(), 1);
        assert!(cache.lock().files.contains_key("/new"));
    }
}
