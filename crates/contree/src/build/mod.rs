//! A layer-cached image builder: [`Build`] (programmatic, or from a Dockerfile).
//!
//! A build starts from a base image and applies steps: RUN a command, COPY local files or
//! files of another image, set ENV, WORKDIR, USER and ARG. Every RUN is one run on the
//! service; files staged by COPY ride on the next RUN (or on a trailing `:` run at the
//! end of a stage), as the official CLI's `contree build` does.
//!
//! # The layer cache
//!
//! Each layer has a **step key**: a sha256 over the parent's key, the step's normalised
//! instruction, the build state (args, env, user, workdir) and the sha256s of the files
//! it copies. A build looks each key up before running the step and, on a hit, reuses the
//! image without starting a VM. Two stores are used by default:
//!
//! - a local one ([`LocalCache`]) under the SDK's configuration directory (read from the
//!   client's environment, [`contree_auth::default_config_dir`]);
//! - a server-side one ([`TagCache`]): each layer image is tagged
//!   `contree-build/<key prefix>`, so every machine and CI runner of a namespace shares
//!   hits. A tag that is missing or points at a deleted image is a miss, never an error.
//!
//! [`Build::no_cache`] skips lookups (results are still stored), [`Build::cache_from`]
//! adds a store to look hits up in, [`Build::caches`] replaces the stores.
//!
//! **The key covers the inputs, not the world**: a step that downloads from the network
//! (`pip install`, `apt-get update`, `curl …`) or reads the clock or a random source is
//! still cached by its inputs, so a later build reuses what it got the first time. Pin
//! versions in the command, or change the command (or an ARG) to force a new layer, or
//! use [`no_cache`](Build::no_cache).
//!
//! # `ADD <url>`
//!
//! [`Build::add_url`] (a Dockerfile's `ADD <url> <dest>`) downloads an `https://` URL
//! (plain `http://` only to a loopback host, the transport's rule) with no credentials,
//! no redirects followed and a 1 GiB cap, and stages it like a COPY with mode `0600`
//! (Docker's ADD of a URL; `--chmod` overrides). The content's sha256 is in the step key:
//! a changed remote file is a miss, an unchanged one a hit. Each URL's content and its
//! `ETag`/`Last-Modified` are kept in [`Build::url_cache`] (default `build-cache/urls`
//! under the SDK's configuration directory); the next build revalidates with
//! `If-None-Match`/`If-Modified-Since`, and a `304` reuses the stored copy without a
//! download. Any other status fails the build with the URL (and the Dockerfile line).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> contree::Result<()> {
//! # let mock = contree_mock::MockServer::start().await;
//! # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
//! #     .project(mock.project().unwrap_or_default()).build()?;
//! # let cache = tempfile::tempdir().expect("a temporary directory");
//! use contree::build::{Build, LocalCache};
//! let build = Build::from(&contree, "ubuntu:latest")
//!     .env("GREETING", "hello")
//!     .workdir("/app")
//!     .run("echo $GREETING > greeting.txt")
//!     .tag("greeter:1")
//! #   .caches([LocalCache::new(cache.path())])
//!     ;
//! let first = build.clone().await?;
//! assert_eq!(first.misses(), 1);
//! assert_eq!(first.image.read_to_string("/app/greeting.txt").await?, "hello\n");
//! let again = build.await?;               // every step is a cache hit: no VM started
//! assert_eq!(again.hits(), 1);
//! assert_eq!(again.image.id(), first.image.id());
//! # Ok(()) }
//! ```

mod cache;
mod dockerfile;
mod exec;
mod key;
mod report;
mod stage;
mod step;
mod url;
mod user;

pub use cache::{CACHE_TAG_PREFIX, LayerCache, LocalCache, TagCache};
pub(crate) use cache::{server_scope, write_atomic};
pub(crate) use report::LayerCounts;
pub use report::{Built, StepReport};
pub use step::{Base, CopyOptions};
pub(crate) use step::{Stage, Step};

use std::collections::BTreeMap;
use std::fmt;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::client::Contree;
use crate::error::Result;
use crate::util::BoxFuture;
use cache::CacheConfig;

