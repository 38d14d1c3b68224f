//! The facade's error type: one opaque [`Error`] with an [`ErrorKind`] and predicates.

use std::path::PathBuf;
use std::time::Duration;

use snafu::Snafu;

/// A `Result` whose error defaults to [`contree::Error`](Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`] is. Match on it, or use the `is_*` predicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The client is configured wrongly: a base URL the transport refuses (plain `http://`
    /// to a host that is not loopback, userinfo next to a credentials provider), or an
    /// HTTP client that cannot be built.
    Config,
    /// The credentials could not be resolved (no token, a malformed `auth.ini`, or a token,
    /// profile or base URL the credential chain refuses), or the server rejected them
    /// (HTTP 401 or 403).
    Auth,
    /// The server answered with an error status other than 401, 403 (`Auth`) and 404
    /// (`NotFound`); see [`Error::status`].
    Api,
    /// The request could not be delivered or the connection broke.
    Transport,
    /// A deadline passed (a request timeout, or waiting for an operation).
    Timeout,
    /// The server's answer could not be decoded.
    Decode,
    /// A local file operation failed.
    Io,
    /// An argument was rejected before anything was sent.
    InvalidInput,
    /// The operation ended as `FAILED` (a VM-level failure, not a non-zero exit).
    OperationFailed,
    /// The operation was cancelled.
    OperationCancelled,
    /// The command exited non-zero or was killed ([`RunOutput::check`](crate::RunOutput::check)).
    NonZeroExit,
    /// Output is not valid UTF-8 (strict text accessors).
    Utf8,
    /// An archive entry would escape the extraction directory.
    UnsafeArchive,
    /// What was asked for does not exist: the server answered 404, a path is missing from
    /// a listing, or a run's image or tag does not exist (whether the server refused the
    /// spawn with 400 or 404, or accepted it and failed the operation). Same as
    /// [`Error::is_not_found`].
    NotFound,
    /// An interactive process or subprocess could not be used as asked (not registered
    /// yet, stdin already closed, an outcome that is unknown after a gateway timeout).
    Process,
    /// A buffered answer was larger than the cap on decoded bytes
    /// ([`ContreeBuilder::max_response_bytes`](crate::ContreeBuilder::max_response_bytes));
    /// see [`Error::is_response_too_large`].
    ResponseTooLarge,
}

#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub(crate) enum Inner {
    #[snafu(display("{action} failed: {source}"))]
    Transport {
        action: String,
        source: contree_transport::Error,
    },
    #[snafu(display("could not resolve ConTree credentials: {source}"))]
    Credentials { source: contree_auth::Error },
    #[snafu(display("invalid client configuration: {message}"))]
    Config { message: String },
    #[snafu(display("{message}"))]
    InvalidInput { message: String },
    #[snafu(display(
        "could not decode the server's answer to {action}: {message} (a server/SDK mismatch; please report it)"
    ))]
    Decode { action: String, message: String },
    #[snafu(display("{action} `{}`: {source}", path.display()))]
    Io {
        action: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[snafu(display(
        "operation {operation_id} failed on the server: {message}; check the image reference and your limits, then retry"
    ))]
    OperationFailed {
        operation_id: String,
        message: String,
    },
    #[snafu(display("operation {operation_id} was cancelled"))]
    OperationCancelled { operation_id: String },
    #[snafu(display(
        "gave up waiting for operation {operation_id} after {waited:?}; it may still be running (it was asked to cancel); raise the run timeout or the client's wait margin"
    ))]
    WaitTimeout {
        operation_id: String,
        waited: Duration,
    },
    #[snafu(display(
        "stopped waiting for operation {operation_id} after {waited:?}; it is still running: wait again, or cancel it"
    ))]
    WaitDeadline {
        operation_id: String,
        waited: Duration,
    },
    #[snafu(display("{message}"))]
    Process { message: String },
    #[snafu(display("`{command}` {status} (operation {operation_id}){stderr_tail}"))]
    NonZeroExit {
        operation_id: String,
        command: String,
        status: String,
        exit_code: i32,
        stderr_tail: String,
    },
    #[snafu(display(
        "{stream} is not valid UTF-8: {source}; use the byte or lossy accessor instead"
    ))]
    Utf8 {
        stream: &'static str,
        source: std::str::Utf8Error,
    },
    #[snafu(display(
        "refusing to extract archive entry `{entry}`: {reason}; what the extraction created was removed"
    ))]
    UnsafeArchive { entry: String, reason: String },
    #[snafu(display("{what} not found"))]
    NotFound { what: String },
    #[snafu(display(
        "image {image} does not exist ({source}); import it, or pick one that images().list() shows"
    ))]
    ImageNotFound { image: String, source: Box<Error> },
}

