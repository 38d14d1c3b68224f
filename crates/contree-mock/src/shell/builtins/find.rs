//! Builtins that walk and describe files: find, stat.

use super::ls::mode_string;
use super::util::{basename, fs_msg, group_name, opts, user_name};
use super::{Ctx, R};
use crate::fs::{FileKind, Fs, Meta};
use crate::shell::exec::glob_match;

pub(super) async fn find(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut roots = Vec::new();
    let mut i = 0;
    while i < a.len() && !a[i].starts_with('-') && a[i] != "(" && a[i] != "!" {
        roots.push(a[i].clone());
        i += 1;
    }
    if roots.is_empty() {
        roots.push(".".to_owned());
    }
    let expr = match find_expr(&a[i..]) {
        Ok(e) => e,
        Err(msg) => {
            c.fail(&msg).await?;
            return Ok(1);
        }
    };
    let mut status = 0;
    for root in roots {
        let abs = c.abs(&root);
        let walked = {
            let fs = c.fs();
            fs.lstat(&abs).and_then(|m| {
                if m.kind == FileKind::Symlink {
                    Ok(vec![(abs.clone(), m)])
                } else {
                    fs.walk(&abs)
                }
            })
        };
        let entries = match walked {
            Ok(e) => e,
            Err(e) => {
                c.fail(&format!("'{root}': {}", fs_msg(&e))).await?;
                status = 1;
                continue;
            }
        };
        let base_depth = abs.matches('/').count() - usize::from(abs == "/");
        for (path, m) in entries {
            let depth = if path == abs {
                0
            } else {
                path.matches('/').count() - base_depth
            };
            if depth > expr.maxdepth || depth < expr.mindepth {
                continue;
            }
            if expr.kind.as_ref().is_some_and(|k| *k != m.kind) {
                continue;
            }
            let disp = if path == abs {
                root.clone()
            } else {
                format!(
                    "{}{}",
                    root.trim_end_matches('/'),
                    &path[if abs == "/" { 0 } else { abs.len() }..]
                )
            };
            let name = if path == abs {
                basename(&root)
            } else {
                basename(&path)
            };
            let ok = name_matches(&expr.name_pats, &name, &disp);
            if ok {
                c.out.put(&format!("{disp}\n")).await?;
            }
        }
    }
    Ok(status)
}

/// The tests of a `find` expression (all must hold; there is no `-o`).
struct FindExpr {
    /// `-name`/`-iname`/`-path` patterns: pattern, case-insensitive, negated.
    name_pats: Vec<(Vec<char>, bool, bool)>,
    kind: Option<FileKind>,
    maxdepth: usize,
    mindepth: usize,
}

/// Parses the expression after the roots; the error is the message to print.
fn find_expr(a: &[String]) -> Result<FindExpr, String> {
    let mut i = 0;
    let mut name_pats: Vec<(Vec<char>, bool, bool)> = Vec::new(); // pattern, case-insensitive, negated
    let mut kind: Option<FileKind> = None;
    let mut maxdepth = usize::MAX;
    let mut mindepth = 0usize;
    let mut negate_next = false;
    while i < a.len() {
        let arg = a[i].as_str();
        let val = a.get(i + 1).cloned();
        match arg {
            "!" | "-not" => {
                negate_next = true;
                i += 1;
                continue;
            }
            "-name" | "-iname" | "-path" => {
                let Some(v) = val else {
                    return Err(format!("missing argument to `{arg}'"));
                };
                name_pats.push((v.chars().collect(), arg == "-iname", negate_next));
                i += 2;
            }
            "-type" => {
                kind = match val.as_deref() {
                    Some("f") => Some(FileKind::File),
                    Some("d") => Some(FileKind::Dir),
                    Some("l") => Some(FileKind::Symlink),
                    _ => {
                        return Err("Unknown argument to -type".to_owned());
                    }
                };
                i += 2;
            }
            "-maxdepth" | "-mindepth" => {
                let Some(n) = val.and_then(|v| v.parse::<usize>().ok()) else {
                    return Err(format!(
                        "Expected a positive decimal integer argument to {arg}"
                    ));
                };
                if arg == "-maxdepth" {
                    maxdepth = n
                } else {
                    mindepth = n
                }
                i += 2;
            }
            "-print" | "-a" | "-and" => i += 1,
            other => {
                return Err(format!("unknown predicate `{other}'"));
            }
        }
        negate_next = false;
    }
    Ok(FindExpr {
        name_pats,
        kind,
        maxdepth,
        mindepth,
    })
}

