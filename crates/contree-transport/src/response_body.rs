//! Streamed response bodies: the read-idle timer, incremental gzip decoding, the size cap
//! of buffered reads, and the `AsyncRead` adapter.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use hyper::body::Incoming;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio::time::Sleep;

use crate::error::{Ctx, Error, Inner, chain};
use crate::pool::Lease;

/// Chunk size for decompressing gzip responses. Every open event stream holds one such buffer,
/// so it stays small: a fan-out keeps hundreds of streams open at once.
const DECODE_CHUNK: usize = 16 * 1024;

/// A failure below the decoding layer, carried through `io::Error` across the gzip decoder.
#[derive(Debug)]
enum RawError {
    Idle(Duration),
    Body(String),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawError::Idle(d) => write!(f, "no data for {d:?}"),
            RawError::Body(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for RawError {}

pin_project_lite::pin_project! {
    /// The raw body with the read-idle timer.
    struct IdleBody {
        #[pin]
        body: Incoming,
        idle: Option<Duration>,
        sleep: Option<Pin<Box<Sleep>>>,
        done: bool,
        // The request's place in its HTTP/2 shard, given back when the body ends.
        lease: Option<Lease>,
    }
}

impl Stream for IdleBody {
    type Item = Result<Bytes, RawError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        loop {
            match http_body::Body::poll_frame(this.body.as_mut(), cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(idle) = *this.idle {
                        match this.sleep.as_mut() {
                            Some(s) => s.as_mut().reset(tokio::time::Instant::now() + idle),
                            None => *this.sleep = Some(Box::pin(tokio::time::sleep(idle))),
                        }
                    }
                    match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Poll::Ready(Some(Ok(data))),
                        // Empty data or trailers: keep reading.
                        _ => continue,
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.done = true;
                    *this.lease = None;
                    return Poll::Ready(Some(Err(RawError::Body(chain(&e)))));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    *this.lease = None;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if let Some(idle) = *this.idle {
                        let sleep = this
                            .sleep
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                        if sleep.as_mut().poll(cx).is_ready() {
                            *this.done = true;
                            *this.lease = None;
                            return Poll::Ready(Some(Err(RawError::Idle(idle))));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

type ErrStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// A streamed response body: a `Stream` of chunks, decoded (gzip) incrementally, with the
/// read-idle timeout applied between chunks. Convert it to an `AsyncRead` with
/// [`into_async_read`](Self::into_async_read). Dropping it cancels the request.
///
/// ```
/// # async fn demo(body: contree_transport::ResponseBody) -> Result<(), contree_transport::Error> {
/// use futures_util::StreamExt;
/// let mut body = body;
/// while let Some(chunk) = body.next().await {
///     let chunk = chunk?;
///     println!("{} bytes", chunk.len());
/// }
/// # Ok(()) }
/// ```
pub struct ResponseBody {
    inner: ErrStream,
    done: bool,
    /// Where the body came from and whether it is gzip (for the size-cap error).
    origin: Option<(Ctx, bool)>,
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

fn raw_to_error(e: RawError, ctx: &Ctx) -> Error {
    match e {
        RawError::Idle(after) => Inner::Timeout {
            ctx: ctx.clone(),
            phase: "waiting for the next chunk of the response body (read-idle)",
            after,
            retryable: true,
        }
        .into(),
        RawError::Body(message) => Inner::Stream {
            ctx: ctx.clone(),
            message: format!("the connection broke mid-body: {message}"),
            retryable: true,
        }
        .into(),
    }
}

impl ResponseBody {
    pub(crate) fn new(
        body: Incoming,
        gzip: bool,
        idle: Option<Duration>,
        ctx: Ctx,
        lease: Lease,
    ) -> Self {
        let raw = IdleBody {
            body,
            idle,
            sleep: None,
            done: false,
            lease: Some(lease),
        };
        let inner: ErrStream = if gzip {
            let io_stream = raw.map(|r| r.map_err(io::Error::other));
            let reader = tokio_util::io::StreamReader::new(io_stream);
            let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(reader);
            // Read on after the gzip trailer (another member may follow, RFC 1952) to the end
            // of the body: that checks nothing trails the data, and a response read to its
            // end gives its connection back to the pool instead of closing it.
            decoder.multiple_members(true);
            let ctx2 = ctx.clone();
            Box::pin(
                tokio_util::io::ReaderStream::with_capacity(decoder, DECODE_CHUNK).map(move |r| {
                    r.map_err(|e| {
                        let kind = e.kind();
                        match e.into_inner().map(|i| i.downcast::<RawError>()) {
                            Some(Ok(raw)) => raw_to_error(*raw, &ctx2),
                            Some(Err(other)) if kind == io::ErrorKind::UnexpectedEof => {
                                truncated(&ctx2, &other.to_string())
                            }
                            Some(Err(other)) => Inner::Decode {
                                ctx: ctx2.clone(),
                                message: format!("invalid gzip data: {other}"),
                            }
                            .into(),
                            None if kind == io::ErrorKind::UnexpectedEof => {
                                truncated(&ctx2, "unexpected end of file")
                            }
                            None => Inner::Decode {
                                ctx: ctx2.clone(),
                                message: format!("invalid gzip data ({kind})"),
                            }
                            .into(),
                        }
                    })
                }),
            )
        } else {
            let ctx2 = ctx.clone();
            Box::pin(raw.map(move |r| r.map_err(|e| raw_to_error(e, &ctx2))))
        };
        Self {
            inner,
            done: false,
            origin: Some((ctx, gzip)),
        }
    }

    /// A body that yields already-buffered bytes.
    pub(crate) fn from_bytes(b: Bytes) -> Self {
        let items = if b.is_empty() { vec![] } else { vec![Ok(b)] };
        Self {
            inner: Box::pin(futures_util::stream::iter(items)),
            done: false,
            origin: None,
        }
    }

    /// Reads the whole body into memory (for small bodies).
    pub async fn collect(mut self) -> Result<Bytes, Error> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Reads the whole body, failing with [`ErrorKind::ResponseTooLarge`](crate::ErrorKind)
    /// as soon as more than `limit` decoded bytes arrived (memory stays within `limit` plus
    /// one chunk whatever the server sends, a gzip bomb included).
    pub(crate) async fn collect_capped(mut self, limit: usize) -> Result<Bytes, Error> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                let (ctx, decompressed) = self.origin.take().unwrap_or_else(|| {
                    (
                        Ctx {
                            op: "unknown",
                            method: http::Method::GET,
                            path: String::new(),
                            attempts: 0,
                        },
                        false,
                    )
                });
                return Err(Inner::TooLarge {
                    ctx,
                    limit,
                    decompressed,
                }
                .into());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Reads at most `limit` bytes (the rest is dropped), for error bodies.
    pub(crate) async fn collect_limited(mut self, limit: usize) -> Result<Bytes, Error> {
        let mut buf = bytes::BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            let room = limit.saturating_sub(buf.len());
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= limit {
                break;
            }
        }
        Ok(buf.freeze())
    }

    /// An `AsyncRead` (and `AsyncBufRead`) over the body. Errors arrive as `io::Error`s whose
    /// inner error is this crate's [`Error`].
    pub fn into_async_read(self) -> BodyReader {
        BodyReader {
            inner: tokio_util::io::StreamReader::new(Box::pin(
                self.map(|r| r.map_err(io::Error::other)),
            )),
        }
    }
}

fn truncated(ctx: &Ctx, detail: &str) -> Error {
    Inner::Stream {
        ctx: ctx.clone(),
        message: format!(
            "the gzip-compressed body ended before its trailer (truncated response: {detail})"
        ),
        retryable: true,
    }
    .into()
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = ready!(self.inner.as_mut().poll_next(cx));
        match &item {
            Some(Err(_)) | None => self.done = true,
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }
}

type IoStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// An `AsyncRead` over a [`ResponseBody`], from [`ResponseBody::into_async_read`].
pub struct BodyReader {
    inner: tokio_util::io::StreamReader<IoStream, Bytes>,
}

impl fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyReader").finish_non_exhaustive()
    }
}

impl AsyncRead for BodyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncBufRead for BodyReader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Pin::new(&mut self.get_mut().inner).poll_fill_buf(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        Pin::new(&mut self.inner).consume(amt)
    }
}
