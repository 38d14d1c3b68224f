//! Files: upload a local directory's files, run with them, download the results.
//!
//! ```sh
//! cargo run --example files
//! ```

#[path = "common/mod.rs"]
mod common;

use contree::FileSpec;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;
    let ubuntu = contree.images().oci("ubuntu:latest").await?;

    // A local project directory (made up here; point it at your own).
    let local = tempfile::tempdir()?;
    std::fs::write(local.path().join("data.csv"), "b,2\na,1\nc,3\n")?;
    std::fs::write(
        local.path().join("process.sh"),
        "sort /job/data.csv > /job/out/sorted.csv\nwc -l < /job/data.csv > /job/out/count.txt\n",
    )?;

    // Upload each file once (deduplicated by sha256) and place it in the VM.
    let mut run = ubuntu.shell("mkdir -p /job/out && sh /job/process.sh && ls /job/out");
    for entry in std::fs::read_dir(local.path())? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("file")
            .to_string();
        let uploaded = contree.files().upload(path.clone()).await?;
        println!("uploaded {name}: sha256 {}…", &uploaded.sha256()[..12]);
        let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
        run = run.file_spec(FileSpec::new(format!("/job/{name}"), uploaded).mode(mode));
    }
    let out = run.await?.check()?;
    println!(
        "the run produced: {}",
        out.stdout_lossy().trim_end().replace('\n', ", ")
    );
    let result = out.image().expect("kept");

    // Download one file, and the whole output directory (a tar, unpacked safely).
    let downloads = tempfile::tempdir()?;
    let sorted = result
        .download("/job/out/sorted.csv", downloads.path())
        .await?;
    println!(
        "downloaded {} = {:?}",
        sorted.display(),
        std::fs::read_to_string(&sorted)?
    );
    assert_eq!(std::fs::read_to_string(&sorted)?, "a,1\nb,2\nc,3\n");
    let n = result
        .archive("/job/out")
        .await?
        .extract_to(downloads.path().join("out"))
        .await?;
    println!(
        "extracted {n} entries of /job/out into {}",
        downloads.path().join("out").display()
    );
    Ok(())
}
