//! What a command does in the mock: the [`Executor`] trait, the [`Process`] it is given, and the
//! default [`ShellExecutor`] (the simulated shell).
//!
//! Every process the mock starts (the main process of a spawned instance, spid 1, and each
//! subprocess, spid 2, 3, ...) first meets the rules of
//! [`MockServer::on_command`](crate::MockServer::on_command) in order; a command no rule matches
//! goes to the server's executor, which is [`ShellExecutor`] unless
//! [`MockServerBuilder::executor`](crate::MockServerBuilder::executor) says otherwise.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::fs::Fs;
use crate::rules::Command;
use crate::shell::{ProcessIo, ProcessSpec, run_process};

/// The future an [`Executor`] returns: the process's exit status.
pub type ExecFuture<'a> = Pin<Box<dyn Future<Output = i32> + Send + 'a>>;

/// One process to run.
///
/// [`command`](Self::command) is what the request asked for (as
/// [`MockServer::commands`](crate::MockServer::commands) records it); [`spec`](Self::spec) is
/// what actually runs: the effective environment (with `PATH`, the image's variables for
/// `shell: true`, ...) and working directory.
#[derive(Debug)]
#[non_exhaustive]
pub struct Process {
    /// What was asked: operation, spid, image, command line, env, cwd, stdin, files.
    pub command: Command,
    /// What runs: the command, its arguments, the effective environment and working directory.
    pub spec: ProcessSpec,
    /// The instance's filesystem: what the process writes here is what later runs, `inspect`
    /// and the result image see.
    pub fs: Arc<Mutex<Fs>>,
    /// The standard streams: output sent here becomes `stdout`/`stderr` events and the result.
    pub io: ProcessIo,
    /// A seed derived from the server's seed (for deterministic randomness).
    pub seed: u64,
}

/// What a command does in the mock.
///
/// The returned future runs the process to completion and yields its exit status. It must be
/// cancel-safe: the mock drops it to kill the process (a kill signal, the run's `timeout`, a
/// cancelled operation), so hold no lock across an await point.
///
/// ```
/// use contree_mock::{ExecFuture, Executor, MockServer, Process};
///
/// /// Every command that reaches this executor prints its command line and succeeds.
/// struct Echo;
///
/// impl Executor for Echo {
///     fn run(&self, p: Process) -> ExecFuture<'_> {
///         Box::pin(async move {
///             let line = format!("ran: {}\n", p.command.line());
///             let _ = p.io.stdout.send(line.into());
///             0
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = MockServer::builder().executor(Echo).start().await;
/// assert!(server.commands().is_empty());
/// # }
/// ```
pub trait Executor: Send + Sync + 'static {
    /// Runs `process` and returns its exit status (`0` for success).
    fn run(&self, process: Process) -> ExecFuture<'_>;
}

/// The default executor: the simulated shell ([`crate::shell::run_process`]) on the instance's
/// in-memory filesystem.
///
/// ```
/// use contree_mock::{MockServer, ShellExecutor};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // The same as `MockServer::start()`.
/// let server = MockServer::builder().executor(ShellExecutor).start().await;
/// # drop(server);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ShellExecutor;

impl Executor for ShellExecutor {
    fn run(&self, p: Process) -> ExecFuture<'_> {
        Box::pin(run_process(p.fs, p.spec, p.io, p.seed))
    }
}

/// The server's executor (a `Debug`/`Clone` holder for the builder's config).
#[derive(Clone)]
pub(crate) struct ExecutorSlot(pub(crate) Arc<dyn Executor>);

impl Default for ExecutorSlot {
    fn default() -> Self {
        Self(Arc::new(ShellExecutor))
    }
}

impl std::fmt::Debug for ExecutorSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Executor")
    }
}

impl crate::MockServerBuilder {
    /// What commands no [`on_command`](crate::MockServer::on_command) rule answers do (default
    /// [`ShellExecutor`], the simulated shell). See [`Executor`] for an example.
    pub fn executor(mut self, executor: impl Executor) -> Self {
        self.cfg.executor = ExecutorSlot(Arc::new(executor));
        self
    }
}
