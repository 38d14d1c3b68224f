//! Profiles: credentials from `auth.ini` (the file the official `contree` CLI writes).
//!
//! ```sh
//! cargo run --example from_profile            # uses a throw-away auth.ini
//! CONTREE_PROFILE=work cargo run --example from_profile
//! ```
//!
//! It lists the profiles of your own `auth.ini` (read only), then writes a temporary
//! `auth.ini` with a profile pointing at a ConTree endpoint (the embedded mock when you
//! have no credentials) and builds a client from that profile by name.

#[path = "common/mod.rs"]
mod common;

use contree::auth::{AuthKind, Profile, ProfileStore, SecretToken};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Your own auth.ini, if any (never modified here).
    match ProfileStore::open_default() {
        Ok(store) if store.path().exists() => {
            println!("your auth.ini: {}", store.path().display());
            println!(
                "  profiles: {:?}, default: {:?}",
                store.list()?,
                store.default_profile()?
            );
        }
        _ => println!("you have no auth.ini yet (the `contree` CLI or ProfileStore writes one)"),
    }

    // An endpoint to point a profile at: the mock (embedded or the test one).
    let (url, token, project, _mock) = match std::env::var("CONTREE_TEST_BASE_URL") {
        Ok(url) if !url.trim().is_empty() => (
            url,
            "test-token".to_string(),
            Some("test-project".to_string()),
            None,
        ),
        _ => {
            let server = contree_mock::MockServer::start().await;
            println!(
                "Using the embedded contree-mock at {} for the demo profile.",
                server.base_url()
            );
            (
                server.base_url().to_string(),
                server.token().to_string(),
                server.project().map(str::to_string),
                Some(server),
            )
        }
    };

    // Write a profile, make it the default, and build a client from it by name.
    let dir = tempfile::tempdir()?;
    let store = ProfileStore::new(dir.path().join("auth.ini"));
    let mut profile = Profile::new("demo");
    profile.url = Some(url);
    profile.token = Some(SecretToken::new(token));
    profile.project = project;
    profile.kind = Some(AuthKind::Iam);
    store.write(&profile)?;
    store.set_default("demo")?;
    println!(
        "wrote {}:\n{}",
        store.path().display(),
        redact(&std::fs::read_to_string(store.path())?)
    );

    let contree = contree::Contree::builder()
        .auth_file(store.path())
        .profile("demo")
        .build()?;
    let me = contree.whoami().await?;
    println!(
        "profile `demo` works: token {} may spawn: {}",
        me.token_uuid(),
        me.can("spawn")
    );
    let out = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo via profile")
        .await?;
    println!("ran: {}", out.stdout_lossy().trim_end());
    Ok(())
}

/// Hides the token when printing the file.
fn redact(ini: &str) -> String {
    ini.lines()
        .map(|l| {
            if l.trim_start().starts_with("token") {
                "token = <redacted>".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
