//! The client: [`Contree`], its builder, and what it knows (`whoami`).

mod builder;
mod whoami;

pub use builder::ContreeBuilder;
#[cfg(feature = "blocking")]
pub(crate) use builder::builder_options;
pub use whoami::WhoAmI;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contree_proto::OperationMeta;
use contree_transport::{Body, RequestOptions, Transport};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::error::{Error, Result};
use crate::files::Files;
use crate::image::Images;

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
    pub(crate) transport: Transport,
    pub(crate) limiter: Option<Arc<Semaphore>>,
    pub(crate) config: Config,
    pub(crate) whoami: Mutex<Option<WhoAmI>>,
    pub(crate) base_url: Option<String>,
    pub(crate) lineage: Arc<dyn crate::lineage::LineageStore>,
    /// The environment the client was built with (the process one unless
    /// [`ContreeBuilder::env`] gave another); the defaults of the caches and stores read it.
    pub(crate) env: Arc<dyn contree_auth::Env>,
}

/// Client-wide defaults set on the [`ContreeBuilder`].
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub default_run_timeout: Duration,
    pub wait_margin: Duration,
    /// The overall deadline of event streams without a run to bound them.
    pub events_deadline: Option<Duration>,
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
    ///
    /// # Errors
    ///
    /// `Auth` when no token is found or `auth.ini` is malformed (the message lists every source
    /// tried); `Config` when the base URL is refused.
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
    ///
    /// # Errors
    ///
    /// The [errors of every call](crate#errors).
    pub async fn whoami(&self) -> Result<WhoAmI> {
        let w = crate::api::whoami(self).await?;
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

    /// The overall deadline of [`Operations::events`](crate::Operations::events) and of
    /// the events of re-attached runs (see
    /// [`ContreeBuilder::events_deadline`](crate::ContreeBuilder::events_deadline)).
    pub fn events_deadline(&self) -> Duration {
        let c = &self.inner.config;
        c.events_deadline
            .unwrap_or(c.default_run_timeout + c.wait_margin)
    }

    /// The SDK's configuration directory in the client's environment
    /// ([`contree_auth::default_config_dir`]): where the default layer, URL and sync caches
    /// live. `None` when `CONTREE_HOME`, `XDG_CONFIG_HOME` and `HOME` are all unset.
    pub(crate) fn config_dir(&self) -> Option<std::path::PathBuf> {
        contree_auth::default_config_dir(self.inner.env.as_ref())
    }

    /// A client of an unreachable loopback server built with `env`, for unit tests of what
    /// the client's environment decides.
    #[cfg(test)]
    pub(crate) fn offline_in(env: contree_auth::MapEnv) -> Self {
        Self::builder()
            .base_url("http://127.0.0.1:9")
            .token("t")
            .project("p")
            .env(Arc::new(env))
            .build()
            .expect("a client of a loopback URL with a token")
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

    /// Where this client records lineage (see [`lineage`](crate::lineage)).
    pub fn lineage_store(&self) -> &Arc<dyn crate::lineage::LineageStore> {
        &self.inner.lineage
    }

    pub(crate) fn transport(&self) -> &Transport {
        &self.inner.transport
    }
}
