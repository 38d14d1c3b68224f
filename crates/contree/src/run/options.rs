//! The options of a [`Run`]: one list for the async builder and the blocking
//! [`blocking::Run`](crate::blocking::Run) (see `util::setters`).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::Run;
use super::spec::{FileSpec, Stdin};
use crate::util::define_setters;

/// The by-value options of [`Run`], each written once.
macro_rules! run_options {
    ($emit:ident) => {
        $emit! {
        /// Adds one argument (for [`Image::run`](crate::Image::run); a shell script takes none).
        fn arg(mut self, arg: impl Into<String>) {
            self.spec.args.push(arg.into());
        }

        /// Sets an environment variable (merged with the image's env for shell runs).
        fn env(mut self, key: impl Into<String>, value: impl Into<String>) {
            self.spec
                .env
                .get_or_insert_with(BTreeMap::new)
                .insert(key.into(), value.into());
        }

        /// Working directory (absolute; created if missing).
        fn cwd(mut self, cwd: impl Into<String>) {
            self.spec.cwd = Some(cwd.into());
        }

        /// Runs as this uid.
        fn uid(mut self, uid: u32) {
            self.spec.uid = Some(uid);
        }

        /// Runs with this gid.
        fn gid(mut self, gid: u32) {
            self.spec.gid = Some(gid);
        }

        /// The VM's hostname.
        fn hostname(mut self, hostname: impl Into<String>) {
            self.spec.hostname = Some(hostname.into());
        }

        /// Feeds these bytes (or this text) on stdin. Each await of a clone sends them again.
        fn stdin(mut self, data: impl AsRef<[u8]>) {
            self.spec.stdin = Some(Stdin::Bytes(Bytes::copy_from_slice(data.as_ref())));
        }

        /// Feeds the content of a local file on stdin (read when the run starts).
        fn stdin_file(mut self, path: impl Into<std::path::PathBuf>) {
            self.spec.stdin = Some(Stdin::File(path.into()));
        }

        /// Places a file (mode `0644`, owned by root) at absolute path `dest` before running.
        fn file(mut self, dest: impl Into<String>, source: impl Into<crate::FileSource>) {
            self.spec.files.push(FileSpec::new(dest, source));
        }

        /// Places a file with explicit mode and owner.
        fn file_spec(mut self, spec: crate::FileSpec) {
            self.spec.files.push(spec);
        }

        /// Server-side time limit of the command (default: the client's default run timeout).
        /// The client waits this plus its wait margin, so it never gives up before the server.
        fn timeout(mut self, timeout: std::time::Duration) {
            self.spec.timeout = Some(timeout);
        }

        /// Whether to discard the result (default `false`: every run yields a new image).
        fn disposable(mut self, disposable: bool) {
            self.spec.disposable = disposable;
        }

        /// Caps captured stdout and stderr at this many bytes each (server default 1 MiB,
        /// max 10 MiB); see [`RunOutput::stdout_truncated`](crate::RunOutput::stdout_truncated).
        fn truncate_output_at(mut self, bytes: u64) {
            self.spec.truncate_output_at = Some(bytes);
        }

        /// Network access on or off (server default: on).
        fn networking(mut self, enabled: bool) {
            self.spec.networking = Some(enabled);
        }

        /// Largest image layer the run may write, in bytes.
        fn max_layer_bytes(mut self, bytes: u64) {
            self.spec.max_layer_bytes = Some(bytes);
        }

        /// Saves the merged environment into the resulting image.
        fn preserve_env(mut self, preserve: bool) {
            self.spec.preserve_env = preserve;
        }

        /// Saves the working directory as the resulting image's default.
        fn preserve_cwd(mut self, preserve: bool) {
            self.spec.preserve_cwd = preserve;
        }

        /// Tags the resulting image.
        fn tag(mut self, tag: impl Into<String>) {
            self.spec.tag = Some(tag.into());
        }
        }
    };
}
#[cfg(feature = "blocking")]
pub(crate) use run_options;

impl Run {
    run_options!(define_setters);
}
