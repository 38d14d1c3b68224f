//! Streamed runs: [`RunEvent`]s and the end of a run's event stream.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;

use contree_proto::types;

use crate::client::Contree;
use crate::error::Result;
use crate::events::{
    Completion, Event, EventKind, ExitStatus, Follow, Truncation, follow_events, with_deadline,
};
use crate::image::Image;
use crate::operations::RunHandle;
use crate::run::{Run, RunOutput};
use crate::util::BoxStream;

/// One item of a streamed run ([`Run::stream`], [`RunHandle::events`]).
///
/// The main process's output arrives as [`Stdout`](RunEvent::Stdout) and
/// [`Stderr`](RunEvent::Stderr) chunks, in order and exactly once (the stream resumes
/// across dropped connections); the last item is [`Output`](RunEvent::Output).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RunEvent {
    /// The run was accepted; keep the operation id to re-attach later
    /// ([`Operations::attach`](crate::Operations::attach)).
    Started {
        /// The operation id.
        operation_id: String,
    },
    /// A chunk of the main process's stdout.
    Stdout(Bytes),
    /// A chunk of the main process's stderr.
    Stderr(Bytes),
    /// The main process's output was capped at `truncate_output_at`.
    Truncated(Truncation),
    /// The main process ended.
    Exit(ExitStatus),
    /// The operation reached a terminal state.
    Completion(Completion),
    /// Any other event (VM lifecycle, subprocess output, ...), with its event id.
    Other(Event),
    /// The final result (the last item).
    Output(Box<RunOutput>),
}

/// How a finished run turns into its output, and which session it advances.
pub(crate) struct Finisher {
    pub run: Option<Run>,
    pub image: Option<Image>,
    pub session: Option<crate::session::Session>,
    pub guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl fmt::Debug for Finisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finisher")
            .field("image", &self.image)
            .field("session", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl Finisher {
    pub(crate) fn bare() -> Self {
        Finisher {
            run: None,
            image: None,
            session: None,
            guard: None,
        }
    }

    /// Builds the output from the terminal operation and advances the session (then lets
    /// the session's next run go).
    pub(crate) async fn finish(
        &mut self,
        client: &Contree,
        op_id: &str,
        op: &types::OperationResponse,
    ) -> Result<RunOutput> {
        let out = match (&self.run, &self.image) {
            // The run advances the session itself, before any follow-up step can fail.
            (Some(run), Some(image)) => {
                run.finish_on(image, op_id, op, self.session.as_ref()).await
            }
            _ => {
                crate::operations::wait::check_terminal(op, op_id)?;
                let out = RunOutput::from_bare_operation(client, op_id, op);
                if let (Ok(out), Some(session)) = (&out, &self.session) {
                    session.advance(out);
                }
                out
            }
        };
        self.guard = None;
        out
    }
}

/// How long the operation's status may lag behind its `completion` event.
pub(crate) const TERMINAL_LAG: Duration = Duration::from_secs(60);

/// Fetches the operation until it is terminal (it is, right after `completion`; the loop
/// only covers a lagging status, for at most [`TERMINAL_LAG`]).
pub(crate) async fn terminal_operation(
    client: &Contree,
    op_id: &str,
) -> Result<types::OperationResponse> {
    terminal_operation_within(client, op_id, TERMINAL_LAG).await
}

/// [`terminal_operation`] with another limit than [`TERMINAL_LAG`] (for tests).
pub(crate) async fn terminal_operation_within(
    client: &Contree,
    op_id: &str,
    lag: Duration,
) -> Result<types::OperationResponse> {
    let poll = async {
        let mut delay = Duration::from_millis(100);
        loop {
            let (op, _) = crate::api::get_operation(client, op_id).await?;
            if op.is_terminal() {
                return Ok(op);
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(2));
        }
    };
    match tokio::time::timeout(lag, poll).await {
        Ok(r) => r,
        Err(_) => Err(crate::error::Error::new(
            crate::error::Inner::WaitDeadline {
                operation_id: op_id.to_string(),
                waited: lag,
            },
        )),
    }
}

/// Turns an operation's events into [`RunEvent`]s ending with the output.
pub(crate) fn run_events(
    handle: RunHandle,
    since: Option<u64>,
    started: bool,
) -> BoxStream<RunEvent> {
    let deadline_of = handle.clone();
    let events = follow_events(
        handle.client(),
        handle.operation_id(),
        Follow { since, spid: None },
    );
    let start = started.then(|| {
        Ok(RunEvent::Started {
            operation_id: handle.operation_id().to_string(),
        })
    });
    let tail = futures_util::stream::unfold(
        (Some(events), Some(handle)),
        |(events, handle)| async move {
            let mut events = events?;
            match events.next().await {
                Some(Ok(ev)) => {
                    let item = match (ev.spid, ev.kind.clone()) {
                        (Some(1), EventKind::Stdout(b)) => RunEvent::Stdout(b),
                        (Some(1), EventKind::Stderr(b)) => RunEvent::Stderr(b),
                        (Some(1), EventKind::Exit(s)) => RunEvent::Exit(s),
                        (Some(1), EventKind::Truncated(t)) => RunEvent::Truncated(t),
                        (_, EventKind::Completion(c)) => RunEvent::Completion(c),
                        _ => RunEvent::Other(ev),
                    };
                    Some((Ok(item), (Some(events), handle)))
                }
                Some(Err(e)) => Some((Err(e), (None, None))),
                None => {
                    let handle = handle?;
                    let out = match terminal_operation(handle.client(), handle.operation_id()).await
                    {
                        Ok(op) => handle
                            .finish(&op)
                            .await
                            .map(|o| RunEvent::Output(Box::new(o))),
                        Err(e) => Err(e),
                    };
                    Some((out, (None, None)))
                }
            }
        },
    );
    let deadline = deadline_of.events_deadline();
    let op_id = deadline_of.operation_id().to_string();
    with_deadline(
        futures_util::stream::iter(start).chain(tail).boxed(),
        &op_id,
        deadline,
    )
}
