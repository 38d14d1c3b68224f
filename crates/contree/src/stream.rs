//! Live output: typed operation events and streamed runs ([`Run::stream`]).

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::client::Contree;
use crate::error::{Error, Result};
use crate::images::{BoxStream, Image};
use crate::operations::{OperationStatus, RunHandle};
use crate::run::{Run, RunOutput};
use crate::wire;

/// Which standard stream an output event or a truncation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StdStream {
    /// Standard input (as recorded by the server).
    Stdin,
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// How a process ended, as its `exit` event reports it.
///
/// ```
/// # fn demo(status: contree::ExitStatus) {
/// match status.signal {
///     Some(sig) => println!("killed by signal {sig}"),
///     None => println!("exited with {}", status.code),
/// }
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExitStatus {
    /// The exit code (`0..=255`), or `-1` when killed by a signal.
    pub code: i32,
    /// The signal that ended the process, if any.
    pub signal: Option<i32>,
    /// Whether the per-process timeout fired.
    pub timed_out: bool,
    /// Whether the process dumped core.
    pub core_dump: bool,
    /// How long the process ran.
    pub duration: Option<Duration>,
}

impl ExitStatus {
    /// Whether the process exited 0 (not killed, not timed out).
    pub fn success(&self) -> bool {
        self.code == 0 && self.signal.is_none() && !self.timed_out
    }
}

/// A capped stream's final totals (the `truncated` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Truncation {
    /// The capped stream.
    pub stream: StdStream,
    /// Bytes kept in the log.
    pub bytes_emitted: u64,
    /// Bytes dropped beyond the cap.
    pub bytes_dropped: u64,
}

/// The terminal `completion` event of an operation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Completion {
    /// `Success`, `Failed` or `Cancelled`.
    pub status: OperationStatus,
    /// The produced image (`None` for disposable, failed or cancelled runs).
    pub result_image: Option<String>,
    /// The VM-level error, if the operation failed.
    pub error: Option<String>,
    /// How long the operation took.
    pub duration: Option<Duration>,
    /// Bytes written to the produced image.
    pub image_size: Option<i64>,
}

/// What an [`Event`] says.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The VM's init daemon started (spid 0).
    Init,
    /// The guest network was configured (spid 0).
    Network,
    /// A process started (`pid` is the guest kernel pid).
    Spawn {
        /// The guest pid.
        pid: i64,
    },
    /// Bytes written to a process's stdin.
    Stdin(Bytes),
    /// A chunk of a process's stdout.
    Stdout(Bytes),
    /// A chunk of a process's stderr.
    Stderr(Bytes),
    /// A stream hit its cap; its final totals.
    Truncated(Truncation),
    /// The global output size cap was reached; later output events are dropped.
    SizeCap {
        /// The cap.
        limit_bytes: i64,
        /// The log size when it was hit.
        file_size: i64,
    },
    /// A process ended.
    Exit(ExitStatus),
    /// The VM stopped (`job_complete`, `timeout`, `spawn_failed`, `signal`, ...).
    Shutdown {
        /// Why it stopped.
        reason: String,
    },
    /// The operation reached a terminal state (always the last event).
    Completion(Completion),
    /// An event type this SDK does not know yet, undecoded.
    Other {
        /// The event `type`.
        kind: String,
        /// The raw `data` payload.
        data: serde_json::Value,
    },
}

/// One event of an operation's log (`GET /operations/{id}/events`), decoded.
///
/// ```
/// # fn demo(ev: contree::Event) {
/// if let contree::EventKind::Stdout(chunk) = &ev.kind {
///     print!("{}", String::from_utf8_lossy(chunk));
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event id (increasing; resume after it with `events_since`).
    pub id: Option<u64>,
    /// The process: 0 the VM daemon, 1 the main process, 2+ exec'd subprocesses; `None`
    /// for `completion`.
    pub spid: Option<u64>,
    /// The server timestamp (RFC 3339, nanoseconds), as sent.
    pub ts: Option<String>,
    /// What happened.
    pub kind: EventKind,
}

