//! The transports: stdio and streamable HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use crate::server::{ContreeMcp, Exposure};

/// Serves one client over stdin/stdout until it disconnects.
///
/// ```no_run
/// # async fn demo(server: contree_mcp::ContreeMcp) -> std::io::Result<()> {
/// contree_mcp::serve_stdio(server).await
/// # }
/// ```
pub async fn serve_stdio(server: ContreeMcp) -> std::io::Result<()> {
    let server = server.with_exposure(Exposure::Stdio);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| std::io::Error::other(format!("the MCP session did not start: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| std::io::Error::other(format!("the MCP session ended with an error: {e}")))?;
    Ok(())
}

/// Options of the streamable HTTP transport.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// Allow `upload` from a path, `download` and `rsync` over HTTP.
    pub allow_local_files: bool,
    /// Stops the server when cancelled.
    pub shutdown: CancellationToken,
}

/// Serves streamable HTTP at `http://ADDR/mcp`. Calls `ready` with the bound address
/// once it accepts connections, then serves until `shutdown` is cancelled.
///
/// ```no_run
/// # async fn demo(server: contree_mcp::ContreeMcp) -> std::io::Result<()> {
/// let opts = contree_mcp::HttpOptions {
///     addr: "127.0.0.1:9452".parse().unwrap(),
///     allow_local_files: false,
///     shutdown: Default::default(),
/// };
/// contree_mcp::serve_http(server, opts, |addr| eprintln!("listening on {addr}")).await
/// # }
/// ```
pub async fn serve_http(
    server: ContreeMcp,
    opts: HttpOptions,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.addr).await?;
    let addr = listener.local_addr()?;
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if !addr.ip().is_loopback() {
        hosts.push(addr.ip().to_string());
    }
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(opts.shutdown.child_token());
    let server = server.with_exposure(Exposure::Http {
        allow_local_files: opts.allow_local_files,
    });
    let service: StreamableHttpService<ContreeMcp, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
    ready(addr);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = opts.shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let service = service.clone();
        tokio::spawn(async move {
            let svc =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let mut service = service.clone();
                    async move {
                        if req.uri().path() != "/mcp" && req.uri().path() != "/mcp/" {
                            let body = http_body_util::Full::new(bytes::Bytes::from_static(
                                b"contree-mcp: the MCP endpoint is /mcp\n",
                            ));
                            let resp = http::Response::builder()
                                .status(404)
                                .header("content-type", "text/plain")
                                .body(http_body_util::BodyExt::boxed(body))
                                .unwrap_or_default();
                            return Ok::<_, std::convert::Infallible>(resp);
                        }
                        tower_service::Service::call(&mut service, req).await
                    }
                });
            let conn = auto::Builder::new(TokioExecutor::new());
            if let Err(e) = conn.serve_connection(TokioIo::new(stream), svc).await {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        });
    }
}
