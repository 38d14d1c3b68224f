//! Operations: get, list, cancel, wait, events; detached run handles; `wait_all`/`wait_any`.

use std::fmt;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;

use crate::client::{Contree, Query, request};
use crate::error::{Error, Inner, Result};
use crate::images::{BoxFuture, BoxStream, TimeFilter, paginate};
use crate::run::RunOutput;
use crate::stream::{Event, Finisher, Follow, RunEvent, follow_events, run_events};
use crate::wire;

/// The lifecycle state of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationStatus {
    /// Queued.
    Pending,
    /// A worker holds it; the VM is starting.
    Assigned,
    /// Running.
    Executing,
    /// The VM ran to completion (this does not mean exit code 0).
    Success,
    /// A VM-level failure (image missing, OOM, scheduler, ...).
    Failed,
    /// Cancelled on request.
    Cancelled,
    /// A status this SDK does not know yet.
    Unknown(String),
}

impl OperationStatus {
    pub(crate) fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "PENDING" => Self::Pending,
            "ASSIGNED" => Self::Assigned,
            "EXECUTING" => Self::Executing,
            "SUCCESS" => Self::Success,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            _ => Self::Unknown(s.to_string()),
        }
    }

    /// The wire name (`PENDING`, `SUCCESS`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Assigned => "ASSIGNED",
            Self::Executing => "EXECUTING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the operation is over (`Success`, `Failed` or `Cancelled`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationKind {
    /// A run (`POST /instances`).
    Instance,
    /// An image import.
    ImageImport,
    /// A kind this SDK does not know yet.
    Unknown(String),
}

impl OperationKind {
    fn parse(s: &str) -> Self {
        match s {
            "instance" => Self::Instance,
            "image_import" => Self::ImageImport,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The wire name (`instance`, `image_import`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Instance => "instance",
            Self::ImageImport => "image_import",
            Self::Unknown(s) => s,
        }
    }
}

/// The state of an operation, as `GET /operations/{id}` (or the list) reports it.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree, id: &str) -> contree::Result<()> {
/// let op = contree.operations().get(id).await?;
/// println!("{} is {} (from image {:?} to {:?})", op.id, op.status, op.image, op.result_image);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The operation id.
    pub id: String,
    /// What it does.
    pub kind: Option<OperationKind>,
    /// Where it is in its lifecycle.
    pub status: OperationStatus,
    /// The VM-level error of a failed operation.
    pub error: Option<String>,
    /// When it was created (ISO 8601, as sent).
    pub created_at: Option<String>,
    /// How long it took, once finished.
    pub duration: Option<Duration>,
    /// Bytes written for the produced image.
    pub image_size: Option<i64>,
    /// The source image (runs).
    pub image: Option<String>,
    /// The produced image (successful, kept runs and imports).
    pub result_image: Option<String>,
}

impl OperationInfo {
    pub(crate) fn from_wire(fallback_id: &str, op: &wire::WireOperation) -> Self {
        OperationInfo {
            id: op.uuid.clone().unwrap_or_else(|| fallback_id.to_string()),
            kind: op.kind.as_deref().map(OperationKind::parse),
            status: OperationStatus::parse(op.status.as_deref().unwrap_or("")),
            error: op.error.clone(),
            created_at: op.created_at.clone(),
            duration: op
                .duration
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(Duration::from_secs_f64),
            image_size: op.image_size,
            image: op.image_uuid.clone(),
            result_image: op.result_image(),
        }
    }
}

/// The operations manager: `contree.operations()`.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use contree::OperationStatus;
/// let running: Vec<_> = contree.operations().list().status(OperationStatus::Executing)
///     .stream().try_collect().await?;
/// for op in &running {
///     contree.operations().cancel(&op.id).await?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Operations {
    client: Contree,
}

impl Contree {
    /// Operations: get, list, cancel, wait, events, and re-attaching to runs.
    pub fn operations(&self) -> Operations {
        Operations {
            client: self.clone(),
        }
    }
}

impl Operations {
    /// The current state of an operation.
    pub async fn get(&self, id: &str) -> Result<OperationInfo> {
        let (op, _) = crate::wait::get_operation(&self.client, id).await?;
        Ok(OperationInfo::from_wire(id, &op))
    }

    /// Lists operations, newest filters first: await for one page, or
    /// [`stream`](ListOperations::stream) all of them.
    pub fn list(&self) -> ListOperations {
        ListOperations {
            client: self.client.clone(),
            limit: None,
            offset: 0,
            status: None,
            kind: None,
            since: None,
            until: None,
        }
    }

    /// Asks the server to cancel an operation (`409` if it is already over).
    pub async fn cancel(&self, id: &str) -> Result<()> {
        crate::wait::cancel_operation(&self.client, id).await
    }

    /// A handle to a run known only by its operation id (no request is made): follow its
    /// events, wait for its output, cancel it, exec into it.
    pub fn attach(&self, id: impl Into<String>) -> RunHandle {
        RunHandle::new(self.client.clone(), id.into(), None, Finisher::bare())
    }

