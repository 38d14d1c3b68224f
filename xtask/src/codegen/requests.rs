//! Emission of the sans-IO request builders and response parsers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::emit::{doc, ident, status_name, ty};
use super::model::{Model, Ty};
use super::ops::{Body, Loc, Op, Param, ParamKind, Resp, RespBody};

/// The `requests` module body.
pub fn requests(model: &Model, ops: &[Op]) -> TokenStream {
    let items = ops.iter().map(|op| operation(model, op));
    quote! {
        #![doc = " Sans-IO request builders and response parsers, one pair per operation."]
        #![doc = ""]
        #![doc = " A request struct (named after the `operationId`) builds an `http::Request<Bytes>` whose URI"]
        #![doc = " is relative to `{base}/v1` (path and query only); its response enum (`<Id>Response`) has one"]
        #![doc = " variant per status code the spec declares, plus `Other`."]
        use bytes::Bytes;
        use crate::types;
        use crate::request::{BuildError, Request};
        use crate::json::DecodeError;
        #(#items)*
    }
}

fn param_ty(p: &Param) -> TokenStream {
    let types = quote!(types::);
    match &p.kind {
        ParamKind::Flag => quote!(bool),
        ParamKind::Repeated(t) => {
            let t = ty(t, &types);
            quote!(Vec<#t>)
        }
        ParamKind::Value(t) => {
            let t = ty(t, &types);
            if p.required { t } else { quote!(Option<#t>) }
        }
    }
}

/// Whether the param is a constructor argument.
fn is_arg(p: &Param) -> bool {
    p.required && !matches!(p.kind, ParamKind::Flag)
}

/// One operation: its request struct (fields, constructor, URI, `to_http`, `Request` impl)
/// and its response enum.
fn operation(model: &Model, op: &Op) -> TokenStream {
    let _ = model;
    let request = request_item(op);
    let response = response_item(op);
    quote! {
        #request
        #response
    }
}

/// The request struct's fields, its constructor's arguments and their initialisers.
#[derive(Default)]
struct Fields {
    fields: Vec<TokenStream>,
    args: Vec<TokenStream>,
    inits: Vec<TokenStream>,
}

/// The rustdoc of a parameter field: the spec's text, then where and how it is sent.
fn param_doc(p: &Param) -> TokenStream {
    let where_ = match p.loc {
        Loc::Path => "Path parameter",
        Loc::Query => "Query parameter",
        Loc::Header => "Header",
    };
    let text = p.doc.clone().unwrap_or_default().trim().to_string();
    let extra = match &p.kind {
        ParamKind::Flag => format!(
            "{where_} `{}`: a flag, sent as `{}=1` when `true` and omitted when `false`.",
            p.wire, p.wire
        ),
        ParamKind::Repeated(_) => {
            format!(
                "{where_} `{}`, repeated once per element (`{0}=a&{0}=b`).",
                p.wire
            )
        }
        ParamKind::Value(_) if p.required => format!("{where_} `{}` (required).", p.wire),
        ParamKind::Value(_) => format!("{where_} `{}`; omitted when `None`.", p.wire),
    };
    let text = if text.is_empty() {
        extra
    } else {
        format!("{text}\n\n{extra}")
    };
    doc(&text)
}

fn fields(op: &Op) -> Fields {
    let types = quote!(types::);
    let mut f = Fields::default();
    for p in &op.params {
        let fi = ident(&p.rust);
        let t = param_ty(p);
        let d = param_doc(p);
        f.fields.push(quote!(#d pub #fi: #t,));
        if !is_arg(p) {
            f.inits.push(quote!(#fi: Default::default(),));
        } else if p.kind == ParamKind::Value(Ty::String) {
            f.args.push(quote!(#fi: impl Into<String>));
            f.inits.push(quote!(#fi: #fi.into(),));
        } else {
            f.args.push(quote!(#fi: #t));
            f.inits.push(quote!(#fi,));
        }
    }
    match &op.body {
        Some(Body::Json(t)) => {
            let t = ty(t, &types);
            f.fields
                .push(quote!(#[doc = " The JSON request body."] pub body: #t,));
            f.args.push(quote!(body: #t));
            f.inits.push(quote!(body,));
        }
        Some(Body::Octet) => {
            f.fields.push(quote!(#[doc = " The raw request body (`application/octet-stream`)."] pub body: Bytes,));
            f.args.push(quote!(body: impl Into<Bytes>));
            f.inits.push(quote!(body: body.into(),));
        }
        None => {}
    }
    f
}

/// The expression that formats the path, each path parameter escaped as one segment.
fn path_expr(op: &Op) -> TokenStream {
    let mut path_fmt = String::new();
    let mut path_args = Vec::new();
    let mut rest = op.path.as_str();
    while let Some(start) = rest.find('{') {
        path_fmt.push_str(&rest[..start].replace('{', "{{").replace('}', "}}"));
        let end = rest[start..]
            .find('}')
            .map(|e| start + e)
            .unwrap_or(rest.len());
        let pname = &rest[start + 1..end];
        let p = op
            .params
            .iter()
            .find(|p| p.loc == Loc::Path && p.wire == pname)
            .expect("ops::build checks that every path parameter is declared");
        let fi = ident(&p.rust);
        let seg = format_ident!("{}_segment", p.rust);
        path_fmt.push_str(&format!("{{{seg}}}"));
        path_args
            .push(quote!(let #seg = crate::query::encode_path_segment(&self.#fi.to_string());));
        rest = &rest[(end + 1).min(rest.len())..];
    }
    path_fmt.push_str(&rest.replace('{', "{{").replace('}', "}}"));
    if path_args.is_empty() {
        let lit = &op.path;
        quote!(String::from(#lit))
    } else {
        quote!({ #(#path_args)* format!(#path_fmt) })
    }
}

/// The statements that add the query parameters, in spec order.
fn query_pushes(op: &Op) -> Vec<TokenStream> {
    let pushes = op.params.iter().filter(|p| p.loc == Loc::Query).map(|p| {
        let fi = ident(&p.rust);
        let key = &p.wire;
        match &p.kind {
            ParamKind::Flag => quote!(query.flag(#key, self.#fi);),
            ParamKind::Repeated(_) => quote! {
                for v in &self.#fi {
                    query.push(#key, &v.to_string());
                }
            },
            ParamKind::Value(_) if p.required => quote!(query.push(#key, &self.#fi.to_string());),
            ParamKind::Value(_) => quote! {
                if let Some(v) = &self.#fi {
                    query.push(#key, &v.to_string());
                }
            },
        }
    });
    pushes.collect()
}

/// `to_http`'s checks that required repeated parameters are not empty.
fn required_repeated(op: &Op) -> Vec<TokenStream> {
    op.params
        .iter()
        .filter(|p| p.required && matches!(p.kind, ParamKind::Repeated(_)))
        .map(|p| {
            let fi = ident(&p.rust);
            let key = &p.wire;
            let id = &op.id;
            quote! {
                if self.#fi.is_empty() {
                    return Err(BuildError::missing(#id, #key));
                }
            }
        })
        .collect()
}

/// The statements that set the header parameters (and `Accept` for an event stream).
fn header_sets(op: &Op) -> Vec<TokenStream> {
    let mut sets: Vec<TokenStream> = op
        .params
        .iter()
        .filter(|p| p.loc == Loc::Header)
        .map(|p| {
            let fi = ident(&p.rust);
            let key = &p.wire;
            if p.required {
                quote!(builder = builder.header(#key, self.#fi.to_string());)
            } else {
                quote! {
                    if let Some(v) = &self.#fi {
                        builder = builder.header(#key, v.to_string());
                    }
                }
            }
        })
        .collect();
    let streams = op
        .responses
        .iter()
        .any(|r| r.status < 300 && r.body == RespBody::Bytes);
    if streams && op.path.ends_with("/events") {
        sets.push(quote!(builder = builder.header(http::header::ACCEPT, "text/event-stream");));
    }
    sets
}

/// The statements that set the content type and bind `body`.
fn body_build(op: &Op) -> TokenStream {
    let op_id = &op.id;
    match &op.body {
        Some(Body::Json(_)) => quote! {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            let body = Bytes::from(serde_json::to_vec(&self.body).map_err(|e| BuildError::body(#op_id, e))?);
        },
        Some(Body::Octet) => quote! {
            builder = builder.header(http::header::CONTENT_TYPE, "application/octet-stream");
            let body = self.body.clone();
        },
        None => quote!(let body = Bytes::new();),
    }
}

/// The request struct, its inherent impl and its `Request` impl.
fn request_item(op: &Op) -> TokenStream {
    let name = format_ident!("{}", op.pascal());
    let resp_name = format_ident!("{}Response", op.pascal());
    let sname = format_ident!("{}", op.static_name());
    let summary = op.summary.clone().unwrap_or_default();
    let req_doc = doc(&format!(
        "`{} {}` ({}): {}\n\nBuild the request with `to_http` (or the `Request` trait); parse the response \
         with [`{}::from_http`].",
        op.method,
        op.path,
        op.id,
        summary.trim(),
        resp_name
    ));
    let Fields {
        fields,
        args,
        inits,
    } = fields(op);
    let default_derive = if args.is_empty() {
        quote!(Default,)
    } else {
        quote!()
    };
    let allow_args = if args.len() > 7 {
        quote!(#[allow(clippy::too_many_arguments)])
    } else {
        quote!()
    };
    let path_expr = path_expr(op);
    let query_pushes = query_pushes(op);
    let required_repeated = required_repeated(op);
    let header_sets = header_sets(op);
    let body_build = body_build(op);
    let op_id = &op.id;
    let method = format_ident!("{}", op.method);
    quote! {
        #req_doc
        #[derive(Debug, Clone, PartialEq, #default_derive)]
        pub struct #name {
            #(#fields)*
        }
        impl #name {
            /// A request with the required parameters (and body) set; every optional one unset.
            #allow_args
            pub fn new(#(#args),*) -> Self {
                Self { #(#inits)* }
            }
            /// The URI relative to `{base}/v1`: the path with its parameters escaped, then the query.
            pub fn uri(&self) -> String {
                #[allow(unused_mut)]
                let mut query = crate::query::Query::new();
                #(#query_pushes)*
                query.append_to(#path_expr)
            }
            /// Builds the HTTP request (relative URI, headers, body).
            pub fn to_http(&self) -> Result<http::Request<Bytes>, BuildError> {
                #(#required_repeated)*
                #[allow(unused_mut)]
                let mut builder = http::Request::builder().method(http::Method::#method).uri(self.uri());
                #(#header_sets)*
                #body_build
                builder.body(body).map_err(|e| BuildError::http(#op_id, e))
            }
        }
        impl Request for #name {
            type Response = #resp_name;
            fn meta() -> &'static crate::OperationMeta {
                &crate::ops::#sname
            }
            fn to_http(&self) -> Result<http::Request<Bytes>, BuildError> {
                #name::to_http(self)
            }
            fn parse(response: &http::Response<Bytes>) -> Result<#resp_name, DecodeError> {
                #resp_name::from_http(response)
            }
        }
    }
}

/// The response enum's variants, the `from_http` match arms, and (for one success status)
/// the payload type and arm of `into_success`.
#[derive(Default)]
struct Responses {
    variants: Vec<TokenStream>,
    arms: Vec<TokenStream>,
    success: Option<(TokenStream, TokenStream)>,
}

/// The rustdoc text of one response: the spec's text, its status and declared headers.
fn response_text(r: &Resp) -> String {
    let code = r.status;
    let text = r.doc.clone().unwrap_or_default().trim().to_string();
    let mut notes = vec![format!("Status {code}.")];
    if r.location {
        notes.push("The `Location` header is declared (see `crate::response::location`).".into());
    }
    if r.retry_after {
        notes.push(
            "The `Retry-After` header is declared (see `crate::response::retry_after_secs`)."
                .into(),
        );
    }
    format!("{text}\n\n{}", notes.join(" "))
}

/// Adds one declared response to `out`.
fn response_variant(op: &Op, r: &Resp, out: &mut Responses) {
    let types = quote!(types::);
    let vname = format_ident!("{}", status_name(r.status));
    let code = r.status;
    let text = response_text(r);
    let success = op.success.len() == 1 && op.success.contains(&code);
    match &r.body {
        RespBody::Json(t) if code >= 400 => {
            let t = ty(t, &types);
            let d = doc(&format!("{text} The body, when it is a JSON error object."));
            out.variants.push(quote!(#d #vname(Option<#t>),));
            out.arms
                .push(quote!(#code => Self::#vname(crate::json::decode(body).ok()),));
        }
        RespBody::Json(t) => {
            let tt = ty(t, &types);
            let d = doc(&text);
            if r.text_alt {
                let tv = format_ident!("{}Text", status_name(r.status));
                let td = doc(&format!(
                    "{text} The `text/plain` rendering (when requested with `text`)."
                ));
                out.variants.push(quote!(#td #tv(String),));
                out.arms.push(quote! {
                    #code if crate::response::is_text(response) => Self::#tv(String::from_utf8_lossy(body).into_owned()),
                });
            }
            out.variants.push(quote!(#d #vname(#tt),));
            out.arms
                .push(quote!(#code => Self::#vname(crate::json::decode(body)?),));
            if success {
                out.success = Some((quote!(#tt), quote!(Self::#vname(v) => Ok(v),)));
            }
        }
        RespBody::Bytes => {
            let d = doc(&format!("{text} The raw body."));
            out.variants.push(quote!(#d #vname(Bytes),));
            out.arms.push(quote!(#code => Self::#vname(body.clone()),));
            if success {
                out.success = Some((quote!(Bytes), quote!(Self::#vname(v) => Ok(v),)));
            }
        }
        RespBody::None => {
            let d = doc(&text);
            out.variants.push(quote!(#d #vname,));
            out.arms.push(quote!(#code => Self::#vname,));
            if success {
                out.success = Some((quote!(()), quote!(Self::#vname => Ok(()),)));
            }
        }
    }
}

/// The response enum and its `from_http`/`into_success`.
fn response_item(op: &Op) -> TokenStream {
    let resp_name = format_ident!("{}Response", op.pascal());
    let mut responses = Responses::default();
    for r in &op.responses {
        response_variant(op, r, &mut responses);
    }
    let Responses {
        variants,
        arms,
        success,
    } = responses;
    let resp_doc = doc(&format!("The responses of `{}` by status code.", op.id));
    let into_success = success.map(|(t, arm)| {
        quote! {
            /// The success payload, or `Err(self)` for any other status.
            #[allow(clippy::result_large_err)]
            pub fn into_success(self) -> Result<#t, Self> {
                match self {
                    #arm
                    other => Err(other),
                }
            }
        }
    });
    quote! {
        #resp_doc
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum #resp_name {
            #(#variants)*
            /// A status the spec does not declare for this operation.
            Other {
                /// The status.
                status: http::StatusCode,
                /// The raw body.
                body: Bytes,
            },
        }
        impl #resp_name {
            /// Parses a response: declared statuses decode their body (JSON error bodies leniently:
            /// `None` when absent or not an error object); others become `Other`.
            pub fn from_http(response: &http::Response<Bytes>) -> Result<Self, DecodeError> {
                let body = response.body();
                Ok(match response.status().as_u16() {
                    #(#arms)*
                    _ => Self::Other { status: response.status(), body: body.clone() },
                })
            }
            #into_success
        }
    }
}
