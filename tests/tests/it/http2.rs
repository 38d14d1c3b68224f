//! The facade over HTTPS + HTTP/2 against the mock's TLS mode (loopback, self-signed
//! certificate trusted as an extra root).

use std::time::Duration;

use contree_mock::MockServer;

fn client(mock: &MockServer) -> contree::Contree {
    contree::Contree::builder()
        .base_url(mock.base_url())
        .token(mock.token())
        .project(mock.project().unwrap())
        .add_root_certificates_pem(mock.ca_pem().unwrap())
        .build()
        .expect("a client trusting the mock's certificate")
}

#[tokio::test]
async fn runs_over_https_multiplex_on_one_http2_connection() {
    let mock = MockServer::builder()
        .tls(true)
        .latency(Duration::ZERO)
        .start()
        .await;
    let contree = client(&mock);
    let img = contree.images().get("busybox:latest").await.unwrap();
    for i in 0..3 {
        let out = img.shell(format!("echo run {i}")).await.unwrap();
        assert_eq!(out.stdout_lossy(), format!("run {i}\n"));
    }
    let reqs = mock.requests();
    assert!(reqs.len() >= 7, "{reqs:?}");
    assert!(
        reqs.iter().all(|r| r.version == http::Version::HTTP_2),
        "every request over h2: {:?}",
        reqs.iter().map(|r| r.version).collect::<Vec<_>>()
    );
    assert_eq!(mock.connections_accepted(), 1, "one multiplexed connection");
}

#[tokio::test]
async fn a_client_without_the_mock_certificate_cannot_connect() {
    let mock = MockServer::builder().tls(true).start().await;
    let contree = contree::Contree::builder()
        .base_url(mock.base_url())
        .token(mock.token())
        .project(mock.project().unwrap())
        .build()
        .unwrap();
    let err = contree.whoami().await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
}

#[tokio::test]
async fn a_fan_out_beyond_the_stream_cap_opens_more_connections_instead_of_queueing() {
    let cap = 4;
    let mock = MockServer::builder()
        .tls(true)
        .latency(Duration::ZERO)
        .max_concurrent_streams(cap)
        .start()
        .await;
    let contree = contree::Contree::builder()
        .base_url(mock.base_url())
        .token(mock.token())
        .project(mock.project().unwrap())
        .add_root_certificates_pem(mock.ca_pem().unwrap())
        .http2_streams_per_connection(cap as usize)
        .build()
        .unwrap();
    let img = contree.images().get("busybox:latest").await.unwrap();
    let runs: u64 = 12;
    // Each run holds its event stream open while it sleeps, so all twelve are in flight
    // together: three times the cap.
    let outs = futures_util::future::join_all(
        (0..runs).map(|i| img.shell(format!("sleep 1; echo {i}")).into_future()),
    )
    .await;
    for (i, out) in outs.into_iter().enumerate() {
        assert_eq!(out.unwrap().stdout_lossy(), format!("{i}\n"));
    }
    let conns = mock.connections_accepted();
    let bound = runs.div_ceil(cap as u64) + 2;
    assert!(
        (3..=bound).contains(&conns),
        "{runs} runs at a cap of {cap}: {conns} connections (want 3..={bound})"
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.version == http::Version::HTTP_2)
    );
}
