//! Shared helpers for the integration tests.
//!
//! [`setup`] connects to the mock server named by `CONTREE_TEST_BASE_URL` (as `cargo xtask
//! test` sets it; token `test-token`, project `test-project`) or, when unset, starts one in
//! process. [`setup_local`] always starts one in process, for tests that need a custom
//! server (faults, limits, permissions, tokens) or its request counters.

use std::time::Duration;

use contree::Contree;
use contree_mock::{MockServer, MockServerBuilder};

/// The token of the mock binary started by `cargo xtask test`.
pub const TEST_TOKEN: &str = "test-token";
/// The project of the mock binary started by `cargo xtask test`.
pub const TEST_PROJECT: &str = "test-project";

/// A client connected to a mock server (kept alive as long as this value).
pub struct TestEnv {
    /// The client.
    pub contree: Contree,
    /// The in-process server, when one was started (None for an external mock).
    pub server: Option<MockServer>,
    /// The base URL of the server.
    pub base_url: String,
}

impl TestEnv {
    /// The in-process server; panics (test failure) for an external one.
    pub fn server(&self) -> &MockServer {
        self.server
            .as_ref()
            .expect("this test needs the in-process mock server")
    }

    /// Requests the in-process server received for `operation_id`, or `None` for an
    /// external server.
    pub fn count(&self, operation_id: &str) -> Option<u64> {
        self.server.as_ref().map(|s| s.request_count(operation_id))
    }
}

/// The external mock's base URL, if `CONTREE_TEST_BASE_URL` is set.
pub fn external_base_url() -> Option<String> {
    std::env::var("CONTREE_TEST_BASE_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// A client builder with the test defaults (explicit credentials; no env or auth.ini).
pub fn client_builder(
    base_url: &str,
    token: &str,
    project: Option<&str>,
) -> contree::ContreeBuilder {
    let mut b = Contree::builder()
        .base_url(base_url)
        .token(token)
        .wait_margin(Duration::from_secs(30))
        .default_run_timeout(Duration::from_secs(60));
    if let Some(p) = project {
        b = b.project(p);
    }
    b
}

/// Connects to the external mock if configured, else starts one in process.
pub async fn setup() -> TestEnv {
    if let Some(url) = external_base_url() {
        let contree = client_builder(&url, TEST_TOKEN, Some(TEST_PROJECT))
            .build()
            .expect("client for the external mock");
        return TestEnv {
            contree,
            server: None,
            base_url: url,
        };
    }
    setup_local(MockServer::builder()).await
}

/// Starts an in-process mock from `builder` (latency forced to zero) and connects to it.
pub async fn setup_local(builder: MockServerBuilder) -> TestEnv {
    let server = builder.latency(Duration::ZERO).start().await;
    let contree = client_builder(server.base_url(), server.token(), server.project())
        .build()
        .expect("client for the in-process mock");
    TestEnv {
        base_url: server.base_url().to_string(),
        contree,
        server: Some(server),
    }
}

pub mod scenario;

/// The workspace README: its Rust examples are compiled as doc tests of this crate.
#[doc = include_str!("../../README.md")]
pub mod readme {}

/// contree-mock's README: its Rust examples (the rules example among them) are compiled, and run,
/// as doc tests of this crate.
#[doc = include_str!("../../crates/contree-mock/README.md")]
pub mod mock_readme {}
