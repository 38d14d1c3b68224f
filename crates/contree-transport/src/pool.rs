//! Connection sharding for HTTP/2: a server caps the streams of one connection
//! (`SETTINGS_MAX_CONCURRENT_STREAMS`, typically 100), a followed run holds a stream for the
//! whole run, and hyper-util's client never opens a second HTTP/2 connection to an origin (it
//! queues the request behind the cap instead; hyperium/hyper#2197, #3623, following RFC 9113
//! §9.1). So requests to an HTTP/2 origin are spread over *shards*, each a client holding one
//! HTTP/2 connection (the first is the general client, whose connection taught the protocol;
//! the others are HTTP/2-only clients), and a request goes to the first shard with fewer than
//! `streams_per_connection` requests in flight; a new shard (one new connection) is opened only
//! when all are full, up to `max_connections`, then the least loaded one is used.
//!
//! The protocol of an origin is learnt from the ALPN of its first connection (see
//! [`AlpnBook`]): until then one request at a time goes through the general client (HTTP/1.1
//! or HTTP/2 by ALPN) while the others wait, so a burst does not open one TLS connection per
//! request only to drop all but one. Plain `http://` and HTTP/1.1 origins use the general
//! client as before (one connection per request in flight, reused from the pool).
//!
//! Idle connections close after the pool idle timeout in every shard, so the connection count
//! shrinks back when the load goes; HTTP/2 keepalive pings (`keep_alive_interval`) keep long
//! quiet streams (a follow of a run that prints nothing) from being cut by middleboxes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Notify;

use crate::body::ReqBody;
use crate::connector::Connector;

/// The hyper client type of every shard.
pub(crate) type HttpClient = Client<Connector, ReqBody>;

/// The longest a request waits for the first connection of its origin before going ahead on
/// the general client anyway (a stuck handshake must not hold every other request).
const PROBE_WAIT: Duration = Duration::from_secs(2);

/// HTTP/2 settings of the transport (see `TransportBuilder::http2_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Http2Settings {
    pub(crate) streams_per_connection: usize,
    pub(crate) max_connections: usize,
    pub(crate) keep_alive_interval: Option<Duration>,
    pub(crate) keep_alive_timeout: Duration,
}

