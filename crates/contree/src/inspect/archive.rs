//! Tar archives of an image's files, and their safe extraction.

use std::fmt;
use std::path::{Component, Path};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::error::{Error, Inner, Result};
use crate::util::BoxStream;

/// A tar byte stream from [`Image::archive`](crate::Image::archive).
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// img.archive("/etc").await?.extract_to("./etc-copy").await?;
/// # Ok(()) }
/// ```
pub struct Archive {
    pub(crate) stream: BoxStream<Bytes>,
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Archive")
    }
}

impl Archive {
    /// The raw tar bytes as a stream.
    pub fn into_stream(self) -> BoxStream<Bytes> {
        self.stream
    }

    /// The raw tar bytes as an `AsyncRead`.
    pub fn into_async_read(self) -> impl tokio::io::AsyncRead + Send + Unpin + 'static {
        tokio_util::io::StreamReader::new(self.stream.map_err(std::io::Error::other))
    }

    /// Collects the whole archive in memory.
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Unpacks into `dir` (created if missing). Refuses, with an error of kind
    /// [`UnsafeArchive`](crate::ErrorKind::UnsafeArchive), any entry whose path is absolute
    /// or climbs out with `..`, and links that point outside `dir`. Returns the number of
    /// entries written.
    pub async fn extract_to(self, dir: impl AsRef<Path>) -> Result<usize> {
        let dir = dir.as_ref().to_path_buf();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("creating directory", dir.clone(), e))?;
        let reader = self.into_async_read();
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        tokio::task::spawn_blocking(move || extract_sync(bridge, &dir))
            .await
            .map_err(|e| Error::invalid(format!("the extraction task failed: {e}")))?
    }
}

fn is_safe_relative(p: &Path) -> bool {
    let mut depth: i64 = 0;
    for c in p.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

fn extract_sync(reader: impl std::io::Read, dir: &Path) -> Result<usize> {
    let mut ar = tar::Archive::new(reader);
    ar.set_preserve_permissions(true);
    ar.set_overwrite(true);
    let entries = ar
        .entries()
        .map_err(|e| Error::io("reading the archive for", dir, e))?;
    let mut n = 0;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::io("reading the archive for", dir, e))?;
        let path = entry
            .path()
            .map_err(|e| Error::io("reading an archive entry for", dir, e))?
            .into_owned();
        let unsafe_entry = || {
            Error::new(Inner::UnsafeArchive {
                entry: path.display().to_string(),
            })
        };
        if path.components().any(|c| matches!(c, Component::ParentDir))
            || path.is_absolute()
            || !is_safe_relative(&path)
        {
            return Err(unsafe_entry());
        }
        let kind = entry.header().entry_type();
        if kind.is_hard_link() || kind.is_symlink() {
            let target = entry
                .link_name()
                .map_err(|e| Error::io("reading an archive link for", dir, e))?
                .map(|t| t.into_owned());
            if let Some(t) = target {
                let base = if kind.is_hard_link() {
                    t.clone()
                } else {
                    path.parent().unwrap_or(Path::new("")).join(&t)
                };
                if t.is_absolute() || !is_safe_relative(&base) {
                    return Err(unsafe_entry());
                }
            }
        }
        let written = entry
            .unpack_in(dir)
            .map_err(|e| Error::io("extracting into", dir, e))?;
        if !written {
            return Err(unsafe_entry());
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(path: &str, link: Option<&str>) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        let data = b"x";
        if let Some(target) = link {
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            // set_path refuses `..`; write the raw name to build hostile archives.
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_link_name(target).unwrap();
            h.set_cksum();
            b.append(&h, &[][..]).unwrap();
        } else {
            h.set_size(1);
            h.set_mode(0o644);
            let name = &mut h.as_old_mut().name;
            name[..path.len()].copy_from_slice(path.as_bytes());
            h.set_cksum();
            b.append(&h, &data[..]).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn extract_refuses_traversal() {
        let dir = tempfile::tempdir().unwrap();
        for (p, link) in [
            ("../evil", None),
            ("a/../../evil", None),
            ("ln", Some("../../etc")),
        ] {
            let tar = tar_with(p, link);
            let e = extract_sync(&tar[..], dir.path()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::UnsafeArchive, "{p}");
        }
        assert!(!dir.path().parent().unwrap().join("evil").exists());
        let ok = tar_with("good.txt", None);
        assert_eq!(extract_sync(&ok[..], dir.path()).unwrap(), 1);
        assert_eq!(std::fs::read(dir.path().join("good.txt")).unwrap(), b"x");
    }

    #[test]
    fn safe_relative() {
        assert!(is_safe_relative(Path::new("a/b/../c")));
        assert!(!is_safe_relative(Path::new("a/../../c")));
        assert!(!is_safe_relative(Path::new("/etc")));
    }
}
