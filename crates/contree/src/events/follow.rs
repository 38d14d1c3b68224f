//! Following an operation's event stream across dropped connections.

use std::time::Duration;

use futures_util::StreamExt as _;

use super::Event;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::util::BoxStream;

/// Which events [`follow_events`] reads. A spid-filtered follow ends after that spid's
/// `exit` event, or once the operation is terminal and its log drained; a clean end of a
/// connection before that is resumed (with `Last-Event-Id`), like an unfiltered one.
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
                    let own_exit = self.follow.spid.is_some()
                        && ev.spid == self.follow.spid
                        && matches!(ev.kind, super::EventKind::Exit(_));
                    if own_exit {
                        // The followed process is over: nothing more is filtered in.
                        self.done = true;
                    }
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
                    // The stream ended without `completion` (or, filtered, without the
                    // process's `exit`): resume unless the operation is over and drained.
                    self.inner = None;
                    if self.draining && !self.progressed && self.follow.spid.is_some() {
                        // A filtered log has no `completion`: a terminal operation whose
                        // log brought nothing more ends it.
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
                    match crate::api::get_operation(&self.client, &self.op_id).await {
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
