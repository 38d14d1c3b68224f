//! Runs: the [`Run`] builder and its [`RunOutput`].

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::IntoFuture;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt as _};
use tracing::Instrument as _;

use crate::client::{Contree, Query, json_request};
use crate::error::{Error, Inner, Result};
use crate::files::{UploadSource, UploadedFile};
use crate::images::{BoxFuture, Image, ImageRef};
use crate::session::Session;
use crate::wait;
use crate::wire;

/// Where a run starts.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Image(Image),
    Session(Session),
}

/// A shared, take-once async reader (readers cannot be cloned or replayed).
type SharedReader = Arc<tokio::sync::Mutex<Option<Box<dyn AsyncRead + Send + Unpin>>>>;

/// What a run reads on stdin.
#[derive(Clone)]
enum Stdin {
    Bytes(Bytes),
    File(PathBuf),
    Reader(SharedReader),
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stdin::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Stdin::File(p) => write!(f, "File({})", p.display()),
            Stdin::Reader(_) => f.write_str("Reader"),
        }
    }
}

/// Where the content of a placed file comes from.
#[derive(Clone, Debug)]
pub enum FileSource {
    /// A local file, uploaded (once per content) before the run.
    Path(PathBuf),
    /// In-memory bytes, uploaded (once per content) before the run.
    Bytes(Bytes),
    /// A file already uploaded with [`Files::upload`](crate::Files::upload).
    Uploaded(UploadedFile),
}

impl From<PathBuf> for FileSource {
    fn from(p: PathBuf) -> Self {
        FileSource::Path(p)
    }
}
impl From<&std::path::Path> for FileSource {
    fn from(p: &std::path::Path) -> Self {
        FileSource::Path(p.to_path_buf())
    }
}
impl From<Bytes> for FileSource {
    fn from(b: Bytes) -> Self {
        FileSource::Bytes(b)
    }
}
impl From<Vec<u8>> for FileSource {
    fn from(b: Vec<u8>) -> Self {
        FileSource::Bytes(Bytes::from(b))
    }
}
impl From<&'static [u8]> for FileSource {
    fn from(b: &'static [u8]) -> Self {
        FileSource::Bytes(Bytes::from_static(b))
    }
}
impl From<UploadedFile> for FileSource {
    fn from(f: UploadedFile) -> Self {
        FileSource::Uploaded(f)
    }
}

/// A file to place in the VM before the command runs.
///
/// ```
/// use contree::FileSpec;
/// let spec = FileSpec::new("/usr/local/bin/tool", std::path::PathBuf::from("target/tool"))
///     .mode(0o755)
///     .owner(1000, 1000);
/// assert_eq!(spec.dest(), "/usr/local/bin/tool");
/// ```
#[derive(Clone, Debug)]
pub struct FileSpec {
    dest: String,
    source: FileSource,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl FileSpec {
    /// A file at absolute path `dest` with mode `0644`, owned by root.
    pub fn new(dest: impl Into<String>, source: impl Into<FileSource>) -> Self {
        Self {
            dest: dest.into(),
            source: source.into(),
            mode: 0o644,
            uid: 0,
            gid: 0,
        }
    }
    /// Permission bits, e.g. `0o755`.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
    /// Owner uid and gid.
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    /// The destination path.
    pub fn dest(&self) -> &str {
        &self.dest
    }
}

#[derive(Clone, Debug, Default)]
struct RunSpec {
    command: String,
    shell: bool,
    args: Vec<String>,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    hostname: Option<String>,
    stdin: Option<Stdin>,
    files: Vec<FileSpec>,
    timeout: Option<Duration>,
    disposable: bool,
    truncate_output_at: Option<u64>,
    networking: Option<bool>,
    max_layer_bytes: Option<u64>,
    preserve_env: bool,
    preserve_cwd: bool,
    tag: Option<String>,
}

/// A command to run in a fresh VM from an image (or a session's current version).
///
/// Build it with [`Image::shell`]/[`Image::run`] or [`Session::shell`]/[`Session::run`],
/// set options, then `.await` it: that spawns the run, follows its event stream until
/// completion, and returns the [`RunOutput`]. The builder is `Clone` and reusable: await a
/// clone as many times as you like (each is a new run). A non-zero exit is not an error;
/// see [`RunOutput::check`].
///
/// Runs are kept by default (`disposable(false)`): every run yields a new image version
/// you can chain from.
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
    spec: RunSpec,
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

