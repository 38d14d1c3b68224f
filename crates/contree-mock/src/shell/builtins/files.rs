//! Builtins that change the filesystem: cd, mkdir, rm, rmdir, touch, cp, mv, ln, readlink.

use bytes::Bytes;

use super::perms::parse_mode;
use super::util::{basename, fs_msg, opts};
use super::{Ctx, R};
use crate::fs::{FileKind, Fs, FsError};
use crate::shell::exec::normalize;
use crate::shell::io::Broken;

pub(super) async fn cd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let args: Vec<&String> = a.iter().filter(|s| *s != "-L" && *s != "-P").collect();
    let target = match args.first().map(|s| s.as_str()) {
        None => c.sh.home(),
        Some("-") => c.sh.var("OLDPWD").unwrap_or("/").to_owned(),
        Some(p) => p.to_owned(),
    };
    let abs = c.abs(&target);
    let meta = c.fs().stat(&abs);
    match meta {
        Ok(m) if m.kind == FileKind::Dir => {
            let old = c.sh.cwd.clone();
            c.sh.set_var("OLDPWD", old);
            c.sh.cwd = abs.clone();
            c.sh.set_var("PWD", abs.clone());
            if args.first().map(|s| s.as_str()) == Some("-") {
                c.out.put(&format!("{abs}\n")).await?;
            }
            Ok(0)
        }
        Ok(_) => {
            c.fail(&format!("{target}: Not a directory")).await?;
            Ok(1)
        }
        Err(e) => {
            c.fail(&format!("{target}: {}", fs_msg(&e))).await?;
            Ok(1)
        }
    }
}

