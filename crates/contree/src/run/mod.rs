//! Runs: the [`Run`] builder and every way to execute it (await, stream, start, spawn).

mod fanout;
mod missing;
mod options;
mod output;
mod spec;
mod stream;
#[cfg(test)]
mod terminal_tests;
mod upload;

pub use fanout::{DEFAULT_FAN_OUT_CONCURRENCY, FanOut, FanOutResult, FanOutStream};
#[cfg(feature = "blocking")]
pub(crate) use options::run_options;
pub use output::{Resources, RunOutput};
pub(crate) use spec::Target;
pub use spec::{FileSource, FileSpec};
pub use stream::RunEvent;
pub(crate) use stream::{Finisher, run_events, terminal_operation};

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tracing::Instrument as _;

use contree_proto::types;

use crate::api;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::image::Image;
use crate::operations::RunHandle;
use crate::operations::wait;
use crate::process::Process;
use crate::session::Session;
use crate::util::BoxFuture;
use crate::util::BoxStream;
use spec::{RunSpec, Stdin};
use upload::prepare_files;

/// A command to run in a fresh VM from an image (or a session's current version).
///
/// Build it with [`Image::shell`]/[`Image::run`] or [`Session::shell`]/[`Session::run`],
/// set options, then `.await` it: that spawns the run, follows its event stream until
/// completion, and returns the [`RunOutput`]. The builder is `Clone` and reusable: await a
/// clone as many times as you like (each is a new run). A non-zero exit is not an error;
/// see [`RunOutput::check`].
///
/// Runs are kept by default (`disposable(false)`): every run yields an image version you
/// can chain from ([`RunOutput::kept_image`]). It is a new version when the run changed the
/// filesystem, environment or working directory; a run that changed nothing yields its
/// parent's UUID (the service's behaviour), so chaining from it is chaining from the parent.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use std::time::Duration;
/// let img = contree.images().use_tag("python:3.12-slim");
/// let out = img
///     .run("python3")
///     .args(["-c", "import sys; print(sys.stdin.read().upper())"])
///     .stdin("hello")
///     .env("PYTHONUNBUFFERED", "1")
///     .cwd("/work")
///     .file("/work/data.txt", b"payload".to_vec())
///     .timeout(Duration::from_secs(60))
///     .networking(false)
///     .await?
///     .check()?;
/// assert_eq!(out.stdout_str()?, "HELLO\n");
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use = "a Run does nothing until awaited"]
pub struct Run {
    client: Contree,
    target: Target,
    pub(crate) spec: RunSpec,
}