    /// Adds one argument (for [`Image::run`]; a shell script takes none).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.spec.args.push(arg.into());
        self
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
    /// Sets an environment variable (merged with the image's env for shell runs).
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec
            .env
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
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
    /// Working directory (absolute; created if missing).
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.spec.cwd = Some(cwd.into());
        self
    }
    /// Runs as this uid.
    pub fn uid(mut self, uid: u32) -> Self {
        self.spec.uid = Some(uid);
        self
    }
    /// Runs with this gid.
    pub fn gid(mut self, gid: u32) -> Self {
        self.spec.gid = Some(gid);
        self
    }
    /// The VM's hostname.
    pub fn hostname(mut self, hostname: impl Into<String>) -> Self {
        self.spec.hostname = Some(hostname.into());
        self
    }
    /// Feeds these bytes (or this text) on stdin. Each await of a clone sends them again.
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.spec.stdin = Some(Stdin::Bytes(Bytes::copy_from_slice(data.as_ref())));
        self
    }
    /// Feeds the content of a local file on stdin (read when the run starts).
    pub fn stdin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.spec.stdin = Some(Stdin::File(path.into()));
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
    /// Places a file (mode `0644`, owned by root) at absolute path `dest` before running.
    pub fn file(self, dest: impl Into<String>, source: impl Into<FileSource>) -> Self {
        self.file_spec(FileSpec::new(dest, source))
    }
    /// Places a file with explicit mode and owner.
    pub fn file_spec(mut self, spec: FileSpec) -> Self {
        self.spec.files.push(spec);
        self
    }
    /// Server-side time limit of the command (default: the client's default run timeout).
    /// The client waits this plus its wait margin, so it never gives up before the server.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.spec.timeout = Some(timeout);
        self
    }
    /// Whether to discard the result (default `false`: every run yields a new image).
    pub fn disposable(mut self, disposable: bool) -> Self {
        self.spec.disposable = disposable;
        self
    }
    /// Caps captured stdout and stderr at this many bytes each (server default 1 MiB,
    /// max 10 MiB); see [`RunOutput::stdout_truncated`].
    pub fn truncate_output_at(mut self, bytes: u64) -> Self {
        self.spec.truncate_output_at = Some(bytes);
        self
    }
    /// Network access on or off (server default: on).
    pub fn networking(mut self, enabled: bool) -> Self {
        self.spec.networking = Some(enabled);
        self
    }
    /// Largest image layer the run may write, in bytes.
    pub fn max_layer_bytes(mut self, bytes: u64) -> Self {
        self.spec.max_layer_bytes = Some(bytes);
        self
    }
    /// Saves the merged environment into the resulting image.
    pub fn preserve_env(mut self, preserve: bool) -> Self {
        self.spec.preserve_env = preserve;
        self
    }
    /// Saves the working directory as the resulting image's default.
    pub fn preserve_cwd(mut self, preserve: bool) -> Self {
        self.spec.preserve_cwd = preserve;
        self
    }
    /// Tags the resulting image.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.spec.tag = Some(tag.into());
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

    async fn execute(self) -> Result<RunOutput> {
        match self.target.clone() {
            Target::Image(image) => self.execute_on(image).await,
            Target::Session(session) => session.execute(self).await,
        }
    }

    /// Runs from `image` (used by sessions with their current version).
    pub(crate) async fn execute_on(self, image: Image) -> Result<RunOutput> {
        let span = tracing::info_span!(
            "contree.run",
            image = %image,
            parent = image.uuid().unwrap_or(""),
            operation_id = tracing::field::Empty,
            result_image = tracing::field::Empty,
        );
        self.execute_inner(image).instrument(span).await
    }

    async fn execute_inner(self, image: Image) -> Result<RunOutput> {
        // Each phase's future is boxed: a run spends nearly all its life waiting, and this
        // way only the (small) waiting future is held then, not space for the largest phase
        // (spawning, with the request's retry loop): what a fan-out pays per run in flight.
        let op_id = Box::pin(self.spawn_on(&image, false)).await?;
        let op = Box::pin(wait::wait_operation(
            &self.client,
            &op_id,
            self.wait_deadline(),
            true,
        ))
        .await?;
        Box::pin(self.finish_on(&image, &op_id, &op)).await
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
        let files = prepare_files(&client, &spec.files).await?;
        let stdin = match &spec.stdin {
            None => None,
            Some(Stdin::Bytes(b)) => Some(wire::WireStdin::encode(b)),
            Some(Stdin::File(p)) => {
                let data = tokio::fs::read(p)
                    .await
                    .map_err(|e| Error::io("reading stdin from", p.clone(), e))?;
                Some(wire::WireStdin::encode(&data))
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
                Some(wire::WireStdin::encode(&data))
            }
        };
        let timeout = self.server_timeout();
        if let Some(who) = client.cached_whoami()
            && let Some(msg) = who.check_run_timeout(timeout)
        {
            tracing::warn!("{msg}");
        }
        let stdin = if keep_stdin_open {
            let mut w = stdin.unwrap_or_else(|| wire::WireStdin::encode(b""));
            w.close = false;
            Some(w)
        } else {
            stdin
        };
        let body = wire::WireSpawn {
            command: spec.command.clone(),
            image: image.spawn_ref(),
            args: spec.args.clone(),
            shell: spec.shell,
            env: spec.env.clone(),
            cwd: spec.cwd.clone(),
            uid: spec.uid,
            gid: spec.gid,
            hostname: spec.hostname.clone(),
            stdin,
            timeout: timeout.as_secs().max(1),
            truncate_output_at: spec.truncate_output_at,
            disposable: spec.disposable,
            networking: spec.networking.map(|enabled| wire::WireEnabled { enabled }),
            resources_limits: spec
                .max_layer_bytes
                .map(|max_layer_bytes| wire::WireLimits { max_layer_bytes }),
            preserve_env: spec.preserve_env,
            preserve_cwd: spec.preserve_cwd,
            files,
        };
        let req = json_request(
            http::Method::POST,
            "/instances".into(),
            &Query::new(),
            &body,
        )?;
        let action = format!("starting `{}` on {image}", short(&spec.command));
        let resp = client
            .send(&contree_proto::ops::SPAWN_INSTANCE, req, &action)
            .await?;
        let spawned: wire::WireUuid = wire::decode(&action, resp.body())?;
        let op_id = spawned
            .uuid
            .ok_or_else(|| Error::decode(&action, "no operation uuid in the answer"))?;
        tracing::Span::current().record("operation_id", op_id.as_str());
        tracing::debug!(operation_id = %op_id, "run spawned");
        Ok(op_id)
    }

    /// Turns the terminal operation `op` of this run into its [`RunOutput`] (tagging the
    /// result if asked).
    pub(crate) async fn finish_on(
        &self,
        image: &Image,
        op_id: &str,
        op: &wire::WireOperation,
    ) -> Result<RunOutput> {
        let client = &self.client;
        let spec = &self.spec;
        wait::check_terminal(op, op_id)?;
        let mut out = RunOutput::from_operation(client, image, op_id, op, spec)?;
        if let Some(img) = &out.image {
            tracing::Span::current().record("result_image", img.uuid().unwrap_or(""));
        }
        if let (Some(tag), Some(img)) = (&spec.tag, &out.image) {
            let tagged = img.tag_as(tag).await?;
            out.image = Some(Image {
                parent: img.parent.clone(),
                operation_id: img.operation_id.clone(),
                ..tagged
            });
        }
        Ok(out)
    }
}

