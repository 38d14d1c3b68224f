//! Running a [`Build`]: stages, cache lookups, uploads and runs.

use std::collections::HashMap;
use std::future::IntoFuture as _;
use std::sync::Arc;
use std::time::Instant;

use super::cache::LayerCache;
use super::dockerfile::substitute as subst;
use super::key::{self, State};
use super::stage::{self, LocalContext, Pending};
use super::{Base, Build, Built, CopyOptions, Stage, Step, StepReport};
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::files::UploadedFile;
use crate::image::Image;
use crate::run::{FileSource, FileSpec};

/// Everything a build keeps while it runs.
struct Exec {
    build: Build,
    stores: Vec<Arc<dyn LayerCache>>,
    lookups: Vec<Arc<dyn LayerCache>>,
    local: Arc<LocalContext>,
    stage_images: Vec<Image>,
    aliases: HashMap<String, usize>,
    reports: Vec<StepReport>,
    warnings: Vec<String>,
    /// Directories holding files extracted for `copy_from`, kept until the build ends.
    scratch: Vec<tempfile::TempDir>,
    args: std::collections::BTreeMap<String, String>,
    globals: std::collections::BTreeMap<String, String>,
}

/// The chain of one stage while it is built.
struct Chain {
    image: Image,
    key: String,
    state: State,
    pending: Vec<Pending>,
    copies: Vec<String>,
}

pub(crate) async fn execute(build: Build) -> Result<Built> {
    let client = build.client.clone();
    let stores = build.caches.writable(&client);
    let mut lookups = if build.caches.no_cache {
        Vec::new()
    } else {
        stores.clone()
    };
    if !build.caches.no_cache {
        lookups.extend(build.caches.from.iter().cloned());
    }
    let root = build.context.clone();
    let (extra, confine) = (build.ignore.clone(), build.confine);
    let ignore = tokio::task::spawn_blocking({
        let root = root.clone();
        move || stage::ignore_rules(&root, &extra, confine)
    })
    .await
    .map_err(|e| Error::invalid(format!("the ignore-rules task failed: {e}")))??;
    let mut exec = Exec {
        warnings: build.warnings.clone(),
        build,
        stores,
        lookups,
        local: Arc::new(LocalContext {
            root,
            confine,
            ignore,
        }),
        stage_images: Vec::new(),
        aliases: HashMap::new(),
        reports: Vec::new(),
        scratch: Vec::new(),
        args: Default::default(),
        globals: Default::default(),
    };
    // ARGs before the first FROM are for FROM lines (and inherited by a later
    // `ARG NAME` without a default), as in Docker; they are not in the stages' state.
    for arg in exec.build.global_args.clone() {
        if let Step::Arg(name, default) = arg {
            let value = match exec.build.build_args.get(&name) {
                Some(v) => v.clone(),
                None => default
                    .map(|d| subst(&d, &exec.globals))
                    .unwrap_or_default(),
            };
            exec.globals.insert(name, value);
        }
    }
    let stages = exec.build.stages.clone();
    let last = stages.len().saturating_sub(1);
    for (i, stage) in stages.iter().enumerate() {
        let image = exec.stage(stage, i == last).await?;
        if let Some(alias) = &stage.alias {
            exec.aliases.insert(alias.clone(), i);
        }
        exec.stage_images.push(image);
    }
    let mut image = exec
        .stage_images
        .pop()
        .ok_or_else(|| Error::invalid("a build needs at least one stage"))?;
    if let Some(tag) = &exec.build.tag {
        image = image.tag_as(tag).await?;
    }
    Ok(Built {
        image,
        steps: exec.reports,
        warnings: exec.warnings,
    })
}

impl Exec {
    fn client(&self) -> &Contree {
        &self.build.client
    }

    /// Declares an ARG: the `build_arg` override, else its default, else the value of
    /// a global ARG of that name, else empty. ARGs carry over to later stages.
    fn declare_arg(&mut self, name: &str, default: Option<&str>, state: &mut State) {
        let value = match (self.build.build_args.get(name), default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => subst(d, &state.run_env()),
            (None, None) => self.globals.get(name).cloned().unwrap_or_default(),
        };
        self.args.insert(name.to_string(), value.clone());
        state.args.insert(name.to_string(), value);
    }

