//! [`RunHandle`]: a detached run.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{OperationInfo, wait_terminal};
use contree_proto::types;

use crate::client::Contree;
use crate::error::Result;
use crate::run::RunOutput;
use crate::run::{Finisher, RunEvent, run_events};
use crate::util::BoxStream;

struct HandleInner {
    client: Contree,
    op_id: String,
    deadline: Option<Duration>,
    finish: tokio::sync::Mutex<(Option<Finisher>, Option<RunOutput>)>,
}

/// A detached run: spawned, not awaited. From [`Run::start`](crate::Run::start), or
/// re-attached from an operation id with [`Operations::attach`](crate::Operations::attach).
///
/// Cheap to clone; clones share the run (its output is computed once).
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let handle = img.shell("make -j8").start().await?;
/// let id = handle.operation_id().to_string();
/// // ... later, maybe in another process:
/// let again = img.client().operations().attach(id);
/// let out = again.wait().await?;
/// println!("exit {}", out.exit_code());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RunHandle {
    inner: Arc<HandleInner>,
}

impl fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunHandle")
            .field("operation_id", &self.inner.op_id)
            .finish_non_exhaustive()
    }
}

impl RunHandle {
    pub(crate) fn new(
        client: Contree,
        op_id: String,
        deadline: Option<Duration>,
        finisher: Finisher,
    ) -> Self {
        RunHandle {
            inner: Arc::new(HandleInner {
                client,
                op_id,
                deadline,
                finish: tokio::sync::Mutex::new((Some(finisher), None)),
            }),
        }
    }

    pub(crate) fn client(&self) -> &Contree {
        &self.inner.client
    }

    /// The overall deadline of this run's event stream: the run's wait deadline, or for a
    /// re-attached run the client's events deadline.
    pub(crate) fn events_deadline(&self) -> Duration {
        self.inner
            .deadline
            .unwrap_or_else(|| self.inner.client.events_deadline())
    }

    /// The operation id (keep it to re-attach later).
    pub fn operation_id(&self) -> &str {
        &self.inner.op_id
    }

    /// The operation's current state.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such operation; the [errors of every call](crate#errors).
    pub async fn status(&self) -> Result<OperationInfo> {
        self.inner.client.operations().get(&self.inner.op_id).await
    }

    /// The run's live output from the start, ending with the [`RunOutput`]
    /// (see [`Run::stream`](crate::Run::stream)). Bounded by the run's wait deadline (its
    /// server timeout plus the wait margin) or, for a run re-attached by id, by the client's
    /// [`events_deadline`](crate::ContreeBuilder::events_deadline): past it the stream ends
    /// with an error of kind [`Timeout`](crate::ErrorKind::Timeout).
    pub fn events(&self) -> BoxStream<RunEvent> {
        run_events(self.clone(), None, false)
    }

    /// The run's live output after event id `since` (resume where an earlier stream
    /// stopped), ending with the [`RunOutput`].
    pub fn events_since(&self, since: u64) -> BoxStream<RunEvent> {
        run_events(self.clone(), Some(since), false)
    }

    /// Waits for the run and returns its output (a non-zero exit is data; a `FAILED` or
    /// `CANCELLED` operation is an error). The wait deadline is the run's server timeout
    /// plus the client's wait margin; past it, the run keeps going on the server and this
    /// returns a [`Timeout`](crate::ErrorKind::Timeout) error.
    ///
    /// # Errors
    ///
    /// `Timeout` at the run's wait deadline; `OperationFailed` / `OperationCancelled` as the
    /// operation ended (`NotFound` when a missing image explains the failure); the [errors of
    /// every call](crate#errors).
    pub async fn wait(&self) -> Result<RunOutput> {
        let deadline = self.inner.deadline.unwrap_or_else(|| {
            self.inner.client.default_run_timeout() + self.inner.client.wait_margin()
        });
        self.wait_timeout(deadline).await
    }

    /// Like [`wait`](Self::wait) with an explicit deadline.
    ///
    /// # Errors
    ///
    /// `Timeout` when `deadline` passes (the operation keeps running); `OperationFailed` /
    /// `OperationCancelled` as the operation ended; the [errors of every call](crate#errors).
    pub async fn wait_timeout(&self, deadline: Duration) -> Result<RunOutput> {
        if let Some(out) = &self.inner.finish.lock().await.1 {
            return Ok(out.clone());
        }
        let op = wait_terminal(&self.inner.client, &self.inner.op_id, deadline).await?;
        self.finish(&op).await
    }

    /// Builds (once) the output from the terminal operation and advances the session.
    pub(crate) async fn finish(&self, op: &types::OperationResponse) -> Result<RunOutput> {
        let mut guard = self.inner.finish.lock().await;
        if let Some(out) = &guard.1 {
            return Ok(out.clone());
        }
        let mut finisher = guard.0.take().unwrap_or_else(Finisher::bare);
        let out = finisher
            .finish(&self.inner.client, &self.inner.op_id, op)
            .await;
        match &out {
            Ok(o) => guard.1 = Some(o.clone()),
            Err(_) => guard.0 = Some(Finisher::bare()),
        }
        out
    }

    /// Asks the server to cancel the run.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such operation; the [errors of every call](crate#errors).
    pub async fn cancel(&self) -> Result<()> {
        crate::api::cancel_operation(&self.inner.client, &self.inner.op_id).await
    }
}
