//! The crate's error type: opaque, with a kind and a message that says what to do.

use snafu::Snafu;

/// What went wrong while resolving credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No token was found in any source.
    NotFound,
    /// A value (token, URL, kind, profile) is present but unusable.
    Invalid,
    /// A profile file could not be read, parsed or written.
    File,
    /// A credentials command failed.
    Command,
}

#[derive(Debug, Snafu)]
#[snafu(visibility(pub(crate)))]
pub(crate) enum Inner {
    #[snafu(display(
        "the token from {source_desc} is blank; set a non-empty token (NEBIUS_API_KEY, or `token =` in auth.ini)"
    ))]
    BlankToken { source_desc: String },
    #[snafu(display(
        "the token from {source_desc} contains control characters (a stray newline?); store the token on one line"
    ))]
    InvalidToken { source_desc: String },
    #[snafu(display(
        "JWT credentials need an explicit base URL (there is no default JWT endpoint); set CONTREE_BASE_URL or `url =` in the profile"
    ))]
    JwtNeedsUrl,
    #[snafu(display("invalid {what} `{value}`: expected {expected}"))]
    InvalidValue {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// The error of `contree-auth`. Its message names the sources involved and what to do;
/// it never contains a token.
#[derive(Debug)]
pub struct Error {
    inner: Inner,
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match &self.inner {
            Inner::BlankToken { .. }
            | Inner::InvalidToken { .. }
            | Inner::JwtNeedsUrl
            | Inner::InvalidValue { .. } => ErrorKind::Invalid,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.inner)
    }
}

impl From<Inner> for Error {
    fn from(inner: Inner) -> Self {
        Self { inner }
    }
}
