//! The accept loop: plain TCP (HTTP/1.1 and h2c) or TLS (ALPN `h2`, `http/1.1`), one hyper
//! connection task per socket, HTTP/2 capped at the configured concurrent streams.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::server::{Shared, handle};
use crate::tls::Tls;

/// Serves one connection (already past TLS, if any) until it ends.
async fn serve<S>(io: S, shared: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_concurrent_streams(shared.cfg.max_concurrent_streams);
    let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
    let _ = builder.serve_connection(TokioIo::new(io), svc).await;
}

/// Counts a connection as open until its task ends (or is aborted at shutdown).
struct OpenGuard(Arc<Shared>);

impl OpenGuard {
    fn new(shared: Arc<Shared>) -> Self {
        shared.open.fetch_add(1, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<Tls>,
    done: oneshot::Sender<()>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            () = shared.stop.cancelled() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                let tls = tls.clone();
                let open = OpenGuard::new(shared.clone());
                conns.spawn(async move {
                    let _open = open;
                    match tls {
                        None => serve(stream, shared).await,
                        Some(tls) => {
                            // A failed handshake (an untrusting client) just closes the socket.
                            if let Ok(s) = tls.acceptor.accept(stream).await {
                                serve(s, shared).await;
                            }
                        }
                    }
                });
                while conns.try_join_next().is_some() {}
            }
        }
    }
    conns.abort_all();
    drop(listener);
    let _ = done.send(());
}
