//! The server: configuration, builder, handle, accept loop and the per-request pipeline.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use rand::{RngCore as _, SeedableRng as _, rngs::StdRng};
use serde_json::json;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::faults::{CloseMode, FaultEngine, FaultRule};
use crate::profile::{OperationTiming, Profile, Timings};
use crate::respond::{BoxError, Resp, RespBody, accepts_gzip, finalize};
use crate::router::{NoRoute, route};
use crate::state::{ImageRec, State, image_uuid_for};
use crate::util::Query;

/// The default bearer token the server accepts.
pub const DEFAULT_TOKEN: &str = "test-token";
/// The default project the server requires in the `Project` header.
pub const DEFAULT_PROJECT: &str = "test-project";

/// The default HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS` (like E2B's edge and most others).
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 100;

/// The permission names `/whoami` reports (all granted by default).
pub const PERMISSIONS: &[&str] = &[
    "import",
    "spawn",
    "spawn_disposable",
    "list",
    "cancel",
    "set_image_tag",
];

/// Server configuration (built by [`MockServerBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) project: Option<String>,
    pub(crate) latency: Duration,
    pub(crate) profile: Profile,
    pub(crate) seed: u64,
    pub(crate) permissions: BTreeMap<String, bool>,
    pub(crate) limits: BTreeMap<String, i64>,
    pub(crate) keepalive: Duration,
    pub(crate) prefix: String,
    pub(crate) port: u16,
    pub(crate) tls: bool,
    pub(crate) max_concurrent_streams: u32,
    pub(crate) executor: crate::executor::ExecutorSlot,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            token: DEFAULT_TOKEN.to_string(),
            project: Some(DEFAULT_PROJECT.to_string()),
            latency: Duration::from_millis(5),
            profile: Profile::Fixed,
            seed: 0,
            permissions: PERMISSIONS.iter().map(|p| (p.to_string(), true)).collect(),
            limits: [
                ("instance_max_timeout", 3600),
                ("instance_max_concurrency", 10),
                ("images_import_max_concurrency", 5),
                ("images_import_max_timeout", 3600),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            keepalive: Duration::from_secs(15),
            prefix: String::new(),
            port: 0,
            tls: false,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            executor: Default::default(),
        }
    }
}

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: Method,
    /// Path below the origin (with the deployment prefix, if any).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Request headers; `Authorization` is redacted to `Bearer <redacted>`.
    pub headers: Vec<(String, String)>,
    /// The spec `operationId` the request routed to, if any.
    pub operation_id: Option<String>,
    /// The HTTP version it came over (`HTTP/1.1`, or `HTTP/2.0` over TLS or h2c).
    pub version: http::Version,
}

