//! The tools' parameters and results: typed structs whose JSON Schemas are the tools'
//! `inputSchema` and `outputSchema`. Names and defaults follow the official server
//! (`contree-mcp` 0.5.0).

mod output;
mod params;

pub use output::*;
pub use params::*;