/// An event as sent; `data` stays JSON text (borrowed from the frame) until `type` says which
/// shape to decode it into, so no `Value` tree is built for the events the SDK knows.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireOpEvent<'a> {
    id: Option<u64>,
    ts: Option<String>,
    spid: Option<u64>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireSpawn {
    pid: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireSizeCap {
    limit_bytes: Option<i64>,
    file_size: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireShutdown {
    reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireExit {
    code: Option<i64>,
    signal: Option<i64>,
    timed_out: Option<bool>,
    core_dump: Option<bool>,
    duration_ms: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireCompletion {
    status: Option<String>,
    duration_ms: Option<i64>,
    result_image_uuid: Option<String>,
    error: Option<String>,
    image_size_bytes: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireTruncated {
    stream: Option<String>,
    bytes_emitted: Option<u64>,
    bytes_dropped: Option<u64>,
}

/// Decodes an event's payload into the shape its type promises; a payload of another shape
/// (or none) gives the shape's default, as the official client tolerates odd payloads.
fn field<T: serde::de::DeserializeOwned + Default>(data: Option<&RawValue>) -> T {
    data.and_then(|d| serde_json::from_str(d.get()).ok())
        .unwrap_or_default()
}

fn ms(v: Option<i64>) -> Option<Duration> {
    v.and_then(|m| u64::try_from(m).ok())
        .map(Duration::from_millis)
}

fn exit_status(data: Option<&RawValue>) -> ExitStatus {
    let e: WireExit = field(data);
    ExitStatus {
        code: e.code.and_then(|c| i32::try_from(c).ok()).unwrap_or(-1),
        signal: e
            .signal
            .filter(|s| *s > 0)
            .and_then(|s| i32::try_from(s).ok()),
        timed_out: e.timed_out.unwrap_or(false),
        core_dump: e.core_dump.unwrap_or(false),
        duration: ms(e.duration_ms),
    }
}

impl Event {
    /// Decodes the transport's raw SSE event (its SSE id, when present, wins over the JSON's).
    pub(crate) fn decode(sse: &contree_transport::SseEvent) -> Event {
        let mut ev = Event::from_json(&sse.event, &sse.data);
        ev.id = sse.id.or(ev.id);
        ev
    }

    /// Decodes one event of an operation's event log the way the SDK does while following a
    /// run: `name` is the frame's SSE `event:` field (used only when the JSON carries no
    /// `type`) and `json` its `data:` text, an `OperationEvent` object.
    ///
    /// It never fails, as the official client tolerates odd payloads: a payload that does not
    /// match its type leaves the fields it could not read at their defaults (an exit code of
    /// -1, empty output), and a type this SDK does not know is kept as [`EventKind::Other`].
    /// Useful for event logs saved or fetched by other means.
    ///
    /// ```
    /// use contree::{Event, EventKind};
    /// let ev = Event::from_json(
    ///     "stdout",
    ///     r#"{"id":3,"spid":1,"type":"stdout","data":{"value":"aGk=","encoding":"base64"}}"#,
    /// );
    /// assert_eq!((ev.id, ev.spid), (Some(3), Some(1)));
    /// assert_eq!(ev.kind, EventKind::Stdout("hi".into()));
    /// ```
    pub fn from_json(name: &str, json: &str) -> Event {
        let w: WireOpEvent<'_> = serde_json::from_str(json).unwrap_or_default();
        let kind_name: &str = match w.kind.as_deref() {
            Some(k) if !k.is_empty() => k,
            _ => name,
        };
        let data = w.data;
        let stream_bytes = |d| -> Bytes {
            let s: wire::WireStream = field(d);
            s.bytes()
        };
        let other = || EventKind::Other {
            kind: kind_name.to_string(),
            // The payload as a JSON value (`null` when absent).
            data: field::<serde_json::Value>(data),
        };
        let kind = match kind_name {
            "init" => EventKind::Init,
            "network" => EventKind::Network,
            "spawn" => EventKind::Spawn {
                pid: field::<WireSpawn>(data).pid.unwrap_or(-1),
            },
            "stdin" => EventKind::Stdin(stream_bytes(data)),
            "stdout" => EventKind::Stdout(stream_bytes(data)),
            "stderr" => EventKind::Stderr(stream_bytes(data)),
            "exit" => EventKind::Exit(exit_status(data)),
            "truncated" => {
                let t: WireTruncated = field(data);
                let stream = match t.stream.as_deref() {
                    Some("stdin") => Some(StdStream::Stdin),
                    Some("stdout") => Some(StdStream::Stdout),
                    Some("stderr") => Some(StdStream::Stderr),
                    _ => None,
                };
                match stream {
                    Some(stream) => EventKind::Truncated(Truncation {
                        stream,
                        bytes_emitted: t.bytes_emitted.unwrap_or(0),
                        bytes_dropped: t.bytes_dropped.unwrap_or(0),
                    }),
                    None => other(),
                }
            }
            "size_cap" => {
                let c: WireSizeCap = field(data);
                EventKind::SizeCap {
                    limit_bytes: c.limit_bytes.unwrap_or(0),
                    file_size: c.file_size.unwrap_or(0),
                }
            }
            "shutdown" => EventKind::Shutdown {
                reason: field::<WireShutdown>(data).reason.unwrap_or_default(),
            },
            "completion" => {
                let c: WireCompletion = field(data);
                EventKind::Completion(Completion {
                    status: OperationStatus::parse(c.status.as_deref().unwrap_or("")),
                    result_image: c.result_image_uuid,
                    error: c.error,
                    duration: ms(c.duration_ms),
                    image_size: c.image_size_bytes,
                })
            }
            _ => other(),
        };
        Event {
            id: w.id,
            spid: w.spid,
            ts: w.ts,
            kind,
        }
    }

    /// Whether this is the operation's terminal `completion` event.
    pub fn is_completion(&self) -> bool {
        matches!(self.kind, EventKind::Completion(_))
    }
}

/// Which events [`follow_events`] reads.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Follow {
    pub since: Option<u64>,
    pub spid: Option<u64>,
}

struct FollowState {
    client: Contree,
    op_id: String,
    follow: Follow,
    inner: Option<contree_transport::EventStream>,
    last_id: Option<u64>,
    /// Whether the current connection is a `follow=0` drain of a terminal operation.
    draining: bool,
    /// Re-opens in a row that brought no event.
    idle_reopens: u32,
    /// Follow rounds in a row that ended without an event while the operation runs.
    quiet_rounds: u32,
    progressed: bool,
    done: bool,
}

const MAX_IDLE_REOPENS: u32 = 8;

impl FollowState {
    fn open(&mut self, follow: bool) {
        let params = contree_transport::EventParams {
            follow,
            spid: self.follow.spid,
            since: self.last_id,
        };
        self.inner = Some(self.client.transport().events(&self.op_id, params));
        self.draining = !follow;
        self.progressed = false;
    }

    async fn next(&mut self) -> Option<Result<Event>> {
        loop {
            if self.done {
                if let Some(mut s) = self.inner.take() {
                    // After `completion` the transport stream reads the rest of its response
                    // (briefly) and ends: its connection then goes back to the pool.
                    while s.next().await.is_some() {}
                }
                return None;
            }
            if self.inner.is_none() {
                self.open(true);
            }
            let item = match self.inner.as_mut() {
                Some(s) => s.next().await,
                None => None,
            };
            match item {
                Some(Ok(sse)) => {
                    if let Some(id) = sse.id {
                        if self.last_id.is_some_and(|l| id <= l) {
                            continue;
                        }
                        self.last_id = Some(id);
                    }
                    self.progressed = true;
                    self.idle_reopens = 0;
                    let ev = Event::decode(&sse);
                    if ev.is_completion() {
                        self.done = true;
                        if sse.event != "completion" {
                            // Only a named `completion` ends the transport stream by itself.
                            self.inner = None;
                        }
                    }
                    return Some(Ok(ev));
                }
                Some(Err(e)) => {
                    let fatal = e.status().is_some_and(|s| {
                        s.is_client_error() && !matches!(s.as_u16(), 408 | 410 | 425 | 429)
                    });
                    self.inner = None;
                    if fatal || self.idle_reopens >= MAX_IDLE_REOPENS {
                        self.done = true;
                        return Some(Err(Error::transport(
                            format!("following the events of operation {}", self.op_id),
                            e,
                        )));
                    }
                    tracing::debug!(operation_id = %self.op_id, error = %e, "event stream failed; reopening");
                    self.idle_reopens += 1;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                None => {
                    // The stream ended without `completion`.
                    self.inner = None;
                    if self.follow.spid.is_some() {
                        // A spid-filtered stream has no completion; it ends with the op.
                        self.done = true;
                        return None;
                    }
                    if self.draining && !self.progressed {
                        self.done = true;
                        return Some(Err(Error::invalid(format!(
                            "the event log of operation {} ended without a completion event; read the result with operations().get()",
                            self.op_id
                        ))));
                    }
                    match crate::wait::get_operation(&self.client, &self.op_id).await {
                        Ok((op, _)) if op.is_terminal() => self.open(false),
                        Ok(_) => {
                            // Still running: follow again, without a limit (the caller's
                            // deadline bounds it), backing off while nothing arrives.
                            if self.progressed {
                                self.quiet_rounds = 0;
                            } else {
                                self.quiet_rounds = (self.quiet_rounds + 1).min(4);
                                let ms = 300u64 << self.quiet_rounds;
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            self.open(true);
                        }
                        Err(e) => {
                            self.done = true;
                            return Some(Err(e));
                        }
                    }
                }
            }
        }
    }
}

/// The resumable, de-duplicated, typed event stream of an operation. On top of the
/// transport's reconnection (Last-Event-Id, 410/425/5xx, `sse_error`), a stream that ends
/// without `completion` is re-opened (following while the operation runs, draining once it
/// is terminal), so every event arrives exactly once and in order.
pub(crate) fn follow_events(client: &Contree, op_id: &str, follow: Follow) -> BoxStream<Event> {
    let state = FollowState {
        client: client.clone(),
        op_id: op_id.to_string(),
        follow,
        inner: None,
        last_id: follow.since,
        draining: false,
        idle_reopens: 0,
        quiet_rounds: 0,
        progressed: false,
        done: false,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        st.next().await.map(|item| (item, st))
    })
    .boxed()
}

/// One item of a streamed run ([`Run::stream`], [`RunHandle::events`]).
///
/// The main process's output arrives as [`Stdout`](RunEvent::Stdout) and
/// [`Stderr`](RunEvent::Stderr) chunks, in order and exactly once (the stream resumes
/// across dropped connections); the last item is [`Output`](RunEvent::Output).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum RunEvent {
    /// The run was accepted; keep the operation id to re-attach later
    /// ([`Operations::attach`](crate::Operations::attach)).
    Started {
        /// The operation id.
        operation_id: String,
    },
    /// A chunk of the main process's stdout.
    Stdout(Bytes),
    /// A chunk of the main process's stderr.
    Stderr(Bytes),
    /// The main process's output was capped at `truncate_output_at`.
    Truncated(Truncation),
    /// The main process ended.
    Exit(ExitStatus),
    /// The operation reached a terminal state.
    Completion(Completion),
    /// Any other event (VM lifecycle, subprocess output, ...), with its event id.
    Other(Event),
    /// The final result (the last item).
    Output(Box<RunOutput>),
}

/// How a finished run turns into its output, and which session it advances.
pub(crate) struct Finisher {
    pub run: Option<Run>,
    pub image: Option<Image>,
    pub session: Option<crate::session::Session>,
    pub guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl fmt::Debug for Finisher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finisher")
            .field("image", &self.image)
            .field("session", &self.session.is_some())
            .finish_non_exhaustive()
    }
}

impl Finisher {
    pub(crate) fn bare() -> Self {
        Finisher {
            run: None,
            image: None,
            session: None,
            guard: None,
        }
    }

    /// Builds the output from the terminal operation and advances the session (then lets
    /// the session's next run go).
    pub(crate) async fn finish(
        &mut self,
        client: &Contree,
        op_id: &str,
        op: &wire::WireOperation,
    ) -> Result<RunOutput> {
        let out = match (&self.run, &self.image) {
            (Some(run), Some(image)) => run.finish_on(image, op_id, op).await,
            _ => {
                crate::wait::check_terminal(op, op_id)?;
                RunOutput::from_bare_operation(client, op_id, op)
            }
        };
        if let (Ok(out), Some(session)) = (&out, &self.session) {
            session.advance(out);
        }
        self.guard = None;
        out
    }
}

/// Fetches the operation until it is terminal (it is, right after `completion`; the loop
/// only covers a lagging status).
pub(crate) async fn terminal_operation(
    client: &Contree,
    op_id: &str,
) -> Result<wire::WireOperation> {
    let mut delay = Duration::from_millis(100);
    loop {
        let (op, _) = crate::wait::get_operation(client, op_id).await?;
        if op.is_terminal() {
            return Ok(op);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Turns an operation's events into [`RunEvent`]s ending with the output.
pub(crate) fn run_events(
    handle: RunHandle,
    since: Option<u64>,
    started: bool,
) -> BoxStream<RunEvent> {
    let events = follow_events(
        handle.client(),
        handle.operation_id(),
        Follow { since, spid: None },
    );
    let start = started.then(|| {
        Ok(RunEvent::Started {
            operation_id: handle.operation_id().to_string(),
        })
    });
    let tail = futures_util::stream::unfold(
        (Some(events), Some(handle)),
        |(events, handle)| async move {
            let mut events = events?;
            match events.next().await {
                Some(Ok(ev)) => {
                    let item = match (ev.spid, ev.kind.clone()) {
                        (Some(1), EventKind::Stdout(b)) => RunEvent::Stdout(b),
                        (Some(1), EventKind::Stderr(b)) => RunEvent::Stderr(b),
                        (Some(1), EventKind::Exit(s)) => RunEvent::Exit(s),
                        (Some(1), EventKind::Truncated(t)) => RunEvent::Truncated(t),
                        (_, EventKind::Completion(c)) => RunEvent::Completion(c),
                        _ => RunEvent::Other(ev),
                    };
                    Some((Ok(item), (Some(events), handle)))
                }
                Some(Err(e)) => Some((Err(e), (None, None))),
                None => {
                    let handle = handle?;
                    let out = match terminal_operation(handle.client(), handle.operation_id()).await
                    {
                        Ok(op) => handle
                            .finish(&op)
                            .await
                            .map(|o| RunEvent::Output(Box::new(o))),
                        Err(e) => Err(e),
                    };
                    Some((out, (None, None)))
                }
            }
        },
    );
    futures_util::stream::iter(start).chain(tail).boxed()
}

impl Run {
    /// Spawns the run and streams its live output: `Started`, then stdout/stderr chunks
    /// as they are produced (in order, exactly once, resuming across dropped
    /// connections), `Exit`, `Completion`, and finally the [`RunOutput`].
    ///
    /// Nothing happens until the stream is polled. On a session, the stream waits for the
    /// session's turn and advances it when the output arrives; dropping the stream early
    /// leaves the session where it was.
    ///
    /// ```no_run
    /// # async fn demo(img: contree::Image) -> contree::Result<()> {
    /// use futures_util::StreamExt as _;
    /// let mut live = img.shell("for i in 1 2 3; do echo $i; sleep 1; done").stream();
    /// while let Some(ev) = live.next().await {
    ///     match ev? {
    ///         contree::RunEvent::Stdout(chunk) => print!("{}", String::from_utf8_lossy(&chunk)),
    ///         contree::RunEvent::Output(out) => println!("exit {}", out.exit_code()),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> BoxStream<RunEvent> {
        let fut = async move {
            let handle = self.start_inner(false).await?;
            Ok::<_, Error>(run_events(handle, None, true))
        };
        futures_util::stream::once(fut)
            .flat_map(|r| match r {
                Ok(s) => s,
                Err(e) => futures_util::stream::iter([Err(e)]).boxed(),
            })
            .boxed()
    }

    /// Spawns the run and returns at once with a detached [`RunHandle`]: its operation id,
    /// live [`events`](RunHandle::events), [`wait`](RunHandle::wait) and
    /// [`cancel`](RunHandle::cancel). Re-attach later from the id alone with
    /// [`Operations::attach`](crate::Operations::attach).
    ///
    /// On a session, the session is reserved until the handle's `wait` (or `events`
    /// output) completes, and advanced then.
    pub async fn start(self) -> Result<RunHandle> {
        self.start_inner(false).await
    }

    /// Spawns the run (`keep_stdin_open` for interactive processes) and returns its handle.
    pub(crate) async fn start_inner(self, keep_stdin_open: bool) -> Result<RunHandle> {
        let client = self.client_ref().clone();
        let session = self.session_target();
        let guard = match &session {
            Some(s) => Some(s.lock_runs().await),
            None => None,
        };
        let image = match (&session, self.image_target()) {
            (Some(s), _) => s.current(),
            (None, Some(i)) => i,
            (None, None) => return Err(Error::invalid("internal: a run without a target")),
        };
        let op_id = self.spawn_on(&image, keep_stdin_open).await?;
        let deadline = self.wait_deadline();
        Ok(RunHandle::new(
            client,
            op_id,
            Some(deadline),
            Finisher {
                run: Some(self),
                image: Some(image),
                session,
                guard,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(event: &str, id: u64, data: &str) -> contree_transport::SseEvent {
        contree_transport::SseEvent {
            id: Some(id),
            event: event.to_string(),
            data: data.to_string(),
        }
    }

    #[test]
    fn decodes_output_exit_completion_and_unknown_events() {
        let ev = Event::decode(&sse(
            "stdout",
            3,
            r#"{"id":3,"ts":"t","spid":1,"type":"stdout","data":{"value":"AP8=","encoding":"base64"}}"#,
        ));
        assert_eq!(ev.id, Some(3));
        assert_eq!(ev.spid, Some(1));
        assert_eq!(ev.kind, EventKind::Stdout(Bytes::from_static(&[0, 255])));

        let ev = Event::decode(&sse(
            "exit",
            4,
            r#"{"id":4,"spid":1,"type":"exit","data":{"pid":7,"code":-1,"signal":15,"timed_out":false,"duration_ms":5}}"#,
        ));
        let EventKind::Exit(status) = ev.kind else {
            panic!("not an exit: {ev:?}")
        };
        assert_eq!((status.code, status.signal), (-1, Some(15)));
        assert!(!status.success());

        let ev = Event::decode(&sse(
            "completion",
            9,
            r#"{"id":9,"type":"completion","data":{"status":"SUCCESS","duration_ms":10,"result_image_uuid":null}}"#,
        ));
        assert!(ev.is_completion());
        assert_eq!(ev.spid, None);

        let ev = Event::decode(&sse(
            "brand_new",
            10,
            r#"{"id":10,"spid":0,"type":"brand_new","data":{"x":1}}"#,
        ));
        assert!(matches!(ev.kind, EventKind::Other { ref kind, .. } if kind == "brand_new"));
    }

    #[test]
    fn a_malformed_payload_is_not_an_error() {
        let ev = Event::decode(&sse("stdout", 1, "not json"));
        assert_eq!(ev.kind, EventKind::Stdout(Bytes::new()));
        assert_eq!(ev.id, Some(1));
    }

    #[test]
    fn decodes_every_modelled_kind_and_tolerates_odd_payloads() {
        let kind = |event: &str, data: &str| Event::decode(&sse(event, 1, data)).kind;
        assert_eq!(
            kind(
                "spawn",
                r#"{"type":"spawn","data":{"pid":1001,"args":["-c","x"]}}"#
            ),
            EventKind::Spawn { pid: 1001 }
        );
        // A pid of the wrong shape, or no payload, is -1 (unknown), not an error.
        assert_eq!(
            kind("spawn", r#"{"type":"spawn","data":{"pid":"7"}}"#),
            EventKind::Spawn { pid: -1 }
        );
        assert_eq!(
            kind("spawn", r#"{"type":"spawn"}"#),
            EventKind::Spawn { pid: -1 }
        );
        assert_eq!(
            kind(
                "size_cap",
                r#"{"type":"size_cap","data":{"limit_bytes":10,"file_size":12}}"#
            ),
            EventKind::SizeCap {
                limit_bytes: 10,
                file_size: 12
            }
        );
        assert_eq!(
            kind(
                "shutdown",
                r#"{"type":"shutdown","data":{"reason":"done \"now\""}}"#
            ),
            EventKind::Shutdown {
                reason: "done \"now\"".into()
            }
        );
        assert_eq!(
            kind(
                "truncated",
                r#"{"type":"truncated","data":{"stream":"stderr","bytes_emitted":5,"bytes_dropped":2}}"#
            ),
            EventKind::Truncated(Truncation {
                stream: StdStream::Stderr,
                bytes_emitted: 5,
                bytes_dropped: 2,
            })
        );
        // A truncation of an unknown stream keeps its payload as a value.
        assert_eq!(
            kind(
                "truncated",
                r#"{"type":"truncated","data":{"stream":"fd3"}}"#
            ),
            EventKind::Other {
                kind: "truncated".into(),
                data: serde_json::json!({"stream": "fd3"}),
            }
        );
        // `type` with an escape is still read; without `type`, the SSE event name decides.
        assert_eq!(
            kind("x", r#"{"type":"std\u006fut","data":{"value":"hi"}}"#),
            EventKind::Stdout(Bytes::from_static(b"hi"))
        );
        assert_eq!(
            kind("stderr", r#"{"data":{"value":"e"}}"#),
            EventKind::Stderr(Bytes::from_static(b"e"))
        );
        // An unknown kind without a payload carries `null`.
        assert_eq!(
            kind("later", r#"{"type":"later"}"#),
            EventKind::Other {
                kind: "later".into(),
                data: serde_json::Value::Null
            }
        );
    }
}