/// State shared by the accept loop, the handlers and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    pub(crate) state: Mutex<State>,
    faults: Mutex<FaultEngine>,
    counters: Mutex<BTreeMap<String, u64>>,
    requests: Mutex<Vec<RecordedRequest>>,
    rng: Mutex<StdRng>,
    pub(crate) timings: Mutex<Timings>,
    seq: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) open: AtomicU64,
    pub(crate) stop: CancellationToken,
    /// `on_command` rules and the command log.
    pub(crate) rules: crate::rules::Rules,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn new(cfg: Config) -> Self {
        let rng = StdRng::seed_from_u64(cfg.seed);
        let mut state = State::default();
        let base = OffsetDateTime::from_unix_timestamp(1_704_110_400)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        for (i, (tag, fs)) in crate::images::preloaded().into_iter().enumerate() {
            let env: BTreeMap<String, String> = [
                ("PATH".to_string(), crate::state::DEFAULT_PATH.to_string()),
                ("HOME".to_string(), "/root".to_string()),
            ]
            .into_iter()
            .collect();
            let uuid = image_uuid_for(&fs, &env, "/");
            let id = state.add_image(ImageRec {
                uuid,
                fs: Arc::new(fs),
                env,
                cwd: "/".to_string(),
                created_at: base + time::Duration::days(i as i64),
                operation_uuid: None,
            });
            state.public_tags.insert(tag.to_string(), id);
        }
        Self {
            timings: Mutex::new(Timings::new(cfg.profile, cfg.latency, cfg.seed)),
            cfg,
            rules: Default::default(),
            state: Mutex::new(state),
            faults: Mutex::new(FaultEngine::default()),
            counters: Mutex::new(BTreeMap::new()),
            connections: AtomicU64::new(0),
            open: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            rng: Mutex::new(rng),
            seq: AtomicU64::new(1),
            stop: CancellationToken::new(),
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// The delays and timelines of operations (see [`crate::Profile`]).
    pub(crate) fn timings(&self) -> MutexGuard<'_, Timings> {
        lock(&self.timings)
    }

    /// A fresh UUID from the seeded generator.
    pub(crate) fn new_uuid(&self) -> Uuid {
        let mut b = [0u8; 16];
        lock(&self.rng).fill_bytes(&mut b);
        uuid::Builder::from_random_bytes(b).into_uuid()
    }

    /// A per-process seed derived from the server seed.
    pub(crate) fn next_seed(&self) -> u64 {
        self.cfg
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(self.seq.fetch_add(1, Ordering::Relaxed))
    }

    /// 403 unless the token has `perm`.
    pub(crate) fn require(&self, perm: &str) -> Result<(), Resp> {
        if self.has(perm) {
            Ok(())
        } else {
            Err(Resp::error(
                403,
                format!("the token lacks the `{perm}` permission; use a token that grants it"),
            ))
        }
    }

    pub(crate) fn has(&self, perm: &str) -> bool {
        self.cfg.permissions.get(perm).copied().unwrap_or(false)
    }
}

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
    /// [`DEFAULT_MAX_CONCURRENT_STREAMS`], 100, like real edges; over TLS and h2c). A client
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
    addr: SocketAddr,
    base_url: String,
    ca_pem: Option<String>,
    stop: CancellationToken,
    done: Mutex<Option<oneshot::Receiver<()>>>,
    thread: Option<std::thread::JoinHandle<()>>,
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

/// The per-request context handed to handlers.
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) query: Query,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) fault: Option<FaultRule>,
}

fn closed() -> BoxError {
    Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "contree-mock fault: connection closed",
    ))
}

