//! The limit on waiting for an operation's status to become terminal after its event
//! stream ended (`terminal_operation`: 60 s), tested with a short limit against contree-mock.

use std::time::Duration;

use contree_mock::MockServer;

use super::stream::{TERMINAL_LAG, terminal_operation_within};
use crate::{Contree, ErrorKind};

/// `GET /operations/{id}` requests the server saw for `id`.
fn polls(server: &MockServer, id: &str) -> usize {
    let uri = contree_proto::requests::GetOperationStatus::new(id).uri();
    server
        .requests()
        .iter()
        .filter(|r| r.method == http::Method::GET && r.path.ends_with(&uri))
        .count()
}

fn client(server: &MockServer) -> Contree {
    let mut b = Contree::builder()
        .base_url(server.base_url())
        .token(server.token());
    if let Some(p) = server.project() {
        b = b.project(p);
    }
    b.build().expect("client")
}

#[test]
fn the_documented_limit_is_sixty_seconds() {
    assert_eq!(TERMINAL_LAG, Duration::from_secs(60));
}

/// A status that never becomes terminal ends with a `Timeout` error at the limit, naming
/// the operation and how long was waited, after polling more than once.
#[tokio::test]
async fn a_status_that_stays_running_ends_at_the_limit() {
    let server = MockServer::builder().start().await;
    let contree = client(&server);
    let handle = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("sleep 100")
        .start()
        .await
        .unwrap();
    let id = handle.operation_id().to_string();
    let before = polls(&server, &id);
    let started = tokio::time::Instant::now();
    let lag = Duration::from_millis(700);
    let err = terminal_operation_within(&contree, &id, lag)
        .await
        .expect_err("the operation is still running");
    assert!(started.elapsed() >= lag, "it gave up early");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.operation_id(), Some(id.as_str()));
    assert!(err.to_string().contains("700ms"), "{err}");
    assert!(err.to_string().contains("still running"), "{err}");
    let n = polls(&server, &id) - before;
    assert!(n >= 3, "it polled {n} times within the limit");
    handle.cancel().await.unwrap();
}

/// A status that lags behind but becomes terminal within the limit is returned.
#[tokio::test]
async fn a_lagging_status_within_the_limit_is_returned() {
    let server = MockServer::builder().start().await;
    let contree = client(&server);
    let handle = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("sleep 0.5")
        .start()
        .await
        .unwrap();
    let id = handle.operation_id().to_string();
    let op = terminal_operation_within(&contree, &id, Duration::from_secs(30))
        .await
        .expect("terminal within the limit");
    assert!(op.is_terminal());
    assert!(polls(&server, &id) >= 2, "the first poll saw it running");
}
