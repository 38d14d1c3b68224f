//! The per-operation event log and the SSE writer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contree_proto::types::{OperationEvent, OperationEventData, OperationEventType};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};

use crate::util::ts_nanos;

/// One recorded event.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) id: u64,
    pub(crate) spid: Option<u32>,
    kind: OperationEventType,
    /// The full `OperationEvent` JSON text (serialised once, when the event is recorded).
    pub(crate) json: String,
    /// The SSE frame of `json`, shared by every follower.
    frame: Bytes,
}

/// The `type` an event payload is sent under (a `Raw` payload is never recorded by the mock).
fn kind_of(data: &OperationEventData) -> OperationEventType {
    use OperationEventData as D;
    use OperationEventType as T;
    match data {
        D::Init(_) => T::Init,
        D::Spawn(_) => T::Spawn,
        D::Stdin(_) => T::Stdin,
        D::Stdout(_) => T::Stdout,
        D::Stderr(_) => T::Stderr,
        D::Exit(_) => T::Exit,
        D::Truncated(_) => T::Truncated,
        D::SizeCap(_) => T::SizeCap,
        D::Network(_) => T::Network,
        D::Shutdown(_) => T::Shutdown,
        D::Completion(_) => T::Completion,
        _ => T::Unknown("raw".to_owned()),
    }
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Arc<Event>>,
    next_id: u64,
    closed: bool,
}

/// Append-only event log with change notification for followers.
#[derive(Debug)]
pub(crate) struct EventLog {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
}

impl Default for EventLog {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            version: watch::Sender::new(0),
        }
    }
}

impl EventLog {
    /// Appends an event (ignored once the log is closed) and returns its id. The event is
    /// proto's `OperationEvent`; its `type` is the one `data`'s variant selects.
    pub(crate) fn push(&self, spid: Option<u32>, data: OperationEventData) -> Option<u64> {
        let kind = kind_of(&data);
        let id = {
            let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if g.closed {
                return None;
            }
            let id = g.next_id;
            g.next_id += 1;
            let mut ev = OperationEvent::new(
                i64::try_from(id).unwrap_or(i64::MAX),
                ts_nanos(OffsetDateTime::now_utc()),
                kind.clone(),
                data,
            );
            ev.spid = spid.map(i64::from);
            // The completion's nullable keys come out as `null` (the generated types send so).
            let json = serde_json::to_string(&ev).unwrap_or_default();
            let frame = Bytes::from(format!("id: {id}\nevent: {kind}\ndata: {json}\n\n"));
            g.events.push(Arc::new(Event {
                id,
                spid,
                kind,
                json,
                frame,
            }));
            id
        };
        self.version.send_modify(|v| *v += 1);
        Some(id)
    }

    /// Marks the log complete: followers end after the last event.
    pub(crate) fn close(&self) {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.version.send_modify(|v| *v += 1);
    }

    /// Events with `id > since` (all when `since` is `None`), and whether the log is closed.
    pub(crate) fn after(&self, since: Option<u64>) -> (Vec<Arc<Event>>, bool) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let evs = g
            .events
            .iter()
            .filter(|e| since.is_none_or(|s| e.id > s))
            .cloned()
            .collect();
        (evs, g.closed)
    }

    /// All events (snapshot).
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<Arc<Event>> {
        self.after(None).0
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}

/// Options of one SSE response.
#[derive(Debug, Clone)]
pub(crate) struct SseOptions {
    pub(crate) since: Option<u64>,
    /// Only events of this spid (a number beyond the 32-bit counter matches nothing).
    pub(crate) spid: Option<u64>,
    pub(crate) follow: bool,
    pub(crate) keepalive: Duration,
    pub(crate) cut_after: Option<u64>,
    pub(crate) error_after: Option<u64>,
    pub(crate) extra_fields: bool,
    /// Send nothing for `.1` once `.0` events were sent (the `stall` fault).
    pub(crate) stall: Option<(u64, Duration)>,
}

