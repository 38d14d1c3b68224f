//! Safe extraction of a tar archive into a directory ([`Archive::extract_to`](crate::Archive::extract_to)).
//!
//! Every entry path is resolved against what is already on disk inside the canonical
//! destination: a symbolic link on the way is followed only when it resolves inside, and a
//! link target is checked the same way, with `..` allowed only where it climbs out of a real
//! directory (never out of a link or a path that does not exist yet, whose meaning a later
//! entry could change). A directory is never replaced by anything else, a file is never
//! written through an existing link (the link is replaced), and modes lose their setuid,
//! setgid and sticky bits. On failure everything the extraction created is removed.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Inner, Result};

/// The permission bits kept from an archive (no setuid, setgid or sticky bit).
const MODE_MASK: u32 = 0o777;

/// Extracts `reader` into `dir` (which exists); `dir_created` when the caller created it,
/// so a failed extraction removes it too. Returns the number of entries written.
pub(crate) fn extract(reader: impl Read, dir: &Path, dir_created: bool) -> Result<usize> {
    let root = fs::canonicalize(dir).map_err(|e| Error::io("resolving", dir, e))?;
    let mut x = Extractor {
        root,
        created: Vec::new(),
        dir_modes: Vec::new(),
    };
    match x.run(reader) {
        Ok(n) => {
            x.apply_dir_modes();
            Ok(n)
        }
        Err(e) => {
            x.undo();
            if dir_created {
                let _ = fs::remove_dir(dir);
            }
            Err(e)
        }
    }
}

#[derive(Debug)]
enum Created {
    Dir(PathBuf),
    NonDir(PathBuf),
}

struct Extractor {
    /// The canonical destination.
    root: PathBuf,
    /// What was created, in order (undone in reverse on failure).
    created: Vec<Created>,
    /// Modes of extracted directories, applied at the end (a read-only directory would
    /// refuse its own entries).
    dir_modes: Vec<(PathBuf, u32)>,
}

fn refuse(entry: &Path, reason: impl Into<String>) -> Error {
    Error::new(Inner::UnsafeArchive {
        entry: entry.display().to_string(),
        reason: reason.into(),
    })
}

/// The normal components of an entry path (`.` dropped); `None` for an absolute path or
/// one with `..`.
fn normal_components(p: &Path) -> Option<Vec<OsString>> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

