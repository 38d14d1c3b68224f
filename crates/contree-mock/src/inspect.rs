//! Inspect endpoints: image metadata, find by tag, list, download, archive, grep.

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use contree_proto::types::{
    DirectoryList, FileItem, GrepMatch, GrepMatchType, GrepResult, GrepSubmatch, NameOrId,
};
use http::header;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::api::{bad, parse_uuid};
use crate::fs::{FileKind, Fs, FsError, Meta};
use crate::respond::Resp;
use crate::server::Ctx;

type R = Result<Resp, Resp>;

fn image_fs(ctx: &Ctx, id: &str) -> Result<(Uuid, Arc<Fs>), Resp> {
    ctx.shared.require("list")?;
    let uuid = parse_uuid(id, "image UUID", 400)?;
    let st = ctx.shared.state();
    st.images
        .get(&uuid)
        .map(|i| (uuid, i.fs.clone()))
        .ok_or_else(|| Resp::error(404, format!("image {uuid} not found")))
}

fn path_param(ctx: &Ctx) -> Result<String, Resp> {
    match ctx.query.get("path") {
        Some(p) if !p.is_empty() => Ok(p.to_string()),
        // An empty path is schema-valid and names nothing: not found, like any missing path.
        Some(_) => Err(Resp::error(
            404,
            "the empty path names no file; use an absolute path (e.g. path=/etc/hosts)",
        )),
        None => Err(bad(
            "query parameter `path` is required (e.g. path=/etc/hosts)",
        )),
    }
}

fn fs_err(e: &FsError, path: &str) -> Resp {
    match e {
        FsError::NotFound(_) | FsError::NotADirectory(_) => Resp::error(
            404,
            format!("{path}: no such file or directory in the image"),
        ),
        other => Resp::error(422, format!("{path}: {other}")),
    }
}

pub(crate) fn find_by_tag(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let tag = match ctx.query.get("tag") {
        Some(t) if !t.is_empty() => t,
        // Schema-valid, and no image has the empty tag.
        Some(_) => return Err(Resp::error(404, "no image has the empty tag")),
        None => {
            return Err(bad(
                "query parameter `tag` is required (e.g. tag=busybox:latest)",
            ));
        }
    };
    let tag = tag.strip_prefix("tag:").unwrap_or(tag);
    let st = ctx.shared.state();
    match st.resolve_tag(tag) {
        Some(id) => Ok(Resp::empty(302).location(format!("/v1/inspect/{id}/"))),
        None => Err(Resp::error(404, format!("no image with tag {tag:?}"))),
    }
}

pub(crate) fn inspect_image(ctx: &Ctx, id: &str) -> R {
    let (uuid, _) = image_fs(ctx, id)?;
    let st = ctx.shared.state();
    st.image_first(uuid)
        .map(|v| Resp::typed(200, &v))
        .ok_or_else(|| Resp::error(404, format!("image {uuid} not found")))
}

pub(crate) fn download(ctx: &Ctx, id: &str, head: bool) -> R {
    let (_, fs) = image_fs(ctx, id)?;
    let path = path_param(ctx)?;
    let meta = fs.stat(&path).map_err(|e| fs_err(&e, &path))?;
    if meta.kind != FileKind::File {
        return Err(Resp::error(422, format!("{path} is not a regular file")));
    }
    if head {
        return Ok(Resp::empty(200));
    }
    let data = fs.read(&path).map_err(|e| fs_err(&e, &path))?;
    let ct = if ctx.query.has("text") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    Ok(Resp::bytes(200, ct, data))
}

/// `owner`/`group`: the name for root, the numeric id otherwise (the images have no passwd).
fn owner(id: u32) -> NameOrId {
    if id == 0 {
        NameOrId::String("root".to_owned())
    } else {
        NameOrId::Integer(i64::from(id))
    }
}

fn file_item(name: &str, m: &Meta) -> FileItem {
    FileItem {
        size: m.size,
        path: name.to_owned(),
        owner: owner(m.uid),
        group: owner(m.gid),
        uid: i64::from(m.uid),
        gid: i64::from(m.gid),
        mode: i64::from(m.mode),
        mtime: m.mtime,
        nlink: i64::from(m.nlink),
        is_dir: m.kind == FileKind::Dir,
        is_regular: m.kind == FileKind::File,
        is_symlink: m.kind == FileKind::Symlink,
        is_socket: false,
        is_fifo: false,
        symlink_to: m.symlink_to.clone(),
    }
}

