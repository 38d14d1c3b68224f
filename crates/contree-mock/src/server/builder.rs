//! The builder: every setting of a mock server before it starts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::running::MockServer;
use super::{Config, Shared};
use crate::profile::Profile;

/// Builder for [`MockServer`].
///
/// ```
/// # async fn demo() {
/// use std::time::Duration;
/// let server = contree_mock::MockServer::builder()
///     .latency(Duration::ZERO)
///     .seed(7)
///     .token("t")
///     .project("p")
///     .permission("import", false)
///     .limit("instance_max_timeout", 60)
///     .start()
///     .await;
/// assert_eq!(server.token(), "t");
/// server.shutdown().await;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct MockServerBuilder {
    pub(crate) cfg: Config,
}

impl MockServerBuilder {
    /// Delay of each state transition (PENDING → ASSIGNED → EXECUTING); zero for benchmarks.
    pub fn latency(mut self, d: Duration) -> Self {
        self.cfg.latency = d;
        self
    }

    /// How long operations stay in each state (default [`Profile::Fixed`], which uses
    /// [`latency`](Self::latency)); [`Profile::Realistic`] draws seeded delays like the real
    /// service's and ignores `latency`.
    ///
    /// ```
    /// # async fn demo() {
    /// let server = contree_mock::MockServer::builder()
    ///     .profile(contree_mock::Profile::Realistic)
    ///     .seed(3)
    ///     .start()
    ///     .await;
    /// assert!(server.timings().is_empty());
    /// # }
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.cfg.profile = profile;
        self
    }

    /// Seed for generated UUIDs and `/dev/urandom`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.cfg.seed = seed;
        self
    }

    /// The bearer token the server accepts (default `test-token`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.cfg.token = token.into();
        self
    }

    /// The project required in the `Project` header (default `test-project`, IAM mode).
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.cfg.project = Some(project.into());
        self
    }

    /// JWT mode: no `Project` header is required.
    pub fn no_project(mut self) -> Self {
        self.cfg.project = None;
        self
    }

    /// Grants or revokes one permission (`list`, `spawn`, `spawn_disposable`, `import`, `cancel`,
    /// `set_image_tag`).
    pub fn permission(mut self, name: impl Into<String>, granted: bool) -> Self {
        self.cfg.permissions.insert(name.into(), granted);
        self
    }

    /// Replaces the whole permission map.
    pub fn permissions<K: Into<String>>(
        mut self,
        perms: impl IntoIterator<Item = (K, bool)>,
    ) -> Self {
        self.cfg.permissions = perms.into_iter().map(|(k, v)| (k.into(), v)).collect();
        self
    }

    /// Sets one limit reported by `/whoami` (`instance_max_timeout` is enforced on spawn).
    pub fn limit(mut self, name: impl Into<String>, value: i64) -> Self {
        self.cfg.limits.insert(name.into(), value);
        self
    }

    /// Replaces the whole limits map.
    pub fn limits<K: Into<String>>(mut self, limits: impl IntoIterator<Item = (K, i64)>) -> Self {
        self.cfg.limits = limits.into_iter().map(|(k, v)| (k.into(), v)).collect();
        self
    }

    /// Interval of `: keepalive` comments on idle followed event streams (default 15 s).
    pub fn keepalive(mut self, d: Duration) -> Self {
        self.cfg.keepalive = d;
        self
    }

    /// Serve under a deployment prefix (e.g. `/sandboxes`): the API is then at `{prefix}/v1`,
    /// and [`MockServer::base_url`] includes the prefix. `Location` headers stay `/v1/...`
    /// like the real service's.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        let p: String = prefix.into();
        self.cfg.prefix = p.trim_end_matches('/').to_string();
        self
    }

    /// Serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a self-signed certificate for
    /// `localhost` and `127.0.0.1` generated at start; [`MockServer::ca_pem`] is the PEM
    /// clients must trust, and [`MockServer::base_url`] starts with `https://`.
    ///
    /// ```
    /// # async fn demo() {
    /// let server = contree_mock::MockServer::builder().tls(true).start().await;
    /// assert!(server.base_url().starts_with("https://127.0.0.1:"));
    /// assert!(server.ca_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    /// # }
    /// ```
    pub fn tls(mut self, enabled: bool) -> Self {
        self.cfg.tls = enabled;
        self
    }

    /// HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` per connection (default
    /// [`DEFAULT_MAX_CONCURRENT_STREAMS`](crate::DEFAULT_MAX_CONCURRENT_STREAMS), 100, like real edges; over TLS and h2c). A client
    /// that multiplexes more requests than this on one connection waits for a free stream.
    pub fn max_concurrent_streams(mut self, max: u32) -> Self {
        self.cfg.max_concurrent_streams = max.max(1);
        self
    }

    /// The TCP port to bind on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.cfg.port = port;
        self
    }

    /// Binds and starts serving on the current tokio runtime.
    ///
    /// # Panics
    /// If the port cannot be bound (a test setup failure).
    pub async fn start(self) -> MockServer {
        match self.try_start().await {
            Ok(s) => s,
            Err(e) => panic!("contree-mock: cannot bind 127.0.0.1: {e}"),
        }
    }

    /// Like [`start`](Self::start) but returns the bind error.
    pub async fn try_start(self) -> std::io::Result<MockServer> {
        let tls = if self.cfg.tls {
            Some(crate::tls::generate()?)
        } else {
            None
        };
        let listener = TcpListener::bind(("127.0.0.1", self.cfg.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(self.cfg));
        let (done_tx, done_rx) = oneshot::channel();
        let stop = shared.stop.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let ca_pem = tls.as_ref().map(|t| t.cert_pem.clone());
        tokio::spawn(crate::conn::accept_loop(
            listener,
            shared.clone(),
            tls,
            done_tx,
        ));
        let base_url = format!("{scheme}://{addr}{}", shared.cfg.prefix);
        Ok(MockServer {
            shared,
            addr,
            base_url,
            ca_pem,
            stop,
            done: Mutex::new(Some(done_rx)),
            thread: None,
        })
    }

    /// Starts the server on its own runtime thread, for blocking tests.
    ///
    /// # Panics
    /// If the runtime cannot be built or the port cannot be bound.
    pub fn start_blocking(self) -> MockServer {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("contree-mock".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let server = rt.block_on(self.try_start());
                let stop = server.as_ref().ok().map(|s| s.stop.clone());
                let _ = tx.send(server);
                if let Some(stop) = stop {
                    rt.block_on(stop.cancelled());
                }
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .unwrap_or_else(|e| panic!("contree-mock: cannot spawn the server thread: {e}"));
        match rx.recv() {
            Ok(Ok(mut server)) => {
                server.thread = Some(thread);
                server
            }
            Ok(Err(e)) => panic!("contree-mock: cannot start: {e}"),
            Err(_) => panic!("contree-mock: the server thread died during start"),
        }
    }
}
