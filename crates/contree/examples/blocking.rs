//! The blocking client: the same API without async, plus a Python-`subprocess`-like
//! `Popen`.
//!
//! ```sh
//! cargo run --example blocking
//! ```

#[path = "common/mod.rs"]
mod common;

use std::io::{Read as _, Write as _};

use common::short;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect_blocking()?;

    let tagged = contree.images().list().tagged().output()?;
    println!("{} tagged images", tagged.len());

    let ubuntu = contree.images().oci("ubuntu:latest").output()?;
    let out = ubuntu
        .shell("echo 42 > /answer; cat /answer")
        .output()?
        .check()?;
    let v1 = out.image().expect("kept").clone();
    println!(
        "ran: {:?}, new version {}",
        out.stdout_lossy().trim_end(),
        short(v1.id())
    );
    println!(
        "chained: {:?}",
        v1.shell("cat /answer").output()?.stdout_lossy().trim_end()
    );

    // Iterators where the async API has streams.
    let listed = contree
        .images()
        .list()
        .stream()
        .take(3)
        .collect::<contree::Result<Vec<_>>>()?;
    println!("first {} images of the full listing", listed.len());

    // Popen: like subprocess.Popen(..., stdin=PIPE, stdout=PIPE, stderr=PIPE).
    let mut p = ubuntu.run("tr").args(["a-z", "A-Z"]).popen()?;
    let (stdout, _stderr) = p.communicate(Some(b"shout this\n"))?;
    println!(
        "communicate: {:?} (returncode {:?})",
        String::from_utf8_lossy(&stdout),
        p.returncode()
    );

    // Or use the pipes as std::io::Write / std::io::Read.
    let mut cat = ubuntu.run("cat").popen()?;
    let stdin = cat.stdin().expect("piped");
    stdin.write_all(b"line 1\nline 2\n")?;
    stdin.close()?;
    let mut text = String::new();
    cat.stdout().expect("piped").read_to_string(&mut text)?;
    println!(
        "cat echoed {} lines, exit {}",
        text.lines().count(),
        cat.wait()?.code
    );

    // Anything the async API can do, through the escape hatch.
    let me = contree.call(|c| async move { c.whoami().await })?;
    println!("token may spawn: {}", me.can("spawn"));
    Ok(())
}
