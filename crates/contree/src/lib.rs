//! The ConTree SDK for Rust: branching sandboxes for agents.
//!
//! ConTree runs commands in VMs started from container images. Every run that changes
//! the filesystem, environment or working directory makes a new immutable image version (a
//! UUID) that you can run from again, tag, inspect, or follow as a [`Session`]; a run that
//! changes nothing yields its parent's UUID (the service's behaviour). The client is async (Tokio);
//! [`blocking`] offers the same API for ordinary threads.
//!
//! # The first five minutes
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> contree::Result<()> {
//! # let mock = contree_mock::MockServer::start().await;
//! # let env = std::sync::Arc::new(contree::auth::MapEnv::from_iter([
//! #     ("NEBIUS_API_KEY", mock.token().to_string()),
//! #     ("NEBIUS_PROJECT_ID", mock.project().unwrap_or_default().to_string()),
//! #     ("CONTREE_BASE_URL", mock.base_url().to_string()),
//! #     ("HOME", "/nonexistent".to_string()),
//! # ]));
//! // Contree::from_env() reads the process environment and auth.ini;
//! // here the environment is given explicitly.
//! let contree = contree::Contree::builder().env(env).build()?;
//! let images = contree.images().list().await?;             // one page; .stream() for all
//! let ubuntu = contree.images().use_tag("ubuntu:latest");  // no API call; resolved when used
//! let out = ubuntu.shell("echo hello").await?;             // the run's resulting version
//! println!("{} exit={}", out.stdout_lossy(), out.exit_code());
//! let next = out.kept_image()?.shell("ls /").await?;       // chain from it
//! # assert_eq!(out.stdout_str()?, "hello\n");
//! # assert_eq!(next.exit_code(), 0);
//! # let _ = images;
//! # Ok(()) }
//! ```
//!
//! # Advanced quick start
//!
//! The official Python SDK's advanced quick start (files, stdin, reusing a prepared run,
//! chaining results, sessions, inspecting and downloading files, tags), in Rust:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> contree::Result<()> {
//! # let mock = contree_mock::MockServer::start().await;
//! # let contree = contree::Contree::builder()
//! #     .base_url(mock.base_url())
//! #     .token(mock.token())
//! #     .project(mock.project().unwrap_or_default())
//! #     .build()?;
//! # let local_dir = tempfile::tempdir().expect("a temporary directory");
//! use contree::FileSpec;
//!
//! // Use the image if it is already there, else import it from its registry.
//! let alpine = contree.images().oci("alpine:3.20").await?;
//!
//! // A run is a value: configure it once, await it as often as you like.
//! let greet = alpine
//!     .shell("sh /app/greet.sh")
//!     .file_spec(FileSpec::new("/app/greet.sh", b"read name; echo \"hello, $name\" from $PLACE\n".to_vec()).mode(0o755))
//!     .env("PLACE", "contree")
//!     .cwd("/app")
//!     .stdin("world\n");
//! let first = greet.clone().await?;
//! let again = greet.await?;
//! assert_eq!(first.stdout_str()?, "hello, world from contree\n");
//! assert_eq!(first.stdout(), again.stdout());
//!
//! // Every run that changes something makes a new version; chain from any of them.
//! let v1 = alpine.shell("echo 1 > /version").await?.into_kept_image()?;
//! let v2 = v1.shell("echo 2 >> /version").await?.into_kept_image()?;
//! // A run that changes nothing keeps its parent's UUID.
//! assert_eq!(v2.shell("cat /version").await?.kept_image()?.id(), v2.id());
//! assert_eq!(v2.read_to_string("/version").await?, "1\n2\n");
//! assert_eq!(v1.read_to_string("/version").await?, "1\n"); // v1 is unchanged
//!
//! // A session moves to the newest version after each run.
//! let session = v2.session();
//! session.shell("mkdir -p /results && echo 42 > /results/answer.txt").await?;
//! let out = session.shell("cat /results/answer.txt").await?.check()?;
//! assert_eq!(out.stdout_lossy().trim(), "42");
//!
//! // Inspect files without starting a VM, and download into a directory.
//! let current = session.current();
//! for entry in current.ls("/results").await? {
//!     println!("{} {} bytes", entry.path, entry.size);
//! }
//! let saved = current.download("/results/answer.txt", local_dir.path()).await?;
//! assert_eq!(saved, local_dir.path().join("answer.txt"));
//!
//! // Name a version with a tag, and find it again later.
//! let tagged = current.tag_as("my-results:1").await?;
//! assert_eq!(contree.images().get("my-results:1").await?.id(), tagged.id());
//! # Ok(()) }
//! ```
//!
//! # What is where
//!
//! - [`Contree`]: the client ([`Contree::builder`], [`Contree::from_env`], [`Contree::whoami`]).
//! - [`Images`]: list (page or stream), [`use_tag`](Images::use_tag)/[`use_uuid`](Images::use_uuid)
//!   (lazy), [`get`](Images::get) (strict), [`oci`](Images::oci) (use or import),
//!   [`import`](Images::import).
//! - [`Image`]: a version. [`shell`](Image::shell)/[`run`](Image::run) give a [`Run`] builder;
//!   awaiting it returns a [`RunOutput`]. Tag with [`tag_as`](Image::tag_as); inspect files
//!   with [`ls`](Image::ls), [`read`](Image::read), [`download`](Image::download),
//!   [`archive`](Image::archive), [`grep`](Image::grep), [`exists`](Image::exists),
//!   [`stat`](Image::stat).
//! - [`Session`]: follows the newest version after each run; serialised, never stuck.
//! - [`Files`]: uploads deduplicated by sha256, existence checks, listing.
//! - Live output: [`Run::stream`] yields [`RunEvent`]s (stdout/stderr chunks as they are
//!   produced, exit, completion, then the [`RunOutput`]); [`Run::start`] returns a detached
//!   [`RunHandle`] (events, wait, cancel), re-attachable from its id with
//!   [`Operations::attach`].
//! - Interactive processes: [`Run::spawn`] gives a [`Process`] (stdin as `AsyncWrite`,
//!   stdout/stderr as `AsyncRead`, [`kill`](Process::kill), [`wait`](Process::wait));
//!   [`Exec`] runs subprocesses inside a running VM.
//! - Fan-out: [`Contree::fan_out`] runs many [`Run`]s with a concurrency bound, results as
//!   they finish ([`FanOut`]); [`Operations::wait_all`]/[`Operations::wait_any`].
//! - [`Operations`]: get, list (page or stream, with filters), cancel, wait with a
//!   deadline, typed [`Event`] streams.
//! - [`Error`]: one opaque error with [`ErrorKind`] and predicates.
//! - [`blocking`]: the same API without async (iterators for streams, `std::io` for
//!   pipes, a `subprocess`-like [`blocking::Popen`]).
//!
//! # Waiting for runs
//!
//! Awaiting a run spawns it, then follows the operation's event stream until its
//! `completion` event (resuming across dropped connections) and fetches the final result
//! once. It does not poll, except when the token may not follow events (HTTP 403), or in
//! the unlikely case the final fetch still shows the operation running: then it polls
//! `GET /operations/{id}` with a growing interval (0.2 s to 5 s) that honours `Retry-After`.
//! Imports are waited for by polling, as the service documents no event log for them.
//! The client's wait deadline is the run's server-side timeout plus a margin
//! ([`ContreeBuilder::wait_margin`]), so it never gives up before the server does; if the
//! deadline passes anyway, the client asks the server to cancel the operation.
//!
//! # Errors
//!
//! Every fallible call returns [`Result`] with one opaque [`Error`]; see [`ErrorKind`] and
//! the predicates. The errors of every call that talks to the server are: `Auth` (the
//! server answered 401 or 403), `Transport` (the request could not be delivered; see
//! [`Error::may_have_taken_effect`]), `Timeout`, `Api` (another error status, retried first
//! when it is transient), `NotFound` (a 404), `ResponseTooLarge` and `Decode`. Each call's
//! own `# Errors` section names what else it can fail with, and when.
//!
//! # Cargo features
//!
//! - `blocking` (on by default): the [`blocking`] module, the same API for ordinary
//!   threads. It wraps the async client (one runtime thread per client), adds no
//!   dependencies, and mirrors every async method: `tests/blocking_parity.rs` fails when an
//!   async public method has no blocking counterpart. Turn it off with
//!   `default-features = false` if you only use the async client.
//! - `webpki-roots` (off by default): TLS trusts the platform's native roots, and with this
//!   feature also the Mozilla root set compiled into the binary (for scratch containers
//!   without a CA bundle).
//!
//! # Tracing
//!
//! Each request is a `contree.call` span (operation id of the API); each run a
//! `contree.run` span with the source `image`, `parent`, the `operation_id` and the
//! `result_image`; imports a `contree.import` span. Tokens and passwords never appear.

mod api;
#[cfg(feature = "blocking")]
pub mod blocking;
pub mod build;
mod client;
mod error;
mod events;
mod files;
mod image;
mod inspect;
pub mod lineage;
mod operations;
mod process;
mod run;
mod session;
pub mod sync;
mod util;

pub use client::{
    Contree, ContreeBuilder, DEFAULT_RUN_TIMEOUT, DEFAULT_UPLOAD_CONCURRENCY, DEFAULT_WAIT_MARGIN,
    WhoAmI,
};
pub use error::{Error, ErrorKind, Result};
pub use events::{Completion, Event, EventKind, ExitStatus, StdStream, Truncation};
pub use files::{FileInfo, Files, ListFiles, ProgressFn, Upload, UploadSource, UploadedFile};
pub use image::{
    DEFAULT_IMPORT_TIMEOUT, Image, ImageId, Images, ImportImage, ListImages, OciReference,
};
pub use inspect::{Archive, DirEntry, EntryKind, Grep, GrepCase, GrepMatch, GrepResult, Submatch};
pub use operations::{
    ListOperations, OperationInfo, OperationKind, OperationStatus, Operations, RunHandle,
};
pub use process::{Exec, ExecOutput, OutputReader, Process, ProcessStdin, Signal};
pub use run::{
    DEFAULT_FAN_OUT_CONCURRENCY, FanOut, FanOutResult, FanOutStream, FileSource, FileSpec,
    Resources, Run, RunEvent, RunOutput,
};
pub use session::Session;
pub use util::{BoxFuture, BoxStream, TimeFilter};

/// Credential types and resolution (the `contree-auth` crate).
pub use contree_auth as auth;
/// The rule for plain `http://`: the client sends a token over it only to a loopback host
/// (`localhost`, `127.0.0.0/8`, `::1`), so tools that build their own URLs can apply the
/// same rule.
///
/// ```
/// assert!(contree::is_loopback_host("127.0.0.1"));
/// assert!(contree::is_loopback_host("[::1]"));
/// assert!(!contree::is_loopback_host("127.0.0.1.example.com"));
/// ```
pub use contree_transport::is_loopback_host;
/// Request timeouts and the retry policy of the transport.
pub use contree_transport::{RetryConfig, Timeouts};
/// The HTTP status of an API error ([`Error::status`]), re-exported so callers need not
/// depend on `http`.
///
/// ```
/// # fn demo(err: contree::Error) {
/// if err.status() == Some(contree::StatusCode::TOO_MANY_REQUESTS) {
///     // back off
/// }
/// # }
/// ```
pub use http::StatusCode;
/// The timestamp type of [`Image::created_at`] (the `time` crate's), re-exported so callers
/// need not depend on `time`.
///
/// ```
/// let t = contree::OffsetDateTime::UNIX_EPOCH;
/// assert_eq!(t.unix_timestamp(), 0);
/// ```
pub use time::OffsetDateTime;
