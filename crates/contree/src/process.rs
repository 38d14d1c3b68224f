//! Interactive processes: [`Run::spawn`] and [`Exec`] (subprocesses inside a running VM).

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{mpsc, watch};

use crate::client::{Contree, Query, json_request, request, seg};
use crate::error::{Error, Inner, Result};
use crate::images::BoxFuture;
use crate::operations::RunHandle;
use crate::run::{Run, RunOutput};
use crate::stream::{EventKind, ExitStatus, Follow, follow_events};
use crate::wire;

/// A signal for [`Process::kill`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGHUP (1).
    Hup,
    /// SIGINT (2), like Ctrl-C.
    Int,
    /// SIGQUIT (3).
    Quit,
    /// SIGKILL (9), the server's default.
    Kill,
    /// SIGUSR1 (10).
    Usr1,
    /// SIGUSR2 (12).
    Usr2,
    /// SIGTERM (15), a polite stop.
    Term,
    /// Any signal by number.
    Number(i32),
}

impl Signal {
    fn wire(&self) -> String {
        match self {
            Signal::Hup => "HUP".into(),
            Signal::Int => "INT".into(),
            Signal::Quit => "QUIT".into(),
            Signal::Kill => "KILL".into(),
            Signal::Usr1 => "USR1".into(),
            Signal::Usr2 => "USR2".into(),
            Signal::Term => "TERM".into(),
            Signal::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct ProcState {
    /// The server has an event for this spid: the process exists and takes stdin.
    registered: bool,
    exit: Option<ExitStatus>,
    /// Why following the process failed.
    error: Option<String>,
    /// The pump stopped.
    done: bool,
}

/// A process started with [`Run::spawn`] (spid 1, the run's main process) or
/// [`Exec::spawn`] (spid 2+, a subprocess in a running VM): stdin, stdout and stderr
/// streamed live, [`kill`](Process::kill) and [`wait`](Process::wait).
///
/// Stdin is written only once the server has registered the process (its first event),
/// as an earlier write would be refused. The process keeps running if the handle is
/// dropped; dropping it stops reading its output.
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> Result<(), Box<dyn std::error::Error>> {
/// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
/// let mut cat = img.run("cat").spawn().await?;
/// let mut stdin = cat.take_stdin().expect("stdin");
/// stdin.write_all(b"hello\n").await?;
/// stdin.shutdown().await?; // closes stdin (EOF)
/// let mut out = String::new();
/// cat.take_stdout().expect("stdout").read_to_string(&mut out).await?;
/// assert_eq!(out, "hello\n");
/// assert!(cat.wait().await?.success());
/// # Ok(()) }
/// ```
pub struct Process {
    client: Contree,
    op_id: String,
    spid: u64,
    stdin: Option<ProcessStdin>,
    stdout: Option<OutputReader>,
    stderr: Option<OutputReader>,
    state: watch::Receiver<ProcState>,
    run: Option<RunHandle>,
    pump: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("operation_id", &self.op_id)
            .field("spid", &self.spid)
            .finish_non_exhaustive()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A spawned run keeps following its operation so its session can advance.
        if self.run.is_none() {
            self.pump.abort();
        }
    }
}

impl Process {
    fn start(client: Contree, op_id: String, spid: u64, run: Option<RunHandle>) -> Process {
        let (state_tx, state_rx) = watch::channel(ProcState::default());
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (err_tx, err_rx) = mpsc::unbounded_channel();
        let pump = tokio::spawn(pump(
            client.clone(),
            op_id.clone(),
            spid,
            run.clone(),
            state_tx,
            out_tx,
            err_tx,
        ));
        Process {
            stdin: Some(ProcessStdin {
                client: client.clone(),
                op_id: op_id.clone(),
                spid,
                state: state_rx.clone(),
                inflight: std::sync::Mutex::new(None),
                closed: false,
            }),
            stdout: Some(OutputReader::new(out_rx)),
            stderr: Some(OutputReader::new(err_rx)),
            client,
            op_id,
            spid,
            state: state_rx,
            run,
            pump,
        }
    }

    /// The operation the process runs in.
    pub fn operation_id(&self) -> &str {
        &self.op_id
    }

    /// The process's id within its operation: 1 for a run's main process, 2+ for
    /// subprocesses.
    pub fn spid(&self) -> u64 {
        self.spid
    }

    /// The stdin writer, if not taken yet.
    pub fn stdin(&mut self) -> Option<&mut ProcessStdin> {
        self.stdin.as_mut()
    }

    /// Takes the stdin writer (an [`AsyncWrite`]; shut it down to send EOF).
    pub fn take_stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }

    /// Takes the stdout reader (an [`AsyncRead`] and a `Stream` of chunks).
    pub fn take_stdout(&mut self) -> Option<OutputReader> {
        self.stdout.take()
    }

    /// Takes the stderr reader (an [`AsyncRead`] and a `Stream` of chunks).
    pub fn take_stderr(&mut self) -> Option<OutputReader> {
        self.stderr.take()
    }

    /// The handle of the run this process belongs to (for exec, events, cancel).
    pub fn run_handle(&self) -> RunHandle {
        self.run
            .clone()
            .unwrap_or_else(|| self.client.operations().attach(self.op_id.clone()))
    }

    /// Sends `signal` to the process (its process group). Killing spid 1 ends the run.
    pub async fn kill(&self, signal: Signal) -> Result<()> {
        wait_registered(&self.state).await?;
        let mut q = Query::new();
        q.push("signal", signal.wire());
        let req = request(
            http::Method::DELETE,
            format!(
                "/operations/{}/subprocesses/{}",
                seg(&self.op_id),
                self.spid
            ),
            &q,
        );
        self.client
            .send(
                &contree_proto::ops::OPERATION_SUBPROCESS_KILL,
                req,
                &format!(
                    "sending {} to spid {} of operation {}",
                    signal.wire(),
                    self.spid,
                    self.op_id
                ),
            )
            .await?;
        Ok(())
    }

    /// Waits for the process to exit. Stdin is not closed for you: close it first if the
    /// process reads to end of input.
    pub async fn wait(&self) -> Result<ExitStatus> {
        let mut rx = self.state.clone();
        let st = rx
            .wait_for(|s| s.exit.is_some() || s.done)
            .await
            .map_err(|_| process_error("the process follower stopped unexpectedly"))?
            .clone();
        match (st.exit, st.error) {
            (Some(exit), _) => Ok(exit),
            (None, Some(e)) => Err(process_error(e)),
            (None, None) => Err(process_error(format!(
                "spid {} of operation {} ended without an exit event",
                self.spid, self.op_id
            ))),
        }
    }

    /// For a run's main process: waits for the run to finish and returns its
    /// [`RunOutput`] (the new image; a session run has advanced its session by then).
    pub async fn output(&self) -> Result<RunOutput> {
        match &self.run {
            Some(run) => run.wait().await,
            None => Err(Error::invalid(
                "output() is for a run's main process; use wait() for an exec'd subprocess",
            )),
        }
    }

    /// Runs a command in the same VM as this process (a subprocess, spid 2+).
    pub fn exec(&self, command: impl Into<String>) -> Exec {
        Exec::new(self.client.clone(), self.op_id.clone(), command.into())
    }
}

fn process_error(message: impl Into<String>) -> Error {
    Error::new(Inner::Process {
        message: message.into(),
    })
}

async fn wait_registered(state: &watch::Receiver<ProcState>) -> Result<()> {
    let mut rx = state.clone();
    let st = rx
        .wait_for(|s| s.registered || s.done)
        .await
        .map_err(|_| process_error("the process follower stopped unexpectedly"))?
        .clone();
    if st.registered {
        Ok(())
    } else {
        Err(process_error(st.error.unwrap_or_else(|| {
            "the process ended before the server registered it".to_string()
        })))
    }
}

/// Follows the operation's events and routes this spid's output.
async fn pump(
    client: Contree,
    op_id: String,
    spid: u64,
    run: Option<RunHandle>,
    state: watch::Sender<ProcState>,
    out_tx: mpsc::UnboundedSender<Bytes>,
    err_tx: mpsc::UnboundedSender<Bytes>,
) {
    let filter = (spid != 1).then_some(spid);
    let mut events = follow_events(
        &client,
        &op_id,
        Follow {
            since: None,
            spid: filter,
        },
    );
    let mut out = Some(out_tx);
    let mut err = Some(err_tx);
    let mut completed = false;
    while let Some(ev) = events.next().await {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                state.send_modify(|s| s.error = Some(e.to_string()));
                break;
            }
        };
        let mine = ev.spid == Some(spid);
        if mine && !state.borrow().registered {
            state.send_modify(|s| s.registered = true);
        }
        match ev.kind {
            EventKind::Stdout(b) if mine => {
                if let Some(tx) = &out {
                    let _ = tx.send(b);
                }
            }
            EventKind::Stderr(b) if mine => {
                if let Some(tx) = &err {
                    let _ = tx.send(b);
                }
            }
            EventKind::Exit(status) if mine => {
                out = None;
                err = None;
                state.send_modify(|s| s.exit = Some(status));
                if spid != 1 {
                    break;
                }
            }
            EventKind::Completion(_) => {
                completed = true;
                break;
            }
            _ => {}
        }
    }
    drop((out, err));
    if let Some(run) = run
        && completed
    {
        // Finish the run (output, session advance) even if nobody asks for it.
        let finished = match crate::stream::terminal_operation(&client, &op_id).await {
            Ok(op) => run.finish(&op).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = finished {
            tracing::debug!(operation_id = %op_id, error = %e, "finishing a spawned run failed");
        }
    }
    state.send_modify(|s| s.done = true);
}

/// The stdout or stderr of a [`Process`]: an [`AsyncRead`], and a `Stream` of chunks.
/// Ends (EOF) when the process exits.
pub struct OutputReader {
    rx: mpsc::UnboundedReceiver<Bytes>,
    buf: Bytes,
}

impl fmt::Debug for OutputReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutputReader")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl OutputReader {
    fn new(rx: mpsc::UnboundedReceiver<Bytes>) -> Self {
        OutputReader {
            rx,
            buf: Bytes::new(),
        }
    }
}

