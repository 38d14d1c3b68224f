//! ConTree wire types and sans-IO request builders, generated from the OpenAPI spec.
//!
//! Generated code lives in `src/generated/` (written by `cargo xtask codegen`, never edited by
//! hand); hand-written helpers live beside it. See the crate README for the naming rules.
//!
//! - [`types`]: one Rust type per schema of the spec (and per inline shape).
//! - [`ops`] and [`OPERATIONS`]: the operation table the transport uses for retry decisions.
//! - [`requests`]: per operation, a request type that builds an `http::Request<Bytes>` with a
//!   URI relative to `{base}/v1`, and a parser for the `http::Response<Bytes>`.
//!
//! ```
//! use contree_proto::{ops, types::OperationResponse};
//! assert_eq!(ops::GET_OPERATION_STATUS.path, "/operations/{operationId}");
//! let op: OperationResponse = serde_json::from_str(r#"{"kind":"instance","status":"RUNNING_LATER"}"#).unwrap();
//! assert_eq!(op.status.unwrap().as_str(), "RUNNING_LATER");
//! ```

#[rustfmt::skip]
mod generated;
mod de;
pub mod image_ref;
pub mod json;
mod lenient;
mod meta;
pub mod mode;
mod nullable;
pub mod query;
mod request;
pub mod response;
mod secret;
mod status;
pub mod stream;
pub mod timestamp;

pub use generated::ops::OPERATIONS;
pub use generated::{ops, requests, types};
pub use meta::OperationMeta;
pub use nullable::Nullable;
pub use request::{BuildError, Request};
pub use secret::SecretString;

#[cfg(test)]
mod tests;
