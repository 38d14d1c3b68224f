//! Rust code emission for the model (types and the operation table).

use proc_macro2::{Ident, Span, TokenStream};
use quote::{format_ident, quote};

use super::model::{ChosenBy, Def, DefKind, Field, Model, Ty, variant_name};
use super::ops::Op;
use super::overrides::{CASE_INSENSITIVE_ENUMS, Lenient, decode_default};

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

/// `#[doc = ...]` attributes for a spec description, made safe for rustdoc: lines are
/// left-trimmed (no accidental indented code blocks, which rustdoc would compile as doctests)
/// and fenced blocks are marked `text`.
pub fn doc(text: &str) -> TokenStream {
    let mut lines: Vec<String> = Vec::new();
    let mut in_fence = false;
    let mut in_item = false;
    for line in text.trim().lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            if in_fence {
                lines.push("```".into());
            } else {
                lines.push("```text".into());
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            lines.push(line.to_string());
        } else if t.is_empty() {
            in_item = false;
            lines.push(String::new());
        } else if is_list_item(t) {
            in_item = true;
            lines.push(escape_doc(t));
        } else if in_item {
            // A continuation line of a list item: indented, so markdown keeps it in the item.
            lines.push(format!("  {}", escape_doc(t)));
        } else {
            // Escape what rustdoc would read as HTML tags or intra-doc links outside code spans.
            lines.push(escape_doc(t));
        }
    }
    if in_fence {
        lines.push("```".into());
    }
    let attrs = lines.iter().map(|l| {
        let l = if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #l])
    });
    quote!(#(#attrs)*)
}

fn is_list_item(t: &str) -> bool {
    t.starts_with("* ") || t.starts_with("- ") || {
        let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && t[digits..].starts_with(". ")
    }
}

fn escape_doc(line: &str) -> String {
    // Outside backtick spans, `<` and `[`/`]` are escaped so rustdoc sees plain text.
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '[' if !in_code => out.push_str("\\["),
            ']' if !in_code => out.push_str("\\]"),
            _ => out.push(c),
        }
    }
    out
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

fn field_doc(owner: &str, f: &Field) -> TokenStream {
    let mut text = f
        .doc
        .clone()
        .unwrap_or_else(|| format!("The `{}` field of `{}`.", f.wire, owner));
    let mut notes = Vec::new();
    if f.required && !f.nullable {
        notes.push("Required.".to_string());
    } else if f.required {
        notes.push("Required, may be `null`.".to_string());
    } else if f.nullable && !f.tristate {
        notes.push("May be `null`; `None` is sent as `null`.".to_string());
    }
    if f.tristate {
        notes.push("Absent, `null` and a value are three different requests.".to_string());
    }
    if f.rust.trim_start_matches("r#") != f.wire {
        notes.push(format!("Wire name: `{}`.", f.wire));
    }
    if !notes.is_empty() {
        text = format!("{}\n\n{}", text.trim_end(), notes.join(" "));
    }
    doc(&text)
}

fn def_doc(d: &Def) -> TokenStream {
    let mut text = d.doc.clone().unwrap_or_default();
    if let Some(s) = &d.schema {
        let src = format!("Generated from the spec's `{s}` schema.");
        text = if text.trim().is_empty() {
            src
        } else {
            format!("{}\n\n{src}", text.trim_end())
        };
    } else if text.trim().is_empty() {
        text = format!("The `{}` type (an inline schema of the spec).", d.name);
    }
    doc(&text)
}

