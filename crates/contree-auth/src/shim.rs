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
/// own environment. `Debug` lists the variable names only: values may be tokens.
///
/// ```
/// use contree_auth::MapEnv;
/// let env = MapEnv::new().with("NEBIUS_API_KEY", "t0ken");
/// assert!(format!("{env:?}").contains("NEBIUS_API_KEY"));
/// assert!(!format!("{env:?}").contains("t0ken"));
/// ```
#[derive(Clone, Default)]
pub struct MapEnv {
    vars: HashMap<String, String>,
}

impl std::fmt::Debug for MapEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.vars.keys().map(String::as_str).collect();
        names.sort_unstable();
        f.debug_struct("MapEnv")
            .field("vars", &names)
            .field("values", &"<redacted>")
            .finish()
    }
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

    /// Takes an exclusive lock that guards a read-modify-write of `path` against other
    /// writers, released when the returned guard is dropped. [`ProfileStore`](crate::ProfileStore)
    /// holds it from reading `auth.ini` to renaming the new file over it, so two processes
    /// editing profiles at once cannot lose each other's changes. The default takes no lock.
    fn lock(&self, path: &Path) -> io::Result<FsLock> {
        let _ = path;
        Ok(FsLock::none())
    }
}

/// The guard of [`Fs::lock`]; dropping it releases the lock.
///
/// ```
/// use std::path::Path;
/// use contree_auth::{Fs, MemFs};
/// let fs = MemFs::new();
/// let guard = fs.lock(Path::new("/a/auth.ini")).unwrap();
/// drop(guard); // released
/// ```
pub struct FsLock {
    file: Option<std::fs::File>,
    release: Option<Box<dyn FnOnce() + Send>>,
}

impl FsLock {
    /// A guard that holds nothing (for filesystems without locking).
    pub fn none() -> Self {
        Self {
            file: None,
            release: None,
        }
    }

    /// A guard that runs `release` when dropped (for custom [`Fs`] implementations).
    pub fn from_release(release: impl FnOnce() + Send + 'static) -> Self {
        Self {
            file: None,
            release: Some(Box::new(release)),
        }
    }
}

impl Drop for FsLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Closing the file releases the lock too; unlocking first is just explicit.
            let _ = file.unlock();
        }
        if let Some(release) = self.release.take() {
            release();
        }
    }
}

impl std::fmt::Debug for FsLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsLock")
            .field("file", &self.file.is_some())
            .finish_non_exhaustive()
    }
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
        let (path, dir) = resolve_target(path)?;
        let path = path.as_path();
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
        result?;
        sync_dir(&dir)
    }

    /// An exclusive `flock`-style lock on the directory that holds the (symlink-resolved)
    /// file (on Unix; elsewhere on a `<file>.lock` file beside it, mode `0600`, never
    /// removed). Locking the directory leaves nothing behind; the rename that replaces the
    /// file happens in that directory, so the lock covers exactly the read-modify-write.
    fn lock(&self, path: &Path) -> io::Result<FsLock> {
        let (path, dir) = resolve_target(path)?;
        let path = path.as_path();
        let file = open_lock_target(&dir, path)?;
        file.lock()?;
        Ok(FsLock {
            file: Some(file),
            release: None,
        })
    }
}

/// Makes a rename in `dir` durable (the new directory entry reaches the disk, not only the
/// file's data). Filesystems that cannot sync a directory are not an error.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    match std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn open_lock_target(dir: &Path, _file: &Path) -> io::Result<std::fs::File> {
    std::fs::File::open(dir)
}

#[cfg(not(unix))]
fn open_lock_target(dir: &Path, file: &Path) -> io::Result<std::fs::File> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "auth.ini".to_string());
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(format!("{name}.lock")))
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

/// The paths a [`MemFs`] has locked, and the condition waiters sleep on.
type LockTable = Arc<(
    Mutex<std::collections::HashSet<PathBuf>>,
    std::sync::Condvar,
)>;

/// An in-memory filesystem (cheap to clone; clones share the same files). Files written
/// through [`Fs::write_atomic`] get mode `0600`; [`MemFs::insert`] lets tests choose a mode.
/// `Debug` shows paths and sizes only: the contents may hold tokens.
#[derive(Clone, Default)]
pub struct MemFs {
    files: Arc<Mutex<FileMap>>,
    locks: LockTable,
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let files = self.lock();
        let mut list: Vec<(String, usize)> = files
            .iter()
            .map(|(p, (c, _))| (p.display().to_string(), c.len()))
            .collect();
        list.sort_unstable();
        let list: Vec<String> = list
            .into_iter()
            .map(|(p, n)| format!("{p} ({n} bytes)"))
            .collect();
        f.debug_struct("MemFs").field("files", &list).finish()
    }
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

    /// An in-process lock per path, shared by clones (like the real one across processes).
    fn lock(&self, path: &Path) -> io::Result<FsLock> {
        let (held, cvar) = &*self.locks;
        let mut set = held.lock().unwrap_or_else(|e| e.into_inner());
        while set.contains(path) {
            set = cvar.wait(set).unwrap_or_else(|e| e.into_inner());
        }
        set.insert(path.to_path_buf());
        let locks = self.locks.clone();
        let path = path.to_path_buf();
        Ok(FsLock::from_release(move || {
            let (held, cvar) = &*locks;
            held.lock().unwrap_or_else(|e| e.into_inner()).remove(&path);
            cvar.notify_all();
        }))
    }
}

/// The file a write or lock acts on (a symlink's target, not the link) and its directory,
/// created when missing.
fn resolve_target(path: &Path) -> io::Result<(PathBuf, PathBuf)> {
    let path = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path)?,
        _ => path.to_path_buf(),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    Ok((path, dir))
}
