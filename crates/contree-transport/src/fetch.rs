//! A plain download of a public URL to a file (Dockerfile `ADD <url>`), with conditional
//! revalidation: no credentials are sent, no redirect is followed, the size is capped.

use std::path::Path;

use http_body_util::BodyExt as _;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::AsyncWriteExt as _;

use crate::connector::{Connector, TlsSetup};
use crate::error::Error;

/// What the previous download of a URL answered with, sent as `If-None-Match` and
/// `If-Modified-Since`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` of the stored copy.
    pub etag: Option<String>,
    /// The `Last-Modified` of the stored copy.
    pub last_modified: Option<String>,
}

/// The outcome of [`fetch_to_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fetched {
    /// `304 Not Modified`: the stored copy is current; nothing was written.
    NotModified,
    /// `200`: the body was written to the file.
    Downloaded {
        /// The new validators (`ETag`, `Last-Modified`).
        validators: Validators,
        /// How many bytes were written.
        bytes: u64,
    },
}

/// Downloads `url` into `dest` (created or truncated) with a `GET`, sending `known` as
/// conditional headers. `https://`, or plain `http://` only to a loopback host (the rule
/// of [`check_base_url`](crate::check_base_url), checked again on the connected peer).
/// Redirects are not followed, and any status but 200 and 304 is an error naming the
/// URL and the status; a body over `max_bytes` is an error.
///
/// ```no_run
/// # async fn demo() -> Result<(), contree_transport::Error> {
/// use contree_transport::{Fetched, Validators, fetch_to_file};
/// let got = fetch_to_file("https://example.com/", &Validators::default(),
///     std::path::Path::new("/tmp/page"), 1 << 20).await?;
/// assert!(matches!(got, Fetched::Downloaded { .. }));
/// # Ok(()) }
/// ```
pub async fn fetch_to_file(
    url: &str,
    known: &Validators,
    dest: &Path,
    max_bytes: u64,
) -> Result<Fetched, Error> {
    let shown = crate::redact_url(url);
    // The scheme, host and userinfo rules of a base URL; plain http only to loopback.
    crate::check_base_url(url, true)?;
    let uri: http::Uri = url
        .parse()
        .map_err(|e| Error::config(format!("{shown} is not a valid URL ({e})")))?;
    let plain = uri.scheme() == Some(&http::uri::Scheme::HTTP);
    if plain && !uri.host().is_some_and(crate::is_loopback_host) {
        return Err(Error::config(format!(
            "refusing to download {shown} over plain http: only loopback hosts may be fetched without TLS; use https://"
        )));
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let setup = TlsSetup {
        native_roots: true,
        extra_roots: Vec::new(),
    };
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, http_body_util::Empty<bytes::Bytes>>(Connector::new(http, setup, true));
    let mut req =
        http::Request::get(url).header(http::header::USER_AGENT, crate::default_user_agent());
    if let Some(etag) = &known.etag {
        req = req.header(http::header::IF_NONE_MATCH, etag);
    }
    if let Some(lm) = &known.last_modified {
        req = req.header(http::header::IF_MODIFIED_SINCE, lm);
    }
    let req = req
        .body(http_body_util::Empty::new())
        .map_err(|e| Error::config(format!("GET {shown}: the request cannot be built ({e})")))?;
    let resp = client
        .request(req)
        .await
        .map_err(|e| Error::config(format!("GET {shown} failed: {}", crate::error::chain(&e))))?;
    let status = resp.status();
    if status == http::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if status != http::StatusCode::OK {
        let hint = if status.is_redirection() {
            "; redirects are not followed, give the final URL"
        } else {
            ""
        };
        return Err(Error::config(format!(
            "GET {shown} answered {status} (expected 200){hint}"
        )));
    }
    let header = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let validators = Validators {
        etag: header(http::header::ETAG),
        last_modified: header(http::header::LAST_MODIFIED),
    };
    let io = |e: std::io::Error| {
        Error::config(format!(
            "writing the download of {shown} to {}: {e}",
            dest.display()
        ))
    };
    let mut file = tokio::fs::File::create(dest).await.map_err(io)?;
    let mut body = resp.into_body();
    let mut bytes = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Error::config(format!(
                "GET {shown}: reading the body failed: {}",
                crate::error::chain(&e)
            ))
        })?;
        if let Ok(data) = frame.into_data() {
            bytes += data.len() as u64;
            if bytes > max_bytes {
                return Err(Error::config(format!(
                    "GET {shown}: the body is over the {max_bytes}-byte limit"
                )));
            }
            file.write_all(&data).await.map_err(io)?;
        }
    }
    file.flush().await.map_err(io)?;
    Ok(Fetched::Downloaded { validators, bytes })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// Answers every request with `head` (status line and headers) and `body`, recording
    /// each request's text.
    async fn serve(head: &'static str, body: &'static str) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/f", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&req).to_lowercase());
                let resp = format!(
                    "HTTP/1.1 {head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            }
        });
        (url, seen)
    }

    #[tokio::test]
    async fn last_modified_is_sent_back_and_a_304_writes_nothing() {
        let lm = "Wed, 02 Dec 2026 10:00:00 GMT";
        let (url, seen) = serve("304 Not Modified", "").await;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let known = Validators {
            etag: None,
            last_modified: Some(lm.into()),
        };
        let got = fetch_to_file(&url, &known, &dest, 100).await.unwrap();
        assert_eq!(got, Fetched::NotModified);
        assert!(!dest.exists());
        let req = seen.lock().unwrap()[0].clone();
        assert!(
            req.contains(&format!("if-modified-since: {}", lm.to_lowercase())),
            "{req}"
        );
        assert!(!req.contains("if-none-match"), "{req}");
        assert!(!req.contains("authorization"), "{req}");
    }

    #[tokio::test]
    async fn a_200_is_written_with_its_validators_and_capped() {
        let (url, _) = serve("200 OK\r\nETag: \"x\"\r\nLast-Modified: then", "hello").await;
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("f");
        let got = fetch_to_file(&url, &Validators::default(), &dest, 100)
            .await
            .unwrap();
        let validators = Validators {
            etag: Some("\"x\"".into()),
            last_modified: Some("then".into()),
        };
        assert_eq!(
            got,
            Fetched::Downloaded {
                validators,
                bytes: 5
            }
        );
        assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello");
        let err = fetch_to_file(&url, &Validators::default(), &dest, 4)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("4-byte limit"), "{err}");
    }

    #[tokio::test]
    async fn redirects_are_not_followed_and_plain_http_must_be_loopback() {
        let (url, seen) = serve("302 Found\r\nLocation: http://127.0.0.1:9/x", "").await;
        let dir = tempfile::tempdir().unwrap();
        let err = fetch_to_file(&url, &Validators::default(), &dir.path().join("f"), 100)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("302") && msg.contains("redirects are not followed"),
            "{msg}"
        );
        assert_eq!(seen.lock().unwrap().len(), 1);
        let err = fetch_to_file(
            "http://example.com/x",
            &Validators::default(),
            &dir.path().join("g"),
            1,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("over plain http"), "{err}");
    }
}
