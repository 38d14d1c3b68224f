//! Test data emitted beside the generated code: the spec's examples, a shape description of every
//! generated type (for the seeded random round-trip test) and a by-name round-trip dispatcher.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::{Value, json};

use super::emit::ident;
use super::model::{DefKind, Model, Ty};
use super::ops::{Op, RespBody};
use super::spec::{Schema, Spec, schema_ref_name};

fn ty_json(t: &Ty) -> Value {
    match t {
        Ty::String => json!("string"),
        Ty::I64 => json!("i64"),
        Ty::F64 => json!("f64"),
        Ty::Bool => json!("bool"),
        Ty::Uuid => json!("uuid"),
        Ty::Bytes => json!("bytes"),
        Ty::Json => json!("json"),
        Ty::JsonObject => json!("json_object"),
        Ty::Secret => json!("string"),
        Ty::Named(n) => json!({ "named": n }),
        Ty::Vec(i) => json!({ "vec": ty_json(i) }),
        Ty::Map(i) => json!({ "map": ty_json(i) }),
    }
}

/// Whether a generated type can be round-tripped through serde.
fn serde_capable(model: &Model, name: &str) -> bool {
    !matches!(
        model.def(name).map(|d| &d.kind),
        Some(DefKind::Alias(Ty::Bytes)) | None
    )
}

/// `shapes.json`: every generated type's shape, for a schema-driven random value generator.
pub fn shapes(model: &Model) -> String {
    let mut out = serde_json::Map::new();
    for d in &model.defs {
        if !serde_capable(model, &d.name) {
            continue;
        }
        let shape = match &d.kind {
            DefKind::Struct { fields, chosen } => {
                let fields: Vec<Value> = fields
                    .iter()
                    .map(|f| {
                        json!({
                            "wire": f.wire,
                            "required": f.required,
                            "nullable": f.nullable,
                            "tristate": f.tristate,
                            "ty": ty_json(&f.ty),
                        })
                    })
                    .collect();
                let chosen = chosen.as_ref().map(|c| {
                    let union = model.def(&c.union);
                    let (map, default, raw) = match union.map(|u| &u.kind) {
                        Some(DefKind::Chosen { variants, raw, default, .. }) => {
                            let by_values = match model.def(&c.by_enum).map(|d| &d.kind) {
                                Some(DefKind::Enum(v)) => v.clone(),
                                _ => vec![],
                            };
                            let mut map = serde_json::Map::new();
                            for v in variants {
                                for w in &v.when {
                                    if let Some(value) = by_values.iter().find(|b| super::model::variant_name(b) == *w) {
                                        map.insert(value.clone(), ty_json(&v.ty));
                                    }
                                }
                            }
                            let default = default
                                .as_ref()
                                .and_then(|d| variants.iter().find(|v| &v.name == d))
                                .map(|v| ty_json(&v.ty));
                            (map, default, *raw)
                        }
                        _ => (serde_json::Map::new(), None, true),
                    };
                    json!({ "field": c.field, "by": c.by, "map": map, "default": default, "raw": raw })
                });
                json!({ "kind": "struct", "fields": fields, "chosen": chosen })
            }
            DefKind::Enum(values) => json!({ "kind": "enum", "values": values }),
            DefKind::Alias(t) => json!({ "kind": "alias", "ty": ty_json(t) }),
            DefKind::Newtype(t) => json!({ "kind": "alias", "ty": ty_json(t) }),
            DefKind::Union(vs) => {
                json!({ "kind": "union", "variants": vs.iter().map(|(_, t)| ty_json(t)).collect::<Vec<_>>() })
            }
            DefKind::ImageSource { prefix, .. } => {
                json!({ "kind": "image_source", "prefix": prefix })
            }
            DefKind::Chosen { variants, raw, .. } => json!({
                "kind": "chosen",
                "variants": variants.iter().map(|v| ty_json(&v.ty)).collect::<Vec<_>>(),
                "raw": raw,
            }),
        };
        out.insert(d.name.clone(), shape);
    }
    let mut s = serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default();
    s.push('\n');
    s
}

