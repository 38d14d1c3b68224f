//! Preloaded image filesystems and the built-in registry catalogue used by image import.

use crate::fs::Fs;

/// The public tags present when the server starts, with their filesystems.
pub fn preloaded() -> Vec<(&'static str, Fs)> {
    vec![
        ("ubuntu:latest", Fs::new()),
        ("busybox:latest", Fs::new()),
        ("python:3.12", Fs::new()),
        ("alpine:latest", Fs::new()),
    ]
}

/// What `import` can fetch: normalised references (e.g. `docker.io/library/alpine:3.20`)
/// with their filesystems.
pub fn registry_catalogue() -> Vec<(&'static str, Fs)> {
    vec![("docker.io/library/alpine:3.20", Fs::new())]
}
