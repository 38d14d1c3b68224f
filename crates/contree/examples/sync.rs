//! Sync: upload a working tree once, re-sync only what changed, run with the map.
//!
//! ```sh
//! cargo run --example sync
//! ```

#[path = "common/mod.rs"]
mod common;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;

    // A working tree (made up here; point it at your own).
    let tree = tempfile::tempdir()?;
    let root = tree.path();
    std::fs::create_dir_all(root.join("src"))?;
    std::fs::create_dir_all(root.join("node_modules/left-pad"))?;
    for i in 0..50 {
        std::fs::write(root.join(format!("src/mod{i}.py")), format!("N = {i}\n"))?;
    }
    std::fs::write(
        root.join("node_modules/left-pad/index.js"),
        "module.exports = 1\n",
    )?;
    std::fs::write(root.join(".gitignore"), "*.log\n")?;
    std::fs::write(root.join("debug.log"), "noise\n")?;
    std::fs::write(root.join(".env"), "API_TOKEN=do-not-upload\n")?;
    // A file modified within 2 s of a sync is hashed again by the next one (git's racy-clean
    // rule: its cache entry cannot vouch for it). This made-up tree was written a moment
    // ago, so date it an hour back, like a checkout nobody has touched lately.
    backdate(root)?;

    // The upload cache lives under the profile's configuration directory by default;
    // this example keeps its own.
    let state = tempfile::tempdir()?;
    let sync = || {
        contree
            .files()
            .sync_dir(root, "/work")
            .exclude("*.tmp")
            .cache_file(state.path().join("uploads.json"))
            .progress(|done, total| {
                if done == total {
                    println!("  {done}/{total} files");
                }
            })
    };

    let map = sync().await?;
    let r = map.report();
    println!(
        "first sync: {} files, {} hashed, {} uploaded",
        r.files, r.hashed, r.uploaded
    );
    for s in &r.skipped {
        println!("  skipped {}: {}", s.path, s.reason);
    }

    std::fs::write(root.join("src/mod7.py"), "N = 'seven'\n")?;
    let map = sync().await?;
    let r = map.report();
    println!(
        "re-sync after one edit: {} hashed, {} uploaded",
        r.hashed, r.uploaded
    );
    assert_eq!((r.hashed, r.uploaded), (1, 1));

    let ubuntu = contree.images().use_tag("ubuntu:latest");
    let out = ubuntu
        .shell("cat /work/src/mod7.py; ls /work/src | wc -l")
        .files(&map)
        .await?
        .check()?;
    print!("{}", out.stdout_lossy());
    Ok(())
}

/// Sets the mtime of every file under `dir` to an hour ago.
fn backdate(dir: &std::path::Path) -> std::io::Result<()> {
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            backdate(&path)?;
        } else {
            std::fs::File::options()
                .write(true)
                .open(&path)?
                .set_modified(hour_ago)?;
        }
    }
    Ok(())
}
