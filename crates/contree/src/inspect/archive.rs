//! Tar archives of an image's files, and their safe extraction.

use std::fmt;
use std::path::Path;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};

use crate::error::{Error, Result};
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
    ///
    /// # Errors
    ///
    /// `Transport` or `Timeout` when the download breaks.
    pub async fn bytes(mut self) -> Result<Bytes> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.stream.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Unpacks into `dir` (created if missing) and returns the number of entries written.
    ///
    /// Refuses, with an error of kind [`UnsafeArchive`](crate::ErrorKind::UnsafeArchive),
    /// any entry that would land or point outside `dir`: absolute paths, `..` that climbs
    /// out, entries whose path goes through a symbolic link (one from the archive, or one
    /// already in `dir`) that resolves outside, link targets that lead outside (or could
    /// later, through `..` after a link or a path that does not exist yet), hard links to
    /// directories or to files outside. A directory is never replaced by a file or a link,
    /// and an existing link is replaced, never written through. Modes keep only their
    /// permission bits (no setuid, setgid or sticky bit; directories stay owner-writable).
    /// Devices and FIFOs are skipped. On any error, what the extraction created is removed
    /// (and `dir` too, if it created it).
    ///
    /// # Errors
    ///
    /// `UnsafeArchive` when an entry would land outside `dir` (what was created is removed);
    /// `Io` when a local file or directory cannot be created; `Transport` or `Timeout` when
    /// the download breaks.
    pub async fn extract_to(self, dir: impl AsRef<Path>) -> Result<usize> {
        let dir = dir.as_ref().to_path_buf();
        let existed = tokio::fs::symlink_metadata(&dir).await.is_ok();
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::io("creating directory", dir.clone(), e))?;
        let reader = self.into_async_read();
        let bridge = tokio_util::io::SyncIoBridge::new(reader);
        tokio::task::spawn_blocking(move || super::extract::extract(bridge, &dir, !existed))
            .await
            .map_err(|e| Error::invalid(format!("the extraction task failed: {e}")))?
    }
}
