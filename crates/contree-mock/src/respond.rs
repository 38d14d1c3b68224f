//! Response building: JSON/bytes/streamed payloads, `Error` bodies, gzip, body faults.

use std::io::Write as _;

use bytes::Bytes;
use flate2::{Compression, write::GzEncoder};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::faults::FaultRule;

/// Boxed error type for response bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body type every response uses.
pub(crate) type RespBody = BoxBody<Bytes, BoxError>;

/// What a handler produces before encoding.
pub(crate) enum Payload {
    Empty,
    Bytes(Bytes),
    Json(Value),
    Stream(mpsc::Receiver<Bytes>),
}

/// The parts of a handler's answer.
pub(crate) struct RespParts {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) payload: Payload,
}

/// A handler's answer (boxed: it is also the error type of every handler).
pub(crate) struct Resp(Box<RespParts>);

impl std::ops::Deref for Resp {
    type Target = RespParts;
    fn deref(&self) -> &RespParts {
        &self.0
    }
}

impl std::ops::DerefMut for Resp {
    fn deref_mut(&mut self) -> &mut RespParts {
        &mut self.0
    }
}

impl Resp {
    pub(crate) fn json(status: u16, v: Value) -> Self {
        let mut r = Self::empty(status);
        r.payload = Payload::Json(v);
        r.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }

    pub(crate) fn empty(status: u16) -> Self {
        Self(Box::new(RespParts {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: HeaderMap::new(),
            payload: Payload::Empty,
        }))
    }

    /// A proto value as the JSON body, with the listed nullable keys written as `null`
    /// (see [`crate::wire`]).
    pub(crate) fn typed<T: serde::Serialize>(status: u16, v: &T, nulls: &[&[&str]]) -> Self {
        Self::json(status, crate::wire::to_json(v, nulls))
    }

    /// An `Error` JSON body: `{"error": msg, "status": code}`.
    pub(crate) fn error(status: u16, msg: impl Into<String>) -> Self {
        let mut e =
            contree_proto::types::Error::new(contree_proto::types::ErrorDetail::String(msg.into()));
        e.status = Some(i64::from(status));
        Self::typed(status, &e, &[])
    }

    pub(crate) fn bytes(status: u16, content_type: &'static str, b: Bytes) -> Self {
        let mut r = Self::empty(status);
        r.payload = Payload::Bytes(b);
        r.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }

    pub(crate) fn stream(
        status: u16,
        content_type: &'static str,
        rx: mpsc::Receiver<Bytes>,
    ) -> Self {
        let mut r = Self::empty(status);
        r.payload = Payload::Stream(rx);
        r.headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(name, v);
        }
        self
    }

    pub(crate) fn location(self, value: impl AsRef<str>) -> Self {
        self.header(header::LOCATION, value)
    }

    pub(crate) fn retry_after(self, secs: u64) -> Self {
        self.header(header::RETRY_AFTER, secs.to_string())
    }
}

/// Whether the request's `Accept-Encoding` allows gzip.
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            if !(coding.eq_ignore_ascii_case("gzip") || coding == "*") {
                return false;
            }
            !parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            })
        })
}

/// Adds unknown fields to every object (the `extra_fields` fault).
pub(crate) fn add_extra_fields(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (_, child) in map.iter_mut() {
                add_extra_fields(child);
            }
            map.insert(
                "x_mock_unknown_field".to_string(),
                json!({"nested": [1, "two", null], "enum_value": "X_MOCK_UNKNOWN"}),
            );
        }
        Value::Array(items) => items.iter_mut().for_each(add_extra_fields),
        _ => {}
    }
}

enum Src {
    Once(Option<Bytes>),
    Chan(mpsc::Receiver<Bytes>),
}

struct BodyState {
    src: Src,
    gz: Option<GzEncoder<Vec<u8>>>,
    limit: Option<u64>,
    sent: u64,
    done: bool,
    fail_next: bool,
}

fn gz_chunk(gz: &mut GzEncoder<Vec<u8>>, data: &[u8]) -> Bytes {
    // `flush` performs a zlib sync flush, so each chunk decodes on arrival.
    if gz.write_all(data).is_err() || gz.flush().is_err() {
        return Bytes::new();
    }
    Bytes::from(std::mem::take(gz.get_mut()))
}

