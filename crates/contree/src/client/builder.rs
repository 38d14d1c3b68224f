//! [`ContreeBuilder`]: credentials, transport options and client defaults.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use contree_auth::{AuthKind, Credentials, ProvideCredentials, SecretToken, StaticProvider};
use contree_transport::{RetryConfig, Timeouts, Transport};
use tokio::sync::Semaphore;

use super::{
    Config, Contree, DEFAULT_RUN_TIMEOUT, DEFAULT_UPLOAD_CONCURRENCY, DEFAULT_WAIT_MARGIN, Inner,
};
use crate::error::{Error, Result};
use crate::util::define_setters;

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
    max_response_bytes: Option<usize>,
    default_run_timeout: Option<Duration>,
    wait_margin: Option<Duration>,
    events_deadline: Option<Duration>,
    upload_concurrency: Option<usize>,
    extra_roots_pem: Vec<Vec<u8>>,
    native_roots: Option<bool>,
    pool_idle_timeout: Option<Duration>,
    http2_streams_per_connection: Option<usize>,
    lineage: Option<Arc<dyn crate::lineage::LineageStore>>,
}

impl fmt::Debug for ContreeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContreeBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field(
                "base_url",
                &self.base_url.as_deref().map(contree_transport::redact_url),
            )
            .field("project", &self.project)
            .field("concurrency_limit", &self.concurrency_limit)
            .finish_non_exhaustive()
    }
}

