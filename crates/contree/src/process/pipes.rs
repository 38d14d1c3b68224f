//! A process's pipes: [`ProcessStdin`] and [`OutputReader`].

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};

use super::{ProcState, process_error, wait_registered};
use crate::api;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::util::BoxFuture;

/// What the pump sends a reader: a chunk, or why the output cannot be followed further.
pub(crate) type Chunk = std::result::Result<Bytes, String>;

/// The stdout or stderr of a [`Process`](crate::Process): an [`AsyncRead`], and a `Stream` of
/// chunks (`Result<Bytes>`).
///
/// Ends (EOF) when the process exits or its operation ends. When following the output fails
/// (the event stream cannot be resumed), a read returns an `std::io::Error` (wrapping a
/// [`contree::Error`](crate::Error) of kind [`Process`](crate::ErrorKind::Process)) and the
/// stream yields that error: a cut-short output is never reported as a clean end.
pub struct OutputReader {
    rx: mpsc::UnboundedReceiver<Chunk>,
    buf: Bytes,
}

impl fmt::Debug for OutputReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputReader")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl OutputReader {
    pub(crate) fn new(rx: mpsc::UnboundedReceiver<Chunk>) -> Self {
        OutputReader {
            rx,
            buf: Bytes::new(),
        }
    }
}

impl AsyncRead for OutputReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.buf.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(b))) => self.buf = b,
                Poll::Ready(Some(Err(why))) => {
                    return Poll::Ready(Err(std::io::Error::other(process_error(why))));
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.buf.len().min(buf.remaining());
        let chunk = self.buf.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl futures_core::Stream for OutputReader {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        if !self.buf.is_empty() {
            let b = std::mem::take(&mut self.buf);
            return Poll::Ready(Some(Ok(b)));
        }
        self.rx
            .poll_recv(cx)
            .map(|item| item.map(|c| c.map_err(process_error)))
    }
}

async fn post_stdin(
    client: Contree,
    op_id: String,
    spid: u64,
    state: watch::Receiver<ProcState>,
    data: Bytes,
    close: bool,
) -> Result<()> {
    wait_registered(&state).await?;
    let action = format!("writing stdin of spid {spid} in operation {op_id}");
    // A POST: the transport never replays it after it may have reached the server (so a
    // 504 is reported, not retried: the chunk may or may not have been written).
    match api::subprocess_stdin(&client, &op_id, spid, &data, close, &action).await {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(http::StatusCode::GATEWAY_TIMEOUT) => {
            Err(process_error(format!(
                "{action}: the server timed out (504) and the chunk may or may not have been written; it was not retried to avoid writing it twice"
            )))
        }
        Err(e) => Err(e),
    }
}

/// The stdin of a [`Process`](crate::Process). Each write is one ordered `POST …/stdin` (never replayed
/// after it may have reached the server); [`close`](ProcessStdin::close) or
/// `AsyncWriteExt::shutdown` sends end-of-file.
///
/// As an [`AsyncWrite`], a write is accepted at once and sent in the background; its
/// error (if any) surfaces on the next write, `flush` or `shutdown`.
pub struct ProcessStdin {
    pub(crate) client: Contree,
    pub(crate) op_id: String,
    pub(crate) spid: u64,
    pub(crate) state: watch::Receiver<ProcState>,
    /// The write in flight (in a `Mutex` only to make the writer `Sync`; it is only ever
    /// accessed through `&mut self`).
    pub(crate) inflight: std::sync::Mutex<Option<BoxFuture<Result<()>>>>,
    pub(crate) closed: bool,
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStdin")
            .field("operation_id", &self.op_id)
            .field("spid", &self.spid)
            .field("closed", &self.closed)
            .finish()
    }
}

fn to_io(e: Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl ProcessStdin {
    fn post(&self, data: Bytes, close: bool) -> BoxFuture<Result<()>> {
        Box::pin(post_stdin(
            self.client.clone(),
            self.op_id.clone(),
            self.spid,
            self.state.clone(),
            data,
            close,
        ))
    }

    fn slot(&mut self) -> &mut Option<BoxFuture<Result<()>>> {
        self.inflight.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    async fn settle(&mut self) -> Result<()> {
        let pending = self.slot().take();
        match pending {
            Some(f) => f.await,
            None => Ok(()),
        }
    }

    /// Writes `data` (waits until the server accepted it).
    ///
    /// # Errors
    ///
    /// `Process` when stdin was already closed; the [errors of every call](crate#errors).
    pub async fn send(&mut self, data: impl Into<Bytes>) -> Result<()> {
        self.settle().await?;
        if self.closed {
            return Err(process_error("stdin is already closed"));
        }
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        self.post(data, false).await
    }

    /// Sends end-of-file (idempotent).
    ///
    /// # Errors
    ///
    /// The [errors of every call](crate#errors).
    pub async fn close(&mut self) -> Result<()> {
        self.settle().await?;
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.post(Bytes::new(), true).await
    }

    fn poll_inflight(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(f) = self.slot().as_mut() {
            let r = std::task::ready!(f.as_mut().poll(cx));
            *self.slot() = None;
            r.map_err(to_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ProcessStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_inflight(cx))?;
        if self.closed {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "stdin is closed",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let fut = self.post(Bytes::copy_from_slice(buf), false);
        *self.slot() = Some(fut);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_inflight(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_inflight(cx))?;
        if !self.closed {
            self.closed = true;
            let fut = self.post(Bytes::new(), true);
            *self.slot() = Some(fut);
            std::task::ready!(self.poll_inflight(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}