    /// The operation's typed event log from the start, following it live until
    /// `completion` (resuming across dropped connections).
    pub fn events(&self, id: &str) -> BoxStream<Event> {
        follow_events(&self.client, id, Follow::default())
    }

    /// Like [`events`](Self::events), but only events after event id `since`.
    pub fn events_since(&self, id: &str, since: u64) -> BoxStream<Event> {
        follow_events(
            &self.client,
            id,
            Follow {
                since: Some(since),
                spid: None,
            },
        )
    }

    /// Waits until the operation is terminal and returns its final state (`Failed` and
    /// `Cancelled` are returned, not raised). Gives up after `deadline` with a
    /// [`Timeout`](crate::ErrorKind::Timeout) error, leaving the operation running.
    pub async fn wait(&self, id: &str, deadline: Duration) -> Result<OperationInfo> {
        let op = wait_terminal(&self.client, id, deadline).await?;
        Ok(OperationInfo::from_wire(id, &op))
    }

    /// Waits for every run; results in the order of `handles`.
    pub async fn wait_all(&self, handles: &[RunHandle]) -> Vec<Result<RunOutput>> {
        futures_util::future::join_all(handles.iter().map(|h| h.wait())).await
    }

    /// Waits for the first run to finish and returns its index in `handles` and its
    /// output; the others keep running (wait for them, or cancel them). `None` when
    /// `handles` is empty.
    pub async fn wait_any(&self, handles: &[RunHandle]) -> Option<(usize, Result<RunOutput>)> {
        if handles.is_empty() {
            return None;
        }
        let futs: Vec<BoxFuture<Result<RunOutput>>> = handles
            .iter()
            .map(|h| {
                let h = h.clone();
                Box::pin(async move { h.wait().await }) as BoxFuture<Result<RunOutput>>
            })
            .collect();
        let (out, index, _rest) = futures_util::future::select_all(futs).await;
        Some((index, out))
    }
}

/// Follows events to completion (falling back to polling when following is refused), then
/// reads the terminal state; gives up after `deadline` without cancelling.
pub(crate) async fn wait_terminal(
    client: &Contree,
    op_id: &str,
    deadline: Duration,
) -> Result<wire::WireOperation> {
    let fut = async {
        let mut events = follow_events(client, op_id, Follow::default());
        while let Some(ev) = events.next().await {
            match ev {
                Ok(ev) if ev.is_completion() => break,
                Ok(_) => {}
                Err(e) => {
                    // No event log (e.g. imports), or following is refused: poll instead
                    // (an unknown operation then fails with 404 on the status request).
                    tracing::debug!(operation_id = %op_id, error = %e, "cannot follow events; polling");
                    break;
                }
            }
        }
        crate::stream::terminal_operation(client, op_id).await
    };
    match tokio::time::timeout(deadline, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::new(Inner::WaitDeadline {
            operation_id: op_id.to_string(),
            waited: deadline,
        })),
    }
}

struct HandleInner {
    client: Contree,
    op_id: String,
    deadline: Option<Duration>,
    finish: tokio::sync::Mutex<(Option<Finisher>, Option<RunOutput>)>,
}

/// A detached run: spawned, not awaited. From [`Run::start`](crate::Run::start), or
/// re-attached from an operation id with [`Operations::attach`].
///
/// Cheap to clone; clones share the run (its output is computed once).
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let handle = img.shell("make -j8").start().await?;
/// let id = handle.operation_id().to_string();
/// // ... later, maybe in another process:
/// let again = img.client().operations().attach(id);
/// let out = again.wait().await?;
/// println!("exit {}", out.exit_code());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RunHandle {
    inner: Arc<HandleInner>,
}

impl fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunHandle")
            .field("operation_id", &self.inner.op_id)
            .finish_non_exhaustive()
    }
}

impl RunHandle {
    pub(crate) fn new(
        client: Contree,
        op_id: String,
        deadline: Option<Duration>,
        finisher: Finisher,
    ) -> Self {
        RunHandle {
            inner: Arc::new(HandleInner {
                client,
                op_id,
                deadline,
                finish: tokio::sync::Mutex::new((Some(finisher), None)),
            }),
        }
    }

    pub(crate) fn client(&self) -> &Contree {
        &self.inner.client
    }

    /// The operation id (keep it to re-attach later).
    pub fn operation_id(&self) -> &str {
        &self.inner.op_id
    }

    /// The operation's current state.
    pub async fn status(&self) -> Result<OperationInfo> {
        self.inner.client.operations().get(&self.inner.op_id).await
    }

    /// The run's live output from the start, ending with the [`RunOutput`]
    /// (see [`Run::stream`](crate::Run::stream)).
    pub fn events(&self) -> BoxStream<RunEvent> {
        run_events(self.clone(), None, false)
    }

    /// The run's live output after event id `since` (resume where an earlier stream
    /// stopped), ending with the [`RunOutput`].
    pub fn events_since(&self, since: u64) -> BoxStream<RunEvent> {
        run_events(self.clone(), Some(since), false)
    }

