//! The client: connection setup (TLS, pooling), URL and header rules, the retry loop.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use contree_auth::{Credentials, ProvideCredentials};
use contree_proto::OperationMeta;
use futures_util::TryFutureExt as _;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::base_url::{check_uri, redact_url};
use crate::body::{Body, ReqBody, ResponseBody};
use crate::config::{RequestOptions, RetryConfig, Timeouts};
use crate::connector::{Connector, TlsSetup};
use crate::error::{Ctx, Error, Inner};
use crate::pool::{Http2Settings, Pool};

/// The HTTP transport of the ConTree SDK. Cheap to clone (an `Arc` inside); share one per
/// process so connections are pooled.
///
/// - HTTP/1.1 and HTTP/2 (ALPN) over rustls with the `ring` provider; native root
///   certificates (plus the Mozilla set with the `webpki-roots` feature, plus any extra CAs).
/// - HTTP/2 at scale: requests to an HTTP/2 origin are spread over several connections, a new
///   one opening only when every open one carries
///   [`http2_streams_per_connection`](TransportBuilder::http2_streams_per_connection)
///   requests (hyper alone would queue them behind the server's stream cap); keepalive PINGs
///   every 30 s while requests are in flight; idle connections close after the pool idle
///   timeout. HTTP/1.1 and plain-http origins pool as hyper does (one connection per request
///   in flight).
/// - URL = credentials' base URL + `/v1` + the request's relative path and query. A base URL
///   that already ends in `/v1` is accepted once (the suffix is not doubled).
/// - Plain `http://` is allowed only to loopback hosts unless
///   [`allow_insecure_http`](TransportBuilder::allow_insecure_http) is set, so a bearer token
///   never crosses the network unencrypted by accident.
/// - Redirects are never followed; a 3xx that the operation lists as success (e.g. 302 for
///   find-by-tag) is returned as the response.
/// - Retries per [`retry::classify`](crate::retry::classify); one 401 triggers one credential
///   refresh and one retry, unless the provider
///   [is static](contree_auth::ProvideCredentials::is_static) (a fixed token), when the 401
///   fails at once.
///
/// ```no_run
/// use std::sync::Arc;
/// use contree_auth::{Credentials, SecretToken, StaticProvider};
/// use contree_transport::{Body, RequestOptions, Transport};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let creds = Credentials::builder(SecretToken::new("token")).project("p").build()?;
/// let transport = Transport::builder()
///     .credentials(Arc::new(StaticProvider::new(creds)))
///     .user_agent_prefix("my-agent/1.0")
///     .build()?;
/// let op = contree_proto::OperationMeta { id: "whoAmI", method: http::Method::GET,
///     path: "/whoami", success: &[200], idempotent: true, streaming: false };
/// let req = http::Request::get("/whoami").body(Body::empty())?;
/// let resp = transport.send(&op, req, &RequestOptions::default()).await?;
/// println!("{}", String::from_utf8_lossy(resp.body()));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    pub(crate) inner: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) pool: Pool,
    connector: Connector,
    pub(crate) credentials: Arc<dyn ProvideCredentials>,
    pub(crate) timeouts: Timeouts,
    pub(crate) retry: RetryConfig,
    user_agent: HeaderValue,
    allow_insecure_http: bool,
    compress_event_streams: bool,
    pub(crate) max_response_bytes: usize,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("timeouts", &self.inner.timeouts)
            .field("retry", &self.inner.retry)
            .field("user_agent", &self.inner.user_agent)
            .field("allow_insecure_http", &self.inner.allow_insecure_http)
            .field("compress_event_streams", &self.inner.compress_event_streams)
            .field("max_response_bytes", &self.inner.max_response_bytes)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Transport`]; see [`Transport::builder`].
///
/// ```
/// use std::{sync::Arc, time::Duration};
/// use contree_auth::{Credentials, SecretToken, StaticProvider};
/// use contree_transport::{RetryConfig, Timeouts, Transport};
///
/// let creds = Credentials::builder(SecretToken::new("t")).build().unwrap();
/// let t = Transport::builder()
///     .credentials(Arc::new(StaticProvider::new(creds)))
///     .timeouts(Timeouts { connect: Duration::from_secs(5), ..Timeouts::default() })
///     .retry(RetryConfig { max_attempts: 5, ..RetryConfig::default() })
///     .build()
///     .unwrap();
/// assert_eq!(t.timeouts().connect, Duration::from_secs(5));
/// ```
pub struct TransportBuilder {
    credentials: Option<Arc<dyn ProvideCredentials>>,
    timeouts: Timeouts,
    retry: RetryConfig,
    user_agent_prefix: Option<String>,
    allow_insecure_http: bool,
    compress_event_streams: bool,
    native_roots: bool,
    extra_roots_pem: Vec<Vec<u8>>,
    pool_idle_timeout: Duration,
    max_response_bytes: usize,
    http2: Http2Settings,
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("has_credentials", &self.credentials.is_some())
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("user_agent_prefix", &self.user_agent_prefix)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("compress_event_streams", &self.compress_event_streams)
            .field("native_roots", &self.native_roots)
            .field("extra_roots", &self.extra_roots_pem.len())
            .field("max_response_bytes", &self.max_response_bytes)
            .field("http2", &self.http2)
            .finish()
    }
}