impl IntoFuture for Run {
    type Output = Result<RunOutput>;
    type IntoFuture = BoxFuture<Result<RunOutput>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

fn short(s: &str) -> Cow<'_, str> {
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

/// Uploads every distinct content once (bounded concurrency) and builds the spawn map.
async fn prepare_files(
    client: &Contree,
    files: &[FileSpec],
) -> Result<BTreeMap<String, wire::WireSpawnFile>> {
    let mut seen = std::collections::HashSet::new();
    for f in files {
        if !f.dest.starts_with('/') {
            return Err(Error::invalid(format!(
                "file destination `{}` must be an absolute path",
                f.dest
            )));
        }
        if !seen.insert(f.dest.clone()) {
            return Err(Error::invalid(format!(
                "file destination `{}` is given twice",
                f.dest
            )));
        }
        if f.mode > 0o7777 {
            return Err(Error::invalid(format!(
                "file mode {:o} for `{}` has bits beyond 07777",
                f.mode, f.dest
            )));
        }
    }
    // Hash first (cheap, local), so equal contents upload once.
    let mut by_key: HashMap<String, UploadedFile> = HashMap::new();
    let mut keyed: Vec<(usize, String)> = Vec::new();
    let mut jobs: Vec<(String, UploadSource)> = Vec::new();
    for (i, f) in files.iter().enumerate() {
        match &f.source {
            FileSource::Uploaded(u) => {
                by_key.insert(format!("u:{i}"), u.clone());
                keyed.push((i, format!("u:{i}")));
            }
            FileSource::Bytes(b) => {
                let sha = crate::files::sha256_hex(b);
                if !jobs.iter().any(|(k, _)| *k == sha) {
                    jobs.push((sha.clone(), UploadSource::Bytes(b.clone())));
                }
                keyed.push((i, sha));
            }
            FileSource::Path(p) => {
                let sha = crate::files::sha256_file(p).await?;
                if !jobs.iter().any(|(k, _)| *k == sha) {
                    jobs.push((sha.clone(), UploadSource::Path(p.clone())));
                }
                keyed.push((i, sha));
            }
        }
    }
    let limit = client.inner.config.upload_concurrency;
    let results: Vec<Result<(String, UploadedFile)>> = futures_util::stream::iter(jobs)
        .map(|(sha, src)| {
            let files = client.files();
            async move {
                let up = files.upload(src).known_sha256(sha.clone()).await?;
                Ok((sha, up))
            }
        })
        .buffer_unordered(limit)
        .collect()
        .await;
    for r in results {
        let (k, v) = r?;
        by_key.insert(k, v);
    }
    let mut out = BTreeMap::new();
    for (i, key) in keyed {
        let f = &files[i];
        let up = by_key
            .get(&key)
            .ok_or_else(|| Error::invalid("internal: an upload result is missing"))?;
        out.insert(
            f.dest.clone(),
            wire::WireSpawnFile {
                uuid: up.uuid().to_string(),
                mode: format!("{:04o}", f.mode),
                uid: f.uid,
                gid: f.gid,
            },
        );
    }
    Ok(out)
}

/// CPU, memory and cost figures of a run, as far as the server reported them.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Resources {
    /// Wall time of the process.
    pub elapsed: Option<Duration>,
    /// User CPU time.
    pub user_cpu: Option<Duration>,
    /// System CPU time.
    pub system_cpu: Option<Duration>,
    /// Peak resident memory in KiB.
    pub max_rss_kb: Option<i64>,
    /// The run's cost as the server computes it.
    pub cost: Option<f64>,
    /// Bytes written to the resulting image layer.
    pub image_size: Option<i64>,
    /// CPU seconds consumed (operation level).
    pub consumed_cpu: Option<f64>,
    /// Peak memory (operation level, KiB).
    pub consumed_memory: Option<i64>,
}