fn check_auth(cfg: &Config, headers: &HeaderMap) -> Result<(), Resp> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match token {
        None => {
            return Err(Resp::error(
                401,
                "missing `Authorization: Bearer <token>` header",
            ));
        }
        Some(t) if t != cfg.token => {
            return Err(Resp::error(401, "the bearer token is invalid"));
        }
        Some(_) => {}
    }
    if let Some(project) = &cfg.project {
        match headers.get("project").and_then(|v| v.to_str().ok()) {
            None => return Err(Resp::error(401, "missing `Project` header")),
            Some(p) if p != project => {
                return Err(Resp::error(
                    403,
                    format!("the token has no access to project {p:?}"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn record(shared: &Shared, req: &Request<Incoming>, path: &str, op: Option<&str>) {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = if k == header::AUTHORIZATION {
                "Bearer <redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_string(), value)
        })
        .collect();
    lock(&shared.requests).push(RecordedRequest {
        method: req.method().clone(),
        path: path.to_string(),
        query: req.uri().query().map(str::to_string),
        headers,
        operation_id: op.map(str::to_string),
        version: req.version(),
    });
    if let Some(op) = op {
        *lock(&shared.counters).entry(op.to_string()).or_insert(0) += 1;
    }
}

async fn control(shared: &Arc<Shared>, method: &Method, path: &str, body: Incoming) -> Resp {
    match (method.clone(), path) {
        (Method::POST, "/_mock/faults") => {
            let bytes = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return Resp::error(400, format!("cannot read the body: {e}")),
            };
            match serde_json::from_slice::<FaultRule>(&bytes) {
                Ok(rule) => {
                    lock(&shared.faults).inject(rule);
                    Resp::json(201, json!({"injected": true}))
                }
                Err(e) => Resp::error(400, format!("invalid fault rule JSON: {e}")),
            }
        }
        (Method::DELETE, "/_mock/faults") => {
            lock(&shared.faults).clear();
            Resp::empty(204)
        }
        (Method::GET, "/_mock/counters") => Resp::json(200, json!(lock(&shared.counters).clone())),
        (Method::GET, "/_mock/connections") => Resp::json(
            200,
            json!({
                "accepted": shared.connections.load(Ordering::SeqCst),
                "open": shared.open.load(Ordering::SeqCst),
            }),
        ),
        (Method::GET, "/_mock/timings") => Resp::json(200, json!(shared.timings().all())),
        (Method::GET, p) if p.starts_with("/_mock/timings/") => {
            let id = &p["/_mock/timings/".len()..];
            match Uuid::parse_str(id)
                .ok()
                .and_then(|u| shared.timings().get(u))
            {
                Some(t) => Resp::json(200, json!(t)),
                None => Resp::error(
                    404,
                    format!("no operation {id:?} was recorded; list them at /_mock/timings"),
                ),
            }
        }
        _ => Resp::error(404, format!("no mock control endpoint {method} {path}")),
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, BoxError> {
    let method = req.method().clone();
    let full_path = req.uri().path().to_string();
    let gzip = accepts_gzip(req.headers());
    let head = method == Method::HEAD;
    if full_path.starts_with("/_mock/") {
        let resp = control(&shared, &method, &full_path, req.into_body()).await;
        return Ok(finalize(resp, false, head, None));
    }
    let below_prefix = full_path
        .strip_prefix(shared.cfg.prefix.as_str())
        .unwrap_or(&full_path)
        .to_string();
    let routed = below_prefix
        .strip_prefix("/v1")
        .filter(|rest| rest.starts_with('/'))
        .ok_or(NoRoute::NotFound)
        .and_then(|rest| route(&method, rest));
    let op_id = routed.as_ref().ok().map(|r| r.operation_id());
    record(&shared, &req, &full_path, op_id);
    let fault = lock(&shared.faults).take(&method, &below_prefix);
    if let Some(f) = &fault {
        if let Some(ms) = f.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if f.close == Some(CloseMode::BeforeResponse) {
            return Err(closed());
        }
        if let Some(code) = f.status {
            let mut resp = Resp::error(code, format!("contree-mock injected fault: HTTP {code}"));
            if let Some(s) = f.retry_after {
                resp = resp.retry_after(s);
            }
            return Ok(finalize(resp, gzip, head, Some(f)));
        }
    }
    let route = match routed {
        Ok(r) => r,
        Err(NoRoute::NotFound) => {
            let resp = Resp::error(404, format!("no such endpoint: {method} {full_path}"));
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
        Err(NoRoute::MethodNotAllowed) => {
            let rest = below_prefix.strip_prefix("/v1").unwrap_or_default();
            let allow = crate::router::allowed_methods(rest);
            let resp = Resp::error(
                405,
                format!("method {method} is not allowed on {full_path}; use {allow}"),
            )
            .header(header::ALLOW, allow);
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) if fault.as_ref().is_some_and(|f| f.corrupt_request_body) => {
            let mut v = b.to_bytes().to_vec();
            if let Some(first) = v.first_mut() {
                *first ^= 0xFF;
            }
            Bytes::from(v)
        }
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let resp = Resp::error(400, format!("cannot read the request body: {e}"));
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
    };
    if let Err(resp) = check_auth(&shared.cfg, &parts.headers) {
        return Ok(finalize(resp, gzip, head, fault.as_ref()));
    }
    let ctx = Ctx {
        shared: shared.clone(),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body,
        fault: fault.clone(),
    };
    let resp = crate::api::dispatch(&ctx, route).await;
    if fault
        .as_ref()
        .is_some_and(|f| f.close == Some(CloseMode::AfterProcessing))
    {
        return Err(closed());
    }
    Ok(finalize(resp, gzip, head, fault.as_ref()))
}
