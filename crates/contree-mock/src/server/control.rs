//! The `/_mock/*` control endpoints (not part of the API).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::Method;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use serde_json::json;
use uuid::Uuid;

use super::{Shared, lock};
use crate::faults::FaultRule;
use crate::respond::Resp;

pub(super) async fn control(
    shared: &Arc<Shared>,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Resp {
    match (method.clone(), path) {
        (Method::POST, "/_mock/faults") => {
            let bytes = match body.collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return Resp::error(400, format!("cannot read the body: {e}")),
            };
            match serde_json::from_slice::<FaultRule>(&bytes) {
                Ok(rule) => {
                    lock(&shared.faults).inject(rule);
                    Resp::json(201, json!({"injected": true}))
                }
                Err(e) => Resp::error(400, format!("invalid fault rule JSON: {e}")),
            }
        }
        (Method::DELETE, "/_mock/faults") => {
            lock(&shared.faults).clear();
            Resp::empty(204)
        }
        (Method::GET, "/_mock/counters") => Resp::json(200, json!(lock(&shared.counters).clone())),
        (Method::GET, "/_mock/connections") => Resp::json(
            200,
            json!({
                "accepted": shared.connections.load(Ordering::SeqCst),
                "open": shared.open.load(Ordering::SeqCst),
            }),
        ),
        (Method::GET, "/_mock/timings") => Resp::json(200, json!(shared.timings().all())),
        (Method::GET, p) if p.starts_with("/_mock/timings/") => {
            let id = &p["/_mock/timings/".len()..];
            match Uuid::parse_str(id)
                .ok()
                .and_then(|u| shared.timings().get(u))
            {
                Some(t) => Resp::json(200, json!(t)),
                None => Resp::error(
                    404,
                    format!("no operation {id:?} was recorded; list them at /_mock/timings"),
                ),
            }
        }
        _ => Resp::error(404, format!("no mock control endpoint {method} {path}")),
    }
}