impl AsyncRead for OutputReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        while self.buf.is_empty() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(b)) => self.buf = b,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = self.buf.len().min(buf.remaining());
        let chunk = self.buf.split_to(n);
        buf.put_slice(&chunk);
        Poll::Ready(Ok(()))
    }
}

impl futures_core::Stream for OutputReader {
    type Item = Bytes;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if !self.buf.is_empty() {
            let b = std::mem::take(&mut self.buf);
            return Poll::Ready(Some(b));
        }
        self.rx.poll_recv(cx)
    }
}

#[derive(Serialize)]
struct StdinBody {
    value: String,
    encoding: &'static str,
    close: bool,
}

async fn post_stdin(
    client: Contree,
    op_id: String,
    spid: u64,
    state: watch::Receiver<ProcState>,
    data: Bytes,
    close: bool,
) -> Result<()> {
    wait_registered(&state).await?;
    let enc = wire::WireStdin::encode(&data);
    let body = StdinBody {
        value: enc.value,
        encoding: enc.encoding,
        close,
    };
    let req = json_request(
        http::Method::POST,
        format!("/operations/{}/subprocesses/{spid}/stdin", seg(&op_id)),
        &Query::new(),
        &body,
    )?;
    let action = format!("writing stdin of spid {spid} in operation {op_id}");
    // A POST: the transport never replays it after it may have reached the server (so a
    // 504 is reported, not retried: the chunk may or may not have been written).
    match client
        .send(
            &contree_proto::ops::OPERATION_SUBPROCESS_STDIN,
            req,
            &action,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if e.status() == Some(http::StatusCode::GATEWAY_TIMEOUT) => {
            Err(process_error(format!(
                "{action}: the server timed out (504) and the chunk may or may not have been written; it was not retried to avoid writing it twice"
            )))
        }
        Err(e) => Err(e),
    }
}

