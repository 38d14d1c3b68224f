//! The [`Request`] trait implemented by every generated request type, and [`BuildError`].

use bytes::Bytes;
use snafu::Snafu;

use crate::OperationMeta;
use crate::json::DecodeError;

/// One API operation's request: its metadata, how it becomes an HTTP request and how its
/// response is parsed. Implemented by every type in [`crate::requests`].
///
/// ```
/// use contree_proto::{Request, requests::ListImages};
/// let mut req = ListImages::new();
/// req.limit = Some(10);
/// req.tagged = true;
/// let http = req.to_http().unwrap();
/// assert_eq!(http.uri(), "/images?limit=10&tagged=1");
/// assert_eq!(ListImages::meta().id, "listImages");
/// ```
pub trait Request {
    /// The per-status response enum.
    type Response;
    /// The operation's static facts (id, method, path template, success codes, idempotency).
    fn meta() -> &'static OperationMeta;
    /// Builds the HTTP request; its URI is relative to `{base}/v1`.
    fn to_http(&self) -> Result<http::Request<Bytes>, BuildError>;
    /// Parses a buffered response.
    fn parse(response: &http::Response<Bytes>) -> Result<Self::Response, DecodeError>;
}

#[derive(Debug, Snafu)]
enum Inner {
    #[snafu(display(
        "cannot build the `{operation}` request: its JSON body does not serialise: {source}"
    ))]
    Body {
        operation: &'static str,
        source: serde_json::Error,
    },
    #[snafu(display("cannot build the `{operation}` request: {source}"))]
    Http {
        operation: &'static str,
        source: http::Error,
    },
    #[snafu(display(
        "cannot build the `{operation}` request: `{parameter}` is required; give it at least one value"
    ))]
    Missing {
        operation: &'static str,
        parameter: &'static str,
    },
}

/// A request that could not be built (a required repeated parameter is empty, or the body does
/// not serialise).
#[derive(Debug)]
pub struct BuildError(Inner);

impl BuildError {
    pub(crate) fn body(operation: &'static str, source: serde_json::Error) -> Self {
        Self(Inner::Body { operation, source })
    }

    pub(crate) fn http(operation: &'static str, source: http::Error) -> Self {
        Self(Inner::Http { operation, source })
    }

    pub(crate) fn missing(operation: &'static str, parameter: &'static str) -> Self {
        Self(Inner::Missing {
            operation,
            parameter,
        })
    }

    /// The operation id of the request.
    pub fn operation(&self) -> &'static str {
        match &self.0 {
            Inner::Body { operation, .. }
            | Inner::Http { operation, .. }
            | Inner::Missing { operation, .. } => operation,
        }
    }
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Inner::Body { source, .. } => Some(source),
            Inner::Http { source, .. } => Some(source),
            Inner::Missing { .. } => None,
        }
    }
}
