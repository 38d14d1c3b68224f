//! A spec-faithful local ConTree server for tests: versioned images, a simulated shell, live
//! events, fault injection.
//!
//! The server speaks the wire protocol of `../shared/spec/contree-openapi.yaml` (all 28
//! operations) on `127.0.0.1`, with content-addressed images (a run that changes nothing keeps
//! its image UUID), an in-memory filesystem per image, a deterministic simulated shell that never
//! touches the host, a live SSE event log per operation, and fault injection for the transport's
//! retry and resume paths.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use contree_mock::{FaultRule, MockServer};
//!
//! let server = MockServer::start().await;
//! // Clients append `/v1` to the base URL and send `Authorization: Bearer test-token`
//! // and `Project: test-project`.
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.token(), "test-token");
//! assert_eq!(server.project(), Some("test-project"));
//!
//! // The next two spawns are answered with 429 and `Retry-After: 1`.
//! server.inject(FaultRule::new(http::Method::POST, "/v1/instances").times(2).status(429).retry_after(1));
//! assert_eq!(server.request_count("spawnInstance"), 0);
//! server.shutdown().await;
//! # }
//! ```
//!
//! Commands run in the simulated shell unless a rule says otherwise:
//! [`MockServer::on_command`] answers matching commands with canned output, exit codes, file
//! writes and delays ([`CommandRule`]), [`MockServerBuilder::executor`] replaces the shell with
//! your own [`Executor`], and [`MockServer::commands`] records every command that ran.
//!
//! See the crate README for the supported operations, fault kinds, rules and the shell subset.

mod api;
mod conn;
mod events;
mod executor;
mod faults;
pub mod fs;
pub mod images;
mod import;
mod inspect;
mod instance;
mod profile;
mod respond;
mod router;
mod rules;
mod server;
pub mod shell;
mod spawn;
mod state;
mod tls;
mod util;
mod wire;

pub use executor::{ExecFuture, Executor, Process, ShellExecutor};
pub use faults::{CloseMode, FaultRule};
pub use profile::{OperationTiming, Profile, StateChange};
pub use rules::{Command, CommandFile, CommandRule};
pub use server::{
    DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_PROJECT, DEFAULT_TOKEN, MockServer, MockServerBuilder,
    PERMISSIONS, RecordedRequest,
};