/// A doc example decoding the spec's example of a schema (a doctest).
fn example_doc(name: &str, example: Option<&serde_json::Value>) -> TokenStream {
    let Some(example) = example else {
        return quote!();
    };
    let json = serde_json::to_string(example).unwrap_or_default();
    let mut hashes = String::from("#");
    while json.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let lines = [
        String::new(),
        " # Example".to_string(),
        String::new(),
        " The spec's example (assembled from its property examples when the schema has none):"
            .to_string(),
        String::new(),
        " ```".to_string(),
        format!(" let json = r{hashes}\"{json}\"{hashes};"),
        format!(" let value: contree_proto::types::{name} = serde_json::from_str(json).unwrap();"),
        " let again: serde_json::Value = serde_json::to_value(&value).unwrap();".to_string(),
        " assert!(again.is_object() || again.is_string());".to_string(),
        " ```".to_string(),
    ];
    let attrs = lines.iter().map(|l| quote!(#[doc = #l]));
    quote!(#(#attrs)*)
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

#[allow(clippy::too_many_arguments)]
fn chosen_enum(
    model: &Model,
    d: &Def,
    name: &Ident,
    docs: &TokenStream,
    variants: &[super::model::ChosenVariant],
    raw: bool,
    default: Option<&str>,
    guess_key: Option<&(String, String)>,
) -> TokenStream {
    // The selecting enum: found from the struct that uses this union.
    let by_enum = model
        .defs
        .iter()
        .find_map(|o| match &o.kind {
            DefKind::Struct {
                chosen: Some(c), ..
            } if c.union == d.name => Some(c.by_enum.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "OperationKind".into());
    let by = ident(&by_enum);
    let vdefs = chosen_variant_defs(variants, &by_enum);
    let raw_variant = if raw {
        quote! {
            /// A payload of an unknown type, or one that does not match its type's schema.
            Raw(serde_json::Value),
        }
    } else {
        quote!()
    };
    let choose = choose_fn(&by, variants, raw, default, guess_key);
    let choose_str = choose_str_fn(&by, variants, raw, default);
    let serde_impls = chosen_serde(name, variants, raw);
    quote! {
        #docs
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum #name {
            #(#vdefs)*
            #raw_variant
        }
        impl #name {
            #choose
            #choose_str
        }
        #serde_impls
    }
}

/// The variants of a union chosen by a sibling enum, each documented with its selector values.
fn chosen_variant_defs(
    variants: &[super::model::ChosenVariant],
    by_enum: &str,
) -> Vec<TokenStream> {
    let empty = quote!();
    variants
        .iter()
        .map(|v| {
            let vi = ident(&v.name);
            let t = ty(&v.ty, &empty);
            let vd = doc(&format!(
                "Selected by {}.",
                if v.when.is_empty() {
                    "any other value".to_string()
                } else {
                    v.when
                        .iter()
                        .map(|w| format!("`{by_enum}::{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ));
            quote!(#vd #vi(#t),)
        })
        .collect()
}

/// `choose`: decodes a `Value` as the variant the selector picks (or `Raw`, or the default,
/// or a guess from the payload's keys).
fn choose_fn(
    by: &Ident,
    variants: &[super::model::ChosenVariant],
    raw: bool,
    default: Option<&str>,
    guess_key: Option<&(String, String)>,
) -> TokenStream {
    let choose_arms: Vec<TokenStream> = variants
        .iter()
        .flat_map(|v| {
            let vi = ident(&v.name);
            let by = by.clone();
            v.when.iter().map(move |w| {
                let wi = ident(w);
                if raw {
                    quote! {
                        Some(#by::#wi) => match crate::json::from_value(&value) {
                            Ok(v) => Ok(Self::#vi(v)),
                            Err(_) => Ok(Self::Raw(value)),
                        },
                    }
                } else {
                    quote!(Some(#by::#wi) => crate::json::from_value(&value).map(Self::#vi),)
                }
            })
        })
        .collect();
    let fallback = match (raw, default, guess_key) {
        (true, _, _) => quote!(_ => Ok(Self::Raw(value)),),
        (false, Some(def), Some((key, guess))) => {
            let di = ident(def);
            let gi = ident(guess);
            quote! {
                Some(_) => crate::json::from_value(&value).map(Self::#di),
                None => {
                    if value.get(#key).is_some() {
                        crate::json::from_value(&value).map(Self::#gi)
                    } else {
                        crate::json::from_value(&value).map(Self::#di)
                    }
                }
            }
        }
        (false, Some(def), None) => {
            let di = ident(def);
            quote!(_ => crate::json::from_value(&value).map(Self::#di),)
        }
        (false, None, _) => quote!(_ => Err("no variant matches".to_string()),),
    };
    let choose_doc = doc(if raw {
        "Decodes `value` as the variant `selector` picks; unknown selectors and mismatching payloads give `Raw`."
    } else {
        "Decodes `value` as the variant `selector` picks (`None`: guessed from the payload's keys). The error names the JSON path."
    });
    quote! {
        #choose_doc
        pub fn choose(selector: Option<&#by>, value: serde_json::Value) -> Result<Self, String> {
            match selector {
                #(#choose_arms)*
                #fallback
            }
        }
    }
}

/// `choose_str`: the selected variant straight from the JSON text (one pass, no tree); on any
/// miss (no selector, an unknown one, a payload that does not decode) the text is parsed into a
/// `Value` and `choose` decides, so results and errors are exactly `choose`'s.
fn choose_str_fn(
    by: &Ident,
    variants: &[super::model::ChosenVariant],
    raw: bool,
    default: Option<&str>,
) -> TokenStream {
    let fast_arms: Vec<TokenStream> = variants
        .iter()
        .flat_map(|v| {
            let vi = ident(&v.name);
            let by = by.clone();
            v.when.iter().map(move |w| {
                let wi = ident(w);
                quote!(Some(#by::#wi) => serde_json::from_str(json).ok().map(Self::#vi),)
            })
        })
        .collect();
    let fast_default = match (raw, default) {
        (false, Some(def)) => {
            let di = ident(def);
            quote!(Some(_) => serde_json::from_str(json).ok().map(Self::#di),)
        }
        _ => quote!(),
    };
    let choose_str_doc = doc(if raw {
        "Like `choose`, for the payload's JSON text: the variant `selector` picks is decoded straight from the text (no `Value` tree), and only an unknown selector or a mismatching payload parses it into the `Raw` value. Errs only when `json` is not JSON."
    } else {
        "Like `choose`, for the payload's JSON text: the variant `selector` picks is decoded straight from the text (no `Value` tree); without a selector, or when that fails, the result (and the error, with its JSON path) is `choose`'s. Also errs when `json` is not JSON."
    });
    quote! {
        #choose_str_doc
        pub fn choose_str(selector: Option<&#by>, json: &str) -> Result<Self, String> {
            let typed = match selector {
                #(#fast_arms)*
                #fast_default
                _ => None,
            };
            match typed {
                Some(v) => Ok(v),
                None => {
                    let value = serde_json::from_str(json).map_err(|e| e.to_string())?;
                    Self::choose(selector, value)
                }
            }
        }
    }
}

/// `Serialize` (the variant's payload as is) and `Deserialize` (`choose` without a selector).
fn chosen_serde(name: &Ident, variants: &[super::model::ChosenVariant], raw: bool) -> TokenStream {
    let ser_arms = variants.iter().map(|v| {
        let vi = ident(&v.name);
        quote!(Self::#vi(v) => v.serialize(serializer),)
    });
    let ser_raw = if raw {
        quote!(Self::Raw(v) => v.serialize(serializer),)
    } else {
        quote!()
    };
    quote! {
        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self {
                    #(#ser_arms)*
                    #ser_raw
                }
            }
        }
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(deserializer)?;
                Self::choose(None, value).map_err(serde::de::Error::custom)
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

/// `Deserialize` for a struct whose `oneOf` field is chosen by a sibling: decode the rest first,
/// keep the union buffered (its JSON text from serde_json, else a `Value`), then pick and decode
/// its variant from the sibling's value.
fn chosen_deserialize(name: &Ident, fields: &[Field], c: &ChosenBy) -> TokenStream {
    let empty = quote!();
    let owner = name.to_string();
    let wire_fields = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        let attrs = field_serde_attrs(&owner, f);
        if f.wire == c.field {
            if f.required && !f.nullable {
                quote!(#attrs #[serde(borrow)] #fi: crate::de::Buffered<'a>,)
            } else {
                quote!(#attrs #[serde(borrow)] #fi: Option<crate::de::Buffered<'a>>,)
            }
        } else {
            let t = field_ty(f, &empty);
            quote!(#attrs #fi: #t,)
        }
    });
    let union = ident(&c.union);
    let by_field = fields
        .iter()
        .find(|f| f.wire == c.by)
        .expect("checked in the model");
    let by = ident(&by_field.rust);
    let selector = if by_field.required && !by_field.nullable {
        quote!(Some(&wire.#by))
    } else {
        quote!(wire.#by.as_ref())
    };
    let target = fields
        .iter()
        .find(|f| f.wire == c.field)
        .expect("checked in the model");
    let ti = ident(&target.rust);
    let wire_name = &c.field;
    let choose = quote! {
        match v {
            crate::de::Buffered::Text(text) => #union::choose_str(#selector, &text),
            crate::de::Buffered::Value(value) => #union::choose(#selector, value),
        }
        .map_err(|e| serde::de::Error::custom(format!("{}: {e}", #wire_name)))?
    };
    let decode = if target.required && !target.nullable {
        quote! {
            let #ti = {
                let v = wire.#ti;
                #choose
            };
        }
    } else {
        quote! {
            let #ti = match wire.#ti {
                Some(v) => Some(#choose),
                None => None,
            };
        }
    };
    let inits = fields.iter().map(|f| {
        let fi = ident(&f.rust);
        if f.wire == c.field {
            quote!(#fi,)
        } else {
            quote!(#fi: wire.#fi,)
        }
    });
    quote! {
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                struct Wire<'a> {
                    #(#wire_fields)*
                }
                let wire = Wire::deserialize(deserializer)?;
                #decode
                Ok(Self { #(#inits)* })
            }
        }
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
