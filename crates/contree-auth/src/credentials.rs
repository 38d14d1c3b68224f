//! The resolved credentials and their secret token.

use std::fmt;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::error::{self, Error};

/// The default ConTree base URL (the IAM endpoint).
pub const DEFAULT_BASE_URL: &str = "https://api.tokenfactory.nebius.com/sandboxes";

/// A bearer token. `Debug` and `Display` never show it.
///
/// ```
/// use contree_auth::SecretToken;
/// let t = SecretToken::new("s3cr3t");
/// assert_eq!(format!("{t}"), "<redacted>");
/// assert_eq!(t.expose_secret(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself. Call this only to put it on the wire.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// A short, non-reversible fingerprint (`sha256:` + 8 hex digits) to tell tokens apart in
    /// logs and diagnostics without revealing them.
    ///
    /// ```
    /// use contree_auth::SecretToken;
    /// assert!(SecretToken::new("x").fingerprint().starts_with("sha256:"));
    /// ```
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        format!("sha256:{}", &hex::encode(digest)[..8])
    }

    /// Whether the token is empty or only whitespace.
    pub fn is_blank(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(<redacted>)")
    }
}

impl fmt::Display for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the token is presented to the service.
///
/// ```
/// use contree_auth::AuthKind;
/// assert_eq!("jwt".parse::<AuthKind>().unwrap(), AuthKind::Jwt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthKind {
    /// Nebius IAM: `Authorization: Bearer` plus a `Project` header.
    Iam,
    /// Legacy self-hosted JWT: `Authorization: Bearer` only; needs an explicit base URL.
    Jwt,
}

impl AuthKind {
    /// The name used in `auth.ini` (`iam` or `jwt`).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::Iam => "iam",
            AuthKind::Jwt => "jwt",
        }
    }
}

impl fmt::Display for AuthKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuthKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "iam" => Ok(AuthKind::Iam),
            "jwt" => Ok(AuthKind::Jwt),
            other => error::InvalidValueSnafu {
                what: "auth type",
                value: other.to_string(),
                expected: "`iam` or `jwt`",
            }
            .fail()
            .map_err(Error::from),
        }
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// Given explicitly in code.
    Explicit,
    /// Read from the named environment variable.
    Env(String),
    /// Read from a profile in an `auth.ini` file.
    Profile {
        /// The file.
        path: PathBuf,
        /// The profile name (the part after `profile:`).
        name: String,
    },
    /// A built-in default.
    Default,
    /// Printed by the named credentials command (see `CommandProvider`).
    Command(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Explicit => f.write_str("explicit"),
            Source::Env(var) => write!(f, "env {var}"),
            Source::Profile { path, name } => write!(f, "profile {name} in {}", path.display()),
            Source::Default => f.write_str("default"),
            Source::Command(program) => write!(f, "command {program}"),
        }
    }
}

/// One header a request must carry. `Debug` redacts sensitive values.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthHeader {
    /// Header name, e.g. `Authorization`.
    pub name: &'static str,
    /// Header value, e.g. `Bearer …`.
    pub value: String,
    /// Whether the value is a secret (mark the HTTP header sensitive; never log it).
    pub sensitive: bool,
}

impl fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.sensitive {
            "<redacted>"
        } else {
            &self.value
        };
        f.debug_struct("AuthHeader")
            .field("name", &self.name)
            .field("value", &value)
            .field("sensitive", &self.sensitive)
            .finish()
    }
}

/// Resolved credentials: a token, an optional project, a base URL, the auth kind, and for
/// each field the [`Source`] it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    token: SecretToken,
    token_source: Source,
    project: Option<String>,
    project_source: Option<Source>,
    base_url: String,
    base_url_source: Source,
    kind: AuthKind,
    kind_source: Source,
    profile: Option<String>,
}

