//! The client: [`Contree`], its builder, and the internal request helpers.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contree_auth::{AuthKind, Credentials, ProvideCredentials, SecretToken, StaticProvider};

use contree_proto::OperationMeta;
use contree_transport::{Body, RequestOptions, RetryConfig, Timeouts, Transport};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::files::Files;
use crate::images::Images;
use crate::wire;

/// The default server-side run timeout when a run does not set one.
pub const DEFAULT_RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// The default extra time the client waits beyond a run's server-side timeout
/// (queueing, VM boot, result upload).
pub const DEFAULT_WAIT_MARGIN: Duration = Duration::from_secs(120);
/// The default number of file uploads one run performs at once.
pub const DEFAULT_UPLOAD_CONCURRENCY: usize = 4;

/// The ConTree client. Cheap to clone (an `Arc` inside); clones share connections,
/// the concurrency limit and the cached [`WhoAmI`].
///
/// ```no_run
/// # async fn demo() -> contree::Result<()> {
/// let contree = contree::Contree::from_env()?;
/// let me = contree.whoami().await?;
/// println!("token {} may spawn: {}", me.token_uuid(), me.can("spawn"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Contree {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    transport: Transport,
    limiter: Option<Arc<Semaphore>>,
    pub(crate) config: Config,
    whoami: Mutex<Option<WhoAmI>>,
    base_url: Option<String>,
}

/// Client-wide defaults set on the [`ContreeBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub default_run_timeout: Duration,
    pub wait_margin: Duration,
    pub upload_concurrency: usize,
}

impl fmt::Debug for Contree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contree")
            .field("base_url", &self.inner.base_url)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Contree {
    /// Starts configuring a client.
    pub fn builder() -> ContreeBuilder {
        ContreeBuilder::default()
    }

    /// A client from the environment and `auth.ini`, resolved as `contree-auth` does
    /// (explicit > environment > profile). Fails when no token is found anywhere, naming
    /// every place it looked.
    pub fn from_env() -> Result<Self> {
        Self::builder().build()
    }

    /// The images of your namespace and the public ones: list, use, import, tag.
    pub fn images(&self) -> Images {
        Images::new(self.clone())
    }

    /// Uploaded files: upload (deduplicated by sha256), check, list.
    pub fn files(&self) -> Files {
        Files::new(self.clone())
    }

    /// Who the token is: permissions, limits and expiry. The answer is cached on the
    /// client (see [`cached_whoami`](Self::cached_whoami)) and used to warn when a run asks
    /// for a timeout above the token's `instance_max_timeout`.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        let req = crate::client::request(http::Method::GET, "/whoami".into(), &Query::new());
        let resp = self
            .send(&contree_proto::ops::WHO_AM_I, req, "whoami")
            .await?;
        let w: contree_proto::types::WhoAmIResponse = wire::decode("whoami", resp.body())?;
        let who = WhoAmI::from_wire(w);
        if let Some(left) = who.expires_in()
            && left < Duration::from_secs(24 * 3600)
        {
            tracing::warn!(
                hours = left.as_secs() / 3600,
                "the ConTree token expires in less than a day; renew it"
            );
        }
        *self.inner.whoami.lock().unwrap_or_else(|p| p.into_inner()) = Some(who.clone());
        Ok(who)
    }

    /// The [`WhoAmI`] fetched by the last [`whoami`](Self::whoami) call, if any.
    pub fn cached_whoami(&self) -> Option<WhoAmI> {
        self.inner
            .whoami
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The default server-side timeout of runs that set none.
    pub fn default_run_timeout(&self) -> Duration {
        self.inner.config.default_run_timeout
    }

    /// How much longer than a run's server-side timeout the client waits for it.
    pub fn wait_margin(&self) -> Duration {
        self.inner.config.wait_margin
    }

    async fn permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match &self.inner.limiter {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        }
    }

    /// Sends a buffered request and returns the buffered response.
    pub(crate) async fn send(
        &self,
        op: &'static OperationMeta,
        req: http::Request<Bytes>,
        action: &str,
    ) -> Result<http::Response<Bytes>> {
        let (parts, body) = req.into_parts();
        self.send_body(
            op,
            http::Request::from_parts(parts, Body::from(body)),
            action,
        )
        .await
    }

    /// Sends a request with any body.
    pub(crate) async fn send_body(
        &self,
        op: &'static OperationMeta,
        req: http::Request<Body>,
        action: &str,
    ) -> Result<http::Response<Bytes>> {
        let span = tracing::debug_span!("contree.call", op = op.id, path = %req.uri().path());
        async {
            let _permit = self.permit().await;
            self.inner
                .transport
                .send(op, req, &RequestOptions::default())
                .await
                .map_err(|e| Error::transport(action, e))
        }
        .instrument(span)
        .await
    }

    /// Sends a request whose response body is streamed.
    pub(crate) async fn send_streaming(
        &self,
        op: &'static OperationMeta,
        req: http::Request<Bytes>,
        action: &str,
    ) -> Result<http::Response<contree_transport::ResponseBody>> {
        let span = tracing::debug_span!("contree.call", op = op.id, path = %req.uri().path());
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, Body::from(body));
        async {
            let _permit = self.permit().await;
            self.inner
                .transport
                .send_streaming(op, req, &RequestOptions::default())
                .await
                .map_err(|e| Error::transport(action, e))
        }
        .instrument(span)
        .await
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}

