//! Subprocesses in a running VM: [`Exec`].

use std::collections::BTreeMap;
use std::future::IntoFuture;

use bytes::Bytes;

use super::Process;
use contree_proto::types;

use crate::api;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::events::ExitStatus;
use crate::operations::RunHandle;
use crate::util::BoxFuture;

impl RunHandle {
    /// Runs a command inside this run's VM while it is running (a subprocess, spid 2+).
    pub fn exec(&self, command: impl Into<String>) -> Exec {
        Exec::new(
            self.client().clone(),
            self.operation_id().to_string(),
            command.into(),
        )
    }
}

/// A command to run inside a running VM (`POST /operations/{id}/subprocesses`): build it
/// with [`RunHandle::exec`] or [`Process::exec`], then [`spawn`](Exec::spawn) it for an
/// interactive [`Process`], or `.await` it for its [`ExecOutput`].
///
/// It runs as a shell script by default; [`args`](Exec::args) makes it an executable with
/// arguments.
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let main = img.shell("sleep 600").spawn().await?;
/// let ls = main.exec("ls /").await?;
/// println!("{}", String::from_utf8_lossy(&ls.stdout));
/// main.kill(contree::Signal::Term).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Exec does nothing until spawned or awaited"]
pub struct Exec {
    client: Contree,
    op_id: String,
    command: String,
    args: Vec<String>,
    shell: bool,
    env: Option<BTreeMap<String, String>>,
    cwd: Option<String>,
    uid: Option<u32>,
    gid: Option<u32>,
    stdin: Bytes,
    truncate_output_at: Option<u64>,
}

/// The result of an awaited [`Exec`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecOutput {
    /// The subprocess's id in its operation.
    pub spid: u64,
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout (capped at `truncate_output_at`).
    pub stdout: Bytes,
    /// Its stderr (capped at `truncate_output_at`).
    pub stderr: Bytes,
}

impl Exec {
    pub(crate) fn new(client: Contree, op_id: String, command: String) -> Self {
        Exec {
            client,
            op_id,
            command,
            args: Vec::new(),
            shell: true,
            env: None,
            cwd: None,
            uid: None,
            gid: None,
            stdin: Bytes::new(),
            truncate_output_at: None,
        }
    }

    /// Runs the command as an executable with these arguments (not through the shell).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self.shell = false;
        self
    }
    /// Sets an environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env
            .get_or_insert_with(BTreeMap::new)
            .insert(key.into(), value.into());
        self
    }
    /// Working directory (absolute).
    pub fn cwd(mut self, cwd: impl Into<String>) -> Self {
        self.cwd = Some(cwd.into());
        self
    }
    /// Runs as this uid.
    pub fn uid(mut self, uid: u32) -> Self {
        self.uid = Some(uid);
        self
    }
    /// Runs with this gid.
    pub fn gid(mut self, gid: u32) -> Self {
        self.gid = Some(gid);
        self
    }
    /// Feeds these bytes on stdin first.
    pub fn stdin(mut self, data: impl AsRef<[u8]>) -> Self {
        self.stdin = Bytes::copy_from_slice(data.as_ref());
        self
    }
    /// Caps the recorded stdout and stderr at this many bytes each.
    pub fn truncate_output_at(mut self, bytes: u64) -> Self {
        self.truncate_output_at = Some(bytes);
        self
    }

    async fn create(&self, keep_open: bool) -> Result<u64> {
        if let Some(cwd) = &self.cwd
            && !cwd.is_empty()
            && !cwd.starts_with('/')
        {
            return Err(Error::invalid(format!(
                "cwd `{cwd}` must be an absolute path"
            )));
        }
        let mut spec = types::ExecSpec::new(self.command.as_str());
        spec.args = (!self.args.is_empty()).then(|| self.args.clone());
        spec.shell = Some(self.shell);
        if let Some(env) = &self.env {
            spec.env = contree_proto::Nullable::Value(env.clone());
        }
        spec.cwd = self.cwd.clone();
        spec.uid = self.uid.map(i64::from);
        spec.gid = self.gid.map(i64::from);
        spec.stdin = Some(types::ClosableStreamRepr::from_bytes(
            &self.stdin,
            !keep_open,
        ));
        spec.truncate_output_at = self
            .truncate_output_at
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let action = format!("starting a subprocess in operation {}", self.op_id);
        // Not replayed after a 504 (the subprocess may have started).
        api::create_subprocess(&self.client, &self.op_id, spec, &action).await
    }

    /// Starts the subprocess with stdin kept open and returns its [`Process`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a command that cannot be sent; `Api` (409) when the main process
    /// no longer runs; the [errors of every call](crate#errors).
    pub async fn spawn(self) -> Result<Process> {
        let spid = self.create(true).await?;
        Ok(Process::start(self.client, self.op_id, spid, None))
    }

    async fn run(self) -> Result<ExecOutput> {
        let spid = self.create(false).await?;
        let process = Process::start(self.client.clone(), self.op_id.clone(), spid, None);
        let status = process.wait().await?;
        let action = format!("reading spid {spid} of operation {}", self.op_id);
        let res = api::get_subprocess(&self.client, &self.op_id, spid, &action).await?;
        Ok(ExecOutput {
            spid,
            status,
            stdout: res.stdout.map(|s| s.to_bytes().into()).unwrap_or_default(),
            stderr: res.stderr.map(|s| s.to_bytes().into()).unwrap_or_default(),
        })
    }
}

impl IntoFuture for Exec {
    type Output = Result<ExecOutput>;
    type IntoFuture = BoxFuture<Result<ExecOutput>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