    /// Builds one stage and returns its image.
    async fn stage(&mut self, stage: &Stage, last: bool) -> Result<Image> {
        let base = match &stage.base {
            Base::Ref(r) => Base::Ref(subst(r, &self.globals)),
            b => b.clone(),
        };
        let image = self.resolve(&base).await?;
        let uuid = image
            .id_str()
            .ok_or_else(|| Error::invalid("internal: a resolved base has no UUID"))?
            .to_string();
        let mut chain = Chain {
            key: key::from_key(&uuid),
            image,
            state: State::new(),
            pending: Vec::new(),
            copies: Vec::new(),
        };
        chain.state.args = self.args.clone();
        for step in &stage.steps {
            let step = &step.substituted(&chain.state.run_env());
            match step {
                Step::Env(k, v) => {
                    chain.state.env.insert(k.clone(), v.clone());
                }
                Step::Workdir(p) => {
                    chain.state.workdir = stage::join_abs(&chain.state.workdir, p);
                }
                Step::User(u) => chain.state.user = u.clone(),
                Step::Arg(name, default) => {
                    self.declare_arg(name, default.as_deref(), &mut chain.state);
                }
                Step::Copy {
                    sources,
                    dest,
                    opts,
                } => {
                    let files = self
                        .copy_local(sources, dest, &chain.state.workdir, *opts)
                        .await?;
                    stage::stage(&mut chain.pending, files);
                    chain.copies.push(step.text());
                }
                Step::CopyFrom {
                    from,
                    sources,
                    dest,
                    opts,
                } => {
                    let files = self
                        .copy_image(from, sources, dest, &chain.state.workdir, *opts)
                        .await?;
                    stage::stage(&mut chain.pending, files);
                    chain.copies.push(step.text());
                }
                Step::AddUrl {
                    url,
                    dest,
                    opts,
                    line,
                } => {
                    let file = self
                        .add_url(url, dest, &chain.state.workdir, *opts, *line)
                        .await?;
                    stage::stage(&mut chain.pending, vec![file]);
                    chain.copies.push(step.text());
                }
                Step::Files(map) => {
                    stage::stage(&mut chain.pending, stage::from_map(map));
                    chain.copies.push(step.text());
                }
                Step::Run { shell, parts } => {
                    self.layer(&mut chain, *shell, parts, step.text(), false)
                        .await?;
                }
            }
        }
        // No RUN bakes (ARGs must not be saved): one trailing run saves ENV and WORKDIR.
        let bake =
            last && self.build.bake && (!chain.state.env.is_empty() || chain.state.workdir != "/");
        if !chain.pending.is_empty() || bake {
            let text = if bake {
                "RUN : (bake ENV and WORKDIR)".to_string()
            } else {
                "RUN : (commit copied files)".to_string()
            };
            self.layer(&mut chain, true, &[":".to_string()], text, bake)
                .await?;
        }
        Ok(chain.image)
    }

    /// A stage alias or index, else an image (UUID, tag, or OCI reference to import).
    async fn resolve(&self, base: &Base) -> Result<Image> {
        let r = match base {
            Base::Image(i) => return i.resolve().await,
            Base::Ref(r) => r.trim(),
        };
        if let Some(&i) = self.aliases.get(r) {
            return Ok(self.stage_images[i].clone());
        }
        if let Ok(i) = r.parse::<usize>()
            && i < self.stage_images.len()
        {
            return Ok(self.stage_images[i].clone());
        }
        let images = self.client().images();
        let plain = r.strip_prefix("tag:").unwrap_or(r);
        if contree_proto::image_ref::is_uuid(plain) || r.starts_with("tag:") {
            return images.get(r).await;
        }
        match images.get(plain).await {
            Ok(i) => Ok(i),
            Err(e) if e.is_not_found() => images.oci(plain).await,
            Err(e) => Err(e),
        }
    }

