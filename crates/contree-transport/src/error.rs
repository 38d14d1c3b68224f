//! The crate's error type: opaque, with a kind, predicates and a message that says what to do.

use std::fmt;
use std::time::Duration;

use http::{Method, StatusCode};
use snafu::Snafu;

/// A boxed error from a lower layer (hyper, I/O, TLS).
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, broadly. Use it to decide how to react; the message has the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The transport was configured wrongly (bad URL, plain `http` to a remote host, TLS setup).
    Config,
    /// The credentials provider failed, or the credentials cannot be put on the wire.
    Credentials,
    /// The connection could not be established, or broke before a complete response arrived.
    Connect,
    /// A timeout fired (connect, attempt, read-idle or the operation deadline).
    Timeout,
    /// The server answered with a status the operation does not expect (usually 4xx/5xx).
    Api,
    /// A response body could not be decoded (gzip, SSE framing, size limits).
    Decode,
    /// A response stream failed after it was handed out (reset, truncation, `sse_error` frames
    /// that could not be recovered).
    Stream,
    /// The request body source (reader or stream) failed, or cannot be replayed.
    Body,
    /// A buffered response body was larger than the cap on decoded bytes
    /// ([`TransportBuilder::max_response_bytes`](crate::TransportBuilder::max_response_bytes)).
    ResponseTooLarge,
}

/// Where a request failed: operation, method and path (never a query string or a secret).
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) op: &'static str,
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) attempts: u32,
}

impl fmt::Display for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.op)?;
        if self.attempts > 1 {
            write!(f, " after {} attempts", self.attempts)
        } else if self.attempts == 1 {
            f.write_str(" after 1 attempt")
        } else {
            Ok(())
        }
    }
}

/// Flattens an error and its sources into `a: b: c`, without repeating identical parts.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = e.source();
    }
    out
}

#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub(crate) enum Inner {
    #[snafu(display("invalid transport configuration: {message}"))]
    Config { message: String },

    #[snafu(display("{}could not obtain credentials: {source}", opt_ctx(ctx)))]
    Credentials {
        ctx: Option<Ctx>,
        source: contree_auth::Error,
    },

    #[snafu(display(
        "{}credentials cannot be sent: header `{name}` has an invalid value; check the token and project for stray characters",
        opt_ctx(ctx)
    ))]
    InvalidHeader {
        ctx: Option<Ctx>,
        name: &'static str,
    },

    #[snafu(display(
        "{ctx}: {what}: {cause}; check the base URL, the network and that the service is reachable"
    ))]
    Connect {
        ctx: Ctx,
        what: &'static str,
        cause: String,
        retryable: bool,
    },

    #[snafu(display(
        "{ctx}: {phase} timed out after {after:?}; raise the timeout in `Timeouts` if the service is just slow"
    ))]
    Timeout {
        ctx: Ctx,
        phase: &'static str,
        after: Duration,
        retryable: bool,
    },

    #[snafu(display(
        "{ctx}: the operation deadline of {deadline:?} was exceeded{}",
        last.as_ref().map(|l| format!(" (last error: {l})")).unwrap_or_default()
    ))]
    Deadline {
        ctx: Ctx,
        deadline: Duration,
        last: Option<String>,
    },

    #[snafu(display("{ctx}: HTTP {status}{}{}", api_text(message), retry_hint(*status, *retry_after)))]
    Api {
        ctx: Ctx,
        status: StatusCode,
        message: Option<String>,
        retry_after: Option<Duration>,
    },

    #[snafu(display("{ctx}: could not decode the response: {message}"))]
    Decode { ctx: Ctx, message: String },

    #[snafu(display("{ctx}: the response stream failed: {message}"))]
    Stream {
        ctx: Ctx,
        message: String,
        retryable: bool,
    },

    #[snafu(display("{ctx}: the request body failed: {message}"))]
    Body { ctx: Ctx, message: String },

    #[snafu(display(
        "{ctx}: the response body exceeds the limit of {limit} bytes{}; the cap protects memory from a runaway or hostile server: raise it with `max_response_bytes` if this response is legitimately that large",
        if *decompressed { " once decompressed" } else { "" }
    ))]
    TooLarge {
        ctx: Ctx,
        limit: usize,
        decompressed: bool,
    },
}

/// Appended to the message of a call that may have taken effect although it failed.
const MAYBE_PROCESSED: &str = "; the request was sent and this call is not idempotent, so it may already have taken effect on the server and was not replayed: check its result (e.g. list the operations) before trying again";

fn opt_ctx(ctx: &Option<Ctx>) -> String {
    ctx.as_ref().map(|c| format!("{c}: ")).unwrap_or_default()
}

fn api_text(message: &Option<String>) -> String {
    match message {
        Some(m) if !m.is_empty() => format!(": {m}"),
        _ => String::new(),
    }
}

fn retry_hint(status: StatusCode, retry_after: Option<Duration>) -> String {
    match (status.as_u16(), retry_after) {
        (_, Some(d)) => format!(" (the server asks to retry after {}s)", d.as_secs()),
        (401, _) => " (the token was rejected; check the token and its source)".into(),
        (403, _) => {
            " (the token lacks the permission for this call, or the project is wrong)".into()
        }
        _ => String::new(),
    }
}

