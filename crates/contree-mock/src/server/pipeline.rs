//! The per-request pipeline: authentication, recording, control endpoints, routing.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, header};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;

use super::control::control;
use super::{Config, RecordedRequest, Shared, lock};
use crate::faults::{CloseMode, FaultRule};
use crate::respond::{BoxError, Resp, RespBody, accepts_gzip, finalize};
use crate::router::{NoRoute, route};
use crate::util::Query;

/// The per-request context handed to handlers.
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) query: Query,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) fault: Option<FaultRule>,
}

fn closed() -> BoxError {
    Box::new(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "contree-mock fault: connection closed",
    ))
}

fn check_auth(cfg: &Config, headers: &HeaderMap) -> Result<(), Resp> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    match token {
        None => {
            return Err(Resp::error(
                401,
                "missing `Authorization: Bearer <token>` header",
            ));
        }
        Some(t) if t != cfg.token => {
            return Err(Resp::error(401, "the bearer token is invalid"));
        }
        Some(_) => {}
    }
    if let Some(project) = &cfg.project {
        match headers.get("project").and_then(|v| v.to_str().ok()) {
            None => return Err(Resp::error(401, "missing `Project` header")),
            Some(p) if p != project => {
                return Err(Resp::error(
                    403,
                    format!("the token has no access to project {p:?}"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn record(shared: &Shared, req: &Request<Incoming>, path: &str, op: Option<&str>) {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = if k == header::AUTHORIZATION {
                "Bearer <redacted>".to_string()
            } else {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            };
            (k.as_str().to_string(), value)
        })
        .collect();
    lock(&shared.requests).push(RecordedRequest {
        method: req.method().clone(),
        path: path.to_string(),
        query: req.uri().query().map(str::to_string),
        headers,
        operation_id: op.map(str::to_string),
        version: req.version(),
    });
    if let Some(op) = op {
        *lock(&shared.counters).entry(op.to_string()).or_insert(0) += 1;
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<RespBody>, BoxError> {
    let method = req.method().clone();
    let full_path = req.uri().path().to_string();
    let gzip = accepts_gzip(req.headers());
    let head = method == Method::HEAD;
    if full_path.starts_with("/_mock/") {
        let resp = control(&shared, &method, &full_path, req.into_body()).await;
        return Ok(finalize(resp, false, head, None));
    }
    let below_prefix = full_path
        .strip_prefix(shared.cfg.prefix.as_str())
        .unwrap_or(&full_path)
        .to_string();
    let routed = below_prefix
        .strip_prefix("/v1")
        .filter(|rest| rest.starts_with('/'))
        .ok_or(NoRoute::NotFound)
        .and_then(|rest| route(&method, rest));
    let op_id = routed.as_ref().ok().map(|r| r.operation_id());
    record(&shared, &req, &full_path, op_id);
    let fault = lock(&shared.faults).take(&method, &below_prefix);
    if let Some(f) = &fault {
        if let Some(ms) = f.delay_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if f.close == Some(CloseMode::BeforeResponse) {
            return Err(closed());
        }
        if let Some(code) = f.status {
            let mut resp = Resp::error(code, format!("contree-mock injected fault: HTTP {code}"));
            if let Some(s) = f.retry_after {
                resp = resp.retry_after(s);
            }
            return Ok(finalize(resp, gzip, head, Some(f)));
        }
    }
    let route = match routed {
        Ok(r) => r,
        Err(NoRoute::NotFound) => {
            let resp = Resp::error(404, format!("no such endpoint: {method} {full_path}"));
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
        Err(NoRoute::MethodNotAllowed) => {
            let rest = below_prefix.strip_prefix("/v1").unwrap_or_default();
            let allow = crate::router::allowed_methods(rest);
            let resp = Resp::error(
                405,
                format!("method {method} is not allowed on {full_path}; use {allow}"),
            )
            .header(header::ALLOW, allow);
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) if fault.as_ref().is_some_and(|f| f.corrupt_request_body) => {
            let mut v = b.to_bytes().to_vec();
            if let Some(first) = v.first_mut() {
                *first ^= 0xFF;
            }
            Bytes::from(v)
        }
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let resp = Resp::error(400, format!("cannot read the request body: {e}"));
            return Ok(finalize(resp, gzip, head, fault.as_ref()));
        }
    };
    if let Err(resp) = check_auth(&shared.cfg, &parts.headers) {
        return Ok(finalize(resp, gzip, head, fault.as_ref()));
    }
    let ctx = Ctx {
        shared: shared.clone(),
        query: Query::parse(parts.uri.query()),
        headers: parts.headers,
        body,
        fault: fault.clone(),
    };
    let resp = crate::api::dispatch(&ctx, route).await;
    if fault
        .as_ref()
        .is_some_and(|f| f.close == Some(CloseMode::AfterProcessing))
    {
        return Err(closed());
    }
    Ok(finalize(resp, gzip, head, fault.as_ref()))
}
