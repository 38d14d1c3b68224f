//! A spec-faithful local ConTree server for tests: versioned images, a simulated shell, live events, fault injection.

pub mod fs;
pub mod images;
pub mod shell;
