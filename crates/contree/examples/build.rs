//! Build: a small environment built twice; the second build is all cache hits (no VM).
//!
//! ```sh
//! cargo run --example build
//! ```

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use contree::build::{Build, LayerCache, LocalCache, TagCache};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (contree, _target) = common::connect().await?;

    // A project to build from (made up here; point `context` at your own).
    let project = tempfile::tempdir()?;
    std::fs::write(
        project.path().join("requirements.txt"),
        "requests==2.32.3\n",
    )?;
    std::fs::write(project.path().join("app.sh"), "echo \"app $APP_MODE\"\n")?;

    // By default the local layer cache lives under the profile's configuration directory;
    // this example keeps its own. The server-side cache (image tags) is shared by every
    // machine of the namespace.
    let cache = tempfile::tempdir()?;
    let caches: Vec<Arc<dyn LayerCache>> = vec![
        Arc::new(LocalCache::new(cache.path())),
        Arc::new(TagCache::new()),
    ];

    let build = Build::from(&contree, "ubuntu:latest")
        .context(project.path())
        .arg("APP_MODE", "prod")
        .env("PIP_NO_CACHE_DIR", "1")
        .workdir("/app")
        .copy("requirements.txt", "./")
        .run("cat requirements.txt > installed.txt")
        .copy("app.sh", "./")
        .run("sh app.sh > banner.txt")
        .run("ls /app > listing.txt")
        .bake_env(true)
        .tag("example-env:1")
        .caches_dyn(caches);

    for round in ["first", "second"] {
        let built = build.clone().await?;
        println!(
            "{round} build: {} steps, {} cached, {} run → {}",
            built.steps.len(),
            built.hits(),
            built.misses(),
            common::short(built.image.id())
        );
        for step in &built.steps {
            let how = if step.cached { "cached" } else { "ran" };
            let first_line = step.instruction.lines().last().unwrap_or_default();
            println!("  [{how:>6}] {} {first_line}", &step.key[..12]);
        }
        if round == "second" {
            assert_eq!(
                built.misses(),
                0,
                "every step of the second build is a cache hit"
            );
            println!("every step of the second build was cached");
        }
    }

    let env = contree.images().get("example-env:1").await?;
    let out = env.shell("cat banner.txt").await?.check()?;
    print!("from the tagged image: {}", out.stdout_lossy());
    Ok(())
}
