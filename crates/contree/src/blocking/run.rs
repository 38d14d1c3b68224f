//! Blocking runs and sessions.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use super::{Contree, Image, IntoBlocking, forward_setters, wrapper};
use crate::FileSpec;
use crate::error::Result;

wrapper! {
    /// A command to run in a fresh VM; set options, then call [`output`](Self::output).
    /// The same options as the async [`crate::Run`]; cloneable and reusable (each
    /// `output()` of a clone is a new run).
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// use std::time::Duration;
    /// let out = contree.images().use_tag("python:3.12-slim")
    ///     .run("python3")
    ///     .args(["-c", "import sys; print(sys.stdin.read().upper())"])
    ///     .stdin("hello")
    ///     .file("/work/data.txt", b"payload".to_vec())
    ///     .timeout(Duration::from_secs(60))
    ///     .output()?
    ///     .check()?;
    /// assert_eq!(out.stdout_str()?, "HELLO\n");
    /// # Ok(()) }
    /// ```
    #[must_use = "a Run does nothing until output() is called"]
    Run => Run, Clone
}

impl Run {
    crate::run::run_options!(forward_setters);

    /// Adds arguments (see [`crate::Run::args`]).
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            inner: self.inner.args(args),
            client: self.client,
        }
    }

    /// Sets several environment variables (see [`crate::Run::envs`]).
    pub fn envs<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            inner: self.inner.envs(vars),
            client: self.client,
        }
    }

    /// Feeds what this reader yields on stdin (read to the end, on a helper thread, when
    /// the run starts; a reader can be consumed by one run only).
    pub fn stdin_reader(self, reader: impl std::io::Read + Send + 'static) -> Self {
        Self {
            inner: self.inner.stdin_reader(super::io::async_read(reader)),
            client: self.client,
        }
    }

    /// The server-side timeout this run will send.
    pub fn server_timeout(&self) -> Duration {
        self.inner.server_timeout()
    }

    /// How long the client will wait for the result (always longer than the server
    /// timeout).
    pub fn wait_deadline(&self) -> Duration {
        self.inner.wait_deadline()
    }

    /// Runs the command and waits for it to finish. A non-zero exit is data, not an
    /// error (see [`RunOutput::check`]).
    pub fn output(self) -> Result<RunOutput> {
        self.client.wait(self.inner)
    }
}

/// The result of a finished run. It derefs to the async [`crate::RunOutput`] for every
/// accessor (`exit_code()`, `stdout()`, `stdout_str()`, `resources()`, ...); the new
/// image version is a blocking [`Image`].
///
/// ```no_run
/// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
/// let out = img.shell("ls /nope; echo done").output()?;
/// println!("exit={} stdout={}", out.exit_code(), out.stdout_lossy());
/// if let Some(next) = out.image() {
///     next.shell("echo chained").output()?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RunOutput {
    inner: crate::RunOutput,
    image: Option<Image>,
}

impl fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl IntoBlocking for crate::RunOutput {
    type Output = RunOutput;
    fn into_blocking(self, client: &Contree) -> RunOutput {
        RunOutput {
            image: self.image().cloned().into_blocking(client),
            inner: self,
        }
    }
}

impl Deref for RunOutput {
    type Target = crate::RunOutput;
    fn deref(&self) -> &crate::RunOutput {
        &self.inner
    }
}

