//! Tests of every operation of the mock, driven by a raw HTTP client; every JSON body is
//! validated against the spec's schemas.

mod common;
mod schema;

mod auth;
mod binary;
mod events;
mod faults;
mod fidelity;
mod files;
mod images;
mod inspect;
mod instances;
mod operations;
mod profile;
mod proto;
mod python;
mod rules;
mod subprocesses;
mod tls;
