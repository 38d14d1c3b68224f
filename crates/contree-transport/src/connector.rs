//! The connector: plain TCP for `http://`, rustls for `https://`, with the TLS setup (root
//! certificates, client config) built on the first `https` connection rather than up front.
//!
//! Loading the platform's root certificates reads and parses a CA bundle of a hundred or more
//! certificates; a client that only ever talks to a local `http://` server (a mock, a tunnel)
//! never pays for it, in time or memory.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use http::Uri;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::connect::{Connection as _, HttpConnector};
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;

use crate::pool::{AlpnBook, origin_key};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the TLS setup is built from.
pub(crate) struct TlsSetup {
    /// Trust the platform's root certificates.
    pub(crate) native_roots: bool,
    /// Extra trusted CAs (already parsed and validated by the builder).
    pub(crate) extra_roots: Vec<CertificateDer<'static>>,
}

struct Lazy {
    setup: TlsSetup,
    http: HttpConnector,
    https: OnceLock<Result<HttpsConnector<HttpConnector>, String>>,
}

/// A cheap-to-clone connector for hyper-util's client.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    lazy: Arc<Lazy>,
    /// Plain-http connections must end at a loopback peer (the transport allowed them only
    /// because their host is loopback; see `base_url`).
    loopback_only_http: bool,
    /// Connections started (TCP connects attempted), shared by clones.
    started: Arc<AtomicU64>,
    /// The protocol (ALPN) each https origin answered with, shared by clones.
    book: Arc<AlpnBook>,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("tls_ready", &self.lazy.https.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Connector {
    pub(crate) fn new(http: HttpConnector, setup: TlsSetup, loopback_only_http: bool) -> Self {
        Connector {
            http: http.clone(),
            loopback_only_http,
            started: Arc::new(AtomicU64::new(0)),
            book: Arc::new(AlpnBook::default()),
            lazy: Arc::new(Lazy {
                setup,
                http,
                https: OnceLock::new(),
            }),
        }
    }

    /// What the https connections negotiated, by origin.
    pub(crate) fn alpn_book(&self) -> Arc<AlpnBook> {
        self.book.clone()
    }

    /// How many connections were started so far.
    pub(crate) fn connections_started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    fn https(&self) -> Result<HttpsConnector<HttpConnector>, String> {
        self.lazy
            .https
            .get_or_init(|| build_https(&self.lazy.setup, self.lazy.http.clone()))
            .clone()
    }
}

fn build_https(
    setup: &TlsSetup,
    http: HttpConnector,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if setup.native_roots {
        let (added, _ignored) = roots.add_parsable_certificates(native_roots());
        tracing::debug!(added, "loaded native root certificates");
    }
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for cert in &setup.extra_roots {
        roots.add(cert.clone()).map_err(|e| {
            format!("an extra CA certificate cannot be used as a trust anchor: {e}")
        })?;
    }
    if roots.is_empty() {
        tracing::warn!(
            "no root certificates available; https requests will fail (install a CA bundle, enable the `webpki-roots` feature or add a CA)"
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http))
}

/// The platform's root certificates, read once per process (on the first `https` use).
fn native_roots() -> impl Iterator<Item = CertificateDer<'static>> {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let res = rustls_native_certs::load_native_certs();
            for e in &res.errors {
                tracing::debug!(error = %e, "could not load some native root certificates");
            }
            res.certs
        })
        .iter()
        .cloned()
}

type Connecting =
    Pin<Box<dyn Future<Output = Result<MaybeHttpsStream<TokioIo<TcpStream>>, BoxError>> + Send>>;

impl tower_service::Service<Uri> for Connector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Connecting;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // `HttpConnector` is always ready, and so is the TLS wrapper around it.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        self.started.fetch_add(1, Ordering::Relaxed);
        if dst.scheme() == Some(&http::uri::Scheme::HTTP) {
            let connecting = self.http.call(dst);
            let loopback_only = self.loopback_only_http;
            return Box::pin(async move {
                let tcp = connecting.await.map_err(|e| Box::new(e) as BoxError)?;
                if loopback_only {
                    // Nothing has been written yet: a name that resolved off the machine
                    // never sees the request (or its token).
                    let peer = tcp
                        .inner()
                        .peer_addr()
                        .map_err(|e| Box::new(e) as BoxError)?;
                    if !crate::base_url::is_loopback_ip(peer.ip()) {
                        return Err(format!(
                            "refusing plain http to {peer}: the host name resolved to an address that is not loopback; use https:// or `allow_insecure_http(true)`"
                        )
                        .into());
                    }
                }
                Ok(MaybeHttpsStream::Http(tcp))
            });
        }
        let key = origin_key(&dst);
        match self.https() {
            Ok(mut https) => {
                let connecting = https.call(dst);
                let book = self.book.clone();
                Box::pin(async move {
                    let result = connecting.await;
                    match (&result, key) {
                        (Ok(stream), Some(key)) => {
                            book.record(key, stream.connected().is_negotiated_h2());
                        }
                        _ => book.wake(),
                    }
                    result
                })
            }
            Err(message) => {
                self.book.wake();
                Box::pin(async move { Err(message.into()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector() -> Connector {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        Connector::new(
            http,
            TlsSetup {
                native_roots: false,
                extra_roots: Vec::new(),
            },
            true,
        )
    }

    #[tokio::test]
    async fn plain_http_connects_without_building_tls() {
        use tower_service::Service as _;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut c = connector();
        let uri: Uri = format!("http://{addr}/").parse().unwrap();
        let stream = c.call(uri).await.unwrap();
        assert!(matches!(stream, MaybeHttpsStream::Http(_)));
        assert!(
            c.lazy.https.get().is_none(),
            "an http connection must not build the TLS setup"
        );
    }

    #[tokio::test]
    async fn https_builds_tls_once_and_shares_it_between_clones() {
        use tower_service::Service as _;
        let mut c = connector();
        let clone = c.clone();
        // Nothing listens on port 9 of loopback: the connection fails, but only after the
        // TLS setup was built (it is needed before connecting).
        let _ = c.call("https://127.0.0.1:9/".parse().unwrap()).await;
        assert!(c.lazy.https.get().is_some());
        assert!(clone.lazy.https.get().is_some(), "clones share one setup");
    }
}