impl Run {
    pub(crate) fn new(client: Contree, target: Target, command: String, shell: bool) -> Self {
        Self {
            client,
            target,
            spec: RunSpec {
                command,
                shell,
                ..Default::default()
            },
        }
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.args.extend(args.into_iter().map(Into::into));
        self
    }
    /// Sets several environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let env = self.spec.env.get_or_insert_with(BTreeMap::new);
        for (k, v) in vars {
            env.insert(k.into(), v.into());
        }
        self
    }
    /// Feeds what this reader yields on stdin (read to the end when the run starts). A
    /// reader can be consumed once: awaiting a second clone of this run fails.
    pub fn stdin_reader(mut self, reader: impl AsyncRead + Send + Unpin + 'static) -> Self {
        self.spec.stdin = Some(Stdin::Reader(Arc::new(tokio::sync::Mutex::new(Some(
            Box::new(reader),
        )))));
        self
    }

    /// The server-side timeout this run will send.
    pub fn server_timeout(&self) -> Duration {
        self.spec
            .timeout
            .unwrap_or(self.client.inner.config.default_run_timeout)
    }

    /// How long the client will wait for the result: always longer than
    /// [`server_timeout`](Self::server_timeout).
    pub fn wait_deadline(&self) -> Duration {
        self.server_timeout()
            + self
                .client
                .inner
                .config
                .wait_margin
                .max(Duration::from_secs(1))
    }

    /// Runs from `image` (used by sessions with their current version; `advance` is then
    /// moved to the version the run made, even if a follow-up step fails).
    ///
    /// A plain function returning `execute_inner`'s future (not an `async fn` awaiting it):
    /// an `async fn` keeps its arguments in its own state next to the future they are moved
    /// into, so the run and its image would be held twice per run in flight.
    pub(crate) fn execute_on<'a>(
        self,
        image: Image,
        advance: Option<&'a Session>,
    ) -> impl Future<Output = Result<RunOutput>> + Send + 'a {
        let span = tracing::info_span!(
            "contree.run",
            image = %image,
            parent = image.id_str().unwrap_or(""),
            operation_id = tracing::field::Empty,
            result_image = tracing::field::Empty,
        );
        self.execute_inner(image, advance).instrument(span)
    }

    async fn execute_inner(self, image: Image, advance: Option<&Session>) -> Result<RunOutput> {
        // Each phase's future is boxed: a run spends nearly all its life waiting, and this
        // way only the (small) waiting future is held then, not space for the largest phase
        // (spawning, with the request's retry loop): what a fan-out pays per run in flight.
        let op_id = Box::pin(self.spawn_on(&image, false)).await?;
        // The operation is boxed too: this future's size is what every run in flight holds
        // in every phase, and the operation (with its result) is large.
        let op = Box::new(
            Box::pin(wait::wait_operation(
                &self.client,
                &op_id,
                self.wait_deadline(),
                true,
            ))
            .await?,
        );
        Box::pin(self.finish_on(&image, &op_id, &op, advance)).await
    }

    /// The client this run uses.
    pub(crate) fn client_ref(&self) -> &Contree {
        &self.client
    }

    /// The session this run advances, if it was built from one.
    pub(crate) fn session_target(&self) -> Option<Session> {
        match &self.target {
            Target::Session(s) => Some(s.clone()),
            Target::Image(_) => None,
        }
    }

    /// The image a run from an image target starts from (`None` for sessions).
    pub(crate) fn image_target(&self) -> Option<Image> {
        match &self.target {
            Target::Image(i) => Some(i.clone()),
            Target::Session(_) => None,
        }
    }

    /// Validates, uploads files and spawns the run from `image`; returns the operation id.
    /// With `keep_stdin_open`, stdin is sent with `close: false` (for interactive runs).
    pub(crate) async fn spawn_on(&self, image: &Image, keep_stdin_open: bool) -> Result<String> {
        let client = self.client.clone();
        let spec = &self.spec;
        if spec.shell && !spec.args.is_empty() {
            return Err(Error::invalid(
                "a shell run takes no arguments (the server ignores them); put them in the script, or use run() for an executable",
            ));
        }
        if spec.command.trim().is_empty() {
            return Err(Error::invalid("the command is empty"));
        }
        if let Some(cwd) = &spec.cwd
            && !cwd.is_empty()
            && !cwd.starts_with('/')
        {
            return Err(Error::invalid(format!(
                "cwd `{cwd}` must be an absolute path"
            )));
        }
        // The uploads (and the error path below) are boxed: their requests would otherwise
        // size this future, which every run holds while its spawn is in flight.
        let files = if spec.files.is_empty() {
            BTreeMap::new()
        } else {
            Box::pin(prepare_files(&client, &spec.files)).await?
        };
        let stdin = match &spec.stdin {
            None => None,
            Some(Stdin::Bytes(b)) => Some(b.to_vec()),
            Some(Stdin::File(p)) => {
                let data = tokio::fs::read(p)
                    .await
                    .map_err(|e| Error::io("reading stdin from", p.clone(), e))?;
                Some(data)
            }
            Some(Stdin::Reader(r)) => {
                let mut guard = r.lock().await;
                let mut reader = guard.take().ok_or_else(|| {
                    Error::invalid(
                        "this run's stdin reader was already consumed by an earlier await; give each run its own reader, or use stdin(bytes)",
                    )
                })?;
                let mut data = Vec::new();
                reader
                    .read_to_end(&mut data)
                    .await
                    .map_err(|e| Error::io("reading stdin from", "<reader>", e))?;
                Some(data)
            }
        };
        // Built by a plain function: the request body is not kept in this future next to
        // the call's (which holds it), where every run in flight would pay for it twice.
        let body = self.spawn_body(image, files, stdin, keep_stdin_open)?;
        let action = format!("starting `{}` on {image}", short(&spec.command));
        let op_id = match api::spawn(&client, body, &action).await {
            Ok(id) => id,
            Err(e) => return Err(Box::pin(missing::explain(image, e)).await),
        };
        tracing::Span::current().record("operation_id", op_id.as_str());
        tracing::debug!(operation_id = %op_id, "run spawned");
        Ok(op_id)
    }

    /// The `POST /instances` body of this run from `image`.
    fn spawn_body(
        &self,
        image: &Image,
        files: BTreeMap<String, types::InstanceFile>,
        stdin: Option<Vec<u8>>,
        keep_stdin_open: bool,
    ) -> Result<types::InstanceSpawnRequest> {
        let client = &self.client;
        let spec = &self.spec;
        let timeout = self.server_timeout();
        if let Some(who) = client.cached_whoami()
            && let Some(msg) = who.check_run_timeout(timeout)
        {
            tracing::warn!("{msg}");
        }
        // Stdin is closed after its bytes unless the run keeps it open for a `Process`.
        let stdin = match (stdin, keep_stdin_open) {
            (None, false) => None,
            (data, keep) => Some(types::ClosableStreamRepr::from_bytes(
                data.as_deref().unwrap_or_default(),
                !keep,
            )),
        };
        let spawn_ref = image.spawn_ref();
        let source: types::ImageSource = serde_json::from_value(serde_json::Value::String(
            spawn_ref.clone(),
        ))
        .map_err(|_| {
            Error::invalid(format!(
                "`{spawn_ref}` is neither an image UUID nor a tag; use images().use_tag() for tags"
            ))
        })?;
        let mut body = types::InstanceSpawnRequest::new(spec.command.as_str(), source);
        body.args = (!spec.args.is_empty()).then(|| spec.args.clone());
        body.shell = Some(spec.shell);
        if let Some(env) = &spec.env {
            body.env = contree_proto::Nullable::Value(env.clone());
        }
        body.cwd = spec.cwd.clone();
        body.uid = spec.uid.map(i64::from);
        body.gid = spec.gid.map(i64::from);
        body.hostname = spec.hostname.clone();
        body.stdin = stdin;
        body.timeout = Some(i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX));
        body.truncate_output_at = spec.truncate_output_at.map(to_i64);
        body.disposable = Some(spec.disposable);
        body.networking = spec.networking.map(|enabled| types::InstanceNetworking {
            enabled: Some(enabled),
        });
        body.resources_limits = spec
            .max_layer_bytes
            .map(|max| types::InstanceResourcesLimits {
                max_layer_bytes: Some(to_i64(max)),
            });
        body.preserve_env = spec.preserve_env.then_some(true);
        body.preserve_cwd = spec.preserve_cwd.then_some(true);
        body.files = (!files.is_empty()).then_some(files);
        Ok(body)
    }

    /// Turns the terminal operation `op` of this run into its [`RunOutput`] (tagging the
    /// result if asked), and moves `advance` to the version the run made: also when the
    /// follow-up tag request fails (the version exists either way), whose error is then
    /// returned.
    pub(crate) async fn finish_on(
        &self,
        image: &Image,
        op_id: &str,
        op: &types::OperationResponse,
        advance: Option<&Session>,
    ) -> Result<RunOutput> {
        let client = &self.client;
        let spec = &self.spec;
        if let Err(e) = wait::check_terminal(op, op_id) {
            return Err(missing::explain(image, e).await);
        }
        let mut out = RunOutput::from_operation(client, image, op_id, op, spec)?;
        if let Some(img) = &out.image {
            tracing::Span::current().record("result_image", img.id_str().unwrap_or(""));
            let parent = image.id_str().or(out.source_image.as_deref());
            crate::lineage::record_run(client, parent, img, op_id, &spec.command);
        }
        if let (Some(tag), Some(img)) = (&spec.tag, &out.image) {
            match img.tag_as(tag).await {
                Ok(tagged) => {
                    out.image = Some(Image {
                        parent: img.parent.clone(),
                        operation_id: img.operation_id.clone(),
                        ..tagged
                    });
                }
                Err(e) => {
                    if let Some(session) = advance {
                        session.advance(&out);
                    }
                    tracing::warn!(
                        operation_id = %op_id,
                        image = img.id_str().unwrap_or(""),
                        error = %e,
                        "the run made its image but tagging it failed; the session moved to it anyway"
                    );
                    return Err(e);
                }
            }
        }
        if let Some(session) = advance {
            session.advance(&out);
        }
        Ok(out)
    }
}