impl Default for Http2Settings {
    fn default() -> Self {
        Self {
            streams_per_connection: 100,
            max_connections: 64,
            keep_alive_interval: Some(Duration::from_secs(30)),
            keep_alive_timeout: Duration::from_secs(20),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the connector learnt of each `https` origin: does it speak HTTP/2 (ALPN `h2`)?
#[derive(Debug, Default)]
pub(crate) struct AlpnBook {
    known: Mutex<HashMap<String, bool>>,
    changed: Notify,
}

impl AlpnBook {
    /// Records the protocol of a new connection to `origin` and wakes the waiting requests.
    pub(crate) fn record(&self, origin: String, h2: bool) {
        lock(&self.known).insert(origin, h2);
        self.changed.notify_waiters();
    }

    /// A connection attempt ended without a protocol (it failed): waiting requests re-check.
    pub(crate) fn wake(&self) {
        self.changed.notify_waiters();
    }

    fn get(&self, origin: &str) -> Option<bool> {
        lock(&self.known).get(origin).copied()
    }
}

/// `https://host:port` of a URI (the key of the book and of the shards).
pub(crate) fn origin_key(uri: &Uri) -> Option<String> {
    let authority = uri.authority()?;
    let port = authority.port_u16().unwrap_or(443);
    Some(format!("{}:{port}", authority.host()))
}

struct Shard {
    client: HttpClient,
    in_flight: AtomicUsize,
}

#[derive(Default)]
struct Origin {
    shards: Mutex<Vec<Arc<Shard>>>,
    /// A request is on its way to learn the protocol.
    probing: AtomicBool,
}

/// Holds one request's place in its shard (and the probe slot) until the response body ends
/// or is dropped.
pub(crate) struct Lease {
    shard: Option<Arc<Shard>>,
    probe: Option<(Arc<Origin>, Arc<AlpnBook>)>,
}

impl Lease {
    /// The general client, no shard, no probe.
    fn general() -> Self {
        Lease {
            shard: None,
            probe: None,
        }
    }
}

/// What [`Pool::pick`] decided.
pub(crate) enum Pick {
    /// Send now with this lease.
    Now(Lease),
    /// Wait for the origin's first connection ([`Pool::wait`]).
    Wait(Waiting),
}

/// A request waiting to learn its origin's protocol.
pub(crate) struct Waiting {
    key: String,
    origin: Arc<Origin>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(s) = self.shard.take() {
            s.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some((origin, book)) = self.probe.take() {
            origin.probing.store(false, Ordering::Release);
            book.wake();
        }
    }
}

/// The general client plus the HTTP/2 shards of each origin.
pub(crate) struct Pool {
    general: HttpClient,
    connector: Connector,
    book: Arc<AlpnBook>,
    idle_timeout: Duration,
    h2: Http2Settings,
    origins: Mutex<HashMap<String, Arc<Origin>>>,
    opened_shards: AtomicUsize,
}

impl Pool {
    pub(crate) fn new(connector: Connector, idle_timeout: Duration, h2: Http2Settings) -> Self {
        let book = connector.alpn_book();
        let general = client_builder(idle_timeout, h2).build(connector.clone());
        Self {
            general,
            connector,
            book,
            idle_timeout,
            h2,
            origins: Mutex::new(HashMap::new()),
            opened_shards: AtomicUsize::new(0),
        }
    }

    /// HTTP/2 shards opened so far (each holds at most one connection at a time).
    pub(crate) fn shards_opened(&self) -> usize {
        self.opened_shards.load(Ordering::Relaxed)
    }

    /// The lease of a request to `uri`, when it can be had at once: always for plain
    /// `http://` and HTTP/1.1 origins, for an HTTP/2 origin once its protocol is known, and
    /// for the one request that goes first to learn it. Otherwise the request must
    /// [`wait`](Self::wait) for that first connection.
    pub(crate) fn pick(&self, uri: &Uri) -> Pick {
        if uri.scheme() != Some(&http::uri::Scheme::HTTPS) || self.h2.max_connections == 0 {
            return Pick::Now(Lease::general());
        }
        let Some(key) = origin_key(uri) else {
            return Pick::Now(Lease::general());
        };
        let origin = lock(&self.origins).entry(key.clone()).or_default().clone();
        match self.try_lease(&key, &origin) {
            Some(lease) => Pick::Now(lease),
            None => Pick::Wait(Waiting { key, origin }),
        }
    }

    /// Waits (at most [`PROBE_WAIT`]) until the origin's protocol is learnt, then leases;
    /// after that long the request goes ahead on the general client anyway.
    pub(crate) async fn wait(&self, w: Waiting) -> Lease {
        let deadline = tokio::time::Instant::now() + PROBE_WAIT;
        loop {
            let changed = self.book.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(lease) = self.try_lease(&w.key, &w.origin) {
                return lease;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return Lease::general();
            }
        }
    }

    /// The client a lease sends with: its shard's, or the general one.
    pub(crate) fn client<'a>(&'a self, lease: &'a Lease) -> &'a HttpClient {
        lease.shard.as_ref().map_or(&self.general, |s| &s.client)
    }

    fn try_lease(&self, key: &str, origin: &Arc<Origin>) -> Option<Lease> {
        match self.book.get(key) {
            Some(true) => return Some(self.shard_for(origin)),
            Some(false) => return Some(Lease::general()),
            None => {}
        }
        if !origin.probing.swap(true, Ordering::AcqRel) {
            return Some(Lease {
                shard: None,
                probe: Some((origin.clone(), self.book.clone())),
            });
        }
        None
    }

    fn shard_for(&self, origin: &Origin) -> Lease {
        let cap = self.h2.streams_per_connection.max(1);
        let mut shards = lock(&origin.shards);
        if shards.is_empty() {
            // The general client already holds the HTTP/2 connection the protocol was learnt
            // on: it is the first shard.
            shards.push(Arc::new(Shard {
                client: self.general.clone(),
                in_flight: AtomicUsize::new(0),
            }));
        }
        let free = shards
            .iter()
            .find(|s| s.in_flight.load(Ordering::Relaxed) < cap)
            .cloned();
        let shard = match free {
            Some(s) => s,
            None if shards.len() < self.h2.max_connections => {
                let s = Arc::new(Shard {
                    client: client_builder(self.idle_timeout, self.h2)
                        .http2_only(true)
                        .build(self.connector.clone()),
                    in_flight: AtomicUsize::new(0),
                });
                self.opened_shards.fetch_add(1, Ordering::Relaxed);
                shards.push(s.clone());
                s
            }
            None => shards
                .iter()
                .min_by_key(|s| s.in_flight.load(Ordering::Relaxed))
                .cloned()
                .unwrap_or_else(|| unreachable_shard(&shards)),
        };
        shard.in_flight.fetch_add(1, Ordering::Relaxed);
        Lease {
            shard: Some(shard),
            probe: None,
        }
    }
}

/// `max_connections > 0` was checked in `pick`, so a full list is never empty.
fn unreachable_shard(shards: &[Arc<Shard>]) -> Arc<Shard> {
    shards[0].clone()
}

fn client_builder(
    idle_timeout: Duration,
    h2: Http2Settings,
) -> hyper_util::client::legacy::Builder {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(idle_timeout)
        .http2_keep_alive_interval(h2.keep_alive_interval)
        .http2_keep_alive_timeout(h2.keep_alive_timeout)
        .http2_keep_alive_while_idle(false);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_keys_name_host_and_port() {
        let k = |u: &str| origin_key(&u.parse().unwrap());
        assert_eq!(
            k("https://h.example/v1/x").as_deref(),
            Some("h.example:443")
        );
        assert_eq!(
            k("https://127.0.0.1:8443/").as_deref(),
            Some("127.0.0.1:8443")
        );
        assert_eq!(k("/relative"), None);
    }
}
