//! A blocking client: the async API, callable from ordinary threads.
//!
//! [`blocking::Contree`](Contree) mirrors [`contree::Contree`](crate::Contree): the same
//! managers, builders and option names. Where the async API is awaited, a blocking builder
//! has one terminal method, `output()` ([`Run::output`], [`ListImages::output`], ...; the
//! older `send()` of lists, imports, uploads, grep and fan-out is a deprecated alias); where
//! it has a `Stream`, the method of the same name (`stream()`, `events()`) returns an
//! [`Iterator`] ([`Iter`]); where it has `AsyncRead`/`AsyncWrite`, a [`std::io::Read`]
//! ([`ByteReader`], [`ProcessOutput`]) or [`std::io::Write`] ([`ProcessStdin`]).
//! [`Run::popen`] gives a Python-`subprocess`-like [`Popen`].
//!
//! ```
//! # let mock = contree_mock::MockServer::start_blocking();
//! use contree::blocking::Contree;
//!
//! let contree = Contree::builder()
//! #   .base_url(mock.base_url()).token(mock.token()).project(mock.project().unwrap_or(""))
//!     .build()?;                                            // or Contree::from_env()?
//! let ubuntu = contree.images().use_tag("ubuntu:latest");
//! let out = ubuntu.shell("echo hello > /greeting; cat /greeting").output()?;
//! assert_eq!(out.stdout_str()?, "hello\n");
//! let next = out.image().expect("kept by default");
//! assert_eq!(next.read_to_string("/greeting")?, "hello\n");
//! # Ok::<(), contree::Error>(())
//! ```
//!
//! # How it works
//!
//! It is implemented once, on top of the async client (the model of `reqwest::blocking`):
//! the client owns one background thread, `contree-blocking-rt`, running a
//! current-thread Tokio runtime. Every call sends its future to that thread over a
//! channel and blocks on the answer. Clones share the thread; dropping the last clone
//! (including the last [`Iter`], [`Image`] or other handle made from it) stops and joins
//! it. Nothing in this module creates a runtime per call.
//!
//! # Inside an async runtime
//!
//! Calling the blocking client from async code does not panic (unlike `block_on` on a
//! runtime you own): the call runs on the client's own thread, and the calling thread,
//! a worker of your runtime, just waits. That stalls the other tasks of that worker, so
//! the first such call logs a one-time `tracing` warning. In async code, use the async
//! [`contree::Contree`](crate::Contree) instead (or wrap the call in
//! `tokio::task::spawn_blocking`).
//!
//! # Anything the async API can do
//!
//! [`Contree::call`] hands you the async client and blocks on the future you build with
//! it, so every async capability is reachable even where this module has no named
//! wrapper; [`Contree::block_on`] runs any `Send + 'static` future.
//!
//! ```
//! # let mock = contree_mock::MockServer::start_blocking();
//! # let contree = contree::blocking::Contree::builder()
//! #   .base_url(mock.base_url()).token(mock.token()).project(mock.project().unwrap_or(""))
//! #   .build()?;
//! let first_tag = contree.call(|c| async move {
//!     let images = c.images().list().tagged().await?;
//!     Ok::<_, contree::Error>(images.first().and_then(|i| i.tag().map(str::to_string)))
//! })?;
//! # assert!(first_tag.is_some());
//! # Ok::<(), contree::Error>(())
//! ```

mod build;
mod files;
mod images;
mod io;
mod live;
mod process;
mod run;
mod runtime;
mod sync;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::time::Duration;

use crate::WhoAmI;
use crate::error::Result;

pub use build::{Build, Built};
pub use files::{Files, ListFiles, Upload};
pub use images::{Archive, Grep, Image, Images, ImportImage, ListImages};
pub use io::{ByteReader, Iter};
pub use live::{FanOut, FanOutResult, ListOperations, Operations, RunHandle};
pub use process::{Exec, Popen, Process, ProcessOutput, ProcessStdin};
pub use run::{Run, RunOutput, Session};
pub use sync::{ChangedFiles, SyncDir};

use runtime::RuntimeThread;

