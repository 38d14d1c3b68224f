//! Sessions: a moving pointer to the newest version; history, checkout and fork.
//!
//! ```sh
//! cargo run --example session
//! ```

#[path = "common/mod.rs"]
mod common;

use common::short;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;
    let session = contree.images().oci("ubuntu:latest").await?.session();

    session.shell("echo 'step 1' > /log.txt").await?.check()?;
    session.shell("echo 'step 2' >> /log.txt").await?.check()?;
    println!(
        "after two runs: {:?}",
        session.current().read_to_string("/log.txt").await?
    );

    // A failing command is data: it still made a version and the session moved there.
    let out = session.shell("echo 'step 3' >> /log.txt; exit 1").await?;
    println!(
        "a non-zero exit ({}) still advances the session",
        out.exit_code()
    );

    // A run that cannot start (a relative cwd is rejected) leaves the session in place.
    let before = session.current();
    let err = session.shell("true").cwd("not/absolute").await.unwrap_err();
    assert_eq!(session.current(), before);
    println!("a failed run leaves the session where it was: {err}");

    for (i, v) in session.history().iter().enumerate() {
        println!("history[{i}] = {}", short(v.id()));
    }

    // Go back to "after step 1", then fork an independent line of work from there.
    session.checkout(1)?;
    let fork = session.fork();
    fork.shell("echo 'fork only' >> /log.txt").await?.check()?;
    session
        .shell("echo 'main only' >> /log.txt")
        .await?
        .check()?;
    let main_log = session.current().read_to_string("/log.txt").await?;
    let fork_log = fork.current().read_to_string("/log.txt").await?;
    println!("main: {main_log:?}\nfork: {fork_log:?}");
    assert_eq!(main_log, "step 1\nmain only\n");
    assert_eq!(fork_log, "step 1\nfork only\n");
    Ok(())
}