    async fn copy_local(
        &self,
        sources: &[std::path::PathBuf],
        dest: &str,
        workdir: &str,
        opts: CopyOptions,
    ) -> Result<Vec<Pending>> {
        let ctx = self.local.clone();
        let (sources, dest, workdir) = (sources.to_vec(), dest.to_string(), workdir.to_string());
        tokio::task::spawn_blocking(move || {
            stage::collect_local(&ctx, &sources, &dest, &workdir, opts)
        })
        .await
        .map_err(|e| Error::invalid(format!("the COPY task failed: {e}")))?
    }

    /// Downloads (or revalidates) `url` and stages it at `dest`.
    async fn add_url(
        &mut self,
        url: &str,
        dest: &str,
        workdir: &str,
        opts: CopyOptions,
        line: Option<usize>,
    ) -> Result<Pending> {
        let dir = match &self.build.url_cache {
            Some(d) => d.clone(),
            None => super::url::default_dir(self.client().config_dir(), &mut self.scratch)?,
        };
        super::url::pending(&dir, url, dest, workdir, opts, line).await
    }

    /// Reads `sources` from another image through its archive and stages them.
    async fn copy_image(
        &mut self,
        from: &Base,
        sources: &[String],
        dest: &str,
        workdir: &str,
        opts: CopyOptions,
    ) -> Result<Vec<Pending>> {
        let image = self.resolve(from).await?;
        let many = sources.len() > 1;
        let dest = if many && !dest.ends_with('/') {
            format!("{dest}/")
        } else {
            dest.to_string()
        };
        let mut out = Vec::new();
        for src in sources {
            let src = stage::join_abs("/", src);
            let entry = image.stat(&src).await?;
            let dir = tempfile::tempdir().map_err(|e| {
                Error::io("creating a temporary directory in", std::env::temp_dir(), e)
            })?;
            image.archive(&src).await?.extract_to(dir.path()).await?;
            let path = dir.path().to_path_buf();
            self.scratch.push(dir);
            let (is_dir, d, w) = (entry.is_dir(), dest.clone(), workdir.to_string());
            let (files, warnings) = tokio::task::spawn_blocking(move || {
                let mut warnings = Vec::new();
                let files =
                    stage::collect_extracted(&path, is_dir, &src, &d, &w, opts, &mut warnings);
                files.map(|f| (f, warnings))
            })
            .await
            .map_err(|e| Error::invalid(format!("the COPY --from task failed: {e}")))??;
            self.warnings.extend(warnings);
            out.extend(files);
        }
        Ok(out)
    }

    /// Makes one layer: looked up by key, else run (with the staged files) and stored.
    async fn layer(
        &mut self,
        chain: &mut Chain,
        shell: bool,
        parts: &[String],
        text: String,
        bake: bool,
    ) -> Result<()> {
        let started = Instant::now();
        let mut contribution = key::run_contribution(shell, parts);
        if bake {
            contribution.push_str(" bake");
        }
        let files: Vec<_> = chain.pending.iter().map(Pending::key_file).collect();
        let key = key::step_key(&chain.key, &chain.state, &contribution, &files);
        let mut instruction = chain.copies.join("\n");
        if !instruction.is_empty() {
            instruction.push('\n');
        }
        instruction.push_str(&text);
        let report = match self.lookup(&key).await {
            Some((uuid, source, missed)) => {
                let image = self.client().images().use_uuid(uuid.clone());
                // Fill the stores that missed (a local cache learns from the tags).
                for store in missed {
                    self.store(&store, &key, &uuid).await;
                }
                StepReport {
                    instruction,
                    key: key.clone(),
                    cached: true,
                    image,
                    duration: started.elapsed(),
                    output: None,
                    cache_source: Some(source),
                }
            }
            None => {
                let out = self.run(chain, shell, parts, bake).await?;
                let image = out.image().cloned().ok_or_else(|| {
                    Error::invalid(format!(
                        "the step `{text}` made no image (was it disposable?)"
                    ))
                })?;
                let uuid = image.id_str().unwrap_or_default().to_string();
                for store in self.stores.clone() {
                    self.store(&store, &key, &uuid).await;
                }
                StepReport {
                    instruction,
                    key: key.clone(),
                    cached: false,
                    image,
                    duration: started.elapsed(),
                    output: Some(out),
                    cache_source: None,
                }
            }
        };
        tracing::info!(key = %&key[..16], cached = report.cached, "{}", report.instruction);
        chain.image = report.image.clone();
        chain.key = key;
        chain.pending.clear();
        chain.copies.clear();
        self.reports.push(report);
        Ok(())
    }

