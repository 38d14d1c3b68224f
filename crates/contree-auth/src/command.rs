//! [`CommandProvider`]: a token printed by a command (e.g. `nebius iam get-access-token`),
//! cached for a lifetime and refreshed before it expires.

use std::fmt;
use std::future::Future;
use std::io::Read;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::credentials::{AuthKind, Credentials, SecretToken, Source};
use crate::error::{Error, Inner};
use crate::provider::ProvideCredentials;

/// A monotonic clock, injectable so tests can move time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Runs a command that prints a bearer token on stdout (surrounding whitespace is
/// trimmed) and caches it.
///
/// - [`provide_credentials`](ProvideCredentials::provide_credentials) returns the cached
///   token while it is younger than `lifetime - refresh_before`; after that it runs the
///   command again. If that run fails while the old token is still younger than
///   `lifetime`, the old token is returned (and a warning logged); once the lifetime is
///   over, the error is returned.
/// - [`refresh_credentials`](ProvideCredentials::refresh_credentials) (after a 401) always
///   runs the command, except when another caller refreshed it meanwhile.
/// - Concurrent callers share one run. The command runs on a helper thread, so no async
///   runtime is needed and none is blocked; [`CommandProvider::credentials_blocking`] is
///   the synchronous form.
/// - The program is run directly (no shell), with stdin closed, and killed after
///   `timeout`. Its stdout is never logged; a failure message carries the exit status and
///   the end of stderr.
///
/// ```no_run
/// use std::time::Duration;
/// use contree_auth::{CommandProvider, ProvideCredentials};
/// # async fn demo() -> Result<(), contree_auth::Error> {
/// let provider = CommandProvider::builder("nebius")
///     .args(["iam", "get-access-token"])
///     .project("project-e00example")
///     .lifetime(Duration::from_secs(3600))
///     .build();
/// let creds = provider.provide_credentials().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CommandProvider {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    program: String,
    args: Vec<String>,
    lifetime: Duration,
    refresh_before: Duration,
    timeout: Duration,
    project: Option<String>,
    base_url: Option<String>,
    kind: Option<AuthKind>,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    run_lock: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    cached: Option<(Credentials, Instant)>,
    generation: u64,
}

/// Builder for [`CommandProvider`].
#[derive(Debug)]
pub struct CommandProviderBuilder {
    program: String,
    args: Vec<String>,
    lifetime: Duration,
    refresh_before: Duration,
    timeout: Duration,
    project: Option<String>,
    base_url: Option<String>,
    kind: Option<AuthKind>,
    clock: Arc<dyn Clock>,
}

impl CommandProviderBuilder {
    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }
    /// How long a token is valid after the command printed it (default 15 minutes).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }
    /// How long before the end of the lifetime to fetch a new token (default 1 minute).
    pub fn refresh_before(mut self, margin: Duration) -> Self {
        self.refresh_before = margin;
        self
    }
    /// How long the command may run before it is killed (default 30 seconds).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
    /// The project id to send with the token.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }
    /// The base URL (default: the IAM endpoint).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// The auth kind (default IAM).
    pub fn kind(mut self, kind: AuthKind) -> Self {
        self.kind = Some(kind);
        self
    }
    /// The clock used for the cache lifetime (default [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Builds the provider; the command runs on first use.
    pub fn build(self) -> CommandProvider {
        CommandProvider {
            inner: Arc::new(Shared {
                program: self.program,
                args: self.args,
                lifetime: self.lifetime,
                refresh_before: self.refresh_before,
                timeout: self.timeout,
                project: self.project,
                base_url: self.base_url,
                kind: self.kind,
                clock: self.clock,
                state: Mutex::new(State::default()),
                run_lock: Mutex::new(()),
            }),
        }
    }
}

