//! Operation calls.

use std::time::Duration;

use crate::api::{Query, request, seg};
use crate::client::Contree;
use crate::error::Result;
use crate::wire;

/// Fetches an operation once.
pub(crate) async fn get_operation(
    client: &Contree,
    op_id: &str,
) -> Result<(wire::WireOperation, Option<Duration>)> {
    let req = request(
        http::Method::GET,
        format!("/operations/{}", seg(op_id)),
        &Query::new(),
    );
    let action = format!("getting operation {op_id}");
    let resp = client
        .send(&contree_proto::ops::GET_OPERATION_STATUS, req, &action)
        .await?;
    let retry_after = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let op: wire::WireOperation = wire::decode(&action, resp.body())?;
    Ok((op, retry_after))
}

/// Asks the server to cancel an operation (best effort).
pub(crate) async fn cancel_operation(client: &Contree, op_id: &str) -> Result<()> {
    let req = request(
        http::Method::DELETE,
        format!("/operations/{}", seg(op_id)),
        &Query::new(),
    );
    client
        .send(
            &contree_proto::ops::CANCEL_OPERATION,
            req,
            &format!("cancelling operation {op_id}"),
        )
        .await?;
    Ok(())
}
