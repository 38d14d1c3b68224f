//! Staging files for a step: local sources (with `.dockerignore`) and files of another
//! image (through its archive, no VM).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use sha2::{Digest, Sha256};

use super::CopyOptions;
use super::key::KeyFile;
use crate::error::{Error, Result};

/// A file staged for the next layer.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) dest: String,
    pub(crate) path: PathBuf,
    /// Already on the server (a synced file): nothing to upload.
    pub(crate) uploaded: Option<crate::files::UploadedFile>,
    pub(crate) sha: String,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

impl Pending {
    pub(crate) fn key_file(&self) -> KeyFile {
        KeyFile {
            path: self.dest.clone(),
            sha: self.sha.clone(),
            uid: self.uid,
            gid: self.gid,
            mode: contree_proto::mode::format_mode(self.mode),
        }
    }
}

/// Adds `files` to `pending`; a later file at the same destination replaces an earlier one.
pub(crate) fn stage(pending: &mut Vec<Pending>, files: Vec<Pending>) {
    for f in files {
        pending.retain(|p| p.dest != f.dest);
        pending.push(f);
    }
}

/// The files of a synced map, staged as they are (already uploaded).
pub(crate) fn from_map(map: &crate::sync::FileMap) -> Vec<Pending> {
    map.files()
        .iter()
        .map(|(dest, f)| Pending {
            dest: dest.clone(),
            path: PathBuf::new(),
            uploaded: Some(f.file.clone()),
            sha: f.file.sha256().to_ascii_lowercase(),
            mode: f.mode,
            uid: f.uid,
            gid: f.gid,
        })
        .collect()
}

/// Joins `path` to `base` (unless absolute) and normalises `.`, `..` and repeated `/`.
pub(crate) fn join_abs(base: &str, path: &str) -> String {
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for c in joined.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Where a source goes: into `dest` when `dest` names a directory (ends with `/`, or
/// several sources), else at `dest`.
pub(crate) fn target_for(dest: &str, into_dir: bool, name: &str, workdir: &str) -> String {
    let d = join_abs(workdir, dest);
    if into_dir || dest.ends_with('/') || dest == "." {
        join_abs(&d, name)
    } else {
        d
    }
}

/// The ignore rules of a context: `.dockerignore` (if present) plus extra patterns.
/// Patterns are relative to the context root, as in `.dockerignore`.
pub(crate) fn ignore_rules(context: &Path, extra: &[String], read_file: bool) -> Result<Gitignore> {
    let mut lines: Vec<String> = Vec::new();
    let path = context.join(".dockerignore");
    if read_file && path.is_file() {
        let text =
            std::fs::read_to_string(&path).map_err(|e| Error::io("reading", path.clone(), e))?;
        lines.extend(text.lines().map(str::to_string));
    }
    lines.extend(extra.iter().cloned());
    let mut b = GitignoreBuilder::new(context);
    for line in lines {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let (neg, body) = match t.strip_prefix('!') {
            Some(rest) => ("!", rest.trim()),
            None => ("", t),
        };
        let body = body.trim_start_matches("./").trim_start_matches('/');
        // `.dockerignore` patterns are anchored at the context root (gitignore's are not).
        let anchored = if body.starts_with("**") {
            body.to_string()
        } else {
            format!("/{body}")
        };
        b.add_line(None, &format!("{neg}{anchored}"))
            .map_err(|e| Error::invalid(format!("ignore pattern `{t}` is not valid: {e}")))?;
    }
    b.build()
        .map_err(|e| Error::invalid(format!("the ignore patterns are not valid: {e}")))
}

/// What a local COPY needs to know about its context.
pub(crate) struct LocalContext {
    pub(crate) root: PathBuf,
    pub(crate) confine: bool,
    pub(crate) ignore: Gitignore,
}

/// Collects the files of local `sources` for `dest` (blocking: hashes every file).
pub(crate) fn collect_local(
    ctx: &LocalContext,
    sources: &[PathBuf],
    dest: &str,
    workdir: &str,
    opts: CopyOptions,
) -> Result<Vec<Pending>> {
    let many = sources.len() > 1;
    let mut out = Vec::new();
    for src in sources {
        let path = if src.is_absolute() {
            src.clone()
        } else {
            ctx.root.join(src)
        };
        let meta = std::fs::metadata(&path).map_err(|e| {
            Error::io(
                "reading the COPY source (relative sources are read from the build context)",
                path.clone(),
                e,
            )
        })?;
        if ctx.confine {
            let root = ctx
                .root
                .canonicalize()
                .map_err(|e| Error::io("resolving the build context", ctx.root.clone(), e))?;
            let real = path
                .canonicalize()
                .map_err(|e| Error::io("resolving", path.clone(), e))?;
            if !real.starts_with(&root) {
                return Err(Error::invalid(format!(
                    "COPY source `{}` is outside the build context {}; move it into the context",
                    src.display(),
                    ctx.root.display()
                )));
            }
        }
        if meta.is_dir() {
            let base = join_abs(workdir, dest);
            for (rel, file) in walk_files(&path, ctx)? {
                out.push(pending(&file, join_abs(&base, &rel), opts)?);
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(pending(
                &path,
                target_for(dest, many, &name, workdir),
                opts,
            )?);
        }
    }
    Ok(out)
}

/// The regular files under `dir` not ignored by the context's rules, sorted, as
/// (path relative to `dir`, full path). Links are followed.
fn walk_files(dir: &Path, ctx: &LocalContext) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .follow_links(true)
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| Error::invalid(format!("walking {}: {e}", dir.display())))?;
        let p = entry.path();
        if !p.is_file() {
            continue;
        }
        if let Ok(in_ctx) = p.strip_prefix(&ctx.root)
            && ctx
                .ignore
                .matched_path_or_any_parents(in_ctx, false)
                .is_ignore()
        {
            continue;
        }
        let rel = p
            .strip_prefix(dir)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        files.push((rel, p.to_path_buf()));
    }
    files.sort();
    Ok(files)
}