/// Defines a blocking wrapper type around an async builder or handle.
macro_rules! wrapper {
    ($(#[$meta:meta])* $name:ident => $async:ident $(, $derive:ident)*) => {
        $(#[$meta])*
        $(#[derive($derive)])*
        pub struct $name {
            pub(crate) inner: crate::$async,
            pub(crate) client: crate::blocking::Contree,
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&self.inner, f)
            }
        }

        impl $name {
            #[doc = concat!("The async [`", stringify!($async), "`](crate::", stringify!($async), ") this wraps.")]
            pub fn into_async(self) -> crate::$async {
                self.inner
            }
        }
    };
}
pub(crate) use wrapper;

/// Forwards by-value builder methods of a wrapper to the async builder it wraps.
macro_rules! forward {
    // A type outside the crate root: `forward! { "crate::module::Type", Type: ... }`.
    ($path:literal, $async:ident: $( $name:ident ( $( $arg:ident : $ty:ty ),* ); )*) => {
        $(
            #[doc = concat!("See [`", stringify!($async), "::", stringify!($name), "`](", $path, "::", stringify!($name), ").")]
            pub fn $name(self, $( $arg: $ty ),*) -> Self {
                Self { inner: self.inner.$name($( $arg ),*), client: self.client }
            }
        )*
    };
    ($async:ident: $( $name:ident ( $( $arg:ident : $ty:ty ),* ); )*) => {
        $(
            #[doc = concat!("See [`", stringify!($async), "::", stringify!($name), "`](crate::", stringify!($async), "::", stringify!($name), ").")]
            pub fn $name(self, $( $arg: $ty ),*) -> Self {
                Self { inner: self.inner.$name($( $arg ),*), client: self.client }
            }
        )*
    };
}
pub(crate) use forward;

/// Turns async values into their blocking counterparts (an [`Image`](crate::Image)
/// into a blocking [`Image`], ...); plain data passes through.
pub(crate) trait IntoBlocking {
    type Output;
    fn into_blocking(self, client: &Contree) -> Self::Output;
}

impl<T: IntoBlocking> IntoBlocking for Result<T> {
    type Output = Result<T::Output>;
    fn into_blocking(self, client: &Contree) -> Self::Output {
        self.map(|v| v.into_blocking(client))
    }
}

impl<T: IntoBlocking> IntoBlocking for Option<T> {
    type Output = Option<T::Output>;
    fn into_blocking(self, client: &Contree) -> Self::Output {
        self.map(|v| v.into_blocking(client))
    }
}

impl<T: IntoBlocking> IntoBlocking for Vec<T> {
    type Output = Vec<T::Output>;
    fn into_blocking(self, client: &Contree) -> Self::Output {
        self.into_iter().map(|v| v.into_blocking(client)).collect()
    }
}

macro_rules! plain_data {
    ($($t:ty),* $(,)?) => {
        $(impl IntoBlocking for $t {
            type Output = $t;
            fn into_blocking(self, _: &Contree) -> $t {
                self
            }
        })*
    };
}
pub(crate) use plain_data;
plain_data!(
    (),
    bool,
    usize,
    String,
    bytes::Bytes,
    std::path::PathBuf,
    WhoAmI,
    crate::UploadedFile,
    crate::FileInfo,
    crate::DirEntry,
    crate::GrepResult,
);

/// The blocking ConTree client. Cheap to clone; clones share one runtime thread and
/// the async client's connections, concurrency limit and cached [`WhoAmI`].
///
/// ```no_run
/// # fn demo() -> contree::Result<()> {
/// let contree = contree::blocking::Contree::from_env()?;
/// for image in contree.images().list().tagged().stream() {
///     let image = image?;
///     let id = image.id().map_or_else(|| "?".to_string(), |id| id.to_string());
///     println!("{id} {}", image.tag().unwrap_or(""));
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Contree {
    client: crate::Contree,
    rt: Arc<RuntimeThread>,
}

impl fmt::Debug for Contree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Contree")
            .field(&self.client)
            .finish()
    }
}

impl Contree {
    /// Starts configuring a client (the same options as
    /// [`contree::Contree::builder`](crate::Contree::builder)).
    pub fn builder() -> ContreeBuilder {
        ContreeBuilder {
            inner: crate::Contree::builder(),
        }
    }

