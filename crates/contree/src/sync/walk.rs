//! Walking a directory for a sync: default excludes, `.gitignore`, user patterns and
//! secrets, with every skipped path reported.

use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::{SkipReason, Skipped};
use crate::error::{Error, Result};

/// Directory names left out unless [`SyncDir::default_excludes(false)`](super::SyncDir::default_excludes).
pub const DEFAULT_EXCLUDES: &[&str] = &[".git", "target", "node_modules", "__pycache__", ".venv"];

/// What the walk keeps: a regular file and its metadata.
#[derive(Debug, Clone)]
pub(crate) struct Found {
    pub(crate) path: PathBuf,
    pub(crate) rel: String,
    pub(crate) state: FileState,
}

/// What identifies an unchanged file without reading it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct FileState {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ino: u64,
    pub(crate) mode: u32,
}

impl FileState {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Self {
            size: meta.len(),
            mtime_ns,
            ino: ino(meta),
            mode: mode(meta),
        }
    }
}

#[cfg(unix)]
fn ino(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}
#[cfg(not(unix))]
fn ino(_: &std::fs::Metadata) -> u64 {
    0
}
#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::MetadataExt::mode(meta) & 0o7777
}
#[cfg(not(unix))]
fn mode(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// File names that usually hold secrets (left out unless asked for).
pub(crate) fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower == ".env"
        || lower.starts_with(".env.")
        || lower == ".netrc"
        || lower == ".pgpass"
        || [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"]
            .iter()
            .any(|ext| lower.ends_with(ext))
        || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
            .iter()
            .any(|k| lower.starts_with(k) && !lower.ends_with(".pub"))
}

/// The options of a walk.
pub(crate) struct WalkOptions {
    pub(crate) excludes: Vec<String>,
    pub(crate) default_excludes: bool,
    pub(crate) gitignore: bool,
    pub(crate) secrets: bool,
    pub(crate) follow_symlinks: bool,
}

/// What a walk found: files to sync, symlinks (when not followed) and skipped paths.
#[derive(Default)]
pub(crate) struct Walked {
    pub(crate) files: Vec<Found>,
    pub(crate) symlinks: Vec<(String, String)>,
    pub(crate) skipped: Vec<Skipped>,
}

/// Walks `root` (blocking).
pub(crate) fn walk(root: &Path, opts: &WalkOptions) -> Result<Walked> {
    let mut user = GitignoreBuilder::new(root);
    for p in &opts.excludes {
        user.add_line(None, p)
            .map_err(|e| Error::invalid(format!("exclude pattern `{p}` is not valid: {e}")))?;
    }
    let user = user
        .build()
        .map_err(|e| Error::invalid(format!("the exclude patterns are not valid: {e}")))?;
    let mut out = Walked::default();
    // `.gitignore` matchers of the directories above the current entry, outermost first.
    let mut stack: Vec<(PathBuf, Gitignore)> = Vec::new();
    let mut it = walkdir::WalkDir::new(root)
        .follow_links(opts.follow_symlinks)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = it.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                out.skipped.push(Skipped {
                    path: rel_of(root, &path),
                    reason: SkipReason::Unreadable(e.to_string()),
                });
                continue;
            }
        };
        let path = entry.path();
        let rel = rel_of(root, path);
        let is_dir = entry.file_type().is_dir();
        if entry.depth() == 0 {
            if is_dir && opts.gitignore {
                push_gitignore(&mut stack, path, &mut out);
            }
            continue;
        }
        stack.retain(|(dir, _)| path.starts_with(dir));
        let name = entry.file_name().to_string_lossy();
        let skip = |reason| Skipped {
            path: rel.clone(),
            reason,
        };
        let reason = if is_dir && opts.default_excludes && DEFAULT_EXCLUDES.contains(&&*name) {
            Some(SkipReason::DefaultExclude(name.to_string()))
        } else if user.matched(&rel, is_dir).is_ignore() {
            Some(SkipReason::Excluded)
        } else if let Some(file) = gitignored(&stack, path, is_dir) {
            Some(SkipReason::Gitignore(file))
        } else if !is_dir && !opts.secrets && looks_secret(&name) {
            Some(SkipReason::Secret)
        } else {
            None
        };
        if let Some(reason) = reason {
            out.skipped.push(skip(reason));
            if is_dir {
                it.skip_current_dir();
            }
            continue;
        }
        if is_dir {
            if opts.gitignore {
                push_gitignore(&mut stack, path, &mut out);
            }
            continue;
        }
        if entry.path_is_symlink() && !opts.follow_symlinks {
            let target = std::fs::read_link(path)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.symlinks.push((rel.clone(), target));
            out.skipped.push(skip(SkipReason::Symlink));
            continue;
        }
        match entry.metadata() {
            Ok(meta) if meta.is_file() => out.files.push(Found {
                path: path.to_path_buf(),
                rel,
                state: FileState::of(&meta),
            }),
            Ok(_) => out.skipped.push(skip(SkipReason::NotRegular)),
            Err(e) => out
                .skipped
                .push(skip(SkipReason::Unreadable(e.to_string()))),
        }
    }
    Ok(out)
}

fn rel_of(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}

fn push_gitignore(stack: &mut Vec<(PathBuf, Gitignore)>, dir: &Path, out: &mut Walked) {
    let file = dir.join(".gitignore");
    if !file.is_file() {
        return;
    }
    let (gi, err) = Gitignore::new(&file);
    if let Some(e) = err {
        out.skipped.push(Skipped {
            path: file.to_string_lossy().into_owned(),
            reason: SkipReason::Unreadable(format!(
                "some .gitignore lines were not understood: {e}"
            )),
        });
    }
    stack.push((dir.to_path_buf(), gi));
}

/// The `.gitignore` that ignores `path` (the innermost one with a matching rule decides).
fn gitignored(stack: &[(PathBuf, Gitignore)], path: &Path, is_dir: bool) -> Option<String> {
    for (dir, gi) in stack.iter().rev() {
        let m = gi.matched(path, is_dir);
        if m.is_ignore() {
            return Some(dir.join(".gitignore").to_string_lossy().into_owned());
        }
        if m.is_whitelist() {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for s in [
            ".env",
            ".env.local",
            "server.key",
            "cert.PEM",
            "id_rsa",
            "id_ed25519",
            ".netrc",
        ] {
            assert!(looks_secret(s), "{s}");
        }
        for s in [
            "env.py",
            "id_rsa.pub",
            "keys.txt",
            "main.rs",
            ".envrc.example.txt",
        ] {
            assert!(!looks_secret(s), "{s}");
        }
    }
}
