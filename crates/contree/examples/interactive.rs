//! Interactive processes: write to a running process's stdin, read its stdout live, run
//! a second command inside the same VM, and stop it with a signal.
//!
//! ```sh
//! cargo run --example interactive
//! ```

#[path = "common/mod.rs"]
mod common;

use contree::Signal;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;
    let ubuntu = contree.images().oci("ubuntu:latest").await?;

    // A line-by-line "server": answers each line it reads.
    let mut proc = ubuntu
        .shell("while read line; do echo \"you said: $line\"; done")
        .spawn()
        .await?;
    println!("spawned operation {}", proc.operation_id());
    let mut stdin = proc.take_stdin().expect("stdin");
    let mut lines = BufReader::new(proc.take_stdout().expect("stdout")).lines();
    for question in ["hello", "how are you?"] {
        stdin.write_all(format!("{question}\n").as_bytes()).await?;
        stdin.flush().await?;
        let answer = lines.next_line().await?.unwrap_or_default();
        println!("> {question}\n< {answer}");
        assert_eq!(answer, format!("you said: {question}"));
    }
    stdin.shutdown().await?; // end of input: the loop ends
    let status = proc.wait().await?;
    println!("the process exited with {}", status.code);

    // A long-running process, a command executed next to it, then SIGTERM.
    let sleeper = ubuntu.shell("sleep 300").spawn().await?;
    let side = sleeper
        .exec("echo 'running beside the main process'")
        .await?;
    println!("exec: {}", String::from_utf8_lossy(&side.stdout).trim_end());
    sleeper.kill(Signal::Term).await?;
    let status = sleeper.wait().await?;
    println!("sleep 300 ended by signal {:?}", status.signal);
    assert_eq!(status.signal, Some(15));
    Ok(())
}
