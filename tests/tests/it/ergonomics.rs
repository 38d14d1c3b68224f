//! Builder knobs that pass straight to the transport (root certificates, native roots, the
//! pool's idle timeout), observed at the mock.

use std::time::Duration;

use contree_mock::MockServer;

fn builder_for(server: &MockServer) -> contree::ContreeBuilder {
    contree_integration_tests::client_builder(server.base_url(), server.token(), server.project())
}

/// With `native_roots(false)` only the given CA is trusted: the TLS mock's CA makes the
/// client work, and without it the same client cannot connect.
#[tokio::test]
async fn native_roots_off_trusts_only_the_given_ca() {
    let server = MockServer::builder()
        .latency(Duration::ZERO)
        .tls(true)
        .start()
        .await;
    let ca = server.ca_pem().expect("a TLS mock has a CA").to_string();
    let pinned = builder_for(&server)
        .native_roots(false)
        .add_root_certificates_pem(ca)
        .build()
        .unwrap();
    assert!(!pinned.images().list().await.unwrap().is_empty());
    let untrusting = builder_for(&server)
        .native_roots(false)
        .retry(contree::RetryConfig {
            max_attempts: 1,
            ..contree::RetryConfig::default()
        })
        .build()
        .unwrap();
    let err = untrusting
        .images()
        .list()
        .await
        .expect_err("the mock's CA is not trusted");
    assert_eq!(err.kind(), contree::ErrorKind::Transport, "{err}");
}

/// A pooled connection idle longer than `pool_idle_timeout` is not reused; by default it is.
#[tokio::test]
async fn pool_idle_timeout_retires_idle_connections() {
    for (idle, expected) in [(None, 1), (Some(Duration::from_millis(1)), 2)] {
        let server = MockServer::builder().latency(Duration::ZERO).start().await;
        let mut b = builder_for(&server);
        if let Some(idle) = idle {
            b = b.pool_idle_timeout(idle);
        }
        let contree = b.build().unwrap();
        contree.images().list().await.unwrap();
        // Idle well past the short timeout (and well within the 90 s default).
        tokio::time::sleep(Duration::from_millis(200)).await;
        contree.images().list().await.unwrap();
        assert_eq!(
            server.connections_accepted(),
            expected,
            "pool_idle_timeout {idle:?}"
        );
    }
}