/// Builder for [`Contree`]. All options are optional; unset credentials are resolved from
/// the environment and `auth.ini` as `contree-auth` does.
///
/// ```no_run
/// use std::time::Duration;
/// # fn demo() -> contree::Result<()> {
/// let contree = contree::Contree::builder()
///     .token("my-token")
///     .project("my-project")
///     .concurrency_limit(16)
///     .default_run_timeout(Duration::from_secs(120))
///     .user_agent_prefix("my-agent/1.0")
///     .build()?;
/// # let _ = contree; Ok(()) }
/// ```
#[derive(Default)]
pub struct ContreeBuilder {
    token: Option<SecretToken>,
    base_url: Option<String>,
    project: Option<String>,
    kind: Option<AuthKind>,
    credentials: Option<Credentials>,
    provider: Option<Arc<dyn ProvideCredentials>>,
    env: Option<Arc<dyn contree_auth::Env>>,
    fs: Option<Arc<dyn contree_auth::Fs>>,
    profile: Option<String>,
    auth_file: Option<std::path::PathBuf>,
    timeouts: Option<Timeouts>,
    retry: Option<RetryConfig>,
    user_agent_prefix: Option<String>,
    concurrency_limit: Option<usize>,
    allow_insecure_http: Option<bool>,
    compress_event_streams: bool,
    default_run_timeout: Option<Duration>,
    wait_margin: Option<Duration>,
    upload_concurrency: Option<usize>,
}

impl fmt::Debug for ContreeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContreeBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("project", &self.project)
            .field("concurrency_limit", &self.concurrency_limit)
            .finish_non_exhaustive()
    }
}

