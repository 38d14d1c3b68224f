//! The ConTree quick start: list images, run a command in `ubuntu:latest`, chain a second
//! run from the version it made, run twice in a session, then list and read a file.
//!
//! ```sh
//! cargo run --example quickstart
//! ```
//!
//! With credentials configured (`NEBIUS_API_KEY` + `NEBIUS_PROJECT_ID`, or a profile in
//! `auth.ini`) it talks to ConTree; with none it starts the embedded contree-mock in
//! process and says so.

#[path = "common/mod.rs"]
mod common;

use common::short;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;

    // 1. Images: one page of what you can run.
    let images = contree.images().list().tagged().limit(10).await?;
    let tags: Vec<_> = images.iter().filter_map(|i| i.tag()).collect();
    println!(
        "1. {} tagged images, e.g. {:?}",
        images.len(),
        &tags[..tags.len().min(3)]
    );

    // 2. Use ubuntu:latest (imported from Docker Hub if your account lacks it) and run.
    let ubuntu = contree.images().oci("ubuntu:latest").await?;
    let out = ubuntu
        .shell("echo 'hello from ConTree' > /hello.txt && cat /hello.txt")
        .await?
        .check()?;
    let v1 = out
        .image()
        .expect("runs keep their result by default")
        .clone();
    println!(
        "2. ran in {} -> exit {}, stdout {:?}, new version {}",
        short(ubuntu.id()),
        out.exit_code(),
        out.stdout_lossy().trim_end(),
        short(v1.id())
    );

    // 3. Chain: the new version has the file; running from it makes another version.
    let out = v1
        .shell("cat /hello.txt && echo 'and chained' >> /hello.txt")
        .await?
        .check()?;
    let v2 = out.image().expect("kept").clone();
    println!(
        "3. chained from {} -> {} (parent {}), saw {:?}",
        short(v1.id()),
        short(v2.id()),
        short(v2.parent()),
        out.stdout_lossy().trim_end()
    );

    // 4. A session follows the newest version after each run.
    let session = v2.session();
    session
        .shell("mkdir -p /work && echo 'first run' > /work/notes.txt")
        .await?
        .check()?;
    session
        .shell("echo 'second run' >> /work/notes.txt")
        .await?
        .check()?;
    let now = session.current();
    println!(
        "4. session ran twice: {} versions, now at {}",
        session.history().len(),
        short(now.id())
    );

    // 5. Inspect the result without starting a VM.
    let listing = now.ls("/work").await?;
    for entry in &listing {
        println!(
            "5. ls /work: {} ({} bytes, mode {:o})",
            entry.path, entry.size, entry.mode
        );
    }
    let notes = now.read_to_string("/work/notes.txt").await?;
    println!("6. /work/notes.txt says {:?}", notes);
    assert_eq!(notes, "first run\nsecond run\n");
    assert_eq!(
        v1.read_to_string("/hello.txt").await?,
        "hello from ConTree\n",
        "v1 is immutable"
    );
    println!("Done: 5 runs, 1 session, every version still addressable by its UUID.");
    Ok(())
}
