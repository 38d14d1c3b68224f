//! Blocking builds ([`crate::build`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Contree, Image, IntoBlocking, forward};
use crate::build::{Base, CopyOptions, LayerCache, LayerCounts as _, StepReport};
use crate::error::Result;

/// A layer-cached image build; call [`output`](Self::output). The same steps and
/// options as the async [`crate::build::Build`].
///
/// ```
/// # let mock = contree_mock::MockServer::start_blocking();
/// # let contree = contree::blocking::Contree::builder()
/// #   .base_url(mock.base_url()).token(mock.token()).project(mock.project().unwrap_or(""))
/// #   .build()?;
/// # let cache = tempfile::tempdir().expect("a temporary directory");
/// use contree::blocking::Build;
/// let build = Build::from(&contree, "ubuntu:latest")
///     .workdir("/app")
///     .run("echo ready > state")
/// #   .caches([contree::build::LocalCache::new(cache.path())])
///     ;
/// let first = build.clone().output()?;
/// assert_eq!(first.image.read_to_string("/app/state")?, "ready\n");
/// assert_eq!(build.output()?.hits(), 1);
/// # Ok::<(), contree::Error>(())
/// ```
#[derive(Clone)]
#[must_use = "a Build does nothing until output() is called"]
pub struct Build {
    pub(crate) inner: crate::build::Build,
    pub(crate) client: Contree,
}

impl std::fmt::Debug for Build {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

impl Build {
    /// The async builder this wraps.
    pub fn into_async(self) -> crate::build::Build {
        self.inner
    }
}

impl From<Image> for Base {
    fn from(i: Image) -> Self {
        Base::Image(i.inner)
    }
}
impl From<&Image> for Base {
    fn from(i: &Image) -> Self {
        Base::Image(i.inner.clone())
    }
}

impl Build {
    /// A build starting from `base` (see [`crate::build::Build::from`]).
    pub fn from(client: &Contree, base: impl Into<Base>) -> Self {
        Self {
            inner: crate::build::Build::from(client.async_client(), base),
            client: client.clone(),
        }
    }

    /// A build from a Dockerfile (see [`crate::build::Build::dockerfile`]).
    pub fn dockerfile(
        client: &Contree,
        dockerfile: impl AsRef<str>,
        context: impl AsRef<Path>,
    ) -> Result<Self> {
        Ok(Self {
            inner: crate::build::Build::dockerfile(client.async_client(), dockerfile, context)?,
            client: client.clone(),
        })
    }

    forward! { "crate::build::Build", Build:
        run(command: impl Into<String>);
        run_exec(argv: impl IntoIterator<Item = impl Into<String>>);
        copy(local: impl Into<PathBuf>, dest: impl Into<String>);
        copy_with(local: impl Into<PathBuf>, dest: impl Into<String>, opts: CopyOptions);
        copy_from(from: impl Into<Base>, src: impl Into<String>, dest: impl Into<String>);
        copy_from_with(from: impl Into<Base>, src: impl Into<String>, dest: impl Into<String>, opts: CopyOptions);
        files(map: &crate::sync::FileMap);
        add_url(url: impl Into<String>, dest: impl Into<String>, opts: CopyOptions);
        url_cache(dir: impl Into<PathBuf>);
        env(key: impl Into<String>, value: impl Into<String>);
        workdir(path: impl Into<String>);
        user(user: impl Into<String>);
        arg(name: impl Into<String>, default: impl Into<String>);
        build_arg(name: impl Into<String>, value: impl Into<String>);
        stage(base: impl Into<Base>);
        alias(name: impl Into<String>);
        tag(tag: impl Into<String>);
        bake_env(bake: bool);
        context(dir: impl Into<PathBuf>);
        exclude(pattern: impl Into<String>);
        timeout(timeout: Duration);
        no_cache();
        cache_from(store: impl LayerCache + 'static);
        caches(stores: impl IntoIterator<Item = impl LayerCache + 'static>);
        caches_dyn(stores: Vec<Arc<dyn LayerCache>>);
    }

    /// Builds (or finds every layer in the cache) and waits for the result.
    pub fn output(self) -> Result<Built> {
        self.client.wait(self.inner)
    }
}

/// What a blocking build made: the final image (a blocking [`Image`]) and one report
/// per layer (see [`crate::build::Built`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Built {
    /// The final image.
    pub image: Image,
    /// One report per layer, in order.
    pub steps: Vec<StepReport>,
    /// What was skipped, with why.
    pub warnings: Vec<String>,
}

impl Built {
    /// How many layers were cache hits (see [`crate::build::Built::hits`]).
    pub fn hits(&self) -> usize {
        self.steps.hits()
    }
    /// How many layers were run (see [`crate::build::Built::misses`]).
    pub fn misses(&self) -> usize {
        self.steps.misses()
    }
    /// The step keys, in order (see [`crate::build::Built::keys`]).
    pub fn keys(&self) -> Vec<&str> {
        self.steps.keys()
    }
}

impl IntoBlocking for crate::build::Built {
    type Output = Built;
    fn into_blocking(self, client: &Contree) -> Built {
        Built {
            image: self.image.into_blocking(client),
            steps: self.steps,
            warnings: self.warnings,
        }
    }
}
