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
/// retried here: the transport refreshes the credentials once and retries separately
/// (not at all when the provider is static).
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

/// The first delay after a 425 Too Early (before jitter).
pub const TOO_EARLY_FIRST: Duration = Duration::from_millis(50);
/// The largest delay between two requests answered 425 while the wait is young (before
/// jitter): the service usually assigns a worker within a few hundred milliseconds, and a run
/// can finish soon after, so the client must not oversleep that moment.
pub const TOO_EARLY_FAST_MAX: Duration = Duration::from_millis(100);
/// How long the wait counts as young ([`TOO_EARLY_FAST_MAX`] applies).
pub const TOO_EARLY_FAST_WINDOW: Duration = Duration::from_secs(2);
/// The largest delay between two requests answered 425 once the wait is older (a queue).
pub const TOO_EARLY_MAX: Duration = Duration::from_millis(400);

/// Asking again after `425 Too Early` ("not yet": the operation has no worker yet, so its
/// events or subprocesses are not available). The service can only say `Retry-After: 1`
/// (whole seconds), while the operation usually becomes ready within tens of milliseconds,
/// so the client asks again sooner than that, on a short capped schedule:
///
/// - the n-th 425 in a row waits a delay drawn from `[cap/2, cap]` ("equal jitter") with
///   `cap = min(max, 50 ms * 2^(n-1), Retry-After)`, and never less than 25 ms, where `max` is
///   100 ms for the first 2 s of waiting and 400 ms after;
/// - so a waiting call asks at most 21 times in its first second and at most 20 times in the
///   next (about 13 a second on average: delays of 50–100 ms), then at most 5 times a second,
///   and never later than the server's `Retry-After`. Oversleeping the moment the operation
///   becomes ready costs at most 100 ms in the first 2 s (what `cargo xtask bench` scenario 7
///   measures as overhead).
///
/// A 425 means the request was not processed, so it is safe to repeat for any call. How
/// long the schedule may go on is up to the caller (the transport allows as much waiting
/// as the plain `Retry-After` schedule would have: see [`RetryConfig`](crate::RetryConfig)).
///
/// ```
/// use std::time::Duration;
/// use contree_transport::retry::TooEarly;
/// let mut w = TooEarly::default();
/// let first = w.next_delay(Some(Duration::from_secs(1)));
/// assert!(first >= Duration::from_millis(25) && first <= Duration::from_millis(50));
/// assert_eq!(w.waited(), first);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TooEarly {
    n: u32,
    waited: Duration,
}

impl TooEarly {
    /// The delay before asking again after one more 425 (with the server's `Retry-After`).
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        self.n = self.n.saturating_add(1);
        let exp = self.n.saturating_sub(1).min(16);
        let max = if self.waited < TOO_EARLY_FAST_WINDOW {
            TOO_EARLY_FAST_MAX
        } else {
            TOO_EARLY_MAX
        };
        let mut cap = TOO_EARLY_FIRST.saturating_mul(1 << exp).min(max);
        if let Some(ra) = retry_after {
            cap = cap.min(ra);
        }
        let floor = TOO_EARLY_FIRST / 2;
        let cap = cap.max(floor);
        let lo = (cap / 2).max(floor);
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let d = Duration::from_nanos(rand::random_range(nanos(lo)..=nanos(cap)));
        self.waited += d;
        d
    }

    /// How many 425s in a row were answered so far.
    pub fn count(&self) -> u32 {
        self.n
    }

    /// The total delay handed out so far.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

/// How long a run of 425s may be waited out: as long as `units` plain `Retry-After`
/// sleeps would have taken (at least one second each; no units, no waiting).
pub(crate) fn too_early_budget(units: u32, retry_after: Option<Duration>) -> Duration {
    let unit = retry_after
        .unwrap_or(Duration::from_secs(1))
        .max(Duration::from_secs(1));
    unit.saturating_mul(units)
}

/// The server's SSE `retry:` as a reconnection delay: capped at `max_backoff`, with equal
/// jitter (`[d/2, d]`) so that many clients told the same value do not come back at once.
pub(crate) fn server_retry_delay(server: Duration, max_backoff: Duration) -> Duration {
    let cap = server.min(max_backoff);
    let nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::random_range(nanos / 2..=nanos))
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
    fn too_early_schedule_is_short_capped_and_bounded() {
        let one = Some(Duration::from_secs(1));
        for _ in 0..200 {
            let mut w = TooEarly::default();
            let mut at = Duration::ZERO;
            let mut in_first_second = 1; // the first request
            for n in 0..60 {
                // 50 ms, then 100 ms while the wait is under 2 s, then doubling to 400 ms.
                let cap = match n {
                    0 => 50,
                    _ if at < TOO_EARLY_FAST_WINDOW => 100,
                    _ => 400,
                };
                let d = w.next_delay(one);
                assert!(
                    d <= Duration::from_millis(cap),
                    "{d:?} > {cap} ms at {at:?}"
                );
                assert!(d >= Duration::from_millis(cap / 2).max(Duration::from_millis(25)));
                at += d;
                if at < Duration::from_secs(1) {
                    in_first_second += 1;
                }
            }
            assert!(
                in_first_second <= 21,
                "{in_first_second} requests in the first second"
            );
            // Never later than the server's Retry-After.
            let mut w = TooEarly::default();
            for _ in 0..10 {
                assert!(
                    w.next_delay(Some(Duration::from_millis(120))) <= Duration::from_millis(120)
                );
            }
            // A Retry-After of 0 does not make the client spin.
            assert!(
                TooEarly::default().next_delay(Some(Duration::ZERO)) >= Duration::from_millis(25)
            );
        }
        assert_eq!(too_early_budget(2, one), Duration::from_secs(2));
        assert_eq!(
            too_early_budget(2, Some(Duration::ZERO)),
            Duration::from_secs(2)
        );
        assert_eq!(
            too_early_budget(3, Some(Duration::from_secs(5))),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn server_retry_is_capped_and_jittered() {
        let cap = Duration::from_secs(20);
        let hour = Duration::from_millis(3_600_000);
        let draws: std::collections::HashSet<_> =
            (0..50).map(|_| server_retry_delay(hour, cap)).collect();
        assert!(draws.iter().all(|d| *d <= cap && *d >= cap / 2));
        assert!(draws.len() > 1, "jittered");
        assert!(server_retry_delay(Duration::from_millis(300), cap) <= Duration::from_millis(300));
        assert_eq!(server_retry_delay(Duration::ZERO, cap), Duration::ZERO);
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
