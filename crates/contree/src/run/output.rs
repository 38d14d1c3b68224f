//! The result of a run: [`RunOutput`] and its [`Resources`].

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;

use super::short;
use super::spec::RunSpec;
use contree_proto::types;

use crate::client::Contree;
use crate::error::{Error, Inner, Result};
use crate::image::{Image, ImageRef};

/// CPU, memory and cost figures of a run, as far as the server reported them.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Resources {
    /// Wall time of the process.
    pub elapsed: Option<Duration>,
    /// User CPU time.
    pub user_cpu: Option<Duration>,
    /// System CPU time.
    pub system_cpu: Option<Duration>,
    /// Peak resident memory in KiB.
    pub max_rss_kb: Option<i64>,
    /// The run's cost as the server computes it.
    pub cost: Option<f64>,
    /// Bytes written to the resulting image layer.
    pub image_size: Option<i64>,
    /// CPU seconds consumed (operation level).
    pub consumed_cpu: Option<f64>,
    /// Peak memory (operation level, KiB).
    pub consumed_memory: Option<i64>,
}

fn secs(f: Option<f64>) -> Option<Duration> {
    f.filter(|v| v.is_finite() && *v >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The result of a finished run: exit status, captured output, resources, and the new
/// image version (unless the run was disposable).
///
/// A non-zero exit code is data, not an error; [`check`](RunOutput::check) turns it into one.
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let out = img.shell("ls /nope; echo done").await?;
/// println!("exit={} stdout={} stderr={}", out.exit_code(), out.stdout_lossy(), out.stderr_lossy());
/// if let Some(next) = out.image() {
///     next.shell("echo chained").await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RunOutput {
    pub(crate) operation_id: String,
    pub(crate) command: String,
    pub(crate) exit_code: i32,
    pub(crate) signal: Option<i32>,
    pub(crate) timed_out: bool,
    pub(crate) stdout: Bytes,
    pub(crate) stderr: Bytes,
    pub(crate) stdout_truncated: bool,
    pub(crate) stderr_truncated: bool,
    pub(crate) duration: Option<Duration>,
    pub(crate) resources: Resources,
    pub(crate) image: Option<Image>,
    pub(crate) source_image: Option<String>,
}

impl fmt::Debug for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunOutput")
            .field("operation_id", &self.operation_id)
            .field("exit_code", &self.exit_code)
            .field("signal", &self.signal)
            .field("timed_out", &self.timed_out)
            .field("stdout", &self.stdout_lossy())
            .field("stderr", &self.stderr_lossy())
            .field("image", &self.image)
            .finish_non_exhaustive()
    }
}

/// The instance metadata of an operation (`None` for an import, or when absent).
fn instance_metadata(op: &types::OperationResponse) -> Option<&types::OperationInstanceMetadata> {
    match &op.metadata {
        Some(types::OperationMetadata::Instance(m)) => Some(m),
        _ => None,
    }
}

/// The image a run started from as its metadata records it (`tag:…` or a UUID).
fn metadata_image(image: &types::ImageSource) -> String {
    match image {
        types::ImageSource::Uuid(u) => u.to_string(),
        types::ImageSource::Tag(t) => t.0.clone(),
        #[allow(unreachable_patterns)]
        _ => String::new(),
    }
}

/// The source image's UUID, when the metadata records one (not a `tag:`).
fn metadata_image_uuid(image: &types::ImageSource) -> Option<String> {
    match image {
        types::ImageSource::Uuid(u) => Some(u.to_string()),
        _ => None,
    }
}