    /// A client from the environment and `auth.ini` (see
    /// [`contree::Contree::from_env`](crate::Contree::from_env)).
    pub fn from_env() -> Result<Self> {
        Self::builder().build()
    }

    /// Wraps an async client (sharing its connections and cache) and starts the runtime
    /// thread that drives it.
    pub fn from_async(client: crate::Contree) -> Result<Self> {
        Ok(Self {
            client,
            rt: Arc::new(RuntimeThread::start()?),
        })
    }

    /// The async client behind this one.
    pub fn async_client(&self) -> &crate::Contree {
        &self.client
    }

    /// Runs any future on the client's runtime thread and blocks until it finishes; a
    /// panic inside it is resumed here.
    ///
    /// ```
    /// # let mock = contree_mock::MockServer::start_blocking();
    /// # let contree = contree::blocking::Contree::builder()
    /// #   .base_url(mock.base_url()).token(mock.token()).project(mock.project().unwrap_or(""))
    /// #   .build()?;
    /// let image = contree.async_client().images().use_tag("ubuntu:latest");
    /// let out = contree.block_on(async move { image.shell("echo hi").await })?;
    /// assert_eq!(out.stdout_lossy(), "hi\n");
    /// # Ok::<(), contree::Error>(())
    /// ```
    pub fn block_on<F>(&self, future: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.rt.block_on(future)
    }

    /// Hands `f` (a clone of) the async client and blocks on the future it returns: the
    /// escape hatch that makes every async capability available in blocking code.
    pub fn call<F, Fut>(&self, f: F) -> Fut::Output
    where
        F: FnOnce(crate::Contree) -> Fut,
        Fut: Future + Send + 'static,
        Fut::Output: Send + 'static,
    {
        self.block_on(f(self.client.clone()))
    }

    /// Awaits an async builder on the runtime thread and converts the result.
    pub(crate) fn wait<B>(&self, builder: B) -> <B::Output as IntoBlocking>::Output
    where
        B: IntoFuture,
        B::IntoFuture: Send + 'static,
        B::Output: IntoBlocking + Send + 'static,
    {
        let out = self.block_on(builder.into_future());
        out.into_blocking(self)
    }

    /// Runs a clean-up future on the runtime thread without waiting for it.
    pub(crate) fn spawn_detached<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.rt.spawn_detached(future);
    }

    /// Images: list, use, import, tag (see [`Images`]).
    pub fn images(&self) -> Images {
        Images {
            inner: self.client.images(),
            client: self.clone(),
        }
    }

    /// Uploaded files: upload, check, list (see [`Files`]).
    pub fn files(&self) -> Files {
        Files {
            inner: self.client.files(),
            client: self.clone(),
        }
    }

    /// Who the token is: permissions, limits, expiry (see
    /// [`contree::Contree::whoami`](crate::Contree::whoami)).
    pub fn whoami(&self) -> Result<WhoAmI> {
        let c = self.client.clone();
        self.block_on(async move { c.whoami().await })
    }

    /// The [`WhoAmI`] fetched by the last [`whoami`](Self::whoami) call, if any.
    pub fn cached_whoami(&self) -> Option<WhoAmI> {
        self.client.cached_whoami()
    }

    /// The default server-side timeout of runs that set none.
    pub fn default_run_timeout(&self) -> Duration {
        self.client.default_run_timeout()
    }

    /// How much longer than a run's server-side timeout the client waits for it.
    pub fn wait_margin(&self) -> Duration {
        self.client.wait_margin()
    }

    /// The overall deadline of [`Operations::events`] and of the events of re-attached
    /// runs (see [`contree::Contree::events_deadline`](crate::Contree::events_deadline)).
    ///
    /// ```
    /// let contree = contree::blocking::Contree::builder()
    ///     .base_url("http://127.0.0.1:8080")
    ///     .token("t")
    ///     .events_deadline(std::time::Duration::from_secs(90))
    ///     .build()?;
    /// assert_eq!(contree.events_deadline().as_secs(), 90);
    /// # Ok::<(), contree::Error>(())
    /// ```
    pub fn events_deadline(&self) -> Duration {
        self.client.events_deadline()
    }
}