impl ContreeBuilder {
    /// Uses this bearer token (taken literally; it is never looked up as an env var name).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretToken::new(token));
        self
    }

    /// Uses this base URL (without `/v1`), e.g. `https://api.tokenfactory.nebius.com/sandboxes`.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses this Nebius project id (the `Project` header).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Uses this auth kind with an explicit token (IAM by default).
    pub fn auth_kind(mut self, kind: AuthKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Uses fully resolved credentials.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Asks this provider for credentials before requests (and again after a 401).
    pub fn credentials_provider(mut self, provider: Arc<dyn ProvideCredentials>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Resolves unset credentials against this environment instead of the process one
    /// (for tests, or apps that compute their environment).
    pub fn env(mut self, env: Arc<dyn contree_auth::Env>) -> Self {
        self.env = Some(env);
        self
    }

    /// Reads `auth.ini` through this filesystem (for tests).
    pub fn fs(mut self, fs: Arc<dyn contree_auth::Fs>) -> Self {
        self.fs = Some(fs);
        self
    }

    /// Uses this `auth.ini` profile (instead of `CONTREE_PROFILE` or the file's default).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// Reads profiles from this file instead of the default location.
    pub fn auth_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.auth_file = Some(path.into());
        self
    }

    /// Connect, per-attempt, idle-read and total timeouts of single requests.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = Some(timeouts);
        self
    }

    /// How failed requests are retried.
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Prepends this to the `User-Agent` header (e.g. `my-agent/1.0`).
    pub fn user_agent_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.user_agent_prefix = Some(prefix.into());
        self
    }

    /// At most this many requests in flight at once across all clones of the client.
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency_limit = Some(limit.max(1));
        self
    }

    /// Allows a plain `http://` base URL. Loopback URLs (`127.0.0.1`, `localhost`, `[::1]`)
    /// are allowed without this.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = Some(allow);
        self
    }

    /// Asks for event streams gzip-compressed (default: uncompressed). Each run being waited
    /// on or streamed holds its event stream open; uncompressed, that costs about a third of
    /// the memory (no inflate window), which counts when thousands of runs are in flight.
    /// Turn it on when bandwidth matters more, e.g. runs printing megabytes over a slow link.
    /// Other responses are always asked for gzip.
    ///
    /// ```
    /// let contree = contree::Contree::builder()
    ///     .base_url("http://127.0.0.1:8080")
    ///     .token("t")
    ///     .compress_event_streams(true)
    ///     .build()
    ///     .unwrap();
    /// # drop(contree);
    /// ```
    pub fn compress_event_streams(mut self, enabled: bool) -> Self {
        self.compress_event_streams = enabled;
        self
    }

    /// The server-side timeout of runs that set none (default 10 minutes).
    pub fn default_run_timeout(mut self, timeout: Duration) -> Self {
        self.default_run_timeout = Some(timeout);
        self
    }

    /// How much longer than a run's server-side timeout the client waits for its result
    /// (default 2 minutes; covers queueing and VM start). The client deadline is always
    /// the server timeout plus this margin, so it always exceeds the server timeout.
    pub fn wait_margin(mut self, margin: Duration) -> Self {
        self.wait_margin = Some(margin);
        self
    }

    /// How many files one run uploads at once (default 4).
    pub fn upload_concurrency(mut self, n: usize) -> Self {
        self.upload_concurrency = Some(n.max(1));
        self
    }

    /// Resolves credentials and builds the client. Needs no async runtime; the client's
    /// calls need a Tokio runtime.
    pub fn build(self) -> Result<Contree> {
        // Timeouts and retries from `CONTREE_TIMEOUT`, `CONTREE_CONNECT_TIMEOUT`,
        // `CONTREE_MAX_RETRIES` and the profile's keys, when resolved through the default
        // chain; options set on this builder win over them.
        let mut settings = contree_auth::ClientSettings::default();
        let (provider, base_url): (Arc<dyn ProvideCredentials>, Option<String>) =
            if let Some(p) = self.provider {
                (p, self.base_url.clone())
            } else {
                let creds = match self.credentials {
                    Some(c) => c,
                    None => {
                        let mut chain = contree_auth::DefaultChain::builder();
                        if let Some(t) = self.token {
                            chain = chain.token(t);
                        }
                        if let Some(u) = self.base_url.clone() {
                            chain = chain.base_url(u);
                        }
                        if let Some(p) = self.project.clone() {
                            chain = chain.project(p);
                        }
                        if let Some(k) = self.kind {
                            chain = chain.kind(k);
                        }
                        if let Some(p) = self.profile.clone() {
                            chain = chain.profile(p);
                        }
                        if let Some(f) = self.auth_file.clone() {
                            chain = chain.auth_file(f);
                        }
                        if let Some(e) = self.env.clone() {
                            chain = chain.env(e);
                        }
                        if let Some(fs) = self.fs.clone() {
                            chain = chain.fs(fs);
                        }
                        let chain = chain.build();
                        settings = chain.settings()?;
                        chain.resolve()?
                    }
                };
                let url = creds.base_url().to_string();
                (Arc::new(StaticProvider::new(creds)), Some(url))
            };
        let insecure = self
            .allow_insecure_http
            .unwrap_or_else(|| base_url.as_deref().map(is_loopback_http).unwrap_or(false));
        let mut tb = Transport::builder()
            .credentials(provider)
            .allow_insecure_http(insecure)
            .compress_event_streams(self.compress_event_streams);
        let timeouts = self.timeouts.or_else(|| settings_timeouts(&settings));
        if let Some(t) = timeouts {
            tb = tb.timeouts(t);
        }
        let retry = self.retry.or_else(|| {
            settings.max_retries.map(|n| RetryConfig {
                max_attempts: n.saturating_add(1),
                ..RetryConfig::default()
            })
        });
        if let Some(r) = retry {
            tb = tb.retry(r);
        }
        if let Some(ua) = self.user_agent_prefix {
            tb = tb.user_agent_prefix(ua);
        }
        let transport = tb
            .build()
            .map_err(|e| Error::config(format!("could not build the HTTP transport: {e}")))?;
        Ok(Contree {
            inner: Arc::new(Inner {
                transport,
                limiter: self.concurrency_limit.map(|n| Arc::new(Semaphore::new(n))),
                config: Config {
                    default_run_timeout: self.default_run_timeout.unwrap_or(DEFAULT_RUN_TIMEOUT),
                    wait_margin: self.wait_margin.unwrap_or(DEFAULT_WAIT_MARGIN),
                    upload_concurrency: self
                        .upload_concurrency
                        .unwrap_or(DEFAULT_UPLOAD_CONCURRENCY),
                },
                whoami: Mutex::new(None),
                base_url,
            }),
        })
    }
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// What the token may do: the answer of `GET /whoami`.
///
/// ```
/// # fn demo(me: contree::WhoAmI) {
/// if let Some(max) = me.instance_max_timeout() {
///     println!("runs may last up to {max:?}");
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    token_uuid: String,
    token_expiration: Option<std::time::SystemTime>,
    permissions: BTreeMap<String, bool>,
    limits: BTreeMap<String, i64>,
}