impl CommandProvider {
    /// Starts a builder for the given program (looked up on `PATH`).
    pub fn builder(program: impl Into<String>) -> CommandProviderBuilder {
        CommandProviderBuilder {
            program: program.into(),
            args: Vec::new(),
            lifetime: Duration::from_secs(15 * 60),
            refresh_before: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
            project: None,
            base_url: None,
            kind: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// The cached credentials or a fresh run of the command, synchronously.
    pub fn credentials_blocking(&self) -> Result<Credentials, Error> {
        match self.inner.fresh_cached() {
            Some(c) => Ok(c),
            None => self.inner.fetch(None),
        }
    }

    /// Runs the command again (unless another caller just did), synchronously.
    pub fn refresh_blocking(&self) -> Result<Credentials, Error> {
        let generation = self.inner.state().generation;
        self.inner.fetch(Some(generation))
    }

    async fn on_thread(&self, after_generation: Option<u64>) -> Result<Credentials, Error> {
        let shared = self.inner.clone();
        let (tx, rx) = oneshot();
        let spawned = std::thread::Builder::new()
            .name("contree-auth-command".into())
            .spawn(move || tx.send(shared.fetch(after_generation)));
        match spawned {
            Ok(_) => rx.await,
            // No thread available: run here rather than fail.
            Err(_) => self.inner.fetch(after_generation),
        }
    }
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh_cached(&self) -> Option<Credentials> {
        let now = self.clock.now();
        let keep = self.lifetime.saturating_sub(self.refresh_before);
        let st = self.state();
        match &st.cached {
            Some((c, at)) if now.saturating_duration_since(*at) < keep => Some(c.clone()),
            _ => None,
        }
    }

    /// Runs the command unless the cache became fresh (`after_generation: None`) or was
    /// renewed after `after_generation` while waiting for the run lock.
    fn fetch(&self, after_generation: Option<u64>) -> Result<Credentials, Error> {
        let _run = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        match after_generation {
            None => {
                if let Some(c) = self.fresh_cached() {
                    return Ok(c);
                }
            }
            Some(g) => {
                let st = self.state();
                if st.generation > g
                    && let Some((c, _)) = &st.cached
                {
                    return Ok(c.clone());
                }
            }
        }
        match self.run().and_then(|token| self.credentials(token)) {
            Ok(creds) => {
                let now = self.clock.now();
                let mut st = self.state();
                st.cached = Some((creds.clone(), now));
                st.generation += 1;
                Ok(creds)
            }
            Err(e) => {
                let now = self.clock.now();
                let st = self.state();
                if after_generation.is_none()
                    && let Some((c, at)) = &st.cached
                    && now.saturating_duration_since(*at) < self.lifetime
                {
                    tracing::warn!(
                        program = %self.program,
                        error = %e,
                        "refreshing the token failed; using the cached one until it expires"
                    );
                    return Ok(c.clone());
                }
                Err(e)
            }
        }
    }

    fn credentials(&self, token: SecretToken) -> Result<Credentials, Error> {
        let mut b = Credentials::builder(token).token_source(Source::Command(self.program.clone()));
        if let Some(p) = &self.project {
            b = b.project(p.clone());
        }
        if let Some(u) = &self.base_url {
            b = b.base_url(u.clone());
        }
        if let Some(k) = self.kind {
            b = b.kind(k);
        }
        b.build()
    }

    fn run(&self) -> Result<SecretToken, Error> {
        tracing::debug!(program = %self.program, "running the credentials command");
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| {
                Error::from(Inner::CommandSpawn {
                    program: self.program.clone(),
                    source,
                })
            })?;
        let stdout = child.stdout.take().map(reader_thread);
        let stderr = child.stderr.take().map(reader_thread);
        let started = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() >= self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // The reader threads end when the pipes close; they are not joined, as
                    // a grandchild may keep a pipe open.
                    return Err(Inner::CommandTimeout {
                        program: self.program.clone(),
                        secs: self.timeout.as_secs(),
                    }
                    .into());
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(source) => {
                    let _ = child.kill();
                    return Err(Inner::CommandSpawn {
                        program: self.program.clone(),
                        source,
                    }
                    .into());
                }
            }
        };
        let out = stdout.and_then(|h| h.join().ok()).unwrap_or_default();
        let err = stderr.and_then(|h| h.join().ok()).unwrap_or_default();
        if !status.success() {
            let err = String::from_utf8_lossy(&err);
            let err = err.trim();
            let tail: String = {
                let chars: Vec<char> = err.chars().collect();
                let start = chars.len().saturating_sub(300);
                chars[start..].iter().collect()
            };
            return Err(Inner::CommandFailed {
                program: self.program.clone(),
                status: status.to_string(),
                stderr: if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                },
            }
            .into());
        }
        let token = String::from_utf8(out).unwrap_or_default();
        let token = token.trim();
        if token.is_empty() {
            return Err(Inner::CommandEmpty {
                program: self.program.clone(),
            }
            .into());
        }
        Ok(SecretToken::new(token))
    }
}

fn reader_thread<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

#[async_trait]
impl ProvideCredentials for CommandProvider {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        if let Some(c) = self.inner.fresh_cached() {
            return Ok(c);
        }
        self.on_thread(None).await
    }

    async fn refresh_credentials(&self) -> Result<Credentials, Error> {
        let generation = self.inner.state().generation;
        self.on_thread(Some(generation)).await
    }
}

// A minimal runtime-agnostic one-shot channel.

type Slot = Arc<Mutex<(Option<Result<Credentials, Error>>, Option<Waker>)>>;

struct Sender {
    slot: Slot,
    sent: bool,
}

struct Receiver {
    slot: Slot,
}

fn oneshot() -> (Sender, Receiver) {
    let slot: Slot = Arc::new(Mutex::new((None, None)));
    (
        Sender {
            slot: slot.clone(),
            sent: false,
        },
        Receiver { slot },
    )
}

impl Sender {
    fn send(mut self, value: Result<Credentials, Error>) {
        self.deliver(value);
    }

    fn deliver(&mut self, value: Result<Credentials, Error>) {
        self.sent = true;
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.0 = Some(value);
            slot.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        if !self.sent {
            // The worker thread died before answering.
            self.deliver(Err(Inner::CommandFailed {
                program: "credentials command".into(),
                status: "worker thread ended unexpectedly".into(),
                stderr: String::new(),
            }
            .into()));
        }
    }
}

impl Future for Receiver {
    type Output = Result<Credentials, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        match slot.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                slot.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