impl RunOutput {
    pub(crate) fn from_operation(
        client: &Contree,
        source: &Image,
        op_id: &str,
        op: &types::OperationResponse,
        spec: &RunSpec,
    ) -> Result<Self> {
        let md = instance_metadata(op);
        let res = md.and_then(|m| m.result.clone()).unwrap_or_default();
        let state = res.state.unwrap_or_default();
        let r = res.resources.unwrap_or_default();
        let stdout = res.stdout.as_ref();
        let stderr = res.stderr.as_ref();
        let signal = state
            .signal
            .filter(|s| *s > 0)
            .and_then(|s| i32::try_from(s).ok());
        let exit_code = state
            .exit_code
            .and_then(|c| i32::try_from(c).ok())
            .unwrap_or(-1);
        let source_uuid = op
            .image_uuid
            .map(|u| u.to_string())
            .or_else(|| md.and_then(|m| metadata_image_uuid(&m.image)))
            .or_else(|| source.id_str().map(str::to_string));
        let image = if spec.disposable {
            None
        } else {
            op.result_image().map(|uuid| Image {
                client: client.clone(),
                reference: ImageRef::Uuid(uuid.to_string()),
                tag: op.result.as_ref().and_then(|r| r.tag.clone()),
                created_at: None,
                parent: source_uuid.clone(),
                operation_id: Some(op_id.to_string()),
            })
        };
        Ok(RunOutput {
            operation_id: op_id.to_string(),
            command: spec.command.clone(),
            exit_code,
            signal,
            timed_out: state.timed_out.unwrap_or(false),
            stdout_truncated: stdout.and_then(|s| s.truncated).unwrap_or(false),
            stderr_truncated: stderr.and_then(|s| s.truncated).unwrap_or(false),
            stdout: stdout
                .map(|s| Bytes::from(s.to_bytes()))
                .unwrap_or_default(),
            stderr: stderr
                .map(|s| Bytes::from(s.to_bytes()))
                .unwrap_or_default(),
            duration: secs(op.duration).or_else(|| secs(r.elapsed_time)),
            resources: Resources {
                elapsed: secs(r.elapsed_time),
                user_cpu: secs(r.user_cpu_time),
                system_cpu: secs(r.system_cpu_time),
                max_rss_kb: r.max_rss,
                cost: r.cost,
                image_size: op.image_size,
                consumed_cpu: op.consumed_cpu,
                consumed_memory: op.consumed_memory,
            },
            image,
            source_image: source_uuid,
        })
    }

    /// The output of an operation known only by its id (a re-attached run): the command,
    /// source image and disposability come from the operation's metadata.
    pub(crate) fn from_bare_operation(
        client: &Contree,
        op_id: &str,
        op: &types::OperationResponse,
    ) -> Result<Self> {
        let md = instance_metadata(op);
        let spec = RunSpec {
            command: md.map(|m| m.command.clone()).unwrap_or_default(),
            disposable: md.and_then(|m| m.disposable).unwrap_or(false),
            ..Default::default()
        };
        let source = op
            .image_uuid
            .map(|u| u.to_string())
            .or_else(|| md.map(|m| metadata_image(&m.image)))
            .unwrap_or_default();
        let source = Image::from_ref(client.clone(), ImageRef::Uuid(source));
        Self::from_operation(client, &source, op_id, op, &spec)
    }

