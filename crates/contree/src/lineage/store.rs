//! Lineage stores: in memory, or in a file.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::LineageEntry;

/// Where lineage is kept. Implementations must be cheap: they are called on every run.
///
/// ```
/// use contree::lineage::{LineageEntry, LineageStore, MemoryLineage};
/// let store = MemoryLineage::new();
/// store.record(LineageEntry::run("child", "parent", "op-1", "make"));
/// assert_eq!(store.get("child").unwrap().parent.as_deref(), Some("parent"));
/// assert_eq!(store.children("parent").len(), 1);
/// ```
pub trait LineageStore: Send + Sync + fmt::Debug {
    /// Records (or replaces) the entry of `entry.image`.
    fn record(&self, entry: LineageEntry);
    /// The entry of `image`, if known.
    fn get(&self, image: &str) -> Option<LineageEntry>;
    /// The entries whose parent is `image`.
    fn children(&self, image: &str) -> Vec<LineageEntry>;
}

#[derive(Debug, Default)]
struct Maps {
    by_image: HashMap<String, LineageEntry>,
    children: HashMap<String, Vec<String>>,
}

impl Maps {
    fn insert(&mut self, e: LineageEntry) {
        if let Some(old) = self.by_image.get(&e.image)
            && let Some(p) = &old.parent
            && let Some(list) = self.children.get_mut(p)
        {
            list.retain(|c| *c != e.image);
        }
        if let Some(p) = &e.parent {
            self.children
                .entry(p.clone())
                .or_default()
                .push(e.image.clone());
        }
        self.by_image.insert(e.image.clone(), e);
    }

    fn children(&self, image: &str) -> Vec<LineageEntry> {
        self.children
            .get(image)
            .map(|c| {
                c.iter()
                    .filter_map(|i| self.by_image.get(i).cloned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Lineage in memory (the default): shared by the clones of a client, gone with it.
#[derive(Debug, Default)]
pub struct MemoryLineage {
    maps: Mutex<Maps>,
}

impl MemoryLineage {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LineageStore for MemoryLineage {
    fn record(&self, entry: LineageEntry) {
        self.maps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry);
    }
    fn get(&self, image: &str) -> Option<LineageEntry> {
        let m = self.maps.lock().unwrap_or_else(|p| p.into_inner());
        m.by_image.get(image).cloned()
    }
    fn children(&self, image: &str) -> Vec<LineageEntry> {
        self.maps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .children(image)
    }
}

/// Lineage in a JSON-lines file: every client pointed at the same file sees what the
/// others recorded (loaded when the store is made; each record is appended). A line
/// that cannot be read is skipped with a warning in the log.
///
/// ```
/// use contree::lineage::{FileLineage, LineageEntry, LineageStore};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("lineage.jsonl");
/// FileLineage::open(&path).record(LineageEntry::run("b", "a", "op", "make"));
/// assert_eq!(FileLineage::open(&path).get("b").unwrap().command.as_deref(), Some("make"));
/// ```
#[derive(Debug)]
pub struct FileLineage {
    path: PathBuf,
    mem: MemoryLineage,
    file: Mutex<()>,
}

impl FileLineage {
    /// Opens (or starts) the store at `path`.
    pub fn open(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let mem = MemoryLineage::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for (i, line) in text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
            {
                match serde_json::from_str::<LineageEntry>(line) {
                    Ok(e) => mem.record(e),
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        line = i + 1,
                        "skipping an unreadable lineage record: {e}"
                    ),
                }
            }
        }
        Self {
            path,
            mem,
            file: Mutex::new(()),
        }
    }

    /// The default path of the store: `lineage.jsonl` in the SDK's configuration directory
    /// ([`contree_auth::default_config_dir`]) of `env`, if one can be found. Pass the env
    /// the client is built with ([`contree_auth::OsEnv`] for the process environment).
    ///
    /// ```
    /// use std::path::Path;
    /// use contree::auth::MapEnv;
    /// use contree::lineage::FileLineage;
    /// let env = MapEnv::new().with("XDG_CONFIG_HOME", "/xdg");
    /// assert_eq!(
    ///     FileLineage::default_location(&env).as_deref(),
    ///     Some(Path::new("/xdg/contree/lineage.jsonl"))
    /// );
    /// assert_eq!(FileLineage::default_location(&MapEnv::new()), None);
    /// ```
    pub fn default_location(env: &dyn contree_auth::Env) -> Option<PathBuf> {
        Some(contree_auth::default_config_dir(env)?.join("lineage.jsonl"))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl LineageStore for FileLineage {
    fn record(&self, entry: LineageEntry) {
        use std::io::Write as _;
        let line = serde_json::to_string(&entry).unwrap_or_default();
        self.mem.record(entry);
        let _guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), "could not append to the lineage file: {e}");
        }
    }
    fn get(&self, image: &str) -> Option<LineageEntry> {
        self.mem.get(image)
    }
    fn children(&self, image: &str) -> Vec<LineageEntry> {
        self.mem.children(image)
    }
}
