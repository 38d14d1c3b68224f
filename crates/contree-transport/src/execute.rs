//! The retry loop of one call, in four steps that read top to bottom (as object_store's
//! `retry.rs` does): **attempt** (send once, read the answer) → **classify** (success, a
//! credentials refresh, or a failure with its [`Outcome`]) → **back off** (whether and how
//! long to wait before the next attempt) → **deadline** (the operation deadline bounds the
//! attempt and the sleep).

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use contree_auth::Credentials;
use contree_proto::OperationMeta;
use futures_util::future::{self, Either};
use http::header;
use http::{Request, Response, StatusCode};
use tokio::time::Instant;

use crate::body::{Body, BodySourceError, ReqBody, ResponseBody};
use crate::config::{RequestOptions, RetryConfig};
use crate::error::{Ctx, Error, Inner, chain};
use crate::pool::{Lease, Pick};
use crate::retry::{self, Decision, Outcome, TooEarly, classify};
use crate::transport::{Mode, Payload, Transport};

/// The largest error body kept for the error message.
const ERROR_BODY_LIMIT: usize = 64 * 1024;
/// The longest server error text put into an error message.
const ERROR_TEXT_LIMIT: usize = 4096;

/// A failed attempt: the error and how to classify it (`None`: never retry).
type AttemptFailure = (Error, Option<Outcome>);

/// The settings of one call: the transport's, overridden by the request options.
struct Plan {
    retry: RetryConfig,
    idempotent: bool,
    op_timeout: Option<Duration>,
    deadline: Option<Instant>,
    attempt_timeout: Duration,
    read_idle: Option<Duration>,
    max_body: usize,
    mode: Mode,
}

/// Where the loop stands between attempts.
struct Progress {
    /// Requests sent so far (the number reported in errors).
    attempt: u32,
    /// The attempt budget: `max_attempts`, plus one per free retry (refresh, 425).
    max_attempts: u32,
    refreshed: bool,
    too_early: TooEarly,
    last: Option<Error>,
}

/// What one attempt came to (step 2).
enum Verdict {
    Done(Response<Payload>),
    /// A 401 that a credentials refresh may cure.
    Unauthorized(Error),
    Failed(AttemptFailure),
}

