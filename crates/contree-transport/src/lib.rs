//! The hyper client behind the ConTree SDK: TLS, auth, retries, timeouts, SSE and streaming.
//!
//! - [`Transport`]: a pooled hyper 1 client (HTTP/1.1 + HTTP/2 via ALPN, rustls with `ring`)
//!   that adds credentials and the SDK's `User-Agent`, decodes gzip, retries what is safe to
//!   retry ([`retry::classify`]) and applies four [`Timeouts`].
//! - [`Transport::send`] buffers the response; [`Transport::send_streaming`] hands out a
//!   [`ResponseBody`] stream (also usable as `AsyncRead`).
//! - [`Transport::events`] / [`Transport::open_events`]: the resumable SSE [`EventStream`].
//! - [`sse::SseDecoder`]: the incremental WHATWG SSE decoder underneath.
//! - [`check_base_url`] / [`is_loopback_host`]: the one owner of the rule "plain `http://`
//!   only to loopback" (a parsed host, no userinfo), applied before any connection.
//! - [`retry::TooEarly`]: the short schedule on which a 425 is asked again (no one-second
//!   floor while an operation is still PENDING).
//!
//! # Cargo features
//!
//! - `webpki-roots` (off by default): also trust the Mozilla root set compiled into the
//!   binary (for scratch containers without a CA bundle); the platform's native roots are
//!   loaded either way.
//!
//! ```no_run
//! use std::sync::Arc;
//! use contree_auth::{Credentials, SecretToken, StaticProvider};
//! use contree_transport::{Body, RequestOptions, Transport};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let creds = Credentials::builder(SecretToken::new("token"))
//!     .base_url("http://127.0.0.1:8080")
//!     .build()?;
//! let t = Transport::builder().credentials(Arc::new(StaticProvider::new(creds))).build()?;
//! let op = contree_proto::OperationMeta { id: "listImages", method: http::Method::GET,
//!     path: "/images", success: &[200], idempotent: true, streaming: false };
//! let resp = t.send(&op, http::Request::get("/images?limit=10").body(Body::empty())?,
//!     &RequestOptions::default()).await?;
//! assert!(resp.status().is_success());
//! # Ok(()) }
//! ```

mod base_url;
mod body;
mod config;
mod connector;
mod error;
mod events;
mod execute;
mod fetch;
mod pool;
mod response_body;
pub mod retry;
pub mod sse;
mod transport;

pub use base_url::{check_base_url, is_loopback_host, redact_url};
pub use body::{Body, BodyReader, Progress, ResponseBody};
pub use config::{DEFAULT_MAX_RESPONSE_BYTES, RequestOptions, RetryConfig, Timeouts};
pub use error::{Error, ErrorKind};
pub use events::{EventParams, EventStream, SseEvent};
pub use fetch::{Fetched, Validators, fetch_to_file};
pub use transport::{Transport, TransportBuilder, default_user_agent, join_url};
