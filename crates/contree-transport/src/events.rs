//! The resumable operation event stream (`GET /operations/{id}/events`).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use contree_proto::Request as _;
use contree_proto::requests::GetOperationEvents;
use futures_core::Stream;
use futures_util::FutureExt as _;
use futures_util::StreamExt;
use http::header::{ACCEPT_ENCODING, HeaderValue};
use tokio::time::Instant;

use crate::Body;
use crate::body::ResponseBody;
use crate::config::{RequestOptions, RetryConfig};
use crate::error::{Ctx, Error, ErrorKind, Inner};
use crate::retry::{self, TooEarly};
use crate::sse::SseDecoder;
use crate::transport::{Mode, Payload, Transport};

/// The most of a response read after its `completion` event to reach its end.
const DRAIN_MAX_BYTES: usize = 64 * 1024;
/// How long the poll after `completion` waits for the end of the response.
const DRAIN_WAIT: Duration = Duration::from_millis(50);

/// Which events to read.
///
/// ```
/// use contree_transport::EventParams;
/// let p = EventParams { follow: true, ..EventParams::default() };
/// assert_eq!(p.since, None); // from the first event (ids start at 0)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventParams {
    /// Keep the stream open and forward new events while the operation runs (`follow=1`).
    pub follow: bool,
    /// Only events of this subprocess (`spid=N`). Such a stream has no `completion` event and
    /// ends at end of stream.
    pub spid: Option<u64>,
    /// Only events with an id greater than this (`since=N`, exclusive). `None` reads from the
    /// start; note that `Some(0)` skips event 0.
    pub since: Option<u64>,
}

/// One event of an operation's log. `data` is the raw JSON `OperationEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The event id (ids start at 0 and increase, possibly with gaps).
    pub id: Option<u64>,
    /// The SSE event name (equals the JSON `type`), e.g. `stdout` or `completion`.
    pub event: String,
    /// The JSON payload, undecoded.
    pub data: String,
}

/// The resumable event stream from [`Transport::events`] or [`Transport::open_events`].
///
/// It reconnects after a dropped connection, an `sse_error` frame, a read-idle timeout and
/// HTTP 408/410/425/429/5xx, sending `Last-Event-Id` and honouring `Retry-After` and the
/// server's `retry:` (capped at [`RetryConfig::max_backoff`], jittered). A 425 (the
/// operation is not streamable yet, e.g. still PENDING right after the spawn) is asked again
/// on the short schedule of [`TooEarly`](crate::retry::TooEarly) (first after 25–50 ms,
/// never later than `Retry-After`, at most 8 requests in the first second and 5 a second
/// after), so a stream opens within tens of milliseconds of the operation becoming
/// streamable instead of a whole second later. It drops events whose id it has already yielded, so every event arrives
/// exactly once and in order. It ends after the `completion` event; a stream with a `spid`
/// filter, or without `follow`, ends at the server's end of stream. Other errors (400, 401
/// after one refresh or none for a static provider, 403, 404, …) are yielded once and end the stream; so does giving up
/// after [`RetryConfig::max_stream_reconnects`] reconnections in a row without a new event.
///
/// No task is spawned: dropping the stream closes the connection. Polling it once more after
/// `completion` (until it yields `None`) reads the end of the response, which returns the
/// connection to the pool for the next request instead of opening a new one.
///
/// The stream is requested without compression (`Accept-Encoding: identity`) unless
/// [`TransportBuilder::compress_event_streams`](crate::TransportBuilder::compress_event_streams)
/// is set; a gzip answer is decoded either way.
///
/// ```no_run
/// # async fn demo(t: contree_transport::Transport) -> Result<(), contree_transport::Error> {
/// use futures_util::StreamExt;
/// use contree_transport::EventParams;
/// let mut events = t.open_events("op-uuid", EventParams { follow: true, ..Default::default() }).await?;
/// while let Some(ev) = events.next().await {
///     let ev = ev?;
///     println!("{:?} {} {}", ev.id, ev.event, ev.data);
/// }
/// # Ok(()) }
/// ```
pub struct EventStream {
    inner: Pin<Box<dyn Stream<Item = Result<SseEvent, Error>> + Send>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

impl Stream for EventStream {
    type Item = Result<SseEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

enum After {
    /// The server ended the response cleanly.
    Eof,
    /// The connection or stream failed; reconnect unless the budget is spent.
    Reconnect(Error),
}

struct State {
    transport: Transport,
    op_id: String,
    params: EventParams,
    retry: RetryConfig,
    body: Option<ResponseBody>,
    decoder: SseDecoder,
    last_id: Option<u64>,
    /// Reconnections in a row that brought no new event.
    streak: u32,
    /// Whether the current connection delivered a new event.
    progressed: bool,
    server_retry: Option<Duration>,
    /// The run of 425s (operation not streamable yet) being waited out.
    too_early: TooEarly,
    after: Option<After>,
    episode_start: Option<Instant>,
    done: bool,
}

fn reconnectable(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Stream => true,
        ErrorKind::Api => e
            .status()
            .is_some_and(|s| matches!(s.as_u16(), 408 | 410 | 425 | 429) || s.is_server_error()),
        _ => false,
    }
}

impl State {
    fn ctx(&self) -> Ctx {
        let meta = GetOperationEvents::meta();
        Ctx {
            op: meta.id,
            method: meta.method.clone(),
            path: GetOperationEvents::new(self.op_id.as_str()).uri(),
            attempts: 0,
        }
    }

