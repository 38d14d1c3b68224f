//! HTTP/2 sharding against `contree-mock --tls` with a small stream cap: follows beyond the
//! cap open more connections, `http2_shards_opened` counts them, and an idle pool closes them
//! all again.

mod support;

use std::sync::Arc;
use std::time::Duration;

use contree_auth::{Credentials, SecretToken, StaticProvider};
use contree_mock::MockServer;
use contree_transport::{Body, EventParams, RequestOptions, Transport};
use futures_util::StreamExt as _;
use http::Request;
use support::ops;

fn transport(mock: &MockServer, per_conn: usize, idle: Duration) -> Transport {
    let creds = Credentials::builder(SecretToken::new(mock.token()))
        .base_url(mock.base_url())
        .project(mock.project().unwrap())
        .build()
        .unwrap();
    Transport::builder()
        .credentials(Arc::new(StaticProvider::new(creds)))
        .add_root_certificates_pem(mock.ca_pem().unwrap())
        .http2_streams_per_connection(per_conn)
        .pool_idle_timeout(idle)
        .build()
        .unwrap()
}

async fn spawn(t: &Transport, cmd: &str) -> String {
    let body = serde_json::json!({"command": cmd, "image": "tag:busybox:latest", "shell": true});
    let req = Request::post("/instances")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = t
        .send(&ops::SPAWN, req, &RequestOptions::default())
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    v["uuid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn follows_beyond_the_cap_shard_and_an_idle_pool_closes_its_connections() {
    let mock = MockServer::builder()
        .tls(true)
        .latency(Duration::ZERO)
        .max_concurrent_streams(2)
        .start()
        .await;
    let t = transport(&mock, 2, Duration::from_millis(200));
    let mut ops = Vec::new();
    for _ in 0..6 {
        ops.push(spawn(&t, "sleep 1; echo done").await);
    }
    // Six follows at once, each open for about a second: three connections of two streams.
    let follows = ops.iter().map(|op| {
        let t = t.clone();
        let op = op.clone();
        async move {
            let params = EventParams {
                follow: true,
                ..EventParams::default()
            };
            let events: Vec<_> = t.events(&op, params).collect().await;
            events.last().unwrap().as_ref().unwrap().event.clone()
        }
    });
    let last = futures_util::future::join_all(follows).await;
    assert!(last.iter().all(|e| e == "completion"), "{last:?}");
    let accepted = mock.connections_accepted();
    assert!(
        (3..=5).contains(&accepted),
        "6 follows at 2 streams per connection: {accepted} connections"
    );
    assert!(t.http2_shards_opened() >= 2, "{}", t.http2_shards_opened());
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.version == http::Version::HTTP_2)
    );
    // Idle: every pooled connection is closed after the idle timeout.
    let closed = async {
        while mock.connections_open() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .unwrap_or_else(|_| panic!("{} connections still open", mock.connections_open()));
}