/// The options of [`ContreeBuilder`], written once for it and for the blocking
/// [`blocking::ContreeBuilder`](crate::blocking::ContreeBuilder) (see `util::setters`).
macro_rules! builder_options {
    ($emit:ident) => {
        $emit! {
        /// Uses this bearer token (taken literally; it is never looked up as an env var name).
        fn token(mut self, token: impl Into<String>) {
            self.token = Some(SecretToken::new(token));
        }

        /// Uses this base URL (without `/v1`), e.g. `https://api.tokenfactory.nebius.com/sandboxes`.
        fn base_url(mut self, url: impl Into<String>) {
            self.base_url = Some(url.into());
        }

        /// Uses this Nebius project id (the `Project` header).
        fn project(mut self, project: impl Into<String>) {
            self.project = Some(project.into());
        }

        /// Uses this auth kind with an explicit token (IAM by default).
        fn auth_kind(mut self, kind: contree_auth::AuthKind) {
            self.kind = Some(kind);
        }

        /// Uses fully resolved credentials.
        fn credentials(mut self, credentials: contree_auth::Credentials) {
            self.credentials = Some(credentials);
        }

        /// Asks this provider for credentials before requests, and for fresh ones after a 401
        /// unless it [is static](contree_auth::ProvideCredentials::is_static). Without a
        /// provider the client resolves fixed credentials once, so a 401 fails at once (one
        /// request).
        fn credentials_provider(mut self, provider: std::sync::Arc<dyn contree_auth::ProvideCredentials>) {
            self.provider = Some(provider);
        }

        /// Reads this environment instead of the process one (for tests, or apps that compute
        /// their environment): unset credentials are resolved against it, and the default
        /// locations of the layer, URL and sync caches come from it
        /// ([`contree_auth::default_config_dir`]).
        fn env(mut self, env: std::sync::Arc<dyn contree_auth::Env>) {
            self.env = Some(env);
        }

        /// Reads `auth.ini` through this filesystem (for tests).
        fn fs(mut self, fs: std::sync::Arc<dyn contree_auth::Fs>) {
            self.fs = Some(fs);
        }

        /// Uses this `auth.ini` profile (instead of `CONTREE_PROFILE` or the file's default).
        fn profile(mut self, name: impl Into<String>) {
            self.profile = Some(name.into());
        }

        /// Reads profiles from this file instead of the default location.
        fn auth_file(mut self, path: impl Into<std::path::PathBuf>) {
            self.auth_file = Some(path.into());
        }

        /// Connect, per-attempt, idle-read and total timeouts of single requests.
        fn timeouts(mut self, timeouts: crate::Timeouts) {
            self.timeouts = Some(timeouts);
        }

        /// How failed requests are retried.
        fn retry(mut self, retry: crate::RetryConfig) {
            self.retry = Some(retry);
        }

        /// Prepends this to the `User-Agent` header (e.g. `my-agent/1.0`).
        fn user_agent_prefix(mut self, prefix: impl Into<String>) {
            self.user_agent_prefix = Some(prefix.into());
        }

        /// At most this many requests in flight at once across all clones of the client.
        fn concurrency_limit(mut self, limit: usize) {
            self.concurrency_limit = Some(limit.max(1));
        }

        /// Allows a plain `http://` base URL to any host (the token then travels unencrypted).
        /// Loopback hosts (`127.0.0.0/8`, `[::1]`, `[::ffff:127.x.y.z]`, `localhost`) are allowed
        /// without this; the rule is the transport's ([`contree_transport::check_base_url`]),
        /// applied to the parsed host when the client is built and again to every request. A
        /// base URL with userinfo (`user@host`) is always refused.
        fn allow_insecure_http(mut self, allow: bool) {
            self.allow_insecure_http = Some(allow);
        }

        /// Also trusts the CA certificates in this PEM data (a corporate proxy's CA, a local
        /// test server's self-signed certificate); the platform's roots stay trusted. Invalid
        /// PEM makes `build` fail.
        ///
        /// ```
        /// # async fn demo() {
        /// let mock = contree_mock::MockServer::builder().tls(true).start().await;
        /// let contree = contree::Contree::builder()
        ///     .base_url(mock.base_url())
        ///     .token(mock.token())
        ///     .add_root_certificates_pem(mock.ca_pem().unwrap())
        ///     .build()
        ///     .unwrap();
        /// # drop(contree);
        /// # }
        /// ```
        fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) {
            self.extra_roots_pem.push(pem.into());
        }

        /// Whether to trust the platform's root certificates (default `true`); with `false`,
        /// only the certificates given to
        /// [`add_root_certificates_pem`](crate::ContreeBuilder::add_root_certificates_pem)
        /// are trusted (a private deployment pinned to its own CA).
        ///
        /// ```
        /// # async fn demo() {
        /// let mock = contree_mock::MockServer::builder().tls(true).start().await;
        /// let contree = contree::Contree::builder()
        ///     .base_url(mock.base_url())
        ///     .token(mock.token())
        ///     .native_roots(false)
        ///     .add_root_certificates_pem(mock.ca_pem().unwrap())
        ///     .build()
        ///     .unwrap();
        /// # drop(contree);
        /// # }
        /// ```
        fn native_roots(mut self, enabled: bool) {
            self.native_roots = Some(enabled);
        }

        /// How long an idle pooled connection is kept for reuse (default 90 s). Shorter
        /// suits servers or proxies that drop idle connections sooner.
        ///
        /// ```
        /// let contree = contree::Contree::builder()
        ///     .base_url("https://contree.example")
        ///     .token("t")
        ///     .pool_idle_timeout(std::time::Duration::from_secs(30))
        ///     .build()
        ///     .unwrap();
        /// # drop(contree);
        /// ```
        fn pool_idle_timeout(mut self, timeout: std::time::Duration) {
            self.pool_idle_timeout = Some(timeout);
        }

        /// How many requests one HTTP/2 connection carries before the client opens another
        /// (default 100, what most edges allow; see
        /// [`TransportBuilder::http2_streams_per_connection`](contree_transport::TransportBuilder::http2_streams_per_connection)).
        /// Each waited or streamed run holds one for its whole run, so set it to the
        /// server's `SETTINGS_MAX_CONCURRENT_STREAMS` when that is lower, or a fan-out queues
        /// behind the cap.
        ///
        /// ```
        /// let contree = contree::Contree::builder()
        ///     .base_url("https://contree.example")
        ///     .token("t")
        ///     .http2_streams_per_connection(50)
        ///     .build()
        ///     .unwrap();
        /// # drop(contree);
        /// ```
        fn http2_streams_per_connection(mut self, n: usize) {
            self.http2_streams_per_connection = Some(n);
        }

        /// The cap on the decoded (decompressed) size of a buffered response body (default
        /// 64 MiB); a larger answer fails with [`ErrorKind::ResponseTooLarge`](crate::ErrorKind)
        /// instead of filling memory. Streamed reads (downloads, archives, event streams) are
        /// not capped.
        ///
        /// ```
        /// let contree = contree::Contree::builder()
        ///     .base_url("http://127.0.0.1:8080")
        ///     .token("t")
        ///     .max_response_bytes(256 << 20)
        ///     .build()
        ///     .unwrap();
        /// # drop(contree);
        /// ```
        fn max_response_bytes(mut self, limit: usize) {
            self.max_response_bytes = Some(limit);
        }

        /// The overall deadline of event streams that no run bounds:
        /// [`Operations::events`](crate::Operations::events) and `events_since`, and the
        /// [`events`](crate::RunHandle::events) of runs re-attached by id. Past it such a stream
        /// ends with an error of kind [`Timeout`](crate::ErrorKind::Timeout); the operation keeps
        /// running. Default: the default run timeout plus the wait margin. A run's own stream
        /// ([`Run::stream`](crate::Run::stream), the events of a started run) is bounded by that
        /// run's wait deadline instead ([`Run::wait_deadline`](crate::Run::wait_deadline)).
        ///
        /// ```
        /// let contree = contree::Contree::builder()
        ///     .base_url("http://127.0.0.1:8080")
        ///     .token("t")
        ///     .events_deadline(std::time::Duration::from_secs(3600))
        ///     .build()
        ///     .unwrap();
        /// assert_eq!(contree.events_deadline().as_secs(), 3600);
        /// ```
        fn events_deadline(mut self, deadline: std::time::Duration) {
            self.events_deadline = Some(deadline);
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
        fn compress_event_streams(mut self, enabled: bool) {
            self.compress_event_streams = enabled;
        }

        /// The server-side timeout of runs that set none (default 10 minutes).
        fn default_run_timeout(mut self, timeout: std::time::Duration) {
            self.default_run_timeout = Some(timeout);
        }

        /// How much longer than a run's server-side timeout the client waits for its result
        /// (default 2 minutes; covers queueing and VM start). The client deadline is always
        /// the server timeout plus this margin, so it always exceeds the server timeout.
        fn wait_margin(mut self, margin: std::time::Duration) {
            self.wait_margin = Some(margin);
        }

        /// How many files one run uploads at once (default 4).
        fn upload_concurrency(mut self, n: usize) {
            self.upload_concurrency = Some(n.max(1));
        }

        /// Where the client records lineage (which version was made from which): in
        /// memory by default; [`FileLineage`](crate::lineage::FileLineage) shares it
        /// between the clients of a machine.
        ///
        /// ```
        /// use std::sync::Arc;
        /// let dir = tempfile::tempdir().unwrap();
        /// let store = Arc::new(contree::lineage::FileLineage::open(dir.path().join("lineage.jsonl")));
        /// let builder = contree::Contree::builder().lineage_store(store);
        /// # let _ = builder;
        /// ```
        fn lineage_store(mut self, store: std::sync::Arc<dyn crate::lineage::LineageStore>) {
            self.lineage = Some(store);
        }
        }
    };
}
#[cfg(feature = "blocking")]
pub(crate) use builder_options;

