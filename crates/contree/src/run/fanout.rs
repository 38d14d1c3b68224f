//! Fan-out: many runs (commands or variants, typically from one version) with a
//! concurrency bound, results as they finish.

use std::fmt;
use std::future::IntoFuture;

use futures_util::StreamExt as _;

use crate::client::Contree;
use crate::error::Result;
use crate::image::Image;
use crate::run::{Run, RunOutput};
use crate::util::BoxFuture;

/// The stream of a [`FanOut`]: results in the order the runs finish.
pub type FanOutStream =
    std::pin::Pin<Box<dyn futures_core::Stream<Item = FanOutResult> + Send + 'static>>;

/// The concurrency used when neither the fan-out nor the account says otherwise.
pub const DEFAULT_FAN_OUT_CONCURRENCY: usize = 8;

/// One finished run of a [`FanOut`].
#[derive(Debug)]
#[non_exhaustive]
pub struct FanOutResult {
    /// The run's position in the input.
    pub index: usize,
    /// Its output (each produced image knows its parent and its operation).
    pub output: Result<RunOutput>,
}

/// Many runs at once, at most `concurrency` in flight; each run is spawned exactly once.
///
/// The bound defaults to the account's `instance_max_concurrency` (from
/// [`Contree::whoami`], fetched once if not cached), else
/// [`DEFAULT_FAN_OUT_CONCURRENCY`]. [`stream`](FanOut::stream) yields results as they
/// finish; awaiting returns them in input order.
///
/// ```no_run
/// # async fn demo(base: contree::Image) -> contree::Result<()> {
/// use futures_util::StreamExt as _;
/// // Try three variants of one step from the same version.
/// let runs = ["-O0", "-O2", "-O3"].map(|flag| base.shell("make").env("CFLAGS", flag));
/// let mut results = base.client().fan_out(runs).concurrency(2).stream();
/// while let Some(r) = results.next().await {
///     let out = r.output?;
///     println!("variant {} -> exit {} image {:?}", r.index, out.exit_code(),
///         out.image().and_then(|i| i.id()));
/// }
/// # Ok(()) }
/// ```
#[must_use = "a FanOut does nothing until awaited or streamed"]
pub struct FanOut {
    client: Contree,
    runs: Vec<Run>,
    concurrency: Option<usize>,
}

impl fmt::Debug for FanOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanOut")
            .field("runs", &self.runs.len())
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl Contree {
    /// Runs many [`Run`]s with a concurrency bound (see [`FanOut`]).
    pub fn fan_out(&self, runs: impl IntoIterator<Item = Run>) -> FanOut {
        FanOut {
            client: self.clone(),
            runs: runs.into_iter().collect(),
            concurrency: None,
        }
    }
}

impl Image {
    /// Runs each shell script from this version, in parallel (see [`FanOut`]).
    pub fn fan_out_shell<I, S>(&self, scripts: I) -> FanOut
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client
            .fan_out(scripts.into_iter().map(|s| self.shell(s)))
    }
}

impl FanOut {
    /// At most this many runs in flight (at least 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }

    async fn bound(client: &Contree, explicit: Option<usize>) -> usize {
        if let Some(n) = explicit {
            return n;
        }
        let who = match client.cached_whoami() {
            Some(w) => Some(w),
            None => client.whoami().await.ok(),
        };
        who.and_then(|w| w.instance_max_concurrency())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_FAN_OUT_CONCURRENCY)
    }

    /// Results as the runs finish.
    pub fn stream(self) -> FanOutStream {
        let FanOut {
            client,
            runs,
            concurrency,
        } = self;
        futures_util::stream::once(async move {
            let n = Self::bound(&client, concurrency).await;
            tracing::debug!(runs = runs.len(), concurrency = n, "fanning out");
            futures_util::stream::iter(runs.into_iter().enumerate())
                .map(|(index, run)| async move {
                    FanOutResult {
                        index,
                        output: run.await,
                    }
                })
                .buffer_unordered(n)
        })
        .flatten()
        .boxed()
    }
}

impl IntoFuture for FanOut {
    type Output = Vec<Result<RunOutput>>;
    type IntoFuture = BoxFuture<Vec<Result<RunOutput>>>;
    fn into_future(self) -> Self::IntoFuture {
        let n = self.runs.len();
        Box::pin(async move {
            let mut slots: Vec<Option<Result<RunOutput>>> = (0..n).map(|_| None).collect();
            let mut s = self.stream();
            while let Some(r) = s.next().await {
                if let Some(slot) = slots.get_mut(r.index) {
                    *slot = Some(r.output);
                }
            }
            slots
                .into_iter()
                .map(|o| {
                    o.unwrap_or_else(|| {
                        Err(crate::error::Error::invalid(
                            "internal: a fan-out result is missing",
                        ))
                    })
                })
                .collect()
        })
    }
}