impl IntoFuture for Run {
    type Output = Result<RunOutput>;
    type IntoFuture = BoxFuture<Result<RunOutput>>;
    fn into_future(self) -> Self::IntoFuture {
        // One box holding the run's future itself, not a wrapper around it (which would
        // also keep the run and reserve room for the session path): what each awaited run
        // in flight costs.
        match self.target.clone() {
            Target::Image(image) => Box::pin(self.execute_on(image, None)),
            Target::Session(session) => Box::pin(async move { session.execute(self).await }),
        }
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(crate) fn short(s: &str) -> Cow<'_, str> {
    let first = s.lines().next().unwrap_or("");
    if first.len() > 60 || first.len() != s.len() {
        let mut end = first.len().min(60);
        while !first.is_char_boundary(end) {
            end -= 1;
        }
        Cow::Owned(format!("{}…", &first[..end]))
    } else {
        Cow::Borrowed(s)
    }
}

impl Run {
    /// Spawns the run and streams its live output: `Started`, then stdout/stderr chunks
    /// as they are produced (in order, exactly once, resuming across dropped
    /// connections), `Exit`, `Completion`, and finally the [`RunOutput`].
    ///
    /// Nothing happens until the stream is polled. On a session, the stream waits for the
    /// session's turn and advances it when the output arrives; dropping the stream early
    /// leaves the session where it was.
    ///
    /// The stream has an overall deadline, the run's [`wait_deadline`](Self::wait_deadline)
    /// (its server timeout plus the client's wait margin, counted from the spawn), like
    /// awaiting the run: past it, the stream ends with an error of kind
    /// [`Timeout`](crate::ErrorKind::Timeout) and the run keeps going on the server
    /// (re-attach with [`Operations::attach`](crate::Operations::attach), or cancel it).
    ///
    /// ```no_run
    /// # async fn demo(img: contree::Image) -> contree::Result<()> {
    /// use futures_util::StreamExt as _;
    /// let mut live = img.shell("for i in 1 2 3; do echo $i; sleep 1; done").stream();
    /// while let Some(ev) = live.next().await {
    ///     match ev? {
    ///         contree::RunEvent::Stdout(chunk) => print!("{}", String::from_utf8_lossy(&chunk)),
    ///         contree::RunEvent::Output(out) => println!("exit {}", out.exit_code()),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> BoxStream<RunEvent> {
        let fut = async move {
            let handle = self.start_inner(false).await?;
            Ok::<_, Error>(run_events(handle, None, true))
        };
        futures_util::stream::once(fut)
            .flat_map(|r| match r {
                Ok(s) => s,
                Err(e) => futures_util::stream::iter([Err(e)]).boxed(),
            })
            .boxed()
    }

