//! Typed operation events ([`Event`]), decoded from the server's event log.

mod follow;

pub(crate) use follow::{Follow, follow_events};

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::operations::OperationStatus;
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
