//! HTTPS with an extra CA, HTTP/2 negotiated via ALPN, and HTTP/1.1 fallback.

mod support;

use std::sync::Arc;

use contree_auth::StaticProvider;
use contree_transport::{Body, ErrorKind, RequestOptions, Transport};
use support::ops;
use support::tls::https_server;

fn client(base: &str, ca: Option<&str>) -> Transport {
    let mut b = Transport::builder()
        .credentials(Arc::new(StaticProvider::new(support::creds(base))))
        .retry(contree_transport::RetryConfig::disabled());
    if let Some(ca) = ca {
        b = b.add_root_certificates_pem(ca.as_bytes().to_vec());
    }
    b.build().unwrap()
}

async fn whoami(t: &Transport) -> Result<String, contree_transport::Error> {
    let req = http::Request::get("/whoami").body(Body::empty()).unwrap();
    let resp = t
        .send(&ops::WHOAMI, req, &RequestOptions::default())
        .await?;
    Ok(String::from_utf8(resp.body().to_vec()).unwrap())
}

#[tokio::test]
async fn https_negotiates_http2_via_alpn_with_an_extra_ca() {
    let srv = https_server(vec![b"h2".to_vec(), b"http/1.1".to_vec()]).await;
    let t = client(&srv.base, Some(&srv.ca_pem));
    let body = whoami(&t).await.unwrap();
    let bearer_len = format!("Bearer {}", support::TOKEN).len();
    assert_eq!(body, format!("HTTP/2.0 /sandboxes/v1/whoami {bearer_len}"));
}

#[tokio::test]
async fn https_falls_back_to_http1_without_h2_alpn() {
    let srv = https_server(vec![b"http/1.1".to_vec()]).await;
    let t = client(&srv.base, Some(&srv.ca_pem));
    let body = whoami(&t).await.unwrap();
    assert!(body.starts_with("HTTP/1.1 /sandboxes/v1/whoami"), "{body}");
}

#[tokio::test]
async fn an_unknown_ca_is_a_connect_error() {
    let srv = https_server(vec![b"h2".to_vec()]).await;
    let t = client(&srv.base, None);
    let err = whoami(&t).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("could not connect"), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");
}
