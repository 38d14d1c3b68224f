//! Helpers for response headers the spec declares (`Location`, `Retry-After`) and error bodies.

use crate::types;

/// The `Location` header, if present and valid UTF-8.
///
/// Locations are origin-relative and lack the deployment prefix (`/v1/operations/<id>`), so do
/// not resolve them against the base URL; take the id with [`id_from_location`].
pub fn location<B>(response: &http::Response<B>) -> Option<&str> {
    response
        .headers()
        .get(http::header::LOCATION)?
        .to_str()
        .ok()
}

/// The last path segment of a `Location` (trailing `/` ignored): the operation id, the spid or
/// the image UUID of a find-by-tag redirect.
///
/// ```
/// use contree_proto::response::id_from_location;
/// assert_eq!(id_from_location("/v1/inspect/1234/"), Some("1234"));
/// assert_eq!(id_from_location("/v1/operations/abc/subprocesses/2"), Some("2"));
/// assert_eq!(id_from_location("/"), None);
/// ```
pub fn id_from_location(location: &str) -> Option<&str> {
    let trimmed = location.split(['?', '#']).next()?.trim_end_matches('/');
    let last = trimmed.rsplit('/').next()?;
    (!last.is_empty()).then_some(last)
}

/// `Retry-After` as whole seconds (integer form only; HTTP dates give `None`).
pub fn retry_after_secs<B>(response: &http::Response<B>) -> Option<u64> {
    response
        .headers()
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Whether the response is `text/plain` (the `text` flag of the inspect endpoints).
pub fn is_text<B>(response: &http::Response<B>) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/plain")
        })
}

/// Parses an error body leniently: `None` when it is empty or not an `Error` object.
///
/// ```
/// let e = contree_proto::response::error_body(br#"{"error":"nope","status":404}"#).unwrap();
/// assert_eq!(e.status, Some(404));
/// assert!(contree_proto::response::error_body(b"<html>").is_none());
/// ```
pub fn error_body(body: &[u8]) -> Option<types::Error> {
    serde_json::from_slice(body).ok()
}

/// A one-line message for an error body: the `error` string, or the JSON of a structured error,
/// or the body itself (lossy UTF-8, first 512 bytes) when it is not an `Error`.
pub fn error_message(body: &[u8]) -> String {
    match error_body(body) {
        Some(e) => match e.error {
            types::ErrorDetail::String(s) => s,
            other => serde_json::to_string(&other).unwrap_or_default(),
        },
        None => {
            let cut = body.len().min(512);
            String::from_utf8_lossy(&body[..cut]).trim().to_string()
        }
    }
}
