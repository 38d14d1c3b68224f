//! ConTree wire types and sans-IO request builders, generated from the OpenAPI spec.
//!
//! Generated code lives in `src/generated/` (written by `cargo xtask codegen`, never edited by
//! hand); hand-written helpers live beside it.

mod meta;

pub use meta::OperationMeta;