    /// The first store with a hit: (image, its description, the writable stores that
    /// missed before it). Failing stores are warnings.
    async fn lookup(&mut self, key: &str) -> Option<(String, String, Vec<Arc<dyn LayerCache>>)> {
        let mut missed = Vec::new();
        for store in self.lookups.clone() {
            match store.lookup(self.client().clone(), key.to_string()).await {
                Ok(Some(uuid)) => return Some((uuid, store.describe(), missed)),
                Ok(None) => {}
                Err(e) => self.warnings.push(format!(
                    "the {} failed a lookup ({e}); treated as a miss",
                    store.describe()
                )),
            }
            if self.stores.iter().any(|s| Arc::ptr_eq(s, &store)) {
                missed.push(store);
            }
        }
        None
    }

    async fn store(&mut self, store: &Arc<dyn LayerCache>, key: &str, uuid: &str) {
        if let Err(e) = store
            .store(self.client().clone(), key.to_string(), uuid.to_string())
            .await
        {
            let msg = format!("the {} could not store a layer ({e})", store.describe());
            tracing::warn!("{msg}");
            self.warnings.push(msg);
        }
    }

    /// Uploads the staged files and runs the step.
    async fn run(
        &self,
        chain: &Chain,
        shell: bool,
        parts: &[String],
        bake: bool,
    ) -> Result<crate::run::RunOutput> {
        let files = self.upload(&chain.pending).await?;
        let mut run = if shell {
            chain.image.shell(parts.join(" "))
        } else {
            let (cmd, args) = parts
                .split_first()
                .ok_or_else(|| Error::invalid("an exec-form RUN needs a command"))?;
            chain.image.run(cmd.clone()).args(args.iter().cloned())
        };
        let env = if bake {
            chain.state.env.clone()
        } else {
            chain.state.run_env()
        };
        if !env.is_empty() {
            run = run.envs(env);
        }
        if chain.state.workdir != "/" {
            run = run.cwd(chain.state.workdir.clone());
        }
        if !chain.state.user.is_empty() {
            let (uid, gid) = super::user::resolve_user(&chain.image, &chain.state.user).await?;
            run = run.uid(uid).gid(gid);
        }
        if let Some(t) = self.build.timeout {
            run = run.timeout(t);
        }
        if bake {
            run = run.preserve_env(true).preserve_cwd(true);
        }
        for f in files {
            run = run.file_spec(f);
        }
        run.await?.check()
    }

    /// Uploads staged files (each content once) and returns their specs.
    async fn upload(&self, pending: &[Pending]) -> Result<Vec<FileSpec>> {
        use futures_util::StreamExt as _;
        let mut unique: Vec<(std::path::PathBuf, String)> = Vec::new();
        let mut by_sha = HashMap::new();
        for p in pending {
            if let Some(up) = &p.uploaded {
                by_sha.insert(p.sha.clone(), up.clone());
                continue;
            }
            if !unique.iter().any(|(_, sha)| *sha == p.sha) {
                unique.push((p.path.clone(), p.sha.clone()));
            }
        }
        let files = self.client().files();
        let limit = self.client().inner.config.upload_concurrency.max(1);
        let uploaded: Vec<Result<UploadedFile>> = futures_util::stream::iter(unique)
            .map(|(path, sha)| files.upload(path).known_sha256(sha).into_future())
            .buffer_unordered(limit)
            .collect()
            .await;
        for u in uploaded {
            let u = u?;
            by_sha.insert(u.sha256().to_ascii_lowercase(), u);
        }
        pending
            .iter()
            .map(|p| {
                let up = by_sha
                    .get(&p.sha)
                    .cloned()
                    .ok_or_else(|| Error::invalid("internal: an upload result is missing"))?;
                Ok(FileSpec::new(p.dest.clone(), FileSource::Uploaded(up))
                    .mode(p.mode)
                    .owner(p.uid, p.gid))
            })
            .collect()
    }
}
