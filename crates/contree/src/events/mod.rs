//! Typed operation events ([`Event`]), decoded from the server's event log.

mod deadline;
mod follow;

pub(crate) use deadline::with_deadline;
pub(crate) use follow::{Follow, follow_events};

use std::time::Duration;

use bytes::Bytes;
use contree_proto::types;

use crate::operations::OperationStatus;

/// Which standard stream an output event or a truncation is about: contree-proto's generated
/// enum (`stdin`, `stdout`, `stderr`, or a value this version does not know, kept verbatim).
///
/// ```
/// use contree::StdStream;
/// assert_eq!(StdStream::from("stderr"), StdStream::Stderr);
/// assert_eq!(StdStream::Stdout.as_str(), "stdout");
/// assert_eq!(StdStream::from("stdfuture"), StdStream::Unknown("stdfuture".into()));
/// ```
pub use contree_proto::types::StdStream;

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
#[derive(Debug, Clone, PartialEq, Eq)]
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

fn ms(v: i64) -> Option<Duration> {
    u64::try_from(v).ok().map(Duration::from_millis)
}

/// The kind of an event whose payload decoded as its type's shape; `None` when the payload
/// cannot be represented (a value out of range), in which case
/// the event is kept as [`EventKind::Other`] with its raw JSON.
fn typed_kind(
    data: types::OperationEventData,
) -> std::result::Result<EventKind, serde_json::Value> {
    use types::OperationEventData as D;
    let raw = |d: &D| serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
    Ok(match data {
        D::Init(_) => EventKind::Init,
        D::Network(_) => EventKind::Network,
        D::Spawn(s) => EventKind::Spawn { pid: s.pid },
        D::Stdin(s) => EventKind::Stdin(s.to_bytes().into()),
        D::Stdout(s) => EventKind::Stdout(s.to_bytes().into()),
        D::Stderr(s) => EventKind::Stderr(s.to_bytes().into()),
        D::Exit(ref e) => {
            let (Ok(code), Ok(signal)) = (i32::try_from(e.code), i32::try_from(e.signal)) else {
                return Err(raw(&data));
            };
            EventKind::Exit(ExitStatus {
                code,
                signal: (signal > 0).then_some(signal),
                timed_out: e.timed_out,
                core_dump: e.core_dump.unwrap_or(false),
                duration: ms(e.duration_ms),
            })
        }
        D::Truncated(ref t) => {
            let (stream, Ok(bytes_emitted), Ok(bytes_dropped)) = (
                t.stream.clone(),
                u64::try_from(t.bytes_emitted),
                u64::try_from(t.bytes_dropped),
            ) else {
                return Err(raw(&data));
            };
            EventKind::Truncated(Truncation {
                stream,
                bytes_emitted,
                bytes_dropped,
            })
        }
        D::SizeCap(c) => EventKind::SizeCap {
            limit_bytes: c.limit_bytes,
            file_size: c.file_size,
        },
        D::Shutdown(s) => EventKind::Shutdown {
            reason: s.reason.as_str().to_string(),
        },
        D::Completion(c) => EventKind::Completion(Completion {
            status: OperationStatus::from(c.status.as_str()),
            result_image: c.result_image_uuid.map(|u| u.to_string()),
            error: c.error,
            duration: ms(c.duration_ms),
            image_size: c.image_size_bytes,
        }),
        D::Raw(v) => return Err(v),
        other => return Err(raw(&other)),
    })
}

/// An event of `contree-proto`'s `OperationEvent` shape. A payload that does not decode as the
/// shape its type promises is kept, with its raw JSON, as [`EventKind::Other`]: never read as
/// defaults (a malformed `exit` is not an exit code).
impl From<types::OperationEvent> for Event {
    fn from(ev: types::OperationEvent) -> Event {
        let name = ev.kind.as_str().to_string();
        let kind = typed_kind(ev.data).unwrap_or_else(|data| EventKind::Other { kind: name, data });
        Event {
            id: u64::try_from(ev.id).ok(),
            spid: ev.spid.and_then(|s| u64::try_from(s).ok()),
            ts: Some(ev.ts),
            kind,
        }
    }
}

