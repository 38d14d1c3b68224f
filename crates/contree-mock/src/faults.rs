//! Fault injection: rules that make matching requests misbehave on purpose.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the connection is torn down by a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseMode {
    /// Drop the connection without processing the request at all.
    BeforeResponse,
    /// Run the handler (state changes happen), then drop the connection without a response.
    AfterProcessing,
}

/// One fault rule: which requests it matches and what it does to them.
///
/// A rule matches a request when the method is equal (or the rule has no method) and the
/// request path (below the origin, e.g. `/v1/operations/…`) starts with the rule's path.
/// Each match consumes one of the rule's `times` (default 1); rules are tried in the order
/// they were injected. Several effects can be combined on one rule (e.g. a delay and a status).
///
/// ```
/// use contree_mock::FaultRule;
/// use http::Method;
/// let rule = FaultRule::new(Method::POST, "/v1/instances").times(2).status(429).retry_after(1);
/// assert_eq!(rule.remaining(), Some(2));
/// // The same rule as JSON, for `POST /_mock/faults`:
/// let json = serde_json::to_value(&rule).unwrap();
/// assert_eq!(json["status"], 429);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// HTTP method to match (`None` matches every method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path prefix to match, below the origin (e.g. `/v1/operations/`).
    pub path: String,
    /// When set, the path must also end with this (e.g. `/events` for every event stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_suffix: Option<String>,
    /// How many matching requests the rule applies to (default 1); `None` (JSON `null`) means forever.
    pub times: Option<u32>,
    /// Answer with this status (and an `Error` body) instead of processing the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Retry-After` seconds added to the fault status response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Sleep this many milliseconds before handling the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Close the connection before or after processing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close: Option<CloseMode>,
    /// Send the status line, headers and this many body bytes, then drop the connection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_mid_body: Option<u64>,
    /// End an event stream cleanly (no `sse_error`) after this many events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_stream_after: Option<u64>,
    /// After this many events, send an `sse_error` frame and close the stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sse_error_after: Option<u64>,
    /// Replace the JSON body with syntactically broken JSON.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub malformed_json: bool,
    /// Add unknown fields to every JSON object and unknown values to open enums.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub extra_fields: bool,
    /// Stall (send nothing, not even keepalives) for this many milliseconds once
    /// `stall_after` events (event streams) or body bytes (other responses) were sent, then
    /// go on if the client is still there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_ms: Option<u64>,
    /// Where the stall starts: events of an event stream, bytes of any other body (default 0:
    /// right after the headers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_after: Option<u64>,
    /// Answer gzip-encoded (whatever `Accept-Encoding` says) and end the body cleanly after
    /// this many compressed bytes, without the rest of the deflate stream and its trailer
    /// (at least the 8-byte trailer is always missing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated_gzip: Option<u64>,
    /// Flip the first byte of the request body before handling it, as if it was corrupted
    /// on the way (an upload is then stored, and answered, with another sha256).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub corrupt_request_body: bool,
    /// Accept a spawn (`POST /v1/instances`) without resolving its image or running
    /// anything: answer 201 with a new operation that ends `FAILED` with this error message
    /// (what a service that looks at the image only once the operation runs does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_operation: Option<String>,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            method: None,
            path: "/".to_string(),
            path_suffix: None,
            times: Some(1),
            status: None,
            retry_after: None,
            delay_ms: None,
            close: None,
            close_mid_body: None,
            cut_stream_after: None,
            sse_error_after: None,
            malformed_json: false,
            extra_fields: false,
            stall_ms: None,
            stall_after: None,
            truncated_gzip: None,
            corrupt_request_body: false,
            fail_operation: None,
        }
    }
}

impl FaultRule {
    /// A rule for `method` requests whose path starts with `path`; applies once by default.
    pub fn new(method: http::Method, path: impl Into<String>) -> Self {
        Self {
            method: Some(method.as_str().to_string()),
            path: path.into(),
            times: Some(1),
            ..Self::default()
        }
    }

    /// A rule for requests of any method whose path starts with `path`.
    pub fn any_method(path: impl Into<String>) -> Self {
        Self {
            method: None,
            path: path.into(),
            times: Some(1),
            ..Self::default()
        }
    }

