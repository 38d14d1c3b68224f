//! Builtins that describe the simulated system: pwd, basename, dirname, whoami, id, hostname,
//! uname, nproc, umask, date, mktemp.

use bytes::Bytes;

use super::ls::format_time;
use super::util::{dirname, fs_msg, group_name, opts, user_name};
use super::{Ctx, R};

pub(super) async fn id(c: &mut Ctx<'_>, a: &[String]) -> R {
    let (uid, gid) = (c.sh.uid, c.sh.gid);
    let (un, gn) = {
        let fs = c.fs();
        (user_name(&fs, uid), group_name(&fs, gid))
    };
    let names = a.iter().any(|s| s.contains('n'));
    let fmt = |id: u32, name: &Option<String>| {
        if names {
            name.clone().unwrap_or_else(|| id.to_string())
        } else {
            id.to_string()
        }
    };
    let line = if a.iter().any(|s| s.starts_with('-') && s.contains('u')) {
        fmt(uid, &un)
    } else if a
        .iter()
        .any(|s| s.starts_with('-') && (s.contains('g') || s.contains('G')))
    {
        fmt(gid, &gn)
    } else {
        let u = un.map(|n| format!("({n})")).unwrap_or_default();
        let g = gn.map(|n| format!("({n})")).unwrap_or_default();
        format!("uid={uid}{u} gid={gid}{g} groups={gid}{g}")
    };
    c.out.put(&format!("{line}\n")).await?;
    Ok(0)
}

pub(super) async fn uname(c: &mut Ctx<'_>, a: &[String]) -> R {
    let host = c.sh.hostname.clone();
    let all = a.iter().any(|s| s.contains('a'));
    let mut parts = Vec::new();
    let want = |f: char| all || a.iter().any(|s| s.starts_with('-') && s.contains(f));
    if want('s') || a.is_empty() {
        parts.push("Linux".to_owned());
    }
    if want('n') {
        parts.push(host);
    }
    if want('r') {
        parts.push("6.1.0-contree".to_owned());
    }
    if want('v') {
        parts.push("#1 SMP".to_owned());
    }
    if want('m') || want('p') && !all {
        parts.push("x86_64".to_owned());
    }
    if all || want('o') {
        parts.push("GNU/Linux".to_owned());
    }
    c.out.put(&format!("{}\n", parts.join(" "))).await?;
    Ok(0)
}

pub(super) async fn date(c: &mut Ctx<'_>, a: &[String]) -> R {
    let now = time::OffsetDateTime::now_utc();
    let fmt = a.iter().find_map(|s| s.strip_prefix('+'));
    let out = match fmt {
        Some(f) => {
            let mut s = String::new();
            let mut it = f.chars();
            while let Some(ch) = it.next() {
                if ch != '%' {
                    s.push(ch);
                    continue;
                }
                match it.next() {
                    Some('s') => s.push_str(&now.unix_timestamp().to_string()),
                    Some('Y') => s.push_str(&now.year().to_string()),
                    Some('m') => s.push_str(&format!("{:02}", u8::from(now.month()))),
                    Some('d') => s.push_str(&format!("{:02}", now.day())),
                    Some('H') => s.push_str(&format!("{:02}", now.hour())),
                    Some('M') => s.push_str(&format!("{:02}", now.minute())),
                    Some('S') => s.push_str(&format!("{:02}", now.second())),
                    Some('F') => s.push_str(&format!(
                        "{}-{:02}-{:02}",
                        now.year(),
                        u8::from(now.month()),
                        now.day()
                    )),
                    Some('T') => s.push_str(&format!(
                        "{:02}:{:02}:{:02}",
                        now.hour(),
                        now.minute(),
                        now.second()
                    )),
                    Some('%') => s.push('%'),
                    Some(o) => {
                        s.push('%');
                        s.push(o);
                    }
                    None => s.push('%'),
                }
            }
            s
        }
        None => format!(
            "{} {:02}:{:02}:{:02} UTC {}",
            format_time(now.unix_timestamp())
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            now.hour(),
            now.minute(),
            now.second(),
            now.year()
        ),
    };
    c.out.put(&format!("{out}\n")).await?;
    Ok(0)
}
pub(super) async fn mktemp(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "p", "dqtu", &[("directory", 'd'), ("tmpdir", 'p')]).await? else {
        return Ok(1);
    };
    let template = o
        .operands
        .first()
        .cloned()
        .unwrap_or_else(|| "tmp.XXXXXXXXXX".to_owned());
    let xs = template.len() - template.trim_end_matches('X').len();
    if xs < 3 {
        c.fail(&format!("too few X's in template '{template}'"))
            .await?;
        return Ok(1);
    }
    let dir = match o.value('p') {
        Some(d) => d.to_owned(),
        None if o.operands.is_empty() || o.has('t') => {
            c.sh.var("TMPDIR")
                .filter(|s| !s.is_empty())
                .unwrap_or("/tmp")
                .to_owned()
        }
        None => String::new(),
    };
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..100 {
        let suffix: String = {
            let mut rng = c.sh.rng.lock().unwrap_or_else(|e| e.into_inner());
            (0..xs)
                .map(|_| ALNUM[(rng.next_u64() % ALNUM.len() as u64) as usize] as char)
                .collect()
        };
        let name = format!("{}{suffix}", &template[..template.len() - xs]);
        let path = if dir.is_empty() {
            name
        } else {
            format!("{}/{name}", dir.trim_end_matches('/'))
        };
        let abs = c.abs(&path);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let r = {
            let mut fs = c.fs();
            if fs.exists(&abs) {
                continue;
            }
            if o.has('d') {
                fs.mkdir(&abs).and_then(|_| fs.chmod(&abs, 0o700))
            } else {
                fs.write(&abs, Bytes::new())
                    .and_then(|_| fs.chmod(&abs, 0o600))
            }
            .and_then(|_| fs.chown(&abs, uid, gid))
        };
        return match r {
            Ok(()) => {
                c.out.put(&format!("{path}\n")).await?;
                Ok(0)
            }
            Err(e) => {
                c.fail(&format!(
                    "failed to create {} via template '{template}': {}",
                    if o.has('d') { "directory" } else { "file" },
                    fs_msg(&e)
                ))
                .await?;
                Ok(1)
            }
        };
    }
    c.fail("too many attempts").await?;
    Ok(1)
}

