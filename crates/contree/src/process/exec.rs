//! Subprocesses in a running VM: [`Exec`].

use std::collections::BTreeMap;
use std::future::IntoFuture;

use bytes::Bytes;
use serde::Serialize;

use super::Process;
use super::pipes::StdinBody;
use crate::api::{Query, json_request, request, seg};
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::events::ExitStatus;
use crate::operations::RunHandle;
use crate::util::BoxFuture;
use crate::wire;

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

#[derive(Serialize)]
struct ExecBody {
    command: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    args: Vec<String>,
    shell: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gid: Option<u32>,
    stdin: StdinBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncate_output_at: Option<u64>,
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
        let enc = wire::WireStdin::encode(&self.stdin);
        let body = ExecBody {
            command: self.command.clone(),
            args: self.args.clone(),
            shell: self.shell,
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            uid: self.uid,
            gid: self.gid,
            stdin: StdinBody {
                value: enc.value,
                encoding: enc.encoding,
                close: !keep_open,
            },
            truncate_output_at: self.truncate_output_at,
        };
        let req = json_request(
            http::Method::POST,
            format!("/operations/{}/subprocesses", seg(&self.op_id)),
            &Query::new(),
            &body,
        )?;
        let action = format!("starting a subprocess in operation {}", self.op_id);
        // Not replayed after a 504 (the subprocess may have started).
        let resp = self
            .client
            .send(
                &contree_proto::ops::OPERATION_SUBPROCESS_CREATE,
                req,
                &action,
            )
            .await?;
        let s: contree_proto::types::OperationSubprocessCreateCreatedBody =
            wire::decode(&action, resp.body())?;
        u64::try_from(s.spid)
            .map_err(|_| Error::decode(&action, format!("negative spid {} in the answer", s.spid)))
    }

    /// Starts the subprocess with stdin kept open and returns its [`Process`].
    pub async fn spawn(self) -> Result<Process> {
        let spid = self.create(true).await?;
        Ok(Process::start(self.client, self.op_id, spid, None))
    }

    async fn run(self) -> Result<ExecOutput> {
        let spid = self.create(false).await?;
        let process = Process::start(self.client.clone(), self.op_id.clone(), spid, None);
        let status = process.wait().await?;
        let req = request(
            http::Method::GET,
            format!("/operations/{}/subprocesses/{spid}", seg(&self.op_id)),
            &Query::new(),
        );
        let action = format!("reading spid {spid} of operation {}", self.op_id);
        let resp = self
            .client
            .send(&contree_proto::ops::OPERATION_SUBPROCESS, req, &action)
            .await?;
        let res: wire::WireInstanceResult = wire::decode(&action, resp.body())?;
        Ok(ExecOutput {
            spid,
            status,
            stdout: res.stdout.map(|s| s.bytes()).unwrap_or_default(),
            stderr: res.stderr.map(|s| s.bytes()).unwrap_or_default(),
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
