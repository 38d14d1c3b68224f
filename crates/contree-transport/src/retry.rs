//! Retry classification: which failed attempts may be tried again.
//!
//! [`classify`] is a pure function; the transport's retry loop adds the attempt limit, the
//! backoff, `Retry-After` and the operation deadline around it.

use std::time::{Duration, SystemTime};

/// What happened in one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The connection could not be established (DNS, refused, TLS handshake, connect
    /// timeout): the request was never sent.
    ConnectFailed,
    /// The server answered with this status (not one of the operation's success codes).
    Status(u16),
    /// The attempt timed out after the request may have been sent.
    Timeout,
    /// The connection broke (reset, EOF) after the request may have been sent.
    Reset,
    /// The response headers arrived but the body ended early or broke.
    IncompleteBody,
}

/// The verdict of [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Safe and useful to try again.
    Retry,
    /// Give up: either pointless (a permanent error) or unsafe (the call may have taken effect).
    DoNotRetry,
}

/// Decides whether a failed attempt may be retried.
///
/// | Outcome | Retry? |
/// |---|---|
/// | connect failure (request not sent) | always |
/// | 425, 429 (rejected before processing, a service guarantee) | always |
/// | 408, 5xx | only if idempotent |
/// | timeout, reset, incomplete body (request may have been processed) | only if idempotent |
/// | any other status (400, 401, 403, 404, 409, 410, 422, 3xx, …) | never |
///
/// `idempotent` comes from the operation's metadata, overridable per request. A 401 is not
/// retried here: the transport refreshes the credentials once and retries separately.
///
/// ```
/// use contree_transport::retry::{classify, Decision, Outcome};
/// assert_eq!(classify(Outcome::Status(429), false), Decision::Retry);
/// assert_eq!(classify(Outcome::Status(503), false), Decision::DoNotRetry);
/// assert_eq!(classify(Outcome::Status(503), true), Decision::Retry);
/// ```
pub fn classify(outcome: Outcome, idempotent: bool) -> Decision {
    let retry = match outcome {
        Outcome::ConnectFailed => true,
        Outcome::Status(425 | 429) => true,
        Outcome::Status(s) if s == 408 || (500..=599).contains(&s) => idempotent,
        Outcome::Status(_) => false,
        Outcome::Timeout | Outcome::Reset | Outcome::IncompleteBody => idempotent,
    };
    if retry {
        Decision::Retry
    } else {
        Decision::DoNotRetry
    }
}

/// Parses a `Retry-After` value: delta-seconds (negative clamps to 0, fractions allowed) or an
/// HTTP-date (relative to `now`; a date in the past means 0). Returns `None` when unparsable.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use contree_transport::retry::parse_retry_after;
/// assert_eq!(parse_retry_after("3", SystemTime::now()), Some(Duration::from_secs(3)));
/// assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(secs) = v.parse::<i64>() {
        return Some(Duration::from_secs(secs.max(0).unsigned_abs()));
    }
    if let Ok(secs) = v.parse::<f64>() {
        if secs.is_finite() {
            return Duration::try_from_secs_f64(secs.max(0.0)).ok();
        }
        return None;
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads `Retry-After` from response headers.
pub(crate) fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Decision::{DoNotRetry as No, Retry as Yes};

    #[test]
    fn classification_table() {
        // (outcome, idempotent, expected)
        let table: &[(Outcome, bool, Decision)] = &[
            (Outcome::ConnectFailed, false, Yes),
            (Outcome::ConnectFailed, true, Yes),
            (Outcome::Status(425), false, Yes),
            (Outcome::Status(425), true, Yes),
            (Outcome::Status(429), false, Yes),
            (Outcome::Status(429), true, Yes),
            (Outcome::Status(408), false, No),
            (Outcome::Status(408), true, Yes),
            (Outcome::Status(500), false, No),
            (Outcome::Status(500), true, Yes),
            (Outcome::Status(502), false, No),
            (Outcome::Status(502), true, Yes),
            (Outcome::Status(503), false, No),
            (Outcome::Status(503), true, Yes),
            (Outcome::Status(504), false, No),
            (Outcome::Status(504), true, Yes),
            (Outcome::Status(599), true, Yes),
            (Outcome::Status(400), true, No),
            (Outcome::Status(401), true, No),
            (Outcome::Status(403), true, No),
            (Outcome::Status(404), true, No),
            (Outcome::Status(409), true, No),
            (Outcome::Status(410), true, No),
            (Outcome::Status(422), true, No),
            (Outcome::Status(302), true, No),
            (Outcome::Status(200), true, No),
            (Outcome::Timeout, false, No),
            (Outcome::Timeout, true, Yes),
            (Outcome::Reset, false, No),
            (Outcome::Reset, true, Yes),
            (Outcome::IncompleteBody, false, No),
            (Outcome::IncompleteBody, true, Yes),
        ];
        for &(outcome, idem, want) in table {
            assert_eq!(
                classify(outcome, idem),
                want,
                "{outcome:?} idempotent={idem}"
            );
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let table: &[(&str, Option<Duration>)] = &[
            ("0", Some(Duration::ZERO)),
            ("5", Some(Duration::from_secs(5))),
            (" 7 ", Some(Duration::from_secs(7))),
            ("-3", Some(Duration::ZERO)),
            ("1.5", Some(Duration::from_millis(1500))),
            ("inf", None),
            ("NaN", None),
            ("", None),
            ("later", None),
        ];
        for (v, want) in table {
            assert_eq!(parse_retry_after(v, now), *want, "{v:?}");
        }
        let future = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            parse_retry_after(&future, now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let cfg = crate::RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            ..crate::RetryConfig::default()
        };
        for _ in 0..200 {
            assert!(cfg.backoff(1) <= Duration::from_millis(100));
            assert!(cfg.backoff(2) <= Duration::from_millis(200));
            assert!(cfg.backoff(3) <= Duration::from_millis(350));
            assert!(cfg.backoff(40) <= Duration::from_millis(350));
        }
        // Full jitter: the draws are not all the cap.
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| cfg.backoff(3)).collect();
        assert!(distinct.len() > 1);
    }
}