/// `pwd`: the working directory.
pub(super) async fn pwd(c: &mut Ctx<'_>, _a: &[String]) -> R {
    let cwd = c.sh.cwd.clone();
    c.out.put(&format!("{cwd}\n")).await?;
    Ok(0)
}

/// `basename PATH [SUFFIX]`.
pub(super) async fn basename_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(p) = a.first() else {
        c.fail("missing operand").await?;
        return Ok(1);
    };
    let trimmed = p.trim_end_matches('/');
    let mut b = if trimmed.is_empty() && !p.is_empty() {
        "/".to_owned()
    } else {
        trimmed.rsplit('/').next().unwrap_or("").to_owned()
    };
    if let Some(suf) = a.get(1)
        && b.len() > suf.len()
        && b.ends_with(suf.as_str())
    {
        b.truncate(b.len() - suf.len());
    }
    c.out.put(&format!("{b}\n")).await?;
    Ok(0)
}

/// `dirname PATH`.
pub(super) async fn dirname_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(p) = a.first() else {
        c.fail("missing operand").await?;
        return Ok(1);
    };
    c.out.put(&format!("{}\n", dirname(p))).await?;
    Ok(0)
}

/// `whoami`: the name of the current user.
pub(super) async fn whoami(c: &mut Ctx<'_>, _a: &[String]) -> R {
    let uid = c.sh.uid;
    let name = user_name(&c.fs(), uid);
    match name {
        Some(n) => {
            c.out.put(&format!("{n}\n")).await?;
            Ok(0)
        }
        None => {
            c.fail(&format!("cannot find name for user ID {uid}"))
                .await?;
            Ok(1)
        }
    }
}

/// `hostname`: the instance hostname.
pub(super) async fn hostname(c: &mut Ctx<'_>, _a: &[String]) -> R {
    let h = c.sh.hostname.clone();
    c.out.put(&format!("{h}\n")).await?;
    Ok(0)
}

/// `nproc`: always one processor.
pub(super) async fn nproc(c: &mut Ctx<'_>, _a: &[String]) -> R {
    c.out.put("1\n").await?;
    Ok(0)
}

/// `umask`: reports `0022`, accepts and ignores a new mask.
pub(super) async fn umask(c: &mut Ctx<'_>, a: &[String]) -> R {
    if a.is_empty() {
        c.out.put("0022\n").await?;
    }
    Ok(0)
}