    /// Spawns the run and returns at once with a detached [`RunHandle`]: its operation id,
    /// live [`events`](RunHandle::events), [`wait`](RunHandle::wait) and
    /// [`cancel`](RunHandle::cancel). Re-attach later from the id alone with
    /// [`Operations::attach`](crate::Operations::attach).
    ///
    /// On a session, the session is reserved until the handle's `wait` (or `events`
    /// output) completes, and advanced then.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a run that cannot be sent; `NotFound` when the image or tag does not
    /// exist; `Io` when a local file or stdin cannot be read; the [errors of every
    /// call](crate#errors).
    pub async fn start(self) -> Result<RunHandle> {
        self.start_inner(false).await
    }

    /// Spawns the run (`keep_stdin_open` for interactive processes) and returns its handle.
    pub(crate) async fn start_inner(self, keep_stdin_open: bool) -> Result<RunHandle> {
        let client = self.client_ref().clone();
        let session = self.session_target();
        let guard = match &session {
            Some(s) => Some(s.lock_runs().await),
            None => None,
        };
        let image = match (&session, self.image_target()) {
            (Some(s), _) => s.current(),
            (None, Some(i)) => i,
            (None, None) => return Err(Error::invalid("internal: a run without a target")),
        };
        let op_id = self.spawn_on(&image, keep_stdin_open).await?;
        let deadline = self.wait_deadline();
        Ok(RunHandle::new(
            client,
            op_id,
            Some(deadline),
            Finisher {
                run: Some(self),
                image: Some(image),
                session,
                guard,
            },
        ))
    }
}

impl Run {
    /// Spawns the run as an interactive process: stdin stays open
    /// (`stdin: {value: …, close: false}`) for [`ProcessStdin`](crate::ProcessStdin) writes, and stdout and
    /// stderr stream live. Stdin set on the builder is written first.
    ///
    /// On a session, the session is reserved until the run finishes, then advanced (even
    /// if the handle is dropped).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a run that cannot be sent; `NotFound` when the image or tag does not
    /// exist; `Io` when a local file or stdin cannot be read; the [errors of every
    /// call](crate#errors).
    pub async fn spawn(self) -> Result<Process> {
        let client = self.client_ref().clone();
        let handle = self.start_inner(true).await?;
        Ok(Process::start(
            client,
            handle.operation_id().to_string(),
            1,
            Some(handle),
        ))
    }
}
