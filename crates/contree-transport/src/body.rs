//! Request bodies (bytes, readers, streams; with progress) and streamed response bodies.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};
use tokio::time::Sleep;

use crate::error::{BoxError, Ctx, Error, Inner, chain};

/// Chunk size for reading request bodies from readers: large enough that a file upload is not
/// thousands of tiny reads through the blocking pool, small enough to keep memory per upload
/// constant.
const READ_CHUNK: usize = 256 * 1024;

/// Chunk size for decompressing gzip responses. Every open event stream holds one such buffer,
/// so it stays small: a fan-out keeps hundreds of streams open at once.
const DECODE_CHUNK: usize = 16 * 1024;

type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;
type Slot = Arc<Mutex<Option<ByteStream>>>;

/// Upload progress, reported as the transport hands body chunks to the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes handed to the connection so far in this attempt.
    pub sent: u64,
    /// The declared length, if known.
    pub total: Option<u64>,
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

enum Kind {
    Bytes(Bytes),
    Stream { slot: Slot, len: Option<u64> },
}

/// A request body: bytes (replayable), or a reader/stream of known or unknown length (sent
/// once; a retry is possible only if the first attempt never started reading it).
///
/// ```
/// use contree_transport::Body;
/// let b = Body::from(bytes::Bytes::from_static(b"{}"));
/// assert!(b.is_replayable());
/// assert_eq!(b.content_length(), Some(2));
///
/// let file: &'static [u8] = b"file contents";
/// let b = Body::from_reader(file, Some(13)).with_progress(|p| println!("{}/{:?}", p.sent, p.total));
/// assert!(!b.is_replayable());
/// ```
pub struct Body {
    kind: Kind,
    progress: Option<ProgressFn>,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Bytes(b) => write!(f, "Body::Bytes({} bytes)", b.len()),
            Kind::Stream { len, .. } => write!(f, "Body::Stream(len: {len:?})"),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Self {
            kind: Kind::Bytes(b),
            progress: None,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

impl Body {
    /// An empty body.
    pub fn empty() -> Self {
        Bytes::new().into()
    }

    /// A body read from `reader`. With `len: Some(n)` it is sent with `Content-Length: n` and
    /// the reader must yield exactly `n` bytes; with `None` it is sent chunked.
    pub fn from_reader<R>(reader: R, len: Option<u64>) -> Self
    where
        R: AsyncRead + Send + 'static,
    {
        Self::from_stream(
            tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK),
            len,
        )
    }

    /// A body from a stream of chunks (see [`from_reader`](Self::from_reader) for `len`).
    pub fn from_stream<S>(stream: S, len: Option<u64>) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Self {
            kind: Kind::Stream {
                slot: Arc::new(Mutex::new(Some(Box::pin(stream)))),
                len,
            },
            progress: None,
        }
    }