/// Formats one normal SSE frame.
pub(crate) fn frame(ev: &Event, extra_fields: bool) -> Bytes {
    if !extra_fields {
        return ev.frame.clone();
    }
    let mut v: serde_json::Value = serde_json::from_str(&ev.json).unwrap_or_default();
    crate::respond::add_extra_fields(&mut v);
    Bytes::from(format!("id: {}\nevent: {}\ndata: {v}\n\n", ev.id, ev.kind))
}

/// The error frame pair sent before closing a broken stream.
pub(crate) fn error_frame(msg: &str) -> Bytes {
    Bytes::from(format!(
        ": stream ended with error, retry since last event id\n\nevent: sse_error\ndata: {}\n\n",
        msg.replace('\n', " ")
    ))
}

/// Writes the log as SSE into a channel until done (or the client goes away).
pub(crate) fn spawn_writer(log: Arc<EventLog>, opts: SseOptions) -> mpsc::Receiver<Bytes> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut version = log.subscribe();
        let mut last = opts.since;
        let mut sent: u64 = 0;
        let mut stall = opts.stall;
        loop {
            version.borrow_and_update();
            let (evs, closed) = log.after(last);
            for ev in evs {
                last = Some(ev.id);
                if opts.spid.is_some() && ev.spid.map(u64::from) != opts.spid {
                    continue;
                }
                if opts.cut_after.is_some_and(|k| sent >= k) {
                    return;
                }
                if opts.error_after.is_some_and(|k| sent >= k) {
                    let _ = tx
                        .send(error_frame(
                            "contree-mock fault: event source closed unexpectedly",
                        ))
                        .await;
                    return;
                }
                if let Some((after, d)) = stall
                    && sent >= after
                {
                    stall = None;
                    tokio::time::sleep(d).await;
                }
                if tx.send(frame(&ev, opts.extra_fields)).await.is_err() {
                    return;
                }
                sent += 1;
            }
            if closed || !opts.follow {
                return;
            }
            tokio::select! {
                changed = version.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tokio::time::sleep(opts.keepalive) => {
                    if tx.send(Bytes::from_static(b": keepalive\n\n")).await.is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use contree_proto::types::{
        EventDataCompletion, EventDataCompletionStatus, EventDataInit, EventDataStream,
    };

    #[test]
    fn ids_start_at_zero_and_completion_has_no_spid() {
        let log = EventLog::default();
        let init = EventDataInit::new("2026-01-01T00:00:00.000000000Z", "/run/init", false, 1);
        assert_eq!(log.push(Some(0), OperationEventData::Init(init)), Some(0));
        let done = EventDataCompletion::new(EventDataCompletionStatus::Success, 5);
        assert_eq!(
            log.push(None, OperationEventData::Completion(done)),
            Some(1)
        );
        log.close();
        let out = EventDataStream::from_bytes(b"late");
        assert_eq!(log.push(Some(1), OperationEventData::Stdout(out)), None);
        let all = log.all();
        assert_eq!(all.len(), 2);
        let completion: serde_json::Value = serde_json::from_str(&all[1].json).unwrap();
        assert!(completion.get("spid").is_none());
        assert_eq!(completion["type"], "completion");
        // The nullable keys are sent as `null`, not left out.
        assert!(completion["data"]["error"].is_null());
        assert!(
            completion["data"]
                .as_object()
                .unwrap()
                .contains_key("result_image_uuid")
        );
        let back: OperationEvent = serde_json::from_str(&all[0].json).unwrap();
        assert_eq!(back.spid, Some(0));
        assert!(matches!(back.data, OperationEventData::Init(_)));
        assert_eq!(log.after(Some(0)).0.len(), 1);
        let f = String::from_utf8(frame(&all[0], false).to_vec()).unwrap();
        assert!(f.starts_with("id: 0\nevent: init\ndata: {"));
        assert!(f.ends_with("\n\n"));
    }
}
