//! The persistent upload cache of directory syncs: local file state → sha256 and file UUID.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::walk::FileState;
use crate::error::Result;

/// One file as last uploaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Entry {
    #[serde(flatten)]
    pub(crate) state: FileState,
    pub(crate) sha256: String,
    pub(crate) uuid: String,
    /// When the server last confirmed it has the content (Unix seconds).
    pub(crate) checked_at: u64,
}

impl Entry {
    pub(crate) fn is_stale(&self, ttl: Duration, now: u64) -> bool {
        now.saturating_sub(self.checked_at) >= ttl.as_secs()
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
