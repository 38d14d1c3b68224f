//! The ls builtin, and how it formats modes and times.

use super::util::{Opts, fs_msg, group_name, opts, user_name};
use super::{Ctx, R};
use crate::fs::{FileKind, Meta};
use crate::shell::exec::normalize;
use crate::shell::io::Broken;

pub(super) fn mode_string(m: &Meta) -> String {
    let mut s = String::with_capacity(10);
    s.push(match m.kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::File => '-',
    });
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (k, (bit, ch)) in bits.iter().enumerate() {
        let mut out = if m.mode & bit != 0 { *ch } else { '-' };
        if k == 2 && m.mode & 0o4000 != 0 {
            out = if out == 'x' { 's' } else { 'S' };
        }
        if k == 5 && m.mode & 0o2000 != 0 {
            out = if out == 'x' { 's' } else { 'S' };
        }
        if k == 8 && m.mode & 0o1000 != 0 {
            out = if out == 'x' { 't' } else { 'T' };
        }
        s.push(out);
    }
    s
}

pub(super) fn format_time(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t) else {
        return "Jan  1  1970".to_owned();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let month = MONTHS[(u8::from(dt.month()) as usize).saturating_sub(1) % 12];
    if (now - t).abs() < 180 * 86400 {
        format!(
            "{month} {:>2} {:02}:{:02}",
            dt.day(),
            dt.hour(),
            dt.minute()
        )
    } else {
        format!("{month} {:>2}  {}", dt.day(), dt.year())
    }
}

pub(super) async fn ls(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "laA1dhrtFSR",
        &[("all", 'a'), ("almost-all", 'A')],
    )
    .await?
    else {
        return Ok(2);
    };
    let long = o.has('l');
    let operands = if o.operands.is_empty() {
        vec![".".to_owned()]
    } else {
        o.operands.clone()
    };
    let mut status = 0;
    let mut file_entries: Vec<(String, Meta, String)> = Vec::new(); // display, meta, abs
    let mut dirs: Vec<(String, String)> = Vec::new();
    for op in &operands {
        let abs = c.abs(op);
        let (st, lst) = {
            let fs = c.fs();
            (fs.stat(&abs), fs.lstat(&abs))
        };
        match (st, lst) {
            (Ok(m), Ok(lm)) => {
                if m.kind == FileKind::Dir && !o.has('d') && !(long && lm.kind == FileKind::Symlink)
                {
                    dirs.push((op.clone(), abs));
                } else {
                    file_entries.push((op.clone(), if long { lm } else { m }, abs));
                }
            }
            (Err(_), Ok(lm)) => file_entries.push((op.clone(), lm, abs)),
            _ => {
                c.fail(&format!("cannot access '{op}': No such file or directory"))
                    .await?;
                status = 2;
            }
        }
    }
    sort_entries(&o, &mut file_entries);
    let mut blocks = Vec::new();
    if !file_entries.is_empty() {
        blocks.push((None, file_entries, false));
    }
    let show_headers = operands.len() > 1;
    for (disp, abs) in dirs {
        let listed = c.fs().list(&abs);
        match listed {
            Ok(entries) => {
                let v = dir_entries(c, &o, &abs, entries);
                blocks.push((Some(disp), v, true));
            }
            Err(e) => {
                c.fail(&format!("cannot open directory '{disp}': {}", fs_msg(&e)))
                    .await?;
                status = 2;
            }
        }
    }
    let mut first = true;
    for (header, entries, is_dir) in blocks {
        if !first {
            c.out.put("\n").await?;
        }
        first = false;
        if show_headers && let Some(h) = &header {
            c.out.put(&format!("{h}:\n")).await?;
        }
        if long {
            print_long(c, &entries, is_dir).await?;
        } else {
            print_short(c, &o, &entries).await?;
        }
    }
    Ok(status)
}

/// One entry to list: the name shown, its metadata and its absolute path.
type Entry = (String, Meta, String);