/// An event whose envelope lacks fields the spec requires (`id`, `ts`, `type` or `data`): read
/// field by field; the payload still decodes through `contree-proto`'s payload types.
#[derive(Default, serde::Deserialize)]
#[serde(default)]
struct Envelope {
    id: Option<i64>,
    ts: Option<String>,
    spid: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    data: Option<serde_json::Value>,
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
    /// It never fails. The payload is decoded by `contree-proto`'s event types; a payload
    /// that does not match its type, a type this SDK does not know, or text that is not JSON
    /// is kept as [`EventKind::Other`] with the raw JSON (`null` when absent or not JSON), so
    /// nothing is ever read as a default. Useful for event logs saved or fetched by other
    /// means.
    ///
    /// ```
    /// use contree::{Event, EventKind};
    /// let ev = Event::from_json(
    ///     "stdout",
    ///     r#"{"id":3,"ts":"t","spid":1,"type":"stdout","data":{"value":"aGk=","encoding":"base64"}}"#,
    /// );
    /// assert_eq!((ev.id, ev.spid), (Some(3), Some(1)));
    /// assert_eq!(ev.kind, EventKind::Stdout("hi".into()));
    /// // A malformed exit is not an exit code.
    /// let ev = Event::from_json("exit", r#"{"id":4,"ts":"t","type":"exit","data":{"code":"x"}}"#);
    /// assert!(matches!(ev.kind, EventKind::Other { ref kind, .. } if kind == "exit"));
    /// ```
    pub fn from_json(name: &str, json: &str) -> Event {
        if let Ok(ev) = serde_json::from_str::<types::OperationEvent>(json) {
            return Event::from(ev);
        }
        let env: Envelope = serde_json::from_str(json).unwrap_or_default();
        let kind_name = match env.kind {
            Some(k) if !k.is_empty() => k,
            _ => name.to_string(),
        };
        let data = env.data.unwrap_or(serde_json::Value::Null);
        let event_type = types::OperationEventType::from(kind_name.as_str());
        let kind = types::OperationEventData::choose(Some(&event_type), data.clone())
            .ok()
            .and_then(|d| typed_kind(d).ok())
            .unwrap_or(EventKind::Other {
                kind: kind_name,
                data,
            });
        Event {
            id: env.id.and_then(|i| u64::try_from(i).ok()),
            spid: env.spid.and_then(|s| u64::try_from(s).ok()),
            ts: env.ts,
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
    fn a_malformed_payload_is_not_an_error_nor_a_default() {
        let ev = Event::decode(&sse("stdout", 1, "not json"));
        assert_eq!(
            ev.kind,
            EventKind::Other {
                kind: "stdout".into(),
                data: serde_json::Value::Null
            }
        );
        assert_eq!(ev.id, Some(1));
        // A malformed exit keeps its raw JSON; it never becomes exit code -1.
        let ev = Event::decode(&sse(
            "exit",
            2,
            r#"{"id":2,"ts":"t","type":"exit","data":{"code":"boom","signal":0}}"#,
        ));
        assert_eq!(
            ev.kind,
            EventKind::Other {
                kind: "exit".into(),
                data: serde_json::json!({"code": "boom", "signal": 0}),
            }
        );
        let ev = Event::decode(&sse("exit", 3, r#"{"type":"exit","data":{}}"#));
        assert!(matches!(ev.kind, EventKind::Other { ref kind, .. } if kind == "exit"));
    }

    #[test]
    fn stream_payloads_decode_as_contree_proto_decodes_them() {
        // Unpadded and URL-safe base64 decode the same here as in contree-proto.
        for value in ["AP8", "AP8=", "_-8", "A P 8 ="] {
            let json = format!(
                r#"{{"id":1,"ts":"t","type":"stdout","data":{{"value":"{value}","encoding":"base64"}}}}"#
            );
            let want = contree_proto::stream::decode(Some(&types::StreamEncoding::Base64), value);
            assert_eq!(
                Event::decode(&sse("stdout", 1, &json)).kind,
                EventKind::Stdout(Bytes::from(want)),
                "{value}"
            );
        }
        assert_eq!(
            contree_proto::stream::decode(Some(&types::StreamEncoding::Base64), "AP8"),
            [0, 255]
        );
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
        // A pid of the wrong shape, or no payload, keeps the raw payload (no default pid).
        assert_eq!(
            kind("spawn", r#"{"type":"spawn","data":{"pid":"7"}}"#),
            EventKind::Other {
                kind: "spawn".into(),
                data: serde_json::json!({"pid": "7"}),
            }
        );
        assert_eq!(
            kind("spawn", r#"{"type":"spawn"}"#),
            EventKind::Other {
                kind: "spawn".into(),
                data: serde_json::Value::Null
            }
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
