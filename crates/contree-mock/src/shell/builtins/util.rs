//! Helpers shared by the builtins: option parsing, path names, user and group names.

use super::Ctx;
use crate::fs::{Fs, FsError};
use crate::shell::io::Broken;

/// Parsed command-line options: flags (with values) and operands, GNU-style (options may
/// follow operands; `--` ends options).
pub(super) struct Opts {
    pub(super) flags: Vec<(char, Option<String>)>,
    pub(super) operands: Vec<String>,
}

impl Opts {
    pub(super) fn has(&self, c: char) -> bool {
        self.flags.iter().any(|(f, _)| *f == c)
    }

    /// The operands, or `-` (standard input) when there are none.
    pub(super) fn inputs(&self) -> Vec<String> {
        if self.operands.is_empty() {
            vec!["-".to_owned()]
        } else {
            self.operands.clone()
        }
    }

    pub(super) fn value(&self, c: char) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(f, _)| *f == c)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// `valued`: the flags taking a value. `long`: long option name to short flag.
fn getopt(args: &[String], valued: &str, long: &[(&str, char)]) -> Result<Opts, String> {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(l) = a.strip_prefix("--") {
            let (name, val) = match l.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (l, None),
            };
            let Some((_, f)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unrecognized option '{a}'"));
            };
            let val = if valued.contains(*f) && val.is_none() {
                let v = args.get(i).cloned();
                i += 1;
                Some(v.ok_or_else(|| format!("option '{a}' requires an argument"))?)
            } else {
                val
            };
            flags.push((*f, val));
            continue;
        }
        if a.len() < 2 || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let f = chars[k];
            k += 1;
            if valued.contains(f) {
                let v = if k < chars.len() {
                    chars[k..].iter().collect::<String>()
                } else {
                    let v = args.get(i).cloned();
                    i += 1;
                    v.ok_or_else(|| format!("option requires an argument -- '{f}'"))?
                };
                flags.push((f, Some(v)));
                break;
            }
            flags.push((f, None));
        }
    }
    Ok(Opts { flags, operands })
}

pub(super) async fn opts(
    c: &mut Ctx<'_>,
    args: &[String],
    valued: &str,
    allowed: &str,
    long: &[(&str, char)],
) -> Result<Option<Opts>, Broken> {
    match getopt(args, valued, long) {
        Ok(o) => {
            if let Some((f, _)) = o
                .flags
                .iter()
                .find(|(f, _)| !allowed.contains(*f) && !valued.contains(*f))
            {
                c.fail(&format!("invalid option -- '{f}'")).await?;
                return Ok(None);
            }
            Ok(Some(o))
        }
        Err(e) => {
            c.fail(&e).await?;
            Ok(None)
        }
    }
}

pub(super) fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.starts_with('/') {
            "/".into()
        } else {
            ".".into()
        };
    }
    match t.rfind('/') {
        None => ".".to_owned(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".to_owned()
            } else {
                d.to_owned()
            }
        }
    }
}

pub(super) fn basename(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned()
}

fn lookup_name(fs: &Fs, file: &str, id: u32) -> Option<String> {
    let data = fs.read(file).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut it = l.split(':');
        let name = it.next()?;
        let _pw = it.next()?;
        let n: u32 = it.next()?.parse().ok()?;
        (n == id).then(|| name.to_owned())
    })
}

pub(super) fn lookup_id(fs: &Fs, file: &str, name: &str) -> Option<u32> {
    let data = fs.read(file).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut it = l.split(':');
        let n = it.next()?;
        let _pw = it.next()?;
        let id: u32 = it.next()?.parse().ok()?;
        (n == name).then_some(id)
    })
}

pub(super) fn user_name(fs: &Fs, uid: u32) -> Option<String> {
    lookup_name(fs, "/etc/passwd", uid)
}

pub(super) fn group_name(fs: &Fs, gid: u32) -> Option<String> {
    lookup_name(fs, "/etc/group", gid)
}
pub(super) fn fs_msg(e: &FsError) -> &str {
    e.reason()
}