fn perm_string(m: &Meta) -> String {
    let t = match m.kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::File => '-',
    };
    let mut s = String::from(t);
    for shift in [6u32, 3, 0] {
        let bits = (m.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn ls_time(mtime: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(mtime)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {:02} {:02}:{:02}",
        MONTHS[usize::from(u8::from(t.month())) - 1],
        t.day(),
        t.hour(),
        t.minute()
    )
}

pub(crate) fn list(ctx: &Ctx, id: &str) -> R {
    let (_, fs) = image_fs(ctx, id)?;
    let path = path_param(ctx)?;
    let meta = fs.stat(&path).map_err(|e| fs_err(&e, &path))?;
    if meta.kind != FileKind::Dir {
        return Err(Resp::error(
            422,
            format!("{path} is not a directory and cannot be listed"),
        ));
    }
    let entries = fs.list(&path).map_err(|e| fs_err(&e, &path))?;
    if ctx.query.has("text") {
        let total: i64 = entries.iter().map(|(_, m)| m.size.max(0)).sum();
        let mut out = format!("total {:.2} KB\n", total as f64 / 1024.0);
        for (name, m) in &entries {
            let size = if m.kind == FileKind::Dir || m.size == 0 {
                "0".to_string()
            } else {
                format!("{:.2}", m.size as f64)
            };
            let name = if m.kind == FileKind::Symlink {
                format!("{name} -> {}", m.symlink_to)
            } else {
                name.clone()
            };
            out.push_str(&format!(
                "{} {} {} {} {:>8} {} {}\n",
                perm_string(m),
                m.nlink,
                m.uid,
                m.gid,
                size,
                ls_time(m.mtime),
                name
            ));
        }
        return Ok(Resp::bytes(
            200,
            "text/plain; charset=utf-8",
            Bytes::from(out),
        ));
    }
    let files = entries.iter().map(|(n, m)| file_item(n, m)).collect();
    Ok(Resp::typed(200, &DirectoryList::new(path, files)))
}

fn tar_of(fs: &Fs, path: &str, meta: &Meta) -> Result<Vec<u8>, String> {
    let mut b = tar::Builder::new(Vec::new());
    let entries: Vec<(String, Meta)> = if meta.kind == FileKind::Dir {
        let walked = fs.walk(path).map_err(|e| e.to_string())?;
        let root = walked.first().map(|(p, _)| p.clone()).unwrap_or_default();
        let prefix = if root == "/" {
            "/".to_string()
        } else {
            format!("{root}/")
        };
        walked
            .into_iter()
            .skip(1)
            .filter_map(|(p, m)| p.strip_prefix(&prefix).map(|r| (r.to_string(), m)))
            .collect()
    } else {
        let name = path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("file")
            .to_string();
        vec![(name, meta.clone())]
    };
    for (rel, m) in entries {
        let abs = if meta.kind == FileKind::Dir {
            format!("{}/{rel}", path.trim_end_matches('/'))
        } else {
            path.to_string()
        };
        let mut name = rel.clone();
        if m.kind == FileKind::Dir {
            name.push('/');
        }
        let mut pax: Vec<(&str, Vec<u8>)> = vec![
            ("path", name.clone().into_bytes()),
            ("mtime", m.mtime.to_string().into_bytes()),
        ];
        if m.kind == FileKind::Symlink {
            pax.push(("linkpath", m.symlink_to.clone().into_bytes()));
        }
        b.append_pax_extensions(pax.iter().map(|(k, v)| (*k, v.as_slice())))
            .map_err(|e| e.to_string())?;
        let mut h = tar::Header::new_ustar();
        if h.set_path(&name).is_err() {
            let short: String = name
                .chars()
                .rev()
                .take(90)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            let _ = h.set_path(short.trim_start_matches('/'));
        }
        h.set_mode(m.mode & 0o7777);
        h.set_uid(u64::from(m.uid));
        h.set_gid(u64::from(m.gid));
        h.set_mtime(m.mtime.max(0) as u64);
        let data: Bytes = match m.kind {
            FileKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                Bytes::new()
            }
            FileKind::Symlink => {
                h.set_entry_type(tar::EntryType::Symlink);
                let _ = h.set_link_name(&m.symlink_to);
                Bytes::new()
            }
            FileKind::File => {
                h.set_entry_type(tar::EntryType::Regular);
                fs.read(&abs).map_err(|e| e.to_string())?
            }
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data.as_ref()).map_err(|e| e.to_string())?;
    }
    b.into_inner().map_err(|e| e.to_string())
}

