//! Emission of the sans-IO request builders and response parsers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::emit::{doc, ident, status_name, ty};
use super::model::{Model, Ty};
use super::ops::{Body, Loc, Op, Param, ParamKind, RespBody};

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

fn operation(model: &Model, op: &Op) -> TokenStream {
    let types = quote!(types::);
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

    // Fields.
    let mut fields = Vec::new();
    let mut args = Vec::new();
    let mut inits = Vec::new();
    for p in &op.params {
        let fi = ident(&p.rust);
        let t = param_ty(p);
        let where_ = match p.loc {
            Loc::Path => "Path parameter",
            Loc::Query => "Query parameter",
            Loc::Header => "Header",
        };
        let mut text = p.doc.clone().unwrap_or_default().trim().to_string();
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
        text = if text.is_empty() {
            extra
        } else {
            format!("{text}\n\n{extra}")
        };
        let d = doc(&text);
        fields.push(quote!(#d pub #fi: #t,));
        if is_arg(p) {
            match (&p.kind, p.kind == ParamKind::Value(Ty::String)) {
                (_, true) => {
                    args.push(quote!(#fi: impl Into<String>));
                    inits.push(quote!(#fi: #fi.into(),));
                }
                _ => {
                    args.push(quote!(#fi: #t));
                    inits.push(quote!(#fi,));
                }
            }
        } else {
            inits.push(quote!(#fi: Default::default(),));
        }
    }
    match &op.body {
        Some(Body::Json(t)) => {
            let t = ty(t, &types);
            fields.push(quote!(#[doc = " The JSON request body."] pub body: #t,));
            args.push(quote!(body: #t));
            inits.push(quote!(body,));
        }
        Some(Body::Octet) => {
            fields.push(quote!(#[doc = " The raw request body (`application/octet-stream`)."] pub body: Bytes,));
            args.push(quote!(body: impl Into<Bytes>));
            inits.push(quote!(body: body.into(),));
        }
        None => {}
    }
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

    // URI building.
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
    let path_expr = if path_args.is_empty() {
        let lit = &op.path;
        quote!(String::from(#lit))
    } else {
        quote!({ #(#path_args)* format!(#path_fmt) })
    };
    let query_pushes = op.params.iter().filter(|p| p.loc == Loc::Query).map(|p| {
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
    let required_repeated = op
        .params
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
        });
    let header_sets = op.params.iter().filter(|p| p.loc == Loc::Header).map(|p| {
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
    });
    let accept = if op
        .responses
        .iter()
        .any(|r| r.status < 300 && r.body == RespBody::Bytes)
        && op.path.ends_with("/events")
    {
        quote!(builder = builder.header(http::header::ACCEPT, "text/event-stream");)
    } else {
        quote!()
    };
    let op_id = &op.id;
    let body_build = match &op.body {
        Some(Body::Json(_)) => quote! {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
            let body = Bytes::from(serde_json::to_vec(&self.body).map_err(|e| BuildError::body(#op_id, e))?);
        },
        Some(Body::Octet) => quote! {
            builder = builder.header(http::header::CONTENT_TYPE, "application/octet-stream");
            let body = self.body.clone();
        },
        None => quote!(let body = Bytes::new();),
    };
    let method = format_ident!("{}", op.method);

    // Responses.
    let mut variants = Vec::new();
    let mut arms = Vec::new();
    let mut success_arm = None;
    let single_success = op.success.len() == 1;
    for r in &op.responses {
        let vname = format_ident!("{}", status_name(r.status));
        let code = r.status;
        let mut text = r.doc.clone().unwrap_or_default().trim().to_string();
        let mut notes = vec![format!("Status {code}.")];
        if r.location {
            notes.push(
                "The `Location` header is declared (see `crate::response::location`).".into(),
            );
        }
        if r.retry_after {
            notes.push(
                "The `Retry-After` header is declared (see `crate::response::retry_after_secs`)."
                    .into(),
            );
        }
        text = format!("{text}\n\n{}", notes.join(" "));
        let is_error = code >= 400;
        match &r.body {
            RespBody::Json(t) if is_error => {
                let t = ty(t, &types);
                let d = doc(&format!("{text} The body, when it is a JSON error object."));
                variants.push(quote!(#d #vname(Option<#t>),));
                arms.push(quote!(#code => Self::#vname(crate::json::decode(body).ok()),));
            }
            RespBody::Json(t) => {
                let tt = ty(t, &types);
                let d = doc(&text);
                if r.text_alt {
                    let tv = format_ident!("{}Text", status_name(r.status));
                    let td = doc(&format!(
                        "{text} The `text/plain` rendering (when requested with `text`)."
                    ));
                    variants.push(quote!(#td #tv(String),));
                    arms.push(quote! {
                        #code if crate::response::is_text(response) => Self::#tv(String::from_utf8_lossy(body).into_owned()),
                    });
                }
                variants.push(quote!(#d #vname(#tt),));
                arms.push(quote!(#code => Self::#vname(crate::json::decode(body)?),));
                if single_success && op.success.contains(&code) {
                    success_arm = Some((quote!(#tt), quote!(Self::#vname(v) => Ok(v),)));
                }
            }
            RespBody::Bytes => {
                let d = doc(&format!("{text} The raw body."));
                variants.push(quote!(#d #vname(Bytes),));
                arms.push(quote!(#code => Self::#vname(body.clone()),));
                if single_success && op.success.contains(&code) {
                    success_arm = Some((quote!(Bytes), quote!(Self::#vname(v) => Ok(v),)));
                }
            }
            RespBody::None => {
                let d = doc(&text);
                variants.push(quote!(#d #vname,));
                arms.push(quote!(#code => Self::#vname,));
                if single_success && op.success.contains(&code) {
                    success_arm = Some((quote!(()), quote!(Self::#vname => Ok(()),)));
                }
            }
        }
    }
    let resp_doc = doc(&format!("The responses of `{}` by status code.", op.id));
    let into_success = success_arm.map(|(t, arm)| {
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
    let _ = model;
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
                #accept
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