    /// Calls `f` each time a chunk is handed to the connection. A replayed bytes body reports
    /// from zero again.
    pub fn with_progress(mut self, f: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Whether the body can be sent more than once (only bytes bodies can).
    pub fn is_replayable(&self) -> bool {
        matches!(self.kind, Kind::Bytes(_))
    }

    /// The length, if known.
    pub fn content_length(&self) -> Option<u64> {
        match &self.kind {
            Kind::Bytes(b) => Some(b.len() as u64),
            Kind::Stream { len, .. } => *len,
        }
    }

    /// Whether an attempt can still send this body (bytes: always; streams: while unread).
    pub(crate) fn available(&self) -> bool {
        match &self.kind {
            Kind::Bytes(_) => true,
            Kind::Stream { slot, .. } => slot.lock().map(|s| s.is_some()).unwrap_or(false),
        }
    }

    /// The body for one attempt, or `None` when a stream was already consumed.
    pub(crate) fn for_attempt(&self) -> Option<ReqBody> {
        if !self.available() {
            return None;
        }
        let state = match &self.kind {
            Kind::Bytes(b) => ReqState::Bytes(Some(b.clone())),
            Kind::Stream { slot, .. } => ReqState::Stream {
                slot: slot.clone(),
                stream: None,
            },
        };
        Some(ReqBody {
            state,
            len: self.content_length(),
            sent: 0,
            progress: self.progress.clone(),
        })
    }
}

/// A failure of the caller's body source, recognisable in hyper's error chain.
#[derive(Debug)]
pub(crate) struct BodySourceError(pub(crate) String);

impl fmt::Display for BodySourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BodySourceError {}

enum ReqState {
    Bytes(Option<Bytes>),
    Stream {
        slot: Slot,
        stream: Option<ByteStream>,
    },
}

/// The per-attempt body handed to hyper.
pub(crate) struct ReqBody {
    state: ReqState,
    len: Option<u64>,
    sent: u64,
    progress: Option<ProgressFn>,
}

impl ReqBody {
    fn report(&mut self, n: usize) {
        self.sent += n as u64;
        if let Some(p) = &self.progress {
            p(Progress {
                sent: self.sent,
                total: self.len,
            });
        }
    }
}

impl http_body::Body for ReqBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.state {
            ReqState::Bytes(b) => match b.take() {
                Some(b) if !b.is_empty() => {
                    let n = b.len();
                    this.report(n);
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                _ => Poll::Ready(None),
            },
            ReqState::Stream { slot, stream } => {
                if stream.is_none() {
                    *stream = slot.lock().ok().and_then(|mut s| s.take());
                    if stream.is_none() {
                        return Poll::Ready(Some(Err(Box::new(BodySourceError(
                            "the body stream was already consumed by an earlier attempt".into(),
                        )))));
                    }
                }
                let Some(s) = stream.as_mut() else {
                    return Poll::Ready(None);
                };
                match ready!(s.as_mut().poll_next(cx)) {
                    Some(Ok(chunk)) => {
                        let n = chunk.len();
                        if let Some(len) = this.len
                            && this.sent + n as u64 > len
                        {
                            return Poll::Ready(Some(Err(Box::new(BodySourceError(format!(
                                "the body yielded more than its declared length of {len} bytes"
                            ))))));
                        }
                        this.report(n);
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Some(Err(e)) => Poll::Ready(Some(Err(Box::new(BodySourceError(format!(
                        "reading the body failed: {e}"
                    )))))),
                    None => {
                        if let Some(len) = this.len
                            && this.sent != len
                        {
                            return Poll::Ready(Some(Err(Box::new(BodySourceError(format!(
                                "the body ended after {} of its declared {len} bytes",
                                this.sent
                            ))))));
                        }
                        Poll::Ready(None)
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.state {
            ReqState::Bytes(b) => b.as_ref().is_none_or(|b| b.is_empty()),
            ReqState::Stream { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.len {
            Some(n) => SizeHint::with_exact(n.saturating_sub(self.sent)),
            None => SizeHint::default(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Response bodies

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
                    return Poll::Ready(Some(Err(RawError::Body(chain(&e)))));
                }
                Poll::Ready(None) => {
                    *this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    if let Some(idle) = *this.idle {
                        let sleep = this
                            .sleep
                            .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                        if sleep.as_mut().poll(cx).is_ready() {
                            *this.done = true;
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
    pub(crate) fn new(body: Incoming, gzip: bool, idle: Option<Duration>, ctx: Ctx) -> Self {
        let raw = IdleBody {
            body,
            idle,
            sleep: None,
            done: false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn an_unread_stream_body_stays_available_for_the_next_attempt() {
        let data: &'static [u8] = b"abc";
        let body = Body::from_reader(data, Some(3));
        // An attempt that never polled its body (e.g. the connection was refused).
        let first = body.for_attempt().unwrap();
        drop(first);
        assert!(body.available());
        // An attempt that read the body consumes it for good.
        let second = body.for_attempt().unwrap();
        let got = second.collect().await.unwrap().to_bytes();
        assert_eq!(got.as_ref(), b"abc");
        assert!(!body.available());
        assert!(body.for_attempt().is_none());
    }

    #[tokio::test]
    async fn bytes_bodies_replay_in_full_with_progress() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let body = Body::from(Bytes::from_static(b"hello")).with_progress(move |p| {
            s2.lock().unwrap().push(p.sent);
        });
        for _ in 0..2 {
            let b = body.for_attempt().unwrap();
            assert_eq!(b.collect().await.unwrap().to_bytes().as_ref(), b"hello");
        }
        assert_eq!(*seen.lock().unwrap(), vec![5, 5]);
    }
}
