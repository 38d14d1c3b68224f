//! Streaming: print a long command's output live, as it runs, then its result.
//!
//! ```sh
//! cargo run --example streaming
//! ```

#[path = "common/mod.rs"]
mod common;

use std::io::Write as _;

use contree::RunEvent;
use futures_util::StreamExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;
    let ubuntu = contree.images().oci("ubuntu:latest").await?;

    let script = "for i in 1 2 3 4 5; do echo \"step $i\"; sleep 0.2; done; echo 'all done' >&2";
    let mut live = ubuntu.shell(script).stream();
    let mut chunks = 0;
    while let Some(event) = live.next().await {
        match event? {
            RunEvent::Started { operation_id } => println!("[started operation {operation_id}]"),
            RunEvent::Stdout(chunk) => {
                chunks += 1;
                print!("{}", String::from_utf8_lossy(&chunk));
                std::io::stdout().flush()?;
            }
            RunEvent::Stderr(chunk) => eprint!("{}", String::from_utf8_lossy(&chunk)),
            RunEvent::Exit(status) => println!("[process exited: code {}]", status.code),
            RunEvent::Output(out) => {
                println!(
                    "[finished: exit {}, {} stdout bytes in {chunks} live chunks]",
                    out.exit_code(),
                    out.stdout().len()
                );
                assert!(out.stdout_lossy().ends_with("step 5\n"));
            }
            _ => {}
        }
    }
    Ok(())
}
