//! Iterators over async streams, and `std::io` adapters.

use std::fmt;
use std::io::Read;
use std::pin::Pin;

use bytes::{Buf as _, Bytes};
use futures_core::Stream;
use futures_util::StreamExt as _;
use tokio::io::AsyncRead;

use super::Contree;
use crate::error::Result;

type SendStream<T> = Pin<Box<dyn Stream<Item = T> + Send + 'static>>;

/// A blocking [`Iterator`] over an async stream of this crate (pages of images, uploaded
/// files, chunks of an archive, live events, ...).
///
/// Each `next()` polls the stream on the client's runtime thread until it yields, so the
/// stream only advances as fast as you iterate (backpressure). Dropping the iterator drops
/// the stream on the runtime thread, which aborts any request it has open.
///
/// ```no_run
/// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
/// let tagged: Vec<_> = contree.images().list().tagged().stream().collect::<Result<_, _>>()?;
/// println!("{} tagged images", tagged.len());
/// # Ok(()) }
/// ```
pub struct Iter<T: Send + 'static> {
    stream: Option<SendStream<T>>,
    client: Contree,
}

impl<T: Send + 'static> fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("finished", &self.stream.is_none())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Iter<T> {
    /// Iterates over `stream`, driving it on `client`'s runtime thread.
    pub fn new(client: &Contree, stream: impl Stream<Item = T> + Send + 'static) -> Self {
        Self {
            stream: Some(Box::pin(stream)),
            client: client.clone(),
        }
    }
}

impl<T: Send + 'static> Iterator for Iter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let mut stream = self.stream.take()?;
        let (stream, item) = self.client.block_on(async move {
            let item = stream.next().await;
            (stream, item)
        });
        if item.is_some() {
            self.stream = Some(stream);
        } else {
            self.client.spawn_detached(async move { drop(stream) });
        }
        item
    }
}

impl<T: Send + 'static> Drop for Iter<T> {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.take() {
            self.client.spawn_detached(async move { drop(stream) });
        }
    }
}

/// A [`std::io::Read`] over a stream of byte chunks (an archive, a process's stdout, a
/// file's content).
///
/// ```no_run
/// # fn demo(img: contree::blocking::Image) -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::Read as _;
/// let mut tar = Vec::new();
/// img.archive("/etc")?.into_reader().read_to_end(&mut tar)?;
/// # Ok(()) }
/// ```
pub struct ByteReader {
    chunks: Iter<Result<Bytes>>,
    current: Bytes,
}

impl fmt::Debug for ByteReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ByteReader")
            .field("buffered", &self.current.len())
            .finish_non_exhaustive()
    }
}

impl ByteReader {
    /// Reads the chunks `stream` yields, driving it on `client`'s runtime thread.
    pub fn new(
        client: &Contree,
        stream: impl Stream<Item = Result<Bytes>> + Send + 'static,
    ) -> Self {
        Self {
            chunks: Iter::new(client, stream),
            current: Bytes::new(),
        }
    }

    /// Reads everything that is left into memory.
    pub fn bytes(mut self) -> Result<Bytes> {
        let mut out = bytes::BytesMut::from(&self.current[..]);
        for chunk in &mut self.chunks {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }
}

impl Read for ByteReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.current.is_empty() {
            match self.chunks.next() {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Turns a blocking reader into an `AsyncRead`: a helper thread reads it in chunks (so
/// the runtime thread never blocks on it) and hands them over through a bounded channel.
pub(crate) fn async_read(
    mut reader: impl Read + Send + 'static,
) -> impl AsyncRead + Send + Unpin + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let on_spawn_error = tx.clone();
    let spawned = std::thread::Builder::new()
        .name("contree-blocking-reader".into())
        .spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let item = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => Err(e),
                };
                let failed = item.is_err();
                if tx.blocking_send(item).is_err() || failed {
                    break;
                }
            }
        });
    if let Err(e) = spawned {
        let _ = on_spawn_error.try_send(Err(e));
    }
    drop(on_spawn_error);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    tokio_util::io::StreamReader::new(Box::pin(stream))
}
