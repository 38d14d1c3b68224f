//! What a build reports: [`Built`] and one [`StepReport`] per layer.

use std::time::Duration;

use crate::image::Image;
use crate::run::RunOutput;

/// What a build made: the final image and one report per layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Built {
    /// The final image (tagged, if the build asked for a tag).
    pub image: Image,
    /// One report per layer, in order (every stage's).
    pub steps: Vec<StepReport>,
    /// What was skipped, with why (unsupported Dockerfile instructions, links not
    /// copied, cache stores that failed).
    pub warnings: Vec<String>,
}

impl Built {
    /// How many layers were cache hits.
    pub fn hits(&self) -> usize {
        self.steps.hits()
    }
    /// How many layers were run.
    pub fn misses(&self) -> usize {
        self.steps.misses()
    }
    /// The step keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.steps.keys()
    }
}

/// The counts over a build's layer reports: the one implementation behind
/// [`Built::hits`], `misses` and `keys` and their blocking twins.
pub(crate) trait LayerCounts {
    fn hits(&self) -> usize;
    fn misses(&self) -> usize;
    fn keys(&self) -> Vec<&str>;
}

impl LayerCounts for [StepReport] {
    fn hits(&self) -> usize {
        self.iter().filter(|s| s.cached).count()
    }
    fn misses(&self) -> usize {
        self.iter().filter(|s| !s.cached).count()
    }
    fn keys(&self) -> Vec<&str> {
        self.iter().map(|s| s.key.as_str()).collect()
    }
}

/// One layer of a build: a RUN (with the files staged on it), or the trailing `:` run
/// that commits leftover files (or bakes ENV/WORKDIR).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepReport {
    /// The instruction (`RUN …`; `COPY …` lines whose files rode on this run come first,
    /// one per line).
    pub instruction: String,
    /// The step key (64 hex digits).
    pub key: String,
    /// Whether the layer came from the cache (no VM was started).
    pub cached: bool,
    /// The layer's image.
    pub image: Image,
    /// How long the step took (lookup, uploads and run).
    pub duration: Duration,
    /// The run's output; `None` for a cache hit.
    pub output: Option<RunOutput>,
    /// Where the cache hit came from (a store's description), for hits.
    pub cache_source: Option<String>,
}