fn secs(f: Option<f64>) -> Option<Duration> {
    f.filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The result of a finished run: exit status, captured output, resources, and the new
/// image version (unless the run was disposable).
///
/// A non-zero exit code is data, not an error; [`check`](RunOutput::check) turns it into one.
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let out = img.shell("ls /nope; echo done").await?;
/// println!("exit={} stdout={} stderr={}", out.exit_code(), out.stdout_lossy(), out.stderr_lossy());
/// if let Some(next) = out.image() {
///     next.shell("echo chained").await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RunOutput {
    operation_id: String,
    command: String,
    exit_code: i32,
    signal: Option<i32>,
    timed_out: bool,
    stdout: Bytes,
    stderr: Bytes,
    stdout_truncated: bool,
    stderr_truncated: bool,
    duration: Option<Duration>,
    resources: Resources,
    image: Option<Image>,
    source_image: Option<String>,
}

impl fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOutput")
            .field("operation_id", &self.operation_id)
            .field("exit_code", &self.exit_code)
            .field("signal", &self.signal)
            .field("timed_out", &self.timed_out)
            .field("stdout", &self.stdout_lossy())
            .field("stderr", &self.stderr_lossy())
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

impl RunOutput {
    fn from_operation(
        client: &Contree,
        source: &Image,
        op_id: &str,
        op: &wire::WireOperation,
        spec: &RunSpec,
    ) -> Result<Self> {
        let md = op.instance_metadata()?.unwrap_or_default();
        let res = md.result.unwrap_or_default();
        let state = res.state.unwrap_or_default();
        let r = res.resources.unwrap_or_default();
        let stdout = res.stdout.unwrap_or_default();
        let stderr = res.stderr.unwrap_or_default();
        let signal = state
            .signal
            .filter(|s| *s > 0)
            .and_then(|s| i32::try_from(s).ok());
        let exit_code = state
            .exit_code
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(-1);
        let source_uuid = op
            .image_uuid
            .clone()
            .or(md.image.filter(|i| !i.starts_with("tag:")))
            .or_else(|| source.uuid().map(str::to_string));
        let image = if spec.disposable {
            None
        } else {
            op.result_image().map(|uuid| Image {
                client: client.clone(),
                reference: ImageRef::Uuid(uuid),
                tag: op.result.as_ref().and_then(|r| r.tag.clone()),
                created_at: None,
                parent: source_uuid.clone(),
                operation_id: Some(op_id.to_string()),
            })
        };
        Ok(RunOutput {
            operation_id: op_id.to_string(),
            command: spec.command.clone(),
            exit_code,
            signal,
            timed_out: state.timed_out.unwrap_or(false),
            stdout_truncated: stdout.truncated.unwrap_or(false),
            stderr_truncated: stderr.truncated.unwrap_or(false),
            stdout: stdout.bytes(),
            stderr: stderr.bytes(),
            duration: secs(op.duration).or_else(|| secs(r.elapsed_time)),
            resources: Resources {
                elapsed: secs(r.elapsed_time),
                user_cpu: secs(r.user_cpu_time),
                system_cpu: secs(r.system_cpu_time),
                max_rss_kb: r.max_rss,
                cost: r.cost,
                image_size: op.image_size,
                consumed_cpu: op.consumed_cpu,
                consumed_memory: op.consumed_memory,
            },
            image,
            source_image: source_uuid,
        })
    }