/// The error of every fallible call in this crate.
///
/// It is opaque: ask it what happened with [`kind`](Error::kind) and the predicates.
/// Its `Display` says what happened and what to do; it never contains a token or password.
///
/// ```
/// # async fn demo(contree: contree::Contree) {
/// match contree.images().use_uuid("00000000-0000-0000-0000-000000000000").ls("/").await {
///     Ok(entries) => println!("{} entries", entries.len()),
///     Err(e) if e.is_not_found() => println!("no such image"),
///     Err(e) => eprintln!("error: {e}"),
/// }
/// # }
/// ```
///
/// Its `Debug` shows the same [`kind`](Error::kind) (and status and operation, when there
/// are) as the accessors, with the `Display` text.
pub struct Error {
    inner: Box<Inner>,
}

impl Error {
    pub(crate) fn new(inner: Inner) -> Self {
        Self {
            inner: Box::new(inner),
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(Inner::InvalidInput {
            message: message.into(),
        })
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(Inner::Config {
            message: message.into(),
        })
    }

    pub(crate) fn decode(action: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Inner::Decode {
            action: action.into(),
            message: message.into(),
        })
    }

    pub(crate) fn io(
        action: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::new(Inner::Io {
            action: action.into(),
            path: path.into(),
            source,
        })
    }

    pub(crate) fn transport(action: impl Into<String>, source: contree_transport::Error) -> Self {
        Self::new(Inner::Transport {
            action: action.into(),
            source,
        })
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        Self::new(Inner::NotFound { what: what.into() })
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match &*self.inner {
            Inner::Transport { source, .. } => {
                if let Some(status) = transport_status(source) {
                    if status == 401 || status == 403 {
                        ErrorKind::Auth
                    } else if status == 404 {
                        ErrorKind::NotFound
                    } else {
                        ErrorKind::Api
                    }
                } else if source.is_timeout() {
                    ErrorKind::Timeout
                } else if source.kind() == contree_transport::ErrorKind::ResponseTooLarge {
                    ErrorKind::ResponseTooLarge
                } else {
                    ErrorKind::Transport
                }
            }
            Inner::Credentials { .. } => ErrorKind::Auth,
            Inner::Config { .. } => ErrorKind::Config,
            Inner::InvalidInput { .. } => ErrorKind::InvalidInput,
            Inner::Decode { .. } => ErrorKind::Decode,
            Inner::Io { .. } => ErrorKind::Io,
            Inner::OperationFailed { .. } => ErrorKind::OperationFailed,
            Inner::OperationCancelled { .. } => ErrorKind::OperationCancelled,
            Inner::WaitTimeout { .. } => ErrorKind::Timeout,
            Inner::WaitDeadline { .. } => ErrorKind::Timeout,
            Inner::Process { .. } => ErrorKind::Process,
            Inner::NonZeroExit { .. } => ErrorKind::NonZeroExit,
            Inner::Utf8 { .. } => ErrorKind::Utf8,
            Inner::UnsafeArchive { .. } => ErrorKind::UnsafeArchive,
            Inner::NotFound { .. } | Inner::ImageNotFound { .. } => ErrorKind::NotFound,
        }
    }

    /// The error this one explains (a missing image explains a failed spawn), or itself.
    fn cause(&self) -> &Inner {
        match &*self.inner {
            Inner::ImageNotFound { source, .. } => source.cause(),
            inner => inner,
        }
    }

    /// The HTTP status the server answered with, if this is an API error.
    pub fn status(&self) -> Option<http::StatusCode> {
        match self.cause() {
            Inner::Transport { source, .. } => {
                transport_status(source).and_then(|s| http::StatusCode::from_u16(s).ok())
            }
            _ => None,
        }
    }

    /// The server's error message (the `error` field of its error body), if any.
    pub fn api_message(&self) -> Option<&str> {
        match self.cause() {
            Inner::Transport { source, .. } => source.api_message(),
            _ => None,
        }
    }

    /// Whether the thing asked for does not exist: kind [`ErrorKind::NotFound`] (an HTTP
    /// 404, a path missing from a listing, or a run from a missing image or tag).
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// Whether a deadline passed: a request timed out, or waiting for an operation gave up.
    pub fn is_timeout(&self) -> bool {
        self.kind() == ErrorKind::Timeout
    }

    /// Whether trying the same call again later may succeed (transient network failures,
    /// 429, 5xx). The client already retried idempotent calls per its retry policy.
    pub fn is_retryable(&self) -> bool {
        match self.cause() {
            Inner::Transport { source, .. } => source.is_retryable(),
            _ => false,
        }
    }

    /// Whether a buffered answer passed the cap on decoded bytes (a runaway or hostile
    /// server, or a legitimately large answer: raise
    /// [`ContreeBuilder::max_response_bytes`](crate::ContreeBuilder::max_response_bytes)).
    pub fn is_response_too_large(&self) -> bool {
        self.kind() == ErrorKind::ResponseTooLarge
    }