impl Credentials {
    /// Starts building credentials from a token (all fields [`Source::Explicit`] unless set
    /// otherwise).
    pub fn builder(token: SecretToken) -> CredentialsBuilder {
        CredentialsBuilder {
            token,
            token_source: Source::Explicit,
            project: None,
            project_source: None,
            base_url: None,
            base_url_source: Source::Explicit,
            kind: None,
            kind_source: Source::Explicit,
            profile: None,
        }
    }

    /// The bearer token.
    pub fn token(&self) -> &SecretToken {
        &self.token
    }
    /// Where the token came from.
    pub fn token_source(&self) -> &Source {
        &self.token_source
    }
    /// The Nebius project id, sent as the `Project` header.
    pub fn project(&self) -> Option<&str> {
        self.project.as_deref()
    }
    /// Where the project came from, if there is one.
    pub fn project_source(&self) -> Option<&Source> {
        self.project_source.as_ref()
    }
    /// The base URL, without a trailing `/` (the SDK appends `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
    /// Where the base URL came from.
    pub fn base_url_source(&self) -> &Source {
        &self.base_url_source
    }
    /// The auth kind.
    pub fn kind(&self) -> AuthKind {
        self.kind
    }
    /// Where the auth kind came from.
    pub fn kind_source(&self) -> &Source {
        &self.kind_source
    }
    /// The profile these came from, if any field did.
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }

    /// The headers every request must carry: `Authorization: Bearer <token>` (sensitive) and,
    /// when a project is set and the kind is IAM, `Project: <id>`.
    ///
    /// ```
    /// use contree_auth::{Credentials, SecretToken};
    /// let c = Credentials::builder(SecretToken::new("t")).project("p").build().unwrap();
    /// let h = c.headers();
    /// assert_eq!(h[0].name, "Authorization");
    /// assert!(h[0].sensitive);
    /// assert_eq!(h[1].value, "p");
    /// ```
    pub fn headers(&self) -> Vec<AuthHeader> {
        let mut out = vec![AuthHeader {
            name: "Authorization",
            value: format!("Bearer {}", self.token.expose_secret()),
            sensitive: true,
        }];
        if let (AuthKind::Iam, Some(project)) = (self.kind, &self.project) {
            out.push(AuthHeader {
                name: "Project",
                value: project.clone(),
                sensitive: false,
            });
        }
        out
    }
}

/// Builder for [`Credentials`]; see [`Credentials::builder`].
#[derive(Debug, Clone)]
pub struct CredentialsBuilder {
    token: SecretToken,
    token_source: Source,
    project: Option<String>,
    project_source: Option<Source>,
    base_url: Option<String>,
    base_url_source: Source,
    kind: Option<AuthKind>,
    kind_source: Source,
    profile: Option<String>,
}