/// `roundtrip.rs`: decode + re-encode a value as the generated type with that name.
pub fn roundtrip(model: &Model) -> TokenStream {
    let names: Vec<&str> = model
        .defs
        .iter()
        .map(|d| d.name.as_str())
        .filter(|n| serde_capable(model, n))
        .collect();
    let arms = names.iter().map(|n| {
        let i = ident(n);
        quote!(#n => rt::<types::#i>(value),)
    });
    let lenient = super::overrides::DECODE_DEFAULTS
        .iter()
        .map(|(o, f, _)| quote!((#o, #f)));
    quote! {
        #![doc = " Test support: decode and re-encode a JSON value as the generated type of that name."]
        use crate::types;
        /// `(schema, field)` pairs that decode their default when absent
        /// (`xtask/src/codegen/overrides.rs`): a round trip may add them.
        pub(crate) const DECODE_DEFAULTS: &[(&str, &str)] = &[#(#lenient),*];
        /// Every generated type name the dispatcher knows.
        pub(crate) const TYPE_NAMES: &[&str] = &[#(#names),*];
        /// Decodes `value` as the type `name` and encodes it again; `None` for an unknown name.
        pub(crate) fn roundtrip(name: &str, value: &serde_json::Value) -> Option<Result<serde_json::Value, String>> {
            Some(match name {
                #(#arms)*
                _ => return None,
            })
        }
        fn rt<T: serde::Serialize + serde::de::DeserializeOwned>(value: &serde_json::Value) -> Result<serde_json::Value, String> {
            let typed: T = crate::json::from_value(value)?;
            serde_json::to_value(&typed).map_err(|e| e.to_string())
        }
    }
}

fn synth(spec: &Spec, s: &Schema, depth: usize) -> Option<Value> {
    if depth > 8 {
        return None;
    }
    if let Some(e) = &s.example {
        return Some(e.clone());
    }
    if let Some(r) = &s.reference {
        let name = schema_ref_name(r).ok()?;
        return synth(spec, spec.components.schemas.get(name)?, depth + 1);
    }
    if s.all_of.len() == 1 {
        return synth(spec, &s.all_of[0], depth + 1);
    }
    if !s.properties.is_empty() {
        let mut obj = serde_json::Map::new();
        for (k, p) in &s.properties {
            if let Some(v) = synth(spec, p, depth + 1) {
                obj.insert(k.clone(), v);
            }
        }
        if s.required.iter().all(|r| obj.contains_key(r)) && !obj.is_empty() {
            return Some(Value::Object(obj));
        }
        return None;
    }
    if s.kind.as_deref() == Some("array") {
        return synth(spec, s.items.as_deref()?, depth + 1).map(|v| Value::Array(vec![v]));
    }
    None
}

/// The example of every component schema that has one (declared or assembled from its
/// properties' examples).
pub fn schema_examples(spec: &Spec) -> BTreeMap<String, Value> {
    spec.components
        .schemas
        .iter()
        .filter_map(|(name, s)| synth(spec, s, 0).map(|v| (name.clone(), v)))
        .collect()
}

/// `examples.json`: every example payload of the spec with the generated type to decode it as.
pub fn examples(spec: &Spec, ops: &[Op]) -> Result<String, String> {
    let mut out: Vec<Value> = Vec::new();
    // 1. Media-type examples of responses, per operation.
    for op in ops {
        for r in &op.responses {
            for (name, value) in &r.examples {
                match (&r.body, value) {
                    (RespBody::Json(Ty::Named(t)), v) => out.push(json!({
                        "source": format!("{} {} response example {name}", op.id, r.status),
                        "type": t,
                        "value": v,
                    })),
                    (RespBody::Bytes, Value::String(text)) if op.path.ends_with("/events") => {
                        // SSE examples: every `data:` line is a frame payload.
                        for (i, line) in text.lines().enumerate() {
                            let Some(data) = line.strip_prefix("data:") else {
                                continue;
                            };
                            let data = data.trim_start();
                            let (t, v) = match serde_json::from_str::<Value>(data) {
                                Ok(v) => ("OperationEvent", v),
                                Err(_) => (
                                    "OperationEventSSEFrameData",
                                    Value::String(data.to_string()),
                                ),
                            };
                            out.push(json!({
                                "source": format!("{} {} SSE example {name} line {}", op.id, r.status, i + 1),
                                "type": t,
                                "value": v,
                            }));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{} {}: example {name} has a body the generator cannot type",
                            op.id, r.status
                        ));
                    }
                }
            }
        }
    }
    // 2. Schema examples: declared on the schema, or assembled from its properties' examples.
    let by_schema = schema_examples(spec);
    for (name, s) in &spec.components.schemas {
        if let Some(v) = by_schema.get(name) {
            let kind = if s.example.is_some() {
                "declared"
            } else {
                "assembled from property examples"
            };
            out.push(json!({
                "source": format!("schema {name} ({kind})"),
                "type": name,
                "value": v,
            }));
        }
    }
    let mut s = serde_json::to_string_pretty(&Value::Array(out)).map_err(|e| e.to_string())?;
    s.push('\n');
    Ok(s)
}