    /// Whether the failed call may have taken effect on the server: a non-idempotent request
    /// (e.g. a spawn) that was sent before its connection broke or its attempt timed out. It
    /// was not replayed; check its result before repeating it.
    pub fn may_have_taken_effect(&self) -> bool {
        match self.cause() {
            Inner::Transport { source, .. } => source.may_have_taken_effect(),
            _ => false,
        }
    }

    /// Whether credentials are missing or were rejected (HTTP 401/403).
    pub fn is_auth(&self) -> bool {
        self.kind() == ErrorKind::Auth
    }

    /// The operation this error is about, when it concerns one.
    pub fn operation_id(&self) -> Option<&str> {
        match self.cause() {
            Inner::OperationFailed { operation_id, .. }
            | Inner::OperationCancelled { operation_id }
            | Inner::WaitTimeout { operation_id, .. }
            | Inner::WaitDeadline { operation_id, .. }
            | Inner::NonZeroExit { operation_id, .. } => Some(operation_id),
            _ => None,
        }
    }

    /// The exit code, when this is a [`ErrorKind::NonZeroExit`] error.
    pub fn exit_code(&self) -> Option<i32> {
        match self.cause() {
            Inner::NonZeroExit { exit_code, .. } => Some(*exit_code),
            _ => None,
        }
    }
}

fn transport_status(e: &contree_transport::Error) -> Option<u16> {
    e.status().map(|s| s.as_u16())
}

impl std::fmt::Debug for Error {
    /// The public view (kind, status, operation and message), never an inner
    /// classification that could contradict [`Error::kind`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind());
        if let Some(status) = self.status() {
            d.field("status", &status.as_u16());
        }
        if let Some(op) = self.operation_id() {
            d.field("operation_id", &op);
        }
        d.field("message", &self.to_string()).finish()
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.inner)
    }
}

impl From<Inner> for Error {
    fn from(inner: Inner) -> Self {
        Self::new(inner)
    }
}

impl From<contree_auth::Error> for Error {
    fn from(source: contree_auth::Error) -> Self {
        Self::new(Inner::Credentials { source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_local_error() -> Vec<Error> {
        let op = || "op-1".to_string();
        let failed = || {
            Error::new(Inner::OperationFailed {
                operation_id: op(),
                message: "image not found".into(),
            })
        };
        vec![
            Error::config("bad url"),
            Error::invalid("empty command"),
            Error::decode("listing", "bad json"),
            Error::io("reading", "/x", std::io::Error::other("disk")),
            Error::not_found("path /x"),
            Error::new(Inner::OperationCancelled { operation_id: op() }),
            Error::new(Inner::WaitTimeout {
                operation_id: op(),
                waited: Duration::from_secs(1),
            }),
            Error::new(Inner::WaitDeadline {
                operation_id: op(),
                waited: Duration::from_secs(1),
            }),
            Error::new(Inner::Process {
                message: "stdin closed".into(),
            }),
            Error::new(Inner::NonZeroExit {
                operation_id: op(),
                command: "false".into(),
                status: "exited with 1".into(),
                exit_code: 1,
                stderr_tail: String::new(),
            }),
            Error::new(Inner::Utf8 {
                stream: "stdout",
                source: String::from_utf8(vec![0xff]).unwrap_err().utf8_error(),
            }),
            Error::new(Inner::UnsafeArchive {
                entry: "../x".into(),
                reason: "escapes".into(),
            }),
            Error::new(Inner::ImageNotFound {
                image: "tag:missing".into(),
                source: Box::new(failed()),
            }),
            failed(),
        ]
    }

    /// `kind()`, the predicates and `Debug` agree for every error built without a server.
    #[test]
    fn kind_predicates_and_debug_agree() {
        let all = every_local_error();
        for e in &all {
            let k = e.kind();
            assert_eq!(e.is_not_found(), k == ErrorKind::NotFound, "{e:?}");
            assert_eq!(e.is_timeout(), k == ErrorKind::Timeout, "{e:?}");
            assert_eq!(e.is_auth(), k == ErrorKind::Auth, "{e:?}");
            assert_eq!(
                e.is_response_too_large(),
                k == ErrorKind::ResponseTooLarge,
                "{e:?}"
            );
            let debug = format!("{e:?}");
            assert!(debug.contains(&format!("kind: {k:?}")), "{debug}");
            assert!(
                debug.contains(&e.to_string().replace('"', "\\\"")),
                "{debug}"
            );
        }
        assert_eq!(all.len(), 14);
    }

    /// A missing image explains a failed operation: kind NotFound, the operation and the
    /// server's message stay readable, and `Debug` shows no contradicting inner kind.
    #[test]
    fn a_missing_image_keeps_its_cause_readable() {
        let e = every_local_error().swap_remove(12);
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.operation_id(), Some("op-1"));
        assert!(e.to_string().contains("image not found"), "{e}");
        assert!(e.to_string().contains("tag:missing"), "{e}");
        assert!(!format!("{e:?}").contains("OperationFailed"), "{e:?}");
        assert!(std::error::Error::source(&e).is_some());
    }
}
