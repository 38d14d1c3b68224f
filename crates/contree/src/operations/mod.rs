//! Operations: get, list, cancel, wait, events, and detached runs ([`RunHandle`]).

mod handle;
mod info;
mod list;
pub(crate) mod wait;

pub use handle::RunHandle;
pub use info::{OperationInfo, OperationKind, OperationStatus};
pub use list::ListOperations;

use std::time::Duration;

use futures_util::StreamExt as _;

use contree_proto::types;

use crate::client::Contree;
use crate::error::{Error, Inner, Result};
use crate::events::{Event, Follow, follow_events, with_deadline};
use crate::run::Finisher;
use crate::run::RunOutput;
use crate::util::{BoxFuture, BoxStream};

/// The operations manager: `contree.operations()`.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use contree::OperationStatus;
/// let running: Vec<_> = contree.operations().list().status(OperationStatus::Executing)
///     .stream().try_collect().await?;
/// for op in &running {
///     contree.operations().cancel(&op.id).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Operations {
    client: Contree,
}

impl Contree {
    /// Operations: get, list, cancel, wait, events, and re-attaching to runs.
    pub fn operations(&self) -> Operations {
        Operations {
            client: self.clone(),
        }
    }
}

impl Operations {
    /// The current state of an operation.
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such operation; the [errors of every call](crate#errors).
    pub async fn get(&self, id: &str) -> Result<OperationInfo> {
        let (op, _) = crate::api::get_operation(&self.client, id).await?;
        Ok(OperationInfo::from_response(id, &op))
    }

    /// Lists operations, newest filters first: await for one page, or
    /// [`stream`](ListOperations::stream) all of them.
    pub fn list(&self) -> ListOperations {
        ListOperations {
            client: self.client.clone(),
            limit: None,
            offset: 0,
            status: None,
            kind: None,
            since: None,
            until: None,
        }
    }

    /// Asks the server to cancel an operation (`409` if it is already over).
    ///
    /// # Errors
    ///
    /// `NotFound` when there is no such operation; the [errors of every call](crate#errors).
    pub async fn cancel(&self, id: &str) -> Result<()> {
        crate::api::cancel_operation(&self.client, id).await
    }

    /// A handle to a run known only by its operation id (no request is made): follow its
    /// events, wait for its output, cancel it, exec into it.
    pub fn attach(&self, id: impl Into<String>) -> RunHandle {
        RunHandle::new(self.client.clone(), id.into(), None, Finisher::bare())
    }

    /// The operation's typed event log from the start, following it live until
    /// `completion` (resuming across dropped connections).
    ///
    /// The stream has an overall deadline, the client's
    /// [`events_deadline`](crate::ContreeBuilder::events_deadline) (by default the default
    /// run timeout plus the wait margin): past it, it ends with an error of kind
    /// [`Timeout`](crate::ErrorKind::Timeout) and the operation keeps running. Choose the
    /// deadline per call with [`events_with_deadline`](Self::events_with_deadline).
    pub fn events(&self, id: &str) -> BoxStream<Event> {
        self.events_with_deadline(id, None, self.client.events_deadline())
    }

    /// Like [`events`](Self::events), but only events after event id `since`.
    pub fn events_since(&self, id: &str, since: u64) -> BoxStream<Event> {
        self.events_with_deadline(id, Some(since), self.client.events_deadline())
    }

    /// The operation's event log after event id `since` (from the start when `None`),
    /// ending with an error of kind [`Timeout`](crate::ErrorKind::Timeout) once `deadline`
    /// has passed since the stream was first polled.
    ///
    /// ```no_run
    /// # async fn demo(contree: contree::Contree, id: &str) -> contree::Result<()> {
    /// use futures_util::StreamExt as _;
    /// let mut events = contree.operations().events_with_deadline(id, None, std::time::Duration::from_secs(30));
    /// while let Some(ev) = events.next().await {
    ///     match ev {
    ///         Ok(ev) => println!("{:?}", ev.kind),
    ///         Err(e) if e.kind() == contree::ErrorKind::Timeout => break, // still running
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events_with_deadline(
        &self,
        id: &str,
        since: Option<u64>,
        deadline: Duration,
    ) -> BoxStream<Event> {
        let events = follow_events(&self.client, id, Follow { since, spid: None });
        with_deadline(events, id, deadline)
    }

    /// Waits until the operation is terminal and returns its final state (`Failed` and
    /// `Cancelled` are returned, not raised). Gives up after `deadline` with a
    /// [`Timeout`](crate::ErrorKind::Timeout) error, leaving the operation running.
    ///
    /// # Errors
    ///
    /// `Timeout` when `deadline` passes (the operation keeps running); `NotFound` when there is
    /// no such operation; the [errors of every call](crate#errors).
    pub async fn wait(&self, id: &str, deadline: Duration) -> Result<OperationInfo> {
        let op = wait_terminal(&self.client, id, deadline).await?;
        Ok(OperationInfo::from_response(id, &op))
    }

    /// Waits for every run; results in the order of `handles`.
    pub async fn wait_all(&self, handles: &[RunHandle]) -> Vec<Result<RunOutput>> {
        futures_util::future::join_all(handles.iter().map(|h| h.wait())).await
    }

    /// Waits for the first run to finish and returns its index in `handles` and its
    /// output; the others keep running (wait for them, or cancel them). `None` when
    /// `handles` is empty.
    pub async fn wait_any(&self, handles: &[RunHandle]) -> Option<(usize, Result<RunOutput>)> {
        if handles.is_empty() {
            return None;
        }
        let futs: Vec<BoxFuture<Result<RunOutput>>> = handles
            .iter()
            .map(|h| {
                let h = h.clone();
                Box::pin(async move { h.wait().await }) as BoxFuture<Result<RunOutput>>
            })
            .collect();
        let (out, index, _rest) = futures_util::future::select_all(futs).await;
        Some((index, out))
    }
}

/// Follows events to completion (falling back to polling when following is refused), then
/// reads the terminal state; gives up after `deadline` without cancelling.
pub(crate) async fn wait_terminal(
    client: &Contree,
    op_id: &str,
    deadline: Duration,
) -> Result<types::OperationResponse> {
    let fut = async {
        let mut events = follow_events(client, op_id, Follow::default());
        while let Some(ev) = events.next().await {
            match ev {
                Ok(ev) if ev.is_completion() => break,
                Ok(_) => {}
                Err(e) => {
                    // No event log (e.g. imports), or following is refused: poll instead
                    // (an unknown operation then fails with 404 on the status request).
                    tracing::debug!(operation_id = %op_id, error = %e, "cannot follow events; polling");
                    break;
                }
            }
        }
        crate::run::terminal_operation(client, op_id).await
    };
    match tokio::time::timeout(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(Inner::WaitDeadline {
            operation_id: op_id.to_string(),
            waited: deadline,
        })),
    }
}