/// Sorts by name, or by time (`-t`) or size (`-S`), reversed under `-r`.
fn sort_entries(o: &Opts, v: &mut [Entry]) {
    if o.has('t') {
        v.sort_by(|x, y| y.1.mtime.cmp(&x.1.mtime).then_with(|| x.0.cmp(&y.0)));
    } else if o.has('S') {
        v.sort_by(|x, y| y.1.size.cmp(&x.1.size).then_with(|| x.0.cmp(&y.0)));
    } else {
        v.sort_by(|x, y| x.0.cmp(&y.0));
    }
    if o.has('r') {
        v.reverse();
    }
}

/// The sorted entries of directory `abs` (with `.` and `..` under `-a`, dotfiles under `-a`/`-A`).
fn dir_entries(c: &Ctx<'_>, o: &Opts, abs: &str, entries: Vec<(String, Meta)>) -> Vec<Entry> {
    let mut v: Vec<(String, Meta, String)> = Vec::new();
    if o.has('a') {
        let fs = c.fs();
        if let Ok(m) = fs.stat(abs) {
            v.push((".".to_owned(), m, abs.to_owned()));
        }
        if let Ok(m) = fs.stat(&normalize(&format!("{abs}/.."))) {
            v.push(("..".to_owned(), m, normalize(&format!("{abs}/.."))));
        }
    }
    for (name, m) in entries {
        if name.starts_with('.') && !o.has('a') && !o.has('A') {
            continue;
        }
        let p = normalize(&format!("{abs}/{name}"));
        v.push((name, m, p));
    }
    sort_entries(o, &mut v);
    v
}

/// `ls -l` lines (with `total` for a directory).
async fn print_long(c: &mut Ctx<'_>, entries: &[Entry], is_dir: bool) -> Result<(), Broken> {
    let names: Vec<(String, String)> = {
        let fs = c.fs();
        entries
            .iter()
            .map(|(_, m, _)| {
                (
                    user_name(&fs, m.uid).unwrap_or_else(|| m.uid.to_string()),
                    group_name(&fs, m.gid).unwrap_or_else(|| m.gid.to_string()),
                )
            })
            .collect()
    };
    if is_dir {
        let total: i64 = entries
            .iter()
            .filter(|(_, m, _)| m.kind != FileKind::Symlink)
            .map(|(_, m, _)| (m.size + 4095) / 4096 * 4)
            .sum();
        c.out.put(&format!("total {total}\n")).await?;
    }
    let wl = entries
        .iter()
        .map(|e| e.1.nlink.to_string().len())
        .max()
        .unwrap_or(1);
    let wu = names.iter().map(|n| n.0.len()).max().unwrap_or(1);
    let wg = names.iter().map(|n| n.1.len()).max().unwrap_or(1);
    let ws = entries
        .iter()
        .map(|e| e.1.size.to_string().len())
        .max()
        .unwrap_or(1);
    for ((name, m, _), (u, g)) in entries.iter().zip(names) {
        let mut line = format!(
            "{} {:>wl$} {:<wu$} {:<wg$} {:>ws$} {} {}",
            mode_string(m),
            m.nlink,
            u,
            g,
            m.size,
            format_time(m.mtime),
            name
        );
        if m.kind == FileKind::Symlink {
            line.push_str(" -> ");
            line.push_str(&m.symlink_to);
        }
        line.push('\n');
        c.out.put(&line).await?;
    }
    Ok(())
}

/// Plain `ls` lines, with `-F` type suffixes.
async fn print_short(c: &mut Ctx<'_>, o: &Opts, entries: &[Entry]) -> Result<(), Broken> {
    for (name, m, _) in entries {
        let suffix = if o.has('F') {
            match m.kind {
                FileKind::Dir => "/",
                FileKind::Symlink => "@",
                FileKind::File if m.mode & 0o111 != 0 => "*",
                FileKind::File => "",
            }
        } else {
            ""
        };
        c.out.put(&format!("{name}{suffix}\n")).await?;
    }
    Ok(())
}