pub(crate) fn archive(ctx: &Ctx, id: &str, head: bool) -> R {
    let (_, fs) = image_fs(ctx, id)?;
    let path = path_param(ctx)?;
    let meta = fs.stat(&path).map_err(|e| fs_err(&e, &path))?;
    if head {
        return Ok(Resp::empty(200));
    }
    let tar = tar_of(&fs, &path, &meta)
        .map_err(|e| Resp::error(500, format!("cannot build the archive: {e}")))?;
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        for chunk in tar.chunks(64 * 1024) {
            if tx.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                return;
            }
        }
    });
    let filename = format!("{}.tar", path.trim_start_matches('/').replace('/', "_"));
    Ok(Resp::stream(200, "application/x-tar", rx).header(
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"{filename}\""),
    ))
}

struct GrepOpts {
    re: regex::bytes::Regex,
    sub: Vec<regex::bytes::Regex>,
    include: Option<globset::GlobSet>,
    exclude: Option<globset::GlobSet>,
    max_count: Option<usize>,
    max_total: usize,
    before: usize,
    after: usize,
}

fn int_q(ctx: &Ctx, name: &str, min: i64, max: i64) -> Result<Option<i64>, Resp> {
    match ctx.query.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .map(Some)
            .ok_or_else(|| {
                bad(format!(
                    "`{name}` must be an integer in {min}..={max}, got {v:?}"
                ))
            }),
    }
}

fn globs(list: &[String]) -> Result<(Option<globset::GlobSet>, Option<globset::GlobSet>), Resp> {
    let mut inc = globset::GlobSetBuilder::new();
    let mut exc = globset::GlobSetBuilder::new();
    let (mut n_inc, mut n_exc) = (0, 0);
    for g in list {
        let (neg, pat) = match g.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, g.as_str()),
        };
        let glob = globset::GlobBuilder::new(pat)
            .literal_separator(false)
            .build()
            .map_err(|e| bad(format!("invalid glob {g:?}: {e}")))?;
        if neg {
            exc.add(glob);
            n_exc += 1;
        } else {
            inc.add(glob);
            n_inc += 1;
        }
    }
    let build = |b: globset::GlobSetBuilder, n: usize| -> Result<Option<globset::GlobSet>, Resp> {
        if n == 0 {
            return Ok(None);
        }
        b.build()
            .map(Some)
            .map_err(|e| bad(format!("invalid glob: {e}")))
    };
    Ok((build(inc, n_inc)?, build(exc, n_exc)?))
}

