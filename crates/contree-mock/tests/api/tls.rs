//! HTTPS: the self-signed certificate, HTTP/2 by ALPN with the configured stream cap, and
//! HTTP/1.1 still available.

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use contree_mock::MockServer;
use http::Request;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};

/// A TLS connection to the mock that trusts only its certificate, offering `alpn`.
async fn connect(mock: &MockServer, alpn: &[&[u8]]) -> TlsStream<TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = mock.ca_pem().expect("a TLS mock has a certificate");
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(mock.addr()).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("the handshake succeeds with the mock's certificate as the only root")
}

fn whoami(mock: &MockServer) -> http::request::Builder {
    Request::get(format!("{}/v1/whoami", mock.base_url()))
        .header("authorization", format!("Bearer {}", mock.token()))
        .header("project", mock.project().unwrap())
}

#[tokio::test]
async fn https_speaks_h2_by_alpn_and_advertises_the_stream_cap() {
    let mock = MockServer::builder()
        .tls(true)
        .max_concurrent_streams(3)
        .start()
        .await;
    assert!(mock.base_url().starts_with("https://127.0.0.1:"));
    let tls = connect(&mock, &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut h2, conn) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(conn);
    let (resp, _) = h2
        .send_request(whoami(&mock).body(()).unwrap(), true)
        .unwrap();
    let resp = resp.await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        h2.current_max_send_streams(),
        3,
        "the server's SETTINGS_MAX_CONCURRENT_STREAMS"
    );
    let last = mock.requests().pop().unwrap();
    assert_eq!(last.version, http::Version::HTTP_2);
    assert_eq!(last.operation_id.as_deref(), Some("whoAmI"));
    assert_eq!(mock.connections_accepted(), 1);
}

#[tokio::test]
async fn https_still_serves_http1_and_plain_mocks_default_to_a_cap_of_100() {
    let mock = MockServer::builder().tls(true).start().await;
    let tls = connect(&mock, &[b"http/1.1"]).await;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = send
        .send_request(whoami(&mock).body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"{"), "{body:?}");
    assert_eq!(
        mock.requests().pop().unwrap().version,
        http::Version::HTTP_11
    );

    // Plain http: h2c with prior knowledge is capped too (default 100).
    let plain = MockServer::start().await;
    assert!(plain.ca_pem().is_none());
    let tcp = TcpStream::connect(plain.addr()).await.unwrap();
    let (mut h2, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    let (resp, _) = h2
        .send_request(whoami(&plain).body(()).unwrap(), true)
        .unwrap();
    assert_eq!(resp.await.unwrap().status(), 200);
    assert_eq!(
        h2.current_max_send_streams() as u32,
        contree_mock::DEFAULT_MAX_CONCURRENT_STREAMS
    );
}

#[test]
fn the_binary_writes_its_certificate_and_prints_an_https_url() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("mock.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_contree-mock"))
        .args(["--port", "0", "--tls", "--max-concurrent-streams", "7"])
        .arg("--cert-out")
        .arg(&pem)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("LISTENING https://127.0.0.1:"), "{line}");
    let text = std::fs::read_to_string(&pem).expect("the certificate was written");
    assert!(text.starts_with("-----BEGIN CERTIFICATE-----"), "{text}");
    assert_eq!(CertificateDer::pem_slice_iter(text.as_bytes()).count(), 1);
}