impl TransportBuilder {
    /// The credentials provider (required). It is asked before every call, so refreshed
    /// tokens are picked up.
    pub fn credentials(mut self, provider: Arc<dyn ProvideCredentials>) -> Self {
        self.credentials = Some(provider);
        self
    }

    /// The timeouts (see [`Timeouts`] for the defaults).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The retry settings (see [`RetryConfig`] for the defaults).
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// An application identity put before the SDK's own `User-Agent`, e.g. `my-agent/1.0`.
    pub fn user_agent_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.user_agent_prefix = Some(prefix.into());
        self
    }

    /// Allows plain `http://` base URLs to non-loopback hosts (the token then travels
    /// unencrypted). Loopback hosts (`localhost`, `127.0.0.0/8`, `::1`) are always allowed.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Whether operation event streams are requested gzip-compressed (default `false`).
    ///
    /// Other responses are always requested with `Accept-Encoding: gzip`. An event stream
    /// stays open for the whole run, and a gzip stream holds its inflate state (a 32 KiB
    /// window plus buffers) all that time; uncompressed, a followed run costs about a third
    /// of the memory, which is what matters when thousands of runs are followed at once.
    /// Turn it on when bandwidth matters more (e.g. runs printing megabytes over a slow
    /// link). A gzip answer is decoded either way.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use contree_auth::{Credentials, SecretToken, StaticProvider};
    /// # let creds = Credentials::builder(SecretToken::new("t")).build().unwrap();
    /// let t = contree_transport::Transport::builder()
    ///     .credentials(Arc::new(StaticProvider::new(creds)))
    ///     .compress_event_streams(true)
    ///     .build()
    ///     .unwrap();
    /// assert!(t.compress_event_streams());
    /// ```
    pub fn compress_event_streams(mut self, enabled: bool) -> Self {
        self.compress_event_streams = enabled;
        self
    }

    /// Whether to trust the platform's root certificates (default `true`).
    pub fn native_roots(mut self, enabled: bool) -> Self {
        self.native_roots = enabled;
        self
    }

    /// Trusts the CA certificates in this PEM data too (e.g. a corporate proxy's CA).
    /// Invalid PEM makes [`build`](Self::build) fail.
    pub fn add_root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_roots_pem.push(pem.into());
        self
    }

    /// The cap on the decoded size of a buffered response body (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`](crate::DEFAULT_MAX_RESPONSE_BYTES), 64 MiB), counted
    /// after gzip decompression, so a small compressed "bomb" cannot fill memory. A larger
    /// body fails with [`ErrorKind::ResponseTooLarge`](crate::ErrorKind::ResponseTooLarge) as
    /// soon as the cap is passed (it is not retried). Streamed bodies
    /// ([`Transport::send_streaming`], event streams) are not buffered and not capped.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use contree_auth::{Credentials, SecretToken, StaticProvider};
    /// # let creds = Credentials::builder(SecretToken::new("t")).build().unwrap();
    /// let t = contree_transport::Transport::builder()
    ///     .credentials(Arc::new(StaticProvider::new(creds)))
    ///     .max_response_bytes(8 << 20)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(t.max_response_bytes(), 8 << 20);
    /// ```
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// How many requests one HTTP/2 connection carries at once before the next one opens
    /// another connection (default 100, the `SETTINGS_MAX_CONCURRENT_STREAMS` most edges
    /// advertise). hyper never opens a second HTTP/2 connection to an origin on its own: a
    /// request beyond the server's cap waits for a free stream, and a followed run holds its
    /// stream for the whole run, so a fan-out of many runs would queue behind the cap. Set it
    /// to the server's cap (or lower); a higher value queues the excess at the server's cap.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use contree_auth::{Credentials, SecretToken, StaticProvider};
    /// # let creds = Credentials::builder(SecretToken::new("t")).build().unwrap();
    /// let t = contree_transport::Transport::builder()
    ///     .credentials(Arc::new(StaticProvider::new(creds)))
    ///     .http2_streams_per_connection(50)
    ///     .http2_max_connections(16)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(t.http2_shards_opened(), 0);
    /// ```
    pub fn http2_streams_per_connection(mut self, n: usize) -> Self {
        self.http2.streams_per_connection = n.max(1);
        self
    }

    /// The most HTTP/2 connections to one origin (default 64); past `max × streams per
    /// connection` requests in flight, new ones share the least loaded connection. `0` turns
    /// the sharding off (one connection, as hyper does on its own).
    pub fn http2_max_connections(mut self, n: usize) -> Self {
        self.http2.max_connections = n;
        self
    }

    /// HTTP/2 keepalive: a PING every `interval` while a connection has requests in flight
    /// (default 30 s; `None` turns them off), and the connection is closed when the answer
    /// takes longer than `timeout` (default 20 s). Keeps a long, quiet followed run from being
    /// cut by a middlebox that drops idle flows, and finds a dead connection within
    /// `interval + timeout` instead of at the read-idle timeout.
    pub fn http2_keep_alive(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.http2.keep_alive_interval = interval;
        self.http2.keep_alive_timeout = timeout;
        self
    }

    /// How long an idle pooled connection is kept (default 90 s).
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = d;
        self
    }

    /// Builds the transport. Fails without a credentials provider, with an invalid user-agent
    /// prefix or invalid CA PEM data.
    pub fn build(self) -> Result<Transport, Error> {
        let credentials = self.credentials.ok_or_else(|| {
            Error::config("no credentials provider; call `.credentials(..)` on the builder")
        })?;
        let ua = match &self.user_agent_prefix {
            Some(p) if !p.trim().is_empty() => format!("{} {}", p.trim(), default_user_agent()),
            _ => default_user_agent(),
        };
        let user_agent = HeaderValue::from_str(&ua).map_err(|_| {
            Error::config(format!(
                "the user-agent prefix {:?} is not a valid header value",
                self.user_agent_prefix.unwrap_or_default()
            ))
        })?;

        let mut extra_roots = Vec::new();
        for pem in &self.extra_roots_pem {
            let mut n = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert =
                    cert.map_err(|e| Error::config(format!("invalid CA certificate PEM: {e}")))?;
                // Checked now (a trust anchor is parsed from it), used on the first https call.
                rustls::RootCertStore::empty()
                    .add(cert.clone())
                    .map_err(|e| Error::config(format!("unusable CA certificate: {e}")))?;
                extra_roots.push(cert);
                n += 1;
            }
            if n == 0 {
                return Err(Error::config(
                    "the extra CA PEM data contains no certificate",
                ));
            }
        }

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.timeouts.connect));
        let connector = Connector::new(
            http,
            TlsSetup {
                native_roots: self.native_roots,
                extra_roots,
            },
            !self.allow_insecure_http,
        );
        let pool = Pool::new(connector.clone(), self.pool_idle_timeout, self.http2);

        let mut retry = self.retry;
        retry.max_attempts = retry.max_attempts.max(1);
        Ok(Transport {
            inner: Arc::new(Shared {
                pool,
                connector,
                credentials,
                timeouts: self.timeouts,
                retry,
                user_agent,
                allow_insecure_http: self.allow_insecure_http,
                compress_event_streams: self.compress_event_streams,
                max_response_bytes: self.max_response_bytes,
            }),
        })
    }
}