impl ContreeBuilder {
    builder_options!(define_setters);

    /// Resolves credentials and builds the client. Needs no async runtime; the client's
    /// calls need a Tokio runtime.
    ///
    /// # Errors
    ///
    /// `Auth` when the credentials cannot be resolved (the message lists every source
    /// tried) or the credential chain refuses a value (token, profile, base URL); `Config`
    /// when the transport refuses the base URL (plain `http://` to a host that is not
    /// loopback) or cannot be built.
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
        // The transport owns the loopback rule (a parsed host, never a text prefix); checking
        // here makes a bad URL fail at build time. The guard itself stays on for every host
        // unless the caller opted in.
        let insecure = self.allow_insecure_http.unwrap_or(false);
        if let Some(url) = base_url.as_deref() {
            contree_transport::check_base_url(url, insecure)
                .map_err(|e| Error::config(e.to_string()))?;
        }
        let mut tb = Transport::builder()
            .credentials(provider)
            .allow_insecure_http(insecure)
            .compress_event_streams(self.compress_event_streams);
        if let Some(limit) = self.max_response_bytes {
            tb = tb.max_response_bytes(limit);
        }
        for pem in self.extra_roots_pem {
            tb = tb.add_root_certificates_pem(pem);
        }
        if let Some(enabled) = self.native_roots {
            tb = tb.native_roots(enabled);
        }
        if let Some(idle) = self.pool_idle_timeout {
            tb = tb.pool_idle_timeout(idle);
        }
        if let Some(n) = self.http2_streams_per_connection {
            tb = tb.http2_streams_per_connection(n);
        }
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
                    events_deadline: self.events_deadline,
                    upload_concurrency: self
                        .upload_concurrency
                        .unwrap_or(DEFAULT_UPLOAD_CONCURRENCY),
                },
                whoami: Mutex::new(None),
                base_url,
                lineage: self
                    .lineage
                    .unwrap_or_else(|| Arc::new(crate::lineage::MemoryLineage::new())),
                env: self.env.unwrap_or_else(|| Arc::new(contree_auth::OsEnv)),
            }),
        })
    }
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
    fn hostile_base_urls_fail_at_build_time() {
        let build = |url: &str| {
            Contree::builder()
                .base_url(url)
                .token("CANARY-tok-9d1e")
                .project("p")
                .build()
        };
        // What the old text-prefix check let through (and then switched the guard off).
        for url in [
            "http://127.0.0.1@other-host.invalid:9",
            "http://127.anything.invalid",
            "http://127.0.0.1.invalid:9",
            "http://x.localhost:9",
            "http://[::ffff:10.0.0.1]:9",
            "HTTP://example.invalid",
            "http://example.invalid.",
        ] {
            let err = build(url).expect_err(url);
            assert!(!err.to_string().contains("CANARY"), "{err}");
        }
        for url in [
            "http://127.0.0.1:9",
            "HTTP://127.0.0.1:9",
            "http://localhost:9",
            "http://[::1]:9",
            "http://[::ffff:127.0.0.1]:9",
        ] {
            assert!(build(url).is_ok(), "{url}");
        }
    }
}