pub(super) async fn mkdir(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "m", "pv", &[("parents", 'p'), ("mode", 'm')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let mode = match o.value('m') {
        None => None,
        Some(m) => match parse_mode(m, 0o755, true) {
            Some(v) => Some(v),
            None => {
                c.fail(&format!("invalid mode '{m}'")).await?;
                return Ok(1);
            }
        },
    };
    let mut status = 0;
    for d in &o.operands {
        let abs = c.abs(d);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let res = {
            let mut fs = c.fs();
            if o.has('p') {
                // remember which components are new to give them to the user
                let mut created = Vec::new();
                let mut prefix = String::new();
                for comp in abs.split('/').filter(|s| !s.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(comp);
                    if !fs.exists(&prefix) {
                        created.push(prefix.clone());
                    }
                }
                let r = fs.mkdir_p(&abs);
                if r.is_ok() {
                    for p in created {
                        let _ = fs.chown(&p, uid, gid);
                    }
                }
                r
            } else {
                let r = fs.mkdir(&abs);
                if r.is_ok() {
                    let _ = fs.chown(&abs, uid, gid);
                }
                r
            }
        };
        match res {
            Ok(()) => {
                if let Some(m) = mode {
                    let _ = c.fs().chmod(&abs, m);
                }
            }
            Err(e) => {
                let reason = match e {
                    FsError::Exists(_) if o.has('p') => "Not a directory",
                    ref e => fs_msg(e),
                }
                .to_owned();
                c.fail(&format!("cannot create directory '{d}': {reason}"))
                    .await?;
                status = 1;
            }
        }
    }
    Ok(status)
}

pub(super) async fn rm(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "rRfdvI",
        &[
            ("recursive", 'r'),
            ("force", 'f'),
            ("dir", 'd'),
            ("no-preserve-root", 'I'),
        ],
    )
    .await?
    else {
        return Ok(1);
    };
    let recursive = o.has('r') || o.has('R');
    let force = o.has('f');
    if o.operands.is_empty() && !force {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        if abs == "/" {
            c.fail("it is dangerous to operate recursively on '/'")
                .await?;
            status = 1;
            continue;
        }
        let base = basename(p);
        if base == "." || base == ".." {
            c.fail(&format!(
                "refusing to remove '.' or '..' directory: skipping '{p}'"
            ))
            .await?;
            status = 1;
            continue;
        }
        let meta = c.fs().lstat(&abs);
        let res = match meta {
            Err(e) => {
                if !force {
                    c.fail(&format!("cannot remove '{p}': {}", fs_msg(&e)))
                        .await?;
                    status = 1;
                }
                continue;
            }
            Ok(m) if m.kind == FileKind::Dir && !recursive => {
                if o.has('d') {
                    c.fs().remove(&abs, false)
                } else {
                    Err(FsError::IsADirectory(p.clone()))
                }
            }
            Ok(_) => c.fs().remove(&abs, recursive),
        };
        if let Err(e) = res {
            c.fail(&format!("cannot remove '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn rmdir(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "pv", &[("parents", 'p')]).await? else {
        return Ok(1);
    };
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let meta = c.fs().lstat(&abs);
        let res = match meta {
            Ok(m) if m.kind != FileKind::Dir => Err(FsError::NotADirectory(p.clone())),
            Ok(_) => c.fs().remove(&abs, false),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            c.fail(&format!("failed to remove '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn touch(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "dtr", "cam", &[("no-create", 'c'), ("date", 'd')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing file operand").await?;
        return Ok(1);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let res = {
            let mut fs = c.fs();
            if fs.exists(&abs) {
                fs.set_mtime(&abs, now)
            } else if o.has('c') {
                Ok(())
            } else {
                fs.write(&abs, Bytes::new())
                    .and_then(|_| fs.chown(&abs, uid, gid))
            }
        };
        if let Err(e) = res {
            c.fail(&format!("cannot touch '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

/// Copies `src` to `dst` (both absolute); directories need `recursive`.
fn copy_path(
    fs: &mut Fs,
    src: &str,
    dst: &str,
    recursive: bool,
    preserve: bool,
    owner: (u32, u32),
) -> Result<(), String> {
    let m = fs
        .stat(src)
        .map_err(|e| format!("cannot stat '{src}': {}", e.reason()))?;
    if m.kind == FileKind::Dir {
        if !recursive {
            return Err(format!("-r not specified; omitting directory '{src}'"));
        }
        let src_c = fs.canonicalize(src).map_err(|e| e.to_string())?;
        let dst_c = fs.canonicalize(dst).unwrap_or_else(|_| dst.to_owned());
        if dst_c == src_c || dst_c.starts_with(&format!("{}/", src_c.trim_end_matches('/'))) {
            return Err(format!(
                "cannot copy a directory, '{src}', into itself, '{dst}'"
            ));
        }
        let entries = fs.walk(src).map_err(|e| e.to_string())?;
        let root = entries.first().map(|e| e.0.clone()).unwrap_or_default();
        for (path, meta) in entries {
            let target = format!("{dst}{}", &path[root.len()..]);
            let target = if path == root {
                dst.to_owned()
            } else {
                target.replacen("//", "/", 1)
            };
            let r = match meta.kind {
                FileKind::Dir => {
                    let r = fs.mkdir_p(&target);
                    let _ = fs.chmod(&target, meta.mode);
                    r
                }
                FileKind::File => {
                    let data = fs.read(&path).map_err(|e| e.to_string())?;
                    let r = fs.write(&target, data);
                    let _ = fs.chmod(&target, meta.mode);
                    r
                }
                FileKind::Symlink => {
                    if fs.lstat(&target).is_ok() {
                        let _ = fs.remove(&target, true);
                    }
                    fs.symlink(&meta.symlink_to, &target)
                }
            };
            r.map_err(|e| format!("cannot create '{target}': {}", e.reason()))?;
            let (u, g) = if preserve {
                (meta.uid, meta.gid)
            } else {
                owner
            };
            let _ = fs.chown(&target, u, g);
            if preserve {
                let _ = fs.set_mtime(&target, meta.mtime);
            }
        }
        return Ok(());
    }
    let data = fs
        .read(src)
        .map_err(|e| format!("cannot open '{src}' for reading: {}", e.reason()))?;
    let existed = fs.exists(dst);
    fs.write(dst, data)
        .map_err(|e| format!("cannot create regular file '{dst}': {}", e.reason()))?;
    if !existed || preserve {
        let _ = fs.chmod(dst, m.mode);
        let (u, g) = if preserve { (m.uid, m.gid) } else { owner };
        let _ = fs.chown(dst, u, g);
    }
    if preserve {
        let _ = fs.set_mtime(dst, m.mtime);
    }
    Ok(())
}

/// Splits operands into sources and destination; the destination becomes `dst/basename`
/// when it is a directory.
async fn targets(
    c: &mut Ctx<'_>,
    operands: &[String],
    no_target_dir: bool,
) -> Result<Option<Vec<(String, String, String)>>, Broken> {
    if operands.len() < 2 {
        let msg = if operands.is_empty() {
            "missing file operand".to_owned()
        } else {
            format!("missing destination file operand after '{}'", operands[0])
        };
        c.fail(&msg).await?;
        return Ok(None);
    }
    let (srcs, dst) = operands.split_at(operands.len() - 1);
    let dst = &dst[0];
    let dst_abs = c.abs(dst);
    let dst_is_dir = !no_target_dir && c.fs().stat(&dst_abs).is_ok_and(|m| m.kind == FileKind::Dir);
    if srcs.len() > 1 && !dst_is_dir {
        c.fail(&format!("target '{dst}': Not a directory")).await?;
        return Ok(None);
    }
    Ok(Some(
        srcs.iter()
            .map(|s| {
                let target = if dst_is_dir {
                    normalize(&format!("{dst_abs}/{}", basename(s)))
                } else {
                    dst_abs.clone()
                };
                (s.clone(), c.abs(s), target)
            })
            .collect(),
    ))
}

pub(super) async fn cp(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "rRapfvnTPLdu",
        &[
            ("recursive", 'r'),
            ("archive", 'a'),
            ("force", 'f'),
            ("no-clobber", 'n'),
        ],
    )
    .await?
    else {
        return Ok(1);
    };
    let Some(list) = targets(c, &o.operands, o.has('T')).await? else {
        return Ok(1);
    };
    let recursive = o.has('r') || o.has('R') || o.has('a');
    let preserve = o.has('a') || o.has('p');
    let owner = (c.sh.uid, c.sh.gid);
    let mut status = 0;
    for (disp, src, dst) in list {
        if o.has('n') && c.fs().exists(&dst) {
            continue;
        }
        let r = copy_path(&mut c.fs(), &src, &dst, recursive, preserve, owner);
        if let Err(e) = r {
            c.fail(&e.replace(&src, &disp)).await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn mv(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "fivnT", &[("force", 'f'), ("no-clobber", 'n')]).await? else {
        return Ok(1);
    };
    let Some(list) = targets(c, &o.operands, o.has('T')).await? else {
        return Ok(1);
    };
    let mut status = 0;
    for (disp, src, dst) in list {
        if o.has('n') && c.fs().exists(&dst) {
            continue;
        }
        let r = c.fs().rename(&src, &dst);
        if let Err(e) = r {
            let msg = match e {
                FsError::NotFound(_) => format!("cannot stat '{disp}': No such file or directory"),
                FsError::Invalid(m) => m,
                e => format!("cannot move '{disp}': {}", e.reason()),
            };
            c.fail(&msg).await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn ln(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "sfnvT", &[("symbolic", 's'), ("force", 'f')]).await? else {
        return Ok(1);
    };
    let mut operands = o.operands.clone();
    if operands.len() == 1 {
        operands.push(basename(&operands[0]));
    }
    if operands.is_empty() {
        c.fail("missing file operand").await?;
        return Ok(1);
    }
    let (targets_, link) = operands.split_at(operands.len() - 1);
    let link = &link[0];
    let link_abs = c.abs(link);
    let link_is_dir = !o.has('n')
        && !o.has('T')
        && c.fs()
            .stat(&link_abs)
            .is_ok_and(|m| m.kind == FileKind::Dir);
    if targets_.len() > 1 && !link_is_dir {
        c.fail(&format!("target '{link}': Not a directory")).await?;
        return Ok(1);
    }
    let mut status = 0;
    for t in targets_ {
        let path = if link_is_dir {
            normalize(&format!("{link_abs}/{}", basename(t)))
        } else {
            link_abs.clone()
        };
        let t_abs = c.abs(t);
        let r = {
            let mut fs = c.fs();
            if o.has('f') && fs.lstat(&path).is_ok_and(|m| m.kind != FileKind::Dir) {
                let _ = fs.remove(&path, false);
            }
            if o.has('s') {
                fs.symlink(t, &path)
            } else {
                match fs.stat(&t_abs) {
                    Ok(m) if m.kind == FileKind::Dir => Err(FsError::Invalid(format!(
                        "'{t}': hard link not allowed for directory"
                    ))),
                    Ok(m) => {
                        if fs.exists(&path) {
                            Err(FsError::Exists(path.clone()))
                        } else {
                            fs.read(&t_abs)
                                .and_then(|d| fs.write_with(&path, d, m.mode, m.uid, m.gid))
                        }
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = r {
            let kind = if o.has('s') {
                "symbolic link"
            } else {
                "hard link"
            };
            let msg = match e {
                FsError::Invalid(m) => m,
                e => format!("failed to create {kind} '{link}': {}", e.reason()),
            };
            c.fail(&msg).await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn readlink(c: &mut Ctx<'_>, name: &str, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "femnqsvz", &[]).await? else {
        return Ok(1);
    };
    let canon = name == "realpath" || o.has('f') || o.has('e') || o.has('m');
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let r = {
            let fs = c.fs();
            if canon {
                fs.canonicalize(&abs)
                    .ok()
                    .filter(|q| !o.has('e') || fs.exists(q))
            } else {
                fs.lstat(&abs)
                    .ok()
                    .filter(|m| m.kind == FileKind::Symlink)
                    .map(|m| m.symlink_to)
            }
        };
        match r {
            Some(v) => c.out.put(&format!("{v}\n")).await?,
            None => {
                if name == "realpath" {
                    c.fail(&format!("{p}: No such file or directory")).await?;
                }
                status = 1;
            }
        }
    }
    Ok(status)
}
