//! The tools that map onto one facade call each, and the conversions to the official
//! output shapes. `run` and the operation tools live in `ops.rs`.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use contree::{EntryKind, GrepCase, Image, TimeFilter, UploadSource};

use crate::server::ContreeMcp;
use crate::types::*;

pub(crate) use crate::import::import_image;
pub(crate) use crate::ops::{
    cancel_operation, get_operation, list_operations, run, wait_operations,
};

/// An error as the SDK words it (what happened and what to do; never a token).
pub(crate) fn err(e: contree::Error) -> String {
    e.to_string()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// An image from a UUID, `tag:NAME` or a bare tag (lazy: resolved when used).
pub(crate) fn image_ref(server: &ContreeMcp, reference: &str) -> Result<Image, String> {
    let r = reference.trim();
    if r.is_empty() {
        return Err(
            "`image` is empty: give an image UUID, `tag:NAME` or a tag such as `ubuntu:latest`"
                .into(),
        );
    }
    let images = server.contree.images();
    Ok(if let Some(tag) = r.strip_prefix("tag:") {
        images.use_tag(tag.trim())
    } else if is_uuid(r) {
        images.use_uuid(r.to_ascii_lowercase())
    } else {
        images.use_tag(r)
    })
}

/// `since`/`until`: an RFC 3339 time, a Unix timestamp, or an age (`90s`, `15m`,
/// `2h30m`, `3d`, `1w`).
pub(crate) fn parse_time(s: &str) -> Result<TimeFilter, String> {
    let s = s.trim();
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(TimeFilter::At(SystemTime::from(t)));
    }
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
        && n >= 0.0
    {
        return Ok(TimeFilter::At(
            SystemTime::UNIX_EPOCH + Duration::from_secs_f64(n),
        ));
    }
    let bad = || {
        format!(
            "`{s}` is not a time: give an RFC 3339 time (2026-01-31T12:00:00Z) or an age such as 90s, 15m, 2h30m, 3d, 1w"
        )
    };
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(TimeFilter::Ago(Duration::from_secs(total)))
}

pub(crate) fn image_output(i: &Image) -> ImageOutput {
    ImageOutput {
        uuid: i.id().map(String::from),
        tag: i.tag().map(str::to_string),
        created_at: i.created_at_raw().map(str::to_string),
        operation_uuid: i.operation_id().map(str::to_string),
    }
}

pub(crate) async fn list_images(s: &ContreeMcp, p: ListImagesParams) -> Result<ImageList, String> {
    let mut q = s
        .contree
        .images()
        .list()
        .limit(p.limit.clamp(1, 1000))
        .offset(p.offset);
    if p.tagged {
        q = q.tagged();
    }
    if let Some(prefix) = p.tag_prefix.as_deref() {
        // The backend rejects a prefix that ends in a separator.
        let prefix = prefix.trim().trim_end_matches([':', '/', '.']);
        if !prefix.is_empty() {
            q = q.tag_prefix(prefix);
        }
    }
    if let Some(t) = p.since.as_deref() {
        q = q.since(parse_time(t)?);
    }
    if let Some(t) = p.until.as_deref() {
        q = q.until(parse_time(t)?);
    }
    let images = q.await.map_err(err)?;
    Ok(ImageList {
        images: images.iter().map(image_output).collect(),
    })
}

pub(crate) async fn get_image(s: &ContreeMcp, p: ImageParams) -> Result<ImageOutput, String> {
    let image = image_ref(s, &p.image)?.info().await.map_err(err)?;
    Ok(image_output(&image))
}

pub(crate) async fn set_tag(s: &ContreeMcp, p: SetTagParams) -> Result<ImageOutput, String> {
    let image = image_ref(s, &p.image_uuid)?;
    match p.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(tag) => {
            let tagged = image.tag_as(tag).await.map_err(err)?;
            let info = tagged.info().await.map_err(err)?;
            let mut out = image_output(&info);
            out.tag = Some(tag.to_string());
            Ok(out)
        }
        None => {
            let image = image.resolve().await.map_err(err)?;
            image.untag_all().await.map_err(err)?;
            let info = image.info().await.map_err(err)?;
            let mut out = image_output(&info);
            out.tag = None;
            Ok(out)
        }
    }
}

pub(crate) fn expand_home(path: &str) -> std::path::PathBuf {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty());
    match (path, home) {
        ("~", Some(h)) => h.into(),
        (p, Some(h)) if p.starts_with("~/") => std::path::PathBuf::from(h).join(&p[2..]),
        (p, _) => p.into(),
    }
}

pub(crate) async fn upload(s: &ContreeMcp, p: UploadParams) -> Result<UploadOutput, String> {
    let given = [
        p.path.is_some(),
        p.content.is_some(),
        p.content_base64.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err("give exactly one of `path`, `content` or `content_base64`".into());
    }
    let (source, size): (UploadSource, u64) = if let Some(path) = p.path {
        s.require_local_files("upload` with `path")?;
        let path = expand_home(&path);
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if !meta.is_file() {
            return Err(format!("{} is not a regular file", path.display()));
        }
        (UploadSource::Path(path), meta.len())
    } else if let Some(text) = p.content {
        let len = text.len() as u64;
        (UploadSource::Bytes(text.into_bytes().into()), len)
    } else {
        let b64 = p.content_base64.unwrap_or_default();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| format!("`content_base64` is not valid base64: {e}"))?;
        let len = bytes.len() as u64;
        (UploadSource::Bytes(bytes.into()), len)
    };
    let up = s.contree.files().upload(source).await.map_err(err)?;
    Ok(UploadOutput {
        uuid: up.uuid().to_string(),
        sha256: up.sha256().to_string(),
        size: up
            .size()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(size),
    })
}

