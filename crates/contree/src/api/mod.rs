//! The request layer: one small function per API operation, and the helpers that build
//! requests. Handle types call these; these call only the client and `contree-proto`.

mod images;
mod operations;

pub(crate) use images::find_by_tag;
pub(crate) use operations::{cancel_operation, get_operation};

use bytes::Bytes;

use crate::error::{Error, Result};

/// A percent-encoded query string builder (repeated keys for lists; flags omitted when false).
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    parts: Vec<(String, String)>,
}

const QUERY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

const PATH_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Query {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn push(&mut self, k: &str, v: impl ToString) -> &mut Self {
        self.parts.push((k.to_string(), v.to_string()));
        self
    }
    pub(crate) fn opt(&mut self, k: &str, v: Option<impl ToString>) -> &mut Self {
        if let Some(v) = v {
            self.push(k, v);
        }
        self
    }
    fn encode(&self) -> String {
        self.parts
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    percent_encoding::utf8_percent_encode(k, QUERY_SET),
                    percent_encoding::utf8_percent_encode(v, QUERY_SET)
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Percent-encodes one path segment.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, PATH_SET).to_string()
}

/// A request with an empty body, URI relative to `{base}/v1`.
pub(crate) fn request(method: http::Method, path: String, query: &Query) -> http::Request<Bytes> {
    build(method, path, query, None, Bytes::new())
}

/// A request with a JSON body.
pub(crate) fn json_request(
    method: http::Method,
    path: String,
    query: &Query,
    body: &impl serde::Serialize,
) -> Result<http::Request<Bytes>> {
    let body = serde_json::to_vec(body)
        .map_err(|e| Error::invalid(format!("could not encode the request body: {e}")))?;
    Ok(build(
        method,
        path,
        query,
        Some("application/json"),
        Bytes::from(body),
    ))
}

pub(crate) fn build(
    method: http::Method,
    path: String,
    query: &Query,
    content_type: Option<&str>,
    body: Bytes,
) -> http::Request<Bytes> {
    let q = query.encode();
    let uri = if q.is_empty() {
        path
    } else {
        format!("{path}?{q}")
    };
    let mut b = http::Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    // The URI is built from encoded parts, so this cannot fail; fall back to an empty
    // request to the root rather than panicking.
    b.body(body)
        .unwrap_or_else(|_| http::Request::new(Bytes::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_encoding() {
        let mut q = Query::new();
        q.push("path", "/etc/a b").push("tag", "ubuntu:latest+1");
        assert_eq!(q.encode(), "path=/etc/a%20b&tag=ubuntu%3Alatest%2B1");
        assert_eq!(seg("a/b"), "a%2Fb");
    }
}