    /// Match only paths that also end with `suffix` (e.g. `/events`: the event stream of
    /// whichever operation).
    pub fn path_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.path_suffix = Some(suffix.into());
        self
    }

    /// Apply to the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Apply to every matching request until the faults are cleared.
    pub fn forever(mut self) -> Self {
        self.times = None;
        self
    }

    /// Answer with `code` and an `Error` JSON body (no body for HEAD).
    pub fn status(mut self, code: u16) -> Self {
        self.status = Some(code);
        self
    }

    /// Add `Retry-After: secs` to the fault status response.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Wait before handling the request.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay_ms = Some(d.as_millis().min(u128::from(u64::MAX)) as u64);
        self
    }

    /// Drop the connection without processing the request.
    pub fn close_before_response(mut self) -> Self {
        self.close = Some(CloseMode::BeforeResponse);
        self
    }

    /// Process the request (its effects happen), then drop the connection without answering.
    pub fn close_after_processing(mut self) -> Self {
        self.close = Some(CloseMode::AfterProcessing);
        self
    }

    /// Send headers and `after_bytes` bytes of the body, then drop the connection.
    pub fn close_mid_body(mut self, after_bytes: u64) -> Self {
        self.close_mid_body = Some(after_bytes);
        self
    }

    /// End an event stream (cleanly, without `sse_error`) after `k` events.
    pub fn cut_stream_after(mut self, k: u64) -> Self {
        self.cut_stream_after = Some(k);
        self
    }

    /// After `k` events, send an `sse_error` frame and close the stream.
    pub fn sse_error_after(mut self, k: u64) -> Self {
        self.sse_error_after = Some(k);
        self
    }

    /// Answer with broken JSON in place of the JSON body.
    pub fn malformed_json(mut self) -> Self {
        self.malformed_json = true;
        self
    }

    /// Add unknown fields (and unknown values of open enums) to JSON bodies and events.
    pub fn extra_fields(mut self) -> Self {
        self.extra_fields = true;
        self
    }

    /// Stall for `d` once `after` events (event streams) or body bytes (other responses)
    /// were sent: a stall longer than the client's read-idle timeout must make it give up
    /// on the connection and resume.
    pub fn stall(mut self, after: u64, d: Duration) -> Self {
        self.stall_after = Some(after);
        self.stall_ms = Some(d.as_millis().min(u128::from(u64::MAX)) as u64);
        self
    }

    /// Answer gzip-encoded and end the body cleanly after `bytes` compressed bytes (the
    /// deflate stream and its trailer incomplete): the decoder, not the connection, must
    /// notice.
    pub fn truncated_gzip(mut self, bytes: u64) -> Self {
        self.truncated_gzip = Some(bytes);
        self
    }

    /// Flip the first byte of the request body before handling it (corruption in transit).
    pub fn corrupt_request_body(mut self) -> Self {
        self.corrupt_request_body = true;
        self
    }

    /// Accept a spawn whatever its image and end its operation `FAILED` with `message`.
    pub fn fail_operation(mut self, message: impl Into<String>) -> Self {
        self.fail_operation = Some(message.into());
        self
    }

    /// The stall of this rule (where it starts, how long), if any.
    pub(crate) fn stall_spec(&self) -> Option<(u64, Duration)> {
        self.stall_ms
            .map(|ms| (self.stall_after.unwrap_or(0), Duration::from_millis(ms)))
    }

    /// How many more requests this rule applies to (`None`: unlimited).
    pub fn remaining(&self) -> Option<u32> {
        self.times
    }

    pub(crate) fn matches(&self, method: &http::Method, path: &str) -> bool {
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method.as_str())
        {
            return false;
        }
        path.starts_with(&self.path)
            && self
                .path_suffix
                .as_deref()
                .is_none_or(|suffix| path.ends_with(suffix))
    }
}

/// The ordered set of injected rules.
#[derive(Debug, Default)]
pub(crate) struct FaultEngine {
    rules: Vec<FaultRule>,
}

impl FaultEngine {
    pub(crate) fn inject(&mut self, rule: FaultRule) {
        if rule.times != Some(0) {
            self.rules.push(rule);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Takes the first matching rule, consuming one of its uses.
    pub(crate) fn take(&mut self, method: &http::Method, path: &str) -> Option<FaultRule> {
        let idx = self.rules.iter().position(|r| r.matches(method, path))?;
        let rule = self.rules[idx].clone();
        match &mut self.rules[idx].times {
            Some(n) if *n <= 1 => {
                self.rules.remove(idx);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(rule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn rules_are_consumed_in_order() {
        let mut e = FaultEngine::default();
        e.inject(
            FaultRule::new(Method::POST, "/v1/instances")
                .times(2)
                .status(429),
        );
        e.inject(FaultRule::any_method("/v1/").status(500));
        assert_eq!(
            e.take(&Method::POST, "/v1/instances").unwrap().status,
            Some(429)
        );
        assert_eq!(
            e.take(&Method::GET, "/v1/images").unwrap().status,
            Some(500)
        );
        assert_eq!(
            e.take(&Method::POST, "/v1/instances").unwrap().status,
            Some(429)
        );
        assert!(e.take(&Method::POST, "/v1/instances").is_none());
        assert!(e.take(&Method::GET, "/other").is_none());
        e.inject(
            FaultRule::new(Method::GET, "/v1/operations/")
                .path_suffix("/events")
                .status(503),
        );
        assert!(e.take(&Method::GET, "/v1/operations/abc").is_none());
        assert!(e.take(&Method::GET, "/v1/operations/abc/events").is_some());
    }

    #[test]
    fn json_round_trip() {
        let r: FaultRule =
            serde_json::from_str(r#"{"method":"GET","path":"/v1/op","close":"after_processing"}"#)
                .unwrap();
        assert_eq!(r.close, Some(CloseMode::AfterProcessing));
        assert_eq!(r.times, Some(1));
        let r: FaultRule = serde_json::from_str(r#"{"path":"/v1/","times":null}"#).unwrap();
        assert_eq!(r.times, None);
        let r: FaultRule = serde_json::from_str(
            r#"{"path":"/v1/","stall_ms":900,"stall_after":2,"truncated_gzip":10}"#,
        )
        .unwrap();
        assert_eq!(r.stall_spec(), Some((2, Duration::from_millis(900))));
        assert_eq!(r.truncated_gzip, Some(10));
        let back =
            serde_json::to_value(FaultRule::any_method("/").stall(0, Duration::from_secs(1)))
                .unwrap();
        assert_eq!(back["stall_ms"], 1000);
    }
}