pub(crate) async fn download(s: &ContreeMcp, p: DownloadParams) -> Result<DownloadOutput, String> {
    let dest = expand_home(&p.destination);
    if !dest.is_absolute() {
        return Err(format!(
            "`destination` must be an absolute local path, not `{}`",
            p.destination
        ));
    }
    let image = image_ref(s, &p.image)?;
    let written = image.download(&p.path, &dest).await.map_err(err)?;
    if p.executable {
        set_executable(&written).map_err(|e| format!("cannot chmod {}: {e}", written.display()))?;
    }
    let size = tokio::fs::metadata(&written)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    Ok(DownloadOutput {
        success: true,
        source: DownloadSource {
            image: p.image,
            path: p.path,
        },
        destination: written.display().to_string(),
        size,
        executable: p.executable,
    })
}

#[cfg(unix)]
fn set_executable(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_path: &std::path::Path) -> std::io::Result<()> {
    Ok(())
}

pub(crate) fn normalize_dir(path: &str) -> String {
    let p = path.trim();
    if p.is_empty() || p == "." || p == "/." {
        "/".to_string()
    } else if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

pub(crate) fn kind_name(k: EntryKind) -> &'static str {
    match k {
        EntryKind::File => "file",
        EntryKind::Dir => "directory",
        EntryKind::Symlink => "symlink",
        _ => "other",
    }
}

pub(crate) async fn list_files(s: &ContreeMcp, p: ListFilesParams) -> Result<FileList, String> {
    let path = normalize_dir(&p.path);
    let entries = image_ref(s, &p.image)?.ls(&path).await.map_err(err)?;
    let files: Vec<FileEntry> = entries
        .iter()
        .map(|e| FileEntry {
            name: e.name.clone(),
            path: e.path.clone(),
            kind: kind_name(e.kind).to_string(),
            size: e.size,
            mode: format!("0o{:o}", e.mode),
            target: e.symlink_target.clone(),
        })
        .collect();
    Ok(FileList {
        path,
        count: files.len(),
        files,
    })
}

pub(crate) async fn read_file(s: &ContreeMcp, p: ReadFileParams) -> Result<ReadFileOutput, String> {
    let path = normalize_dir(&p.path);
    let bytes = image_ref(s, &p.image)?.read(&path).await.map_err(err)?;
    let size = bytes.len() as u64;
    let (content, encoding) = match std::str::from_utf8(&bytes) {
        Ok(t) => (t.to_string(), "utf-8"),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(&bytes),
            "base64",
        ),
    };
    Ok(ReadFileOutput {
        path,
        content,
        encoding: encoding.into(),
        bytes_size: size,
    })
}

pub(crate) async fn grep(s: &ContreeMcp, p: GrepParams) -> Result<GrepOutput, String> {
    let path = normalize_dir(p.path.as_deref().unwrap_or("/"));
    let mut g = image_ref(s, &p.image)?
        .grep(p.pattern.clone())
        .path(path.clone());
    if let Some(glob) = p.glob.filter(|g| !g.is_empty()) {
        g = g.glob(glob);
    }
    if let Some(n) = p.max_count {
        g = g.max_count(n);
    }
    if let Some(n) = p.max_total {
        g = g.max_total(n);
    }
    if let Some(c) = p.case.as_deref() {
        g = g.case(match c.trim().to_ascii_lowercase().as_str() {
            "sensitive" => GrepCase::Sensitive,
            "insensitive" => GrepCase::Insensitive,
            "smart" => GrepCase::Smart,
            other => {
                return Err(format!(
                    "`case` is `{other}`: use `sensitive`, `insensitive` or `smart`"
                ));
            }
        });
    }
    let res = g.await.map_err(err)?;
    Ok(GrepOutput {
        path,
        patterns: vec![p.pattern],
        truncated: res.truncated(),
        matches: res
            .matches()
            .iter()
            .filter(|m| !m.is_context)
            .map(|m| GrepMatchOutput {
                path: m.path.clone(),
                line_number: m.line_number,
                line_text: m.line.clone(),
            })
            .collect(),
    })
}

pub(crate) async fn whoami(s: &ContreeMcp) -> Result<WhoamiOutput, String> {
    let who = s.contree.whoami().await.map_err(err)?;
    Ok(WhoamiOutput {
        token_uuid: who.token_uuid().to_string(),
        token_expiration: who.token_expiration().map(|t| {
            time::OffsetDateTime::from(t)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        }),
        permissions: who.permissions().clone(),
        limits: who.limits().clone(),
        mcp_version: format!("contree-mcp-rs/{}", env!("CARGO_PKG_VERSION")),
        mcp_upgrade: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_times_parse() {
        assert_eq!(
            parse_time("2h30m").unwrap(),
            TimeFilter::Ago(Duration::from_secs(9000))
        );
        assert_eq!(
            parse_time("1w").unwrap(),
            TimeFilter::Ago(Duration::from_secs(604_800))
        );
        assert!(matches!(
            parse_time("2026-01-31T12:00:00Z").unwrap(),
            TimeFilter::At(_)
        ));
        assert!(parse_time("soon").is_err());
        assert!(parse_time("5").is_ok());
        assert!(parse_time("5x").is_err());
    }

    #[test]
    fn directories_are_absolute() {
        assert_eq!(normalize_dir("."), "/");
        assert_eq!(normalize_dir("/."), "/");
        assert_eq!(normalize_dir("etc"), "/etc");
        assert_eq!(normalize_dir("/etc"), "/etc");
    }

    #[test]
    fn uuids_are_recognised() {
        assert!(is_uuid("0b4b2a4e-8c1e-4a9e-9d3c-2f1e0d9c8b7a"));
        assert!(!is_uuid("ubuntu:latest"));
    }
}
