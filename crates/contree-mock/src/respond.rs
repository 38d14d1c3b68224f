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

    /// A proto value as the JSON body (nullable keys come out as `null`: the generated types
    /// send `None` so).
    pub(crate) fn typed<T: serde::Serialize>(status: u16, v: &T) -> Self {
        Self::json(status, serde_json::to_value(v).unwrap_or(Value::Null))
    }

    /// An `Error` JSON body: `{"error": msg, "status": code}`.
    pub(crate) fn error(status: u16, msg: impl Into<String>) -> Self {
        let mut e =
            contree_proto::types::Error::new(contree_proto::types::ErrorDetail::String(msg.into()));
        e.status = Some(i64::from(status));
        Self::typed(status, &e)
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
    faults: BodyFaults,
    /// Encoded bytes held back by a stall that starts inside a chunk.
    pending: Option<Bytes>,
    sent: u64,
    done: bool,
    fail_next: bool,
}

/// The faults applied to a body while it is sent.
#[derive(Debug, Clone, Copy, Default)]
struct BodyFaults {
    /// `close_mid_body`: bytes sent before the connection breaks.
    limit: Option<u64>,
    /// `stall`: bytes sent before the stall, and its length.
    stall: Option<(u64, std::time::Duration)>,
    /// `truncated_gzip`: compressed bytes sent before the body ends cleanly.
    gz_cut: Option<u64>,
}

impl BodyFaults {
    fn any(&self) -> bool {
        self.limit.is_some() || self.stall.is_some() || self.gz_cut.is_some()
    }
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

/// The next encoded chunk of the source (`None` once it ended; the gzip trailer, cut
/// under `truncated_gzip`, comes last).
async fn next_encoded(st: &mut BodyState) -> Option<Bytes> {
    let next = match &mut st.src {
        Src::Once(o) => o.take(),
        Src::Chan(rx) => rx.recv().await,
    };
    match next {
        Some(chunk) => Some(match &mut st.gz {
            Some(gz) => gz_chunk(gz, &chunk),
            None => chunk,
        }),
        None => {
            st.done = true;
            let mut tail = st
                .gz
                .take()
                .map(|gz| gz.finish().unwrap_or_default())
                .unwrap_or_default();
            if st.faults.gz_cut.is_some() {
                tail.truncate(tail.len().saturating_sub(8));
            }
            Some(Bytes::from(tail))
        }
    }
}

fn streamed(src: Src, gzip: bool, faults: BodyFaults) -> RespBody {
    let state = BodyState {
        src,
        gz: gzip.then(|| GzEncoder::new(Vec::new(), Compression::fast())),
        faults,
        pending: None,
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
        loop {
            let mut out = match st.pending.take() {
                Some(p) => p,
                None if st.done => return None,
                None => next_encoded(&mut st).await.unwrap_or_default(),
            };
            if out.is_empty() {
                if st.done {
                    if st.faults.limit.is_some() {
                        // A mid-body fault always ends in a broken connection.
                        return Some((Err(mid_body_error()), st));
                    }
                    return None;
                }
                continue;
            }
            if let Some((after, d)) = st.faults.stall {
                let room = after.saturating_sub(st.sent);
                if room == 0 {
                    st.faults.stall = None;
                    tokio::time::sleep(d).await;
                } else if (out.len() as u64) > room {
                    // Send up to the stall point now, the rest after the stall.
                    st.pending = Some(out.split_off(room as usize));
                }
            }
            if let Some(cut) = st.faults.gz_cut {
                let room = cut.saturating_sub(st.sent);
                if (out.len() as u64) >= room {
                    out.truncate(room as usize);
                    // End cleanly: no more source, no trailer.
                    st.pending = None;
                    st.gz = None;
                    st.done = true;
                    if out.is_empty() {
                        return None;
                    }
                }
            }
            if let Some(limit) = st.faults.limit {
                let room = limit.saturating_sub(st.sent);
                if (out.len() as u64) >= room {
                    out.truncate(room as usize);
                    st.pending = None;
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
    let is_sse = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    let faults = BodyFaults {
        limit: fault.and_then(|f| f.close_mid_body),
        // An event stream stalls by events, in its writer.
        stall: fault.and_then(FaultRule::stall_spec).filter(|_| !is_sse),
        gz_cut: fault.and_then(|f| f.truncated_gzip),
    };
    // A truncated gzip body is sent gzip-encoded whatever the client asked.
    let gzip = gzip || faults.gz_cut.is_some();
    let set_gzip = |headers: &mut HeaderMap| {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    };
    let body = if head {
        empty_body()
    } else {
        match payload {
            Payload::Empty | Payload::Json(_) => empty_body(),
            Payload::Bytes(b) => {
                let gz = gzip && !b.is_empty();
                if gz {
                    set_gzip(&mut headers);
                }
                if faults.any() {
                    streamed(Src::Once(Some(b)), gz, faults)
                } else if gz {
                    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
                    let _ = enc.write_all(&b);
                    let out = enc.finish().unwrap_or_default();
                    Full::new(Bytes::from(out)).map_err(|e| match e {}).boxed()
                } else {
                    Full::new(b).map_err(|e| match e {}).boxed()
                }
            }
            Payload::Stream(rx) => {
                if gzip {
                    set_gzip(&mut headers);
                }
                streamed(Src::Chan(rx), gzip, faults)
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

    async fn collect(body: RespBody) -> (Vec<u8>, bool) {
        let mut body = body;
        let mut out = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => out.extend_from_slice(f.data_ref().map(|b| &b[..]).unwrap_or(&[])),
                Err(_) => return (out, false),
            }
        }
        (out, true)
    }

    fn gunzip(b: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(b).read_to_end(&mut out)?;
        Ok(out)
    }

    #[tokio::test]
    async fn truncated_gzip_ends_cleanly_with_a_body_that_does_not_decode() {
        let payload: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for cut in [0u64, 10, 100, 1 << 30] {
            let rule = FaultRule::any_method("/").truncated_gzip(cut);
            let resp = Resp::bytes(
                200,
                "application/octet-stream",
                Bytes::from(payload.clone()),
            );
            // Not asked for gzip: it is sent gzip-encoded anyway.
            let r = finalize(resp, false, false, Some(&rule));
            assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip");
            let (bytes, clean) = collect(r.into_body()).await;
            assert!(clean, "the body ends cleanly (cut {cut})");
            assert!(
                bytes.len() as u64 <= cut,
                "cut {cut}: {} bytes",
                bytes.len()
            );
            assert!(gunzip(&bytes).is_err(), "cut {cut} still decodes");
        }
        // Streamed bodies too: the trailer is never sent.
        let (tx, rx) = mpsc::channel(4);
        tx.send(Bytes::from_static(b"hello")).await.unwrap();
        drop(tx);
        let rule = FaultRule::any_method("/").truncated_gzip(1 << 30);
        let r = finalize(
            Resp::stream(200, "application/x-tar", rx),
            true,
            false,
            Some(&rule),
        );
        let (bytes, clean) = collect(r.into_body()).await;
        assert!(clean);
        assert!(gunzip(&bytes).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_holds_the_rest_of_the_body_back() {
        let rule = FaultRule::any_method("/").stall(3, std::time::Duration::from_secs(60));
        let resp = Resp::bytes(200, "text/plain", Bytes::from_static(b"abcdefgh"));
        let mut body = finalize(resp, false, false, Some(&rule)).into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"abc");
        let t0 = tokio::time::Instant::now();
        let rest = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&rest[..], b"defgh");
        assert!(t0.elapsed() >= std::time::Duration::from_secs(60));
        assert!(body.frame().await.is_none());
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