    /// The output of an operation known only by its id (a re-attached run): the command,
    /// source image and disposability come from the operation's metadata.
    pub(crate) fn from_bare_operation(
        client: &Contree,
        op_id: &str,
        op: &wire::WireOperation,
    ) -> Result<Self> {
        let md = op.instance_metadata()?.unwrap_or_default();
        let spec = RunSpec {
            command: md.command.clone().unwrap_or_default(),
            disposable: md.disposable.unwrap_or(false),
            ..Default::default()
        };
        let source = op.image_uuid.clone().or(md.image).unwrap_or_default();
        let source = Image::from_ref(client.clone(), ImageRef::Uuid(source));
        Self::from_operation(client, &source, op_id, op, &spec)
    }

    /// The operation that ran the command.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }
    /// The exit code: `0..=255`, or `-1` when killed by a signal (see [`signal`](Self::signal)).
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }
    /// Whether the command exited 0 (not killed, not timed out).
    pub fn success(&self) -> bool {
        self.exit_code == 0 && self.signal.is_none() && !self.timed_out
    }
    /// The signal that killed the command, if any.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }
    /// Whether the server-side timeout killed the command.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
    /// Captured stdout, as bytes (binary-safe).
    pub fn stdout(&self) -> &Bytes {
        &self.stdout
    }
    /// Captured stderr, as bytes (binary-safe).
    pub fn stderr(&self) -> &Bytes {
        &self.stderr
    }
    /// Stdout as text, with invalid UTF-8 replaced by `�`.
    pub fn stdout_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }
    /// Stderr as text, with invalid UTF-8 replaced by `�`.
    pub fn stderr_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
    /// Stdout as text; an error (kind [`Utf8`](crate::ErrorKind::Utf8)) if not UTF-8.
    pub fn stdout_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.stdout).map_err(|source| {
            Error::new(Inner::Utf8 {
                stream: "stdout",
                source,
            })
        })
    }
    /// Stderr as text; an error (kind [`Utf8`](crate::ErrorKind::Utf8)) if not UTF-8.
    pub fn stderr_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.stderr).map_err(|source| {
            Error::new(Inner::Utf8 {
                stream: "stderr",
                source,
            })
        })
    }
    /// Whether stdout was cut at `truncate_output_at`.
    pub fn stdout_truncated(&self) -> bool {
        self.stdout_truncated
    }
    /// Whether stderr was cut at `truncate_output_at`.
    pub fn stderr_truncated(&self) -> bool {
        self.stderr_truncated
    }
    /// How long the operation took, if reported.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }
    /// Resource usage and cost.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }
    /// The new image version (`None` for disposable runs).
    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }
    /// Takes the new image version out of the output.
    pub fn into_image(self) -> Option<Image> {
        self.image
    }
    /// The image the run started from (its UUID), if known.
    pub fn source_image(&self) -> Option<&str> {
        self.source_image.as_deref()
    }

    /// `Ok(self)` if the command exited 0, else an error of kind
    /// [`NonZeroExit`](crate::ErrorKind::NonZeroExit) carrying the exit code and the end
    /// of stderr.
    pub fn check(self) -> Result<Self> {
        if self.success() {
            return Ok(self);
        }
        let status = if self.timed_out {
            "timed out".to_string()
        } else if let Some(sig) = self.signal {
            format!("was killed by signal {sig}")
        } else {
            format!("exited with code {}", self.exit_code)
        };
        let err = self.stderr_lossy();
        let tail: String = {
            let t = err.trim_end();
            let start = t.len().saturating_sub(400);
            let mut s = start;
            while !t.is_char_boundary(s) {
                s += 1;
            }
            if t.is_empty() {
                String::new()
            } else {
                format!("; stderr: {}", &t[s..])
            }
        };
        Err(Error::new(Inner::NonZeroExit {
            operation_id: self.operation_id.clone(),
            command: short(&self.command).into_owned(),
            status,
            exit_code: self.exit_code,
            stderr_tail: tail,
        }))
    }
}
