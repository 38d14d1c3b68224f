//! Timeouts, retry settings and per-request options.

use std::time::Duration;

/// The four timeouts of the transport. All are plain [`Duration`]s.
///
/// | Field | Default | Covers |
/// |---|---|---|
/// | `connect` | 10 s | the TCP connect, per attempt (the TLS handshake counts against `attempt`) |
/// | `attempt` | 60 s | one attempt until the response headers arrive (including sending the request body); for buffered calls ([`Transport::send`](crate::Transport::send)) also reading the body |
/// | `read_idle` | 300 s | the longest silence between two body chunks of a *streamed* response (SSE keepalives reset it) |
/// | `operation` | none | the whole call including every retry and backoff sleep |
///
/// A stream never has a total timeout: only `read_idle` applies once its headers arrived.
/// For event streams the `operation` deadline bounds each reconnection episode, not the stream.
///
/// ```
/// use std::time::Duration;
/// use contree_transport::Timeouts;
/// let t = Timeouts { operation: Some(Duration::from_secs(30)), ..Timeouts::default() };
/// assert_eq!(t.connect, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect timeout, per attempt.
    pub connect: Duration,
    /// Per-attempt timeout until the response headers (for buffered calls: until the body is read).
    pub attempt: Duration,
    /// Longest allowed gap between body chunks of a streamed response; `None` waits forever.
    pub read_idle: Option<Duration>,
    /// Deadline for the whole call, retries included; `None` means no deadline.
    pub operation: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            attempt: Duration::from_secs(60),
            read_idle: Some(Duration::from_secs(300)),
            operation: None,
        }
    }
}

/// How failed attempts are retried. See [`crate::retry::classify`] for *which* failures are.
///
/// The delay before retry `n` (1-based) is drawn uniformly from
/// `0..=min(max_backoff, initial_backoff * 2^(n-1))` ("full jitter"), unless the server sent
/// `Retry-After`, which is honoured as given (one longer than `max_retry_after` gives up).
/// A 425 (not processed, not ready yet) is asked again sooner, on the short schedule of
/// [`TooEarly`](crate::retry::TooEarly), never later than its `Retry-After`; those retries
/// are free while the waiting stays within `max_attempts - 1` times the `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// use contree_transport::RetryConfig;
/// let r = RetryConfig { max_attempts: 5, ..RetryConfig::default() };
/// assert_eq!(r.initial_backoff, Duration::from_millis(200));
/// assert_eq!(RetryConfig::disabled().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Total attempts per call, including the first (at least 1).
    pub max_attempts: u32,
    /// The backoff base.
    pub initial_backoff: Duration,
    /// The largest backoff drawn from the exponential schedule.
    pub max_backoff: Duration,
    /// The largest `Retry-After` honoured; longer requests give up instead of sleeping.
    pub max_retry_after: Duration,
    /// For event streams: how many reconnections in a row may fail to deliver a new event
    /// before the stream gives up with the last error.
    pub max_stream_reconnects: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            max_retry_after: Duration::from_secs(120),
            max_stream_reconnects: 20,
        }
    }
}

impl RetryConfig {
    /// A single attempt, no retries (event streams still reconnect up to
    /// `max_stream_reconnects` times).
    pub fn disabled() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The full-jitter backoff before retry number `retry` (1-based).
    pub(crate) fn backoff(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let cap = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff);
        let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::random_range(0..=nanos))
    }
}

/// Per-call overrides. Everything defaults to "use the operation's metadata and the
/// transport's settings".
///
/// ```
/// use contree_transport::RequestOptions;
/// // Force-retry a POST the caller knows to be safe to replay.
/// let opts = RequestOptions { idempotent: Some(true), ..RequestOptions::default() };
/// assert!(opts.retry.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// Overrides `OperationMeta::idempotent` (whether the call may be replayed after it may have
    /// reached the server).
    pub idempotent: Option<bool>,
    /// Overrides the transport's retry settings for this call.
    pub retry: Option<RetryConfig>,
    /// Overrides the transport's per-attempt timeout for this call (e.g. for large uploads).
    pub attempt_timeout: Option<Duration>,
    /// Overrides the transport's read-idle timeout for this call.
    pub read_idle: Option<Option<Duration>>,
    /// Overrides the transport's operation deadline for this call.
    pub operation_timeout: Option<Option<Duration>>,
    /// Overrides the transport's cap on the decoded size of a buffered response body
    /// ([`TransportBuilder::max_response_bytes`](crate::TransportBuilder::max_response_bytes)).
    pub max_response_bytes: Option<usize>,
}

/// The default cap on the decoded (decompressed) size of a buffered response body: 64 MiB.
/// Streamed bodies ([`Transport::send_streaming`](crate::Transport::send_streaming), event
/// streams) are not buffered and have no such cap.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;