/// The stdin of a [`Process`]. Each write is one ordered `POST …/stdin` (never replayed
/// after it may have reached the server); [`close`](ProcessStdin::close) or
/// `AsyncWriteExt::shutdown` sends end-of-file.
///
/// As an [`AsyncWrite`], a write is accepted at once and sent in the background; its
/// error (if any) surfaces on the next write, `flush` or `shutdown`.
pub struct ProcessStdin {
    client: Contree,
    op_id: String,
    spid: u64,
    state: watch::Receiver<ProcState>,
    /// The write in flight (in a `Mutex` only to make the writer `Sync`; it is only ever
    /// accessed through `&mut self`).
    inflight: std::sync::Mutex<Option<BoxFuture<Result<()>>>>,
    closed: bool,
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStdin")
            .field("operation_id", &self.op_id)
            .field("spid", &self.spid)
            .field("closed", &self.closed)
            .finish()
    }
}

fn to_io(e: Error) -> std::io::Error {
    std::io::Error::other(e)
}

impl ProcessStdin {
    fn post(&self, data: Bytes, close: bool) -> BoxFuture<Result<()>> {
        Box::pin(post_stdin(
            self.client.clone(),
            self.op_id.clone(),
            self.spid,
            self.state.clone(),
            data,
            close,
        ))
    }

