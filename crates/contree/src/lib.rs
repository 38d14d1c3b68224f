//! The ConTree SDK for Rust: branching sandboxes for agents, async and blocking.