/// The error of `contree-transport`.
///
/// Opaque: inspect it with [`kind`](Error::kind) and the predicates. Its `Display` names the
/// operation, method, path, HTTP status, the server's error text and the attempt count, and
/// already includes the underlying cause (so there is no need to print the `source()` chain).
/// It never contains a token.
///
/// ```
/// # async fn demo(t: contree_transport::Transport) {
/// # let op = contree_proto::OperationMeta { id: "whoAmI", method: http::Method::GET,
/// #     path: "/whoami", success: &[200], idempotent: true, streaming: false };
/// # let req = http::Request::get("/whoami").body(contree_transport::Body::empty()).unwrap();
/// match t.send(&op, req, &Default::default()).await {
///     Ok(resp) => println!("{} bytes", resp.body().len()),
///     Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => println!("gone"),
///     Err(e) => eprintln!("{e} (retryable: {})", e.is_retryable()),
/// }
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
    /// A non-idempotent call that failed after it was sent: the server may have processed it.
    maybe_processed: bool,
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Inner::Config { .. } => ErrorKind::Config,
            Inner::Credentials { .. } | Inner::InvalidHeader { .. } => ErrorKind::Credentials,
            Inner::Connect { .. } => ErrorKind::Connect,
            Inner::Timeout { .. } | Inner::Deadline { .. } => ErrorKind::Timeout,
            Inner::Api { .. } => ErrorKind::Api,
            Inner::Decode { .. } => ErrorKind::Decode,
            Inner::Stream { .. } => ErrorKind::Stream,
            Inner::Body { .. } => ErrorKind::Body,
            Inner::TooLarge { .. } => ErrorKind::ResponseTooLarge,
        }
    }

    /// Whether this call may have taken effect on the server although it failed: a
    /// non-idempotent request (e.g. a spawn) that was sent before the connection broke or the
    /// attempt timed out. Such a call is never replayed; check its result before repeating it.
    pub fn may_have_taken_effect(&self) -> bool {
        self.maybe_processed
    }

    /// Marks the error as "the request was sent and may have been processed".
    pub(crate) fn maybe_processed(mut self) -> Self {
        self.maybe_processed = true;
        self
    }

    /// The HTTP status, for [`ErrorKind::Api`] errors.
    pub fn status(&self) -> Option<StatusCode> {
        match &*self.inner {
            Inner::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error text (the `error` field of its `Error` body, or the raw body text),
    /// for [`ErrorKind::Api`] errors.
    pub fn api_message(&self) -> Option<&str> {
        match &*self.inner {
            Inner::Api { message, .. } => message.as_deref(),
            _ => None,
        }
    }

    /// The server's `Retry-After`, if the failing response carried one.
    pub fn retry_after(&self) -> Option<Duration> {
        match &*self.inner {
            Inner::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// How many attempts were made before giving up (0 when the request was never sent).
    pub fn attempts(&self) -> u32 {
        self.ctx().map(|c| c.attempts).unwrap_or(0)
    }

    /// Whether trying the same call again later may succeed (transient network failures,
    /// timeouts, 408/425/429/5xx). It does not say whether a replay is *safe*: a
    /// non-idempotent call that failed after it was sent may already have taken effect.
    pub fn is_retryable(&self) -> bool {
        match &*self.inner {
            Inner::Connect { retryable, .. }
            | Inner::Timeout { retryable, .. }
            | Inner::Stream { retryable, .. } => *retryable,
            Inner::Deadline { .. } => true,
            Inner::Api { status, .. } => {
                matches!(status.as_u16(), 408 | 425 | 429) || status.is_server_error()
            }
            _ => false,
        }
    }

    /// Whether a timeout (connect, attempt, read-idle, or the operation deadline) fired.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether the server answered with this status.
    pub fn is_status(&self, code: u16) -> bool {
        self.status().map(|s| s.as_u16()) == Some(code)
    }

    pub(crate) fn ctx(&self) -> Option<&Ctx> {
        match &*self.inner {
            Inner::Config { .. } => None,
            Inner::Credentials { ctx, .. } | Inner::InvalidHeader { ctx, .. } => ctx.as_ref(),
            Inner::Connect { ctx, .. }
            | Inner::Timeout { ctx, .. }
            | Inner::Deadline { ctx, .. }
            | Inner::Api { ctx, .. }
            | Inner::Decode { ctx, .. }
            | Inner::Stream { ctx, .. }
            | Inner::Body { ctx, .. }
            | Inner::TooLarge { ctx, .. } => Some(ctx),
        }
    }

    fn ctx_mut(&mut self) -> Option<&mut Ctx> {
        match &mut *self.inner {
            Inner::Config { .. } => None,
            Inner::Credentials { ctx, .. } | Inner::InvalidHeader { ctx, .. } => ctx.as_mut(),
            Inner::Connect { ctx, .. }
            | Inner::Timeout { ctx, .. }
            | Inner::Deadline { ctx, .. }
            | Inner::Api { ctx, .. }
            | Inner::Decode { ctx, .. }
            | Inner::Stream { ctx, .. }
            | Inner::Body { ctx, .. }
            | Inner::TooLarge { ctx, .. } => Some(ctx),
        }
    }

    /// Records the final attempt count.
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        if let Some(c) = self.ctx_mut() {
            c.attempts = attempts;
        }
        self
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Inner::Config {
            message: message.into(),
        }
        .into()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind())
            .field("message", &self.to_string())
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)?;
        if self.maybe_processed {
            f.write_str(MAYBE_PROCESSED)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &*self.inner {
            Inner::Credentials { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Inner> for Error {
    fn from(inner: Inner) -> Self {
        Self {
            inner: Box::new(inner),
            maybe_processed: false,
        }
    }
}
