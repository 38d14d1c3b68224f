//! The operation model: ids, methods, parameters, bodies and responses.

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use super::model::{Model, Ty};
use super::overrides::{FLAGS, REPEATED, SYNTH_IDS, path_or_query_ty};
use super::spec::{Operation, Parameter, PathItem, Response, Spec};

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    Path,
    Query,
    Header,
}

/// How a parameter is represented.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    /// A value of this type.
    Value(Ty),
    /// Special case: an HTTP flag (`?x=1` when true, omitted when false; never `x=false`).
    Flag,
    /// Special case: a repeatable query parameter (`?x=a&x=b`).
    Repeated(Ty),
}

/// One parameter.
#[derive(Debug, Clone)]
pub struct Param {
    pub wire: String,
    pub rust: String,
    pub loc: Loc,
    pub required: bool,
    pub kind: ParamKind,
    pub doc: Option<String>,
}

/// The request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(Ty),
    Octet,
}

/// The body of one response.
#[derive(Debug, Clone, PartialEq)]
pub enum RespBody {
    None,
    Json(Ty),
    /// Non-JSON bytes (streams, files, text).
    Bytes,
}

/// One declared response.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub body: RespBody,
    /// Declared headers the parser extracts (`Location`, `Retry-After`).
    pub location: bool,
    pub retry_after: bool,
    pub doc: Option<String>,
    /// Whether the body also may be `text/plain` (alongside JSON).
    pub text_alt: bool,
    /// The media-type examples (name, value) of the body.
    pub examples: Vec<(String, serde_json::Value)>,
}

/// One operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub id: String,
    pub method: &'static str,
    pub path: String,
    pub summary: Option<String>,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Resp>,
    pub success: Vec<u16>,
    pub idempotent: bool,
    pub streaming: bool,
}

impl Op {
    /// `SCREAMING_SNAKE` static name.
    pub fn static_name(&self) -> String {
        self.id.to_shouty_snake_case()
    }
    /// PascalCase type stem.
    pub fn pascal(&self) -> String {
        self.id.to_upper_camel_case()
    }
}

/// Builds the operation list (spec order), registering inline types in `model`.
pub fn build(spec: &Spec, model: &mut Model) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    for (path, item) in &spec.paths {
        for (method, op) in item.operations() {
            ops.push(operation(spec, model, path, item, method, op)?);
        }
    }
    Ok(ops)
}

/// One operation: its id, parameters, body and responses, checked for consistency.
fn operation(
    spec: &Spec,
    model: &mut Model,
    path: &str,
    item: &PathItem,
    method: &'static str,
    op: &Operation,
) -> Result<Op, String> {
    let id = match &op.operation_id {
        Some(id) => id.clone(),
        None => SYNTH_IDS
            .iter()
            .find(|(m, p, _)| *m == method && *p == path)
            .map(|(_, _, id)| id.to_string())
            .ok_or_else(|| format!("{method} {path} has no operationId and no SYNTH_IDS entry"))?,
    };
    let owner = id.to_upper_camel_case();
    let mut params = Vec::new();
    for p in item.parameters.iter().chain(op.parameters.iter()) {
        let p = param(spec, model, &id, &owner, spec.parameter(p)?)?;
        if params
            .iter()
            .any(|q: &Param| q.wire == p.wire && q.loc == p.loc)
        {
            return Err(format!("{id}: duplicate parameter {}", p.wire));
        }
        params.push(p);
    }
    let body = match &op.request_body {
        None => None,
        Some(b) => {
            if let Some(mt) = b.content.get("application/json") {
                let schema = mt.schema.clone().unwrap_or_default();
                let ty = model.resolve(spec, &owner, "body", &schema)?;
                Some(Body::Json(ty))
            } else if b.content.contains_key("application/octet-stream") {
                Some(Body::Octet)
            } else {
                return Err(format!("{id}: unsupported request body media type"));
            }
        }
    };
    let mut responses = Vec::new();
    let mut streaming = false;
    for (code, r) in &op.responses {
        let status: u16 = code
            .parse()
            .map_err(|_| format!("{id}: unsupported response code {code}"))?;
        let r = response(spec, model, &owner, status, spec.response(r)?)?;
        streaming |= r.body == RespBody::Bytes && (200..300).contains(&status);
        responses.push(r);
    }
    responses.sort_by_key(|r| r.status);
    for seg in path.split('/').filter(|s| s.starts_with('{')) {
        let name = seg.trim_start_matches('{').trim_end_matches('}');
        if !params.iter().any(|p| p.loc == Loc::Path && p.wire == name) {
            return Err(format!("{id}: path parameter {name} is not declared"));
        }
    }
    let success: Vec<u16> = responses
        .iter()
        .map(|r| r.status)
        .filter(|s| (200..400).contains(s))
        .collect();
    if success.is_empty() {
        return Err(format!("{id}: no success response"));
    }
    Ok(Op {
        id,
        method,
        path: path.to_string(),
        summary: op.summary.clone(),
        params,
        body,
        responses,
        success,
        // GET, HEAD and DELETE are idempotent, POST and PATCH are not (docs/WIRE-QUIRKS.md,
        // "Idempotency").
        idempotent: matches!(method, "GET" | "HEAD" | "DELETE" | "PUT"),
        streaming,
    })
}

/// One parameter: where it goes and how it is sent (a flag, repeated, or one value).
fn param(
    spec: &Spec,
    model: &mut Model,
    id: &str,
    owner: &str,
    p: &Parameter,
) -> Result<Param, String> {
    let loc = match p.location.as_str() {
        "path" => Loc::Path,
        "query" => Loc::Query,
        "header" => Loc::Header,
        other => return Err(format!("{id}: unsupported parameter location {other}")),
    };
    let kind = if loc == Loc::Query && FLAGS.contains(&p.name.as_str()) {
        ParamKind::Flag
    } else if REPEATED.iter().any(|(o, n)| *o == id && *n == p.name) {
        ParamKind::Repeated(model.resolve(spec, owner, &p.name, &p.schema)?)
    } else {
        ParamKind::Value(path_or_query_ty(
            model.resolve(spec, owner, &p.name, &p.schema)?,
        ))
    };
    Ok(Param {
        wire: p.name.clone(),
        rust: p.name.to_snake_case(),
        loc,
        required: p.required || loc == Loc::Path,
        kind,
        doc: p
            .description
            .clone()
            .or_else(|| p.schema.description.clone()),
    })
}

/// One declared response: its body kind, declared headers and examples.
fn response(
    spec: &Spec,
    model: &mut Model,
    owner: &str,
    status: u16,
    r: &Response,
) -> Result<Resp, String> {
    let text_alt =
        r.content.contains_key("text/plain") && r.content.contains_key("application/json");
    let body = if let Some(mt) = r.content.get("application/json") {
        let schema = mt.schema.clone().unwrap_or_default();
        let field = format!("{}_body", super::emit::status_name(status));
        RespBody::Json(model.resolve(spec, owner, &field, &schema)?)
    } else if r.content.is_empty() {
        RespBody::None
    } else {
        RespBody::Bytes
    };
    let has = |h: &str| r.headers.keys().any(|k| k.eq_ignore_ascii_case(h));
    let mut examples = Vec::new();
    for mt in r.content.values() {
        if let Some(v) = &mt.example {
            examples.push(("example".to_string(), v.clone()));
        }
        for (n, e) in &mt.examples {
            examples.push((n.clone(), e.value.clone()));
        }
    }
    Ok(Resp {
        status,
        body,
        location: has("Location"),
        retry_after: has("Retry-After"),
        doc: r.description.clone(),
        text_alt,
        examples,
    })
}