/// Builder for the blocking [`Contree`]: the options of
/// [`contree::ContreeBuilder`](crate::ContreeBuilder).
///
/// ```no_run
/// # fn demo() -> contree::Result<()> {
/// let contree = contree::blocking::Contree::builder()
///     .token("my-token")
///     .project("my-project")
///     .concurrency_limit(8)
///     .build()?;
/// # let _ = contree; Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct ContreeBuilder {
    inner: crate::ContreeBuilder,
}

/// Emits blocking setters from a shared option list (see `crate::util::setters`): each
/// calls the async setter of the same name on the wrapped builder (`inner`), carrying the
/// wrapper's blocking `client` along (`@bare`: a wrapper without one).
macro_rules! forward_setters {
    (@bare $(
        $(#[$meta:meta])*
        fn $name:ident (mut $this:ident $(, $arg:ident : $ty:ty)* $(,)?) $body:block
    )*) => {
        $(
            $(#[$meta])*
            pub fn $name(self $(, $arg: $ty)*) -> Self {
                Self { inner: self.inner.$name($($arg),*) }
            }
        )*
    };
    ($(
        $(#[$meta:meta])*
        fn $name:ident (mut $this:ident $(, $arg:ident : $ty:ty)* $(,)?) $body:block
    )*) => {
        $(
            $(#[$meta])*
            pub fn $name(self $(, $arg: $ty)*) -> Self {
                Self { inner: self.inner.$name($($arg),*), client: self.client }
            }
        )*
    };
}
pub(crate) use forward_setters;

/// `forward_setters!` for [`ContreeBuilder`], which wraps the async builder only.
macro_rules! forward_builder {
    ($($t:tt)*) => { $crate::blocking::forward_setters!(@bare $($t)*); };
}

impl ContreeBuilder {
    crate::client::builder_options!(forward_builder);

    /// Resolves credentials, builds the async client and starts the runtime thread.
    pub fn build(self) -> Result<Contree> {
        Contree::from_async(self.inner.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Contree {
        Contree::builder()
            .base_url("http://127.0.0.1:9")
            .token("t")
            .project("p")
            .build()
            .unwrap()
    }

    #[test]
    fn block_on_returns_the_value_and_clones_share_the_thread() {
        let c = client();
        let d = c.clone();
        let name =
            |c: &Contree| c.block_on(async { std::thread::current().name().map(str::to_string) });
        assert_eq!(name(&c).as_deref(), Some("contree-blocking-rt"));
        let t1 = c.block_on(async { std::thread::current().id() });
        let t2 = d.block_on(async { std::thread::current().id() });
        assert_eq!(t1, t2);
        assert_ne!(t1, std::thread::current().id());
    }

    #[test]
    fn a_panic_inside_the_future_is_resumed_on_the_caller() {
        let c = client();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.block_on(async { panic!("boom") })
        }));
        assert!(r.is_err());
        // The runtime thread survives.
        assert_eq!(c.block_on(async { 2 + 2 }), 4);
    }

    #[test]
    fn nested_blocking_call_on_the_runtime_thread_does_not_deadlock() {
        let c = client();
        let inner = c.clone();
        let v = c.block_on(async move { inner.block_on(async { 7 }) });
        assert_eq!(v, 7);
    }

    #[test]
    fn usable_inside_a_tokio_runtime_and_warns_once() {
        let c = client();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let v = rt.block_on(async { c.block_on(async { 40 + 2 }) });
        assert_eq!(v, 42);
        assert!(runtime::warned_in_runtime());
    }

    #[test]
    fn last_drop_joins_the_thread() {
        let c = client();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // A detached task that holds `tx` until the runtime is dropped.
        c.spawn_detached(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        let d = c.clone();
        drop(c);
        assert_eq!(d.block_on(async { 1 }), 1, "a clone keeps the thread alive");
        drop(d);
        // Joined before drop returned: the runtime is gone, and with it the task and `tx`.
        assert_eq!(
            rx.try_recv(),
            Err(std::sync::mpsc::TryRecvError::Disconnected)
        );
    }
}
