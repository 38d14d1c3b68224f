//! Interactive processes: [`Process`] (streaming stdin, live output, kill, wait).

mod exec;
mod pipes;

pub use exec::{Exec, ExecOutput};
pub use pipes::{OutputReader, ProcessStdin};

use std::fmt;

use futures_util::StreamExt as _;
use tokio::sync::{mpsc, watch};

use crate::api;
use crate::client::Contree;
use crate::error::{Error, Inner, Result};
use crate::events::{EventKind, ExitStatus, Follow, follow_events};
use crate::operations::RunHandle;
use crate::run::RunOutput;

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
pub(crate) struct ProcState {
    /// The server has an event for this spid: the process exists and takes stdin.
    registered: bool,
    exit: Option<ExitStatus>,
    /// Why following the process failed.
    error: Option<String>,
    /// The pump stopped.
    done: bool,
}

/// A process started with [`Run::spawn`](crate::Run::spawn) (spid 1, the run's main process) or
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
    pub(crate) fn start(
        client: Contree,
        op_id: String,
        spid: u64,
        run: Option<RunHandle>,
    ) -> Process {
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

    /// Takes the stdin writer (an [`AsyncWrite`](tokio::io::AsyncWrite); shut it down to send EOF).
    pub fn take_stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }

    /// Takes the stdout reader (an [`AsyncRead`](tokio::io::AsyncRead) and a `Stream` of chunks).
    pub fn take_stdout(&mut self) -> Option<OutputReader> {
        self.stdout.take()
    }

    /// Takes the stderr reader (an [`AsyncRead`](tokio::io::AsyncRead) and a `Stream` of chunks).
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
    ///
    /// # Errors
    ///
    /// `Api` (409) when the process already ended; the [errors of every call](crate#errors).
    pub async fn kill(&self, signal: Signal) -> Result<()> {
        wait_registered(&self.state).await?;
        let action = format!(
            "sending {} to spid {} of operation {}",
            signal.wire(),
            self.spid,
            self.op_id
        );
        api::kill_subprocess(&self.client, &self.op_id, self.spid, signal.wire(), &action).await?;
        Ok(())
    }

    /// Waits for the process to exit. Stdin is not closed for you: close it first if the
    /// process reads to end of input.
    ///
    /// # Errors
    ///
    /// `Process` when the process's event stream broke and could not be resumed; the [errors of
    /// every call](crate#errors).
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
    ///
    /// # Errors
    ///
    /// `OperationFailed` / `OperationCancelled` as the run ended; `Process` when its events
    /// could not be followed; the [errors of every call](crate#errors).
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

pub(crate) fn process_error(message: impl Into<String>) -> Error {
    Error::new(Inner::Process {
        message: message.into(),
    })
}

pub(crate) async fn wait_registered(state: &watch::Receiver<ProcState>) -> Result<()> {
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
    out_tx: mpsc::UnboundedSender<pipes::Chunk>,
    err_tx: mpsc::UnboundedSender<pipes::Chunk>,
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
                let why = format!(
                    "the output of spid {spid} in operation {op_id} was cut short: {e}; read what it wrote with operations().events()"
                );
                // The readers get the failure, not a clean end of output.
                for tx in [&out, &err].into_iter().flatten() {
                    let _ = tx.send(Err(why.clone()));
                }
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
                    let _ = tx.send(Ok(b));
                }
            }
            EventKind::Stderr(b) if mine => {
                if let Some(tx) = &err {
                    let _ = tx.send(Ok(b));
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
        let finished = match crate::run::terminal_operation(&client, &op_id).await {
            Ok(op) => run.finish(&op).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = finished {
            tracing::debug!(operation_id = %op_id, error = %e, "finishing a spawned run failed");
        }
    }
    state.send_modify(|s| s.done = true);
}