impl CredentialsBuilder {
    /// Sets where the token came from.
    pub fn token_source(mut self, source: Source) -> Self {
        self.token_source = source;
        self
    }
    /// Sets the project (explicit source).
    pub fn project(self, project: impl Into<String>) -> Self {
        self.project_from(project, Source::Explicit)
    }
    /// Sets the project and its source.
    pub fn project_from(mut self, project: impl Into<String>, source: Source) -> Self {
        self.project = Some(project.into());
        self.project_source = Some(source);
        self
    }
    /// Sets the base URL (explicit source).
    pub fn base_url(self, url: impl Into<String>) -> Self {
        self.base_url_from(url, Source::Explicit)
    }
    /// Sets the base URL and its source.
    pub fn base_url_from(mut self, url: impl Into<String>, source: Source) -> Self {
        self.base_url = Some(url.into());
        self.base_url_source = source;
        self
    }
    /// Sets the auth kind (explicit source).
    pub fn kind(self, kind: AuthKind) -> Self {
        self.kind_from(kind, Source::Explicit)
    }
    /// Sets the auth kind and its source.
    pub fn kind_from(mut self, kind: AuthKind, source: Source) -> Self {
        self.kind = Some(kind);
        self.kind_source = source;
        self
    }
    /// Records the profile name the credentials came from.
    pub fn profile_name(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Validates and builds. The kind defaults to IAM; the base URL defaults to
    /// [`DEFAULT_BASE_URL`] for IAM and is required for JWT. A blank token, or one with
    /// control characters, is an error.
    pub fn build(self) -> Result<Credentials, Error> {
        if self.token.is_blank() {
            return error::BlankTokenSnafu {
                source_desc: self.token_source.to_string(),
            }
            .fail()
            .map_err(Error::from);
        }
        if self.token.expose_secret().chars().any(|c| c.is_control()) {
            return error::InvalidTokenSnafu {
                source_desc: self.token_source.to_string(),
            }
            .fail()
            .map_err(Error::from);
        }
        let (kind, kind_source) = match self.kind {
            Some(k) => (k, self.kind_source),
            None => (AuthKind::Iam, Source::Default),
        };
        let (base_url, base_url_source) = match self.base_url {
            Some(u) if !u.trim().is_empty() => (u, self.base_url_source),
            _ if kind == AuthKind::Iam => (DEFAULT_BASE_URL.to_string(), Source::Default),
            _ => return error::JwtNeedsUrlSnafu.fail().map_err(Error::from),
        };
        let base_url = normalize_url(base_url.trim().trim_end_matches('/'))?;
        let project = self
            .project
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty());
        let project_source = project.as_ref().and(self.project_source);
        Ok(Credentials {
            token: SecretToken::new(self.token.expose_secret().trim()),
            token_source: self.token_source,
            project,
            project_source,
            base_url,
            base_url_source,
            kind,
            kind_source,
            profile: self.profile,
        })
    }
}

/// Checks the scheme and host of a base URL and lower-cases its scheme. Userinfo
/// (`user@host`) is refused: the host is what follows `@`, and a password there would be
/// echoed in messages. (The transport applies the plain-http loopback rule on top.)
fn normalize_url(url: &str) -> Result<String, Error> {
    let split = url.find("://").map(|i| (&url[..i], &url[i + 3..]));
    let invalid = |expected: &'static str, shown: String| -> Result<String, Error> {
        error::InvalidValueSnafu {
            what: "base URL",
            value: shown,
            expected,
        }
        .fail()
        .map_err(Error::from)
    };
    let Some((scheme, rest)) =
        split.filter(|(s, _)| s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http"))
    else {
        return invalid(
            "an http:// or https:// URL with a host",
            redact_userinfo(url),
        );
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return invalid(
            "a URL without userinfo (remove everything between `//` and `@`: the host is what follows `@`)",
            redact_userinfo(url),
        );
    }
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return invalid("an http:// or https:// URL with a host", url.to_string());
    }
    Ok(format!("{}://{rest}", scheme.to_ascii_lowercase()))
}

/// The URL with the userinfo of its authority replaced.
fn redact_userinfo(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}<userinfo redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(url: &str) -> Result<Credentials, Error> {
        Credentials::builder(SecretToken::new("t"))
            .base_url(url)
            .build()
    }

    #[test]
    fn base_url_scheme_is_normalised_and_userinfo_refused() {
        assert_eq!(
            build("HTTPS://Api.Example.com/x/").unwrap().base_url(),
            "https://Api.Example.com/x"
        );
        assert_eq!(
            build("Http://127.0.0.1:1").unwrap().base_url(),
            "http://127.0.0.1:1"
        );
        for bad in [
            "http://u:hunter2@h",
            "https://127.0.0.1@evil.example",
            "ftp://h",
            "h",
            "http://",
            "http:// h",
        ] {
            let e = build(bad).expect_err(bad);
            assert_eq!(e.kind(), crate::ErrorKind::Invalid, "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
        // The path may hold an `@`.
        assert!(build("https://h/p@x").is_ok());
    }
}
