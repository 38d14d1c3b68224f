//! Scenario 7's streamed runs: when the first output chunk reached the SDK.

use std::time::Instant;

use futures_util::StreamExt as _;
use serde_json::json;

use crate::sdk::{client, one_run};
use crate::{Args, micros, unix_us};

/// Streamed runs of `echo hello`, one after another: for each, its operation id and the
/// instant (Unix µs) its first stdout chunk arrived.
pub(crate) async fn first_output(args: &Args) -> Result<String, String> {
    let c = client(args)?;
    let img = c.images().use_uuid(args.str("image")?);
    for _ in 0..args.num("warmup", 2)? {
        one_run(&img, "echo hello", "hello\n").await?;
    }
    let mut runs = Vec::new();
    let started = Instant::now();
    for _ in 0..args.num("n", 20)? {
        let mut live = img.shell("echo hello").stream();
        let (mut op, mut first) = (None, None);
        while let Some(ev) = live.next().await {
            match ev.map_err(|e| format!("streamed run: {e}"))? {
                contree::RunEvent::Started { operation_id } => op = Some(operation_id),
                contree::RunEvent::Stdout(_) if first.is_none() => first = Some(unix_us()),
                contree::RunEvent::Output(out) if op.is_none() => {
                    op = Some(out.operation_id().to_string());
                }
                _ => {}
            }
        }
        let (Some(op), Some(at)) = (op, first) else {
            return Err("a streamed run gave no operation id or no stdout".into());
        };
        runs.push(json!({"op": op, "at": at}));
    }
    Ok(json!({"ops": runs, "total_us": micros(started.elapsed())}).to_string())
}
