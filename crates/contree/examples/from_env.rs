//! The first ten minutes: a client from the environment with `Contree::from_env()`, and
//! nothing hidden (the other examples connect through `examples/common`).
//!
//! ```sh
//! export NEBIUS_API_KEY=...      # or CONTREE_TOKEN; or a profile in auth.ini (`contree auth`)
//! export NEBIUS_PROJECT_ID=...   # or CONTREE_PROJECT, for an IAM token
//! cargo run -p contree --example from_env
//! ```
//!
//! `from_env()` resolves the credentials as the official CLI does: the environment
//! (`NEBIUS_API_KEY`/`CONTREE_TOKEN`, `NEBIUS_PROJECT_ID`/`CONTREE_PROJECT`,
//! `CONTREE_BASE_URL`), then the profile of `auth.ini` (`CONTREE_PROFILE` or the default one).
//! With no token anywhere it fails with an `Auth` error that names every place it looked.
//!
//! Without an account, run it against a local contree-mock (its default token and project):
//!
//! ```sh
//! cargo run -p contree-mock -- --port 8080 &
//! CONTREE_BASE_URL=http://127.0.0.1:8080 NEBIUS_API_KEY=test-token \
//!     NEBIUS_PROJECT_ID=test-project cargo run -p contree --example from_env
//! ```
//!
//! The token is fixed once resolved, so a rejected token (HTTP 401) fails at once with one
//! request, as an error whose `is_auth()` is true.

use contree::Contree;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let contree = Contree::from_env()?;

    // Who the token is.
    let me = contree.whoami().await?;
    println!("token {} may spawn: {}", me.token_uuid(), me.can("spawn"));

    // A run: a new sandbox from the image, the command, its output.
    let out = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo hello from from_env")
        .await?;
    println!(
        "exit {}: {}",
        out.exit_code(),
        out.stdout_lossy().trim_end()
    );

    // Errors have kinds and predicates: a missing image is `is_not_found()`.
    match contree
        .images()
        .use_tag("no-such-image:latest")
        .shell("true")
        .await
    {
        Err(e) if e.is_not_found() => println!("no such image, as expected: {e}"),
        Err(e) => return Err(e.into()),
        Ok(_) => return Err("a run from a missing image succeeded".into()),
    }
    Ok(())
}
