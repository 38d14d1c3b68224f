//! The persistent upload cache of directory syncs: local file state → sha256 and file UUID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::walk::FileState;
use crate::error::Result;

/// How much older than the walk that recorded it a file's mtime must be for its entry to
/// vouch for the file unread. Timestamps are coarser than the clock (a kernel tick; 1 s or
/// 2 s on some filesystems), so a file rewritten with the same size just after the walk can
/// keep its mtime; within this margin the state proves nothing and the file is re-hashed
/// (git's "racy clean" rule).
pub(crate) const RACY_MARGIN: Duration = Duration::from_secs(2);

/// One file as last uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(flatten)]
    pub(crate) state: FileState,
    pub(crate) sha256: String,
    pub(crate) uuid: String,
    /// When the server last confirmed it has the content (Unix seconds).
    pub(crate) checked_at: u64,
    /// When the walk that saw `state` started (Unix nanoseconds; 0 in caches written before
    /// this field, whose entries are all re-hashed once).
    #[serde(default)]
    pub(crate) seen_at_ns: i64,
}

impl Entry {
    pub(crate) fn is_stale(&self, ttl: Duration, now: u64) -> bool {
        now.saturating_sub(self.checked_at) >= ttl.as_secs()
    }

    /// Whether the entry cannot vouch for a file in the same state: the file's mtime is not
    /// at least [`RACY_MARGIN`] older than the walk that recorded it, so a same-size rewrite
    /// right after that walk could have kept the same state.
    pub(crate) fn is_racy(&self) -> bool {
        let margin = i64::try_from(RACY_MARGIN.as_nanos()).unwrap_or(i64::MAX);
        self.state.mtime_ns.saturating_add(margin) >= self.seen_at_ns
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    version: u32,
    files: BTreeMap<String, Entry>,
}

/// The cache file, loaded in memory for one sync.
#[derive(Debug, Default)]
pub(crate) struct UploadCache {
    path: Option<PathBuf>,
    files: BTreeMap<String, Entry>,
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The clock in Unix nanoseconds, as file states keep mtimes.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl UploadCache {
    /// Loads `path` (a missing file is an empty cache; a corrupt one is replaced, with a
    /// warning pushed to `warnings`). `None` keeps the cache in memory only.
    pub(crate) fn load(path: Option<PathBuf>, warnings: &mut Vec<String>) -> Self {
        let files = match &path {
            None => BTreeMap::new(),
            Some(p) => match std::fs::read(p) {
                Ok(data) => match serde_json::from_slice::<Stored>(&data) {
                    Ok(s) => s.files,
                    Err(e) => {
                        warnings.push(format!(
                            "the upload cache {} is corrupt ({e}); starting afresh",
                            p.display()
                        ));
                        BTreeMap::new()
                    }
                },
                Err(_) => BTreeMap::new(),
            },
        };
        Self { path, files }
    }

    pub(crate) fn get(&self, path: &Path) -> Option<&Entry> {
        self.files.get(&path.to_string_lossy().into_owned())
    }

    pub(crate) fn put(&mut self, path: &Path, entry: Entry) {
        self.files
            .insert(path.to_string_lossy().into_owned(), entry);
    }

    /// Writes the cache back (atomically), if it has a file.
    pub(crate) fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let dir = path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let body = serde_json::to_vec(&Stored {
            version: 1,
            files: self.files.clone(),
        })
        .unwrap_or_default();
        crate::build::write_atomic(&dir, path, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, RACY_MARGIN};
    use crate::sync::walk::FileState;

    fn entry(mtime_ns: i64, seen_at_ns: i64) -> Entry {
        Entry {
            state: FileState {
                size: 4,
                mtime_ns,
                ino: 1,
                mode: 0o644,
            },
            sha256: "ab".repeat(32),
            uuid: "u".into(),
            checked_at: 0,
            seen_at_ns,
        }
    }

    #[test]
    fn an_entry_vouches_only_for_files_older_than_its_walk_by_the_margin() {
        let margin = i64::try_from(RACY_MARGIN.as_nanos()).unwrap();
        let walk = 1_700_000_000_000_000_000;
        // Modified well before the walk: a later rewrite would have a later mtime.
        assert!(!entry(walk - margin - 1, walk).is_racy());
        // Within the margin (or after the walk started): a same-size rewrite in the same
        // timestamp tick would look the same, so the file must be read.
        assert!(entry(walk - margin, walk).is_racy());
        assert!(entry(walk - 1, walk).is_racy());
        assert!(entry(walk, walk).is_racy());
        assert!(entry(walk + 5, walk).is_racy());
        // Caches written before `seen_at_ns` existed: every entry is checked once.
        let old: Entry = serde_json::from_str(
            r#"{"size":4,"mtime_ns":5,"ino":1,"mode":420,"sha256":"s","uuid":"u","checked_at":0}"#,
        )
        .unwrap();
        assert_eq!(old.seen_at_ns, 0);
        assert!(old.is_racy());
    }
}