impl Transport {
    /// The whole call (every attempt). Not an `async fn`: its future holds the request's
    /// parts once, not also the request they came from.
    pub(crate) fn execute<'a>(
        &'a self,
        op: &'a OperationMeta,
        req: Request<Body>,
        opts: &'a RequestOptions,
        mode: Mode,
    ) -> impl Future<Output = Result<Response<Payload>, Error>> + Send + 'a {
        let (parts, body) = req.into_parts();
        self.execute_parts(op, parts, body, opts, mode)
    }

    async fn execute_parts(
        &self,
        op: &OperationMeta,
        parts: http::request::Parts,
        body: Body,
        opts: &RequestOptions,
        mode: Mode,
    ) -> Result<Response<Payload>, Error> {
        let shared = &*self.inner;
        let path_and_query = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".to_string());
        let mut ctx = Ctx {
            op: op.id,
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            attempts: 0,
        };
        let plan = self.plan(op, opts, mode);
        let mut creds = shared
            .credentials
            .provide_credentials()
            .await
            .map_err(|source| credentials_error(&ctx, source))?;
        let mut p = Progress {
            attempt: 0,
            max_attempts: plan.retry.max_attempts.max(1),
            refreshed: false,
            too_early: TooEarly::default(),
            last: None,
        };
        loop {
            p.attempt += 1;
            ctx.attempts = p.attempt;
            // 4. The deadline bounds this attempt.
            let (this_timeout, limited_by_deadline) = plan.attempt_window(&ctx, &p)?;
            // 1. Attempt. (The request lives in this block only, so the call's future does
            // not keep room for it next to the attempt's.)
            let attempt = {
                let Some(req_body) = body.for_attempt() else {
                    // Only reachable when a stream body was consumed; the caller gets the last
                    // error.
                    return Err(consumed_body(&ctx, p.last.take(), p.attempt - 1));
                };
                let request =
                    self.build_request(&parts, &path_and_query, &creds, req_body, &ctx)?;
                tracing::debug!(op = op.id, method = %ctx.method, path = %ctx.path, attempt = p.attempt, "sending request");
                tokio::time::timeout(this_timeout, self.attempt(request, op, &plan, &ctx))
            };
            let result = attempt.await;
            // 2. Classify.
            let verdict = match result {
                Err(_elapsed) if limited_by_deadline => {
                    let total = plan.op_timeout.unwrap_or(this_timeout);
                    let err = deadline_error(&ctx, total, p.last.as_ref(), p.attempt);
                    return Err(mark_sent(err, plan.idempotent));
                }
                Err(_elapsed) => Verdict::Failed(attempt_timeout(&ctx, &plan, this_timeout)),
                Ok(Err(failure)) => Verdict::Failed(failure),
                Ok(Ok(resp)) => classify_response(resp, op, &ctx, &creds),
            };
            let (err, outcome) = match verdict {
                Verdict::Done(resp) => return Ok(resp),
                // A static provider would hand back the same token: fail at once.
                Verdict::Unauthorized(err)
                    if !p.refreshed && body.available() && !shared.credentials.is_static() =>
                {
                    p.refreshed = true;
                    tracing::info!(op = op.id, method = %ctx.method, path = %ctx.path, attempt = p.attempt, "HTTP 401: refreshing credentials and retrying once");
                    creds = shared
                        .credentials
                        .refresh_credentials()
                        .await
                        .map_err(|source| credentials_error(&ctx, source))?;
                    // The refresh retry does not consume the retry budget.
                    p.max_attempts = p.max_attempts.saturating_add(1);
                    p.last = Some(err);
                    continue;
                }
                Verdict::Unauthorized(err) => (err, Some(Outcome::Status(401))),
                Verdict::Failed(failure) => failure,
            };
            // 3. Back off (4. within the deadline).
            let delay = plan.back_off(&ctx, &mut p, &err, outcome, body.available())?;
            let Some(delay) = delay else {
                return Err(err.with_attempts(p.attempt));
            };
            tracing::info!(op = op.id, method = %ctx.method, path = %ctx.path, attempt = p.attempt, delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), reason = %err, "retrying");
            p.last = Some(err);
            // Boxed: only retries sleep, and inline every call would hold room for a timer.
            Box::pin(tokio::time::sleep(delay)).await;
        }
    }

    fn plan(&self, op: &OperationMeta, opts: &RequestOptions, mode: Mode) -> Plan {
        let shared = &*self.inner;
        let op_timeout = opts.operation_timeout.unwrap_or(shared.timeouts.operation);
        Plan {
            retry: opts.retry.unwrap_or(shared.retry),
            idempotent: opts.idempotent.unwrap_or(op.idempotent),
            op_timeout,
            deadline: op_timeout.map(|d| Instant::now() + d),
            attempt_timeout: opts.attempt_timeout.unwrap_or(shared.timeouts.attempt),
            read_idle: opts.read_idle.unwrap_or(shared.timeouts.read_idle),
            max_body: opts.max_response_bytes.unwrap_or(shared.max_response_bytes),
            mode,
        }
    }

    /// Step 1: one request, and its body read (buffered mode) or handed out (streaming).
    ///
    /// When the pool can tell at once which connection to use (always for plain http and
    /// HTTP/1.1), the request is handed to hyper before the future is returned: the future
    /// then holds neither the request nor a client, only hyper's (boxed) response future.
    fn attempt<'a>(
        &'a self,
        request: Request<ReqBody>,
        op: &'a OperationMeta,
        plan: &'a Plan,
        ctx: &'a Ctx,
    ) -> impl Future<Output = Result<Response<Payload>, AttemptFailure>> + Send + 'a {
        let pool = &self.inner.pool;
        let sending = match pool.pick(request.uri()) {
            Pick::Now(lease) => {
                Either::Left(future::ready((pool.client(&lease).request(request), lease)))
            }
            Pick::Wait(waiting) => Either::Right(Box::pin(async move {
                let lease = pool.wait(waiting).await;
                (pool.client(&lease).request(request), lease)
            })),
        };
        async move {
            let (response, lease) = sending.await;
            let resp = response
                .await
                .map_err(|e| hyper_failure(&e, ctx, plan.idempotent))?;
            read_answer(resp, lease, op, plan, ctx).await
        }
    }
}

