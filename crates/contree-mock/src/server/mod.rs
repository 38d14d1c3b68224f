//! The server: configuration, builder, handle, accept loop and the per-request pipeline.

mod builder;
mod control;
mod pipeline;
mod running;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::Method;
use rand::rngs::StdRng;
use rand::{RngCore as _, SeedableRng as _};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::faults::FaultEngine;
use crate::profile::{Profile, Timings};
use crate::respond::Resp;
use crate::state::{ImageRec, State, image_uuid_for};

pub use builder::MockServerBuilder;
pub(crate) use pipeline::{Ctx, handle};
pub use running::MockServer;

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
            let env = crate::state::base_image_env();
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