    /// The operation that ran the command.
    pub fn operation_id(&self) -> &str {
        &self.operation_id
    }
    /// The exit code: `0..=255`, or `-1` when killed by a signal (see [`signal`](Self::signal)).
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }
    /// Whether the command exited 0 (not killed, not timed out).
    pub fn success(&self) -> bool {
        self.exit_code == 0 && self.signal.is_none() && !self.timed_out
    }
    /// The signal that killed the command, if any.
    pub fn signal(&self) -> Option<i32> {
        self.signal
    }
    /// Whether the server-side timeout killed the command.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }
    /// Captured stdout, as bytes (binary-safe).
    pub fn stdout(&self) -> &Bytes {
        &self.stdout
    }
    /// Captured stderr, as bytes (binary-safe).
    pub fn stderr(&self) -> &Bytes {
        &self.stderr
    }
    /// Stdout as text, with invalid UTF-8 replaced by `�`.
    pub fn stdout_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stdout)
    }
    /// Stderr as text, with invalid UTF-8 replaced by `�`.
    pub fn stderr_lossy(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.stderr)
    }
    /// Stdout as text; an error (kind [`Utf8`](crate::ErrorKind::Utf8)) if not UTF-8.
    ///
    /// # Errors
    ///
    /// `Utf8` when stdout is not valid UTF-8 (use `stdout()` or `stdout_lossy()`).
    pub fn stdout_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.stdout).map_err(|source| {
            Error::new(Inner::Utf8 {
                stream: "stdout",
                source,
            })
        })
    }
    /// Stderr as text; an error (kind [`Utf8`](crate::ErrorKind::Utf8)) if not UTF-8.
    ///
    /// # Errors
    ///
    /// `Utf8` when stderr is not valid UTF-8 (use `stderr()` or `stderr_lossy()`).
    pub fn stderr_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.stderr).map_err(|source| {
            Error::new(Inner::Utf8 {
                stream: "stderr",
                source,
            })
        })
    }
    /// Whether stdout was cut at `truncate_output_at`.
    pub fn stdout_truncated(&self) -> bool {
        self.stdout_truncated
    }
    /// Whether stderr was cut at `truncate_output_at`.
    pub fn stderr_truncated(&self) -> bool {
        self.stderr_truncated
    }
    /// How long the operation took, if reported.
    pub fn duration(&self) -> Option<Duration> {
        self.duration
    }
    /// Resource usage and cost.
    pub fn resources(&self) -> &Resources {
        &self.resources
    }
    /// The new image version (`None` for disposable runs); the parent's UUID again when the
    /// run changed nothing.
    pub fn image(&self) -> Option<&Image> {
        self.image.as_ref()
    }
    /// Takes the new image version out of the output.
    pub fn into_image(self) -> Option<Image> {
        self.image
    }
    /// The new image version, or an error saying the run was disposable: for chains, where
    /// a kept run (the default) is expected.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> contree::Result<()> {
    /// # let mock = contree_mock::MockServer::start().await;
    /// # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
    /// #     .project(mock.project().unwrap_or_default()).build()?;
    /// let ubuntu = contree.images().use_tag("ubuntu:latest");
    /// let v1 = ubuntu.shell("echo 1 > /v").await?.kept_image()?.clone();
    /// assert_eq!(v1.read_to_string("/v").await?, "1\n");
    /// let gone = ubuntu.shell("true").disposable(true).await?;
    /// let err = gone.kept_image().unwrap_err();
    /// assert!(err.to_string().contains("disposable"), "{err}");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Kind [`InvalidInput`](crate::ErrorKind::InvalidInput) when the run was disposable.
    pub fn kept_image(&self) -> Result<&Image> {
        self.image.as_ref().ok_or_else(|| self.disposable_error())
    }
    /// Takes the new image version out of the output, or an error saying the run was
    /// disposable (see [`kept_image`](Self::kept_image)).
    ///
    /// ```no_run
    /// # async fn demo(img: contree::Image) -> contree::Result<()> {
    /// let v2 = img.shell("echo 2 >> /v").await?.into_kept_image()?;
    /// # let _ = v2; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Kind [`InvalidInput`](crate::ErrorKind::InvalidInput) when the run was disposable.
    pub fn into_kept_image(self) -> Result<Image> {
        match self.image {
            Some(image) => Ok(image),
            None => Err(self.disposable_error()),
        }
    }
    pub(crate) fn disposable_error(&self) -> Error {
        Error::invalid(format!(
            "run {} was disposable, so it made no image version; leave disposable(false) \
             (the default) on runs whose result you chain from",
            self.operation_id()
        ))
    }
    /// The image the run started from (its UUID), if known.
    pub fn source_image(&self) -> Option<&str> {
        self.source_image.as_deref()
    }

    /// `Ok(self)` if the command exited 0, else an error of kind
    /// [`NonZeroExit`](crate::ErrorKind::NonZeroExit) carrying the exit code and the end
    /// of stderr.
    ///
    /// # Errors
    ///
    /// `NonZeroExit` when the command exited non-zero or was killed (with the end of stderr).
    pub fn check(self) -> Result<Self> {
        if self.success() {
            return Ok(self);
        }
        let status = if self.timed_out {
            "timed out".to_string()
        } else if let Some(sig) = self.signal {
            format!("was killed by signal {sig}")
        } else {
            format!("exited with code {}", self.exit_code)
        };
        let err = self.stderr_lossy();
        let tail: String = {
            let t = err.trim_end();
            let start = t.len().saturating_sub(400);
            let mut s = start;
            while !t.is_char_boundary(s) {
                s += 1;
            }
            if t.is_empty() {
                String::new()
            } else {
                format!("; stderr: {}", &t[s..])
            }
        };
        Err(Error::new(Inner::NonZeroExit {
            operation_id: self.operation_id.clone(),
            command: short(&self.command).into_owned(),
            status,
            exit_code: self.exit_code,
            stderr_tail: tail,
        }))
    }
}