/// Step 1, after the headers: the body read (buffered mode) or handed out (streaming).
fn read_answer<'a>(
    resp: Response<hyper::body::Incoming>,
    lease: Lease,
    op: &'a OperationMeta,
    plan: &'a Plan,
    ctx: &'a Ctx,
) -> impl Future<Output = Result<Response<Payload>, AttemptFailure>> + Send + 'a {
    let (mut parts, incoming) = resp.into_parts();
    let gzip = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    if gzip {
        parts.headers.remove(header::CONTENT_ENCODING);
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let success = op.is_success(parts.status.as_u16());
    // The read-idle timer is for streamed bodies (see `Timeouts`): a buffered body is
    // read within the attempt timeout already, and one timer fewer per call is one
    // wake-up of the runtime's driver fewer.
    let streamed = success && plan.mode == Mode::Streaming;
    let idle = if streamed { plan.read_idle } else { None };
    let body = ResponseBody::new(incoming, gzip, idle, ctx.clone(), lease);
    async move {
        if streamed {
            return Ok(Response::from_parts(parts, Payload::Stream(body)));
        }
        let bytes = if success {
            body.collect_capped(plan.max_body).await.map_err(|e| {
                let outcome = match e.kind() {
                    crate::ErrorKind::Timeout => Some(Outcome::Timeout),
                    crate::ErrorKind::Stream => Some(Outcome::IncompleteBody),
                    _ => None,
                };
                (e, outcome)
            })?
        } else {
            body.collect_limited(ERROR_BODY_LIMIT)
                .await
                .unwrap_or_default()
        };
        Ok(Response::from_parts(parts, Payload::Bytes(bytes)))
    }
}

/// Step 2 for an answer: a success, a 401 (refresh once unless the provider is static), or
/// an API error.
fn classify_response(
    resp: Response<Payload>,
    op: &OperationMeta,
    ctx: &Ctx,
    creds: &Credentials,
) -> Verdict {
    let status = resp.status();
    tracing::debug!(
        op = op.id,
        status = status.as_u16(),
        attempt = ctx.attempts,
        "response"
    );
    if op.is_success(status.as_u16()) {
        return Verdict::Done(resp);
    }
    let (parts, payload) = resp.into_parts();
    let body = match payload {
        Payload::Bytes(b) => b,
        Payload::Stream(_) => Bytes::new(),
    };
    let err = api_error(ctx, op, status, &parts.headers, &body, creds);
    if status == StatusCode::UNAUTHORIZED {
        return Verdict::Unauthorized(err);
    }
    Verdict::Failed((err, Some(Outcome::Status(status.as_u16()))))
}

impl Plan {
    /// Step 4 before an attempt: its timeout (the per-attempt one, or what is left of the
    /// deadline, whichever is shorter) and whether the deadline is what limits it.
    fn attempt_window(&self, ctx: &Ctx, p: &Progress) -> Result<(Duration, bool), Error> {
        let remaining = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if let (Some(rem), Some(total)) = (remaining, self.op_timeout)
            && rem.is_zero()
        {
            return Err(deadline_error(ctx, total, p.last.as_ref(), p.attempt - 1));
        }
        Ok(match remaining {
            Some(rem) if rem < self.attempt_timeout => (rem, true),
            _ => (self.attempt_timeout, false),
        })
    }

    /// Step 3: `Ok(Some(delay))` to try again after `delay`, `Ok(None)` to give up with
    /// this error, `Err` when the deadline would pass during the delay.
    fn back_off(
        &self,
        ctx: &Ctx,
        p: &mut Progress,
        err: &Error,
        outcome: Option<Outcome>,
        body_available: bool,
    ) -> Result<Option<Duration>, Error> {
        let retryable = outcome.is_some_and(|o| classify(o, self.idempotent) == Decision::Retry);
        if !retryable {
            return Ok(None);
        }
        if !body_available {
            tracing::debug!(
                op = ctx.op,
                "not retrying: the request body is a stream that was already sent"
            );
            return Ok(None);
        }
        let retry_after = err.retry_after();
        if retry_after.is_some_and(|ra| ra > self.retry.max_retry_after) {
            return Ok(None);
        }
        let delay = if outcome == Some(Outcome::Status(425)) {
            // Not processed, not ready yet: ask again soon (see `TooEarly`). While the
            // waiting stays within what the plain Retry-After schedule would have slept,
            // these retries do not use up the attempt budget.
            let budget =
                retry::too_early_budget(self.retry.max_attempts.saturating_sub(1), retry_after);
            let delay = p.too_early.next_delay(retry_after);
            if p.too_early.waited() <= budget {
                p.max_attempts = p.max_attempts.saturating_add(1);
            }
            delay
        } else {
            match retry_after {
                Some(ra) => ra,
                None => self.retry.backoff(p.attempt),
            }
        };
        if p.attempt >= p.max_attempts {
            return Ok(None);
        }
        if let (Some(d), Some(total)) = (self.deadline, self.op_timeout)
            && Instant::now() + delay >= d
        {
            return Err(deadline_error(ctx, total, Some(err), p.attempt));
        }
        Ok(Some(delay))
    }
}