impl Extractor {
    fn run(&mut self, reader: impl Read) -> Result<usize> {
        let root = self.root.clone();
        let mut ar = tar::Archive::new(reader);
        let entries = ar
            .entries()
            .map_err(|e| Error::io("reading the archive for", &root, e))?;
        let mut n = 0;
        for entry in entries {
            let mut entry = entry.map_err(|e| Error::io("reading the archive for", &root, e))?;
            if self.entry(&mut entry)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Extracts one entry; false for entries that are skipped (devices, FIFOs, headers).
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<bool> {
        let raw = entry
            .path()
            .map_err(|e| Error::io("reading an archive entry for", &self.root, e))?
            .into_owned();
        let Some(mut comps) = normal_components(&raw) else {
            return Err(refuse(&raw, "its path is absolute or climbs out with `..`"));
        };
        let kind = entry.header().entry_type();
        let mode = entry.header().mode().unwrap_or(0o644) & MODE_MASK;
        let Some(name) = comps.pop() else {
            // The destination itself (`./`).
            return Ok(false);
        };
        let handled = kind.is_dir()
            || kind.is_file()
            || kind == tar::EntryType::Continuous
            || kind.is_symlink()
            || kind.is_hard_link();
        if !handled {
            tracing::debug!(entry = %raw.display(), kind = ?kind, "archive entry skipped");
            return Ok(false);
        }
        let parent = self.dir_for(&raw, &comps)?;
        let dest = parent.join(&name);
        if kind.is_dir() {
            self.make_dir(&raw, &dest, mode)?;
        } else if kind.is_symlink() {
            let target = self.link_name(&raw, entry)?;
            self.check_symlink_target(&raw, &parent, &target)?;
            self.clear_for_non_dir(&raw, &dest)?;
            std::os::unix::fs::symlink(&target, &dest)
                .map_err(|e| Error::io("creating a symbolic link at", &dest, e))?;
            self.created.push(Created::NonDir(dest));
        } else if kind.is_hard_link() {
            let target = self.link_name(&raw, entry)?;
            let source = self.hard_link_source(&raw, &target)?;
            self.clear_for_non_dir(&raw, &dest)?;
            fs::hard_link(&source, &dest)
                .map_err(|e| Error::io("creating a hard link at", &dest, e))?;
            self.created.push(Created::NonDir(dest));
        } else {
            self.write_file(&raw, entry, &dest, mode)?;
        }
        Ok(true)
    }

    fn link_name<R: Read>(&self, raw: &Path, entry: &tar::Entry<'_, R>) -> Result<PathBuf> {
        entry
            .link_name()
            .map_err(|e| Error::io("reading an archive link for", &self.root, e))?
            .map(|t| t.into_owned())
            .ok_or_else(|| refuse(raw, "it is a link without a target"))
    }

    /// The real directory (canonical, inside the root) for `comps` below the root,
    /// creating missing directories; links on the way are followed only inside.
    fn dir_for(&mut self, raw: &Path, comps: &[OsString]) -> Result<PathBuf> {
        let mut cur = self.root.clone();
        for c in comps {
            let next = cur.join(c);
            match fs::symlink_metadata(&next) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&next).map_err(|e| Error::io("creating directory", &next, e))?;
                    self.created.push(Created::Dir(next.clone()));
                    cur = next;
                }
                Err(e) => return Err(Error::io("inspecting", &next, e)),
                Ok(m) if m.file_type().is_symlink() => {
                    let resolved = self.resolve_inside(raw, &next)?;
                    if !resolved.is_dir() {
                        return Err(refuse(
                            raw,
                            "its path goes through a link to a non-directory",
                        ));
                    }
                    cur = resolved;
                }
                Ok(m) if m.is_dir() => cur = next,
                Ok(_) => {
                    return Err(refuse(
                        raw,
                        "its path goes through a file that is not a directory",
                    ));
                }
            }
        }
        Ok(cur)
    }

    /// Where the existing link `link` leads, refused unless inside the root.
    fn resolve_inside(&self, raw: &Path, link: &Path) -> Result<PathBuf> {
        let resolved = fs::canonicalize(link)
            .map_err(|_| refuse(raw, "its path goes through a link that does not resolve"))?;
        if resolved.starts_with(&self.root) {
            Ok(resolved)
        } else {
            Err(refuse(
                raw,
                "its path goes through a link that points outside",
            ))
        }
    }

    /// Refuses a symlink target that leads, or could later lead, outside the root.
    fn check_symlink_target(&self, raw: &Path, parent: &Path, target: &Path) -> Result<()> {
        let outside = || {
            refuse(
                raw,
                format!("its link target `{}` leads outside", target.display()),
            )
        };
        let mut cur = parent.to_path_buf();
        // Whether `cur` is a real directory chain (so `..` means its lexical parent for good).
        let mut real = true;
        for c in target.components() {
            match c {
                Component::CurDir => {}
                Component::RootDir | Component::Prefix(_) => return Err(outside()),
                Component::ParentDir => {
                    if !real || cur == self.root {
                        return Err(outside());
                    }
                    cur.pop();
                }
                Component::Normal(n) => {
                    let next = cur.join(n);
                    if !real {
                        cur = next;
                        continue;
                    }
                    match fs::symlink_metadata(&next) {
                        Ok(m) if m.file_type().is_symlink() => {
                            cur = match fs::canonicalize(&next) {
                                Ok(r) if r.starts_with(&self.root) => r,
                                Ok(_) => return Err(outside()),
                                Err(_) => next,
                            };
                            real = false;
                        }
                        Ok(m) if m.is_dir() => cur = next,
                        _ => {
                            cur = next;
                            real = false;
                        }
                    }
                }
            }
        }
        if cur.starts_with(&self.root) {
            Ok(())
        } else {
            Err(outside())
        }
    }

    /// The existing file a hard link entry names (relative to the archive root).
    fn hard_link_source(&mut self, raw: &Path, target: &Path) -> Result<PathBuf> {
        let Some(mut comps) = normal_components(target) else {
            return Err(refuse(
                raw,
                "its hard link target is absolute or climbs out with `..`",
            ));
        };
        let name = comps
            .pop()
            .ok_or_else(|| refuse(raw, "its hard link target is the destination itself"))?;
        let source = self.dir_for(raw, &comps)?.join(name);
        let meta = fs::symlink_metadata(&source).map_err(|_| {
            refuse(
                raw,
                "its hard link target does not exist in the destination",
            )
        })?;
        if meta.is_dir() {
            return Err(refuse(raw, "its hard link target is a directory"));
        }
        if meta.file_type().is_symlink() {
            self.resolve_inside(raw, &source)?;
        }
        Ok(source)
    }

    /// Makes room at `dest` for a non-directory: an existing file or link is removed (never
    /// written through), an existing directory is refused.
    fn clear_for_non_dir(&self, raw: &Path, dest: &Path) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("inspecting", dest, e)),
            Ok(m) if m.is_dir() => Err(refuse(raw, "it would replace a directory")),
            Ok(_) => fs::remove_file(dest).map_err(|e| Error::io("replacing", dest, e)),
        }
    }

    fn make_dir(&mut self, raw: &Path, dest: &Path, mode: u32) -> Result<()> {
        match fs::symlink_metadata(dest) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                // A file or a link is replaced by the directory.
                self.clear_for_non_dir(raw, dest)?;
                self.create_dir(dest)?;
            }
            Err(_) => self.create_dir(dest)?,
        }
        // The owner keeps full access, so the extracted tree can be changed and removed.
        self.dir_modes.push((dest.to_path_buf(), mode | 0o700));
        Ok(())
    }

    fn create_dir(&mut self, dest: &Path) -> Result<()> {
        fs::create_dir(dest).map_err(|e| Error::io("creating directory", dest, e))?;
        self.created.push(Created::Dir(dest.to_path_buf()));
        Ok(())
    }

    fn write_file<R: Read>(
        &mut self,
        raw: &Path,
        entry: &mut tar::Entry<'_, R>,
        dest: &Path,
        mode: u32,
    ) -> Result<()> {
        self.clear_for_non_dir(raw, dest)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dest)
            .map_err(|e| Error::io("creating", dest, e))?;
        self.created.push(Created::NonDir(dest.to_path_buf()));
        io::copy(entry, &mut file).map_err(|e| Error::io("writing", dest, e))?;
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io("setting the mode of", dest, e))?;
        if let Ok(mtime) = entry.header().mtime() {
            let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime);
            let _ = file.set_modified(t);
        }
        Ok(())
    }

    fn apply_dir_modes(&self) {
        // Deepest first, so a read-only parent is set after its children.
        for (dir, mode) in self.dir_modes.iter().rev() {
            let _ = fs::set_permissions(dir, fs::Permissions::from_mode(*mode));
        }
    }

    fn undo(&mut self) {
        for c in self.created.drain(..).rev() {
            let _ = match c {
                Created::Dir(p) => fs::remove_dir(p),
                Created::NonDir(p) => fs::remove_file(p),
            };
        }
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
