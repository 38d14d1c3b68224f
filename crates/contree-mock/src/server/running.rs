//! The running server: its handle, the accept loop and shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::builder::MockServerBuilder;
use super::{RecordedRequest, Shared, lock};
use crate::faults::FaultRule;
use crate::profile::OperationTiming;

/// A running mock ConTree server. Dropping it stops the server.
///
/// ```
/// # async fn demo() {
/// use contree_mock::{FaultRule, MockServer};
/// let server = MockServer::start().await;
/// assert!(server.base_url().starts_with("http://127.0.0.1:"));
/// server.inject(FaultRule::new(http::Method::POST, "/v1/instances").status(429).retry_after(1));
/// assert_eq!(server.request_count("spawnInstance"), 0);
/// server.shutdown().await;
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    pub(crate) shared: Arc<Shared>,
    pub(super) addr: SocketAddr,
    pub(super) base_url: String,
    pub(super) ca_pem: Option<String>,
    pub(super) stop: CancellationToken,
    pub(super) done: Mutex<Option<oneshot::Receiver<()>>>,
    pub(super) thread: Option<std::thread::JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server with the defaults on `127.0.0.1:0`.
    pub async fn start() -> MockServer {
        MockServerBuilder::default().start().await
    }

    /// Starts a server with the defaults on its own runtime thread.
    pub fn start_blocking() -> MockServer {
        MockServerBuilder::default().start_blocking()
    }

    /// A builder for a customised server.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// `http://127.0.0.1:PORT` (plus the prefix, if any; without `/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// With [`tls`](MockServerBuilder::tls): the self-signed certificate (PEM) to trust, e.g.
    /// with `TransportBuilder::add_root_certificates_pem`; `None` for plain http.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token the server accepts.
    pub fn token(&self) -> &str {
        &self.shared.cfg.token
    }

    /// The project the server requires (`None` in JWT mode).
    pub fn project(&self) -> Option<&str> {
        self.shared.cfg.project.as_deref()
    }

    /// Adds a fault rule (see [`FaultRule`]).
    pub fn inject(&self, rule: FaultRule) {
        lock(&self.shared.faults).inject(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Requests received for an `operationId` (including faulted ones).
    pub fn request_count(&self, operation_id: &str) -> u64 {
        lock(&self.shared.counters)
            .get(operation_id)
            .copied()
            .unwrap_or(0)
    }

    /// All counters, by `operationId`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        lock(&self.shared.counters).clone()
    }

    /// TCP connections accepted so far (a client that reuses its connections opens few; over
    /// TLS, counted before the handshake).
    ///
    /// ```
    /// let mock = contree_mock::MockServer::start_blocking();
    /// assert_eq!(mock.connections_accepted(), 0);
    /// ```
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// TCP connections open right now (a client's idle pool closing its connections shows
    /// here).
    ///
    /// ```
    /// let mock = contree_mock::MockServer::start_blocking();
    /// assert_eq!(mock.connections_open(), 0);
    /// ```
    pub fn connections_open(&self) -> u64 {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The server-side timeline of every operation so far, in creation order (also served as
    /// JSON at `GET /_mock/timings`). A client's overhead for a run is the instant it had the
    /// result minus [`completed_unix_us`](OperationTiming::completed_unix_us).
    ///
    /// ```
    /// let mock = contree_mock::MockServer::start_blocking();
    /// assert!(mock.timings().is_empty());
    /// ```
    pub fn timings(&self) -> Vec<OperationTiming> {
        self.shared.timings().all()
    }

    /// Stops accepting, closes connections and waits for the accept loop to end.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let rx = lock(&self.done).take();
        if let Some(rx) = rx {
            let _ = rx.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
