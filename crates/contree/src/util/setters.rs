//! Shared option lists: one list per builder, read by the async builder and its blocking
//! twin, so an option cannot exist on one side only.
//!
//! A list is a macro, `<type>_options!`, that hands its entries to the macro named by its
//! argument. Each entry is a setter written once:
//!
//! ```text
//! /// Docs (shown on both sides).
//! fn name(mut self, arg: Type, ..) { body that updates self }
//! ```
//!
//! [`define_setters!`] turns the entries into the async builder's methods
//! (`pub fn name(mut self, ..) -> Self { body; self }`); the blocking module's
//! `forward_setters!` turns the same entries into methods that call them on the async
//! builder it wraps. `crates/contree/tests/blocking_parity.rs` checks the rest of the API.

/// Emits the async setters of an option list (see the module docs).
macro_rules! define_setters {
    ($(
        $(#[$meta:meta])*
        fn $name:ident (mut $this:ident $(, $arg:ident : $ty:ty)* $(,)?) $body:block
    )*) => {
        $(
            $(#[$meta])*
            pub fn $name(mut $this $(, $arg: $ty)*) -> Self {
                $body
                $this
            }
        )*
    };
}
pub(crate) use define_setters;
