//! Emission of the sans-IO request builders and response parsers.

use proc_macro2::TokenStream;
use quote::quote;

use super::model::Model;
use super::ops::Op;

/// The `requests` module body.
pub fn requests(_model: &Model, _ops: &[Op]) -> TokenStream {
    quote! {
        #![doc = " Sans-IO request builders and response parsers, one per operation."]
    }
}
