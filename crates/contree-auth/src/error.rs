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
    /// A profile named explicitly or by `CONTREE_PROFILE` does not exist.
    ProfileNotFound,
    /// The `auth.ini` file is not valid INI; the message carries the line number.
    Malformed,
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
    #[snafu(display("invalid {what} `{value}` from {source_desc}: expected {expected}"))]
    InvalidSetting {
        what: &'static str,
        value: String,
        source_desc: String,
        expected: &'static str,
    },
    #[snafu(display(
        "the {what} from {source_desc} is the literal text `{name}`, a variable name rather than a \
         value; contree-rs never substitutes variable names: set the variable itself (e.g. \
         {name}=<value>) or pass the value"
    ))]
    Placeholder {
        what: &'static str,
        source_desc: String,
        name: String,
    },
    #[snafu(display("no ConTree token found. Tried, in order: {tried}. {hint}"))]
    NoToken { tried: String, hint: &'static str },
    #[snafu(display(
        "profile `{name}` (selected by {selected_by}) not found in {}: {detail}. Create it with \
         `contree auth --profile {name}`, or select an existing profile",
        path.display()
    ))]
    ProfileNotFound {
        name: String,
        selected_by: String,
        path: std::path::PathBuf,
        detail: String,
    },
    #[snafu(display(
        "profile `{name}` cannot be selected: {detail}. Set CONTREE_HOME, XDG_CONFIG_HOME or HOME, \
         or give the auth file path explicitly"
    ))]
    NoAuthFile { name: String, detail: String },
    #[snafu(display("{} line {line}: {reason}. Fix or remove that line", path.display()))]
    Malformed {
        path: std::path::PathBuf,
        line: usize,
        reason: String,
    },
    #[snafu(display(
        "cannot rewrite {}: {reason}, so it would not read back as it is; the file was left unchanged: fix that entry by hand, then try again",
        path.display()
    ))]
    Unwritable {
        path: std::path::PathBuf,
        reason: String,
    },
    #[snafu(display("cannot {action} {}: {source}", path.display()))]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[snafu(display("invalid profile {what} `{value}`: {reason}"))]
    InvalidProfileData {
        what: &'static str,
        value: String,
        reason: &'static str,
    },
    #[snafu(display(
        "cannot run the credentials command `{program}`: {source}. Check that it is installed and on PATH"
    ))]
    CommandSpawn {
        program: String,
        source: std::io::Error,
    },
    #[snafu(display(
        "the credentials command `{program}` failed ({status}){stderr}. Run it by hand to see why"
    ))]
    CommandFailed {
        program: String,
        status: String,
        stderr: String,
    },
    #[snafu(display(
        "the credentials command `{program}` did not finish within {secs} s; it was killed"
    ))]
    CommandTimeout { program: String, secs: u64 },
    #[snafu(display(
        "the credentials command `{program}` printed no token on stdout; it must print the token (only)"
    ))]
    CommandEmpty { program: String },
    #[snafu(display("invalid client settings: {message}"))]
    Settings { message: String },
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
            | Inner::InvalidValue { .. }
            | Inner::InvalidSetting { .. }
            | Inner::Placeholder { .. }
            | Inner::InvalidProfileData { .. }
            | Inner::Settings { .. } => ErrorKind::Invalid,
            Inner::NoToken { .. } => ErrorKind::NotFound,
            Inner::ProfileNotFound { .. } | Inner::NoAuthFile { .. } => ErrorKind::ProfileNotFound,
            Inner::Malformed { .. } => ErrorKind::Malformed,
            Inner::Io { .. } | Inner::Unwritable { .. } => ErrorKind::File,
            Inner::CommandSpawn { .. }
            | Inner::CommandFailed { .. }
            | Inner::CommandTimeout { .. }
            | Inner::CommandEmpty { .. } => ErrorKind::Command,
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

impl Error {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Inner::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
        .into()
    }
}

impl From<Inner> for Error {
    fn from(inner: Inner) -> Self {
        Self { inner }
    }
}