    fn slot(&mut self) -> &mut Option<BoxFuture<Result<()>>> {
        self.inflight.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    async fn settle(&mut self) -> Result<()> {
        let pending = self.slot().take();
        match pending {
            Some(f) => f.await,
            None => Ok(()),
        }
    }

    /// Writes `data` (waits until the server accepted it).
    pub async fn send(&mut self, data: impl Into<Bytes>) -> Result<()> {
        self.settle().await?;
        if self.closed {
            return Err(process_error("stdin is already closed"));
        }
        let data = data.into();
        if data.is_empty() {
            return Ok(());
        }
        self.post(data, false).await
    }

    /// Sends end-of-file (idempotent).
    pub async fn close(&mut self) -> Result<()> {
        self.settle().await?;
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.post(Bytes::new(), true).await
    }

    fn poll_inflight(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(f) = self.slot().as_mut() {
            let r = std::task::ready!(f.as_mut().poll(cx));
            *self.slot() = None;
            r.map_err(to_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ProcessStdin {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::task::ready!(self.poll_inflight(cx))?;
        if self.closed {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "stdin is closed",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let fut = self.post(Bytes::copy_from_slice(buf), false);
        *self.slot() = Some(fut);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_inflight(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        std::task::ready!(self.poll_inflight(cx))?;
        if !self.closed {
            self.closed = true;
            let fut = self.post(Bytes::new(), true);
            *self.slot() = Some(fut);
            std::task::ready!(self.poll_inflight(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Run {
    /// Spawns the run as an interactive process: stdin stays open
    /// (`stdin: {value: …, close: false}`) for [`ProcessStdin`] writes, and stdout and
    /// stderr stream live. Stdin set on the builder is written first.
    ///
    /// On a session, the session is reserved until the run finishes, then advanced (even
    /// if the handle is dropped).
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

impl RunHandle {
    /// Runs a command inside this run's VM while it is running (a subprocess, spid 2+).
    pub fn exec(&self, command: impl Into<String>) -> Exec {
        Exec::new(
            self.client().clone(),
            self.operation_id().to_string(),
            command.into(),
        )
    }
}

#[derive(Serialize)]
struct ExecBody {
    command: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    shell: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    stdin: StdinBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncate_output_at: Option<u64>,
}

/// A command to run inside a running VM (`POST /operations/{id}/subprocesses`): build it
/// with [`RunHandle::exec`] or [`Process::exec`], then [`spawn`](Exec::spawn) it for an
/// interactive [`Process`], or `.await` it for its [`ExecOutput`].
///
/// It runs as a shell script by default; [`args`](Exec::args) makes it an executable with
/// arguments.
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let main = img.shell("sleep 600").spawn().await?;
/// let ls = main.exec("ls /").await?;
/// println!("{}", String::from_utf8_lossy(&ls.stdout));
/// main.kill(contree::Signal::Term).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Exec does nothing until spawned or awaited"]
pub struct Exec {
    client: Contree,
    op_id: String,
    command: String,
    args: Vec<String>,
    shell: bool,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    stdin: Bytes,
    truncate_output_at: Option<u64>,
}

/// The result of an awaited [`Exec`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecOutput {
    /// The subprocess's id in its operation.
    pub spid: u64,
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout (capped at `truncate_output_at`).
    pub stdout: Bytes,
    /// Its stderr (capped at `truncate_output_at`).
    pub stderr: Bytes,
}

impl Exec {
    fn new(client: Contree, op_id: String, command: String) -> Self {
        Exec {
            client,
            op_id,
            command,
            args: Vec::new(),
            shell: true,
            env: None,
            cwd: None,
            uid: None,
            gid: None,
            stdin: Bytes::new(),
            truncate_output_at: None,
        }
    }

    /// Runs the command as an executable with these arguments (not through the shell).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self.shell = false;
        self
    }
    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
    /// Working directory (absolute).
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
    /// Runs as this uid.
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }
    /// Runs with this gid.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }
    /// Feeds these bytes on stdin first.
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.stdin = Bytes::copy_from_slice(data.as_ref());
        self
    }
    /// Caps the recorded stdout and stderr at this many bytes each.
    pub fn truncate_output_at(mut self, bytes: u64) -> Self {
        self.truncate_output_at = Some(bytes);
        self
    }

    async fn create(&self, keep_open: bool) -> Result<u64> {
        if let Some(cwd) = &self.cwd
            && !cwd.is_empty()
            && !cwd.starts_with('/')
        {
            return Err(Error::invalid(format!(
                "cwd `{cwd}` must be an absolute path"
            )));
        }
        let enc = wire::WireStdin::encode(&self.stdin);
        let body = ExecBody {
            command: self.command.clone(),
            args: self.args.clone(),
            shell: self.shell,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            uid: self.uid,
            gid: self.gid,
            stdin: StdinBody {
                value: enc.value,
                encoding: enc.encoding,
                close: !keep_open,
            },
            truncate_output_at: self.truncate_output_at,
        };
        let req = json_request(
            http::Method::POST,
            format!("/operations/{}/subprocesses", seg(&self.op_id)),
            &Query::new(),
            &body,
        )?;
        let action = format!("starting a subprocess in operation {}", self.op_id);
        // Not replayed after a 504 (the subprocess may have started).
        let resp = self
            .client
            .send(
                &contree_proto::ops::OPERATION_SUBPROCESS_CREATE,
                req,
                &action,
            )
            .await?;
        let s: contree_proto::types::OperationSubprocessCreateCreatedBody =
            wire::decode(&action, resp.body())?;
        u64::try_from(s.spid)
            .map_err(|_| Error::decode(&action, format!("negative spid {} in the answer", s.spid)))
    }

    /// Starts the subprocess with stdin kept open and returns its [`Process`].
    pub async fn spawn(self) -> Result<Process> {
        let spid = self.create(true).await?;
        Ok(Process::start(self.client, self.op_id, spid, None))
    }

    async fn run(self) -> Result<ExecOutput> {
        let spid = self.create(false).await?;
        let process = Process::start(self.client.clone(), self.op_id.clone(), spid, None);
        let status = process.wait().await?;
        let req = request(
            http::Method::GET,
            format!("/operations/{}/subprocesses/{spid}", seg(&self.op_id)),
            &Query::new(),
        );
        let action = format!("reading spid {spid} of operation {}", self.op_id);
        let resp = self
            .client
            .send(&contree_proto::ops::OPERATION_SUBPROCESS, req, &action)
            .await?;
        let res: wire::WireInstanceResult = wire::decode(&action, resp.body())?;
        Ok(ExecOutput {
            spid,
            status,
            stdout: res.stdout.map(|s| s.bytes()).unwrap_or_default(),
            stderr: res.stderr.map(|s| s.bytes()).unwrap_or_default(),
        })
    }
}

impl IntoFuture for Exec {
    type Output = Result<ExecOutput>;
    type IntoFuture = BoxFuture<Result<ExecOutput>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
