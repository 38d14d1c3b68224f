//! Injectable environment and filesystem access.
//!
//! Every lookup this crate makes goes through [`Env`] and [`Fs`], so that applications and
//! tests can resolve credentials against a fake environment and a fake (or temporary) home
//! directory without touching the process environment (`std::env::set_var` is `unsafe` in
//! edition 2024 and racy across tests).

use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Read access to environment variables.
///
/// ```
/// use contree_auth::{Env, MapEnv};
/// let env = MapEnv::from_iter([("NEBIUS_API_KEY", "t0ken")]);
/// assert_eq!(env.get("NEBIUS_API_KEY").as_deref(), Some("t0ken"));
/// assert_eq!(env.get("HOME"), None);
/// ```
pub trait Env: Send + Sync + Debug {
    /// The value of the variable `name`, or `None` when it is unset (or, for the real
    /// environment, not valid UTF-8).
    fn get(&self, name: &str) -> Option<String>;
}

/// The real process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsEnv;

impl Env for OsEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// An environment backed by a map, for tests and for applications that compute their
/// own environment.
#[derive(Debug, Clone, Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
}

impl MapEnv {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a variable (builder style).
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for MapEnv {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl Env for MapEnv {
    fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// The value of `name` if it is set and not blank (blank counts as unset), trimmed.
pub(crate) fn non_blank(env: &dyn Env, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The filesystem operations this crate needs.
///
/// ```
/// use std::path::Path;
/// use contree_auth::{Fs, MemFs};
/// let fs = MemFs::new();
/// fs.write_atomic(Path::new("/home/me/.config/contree/auth.ini"), b"[DEFAULT]\n").unwrap();
/// assert_eq!(fs.read(Path::new("/home/me/.config/contree/auth.ini")).unwrap(), b"[DEFAULT]\n");
/// assert_eq!(fs.mode(Path::new("/home/me/.config/contree/auth.ini")).unwrap(), Some(0o600));
/// ```
pub trait Fs: Send + Sync + Debug {
    /// Reads a whole file. A missing file is an error of kind [`io::ErrorKind::NotFound`].
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;

    /// The Unix permission bits (`0o777` mask) of an existing file, or `None` where the
    /// platform has none.
    fn mode(&self, path: &Path) -> io::Result<Option<u32>>;

    /// Replaces `path` atomically with `contents`: creates missing parent directories,
    /// writes a temporary file with mode `0600` beside it, then renames it over `path`
    /// (over the target when `path` is a symlink).
    fn write_atomic(&self, path: &Path, contents: &[u8]) -> io::Result<()>;
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFs;

impl Fs for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let meta = std::fs::metadata(path)?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        std::fs::read(path)
    }

    fn mode(&self, path: &Path) -> io::Result<Option<u32>> {
        let meta = std::fs::metadata(path)?;
        Ok(unix_mode(&meta))
    }

    fn write_atomic(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        use std::io::Write;

        // Replace the target of a symlink (e.g. a dotfiles checkout), not the link itself.
        let resolved;
        let path = match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                resolved = std::fs::canonicalize(path)?;
                resolved.as_path()
            }
            _ => path,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir)?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "auth.ini".to_string());
        let tmp = dir.join(format!(
            ".{file_name}.tmp.{}.{}",
            std::process::id(),
            unique_suffix()
        ));
        let result = (|| {
            let mut file = open_private(&tmp)?;
            file.write_all(contents)?;
            file.sync_all()?;
            drop(file);
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(unix)]
fn open_private(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    // The umask may have removed bits but never adds any; make the mode exact anyway.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn unix_mode(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    Some(meta.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn unix_mode(_meta: &std::fs::Metadata) -> Option<u32> {
    None
}

type FileMap = HashMap<PathBuf, (Vec<u8>, u32)>;

/// An in-memory filesystem (cheap to clone; clones share the same files). Files written
/// through [`Fs::write_atomic`] get mode `0600`; [`MemFs::insert`] lets tests choose a mode.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: Arc<Mutex<FileMap>>,
}

impl MemFs {
    /// An empty filesystem.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces a file with the given contents and permission bits.
    pub fn insert(&self, path: impl Into<PathBuf>, contents: impl Into<Vec<u8>>, mode: u32) {
        self.lock()
            .insert(path.into(), (contents.into(), mode & 0o777));
    }

    /// The contents of a file, if it exists.
    pub fn get(&self, path: &Path) -> Option<Vec<u8>> {
        self.lock().get(path).map(|(c, _)| c.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FileMap> {
        // A poisoned lock only means another thread panicked mid-insert; the map is still
        // consistent (every operation is a single insert/lookup).
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Fs for MemFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.lock()
            .get(path)
            .map(|(c, _)| c.clone())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn mode(&self, path: &Path) -> io::Result<Option<u32>> {
        self.lock()
            .get(path)
            .map(|(_, m)| Some(*m))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn write_atomic(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        self.lock()
            .insert(path.to_path_buf(), (contents.to_vec(), 0o600));
        Ok(())
    }
}
