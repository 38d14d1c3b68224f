//! The [`ProvideCredentials`] trait and the static provider.

use async_trait::async_trait;

use crate::credentials::Credentials;
use crate::error::Error;

/// A source of credentials that a client asks before each request.
///
/// Implementations may cache; [`refresh_credentials`](ProvideCredentials::refresh_credentials)
/// is called once after the server answered 401 and must fetch anew, unless
/// [`is_static`](ProvideCredentials::is_static) says a refresh could not change anything.
///
/// ```
/// use contree_auth::{Credentials, ProvideCredentials, SecretToken, StaticProvider};
/// # async fn demo() -> Result<(), contree_auth::Error> {
/// let p = StaticProvider::new(Credentials::builder(SecretToken::new("t")).build()?);
/// let creds = p.provide_credentials().await?;
/// assert_eq!(creds.token().expose_secret(), "t");
/// # Ok(()) }
/// ```
#[async_trait]
pub trait ProvideCredentials: Send + Sync + std::fmt::Debug {
    /// Returns the credentials to use now (possibly cached).
    async fn provide_credentials(&self) -> Result<Credentials, Error>;

    /// Returns fresh credentials after the server rejected the current ones (HTTP 401).
    /// The default asks [`provide_credentials`](ProvideCredentials::provide_credentials) again.
    async fn refresh_credentials(&self) -> Result<Credentials, Error> {
        self.provide_credentials().await
    }

    /// Whether this provider always returns the same credentials, so that a refresh after a
    /// 401 cannot help. A client then fails at once on a 401 (one request) instead of
    /// refreshing and sending the request again. The default is `false`; [`StaticProvider`]
    /// answers `true`.
    ///
    /// ```
    /// use contree_auth::{Credentials, ProvideCredentials, SecretToken, StaticProvider};
    /// let p = StaticProvider::new(Credentials::builder(SecretToken::new("t")).build().unwrap());
    /// assert!(p.is_static());
    /// ```
    fn is_static(&self) -> bool {
        false
    }
}

/// Always returns the same credentials; [`is_static`](ProvideCredentials::is_static) is
/// `true`, so a 401 is not followed by a refresh and a second request.
#[derive(Debug, Clone)]
pub struct StaticProvider {
    credentials: Credentials,
}

impl StaticProvider {
    /// Wraps fixed credentials.
    pub fn new(credentials: Credentials) -> Self {
        Self { credentials }
    }
}

#[async_trait]
impl ProvideCredentials for StaticProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        Ok(self.credentials.clone())
    }

    fn is_static(&self) -> bool {
        true
    }
}