/// A layer-cached image build; await it for a [`Built`]. See the [module docs](self).
///
/// Methods add steps to the current stage, in order. [`stage`](Self::stage) starts a new
/// stage (multi-stage builds; [`copy_from`](Self::copy_from) can name an earlier stage by
/// its [`alias`](Self::alias) or index). The builder is `Clone`: awaiting a clone builds
/// again, hitting the cache for every unchanged step.
#[derive(Clone)]
#[must_use = "a Build does nothing until awaited"]
pub struct Build {
    pub(crate) client: Contree,
    pub(crate) stages: Vec<Stage>,
    pub(crate) build_args: BTreeMap<String, String>,
    pub(crate) caches: CacheConfig,
    pub(crate) tag: Option<String>,
    pub(crate) bake: bool,
    pub(crate) context: PathBuf,
    pub(crate) confine: bool,
    pub(crate) ignore: Vec<String>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) warnings: Vec<String>,
    /// ARGs declared before the first FROM (Dockerfiles).
    pub(crate) global_args: Vec<Step>,
    /// Where `ADD <url>` downloads and their validators are kept (`None`: the default).
    pub(crate) url_cache: Option<PathBuf>,
}

impl fmt::Debug for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Build")
            .field("stages", &self.stages)
            .field("tag", &self.tag)
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl Build {
    /// A build starting from `base`: an [`Image`](crate::Image), an image UUID, a tag, or an OCI
    /// reference (imported if no image has that tag). Nothing is resolved until awaited.
    pub fn from(client: &Contree, base: impl Into<Base>) -> Self {
        Build {
            client: client.clone(),
            stages: vec![Stage {
                base: base.into(),
                alias: None,
                steps: Vec::new(),
            }],
            build_args: BTreeMap::new(),
            caches: CacheConfig::default(),
            tag: None,
            bake: false,
            context: PathBuf::from("."),
            confine: false,
            ignore: Vec::new(),
            timeout: None,
            warnings: Vec::new(),
            global_args: Vec::new(),
            url_cache: None,
        }
    }

    /// A build from a Dockerfile (a path to one, or its text) with `context` as the build
    /// context: FROM (multi-stage `AS`), RUN (shell and exec forms), COPY/ADD of local
    /// sources (`--chown`, `--chmod`), `ADD <url> <dest>` (see [`add_url`](Self::add_url)),
    /// COPY `--from`, WORKDIR, ENV, ARG and USER, with
    /// `$VAR`/`${VAR}` substitution from ARGs and ENV. CMD, ENTRYPOINT, LABEL, EXPOSE,
    /// VOLUME, STOPSIGNAL, MAINTAINER, HEALTHCHECK, ONBUILD and SHELL are skipped with a
    /// warning ([`Built::warnings`]); anything else is an error naming the line.
    /// `context/.dockerignore` is honoured. Override ARG defaults with
    /// [`build_arg`](Self::build_arg).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> contree::Result<()> {
    /// # let mock = contree_mock::MockServer::start().await;
    /// # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
    /// #     .project(mock.project().unwrap_or_default()).build()?;
    /// # let cache = tempfile::tempdir().expect("a temporary directory");
    /// let ctx = tempfile::tempdir().expect("a temporary directory");
    /// std::fs::write(ctx.path().join("app.sh"), "echo built\n").unwrap();
    /// let dockerfile = "FROM ubuntu:latest\nARG DIR=/app\nCOPY app.sh $DIR/\nRUN sh $DIR/app.sh > $DIR/out\n";
    /// let built = contree::build::Build::dockerfile(&contree, dockerfile, ctx.path())?
    /// #   .caches([contree::build::LocalCache::new(cache.path())])
    ///     .await?;
    /// assert_eq!(built.image.read_to_string("/app/out").await?, "built\n");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Parsing only; nothing is sent until the build is awaited. `Io` when `dockerfile` is
    /// a path to a file that cannot be read; `InvalidInput` when the Dockerfile has no
    /// FROM, has an instruction other than ARG before the first FROM, an unknown
    /// instruction, or a malformed one (the message names the line).
    pub fn dockerfile(
        client: &Contree,
        dockerfile: impl AsRef<str>,
        context: impl AsRef<Path>,
    ) -> Result<Self> {
        dockerfile::from_dockerfile(client, dockerfile.as_ref(), context.as_ref())
    }

    fn push(mut self, step: Step) -> Self {
        if let Some(stage) = self.stages.last_mut() {
            stage.steps.push(step);
        }
        self
    }

    /// Runs a shell command (`sh -c`), with the build's ARGs and ENV in its environment,
    /// in its WORKDIR, as its USER. A non-zero exit fails the build.
    pub fn run(self, command: impl Into<String>) -> Self {
        self.push(Step::Run {
            shell: true,
            parts: vec![command.into()],
        })
    }

    /// Runs an executable with arguments, without a shell (a Dockerfile's exec form
    /// `RUN ["python3", "-m", "pip", …]`).
    pub fn run_exec<I, S>(self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.push(Step::Run {
            shell: false,
            parts: argv.into_iter().map(Into::into).collect(),
        })
    }

    /// Copies a local file or directory (relative to the [`context`](Self::context)) to
    /// `dest` (relative to the WORKDIR). A directory's contents go into `dest`; a file
    /// goes to `dest`, or into it when `dest` ends with `/`. Files keep their local
    /// permission bits and are owned by root.
    pub fn copy(self, local: impl Into<PathBuf>, dest: impl Into<String>) -> Self {
        self.copy_with(local, dest, CopyOptions::new())
    }

    /// [`copy`](Self::copy) with an owner and mode.
    pub fn copy_with(
        self,
        local: impl Into<PathBuf>,
        dest: impl Into<String>,
        opts: CopyOptions,
    ) -> Self {
        self.push(Step::Copy {
            sources: vec![local.into()],
            dest: dest.into(),
            opts,
        })
    }

    /// Copies `src` (absolute) from another image or an earlier stage into this one at
    /// `dest`. The files are read with the inspect API (no VM) and staged like local
    /// copies. Regular files only: symbolic links and empty directories are reported in
    /// [`Built::warnings`] and not copied.
    pub fn copy_from(
        self,
        from: impl Into<Base>,
        src: impl Into<String>,
        dest: impl Into<String>,
    ) -> Self {
        self.copy_from_with(from, src, dest, CopyOptions::new())
    }

    /// [`copy_from`](Self::copy_from) with an owner and mode.
    pub fn copy_from_with(
        self,
        from: impl Into<Base>,
        src: impl Into<String>,
        dest: impl Into<String>,
        opts: CopyOptions,
    ) -> Self {
        self.push(Step::CopyFrom {
            from: from.into(),
            sources: vec![src.into()],
            dest: dest.into(),
            opts,
        })
    }

    /// Stages the files of a synced [`FileMap`](crate::sync::FileMap) (from
    /// [`Files::sync_dir`](crate::Files::sync_dir)) on the next layer, like a COPY; their
    /// sha256s are in the step key.
    pub fn files(self, map: &crate::sync::FileMap) -> Self {
        self.push(Step::Files(map.clone()))
    }

    /// Downloads `url` and stages it at `dest` like a COPY (a Dockerfile's
    /// `ADD <url> <dest>`; a `dest` ending in `/` takes the URL's last path segment):
    /// mode `0600` unless `opts` sets one, revalidated by `ETag`/`Last-Modified`. See
    /// [`ADD <url>`](self#add-url) in the module docs.
    ///
    /// ```no_run
    /// # async fn demo(contree: &contree::Contree) -> contree::Result<()> {
    /// use contree::build::{Build, CopyOptions};
    /// let built = Build::from(contree, "ubuntu:latest")
    ///     .add_url("https://example.com/tool.tar.gz", "/opt/", CopyOptions::new())
    ///     .run("tar -xzf /opt/tool.tar.gz -C /opt")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn add_url(
        self,
        url: impl Into<String>,
        dest: impl Into<String>,
        opts: CopyOptions,
    ) -> Self {
        self.push(Step::AddUrl {
            url: url.into(),
            dest: dest.into(),
            opts,
            line: None,
        })
    }

    /// Where `ADD <url>` keeps downloads and their validators (default: `build-cache/urls`
    /// under the SDK's configuration directory in the client's environment, else a
    /// temporary directory).
    pub fn url_cache(mut self, dir: impl Into<PathBuf>) -> Self {
        self.url_cache = Some(dir.into());
        self
    }

    /// Sets an environment variable for the following steps.
    pub fn env(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(Step::Env(key.into(), value.into()))
    }

    /// Sets the working directory of the following steps (relative paths join the
    /// previous one).
    pub fn workdir(self, path: impl Into<String>) -> Self {
        self.push(Step::Workdir(path.into()))
    }

    /// Runs the following steps as this user: `uid`, `uid:gid`, or a name (looked up in
    /// the image's `/etc/passwd` and `/etc/group`, without a VM).
    pub fn user(self, user: impl Into<String>) -> Self {
        self.push(Step::User(user.into()))
    }

    /// Declares a build argument with a default; [`build_arg`](Self::build_arg)
    /// overrides it. ARGs are in the environment of the following RUNs and in the keys.
    pub fn arg(self, name: impl Into<String>, default: impl Into<String>) -> Self {
        self.push(Step::Arg(name.into(), Some(default.into())))
    }

    /// Overrides the value of a declared ARG (`--build-arg NAME=VALUE`).
    pub fn build_arg(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.build_args.insert(name.into(), value.into());
        self
    }

    /// Starts a new stage from `base` (a multi-stage build): ENV, WORKDIR and USER are
    /// reset; ARGs carry over. The build's result is the last stage's image.
    pub fn stage(mut self, base: impl Into<Base>) -> Self {
        self.stages.push(Stage {
            base: base.into(),
            alias: None,
            steps: Vec::new(),
        });
        self
    }

    /// Names the current stage (`FROM … AS name`), for [`copy_from`](Self::copy_from)
    /// and [`stage`](Self::stage) of later stages.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        if let Some(stage) = self.stages.last_mut() {
            stage.alias = Some(name.into());
        }
        self
    }

    /// Tags the final image.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Bakes the final ENV and WORKDIR into the final image (`preserve_env` and
    /// `preserve_cwd` on one last cached `:` run), so runs from it see them; the CLI
    /// cannot. ARGs are not baked.
    pub fn bake_env(mut self, bake: bool) -> Self {
        self.bake = bake;
        self
    }

    /// The directory relative local sources are read from (default: the current
    /// directory).
    pub fn context(mut self, dir: impl Into<PathBuf>) -> Self {
        self.context = dir.into();
        self
    }

    /// Leaves out local files matching this `.dockerignore`-style pattern (relative to
    /// the context; `!` re-includes) from directory copies.
    pub fn exclude(mut self, pattern: impl Into<String>) -> Self {
        self.ignore.push(pattern.into());
        self
    }

    /// The server-side timeout of each RUN (default: the client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Skips cache lookups: every step runs. Results are still stored, so a later build
    /// without `no_cache` hits them.
    pub fn no_cache(mut self) -> Self {
        self.caches.no_cache = true;
        self
    }

    /// Also looks hits up in `store` (it is not written to).
    pub fn cache_from(mut self, store: impl LayerCache + 'static) -> Self {
        self.caches.from.push(Arc::new(store));
        self
    }

    /// Replaces the default stores (the client's [`LocalCache`] and the [`TagCache`])
    /// with these: hits are looked up in them in order, and results stored in all.
    /// An empty list disables caching.
    pub fn caches<I, C>(mut self, stores: I) -> Self
    where
        I: IntoIterator<Item = C>,
        C: LayerCache + 'static,
    {
        self.caches.stores = Some(
            stores
                .into_iter()
                .map(|c| Arc::new(c) as Arc<dyn LayerCache>)
                .collect(),
        );
        self
    }

    /// [`caches`](Self::caches) with shared, mixed stores.
    pub fn caches_dyn(mut self, stores: Vec<Arc<dyn LayerCache>>) -> Self {
        self.caches.stores = Some(stores);
        self
    }
}

impl IntoFuture for Build {
    type Output = Result<Built>;
    type IntoFuture = BoxFuture<Result<Built>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(exec::execute(self))
    }
}
