//! `contree-mcp`: an MCP server for ConTree sandboxes on the official Rust MCP SDK
//! (`rmcp`), with the tools, parameters and defaults of the official Python server
//! (`contree-mcp` 0.5.0).
//!
//! The binary (`contree-mcp`) serves stdio by default, or streamable HTTP with
//! `--http 127.0.0.1:PORT`. The library exposes the server for embedding:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let contree = contree::Contree::from_env()?;
//! let server = contree_mcp::ContreeMcp::new(contree, contree_mcp::Exposure::Stdio, None)?;
//! contree_mcp::serve_stdio(server).await?;
//! # Ok(()) }
//! ```

mod guide;
mod import;
mod ops;
mod registry;
mod resources;
mod rsync;
mod server;
mod tools;
mod transport;
pub mod types;

pub use rsync::{PRUNE_AFTER, REVALIDATE_AFTER};
pub use server::{ContreeMcp, Exposure};
pub use transport::{HttpOptions, serve_http, serve_stdio};

/// The 19 tool names, as the official server registers them.
pub const TOOL_NAMES: [&str; 19] = [
    "run",
    "import_image",
    "registry_token_obtain",
    "registry_auth",
    "list_images",
    "get_image",
    "set_tag",
    "rsync",
    "upload",
    "download",
    "list_files",
    "read_file",
    "grep",
    "get_operation",
    "list_operations",
    "wait_operations",
    "cancel_operation",
    "whoami",
    "get_guide",
];
