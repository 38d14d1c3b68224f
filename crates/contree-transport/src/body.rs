//! Request bodies (bytes, readers, streams; with progress). Response bodies live in
//! `response_body`.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_core::Stream;
use http_body::{Frame, SizeHint};
use tokio::io::AsyncRead;

use crate::error::BoxError;
pub use crate::response_body::{BodyReader, ResponseBody};

/// Chunk size for reading request bodies from readers: large enough that a file upload is not
/// thousands of tiny reads through the blocking pool, small enough to keep memory per upload
/// constant.
const READ_CHUNK: usize = 256 * 1024;

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