/// Whether `name` (or the displayed path `disp`) passes every name pattern.
fn name_matches(pats: &[(Vec<char>, bool, bool)], name: &str, disp: &str) -> bool {
    pats.iter().all(|(p, ci, neg)| {
        let subject: Vec<char> = if *ci {
            name.to_lowercase()
        } else {
            name.to_owned()
        }
        .chars()
        .collect();
        let pat: Vec<char> = if *ci {
            p.iter()
                .collect::<String>()
                .to_lowercase()
                .chars()
                .collect()
        } else {
            p.clone()
        };
        let hit = glob_match(&pat, &subject) || glob_match(&pat, &disp.chars().collect::<Vec<_>>());
        hit != *neg
    })
}

fn stat_format(fmt: &str, name: &str, m: &Meta, fs: &Fs) -> String {
    let mut out = String::new();
    let mut it = fmt.chars();
    let user = user_name(fs, m.uid).unwrap_or_else(|| "UNKNOWN".to_owned());
    let group = group_name(fs, m.gid).unwrap_or_else(|| "UNKNOWN".to_owned());
    let kind = match m.kind {
        FileKind::File if m.size == 0 => "regular empty file",
        FileKind::File => "regular file",
        FileKind::Dir => "directory",
        FileKind::Symlink => "symbolic link",
    };
    let time = time::OffsetDateTime::from_unix_timestamp(m.mtime)
        .map(|t| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02}.000000000 +0000",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    while let Some(ch) = it.next() {
        if ch == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
            continue;
        }
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match it.next() {
            Some('n') => out.push_str(name),
            Some('N') => {
                out.push_str(&format!("'{name}'"));
                if m.kind == FileKind::Symlink {
                    out.push_str(&format!(" -> '{}'", m.symlink_to));
                }
            }
            Some('s') => out.push_str(&m.size.to_string()),
            Some('a') => out.push_str(&format!("{:o}", m.mode & 0o7777)),
            Some('A') => out.push_str(&mode_string(m)),
            Some('f') => out.push_str(&format!("{:x}", m.mode)),
            Some('u') => out.push_str(&m.uid.to_string()),
            Some('g') => out.push_str(&m.gid.to_string()),
            Some('U') => out.push_str(&user),
            Some('G') => out.push_str(&group),
            Some('F') => out.push_str(kind),
            Some('h') => out.push_str(&m.nlink.to_string()),
            Some('b') => out.push_str(&((m.size + 511) / 512).to_string()),
            Some('B') => out.push_str("512"),
            Some('i') => out.push('0'),
            Some('Y') | Some('X') | Some('Z') | Some('W') => out.push_str(&m.mtime.to_string()),
            Some('y') | Some('x') | Some('z') | Some('w') => out.push_str(&time),
            Some('%') => out.push('%'),
            Some(_) => out.push('?'),
            None => out.push('%'),
        }
    }
    out
}

pub(super) async fn stat(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "c", "Lt", &[("format", 'c'), ("dereference", 'L')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let default = "  File: %N\n  Size: %s\tBlocks: %b\tIO Block: 4096\t%F\nAccess: (0%a/%A)  Uid: (%u/%U)   Gid: (%g/%G)\nModify: %y\n";
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let text = {
            let fs = c.fs();
            let m = if o.has('L') {
                fs.stat(&abs)
            } else {
                fs.lstat(&abs)
            };
            m.map(|m| match o.value('c') {
                Some(f) => format!("{}\n", stat_format(f, p, &m, &fs)),
                None => stat_format(default, p, &m, &fs),
            })
        };
        match text {
            Ok(t) => c.out.put(&t).await?,
            Err(e) => {
                c.fail(&format!("cannot statx '{p}': {}", fs_msg(&e)))
                    .await?;
                status = 1;
            }
        }
    }
    Ok(status)
}