impl RunOutput {
    /// The new image version (`None` for disposable runs).
    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }
    /// Takes the new image version out of the output.
    pub fn into_image(self) -> Option<Image> {
        self.image
    }
    /// The new image version, or an error saying the run was disposable (see
    /// [`crate::RunOutput::kept_image`]).
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// let v1 = img.shell("echo 1 > /v").output()?;
    /// assert_eq!(v1.kept_image()?.read_to_string("/v")?, "1\n");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Kind [`InvalidInput`](crate::ErrorKind::InvalidInput) when the run was disposable.
    pub fn kept_image(&self) -> Result<&Image> {
        self.image
            .as_ref()
            .ok_or_else(|| self.inner.disposable_error())
    }
    /// Takes the new image version out of the output, or an error saying the run was
    /// disposable.
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// let v2 = img.shell("echo 2 >> /v").output()?.into_kept_image()?;
    /// # let _ = v2; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Kind [`InvalidInput`](crate::ErrorKind::InvalidInput) when the run was disposable.
    pub fn into_kept_image(self) -> Result<Image> {
        match self.image {
            Some(image) => Ok(image),
            None => Err(self.inner.disposable_error()),
        }
    }
    /// `Ok(self)` if the command exited 0, else an error of kind
    /// [`NonZeroExit`](crate::ErrorKind::NonZeroExit) (see [`crate::RunOutput::check`]).
    pub fn check(self) -> Result<Self> {
        let image = self.image;
        self.inner.check().map(|inner| RunOutput { inner, image })
    }
    /// The async output this wraps.
    pub fn into_async(self) -> crate::RunOutput {
        self.inner
    }
}

/// A blocking session: follows the newest version after each run. See
/// [`crate::Session`] for the rules (serialised runs, never stuck, history, fork).
///
/// ```no_run
/// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
/// let session = contree.images().use_tag("ubuntu:latest").session();
/// session.shell("echo 1 > /a").output()?;
/// assert_eq!(session.shell("cat /a").output()?.stdout_str()?, "1\n");
/// // `cat` changed nothing: no new version, so the history is the start and one version.
/// assert_eq!(session.history().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: crate::Session,
    pub(crate) client: Contree,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Session {
    /// The current version.
    pub fn current(&self) -> Image {
        self.inner.current().into_blocking(&self.client)
    }
    /// Every version the session moved to, oldest first (see [`crate::Session::history`]:
    /// a run that changed nothing adds no entry).
    pub fn history(&self) -> Vec<Image> {
        self.inner.history().into_blocking(&self.client)
    }
    /// Moves the session to the version at `index` in [`history`](Self::history).
    pub fn checkout(&self, index: usize) -> Result<Image> {
        self.inner.checkout(index).into_blocking(&self.client)
    }
    /// Moves the session to any image; it is appended to the history.
    pub fn reset_to(&self, image: Image) {
        self.inner.reset_to(image.inner);
    }
    /// An independent session starting at this one's current version.
    pub fn fork(&self) -> Session {
        Session {
            inner: self.inner.fork(),
            client: self.client.clone(),
        }
    }
    /// A shell script to run from the current version; `output()` advances the session.
    pub fn shell(&self, script: impl Into<String>) -> Run {
        Run {
            inner: self.inner.shell(script),
            client: self.client.clone(),
        }
    }
    /// An executable to run from the current version; `output()` advances the session.
    pub fn run(&self, command: impl Into<String>) -> Run {
        Run {
            inner: self.inner.run(command),
            client: self.client.clone(),
        }
    }
    /// A run that only places files (the command is `true`); its `output()` advances the
    /// session to a version with the files baked in (see [`crate::Session::apply_files`]).
    ///
    /// ```no_run
    /// # fn demo(session: contree::blocking::Session) -> contree::Result<()> {
    /// use contree::FileSpec;
    /// session.apply_files([FileSpec::new("/app/run.sh", b"echo hi\n".to_vec())]).output()?;
    /// assert_eq!(session.shell("sh /app/run.sh").output()?.stdout_str()?, "hi\n");
    /// # Ok(()) }
    /// ```
    pub fn apply_files(&self, files: impl IntoIterator<Item = FileSpec>) -> Run {
        Run {
            inner: self.inner.apply_files(files),
            client: self.client.clone(),
        }
    }
    /// The async session this wraps (clones share it).
    pub fn as_async(&self) -> &crate::Session {
        &self.inner
    }
}
