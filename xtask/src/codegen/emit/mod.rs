//! Rust code emission for the model (types and the operation table).

mod chosen;
mod docs;

pub use docs::doc;

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::model::{ChosenBy, Def, DefKind, Field, Model, Ty, variant_name};
use super::ops::Op;
use super::overrides::{CASE_INSENSITIVE_ENUMS, Lenient, decode_default};
use chosen::{chosen_deserialize, chosen_enum};
use docs::{def_doc, example_doc, field_doc};

/// The conventional name of a status code, used for response variants.
pub fn status_name(status: u16) -> String {
    match status {
        200 => "Ok",
        201 => "Created",
        202 => "Accepted",
        204 => "NoContent",
        302 => "Found",
        307 => "TemporaryRedirect",
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        410 => "Gone",
        422 => "UnprocessableEntity",
        425 => "TooEarly",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        501 => "NotImplemented",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        other => return format!("Status{other}"),
    }
    .to_string()
}

/// An identifier, raw when needed (`r#type`).
pub fn ident(name: &str) -> Ident {
    match name.strip_prefix("r#") {
        Some(raw) => Ident::new_raw(raw, Span::call_site()),
        None => Ident::new(name, Span::call_site()),
    }
}

/// Type tokens; `types` is the path prefix for named types (empty inside the types module).
pub fn ty(t: &Ty, types: &TokenStream) -> TokenStream {
    match t {
        Ty::String => quote!(String),
        Ty::I64 => quote!(i64),
        Ty::F64 => quote!(f64),
        Ty::Bool => quote!(bool),
        Ty::Uuid => quote!(uuid::Uuid),
        Ty::Bytes => quote!(bytes::Bytes),
        Ty::Json => quote!(serde_json::Value),
        Ty::JsonObject => quote!(serde_json::Map<String, serde_json::Value>),
        Ty::Secret => quote!(crate::SecretString),
        Ty::Named(n) => {
            let i = ident(n);
            quote!(#types #i)
        }
        Ty::Vec(inner) => {
            let i = ty(inner, types);
            quote!(Vec<#i>)
        }
        Ty::Map(inner) => {
            let i = ty(inner, types);
            quote!(std::collections::BTreeMap<String, #i>)
        }
    }
}

/// Whether a type has a `Default`.
pub fn defaultable(model: &Model, t: &Ty) -> bool {
    match t {
        Ty::Named(n) => match model.def(n).map(|d| &d.kind) {
            Some(DefKind::Struct { fields, .. }) => {
                fields.iter().all(|f| field_defaultable(model, f))
            }
            Some(DefKind::Alias(inner)) | Some(DefKind::Newtype(inner)) => {
                defaultable(model, inner)
            }
            _ => false,
        },
        _ => true,
    }
}

fn field_defaultable(model: &Model, f: &Field) -> bool {
    !f.required || f.nullable || f.tristate || defaultable(model, &f.ty)
}

/// Whether the type is `Eq`/`Hash` (no floats, no JSON inside).
fn is_eq(model: &Model, t: &Ty) -> bool {
    match t {
        Ty::F64 | Ty::Json | Ty::JsonObject => false,
        Ty::Vec(i) | Ty::Map(i) => is_eq(model, i),
        Ty::Named(n) => match model.def(n).map(|d| &d.kind) {
            Some(DefKind::Enum(_)) | Some(DefKind::ImageSource { .. }) => true,
            Some(DefKind::Newtype(i)) | Some(DefKind::Alias(i)) => is_eq(model, i),
            _ => false,
        },
        _ => true,
    }
}

/// The field's declared Rust type (with `Option`/`Nullable`).
fn field_ty(f: &Field, types: &TokenStream) -> TokenStream {
    let t = ty(&f.ty, types);
    if f.tristate {
        quote!(crate::Nullable<#t>)
    } else if !f.required || f.nullable {
        quote!(Option<#t>)
    } else {
        t
    }
}

fn field_serde_attrs(owner: &str, f: &Field) -> TokenStream {
    let rename = if f.rust.trim_start_matches("r#") != f.wire {
        let w = &f.wire;
        quote!(rename = #w,)
    } else {
        quote!()
    };
    // Maps of scalars (`env`, `permissions`, `limits`, ...) decode leniently: an entry whose value
    // has another shape (a new kind of limit, a `null` env value) is dropped instead of failing
    // the whole payload. Request-side tri-state maps stay strict.
    let lenient_map = matches!(
        &f.ty,
        Ty::Map(v) if matches!(**v, Ty::String | Ty::I64 | Ty::F64 | Ty::Bool)
    ) && !f.tristate;
    if lenient_map {
        return if f.nullable {
            quote!(#[serde(#rename default, deserialize_with = "crate::lenient::opt_map")])
        } else if !f.required {
            quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::lenient::opt_map")])
        } else {
            quote!(#[serde(#rename deserialize_with = "crate::lenient::map")])
        };
    }
    if f.required && !f.nullable && !f.tristate {
        match decode_default(owner, &f.wire) {
            Some(Lenient::Default) => return quote!(#[serde(#rename default)]),
            Some(Lenient::DefaultWith(path)) => return quote!(#[serde(#rename default = #path)]),
            None => {}
        }
    }
    // A nullable field's `None` is sent as `null`, as the service does (and as the official
    // Python models need: they raise `KeyError` on a missing key). Only request fields with
    // three states (`overrides::TRISTATE`) leave the key out.
    if f.tristate {
        quote!(#[serde(#rename default, skip_serializing_if = "crate::Nullable::is_absent")])
    } else if f.nullable {
        quote!(#[serde(#rename default)])
    } else if !f.required {
        quote!(#[serde(#rename default, skip_serializing_if = "Option::is_none")])
    } else if !rename.is_empty() {
        quote!(#[serde(#rename)])
    } else {
        quote!()
    }
}

/// The whole `types` module body.
pub fn types(
    model: &Model,
    examples: &std::collections::BTreeMap<String, serde_json::Value>,
) -> TokenStream {
    let defs = model.defs.iter().map(|d| {
        let ex = d.schema.as_ref().and_then(|s| examples.get(s));
        def(model, d, ex)
    });
    quote! {
        #![doc = " Wire types: one per schema of the OpenAPI spec, plus the inline shapes."]
        #![doc = ""]
        #![doc = " See the crate README for the naming rules."]
        #(#defs)*
    }
}

fn def(model: &Model, d: &Def, example: Option<&serde_json::Value>) -> TokenStream {
    let name = ident(&d.name);
    let docs = def_doc(d);
    let example = match &d.kind {
        DefKind::Struct { .. } | DefKind::ImageSource { .. } | DefKind::Newtype(_) => {
            example_doc(&d.name, example)
        }
        _ => quote!(),
    };
    let docs = quote!(#docs #example);
    let empty = quote!();
    match &d.kind {
        DefKind::Alias(t) => {
            let t = ty(t, &empty);
            quote! { #docs pub type #name = #t; }
        }
        DefKind::Newtype(t) => {
            let t = ty(t, &empty);
            quote! {
                #docs
                #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize)]
                #[serde(transparent)]
                pub struct #name(pub #t);
            }
        }
        DefKind::Enum(values) => string_enum(
            &name,
            &docs,
            values,
            CASE_INSENSITIVE_ENUMS.contains(&d.name.as_str()),
        ),
        DefKind::Union(variants) => untagged_union(&name, &docs, variants),
        DefKind::ImageSource { tag_type, prefix } => image_source(&name, &docs, tag_type, prefix),
        DefKind::Chosen {
            variants,
            raw,
            default,
            guess_key,
        } => chosen_enum(
            model,
            d,
            &name,
            &docs,
            variants,
            *raw,
            default.as_deref(),
            guess_key.as_ref(),
        ),
        DefKind::Struct { fields, chosen } => {
            struct_def(model, d, &name, &docs, fields, chosen.as_ref())
        }
    }
}

/// A `oneOf` of scalars and objects: untagged, with `Other` for any other JSON value.
fn untagged_union(name: &Ident, docs: &TokenStream, variants: &[(String, Ty)]) -> TokenStream {
    let empty = quote!();
    let vs = variants.iter().map(|(v, t)| {
        let vi = ident(v);
        let t = ty(t, &empty);
        let vd = doc(&format!("A `{v}` value."));
        quote!(#vd #vi(#t),)
    });
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum #name {
            #(#vs)*
            /// Any other JSON value (kept verbatim).
            Other(serde_json::Value),
        }
    }
}

/// `ImageSource`: a UUID or a prefixed tag (`tag:...`), told apart by the prefix.
fn image_source(name: &Ident, docs: &TokenStream, tag_type: &str, prefix: &str) -> TokenStream {
    let tag = ident(tag_type);
    let msg = format!("expected an image UUID or a `{prefix}`-prefixed image tag, got {{s:?}}");
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            /// An image UUID.
            Uuid(UUIDSchema),
            /// An image tag, as sent on the wire (with the prefix).
            Tag(#tag),
        }
        impl #name {
            /// The prefix that marks a tag reference on the wire.
            pub const TAG_PREFIX: &'static str = #prefix;
        }
        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    Self::Uuid(u) => serializer.collect_str(u),
                    Self::Tag(t) => t.serialize(serializer),
                }
            }
        }
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                if s.starts_with(Self::TAG_PREFIX) {
                    return Ok(Self::Tag(#tag(s)));
                }
                match uuid::Uuid::parse_str(&s) {
                    Ok(u) => Ok(Self::Uuid(u)),
                    Err(_) => Err(serde::de::Error::custom(format!(#msg))),
                }
            }
        }
    }
}

fn string_enum(
    name: &Ident,
    docs: &TokenStream,
    values: &[String],
    case_insensitive: bool,
) -> TokenStream {
    let vars: Vec<Ident> = values.iter().map(|v| ident(&variant_name(v))).collect();
    // Case-insensitive enums (overrides::CASE_INSENSITIVE_ENUMS) try the exact spelling first
    // (no allocation), then compare ignoring ASCII case.
    let fold = if case_insensitive {
        quote! {
            #(s if s.eq_ignore_ascii_case(#values) => Self::#vars,)*
        }
    } else {
        quote!()
    };
    let case_doc = if case_insensitive {
        quote!(#[doc = ""] #[doc = " Decoded case-insensitively (the service also sends lowercase values)."])
    } else {
        quote!()
    };
    let vdocs = values.iter().map(|v| doc(&format!("`{v}`")));
    quote! {
        #docs
        ///
        /// Forward compatible: values this version does not know decode to `Unknown`.
        #case_doc
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #(#vdocs #vars,)*
            /// A value this version does not know, kept verbatim.
            Unknown(String),
        }
        impl #name {
            /// The values the spec declares, in spec order.
            pub const KNOWN: &'static [#name] = &[#(#name::#vars),*];
            /// The wire string.
            pub fn as_str(&self) -> &str {
                match self {
                    #(Self::#vars => #values,)*
                    Self::Unknown(s) => s.as_str(),
                }
            }
        }
        impl From<&str> for #name {
            fn from(s: &str) -> Self {
                match s {
                    #(#values => Self::#vars,)*
                    #fold
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }
        impl From<String> for #name {
            fn from(s: String) -> Self {
                match s.as_str() {
                    #(#values => Self::#vars,)*
                    #fold
                    _ => Self::Unknown(s),
                }
            }
        }
        impl std::str::FromStr for #name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }
        impl std::fmt::Display for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::de::string_enum(deserializer)
            }
        }
    }
}

fn struct_def(
    model: &Model,
    d: &Def,
    name: &Ident,
    docs: &TokenStream,
    fields: &[Field],
    chosen: Option<&ChosenBy>,
) -> TokenStream {
    let empty = quote!();
    let defs = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        let fd = field_doc(&d.name, f);
        let attrs = field_serde_attrs(&d.name, f);
        let t = field_ty(f, &empty);
        quote!(#fd #attrs pub #fi: #t,)
    });
    let default = fields.iter().all(|f| field_defaultable(model, f));
    let eq = fields.iter().all(|f| is_eq(model, &f.ty));
    let mut derives = vec![quote!(Debug), quote!(Clone), quote!(PartialEq)];
    if eq {
        derives.push(quote!(Eq));
    }
    if default {
        derives.push(quote!(Default));
    }
    derives.push(quote!(serde::Serialize));
    if chosen.is_none() {
        derives.push(quote!(serde::Deserialize));
    }
    // `new` with the required (non-null) fields as arguments.
    let req: Vec<&Field> = fields
        .iter()
        .filter(|f| f.required && !f.nullable && !f.tristate)
        .collect();
    let args = req.iter().map(|f| {
        let fi = ident(&f.rust);
        match &f.ty {
            Ty::String => quote!(#fi: impl Into<String>),
            t => {
                let t = ty(t, &empty);
                quote!(#fi: #t)
            }
        }
    });
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        if f.required && !f.nullable && !f.tristate {
            if f.ty == Ty::String {
                quote!(#fi: #fi.into(),)
            } else {
                quote!(#fi,)
            }
        } else if f.tristate {
            quote!(#fi: crate::Nullable::Absent,)
        } else {
            quote!(#fi: None,)
        }
    });
    let allow = if req.len() > 7 {
        quote!(#[allow(clippy::too_many_arguments)])
    } else {
        quote!()
    };
    let new_doc = if req.is_empty() {
        doc("A value with every field unset.")
    } else {
        doc(&format!(
            "A value with the required fields ({}) set and every other field unset.",
            req.iter()
                .map(|f| format!("`{}`", f.rust.trim_start_matches("r#")))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    };
    let new_fn = quote! {
        impl #name {
            #new_doc
            #allow
            pub fn new(#(#args),*) -> Self {
                Self { #(#inits)* }
            }
        }
    };
    let custom_de = chosen
        .map(|c| chosen_deserialize(name, fields, c))
        .unwrap_or_default();
    quote! {
        #docs
        #[derive(#(#derives),*)]
        pub struct #name {
            #(#defs)*
        }
        #new_fn
        #custom_de
    }
}

/// The `ops` module body: one static per operation and the table.
pub fn ops(ops: &[Op]) -> TokenStream {
    let mut consts = Vec::new();
    let mut statics = Vec::new();
    let mut table = Vec::new();
    for op in ops {
        let sname = format_ident!("{}", op.static_name());
        let cname = format_ident!("{}_META", op.static_name());
        let id = &op.id;
        let method = format_ident!("{}", op.method);
        let path = &op.path;
        let success = &op.success;
        let idem = op.idempotent;
        let streaming = op.streaming;
        let summary = op.summary.clone().unwrap_or_default();
        let d = doc(&format!(
            "`{} {}` ({id}): {}\n\nSuccess: {}; idempotent: {}; streaming: {}.",
            op.method,
            op.path,
            summary.trim(),
            success
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if idem { "yes" } else { "no" },
            if streaming { "yes" } else { "no" },
        ));
        consts.push(quote! {
            const #cname: OperationMeta = OperationMeta {
                id: #id,
                method: http::Method::#method,
                path: #path,
                success: &[#(#success),*],
                idempotent: #idem,
                streaming: #streaming,
            };
        });
        statics.push(quote! { #d pub static #sname: OperationMeta = #cname; });
        table.push(quote!(#cname));
    }
    let n = ops.len();
    let table_doc = doc(&format!("All {n} operations of the API, in spec order."));
    quote! {
        #![doc = " The operation table: one static per operation of the spec."]
        use crate::OperationMeta;
        #(#consts)*
        #(#statics)*
        #table_doc
        pub static OPERATIONS: &[OperationMeta] = &[#(#table),*];
        /// The operation with this id (`operationId`, or `listFiles`/`getFile`).
        pub fn by_id(id: &str) -> Option<&'static OperationMeta> {
            OPERATIONS.iter().find(|o| o.id == id)
        }
    }
}
