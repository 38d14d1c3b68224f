//! Builtins that change modes and owners: chmod, chown.

use super::util::{lookup_id, opts};
use super::{Ctx, R};
use crate::fs::{FileKind, Meta};

pub(super) fn parse_mode(spec: &str, current: u32, is_dir: bool) -> Option<u32> {
    if !spec.is_empty() && spec.chars().all(|c| ('0'..='7').contains(&c)) {
        return u32::from_str_radix(spec, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let ch: Vec<char> = clause.chars().collect();
        let mut i = 0;
        let mut who = 0u32;
        while i < ch.len() && "ugoa".contains(ch[i]) {
            who |= match ch[i] {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        let implicit = who == 0;
        if implicit {
            who = 0o7777;
        }
        if i >= ch.len() {
            return None;
        }
        while i < ch.len() {
            let op = ch[i];
            if !"+-=".contains(op) {
                return None;
            }
            i += 1;
            let mut bits = 0u32;
            while i < ch.len() && "rwxXst".contains(ch[i]) {
                bits |= match ch[i] {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        if is_dir || mode & 0o111 != 0 {
                            0o111
                        } else {
                            0
                        }
                    }
                    's' => 0o6000,
                    _ => 0o1000,
                };
                i += 1;
            }
            let mut eff = bits & who;
            if implicit {
                eff &= !0o022 | (bits & 0o7000) | 0o755;
            }
            match op {
                '+' => mode |= eff,
                '-' => mode &= !eff,
                _ => mode = (mode & !(who & 0o7777)) | eff,
            }
        }
    }
    Some(mode)
}
pub(super) async fn chmod(c: &mut Ctx<'_>, a: &[String]) -> R {
    // modes like -x look like options: take the first non-option operand as the mode
    let mut recursive = false;
    let mut rest = Vec::new();
    for s in a {
        if s == "-R" || s == "--recursive" {
            recursive = true;
        } else if s == "-v" || s == "-f" || s == "-c" {
        } else {
            rest.push(s.clone());
        }
    }
    if rest.len() < 2 {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let spec = rest.remove(0);
    let mut status = 0;
    for p in rest {
        let abs = c.abs(&p);
        let paths = change_set(c, &abs, recursive);
        if paths.is_empty() {
            c.fail(&format!("cannot access '{p}': No such file or directory"))
                .await?;
            status = 1;
            continue;
        }
        for (path, m) in paths {
            if m.kind == FileKind::Symlink {
                continue;
            }
            match parse_mode(&spec, m.mode, m.kind == FileKind::Dir) {
                Some(mode) => {
                    let _ = c.fs().chmod(&path, mode);
                }
                None => {
                    c.fail(&format!("invalid mode: '{spec}'")).await?;
                    return Ok(1);
                }
            }
        }
    }
    Ok(status)
}

pub(super) async fn chown(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "Rhvf", &[("recursive", 'R')]).await? else {
        return Ok(1);
    };
    if o.operands.len() < 2 {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let spec = &o.operands[0];
    let (u, g) = match spec.split_once([':', '.']) {
        Some((u, g)) => (u, Some(g)),
        None => (spec.as_str(), None),
    };
    let (uid, gid) = {
        let fs = c.fs();
        let uid = if u.is_empty() {
            None
        } else {
            u.parse()
                .ok()
                .or_else(|| lookup_id(&fs, "/etc/passwd", u))
                .map(Some)
                .unwrap_or(Some(u32::MAX))
        };
        let gid = match g {
            None | Some("") => None,
            Some(g) => Some(
                g.parse()
                    .ok()
                    .or_else(|| lookup_id(&fs, "/etc/group", g))
                    .unwrap_or(u32::MAX),
            ),
        };
        (uid, gid)
    };
    if uid == Some(u32::MAX) || gid == Some(u32::MAX) {
        c.fail(&format!("invalid user: '{spec}'")).await?;
        return Ok(1);
    }
    let mut status = 0;
    for p in &o.operands[1..] {
        let abs = c.abs(p);
        let paths = change_set(c, &abs, o.has('R'));
        if paths.is_empty() {
            c.fail(&format!("cannot access '{p}': No such file or directory"))
                .await?;
            status = 1;
        }
        for (path, m) in paths {
            let _ = c
                .fs()
                .chown(&path, uid.unwrap_or(m.uid), gid.unwrap_or(m.gid));
        }
    }
    Ok(status)
}

/// What chmod and chown change: `abs`, or everything under it with `-R` (empty when it does
/// not exist).
fn change_set(c: &Ctx<'_>, abs: &str, recursive: bool) -> Vec<(String, Meta)> {
    let fs = c.fs();
    if recursive {
        fs.walk(abs).unwrap_or_default()
    } else {
        fs.stat(abs)
            .map(|m| vec![(abs.to_owned(), m)])
            .unwrap_or_default()
    }
}