pub(crate) fn grep(ctx: &Ctx, id: &str) -> R {
    let (_, fs) = image_fs(ctx, id)?;
    let patterns = ctx.query.all("pattern");
    if patterns.is_empty() {
        return Err(bad("query parameter `pattern` is required"));
    }
    if patterns.len() > 16 {
        return Err(bad("at most 16 `pattern` values are allowed"));
    }
    if patterns.iter().any(|p| p.len() > 1024) {
        return Err(bad("a pattern may be at most 1024 characters long"));
    }
    let mut paths = ctx.query.all("path");
    if paths.is_empty() {
        paths.push("/".to_string());
    }
    if paths.len() > 16 {
        return Err(bad("at most 16 `path` values are allowed"));
    }
    let case = ctx.query.get("case").unwrap_or("sensitive");
    let ci = match case {
        "sensitive" => false,
        "insensitive" => true,
        "smart" => !patterns.iter().any(|p| p.chars().any(char::is_uppercase)),
        other => {
            return Err(bad(format!(
                "`case` must be sensitive, insensitive or smart, got {other:?}"
            )));
        }
    };
    let build = |p: &str| {
        regex::bytes::RegexBuilder::new(p)
            .case_insensitive(ci)
            .build()
            .map_err(|e| bad(format!("invalid pattern {p:?}: {e}")))
    };
    let combined = patterns
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    let sub: Vec<_> = patterns
        .iter()
        .map(|p| build(p))
        .collect::<Result<_, _>>()?;
    let (include, exclude) = globs(&ctx.query.all("glob"))?;
    let opts = GrepOpts {
        re: build(&combined)?,
        sub,
        include,
        exclude,
        max_count: int_q(ctx, "max_count", 1, 10_000)?.map(|n| n as usize),
        max_total: int_q(ctx, "max_total", 1, 10_000)?.unwrap_or(1000) as usize,
        before: int_q(ctx, "before", 0, 50)?.unwrap_or(0) as usize,
        after: int_q(ctx, "after", 0, 50)?.unwrap_or(0) as usize,
    };
    let mut matches = Vec::new();
    let mut total = 0usize;
    let mut truncated = false;
    'roots: for root in &paths {
        let walked = fs.walk(root).map_err(|e| fs_err(&e, root))?;
        let root_canon = walked.first().map(|(p, _)| p.clone()).unwrap_or_default();
        for (abs, m) in walked {
            if m.kind != FileKind::File {
                continue;
            }
            let rel = abs
                .strip_prefix(&root_canon)
                .map(|r| r.trim_start_matches('/'))
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| abs.rsplit('/').next().unwrap_or(""))
                .to_string();
            let base = abs.rsplit('/').next().unwrap_or("");
            let hit = |set: &globset::GlobSet| set.is_match(&rel) || set.is_match(base);
            if opts.include.as_ref().is_some_and(|s| !hit(s))
                || opts.exclude.as_ref().is_some_and(hit)
            {
                continue;
            }
            let Ok(data) = fs.read(&abs) else { continue };
            if data.contains(&0) {
                continue;
            }
            if grep_file(&abs, &data, &opts, &mut total, &mut matches) {
                truncated = true;
                break 'roots;
            }
        }
    }
    let result = GrepResult::new(paths[0].clone(), patterns, matches, truncated);
    Ok(Resp::typed(200, &result))
}

/// Greps one file; returns `true` when `max_total` stopped the search.
fn grep_file(
    path: &str,
    data: &[u8],
    o: &GrepOpts,
    total: &mut usize,
    out: &mut Vec<GrepMatch>,
) -> bool {
    let mut lines: Vec<(usize, &[u8])> = Vec::new();
    let mut off = 0;
    for line in data.split_inclusive(|&b| b == b'\n') {
        lines.push((off, line));
        off += line.len();
    }
    let strip = |l: &[u8]| -> usize {
        let mut n = l.len();
        if n > 0 && l[n - 1] == b'\n' {
            n -= 1;
            if n > 0 && l[n - 1] == b'\r' {
                n -= 1;
            }
        }
        n
    };
    let mut hits = Vec::new();
    let mut stopped = false;
    for (i, (_, line)) in lines.iter().enumerate() {
        if !o.re.is_match(&line[..strip(line)]) {
            continue;
        }
        if o.max_count.is_some_and(|m| hits.len() >= m) {
            break;
        }
        if *total >= o.max_total {
            stopped = true;
            break;
        }
        *total += 1;
        hits.push(i);
    }
    let hit_set: BTreeSet<usize> = hits.iter().copied().collect();
    let mut show = BTreeSet::new();
    for &h in &hits {
        for j in h.saturating_sub(o.before)..=(h + o.after).min(lines.len().saturating_sub(1)) {
            show.insert(j);
        }
    }
    for j in show {
        let (offset, line) = lines[j];
        let is_match = hit_set.contains(&j);
        let body = &line[..strip(line)];
        let mut subs: Vec<(usize, usize)> = Vec::new();
        if is_match {
            for re in &o.sub {
                subs.extend(
                    re.find_iter(body)
                        .filter(|m| m.end() > m.start())
                        .map(|m| (m.start(), m.end())),
                );
            }
            subs.sort_unstable();
            subs.dedup();
        }
        let submatches = subs
            .iter()
            .map(|&(s, e)| {
                let text = String::from_utf8_lossy(&body[s..e]);
                GrepSubmatch::new(text, s as i64, e as i64)
            })
            .collect();
        let shown = &line[..line.len().min(4096)];
        out.push(GrepMatch::new(
            path,
            (j + 1) as i64,
            offset as i64,
            String::from_utf8_lossy(shown),
            line.len() as i64,
            submatches,
            if is_match {
                GrepMatchType::Match
            } else {
                GrepMatchType::Context
            },
        ));
    }
    stopped
}
