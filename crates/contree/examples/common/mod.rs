//! Shared by the examples: connect to ConTree when credentials are configured, else to
//! the embedded contree-mock (so every example runs on a fresh clone with no account).
//!
//! Order: `CONTREE_TEST_BASE_URL` (the mock that `cargo xtask test` starts), then the
//! usual credential resolution (explicit > `NEBIUS_API_KEY`/`CONTREE_*` env > `auth.ini`),
//! and when that finds no token at all, an in-process mock.

#![allow(dead_code)]

use contree_mock::MockServer;

/// Where the example is connected.
pub enum Target {
    /// Real ConTree, with the resolved credentials.
    ConTree,
    /// A mock server; `Some` when this process started it (kept alive while held).
    Mock(Option<MockServer>),
}

/// Token and project of the mock that `cargo xtask test` starts.
const TEST_TOKEN: &str = "test-token";
const TEST_PROJECT: &str = "test-project";

fn test_base_url() -> Option<String> {
    std::env::var("CONTREE_TEST_BASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

fn mock_builder(url: &str, token: &str, project: Option<&str>) -> contree::ContreeBuilder {
    let b = contree::Contree::builder().base_url(url).token(token);
    match project {
        Some(p) => b.project(p),
        None => b,
    }
}

/// What the credential chain finds: `Some` when a token is configured somewhere, `None`
/// when there is none at all; an error when the configuration is broken (shown, not
/// papered over with the mock).
fn configured_credentials() -> Result<Option<contree::auth::Credentials>, contree::auth::Error> {
    match contree::auth::DefaultChain::new().resolve() {
        Ok(creds) => Ok(Some(creds)),
        Err(e) if e.kind() == contree::auth::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn announce_embedded(url: &str) {
    println!(
        "No ConTree credentials found (NEBIUS_API_KEY / auth.ini): using the embedded contree-mock at {url}."
    );
}

/// An async client (and what it is connected to).
pub async fn connect() -> Result<(contree::Contree, Target), Box<dyn std::error::Error>> {
    if let Some(url) = test_base_url() {
        println!("Using the test mock at {url} (CONTREE_TEST_BASE_URL).");
        let c = mock_builder(&url, TEST_TOKEN, Some(TEST_PROJECT)).build()?;
        return Ok((c, Target::Mock(None)));
    }
    if let Some(creds) = configured_credentials()? {
        println!(
            "Using ConTree at {} (configured credentials).",
            creds.base_url()
        );
        let c = contree::Contree::builder().credentials(creds).build()?;
        return Ok((c, Target::ConTree));
    }
    let server = MockServer::start().await;
    announce_embedded(server.base_url());
    let c = mock_builder(server.base_url(), server.token(), server.project()).build()?;
    Ok((c, Target::Mock(Some(server))))
}

#[cfg(feature = "blocking")]
/// A blocking client (and what it is connected to).
pub fn connect_blocking() -> Result<(contree::blocking::Contree, Target), Box<dyn std::error::Error>>
{
    if let Some(url) = test_base_url() {
        println!("Using the test mock at {url} (CONTREE_TEST_BASE_URL).");
        let c = mock_builder(&url, TEST_TOKEN, Some(TEST_PROJECT)).build()?;
        return Ok((
            contree::blocking::Contree::from_async(c)?,
            Target::Mock(None),
        ));
    }
    if let Some(creds) = configured_credentials()? {
        println!(
            "Using ConTree at {} (configured credentials).",
            creds.base_url()
        );
        let c = contree::blocking::Contree::builder()
            .credentials(creds)
            .build()?;
        return Ok((c, Target::ConTree));
    }
    let server = MockServer::start_blocking();
    announce_embedded(server.base_url());
    let c = mock_builder(server.base_url(), server.token(), server.project()).build()?;
    Ok((
        contree::blocking::Contree::from_async(c)?,
        Target::Mock(Some(server)),
    ))
}

/// The first 8 characters of an image id, for compact output.
pub fn short(id: Option<impl AsRef<str>>) -> String {
    id.map(|s| s.as_ref().chars().take(8).collect())
        .unwrap_or_else(|| "?".into())
}