/// A per-attempt timeout: retried when idempotent; otherwise the call may have taken effect.
fn attempt_timeout(ctx: &Ctx, plan: &Plan, after: Duration) -> AttemptFailure {
    let err: Error = Inner::Timeout {
        ctx: ctx.clone(),
        phase: if plan.mode == Mode::Buffered {
            "the attempt (request, response headers and body)"
        } else {
            "waiting for the response headers"
        },
        after,
        retryable: true,
    }
    .into();
    (mark_sent(err, plan.idempotent), Some(Outcome::Timeout))
}

/// Marks a failure after the request was sent as "may have taken effect" when the call is
/// not idempotent (it is then never replayed).
fn mark_sent(err: Error, idempotent: bool) -> Error {
    if idempotent {
        err
    } else {
        err.maybe_processed()
    }
}

fn credentials_error(ctx: &Ctx, source: contree_auth::Error) -> Error {
    Inner::Credentials {
        ctx: Some(ctx.clone()),
        source,
    }
    .into()
}

fn consumed_body(ctx: &Ctx, last: Option<Error>, attempts: u32) -> Error {
    last.unwrap_or_else(|| {
        Inner::Body {
            ctx: ctx.clone(),
            message: "the body stream was already consumed".into(),
        }
        .into()
    })
    .with_attempts(attempts)
}

fn hyper_failure(
    e: &hyper_util::client::legacy::Error,
    ctx: &Ctx,
    idempotent: bool,
) -> AttemptFailure {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(b) = err.downcast_ref::<BodySourceError>() {
            return (
                Inner::Body {
                    ctx: ctx.clone(),
                    message: b.0.clone(),
                }
                .into(),
                None,
            );
        }
        cur = err.source();
    }
    if e.is_connect() {
        (
            Inner::Connect {
                ctx: ctx.clone(),
                what: "could not connect",
                cause: chain(e),
                retryable: true,
            }
            .into(),
            Some(Outcome::ConnectFailed),
        )
    } else {
        let err: Error = Inner::Connect {
            ctx: ctx.clone(),
            what: "the connection failed after the request was sent",
            cause: chain(e),
            retryable: true,
        }
        .into();
        (mark_sent(err, idempotent), Some(Outcome::Reset))
    }
}

fn deadline_error(ctx: &Ctx, deadline: Duration, last: Option<&Error>, attempts: u32) -> Error {
    let mut ctx = ctx.clone();
    ctx.attempts = attempts;
    Inner::Deadline {
        ctx,
        deadline,
        last: last.map(|e| e.to_string()),
    }
    .into()
}

fn api_error(
    ctx: &Ctx,
    op: &OperationMeta,
    status: StatusCode,
    headers: &http::HeaderMap,
    body: &Bytes,
    creds: &Credentials,
) -> Error {
    let mut message = error_text(body);
    if status.as_u16() < 400 {
        let expected = format!(
            "unexpected status for this operation (expected {:?})",
            op.success
        );
        message = Some(match message {
            Some(m) => format!("{expected}: {m}"),
            None => expected,
        });
    }
    // Never echo a token, even if a server put it in its error text.
    let token = creds.token().expose_secret();
    if let Some(m) = &mut message
        && !token.is_empty()
        && m.contains(token)
    {
        *m = m.replace(token, "<redacted>");
    }
    Inner::Api {
        ctx: ctx.clone(),
        status,
        message,
        retry_after: retry::retry_after(headers),
    }
    .into()
}

/// The server's error text: the `error` field of an `Error` JSON body, else the body text.
pub(crate) fn error_text(body: &[u8]) -> Option<String> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(map)) => match map.get("error") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::from_utf8_lossy(body).into_owned(),
        },
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.trim();
    if text.len() <= ERROR_TEXT_LIMIT {
        return Some(text.to_string());
    }
    let mut end = ERROR_TEXT_LIMIT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_forms() {
        assert_eq!(
            error_text(br#"{"error":"no such image"}"#).as_deref(),
            Some("no such image")
        );
        assert_eq!(
            error_text(br#"{"error":{"code":1}}"#).as_deref(),
            Some(r#"{"code":1}"#)
        );
        assert_eq!(error_text(b"plain text\n").as_deref(), Some("plain text"));
        assert_eq!(error_text(b"  "), None);
        let long = "é".repeat(5000);
        let t = error_text(long.as_bytes()).unwrap();
        assert!(t.len() <= ERROR_TEXT_LIMIT + 3);
    }
}