/// The SDK's own `User-Agent`: `contree-rs/<version> (<os>; rust)`.
///
/// ```
/// assert!(contree_transport::default_user_agent().starts_with("contree-rs/"));
/// ```
pub fn default_user_agent() -> String {
    format!(
        "contree-rs/{} ({}; rust)",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// Joins the base URL, `/v1` and a relative path-and-query by string concatenation, so a path
/// prefix in the base (e.g. `/sandboxes`) survives. A base ending in `/v1` is accepted once.
///
/// ```
/// use contree_transport::join_url;
/// assert_eq!(join_url("https://h/sandboxes", "/images?limit=1"), "https://h/sandboxes/v1/images?limit=1");
/// assert_eq!(join_url("https://h/sandboxes/v1/", "/whoami"), "https://h/sandboxes/v1/whoami");
/// ```
pub fn join_url(base: &str, path_and_query: &str) -> String {
    let base = base.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    if path_and_query.starts_with('/') {
        format!("{base}/v1{path_and_query}")
    } else {
        format!("{base}/v1/{path_and_query}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Buffered,
    Streaming,
}

pub(crate) enum Payload {
    Bytes(Bytes),
    Stream(ResponseBody),
}

impl Transport {
    /// Starts building a transport.
    pub fn builder() -> TransportBuilder {
        TransportBuilder {
            credentials: None,
            timeouts: Timeouts::default(),
            retry: RetryConfig::default(),
            user_agent_prefix: None,
            allow_insecure_http: false,
            compress_event_streams: false,
            native_roots: true,
            extra_roots_pem: Vec::new(),
            pool_idle_timeout: Duration::from_secs(90),
            max_response_bytes: crate::config::DEFAULT_MAX_RESPONSE_BYTES,
            http2: Http2Settings::default(),
        }
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> &Timeouts {
        &self.inner.timeouts
    }

    /// The configured retry settings.
    pub fn retry_config(&self) -> &RetryConfig {
        &self.inner.retry
    }

    /// Whether event streams are requested gzip-compressed (see
    /// [`TransportBuilder::compress_event_streams`]).
    pub fn compress_event_streams(&self) -> bool {
        self.inner.compress_event_streams
    }

    /// How many connections this transport (and its clones) started opening so far: TCP
    /// connects attempted, successful or not. Pooled connections are reused, so this grows
    /// only when no idle connection was available; a request refused by the base-URL rules
    /// ([`check_base_url`](crate::check_base_url)) never starts one.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use contree_auth::{Credentials, SecretToken, StaticProvider};
    /// # let creds = Credentials::builder(SecretToken::new("t")).build().unwrap();
    /// let t = contree_transport::Transport::builder()
    ///     .credentials(Arc::new(StaticProvider::new(creds)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(t.connections_started(), 0);
    /// ```
    pub fn connections_started(&self) -> u64 {
        self.inner.connector.connections_started()
    }

    /// How many extra HTTP/2 connections (shards) this transport opened because the
    /// connections it had were full; the first connection to each origin is not counted (see
    /// [`http2_streams_per_connection`](TransportBuilder::http2_streams_per_connection)).
    /// Stays 0 for HTTP/1.1 and plain-http origins.
    pub fn http2_shards_opened(&self) -> usize {
        self.inner.pool.shards_opened()
    }

    /// The cap on the decoded size of buffered response bodies (see
    /// [`TransportBuilder::max_response_bytes`]).
    pub fn max_response_bytes(&self) -> usize {
        self.inner.max_response_bytes
    }

    /// The `User-Agent` sent with every request (unless the request sets its own).
    pub fn user_agent(&self) -> &str {
        self.inner.user_agent.to_str().unwrap_or_default()
    }

    /// Sends a request and buffers the response body.
    ///
    /// `req`'s URI is relative to `{base}/v1` (e.g. `/images?limit=10`; an absolute URI's
    /// scheme and host are ignored). Auth, `User-Agent` and `Accept-Encoding: gzip` headers are
    /// added; gzip bodies are decoded. A status not in `op.success` becomes an
    /// [`ErrorKind::Api`](crate::ErrorKind::Api) error with the server's error text. Retries
    /// follow [`retry::classify`](crate::retry::classify) with `op.idempotent` (or
    /// `opts.idempotent`).
    ///
    /// (A plain function returning the call's future rather than an `async fn`, so that
    /// future holds the request once: what each call in flight costs.)
    pub fn send<'a>(
        &'a self,
        op: &'a OperationMeta,
        req: Request<Body>,
        opts: &'a RequestOptions,
    ) -> impl Future<Output = Result<Response<Bytes>, Error>> + Send + 'a {
        // `and_then`, not an `async` block awaiting the call: that would hold the call's
        // future twice (as its capture and as the future it awaits).
        self.execute(op, req, opts, Mode::Buffered)
            .and_then(|resp| async move {
                let (parts, payload) = resp.into_parts();
                let bytes = match payload {
                    Payload::Bytes(b) => b,
                    Payload::Stream(s) => Box::pin(s.collect()).await?,
                };
                Ok(Response::from_parts(parts, bytes))
            })
    }

    /// Like [`send`](Self::send), but hands out the body as a [`ResponseBody`] stream once the
    /// headers arrived with a success status (errors are still returned from the call). The
    /// body is never retried mid-way; only the read-idle timeout applies to it.
    pub fn send_streaming<'a>(
        &'a self,
        op: &'a OperationMeta,
        req: Request<Body>,
        opts: &'a RequestOptions,
    ) -> impl Future<Output = Result<Response<ResponseBody>, Error>> + Send + 'a {
        self.execute(op, req, opts, Mode::Streaming).map_ok(|resp| {
            let (parts, payload) = resp.into_parts();
            let body = match payload {
                Payload::Stream(s) => s,
                Payload::Bytes(b) => bytes_body(b),
            };
            Response::from_parts(parts, body)
        })
    }

    pub(crate) fn build_request(
        &self,
        parts: &http::request::Parts,
        path_and_query: &str,
        creds: &Credentials,
        body: ReqBody,
        ctx: &Ctx,
    ) -> Result<Request<ReqBody>, Error> {
        let shared = &*self.inner;
        let url = join_url(creds.base_url(), path_and_query);
        let uri: Uri = url.parse().map_err(|e| {
            Error::config(format!(
                "cannot build a URL from the base URL {:?} and the path {:?}: {e}",
                redact_url(creds.base_url()),
                ctx.path
            ))
        })?;
        // Checked on the parsed URL before any connection (no DNS lookup, no connect).
        check_uri(&uri, &redact_url(&url), shared.allow_insecure_http)?;
        let len = http_body::Body::size_hint(&body).exact();
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = uri;
        let headers = req.headers_mut();
        *headers = parts.headers.clone();
        for h in creds.headers() {
            let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
                Error::from(Inner::InvalidHeader {
                    ctx: Some(ctx.clone()),
                    name: h.name,
                })
            })?;
            let mut value = HeaderValue::from_str(&h.value).map_err(|_| {
                Error::from(Inner::InvalidHeader {
                    ctx: Some(ctx.clone()),
                    name: h.name,
                })
            })?;
            value.set_sensitive(h.sensitive);
            headers.insert(name, value);
        }
        if !headers.contains_key(header::USER_AGENT) {
            headers.insert(header::USER_AGENT, shared.user_agent.clone());
        }
        if !headers.contains_key(header::ACCEPT_ENCODING) {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Some(len) = len {
            let has_body_method = matches!(
                parts.method,
                http::Method::POST | http::Method::PUT | http::Method::PATCH
            );
            if (len > 0 || has_body_method) && !headers.contains_key(header::CONTENT_LENGTH) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
        }
        Ok(req)
    }
}

/// A body that yields already-buffered bytes.
fn bytes_body(b: Bytes) -> ResponseBody {
    ResponseBody::from_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_join() {
        let table = [
            ("https://h", "/whoami", "https://h/v1/whoami"),
            ("https://h/", "/whoami", "https://h/v1/whoami"),
            (
                "https://h/sandboxes",
                "/images?limit=1",
                "https://h/sandboxes/v1/images?limit=1",
            ),
            (
                "https://h/sandboxes/v1",
                "/whoami",
                "https://h/sandboxes/v1/whoami",
            ),
            ("https://h/v1/", "/whoami", "https://h/v1/whoami"),
            ("https://h/v1/v1", "/x", "https://h/v1/v1/x"),
            ("https://h", "inspect/", "https://h/v1/inspect/"),
        ];
        for (base, pq, want) in table {
            assert_eq!(join_url(base, pq), want, "{base} + {pq}");
        }
    }

    #[test]
    fn user_agent_shape() {
        let ua = default_user_agent();
        assert!(ua.starts_with(&format!("contree-rs/{} (", env!("CARGO_PKG_VERSION"))));
        assert!(ua.ends_with("; rust)"));
    }
}