/// A staged file for the local file `path` at `dest`.
fn pending(path: &Path, dest: String, opts: CopyOptions) -> Result<Pending> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io("reading metadata of", path, e))?;
    let (uid, gid) = opts.owner.unwrap_or((0, 0));
    Ok(Pending {
        dest,
        path: path.to_path_buf(),
        uploaded: None,
        sha: sha256_file_blocking(path)?,
        mode: opts.mode.unwrap_or_else(|| local_mode(&meta)),
        uid,
        gid,
    })
}

#[cfg(unix)]
fn local_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn local_mode(meta: &std::fs::Metadata) -> u32 {
    if meta.permissions().readonly() {
        0o444
    } else {
        0o644
    }
}

/// Hex sha256 of a local file (blocking).
pub(crate) fn sha256_file_blocking(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| Error::io("reading", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Collects the files extracted from another image's `src` into `dir` for `dest`
/// (blocking). Links and empty directories cannot ride on a run: they are reported.
pub(crate) fn collect_extracted(
    dir: &Path,
    src_is_dir: bool,
    src: &str,
    dest: &str,
    workdir: &str,
    opts: CopyOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<Pending>> {
    let mut out = Vec::new();
    let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let base = if src_is_dir {
        join_abs(workdir, dest)
    } else {
        String::new()
    };
    let walker = ignore::WalkBuilder::new(dir)
        .standard_filters(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    for entry in walker {
        let entry = entry.map_err(|e| Error::invalid(format!("walking {}: {e}", dir.display())))?;
        let p = entry.path();
        let rel = p
            .strip_prefix(dir)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        let ft = entry.file_type();
        if ft.is_some_and(|t| t.is_symlink()) {
            warnings.push(format!(
                "COPY --from: `{src}/{rel}` is a symbolic link; links are not copied"
            ));
            continue;
        }
        if ft.is_some_and(|t| t.is_dir()) {
            if !rel.is_empty()
                && std::fs::read_dir(p)
                    .map(|mut d| d.next().is_none())
                    .unwrap_or(false)
            {
                warnings.push(format!(
                    "COPY --from: `{src}/{rel}` is an empty directory; empty directories are not copied"
                ));
            }
            continue;
        }
        let target = if src_is_dir {
            join_abs(&base, &rel)
        } else if rel == name {
            target_for(dest, false, name, workdir)
        } else {
            continue;
        };
        out.push(pending(p, target, opts)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_and_normalise() {
        assert_eq!(join_abs("/", "a"), "/a");
        assert_eq!(join_abs("/src", "a/./b/"), "/src/a/b");
        assert_eq!(join_abs("/src", "/etc//x"), "/etc/x");
        assert_eq!(join_abs("/src/x", "../y"), "/src/y");
        assert_eq!(target_for("/app/", false, "f", "/"), "/app/f");
        assert_eq!(target_for("/app", false, "f", "/"), "/app");
        assert_eq!(target_for("/app", true, "f", "/"), "/app/f");
        assert_eq!(target_for(".", false, "f", "/w"), "/w/f");
    }

    #[test]
    fn dockerignore_is_anchored_and_negatable() {
        let dir = tempfile::tempdir().unwrap();
        let rules = ignore_rules(
            dir.path(),
            &[
                "*.log".into(),
                "build/".into(),
                "!keep.log".into(),
                "**/tmp".into(),
            ],
            false,
        )
        .unwrap();
        let ig = |p: &str, d: bool| rules.matched_path_or_any_parents(p, d).is_ignore();
        assert!(ig("a.log", false));
        assert!(
            !ig("sub/a.log", false),
            "anchored at the root, like .dockerignore"
        );
        assert!(!ig("keep.log", false));
        assert!(ig("build/x/y", false));
        assert!(ig("deep/er/tmp/f", false));
        assert!(!ig("src/main.rs", false));
    }
}