    /// Waits for the run and returns its output (a non-zero exit is data; a `FAILED` or
    /// `CANCELLED` operation is an error). The wait deadline is the run's server timeout
    /// plus the client's wait margin; past it, the run keeps going on the server and this
    /// returns a [`Timeout`](crate::ErrorKind::Timeout) error.
    pub async fn wait(&self) -> Result<RunOutput> {
        let deadline = self.inner.deadline.unwrap_or_else(|| {
            self.inner.client.default_run_timeout() + self.inner.client.wait_margin()
        });
        self.wait_timeout(deadline).await
    }

    /// Like [`wait`](Self::wait) with an explicit deadline.
    pub async fn wait_timeout(&self, deadline: Duration) -> Result<RunOutput> {
        if let Some(out) = &self.inner.finish.lock().await.1 {
            return Ok(out.clone());
        }
        let op = wait_terminal(&self.inner.client, &self.inner.op_id, deadline).await?;
        self.finish(&op).await
    }

    /// Builds (once) the output from the terminal operation and advances the session.
    pub(crate) async fn finish(&self, op: &wire::WireOperation) -> Result<RunOutput> {
        let mut guard = self.inner.finish.lock().await;
        if let Some(out) = &guard.1 {
            return Ok(out.clone());
        }
        let mut finisher = guard.0.take().unwrap_or_else(Finisher::bare);
        let out = finisher
            .finish(&self.inner.client, &self.inner.op_id, op)
            .await;
        match &out {
            Ok(o) => guard.1 = Some(o.clone()),
            Err(_) => guard.0 = Some(Finisher::bare()),
        }
        out
    }

    /// Asks the server to cancel the run.
    pub async fn cancel(&self) -> Result<()> {
        crate::wait::cancel_operation(&self.inner.client, &self.inner.op_id).await
    }
}

/// Lists operations: await for one page, or [`stream`](ListOperations::stream) all.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use std::time::Duration;
/// use contree::{OperationKind, OperationStatus};
/// let failed = contree.operations().list()
///     .status(OperationStatus::Failed)
///     .kind(OperationKind::Instance)
///     .since(Duration::from_secs(24 * 3600))
///     .await?;
/// # let _ = failed; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ListOperations does nothing until awaited or streamed"]
pub struct ListOperations {
    client: Contree,
    limit: Option<u32>,
    offset: u64,
    status: Option<OperationStatus>,
    kind: Option<OperationKind>,
    since: Option<TimeFilter>,
    until: Option<TimeFilter>,
}

fn resolve(t: &TimeFilter, now: SystemTime) -> SystemTime {
    match t {
        TimeFilter::At(t) => *t,
        TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
    }
}

impl ListOperations {
    /// Page size (1..=1000, default 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.clamp(1, 1000));
        self
    }
    /// Skips this many operations.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// Only operations in this state.
    pub fn status(mut self, status: OperationStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only operations of this kind.
    pub fn kind(mut self, kind: OperationKind) -> Self {
        self.kind = Some(kind);
        self
    }
    /// Only operations created after this instant or within this age.
    pub fn since(mut self, since: impl Into<TimeFilter>) -> Self {
        self.since = Some(since.into());
        self
    }
    /// Only operations created before this instant or more than this age ago.
    pub fn until(mut self, until: impl Into<TimeFilter>) -> Self {
        self.until = Some(until.into());
        self
    }

    fn query(&self, offset: u64, limit: u32, now: SystemTime) -> Query {
        let mut q = Query::new();
        q.push("limit", limit).push("offset", offset);
        q.opt(
            "status",
            self.status.as_ref().map(|s| s.as_str().to_string()),
        )
        .opt("kind", self.kind.as_ref().map(|k| k.as_str().to_string()))
        .opt(
            "since",
            self.since
                .as_ref()
                .map(|s| crate::images::rfc3339(resolve(s, now))),
        )
        .opt(
            "until",
            self.until
                .as_ref()
                .map(|s| crate::images::rfc3339(resolve(s, now))),
        );
        q
    }

    async fn page(client: &Contree, q: &Query) -> Result<Vec<OperationInfo>> {
        let req = request(http::Method::GET, "/operations".into(), q);
        let action = "listing operations";
        let resp = client
            .send(&contree_proto::ops::LIST_OPERATIONS, req, action)
            .await?;
        let list: Vec<wire::WireOperation> = wire::decode(action, resp.body())?;
        Ok(list
            .iter()
            .map(|o| OperationInfo::from_wire("", o))
            .collect())
    }

    /// Every matching operation, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<OperationInfo> {
        let now = SystemTime::now();
        let page_size = self.limit.unwrap_or(100);
        paginate(page_size, move |offset| {
            let this = self.clone();
            async move {
                let q = this.query(this.offset + offset, page_size, now);
                Self::page(&this.client, &q).await
            }
        })
    }
}

impl IntoFuture for ListOperations {
    type Output = Result<Vec<OperationInfo>>;
    type IntoFuture = BoxFuture<Result<Vec<OperationInfo>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let q = self.query(self.offset, self.limit.unwrap_or(100), SystemTime::now());
            Self::page(&self.client, &q).await
        })
    }
}