impl WhoAmI {
    fn from_wire(w: contree_proto::types::WhoAmIResponse) -> Self {
        WhoAmI {
            token_uuid: w.token_uuid,
            token_expiration: w
                .token_expiration
                .and_then(|s| u64::try_from(s).ok())
                .map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s)),
            permissions: w.permissions,
            limits: w.limits.unwrap_or_default(),
        }
    }

    /// The token's id.
    pub fn token_uuid(&self) -> &str {
        &self.token_uuid
    }

    /// When the token expires, if it does.
    pub fn token_expiration(&self) -> Option<std::time::SystemTime> {
        self.token_expiration
    }

    /// Time left until the token expires (zero if already expired), if it expires.
    pub fn expires_in(&self) -> Option<Duration> {
        self.token_expiration.map(|t| {
            t.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        })
    }

    /// Every known permission and whether it is granted.
    pub fn permissions(&self) -> &BTreeMap<String, bool> {
        &self.permissions
    }

    /// Whether the named permission (`spawn`, `import`, `list`, ...) is granted.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.get(permission).copied().unwrap_or(false)
    }

    /// The token's limits (`instance_max_timeout`, `instance_max_concurrency`, ...).
    pub fn limits(&self) -> &BTreeMap<String, i64> {
        &self.limits
    }

    /// The longest run timeout the token may ask for.
    pub fn instance_max_timeout(&self) -> Option<Duration> {
        self.limit_secs("instance_max_timeout")
    }

    /// How many runs the token may have at once.
    pub fn instance_max_concurrency(&self) -> Option<usize> {
        self.limits
            .get("instance_max_concurrency")
            .and_then(|v| usize::try_from(*v).ok())
    }

    /// The longest import timeout the token may ask for.
    pub fn images_import_max_timeout(&self) -> Option<Duration> {
        self.limit_secs("images_import_max_timeout")
    }

    fn limit_secs(&self, key: &str) -> Option<Duration> {
        self.limits
            .get(key)
            .and_then(|v| u64::try_from(*v).ok())
            .map(Duration::from_secs)
    }

    /// A warning text when `timeout` exceeds the token's `instance_max_timeout`, else `None`.
    /// Runs log this at `warn` level when the client has a cached `WhoAmI`.
    pub fn check_run_timeout(&self, timeout: Duration) -> Option<String> {
        let max = self.instance_max_timeout()?;
        (timeout > max).then(|| {
            format!(
                "run timeout {}s exceeds the token's instance_max_timeout of {}s; the server may reject or cut the run",
                timeout.as_secs(),
                max.as_secs()
            )
        })
    }
}

