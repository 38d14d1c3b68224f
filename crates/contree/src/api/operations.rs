//! Operation calls.

use std::time::Duration;

use contree_proto::{requests, types};

use crate::client::Contree;
use crate::error::Result;

/// `GET /operations/{id}`: the operation, and the poll hint of its `Retry-After` header.
pub(crate) async fn get_operation(
    client: &Contree,
    op_id: &str,
) -> Result<(types::OperationResponse, Option<Duration>)> {
    let action = format!("getting operation {op_id}");
    let req = requests::GetOperationStatus::new(op_id);
    let resp = super::call(client, &req, &action).await?;
    let retry_after = resp
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let op = super::decode(&action, resp.body())?;
    Ok((op, retry_after))
}

/// `DELETE /operations/{id}`: asks the server to cancel an operation.
pub(crate) async fn cancel_operation(client: &Contree, op_id: &str) -> Result<()> {
    let req = requests::CancelOperation::new(op_id);
    super::call(client, &req, &format!("cancelling operation {op_id}")).await?;
    Ok(())
}

/// `GET /operations`: one page.
pub(crate) async fn list_operations(
    client: &Contree,
    req: &requests::ListOperations,
) -> Result<Vec<types::OperationSummary>> {
    super::call_json(client, req, "listing operations").await
}