fn mid_body_error() -> BoxError {
    Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "contree-mock fault: connection closed mid-body",
    ))
}

fn streamed(src: Src, gzip: bool, limit: Option<u64>) -> RespBody {
    let state = BodyState {
        src,
        gz: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
        limit,
        sent: 0,
        done: false,
        fail_next: false,
    };
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        if st.fail_next {
            st.fail_next = false;
            st.done = true;
            // Let hyper flush what was sent so far, then break the connection.
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            return Some((Err(mid_body_error()), st));
        }
        if st.done {
            return None;
        }
        loop {
            let next = match &mut st.src {
                Src::Once(o) => o.take(),
                Src::Chan(rx) => rx.recv().await,
            };
            let mut out = match next {
                Some(chunk) => match &mut st.gz {
                    Some(gz) => gz_chunk(gz, &chunk),
                    None => chunk,
                },
                None => {
                    st.done = true;
                    match st.gz.take() {
                        Some(gz) => Bytes::from(gz.finish().unwrap_or_default()),
                        None => Bytes::new(),
                    }
                }
            };
            if out.is_empty() {
                if st.done {
                    if st.limit.is_some() {
                        // A mid-body fault always ends in a broken connection.
                        return Some((Err(mid_body_error()), st));
                    }
                    return None;
                }
                continue;
            }
            if let Some(limit) = st.limit {
                let room = limit.saturating_sub(st.sent);
                if (out.len() as u64) >= room {
                    out.truncate(room as usize);
                    st.fail_next = true;
                    st.done = true;
                    if out.is_empty() {
                        st.fail_next = false;
                        return Some((Err(mid_body_error()), st));
                    }
                }
            }
            st.sent += out.len() as u64;
            return Some((Ok::<_, BoxError>(Frame::data(out)), st));
        }
    });
    StreamBody::new(stream).boxed()
}

fn empty_body() -> RespBody {
    Full::new(Bytes::new()).map_err(|e| match e {}).boxed()
}

/// Encodes a handler's answer into a hyper response, applying gzip and body faults.
pub(crate) fn finalize(
    resp: Resp,
    gzip: bool,
    head: bool,
    fault: Option<&FaultRule>,
) -> Response<RespBody> {
    let RespParts {
        status,
        mut headers,
        payload,
    } = *resp.0;
    let payload = match payload {
        Payload::Json(mut v) => {
            if fault.is_some_and(|f| f.extra_fields) {
                add_extra_fields(&mut v);
            }
            let mut s = serde_json::to_vec(&v).unwrap_or_default();
            if fault.is_some_and(|f| f.malformed_json) {
                s.truncate(s.len() / 2);
                s.extend_from_slice(b",,\"<malformed");
            }
            Payload::Bytes(Bytes::from(s))
        }
        other => other,
    };
    let limit = fault.and_then(|f| f.close_mid_body);
    let body = if head {
        empty_body()
    } else {
        match payload {
            Payload::Empty | Payload::Json(_) => empty_body(),
            Payload::Bytes(b) => {
                if gzip && !b.is_empty() {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                    if limit.is_some() {
                        streamed(Src::Once(Some(b)), true, limit)
                    } else {
                        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
                        let _ = gz.write_all(&b);
                        let out = gz.finish().unwrap_or_default();
                        Full::new(Bytes::from(out)).map_err(|e| match e {}).boxed()
                    }
                } else if limit.is_some() {
                    streamed(Src::Once(Some(b)), false, limit)
                } else {
                    Full::new(b).map_err(|e| match e {}).boxed()
                }
            }
            Payload::Stream(rx) => {
                if gzip {
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
                }
                streamed(Src::Chan(rx), gzip, limit)
            }
        }
    };
    let mut out = Response::new(body);
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_parsing() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip;q=0.5"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn extra_fields_are_added_recursively() {
        let mut v = json!({"a": {"b": 1}, "c": [{"d": 2}]});
        add_extra_fields(&mut v);
        assert!(v["x_mock_unknown_field"].is_object());
        assert!(v["a"]["x_mock_unknown_field"].is_object());
        assert!(v["c"][0]["x_mock_unknown_field"].is_object());
    }
}