/// A percent-encoded query string builder (repeated keys for lists; flags omitted when false).
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    parts: Vec<(String, String)>,
}

const QUERY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Query {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn push(&mut self, k: &str, v: impl ToString) -> &mut Self {
        self.parts.push((k.to_string(), v.to_string()));
        self
    }
    pub(crate) fn opt(&mut self, k: &str, v: Option<impl ToString>) -> &mut Self {
        if let Some(v) = v {
            self.push(k, v);
        }
        self
    }
    fn encode(&self) -> String {
        self.parts
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY_SET),
                    percent_encoding::utf8_percent_encode(v, QUERY_SET)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes one path segment.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, PATH_SET).to_string()
}

/// A request with an empty body, URI relative to `{base}/v1`.
pub(crate) fn request(method: http::Method, path: String, query: &Query) -> http::Request<Bytes> {
    build(method, path, query, None, Bytes::new())
}

/// A request with a JSON body.
pub(crate) fn json_request(
    method: http::Method,
    path: String,
    query: &Query,
    body: &impl serde::Serialize,
) -> Result<http::Request<Bytes>> {
    let body = serde_json::to_vec(body)
        .map_err(|e| Error::invalid(format!("could not encode the request body: {e}")))?;
    Ok(build(
        method,
        path,
        query,
        Some("application/json"),
        Bytes::from(body),
    ))
}

pub(crate) fn build(
    method: http::Method,
    path: String,
    query: &Query,
    content_type: Option<&str>,
    body: Bytes,
) -> http::Request<Bytes> {
    let q = query.encode();
    let uri = if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    };
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    // The URI is built from encoded parts, so this cannot fail; fall back to an empty
    // request to the root rather than panicking.
    b.body(body)
        .unwrap_or_else(|_| http::Request::new(Bytes::new()))
}

/// The transport timeouts that [`contree_auth::ClientSettings`] asks for, if any.
fn settings_timeouts(settings: &contree_auth::ClientSettings) -> Option<Timeouts> {
    if settings.timeout.is_none() && settings.connect_timeout.is_none() {
        return None;
    }
    let mut t = Timeouts::default();
    if let Some(d) = settings.timeout {
        t.attempt = d;
    }
    if let Some(d) = settings.connect_timeout {
        t.connect = d;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding() {
        let mut q = Query::new();
        q.push("path", "/etc/a b").push("tag", "ubuntu:latest+1");
        assert_eq!(q.encode(), "path=/etc/a%20b&tag=ubuntu%3Alatest%2B1");
        assert_eq!(seg("a/b"), "a%2Fb");
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_http("http://127.0.0.1:8080"));
        assert!(is_loopback_http("http://localhost:1/x"));
        assert!(is_loopback_http("http://[::1]:80"));
        assert!(!is_loopback_http("http://example.com"));
        assert!(!is_loopback_http("https://127.0.0.1"));
    }

    #[test]
    fn whoami_timeout_warning() {
        let w = WhoAmI::from_wire(
            contree_proto::json::decode(
                br#"{"token_uuid":"t","token_expiration":null,"permissions":{},
                    "limits":{"instance_max_timeout":60},"operations_stat":{}}"#,
            )
            .expect("a whoami body"),
        );
        assert!(w.check_run_timeout(Duration::from_secs(61)).is_some());
        assert!(w.check_run_timeout(Duration::from_secs(60)).is_none());
    }
}