    /// The request for the next connection: `contree-proto` builds the path, the query and
    /// the `Accept`/`Last-Event-Id` headers.
    fn request(&self) -> Result<http::Request<Body>, Error> {
        let wide = |what: &str, n: u64| {
            i64::try_from(n).map_err(|_| {
                Error::config(format!(
                    "the event stream's {what} {n} is beyond the API's 63-bit integers; \
                     pass a value below 2^63"
                ))
            })
        };
        let mut events = GetOperationEvents::new(self.op_id.as_str());
        events.follow = self.params.follow;
        events.spid = self.params.spid.map(|n| wide("spid", n)).transpose()?;
        events.since = self.params.since.map(|n| wide("since", n)).transpose()?;
        events.last_event_id = self.last_id.map(|n| wide("Last-Event-Id", n)).transpose()?;
        let mut req = events
            .to_http()
            .map_err(|e| Error::config(format!("invalid operation id {:?}: {e}", self.op_id)))?
            .map(Body::from);
        if !self.transport.compress_event_streams() {
            // Without gzip an open stream holds no inflate state (a 32 KiB window plus
            // buffers): what a fan-out of thousands of followed runs pays per run.
            req.headers_mut()
                .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        Ok(req)
    }

    async fn connect(&mut self) -> Result<ResponseBody, Error> {
        let req = self.request()?;
        let opts = RequestOptions {
            retry: Some(RetryConfig {
                max_attempts: 1,
                ..self.retry
            }),
            operation_timeout: Some(None),
            ..RequestOptions::default()
        };
        tracing::debug!(op_id = %self.op_id, last_event_id = ?self.last_id, "opening the event stream");
        let resp = self
            .transport
            .execute(GetOperationEvents::meta(), req, &opts, Mode::Streaming)
            .await?;
        match resp.into_body() {
            Payload::Stream(s) => Ok(s),
            Payload::Bytes(_) => Err(Inner::Stream {
                ctx: self.ctx(),
                message: "the event stream response had no body".into(),
                retryable: true,
            }
            .into()),
        }
    }

    /// Handles a failure: sleeps before reconnecting, or returns the error to give up.
    ///
    /// A 425 (the operation has no worker yet) is asked again on the short [`TooEarly`]
    /// schedule; such retries do not count as failed reconnections while the waiting stays
    /// within what `max_stream_reconnects` sleeps of the server's `Retry-After` would take.
    /// Otherwise the delay is the server's `Retry-After`, else its SSE `retry:` (capped at
    /// `max_backoff`, jittered), else the exponential backoff.
    async fn back_off(&mut self, err: Error) -> Result<(), Error> {
        if !reconnectable(&err) {
            return Err(err);
        }
        let retry_after = err.retry_after();
        if retry_after.is_some_and(|ra| ra > self.retry.max_retry_after) {
            return Err(err);
        }
        let delay = if err.is_status(425) {
            let budget = retry::too_early_budget(self.retry.max_stream_reconnects, retry_after);
            let delay = self.too_early.next_delay(retry_after);
            if self.too_early.waited() > budget {
                self.streak += 1;
            }
            delay
        } else {
            self.streak += 1;
            match (retry_after, self.server_retry) {
                (Some(ra), _) => ra,
                (None, Some(server)) => retry::server_retry_delay(server, self.retry.max_backoff),
                (None, None) => self.retry.backoff(self.streak),
            }
        };
        if self.streak > self.retry.max_stream_reconnects {
            return Err(err.with_attempts(self.streak));
        }
        let start = *self.episode_start.get_or_insert_with(Instant::now);
        if let Some(limit) = self.transport.timeouts().operation
            && start.elapsed() + delay > limit
        {
            return Err(err);
        }
        tracing::info!(
            op_id = %self.op_id,
            attempt = self.streak,
            too_early = self.too_early.count(),
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            last_event_id = ?self.last_id,
            reason = %err,
            "reconnecting the event stream"
        );
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// Connects (reconnecting as needed) until a stream is open or a fatal error.
    async fn ensure_connected(&mut self) -> Result<(), Error> {
        while self.body.is_none() {
            // Boxed: the request's retry loop is the largest future here, and a followed
            // run spends its life reading the body, so the stream's own future stays small
            // (what a fan-out pays per run in flight) and the big one lives only while
            // connecting.
            match Box::pin(self.connect()).await {
                Ok(body) => {
                    self.body = Some(body);
                    self.decoder = SseDecoder::new();
                    self.progressed = false;
                    self.too_early = TooEarly::default();
                }
                Err(e) => Box::pin(self.back_off(e)).await?,
            }
        }
        Ok(())
    }

    /// After `completion`: reads what the connection already holds of the rest of the
    /// response (the end of the chunked body, the gzip trailer) without waiting, so that a
    /// response read to its end hands its connection back to the pool instead of closing it.
    fn drain_ready(&mut self) {
        let mut budget = DRAIN_MAX_BYTES;
        while let Some(body) = self.body.as_mut() {
            match body.next().now_or_never() {
                Some(Some(Ok(chunk))) if chunk.len() < budget => budget -= chunk.len(),
                // The end (the connection is reusable), a failure, or too much after the end.
                Some(_) => self.body = None,
                // Not arrived yet: the next poll waits for it, briefly.
                None => return,
            }
        }
    }

    /// Waits up to [`DRAIN_WAIT`] for the rest of a completed response, then lets it go.
    async fn drain_rest(&mut self) {
        let Some(mut body) = self.body.take() else {
            return;
        };
        let _ = tokio::time::timeout(DRAIN_WAIT, async move {
            let mut budget = DRAIN_MAX_BYTES;
            while let Some(Ok(chunk)) = body.next().await {
                if chunk.len() >= budget {
                    break;
                }
                budget -= chunk.len();
            }
        })
        .await;
    }

    async fn next_item(&mut self) -> Option<Result<SseEvent, Error>> {
        loop {
            if self.done {
                // Boxed (as the connect and back-off futures are): the stream's own future,
                // held by every followed run while it reads, keeps no room for them.
                Box::pin(self.drain_rest()).await;
                return None;
            }
            // 1. Frames already decoded.
            while let Some(frame) = self.decoder.next_frame() {
                if frame.event == "sse_error" {
                    let message = format!("the server reported `sse_error`: {}", frame.data.trim());
                    self.body = None;
                    self.decoder = SseDecoder::new();
                    self.after = Some(After::Reconnect(
                        Inner::Stream {
                            ctx: self.ctx(),
                            message,
                            retryable: true,
                        }
                        .into(),
                    ));
                    break;
                }
                let id = frame
                    .id
                    .as_deref()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                if let (Some(id), Some(last)) = (id, self.last_id)
                    && id <= last
                {
                    tracing::trace!(id, last, "dropping an event already delivered");
                    continue;
                }
                if id.is_some() {
                    self.last_id = id;
                }
                self.streak = 0;
                self.episode_start = None;
                self.progressed = true;
                if frame.event == "completion" {
                    self.done = true;
                    self.drain_ready();
                }
                return Some(Ok(SseEvent {
                    id,
                    event: frame.event,
                    data: frame.data,
                }));
            }
            // 2. What to do after the previous connection ended.
            match self.after.take() {
                Some(After::Eof) => {
                    if self.params.spid.is_some() || !self.params.follow || !self.progressed {
                        self.done = true;
                        return None;
                    }
                    tracing::debug!(op_id = %self.op_id, "event stream ended without completion; reconnecting");
                }
                Some(After::Reconnect(err)) => {
                    if let Err(e) = Box::pin(self.back_off(err)).await {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                None => {}
            }
            // 3. Read from the open connection, or open one.
            if let Some(body) = self.body.as_mut() {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        if let Err(e) = self.decoder.feed(&chunk) {
                            self.done = true;
                            return Some(Err(Inner::Decode {
                                ctx: self.ctx(),
                                message: e.to_string(),
                            }
                            .into()));
                        }
                        if let Some(r) = self.decoder.retry() {
                            self.server_retry = Some(r);
                        }
                    }
                    Some(Err(e)) => {
                        self.body = None;
                        self.decoder.finish();
                        self.after = Some(After::Reconnect(e));
                    }
                    None => {
                        self.body = None;
                        self.decoder.finish();
                        self.after = Some(After::Eof);
                    }
                }
            } else if let Err(e) = self.ensure_connected().await {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

impl Transport {
    fn event_state(&self, operation_id: &str, params: EventParams) -> State {
        State {
            transport: self.clone(),
            op_id: operation_id.to_string(),
            last_id: params.since,
            params,
            retry: *self.retry_config(),
            body: None,
            decoder: SseDecoder::new(),
            streak: 0,
            progressed: false,
            server_retry: None,
            too_early: TooEarly::default(),
            after: None,
            episode_start: None,
            done: false,
        }
    }

    /// The resumable event stream of an operation, connecting lazily on first poll. A fatal
    /// status (e.g. 404) arrives as the stream's first and only item; use
    /// [`open_events`](Self::open_events) to get it from the call instead.
    pub fn events(&self, operation_id: &str, params: EventParams) -> EventStream {
        let state = self.event_state(operation_id, params);
        EventStream {
            inner: Box::pin(futures_util::stream::unfold(state, |mut st| async move {
                st.next_item().await.map(|item| (item, st))
            })),
        }
    }

    /// Like [`events`](Self::events), but connects first: the status is checked before the
    /// stream is handed out, so a 4xx is an error from this call (425/410/5xx are retried
    /// first, as on reconnection).
    pub async fn open_events(
        &self,
        operation_id: &str,
        params: EventParams,
    ) -> Result<EventStream, Error> {
        let mut state = self.event_state(operation_id, params);
        state.ensure_connected().await?;
        Ok(EventStream {
            inner: Box::pin(futures_util::stream::unfold(state, |mut st| async move {
                st.next_item().await.map(|item| (item, st))
            })),
        })
    }
}
