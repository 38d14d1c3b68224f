//! One scenario list, run through both clients.
//!
//! [`scenarios!`](crate::scenarios) takes scenario bodies written once and instantiates
//! each twice: as a `#[tokio::test]` against the async [`contree::Contree`] (module
//! `async_client`) and as a plain `#[test]` against [`contree::blocking::Contree`]
//! (module `blocking_client`). Inside a body, the few places where the two APIs differ
//! by nature are written with small macros that each mode defines its own way:
//!
//! | in a scenario | async | blocking |
//! |---|---|---|
//! | `go!(x)` | `x.await` | [`Finish::finish(x)`](Finish) (`output()` of a builder; a `Result` as is) |
//! | `collect!(s)` | `s.try_collect::<Vec<_>>().await` | `s.collect::<Result<Vec<_>>>()` |
//! | `collect_all!(s)` | `s.collect::<Vec<_>>().await` | `s.collect::<Vec<_>>()` |
//! | `read_string!(r)` | `AsyncReadExt::read_to_string` | `std::io::Read::read_to_string` |
//!
//! Everything else (`use_tag`, `shell`, `session`, option names, accessors) is the same
//! code in both modes, which is the point: the blocking API mirrors the async one.

use std::time::Duration;

use contree::blocking;
use contree_mock::MockServer;

/// Runs a blocking builder to completion (its `output()`); a plain `Result`
/// (what blocking calls return directly) passes through.
pub trait Finish {
    /// What finishing yields.
    type Output;
    /// Runs it.
    fn finish(self) -> Self::Output;
}

impl<T> Finish for contree::Result<T> {
    type Output = contree::Result<T>;
    fn finish(self) -> Self::Output {
        self
    }
}

macro_rules! finish_via {
    ($($ty:ty => $method:ident -> $out:ty;)*) => {
        $(impl Finish for $ty {
            type Output = $out;
            fn finish(self) -> $out {
                self.$method()
            }
        })*
    };
}

finish_via! {
    blocking::Run => output -> contree::Result<blocking::RunOutput>;
    blocking::ListImages => output -> contree::Result<Vec<blocking::Image>>;
    blocking::ImportImage => output -> contree::Result<blocking::Image>;
    blocking::Upload => output -> contree::Result<contree::UploadedFile>;
    blocking::Grep => output -> contree::Result<contree::GrepResult>;
    blocking::ListOperations => output -> contree::Result<Vec<contree::OperationInfo>>;
    blocking::FanOut => output -> Vec<contree::Result<blocking::RunOutput>>;
    blocking::Exec => output -> contree::Result<contree::ExecOutput>;
}

/// A blocking client connected to a mock server (kept alive as long as this value).
pub struct BlockingEnv {
    /// The client.
    pub contree: blocking::Contree,
    /// The in-process server, when one was started.
    pub server: Option<MockServer>,
}

/// Connects to the external mock (`CONTREE_TEST_BASE_URL`) or starts one in process on
/// its own thread, and builds a blocking client for it.
pub fn setup_blocking() -> BlockingEnv {
    let (url, token, project, server) = match crate::external_base_url() {
        Some(url) => (
            url,
            crate::TEST_TOKEN.to_string(),
            Some(crate::TEST_PROJECT.to_string()),
            None,
        ),
        None => {
            let server = MockServer::builder()
                .latency(Duration::ZERO)
                .start_blocking();
            (
                server.base_url().to_string(),
                server.token().to_string(),
                server.project().map(str::to_string),
                Some(server),
            )
        }
    };
    let client = crate::client_builder(&url, &token, project.as_deref())
        .build()
        .expect("async client for the mock");
    BlockingEnv {
        contree: blocking::Contree::from_async(client).expect("blocking client"),
        server,
    }
}

/// Instantiates each scenario for the async and the blocking client (see the module
/// docs). Use in a test file:
///
/// ```text
/// contree_integration_tests::scenarios! {
///     fn hello(c) {
///         let out = go!(c.images().use_tag("ubuntu:latest").shell("echo hi"))?;
///         assert_eq!(out.stdout_str()?, "hi\n");
///     }
/// }
/// ```
#[macro_export]
macro_rules! scenarios {
    ($( $(#[$meta:meta])* fn $name:ident($c:ident) $body:block )*) => {
        mod async_client {
            #![allow(unused_imports, unused_macros, unused_mut)]
            use super::*;
            use ::futures_util::{StreamExt as _, TryStreamExt as _};
            macro_rules! go { ($e:expr) => { $e.await }; }
            macro_rules! collect {
                ($e:expr) => { ::futures_util::TryStreamExt::try_collect::<Vec<_>>($e).await };
            }
            macro_rules! collect_all {
                ($e:expr) => { ::futures_util::StreamExt::collect::<Vec<_>>($e).await };
            }
            macro_rules! read_string {
                ($e:expr) => {{
                    let mut s = String::new();
                    ::tokio::io::AsyncReadExt::read_to_string(&mut $e, &mut s)
                        .await
                        .expect("reading process output");
                    s
                }};
            }
            $(
                $(#[$meta])*
                #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    async fn scenario($c: ::contree::Contree) -> ::contree::Result<()> {
                        $body
                        Ok(())
                    }
                    let env = $crate::setup().await;
                    scenario(env.contree.clone()).await.expect("scenario (async client)");
                }
            )*
        }

        mod blocking_client {
            #![allow(unused_imports, unused_macros, unused_mut)]
            use super::*;
            use ::std::io::{Read as _, Write as _};
            macro_rules! go { ($e:expr) => { $crate::scenario::Finish::finish($e) }; }
            macro_rules! collect {
                ($e:expr) => { ::std::iter::Iterator::collect::<::contree::Result<Vec<_>>>($e) };
            }
            macro_rules! collect_all {
                ($e:expr) => { ::std::iter::Iterator::collect::<Vec<_>>($e) };
            }
            macro_rules! read_string {
                ($e:expr) => {{
                    let mut s = String::new();
                    ::std::io::Read::read_to_string(&mut $e, &mut s)
                        .expect("reading process output");
                    s
                }};
            }
            $(
                $(#[$meta])*
                #[test]
                fn $name() {
                    fn scenario($c: ::contree::blocking::Contree) -> ::contree::Result<()> {
                        $body
                        Ok(())
                    }
                    let env = $crate::scenario::setup_blocking();
                    scenario(env.contree.clone()).expect("scenario (blocking client)");
                }
            )*
        }
    };
}
