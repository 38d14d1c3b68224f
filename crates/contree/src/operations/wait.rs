//! Waiting for an operation: its event stream to `completion`, or polling.

use std::time::Duration;

use futures_util::StreamExt as _;

use contree_proto::types;

use crate::api::{cancel_operation, get_operation};
use crate::client::Contree;
use crate::error::{Error, Inner, Result};

/// Waits until the operation is terminal and returns its final state, giving up (and
/// asking the server to cancel it) after `deadline`.
pub(crate) async fn wait_operation(
    client: &Contree,
    op_id: &str,
    deadline: Duration,
    follow_events: bool,
) -> Result<types::OperationResponse> {
    match tokio::time::timeout(deadline, wait_inner(client, op_id, follow_events)).await {
        Ok(r) => r,
        Err(_) => {
            let c = client.clone();
            let id = op_id.to_string();
            tokio::spawn(async move {
                if let Err(e) = cancel_operation(&c, &id).await {
                    tracing::debug!(operation_id = %id, error = %e, "cancel after wait timeout failed");
                }
            });
            Err(Error::new(Inner::WaitTimeout {
                operation_id: op_id.to_string(),
                waited: deadline,
            }))
        }
    }
}

async fn wait_inner(
    client: &Contree,
    op_id: &str,
    follow_events: bool,
) -> Result<types::OperationResponse> {
    if follow_events {
        match follow_to_completion(client, op_id).await {
            Ok(()) => {}
            Err(e) if e.status() == Some(http::StatusCode::FORBIDDEN) => {
                tracing::info!(
                    operation_id = %op_id,
                    "the token may not follow events (403); falling back to polling"
                );
            }
            Err(e) => return Err(e),
        }
    }
    poll_until_terminal(client, op_id).await
}

/// Reads the event stream until the `completion` event (or the end of the stream).
///
/// The stream ends right after `completion`; polling it to that end (rather than dropping it
/// at `completion`) reads the rest of the response, so its connection goes back to the pool
/// for the next request (the operation fetch) instead of being closed.
async fn follow_to_completion(client: &Contree, op_id: &str) -> Result<()> {
    let params = contree_transport::EventParams {
        follow: true,
        ..Default::default()
    };
    let mut events = client.transport().events(op_id, params);
    while let Some(ev) = events.next().await {
        let ev = ev.map_err(|e| Error::transport(format!("following operation {op_id}"), e))?;
        // A server that names no SSE event still carries the type in the JSON.
        let unnamed_completion =
            ev.event.is_empty() && crate::Event::from_json("", &ev.data).is_completion();
        if unnamed_completion {
            break;
        }
    }
    Ok(())
}

/// Polls `GET /operations/{id}` until terminal: immediately first, then with a growing
/// interval (0.2 s to 5 s), honouring the server's `Retry-After` hint.
async fn poll_until_terminal(client: &Contree, op_id: &str) -> Result<types::OperationResponse> {
    let mut interval = Duration::from_millis(200);
    loop {
        // Boxed: the request's retry loop is the largest future here; inline, every run
        // waiting on its event stream would hold room for it (it fetches only at the end).
        let retry_after = {
            // In a block: the operation (1 KiB) is not kept across the sleep below.
            let (op, retry_after) = Box::pin(get_operation(client, op_id)).await?;
            if op.is_terminal() {
                return Ok(op);
            }
            retry_after
        };
        let sleep = retry_after
            .map(|r| r.clamp(Duration::from_millis(100), Duration::from_secs(5)))
            .unwrap_or(interval);
        tokio::time::sleep(sleep).await;
        interval = (interval * 3 / 2).min(Duration::from_secs(5));
    }
}

/// Turns FAILED and CANCELLED into errors.
pub(crate) fn check_terminal(op: &types::OperationResponse, op_id: &str) -> Result<()> {
    match op.status.as_ref() {
        Some(types::OperationStatus::Success) => Ok(()),
        Some(types::OperationStatus::Cancelled) => Err(Error::new(Inner::OperationCancelled {
            operation_id: op_id.to_string(),
        })),
        other => Err(Error::new(Inner::OperationFailed {
            operation_id: op_id.to_string(),
            message: op.error.clone().unwrap_or_else(|| {
                format!(
                    "status {}, no error message",
                    other.map_or("", |s| s.as_str()).to_ascii_uppercase()
                )
            }),
        })),
    }
}
