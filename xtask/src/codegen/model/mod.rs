//! The generator's intermediate model: every Rust type to emit, resolved from the spec.
//!
//! Naming rules (documented for users in `crates/contree-proto/README.md`):
//! - a component schema keeps its spec name (`InstanceSpawnRequest`, `UUIDSchema`, `WhoAmIResponse`);
//! - an inline object, enum or `oneOf` is named `<Owner><Field>` (PascalCase), where the owner is
//!   the schema (or the operation, for parameters) that declares it; map values add `Value`,
//!   array items add `Item`;
//! - inline shapes that occur more than once share one type whose name comes from [`SHARED_NAMES`];
//!   the generator fails when a repeated shape has no entry there, so a spec change is noticed;
//! - a few single shapes get a nicer name from [`PATH_NAMES`].

use heck::{ToSnakeCase, ToUpperCamelCase};
use indexmap::IndexMap;
use serde_json::Value;

mod inline;

use super::overrides::{IMAGE_SOURCE_FIELDS, NULLABLE, TRISTATE};
use super::spec::{AdditionalProperties, Schema, Spec, schema_ref_name};

/// A Rust type expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    String,
    I64,
    F64,
    Bool,
    Uuid,
    Bytes,
    Json,
    JsonObject,
    Secret,
    Named(String),
    Vec(Box<Ty>),
    Map(Box<Ty>),
}

/// One struct field.
#[derive(Debug, Clone)]
pub struct Field {
    pub wire: String,
    pub rust: String,
    pub ty: Ty,
    pub required: bool,
    pub nullable: bool,
    pub tristate: bool,
    pub doc: Option<String>,
}

/// A field whose `oneOf` type is chosen by a sibling field (no discriminator in the spec).
#[derive(Debug, Clone)]
pub struct ChosenBy {
    /// The field holding the union (wire name).
    pub field: String,
    /// The sibling field (wire name) whose enum value selects the variant.
    pub by: String,
    /// The sibling's enum type.
    pub by_enum: String,
    /// The union type (a [`DefKind::Chosen`]).
    pub union: String,
}

/// One variant of a [`DefKind::Chosen`] union.
#[derive(Debug, Clone)]
pub struct ChosenVariant {
    pub name: String,
    /// The selecting enum's variants (PascalCase) that pick this variant.
    pub when: Vec<String>,
    pub ty: Ty,
}

/// What a definition is.
#[derive(Debug, Clone)]
pub enum DefKind {
    Struct {
        fields: Vec<Field>,
        chosen: Option<ChosenBy>,
    },
    /// A string enum: the wire values.
    Enum(Vec<String>),
    Alias(Ty),
    Newtype(Ty),
    /// An untagged union: variant name and type, tried in order (plus an `Other(Value)` fallback).
    Union(Vec<(String, Ty)>),
    /// `ImageSource`: a UUID or a string starting with the tag prefix.
    ImageSource {
        tag_type: String,
        prefix: String,
    },
    /// A union chosen by a sibling enum field; `raw` adds a `Raw(Value)` fallback used for unknown
    /// selectors and payloads that do not match; otherwise `default` is used for other selectors.
    Chosen {
        variants: Vec<ChosenVariant>,
        raw: bool,
        default: Option<String>,
        /// For the standalone `Deserialize` (no sibling known): the variant picked when the object
        /// has this key, else `default`.
        guess_key: Option<(String, String)>,
    },
}

/// One named Rust type.
#[derive(Debug, Clone)]
pub struct Def {
    pub name: String,
    pub doc: Option<String>,
    pub kind: DefKind,
    /// The spec schema name when this is a component schema.
    pub schema: Option<String>,
}

/// Inline shapes that appear more than once, keyed by their signature, and the shared name.
pub const SHARED_NAMES: &[(&str, &str)] = &[
    ("enum:image_import,instance", "OperationKind"),
    (
        "enum:ASSIGNED,CANCELLED,EXECUTING,FAILED,PENDING,SUCCESS",
        "OperationStatus",
    ),
    ("enum:ascii,base64", "StreamEncoding"),
    ("object:gid,mode,uid,uuid", "InstanceFile"),
    ("oneOf:integer|string", "NameOrId"),
];

/// Single inline shapes with a hand-picked name, keyed by `<Owner>.<field>`.
pub const PATH_NAMES: &[(&str, &str)] = &[
    ("Error.error", "ErrorDetail"),
    ("InspectImageGrep.case", "GrepCase"),
    ("EventDataTruncated.stream", "StdStream"),
];

/// `OperationEvent.data` variants by the event `type` (the spec says so only in prose).
pub const EVENT_DATA: &[(&str, &str)] = &[
    ("init", "EventDataInit"),
    ("spawn", "EventDataSpawn"),
    ("stdin", "EventDataStream"),
    ("stdout", "EventDataStream"),
    ("stderr", "EventDataStream"),
    ("exit", "EventDataExit"),
    ("truncated", "EventDataTruncated"),
    ("size_cap", "EventDataSizeCap"),
    ("network", "EventDataNetwork"),
    ("shutdown", "EventDataShutdown"),
    ("completion", "EventDataCompletion"),
];

/// The generator's resolved model.
#[derive(Debug, Default)]
pub struct Model {
    pub defs: Vec<Def>,
    /// signature -> (name, occurrences, from the shared table)
    shapes: IndexMap<String, (String, usize, bool)>,
}

/// PascalCase for type names built from wire names.
pub fn pascal(s: &str) -> String {
    s.to_upper_camel_case()
}

/// The Rust field name for a wire name (`type` becomes `kind` unless a `kind` sibling exists).
pub fn field_ident(wire: &str, siblings: &[String]) -> String {
    if wire == "type" {
        if siblings.iter().any(|s| s == "kind") {
            "r#type".to_string()
        } else {
            "kind".to_string()
        }
    } else {
        wire.to_snake_case()
    }
}

/// A string enum variant name for a wire value.
pub fn variant_name(value: &str) -> String {
    let v = value.to_upper_camel_case();
    if v.is_empty() { "Empty".into() } else { v }
}

fn strip_docs(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "description" | "example" | "default"))
                .map(|(k, v)| (k.clone(), strip_docs(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_docs).collect()),
        other => other.clone(),
    }
}

impl Model {
    /// Looks a definition up by name.
    pub fn def(&self, name: &str) -> Option<&Def> {
        self.defs.iter().find(|d| d.name == name)
    }

    /// Builds the model of every component schema.
    pub fn build(spec: &Spec) -> Result<Model, String> {
        let mut m = Model::default();
        for (name, schema) in &spec.components.schemas {
            m.component(spec, name, schema)?;
        }
        Ok(m)
    }

    /// Fails when a repeated inline shape has no shared name.
    pub fn check_shapes(&self) -> Result<(), String> {
        for (sig, (name, count, from_table)) in &self.shapes {
            if *count > 1 && !from_table {
                return Err(format!(
                    "the inline shape `{sig}` occurs {count} times (first named {name}); \
                     add it to SHARED_NAMES in xtask/src/codegen/model/mod.rs"
                ));
            }
        }
        Ok(())
    }

    fn push(&mut self, def: Def) -> Result<(), String> {
        if self.def(&def.name).is_some() {
            return Err(format!("two generated types are both named {}", def.name));
        }
        self.defs.push(def);
        Ok(())
    }

    fn component(&mut self, spec: &Spec, name: &str, s: &Schema) -> Result<(), String> {
        let mut doc = s.description.clone();
        let kind = if name == "ImageSource" {
            image_source_kind(spec, s)?
        } else if name == "OperationMetadata" {
            operation_metadata_kind(s)?
        } else if !s.one_of.is_empty() {
            self.union_kind(spec, name, s)?
        } else if !s.all_of.is_empty() {
            let merged = merged_all_of(spec, s)?;
            let fields = self.fields(spec, name, &merged)?;
            doc = doc.or(merged.description.clone());
            DefKind::Struct {
                fields,
                chosen: None,
            }
        } else {
            self.plain_kind(spec, name, s)?
        };
        self.push(Def {
            name: name.into(),
            doc,
            kind,
            schema: Some(name.to_string()),
        })
    }

    /// An object, a string enum, a pattern-only string (a newtype), or an alias.
    fn plain_kind(&mut self, spec: &Spec, name: &str, s: &Schema) -> Result<DefKind, String> {
        Ok(match s.kind.as_deref() {
            Some("object") => {
                let fields = self.fields(spec, name, s)?;
                let chosen = self.chosen_for(name, &fields)?;
                DefKind::Struct { fields, chosen }
            }
            Some("string") if s.enumeration.is_some() => DefKind::Enum(enum_values(s)?),
            Some("string") if s.pattern.is_some() && s.format.is_none() => {
                DefKind::Newtype(Ty::String)
            }
            _ => DefKind::Alias(self.resolve(spec, name, "", s)?),
        })
    }

    /// Special case: the `oneOf` fields whose variant a sibling field selects.
    fn chosen_for(&mut self, owner: &str, fields: &[Field]) -> Result<Option<ChosenBy>, String> {
        let sibling_enum = |by: &str| -> Result<String, String> {
            match fields.iter().find(|f| f.wire == by).map(|f| &f.ty) {
                Some(Ty::Named(n)) => Ok(n.clone()),
                _ => Err(format!("{owner}.{by} is not an enum")),
            }
        };
        Ok(match owner {
            "OperationResponse" => Some(ChosenBy {
                field: "metadata".into(),
                by: "kind".into(),
                by_enum: sibling_enum("kind")?,
                union: "OperationMetadata".into(),
            }),
            "OperationEvent" => Some(ChosenBy {
                field: "data".into(),
                by: "type".into(),
                by_enum: sibling_enum("type")?,
                union: "OperationEventData".into(),
            }),
            _ => None,
        })
    }

    fn fields(&mut self, spec: &Spec, owner: &str, s: &Schema) -> Result<Vec<Field>, String> {
        let wires: Vec<String> = s.properties.keys().cloned().collect();
        let mut out = Vec::new();
        for (wire, prop) in &s.properties {
            let required = s.required.iter().any(|r| r == wire);
            let nullable = prop.nullable || NULLABLE.iter().any(|(o, f)| *o == owner && f == wire);
            let tristate = TRISTATE.iter().any(|(o, f)| *o == owner && f == wire);
            let ty = match (owner, wire.as_str()) {
                // A UUID field that may also hold `tag:...` (overrides::IMAGE_SOURCE_FIELDS).
                _ if IMAGE_SOURCE_FIELDS.contains(&(owner, wire.as_str())) => {
                    Ty::Named("ImageSource".into())
                }
                // Special case: `OperationEvent.data` is chosen by `type` (no discriminator).
                ("OperationEvent", "data") => {
                    self.event_data(spec)?;
                    Ty::Named("OperationEventData".into())
                }
                _ => self.resolve(spec, owner, wire, prop)?,
            };
            let doc = prop.description.clone();
            out.push(Field {
                wire: wire.clone(),
                rust: field_ident(wire, &wires),
                ty,
                required,
                nullable,
                tristate,
                doc,
            });
        }
        Ok(out)
    }

    fn event_data(&mut self, spec: &Spec) -> Result<(), String> {
        let kinds = enum_values(&spec.components.schemas["OperationEventType"])?;
        let mut variants: Vec<ChosenVariant> = Vec::new();
        for k in &kinds {
            let schema = EVENT_DATA
                .iter()
                .find(|(t, _)| t == k)
                .map(|(_, s)| *s)
                .ok_or_else(|| format!("event type `{k}` has no entry in EVENT_DATA"))?;
            if !spec.components.schemas.contains_key(schema) {
                return Err(format!("EVENT_DATA names unknown schema {schema}"));
            }
            variants.push(ChosenVariant {
                name: variant_name(k),
                when: vec![variant_name(k)],
                ty: Ty::Named(schema.into()),
            });
        }
        self.push(Def {
            name: "OperationEventData".into(),
            doc: Some(
                "The payload of an `OperationEvent`, chosen by the event's `type`. Unknown types and \
                 payloads that do not match their type's schema are kept as `Raw` JSON."
                    .into(),
            ),
            kind: DefKind::Chosen { variants, raw: true, default: None, guess_key: None },
            schema: None,
        })
    }

    fn union_kind(&mut self, spec: &Spec, owner: &str, s: &Schema) -> Result<DefKind, String> {
        let mut variants = Vec::new();
        for (i, o) in s.one_of.iter().enumerate() {
            let vname = match (&o.reference, o.kind.as_deref()) {
                (Some(r), _) => schema_ref_name(r)?.to_string(),
                (None, Some(t)) => pascal(t),
                (None, None) => format!("Variant{i}"),
            };
            let ty = self.resolve(spec, owner, &vname, o)?;
            variants.push((vname, ty));
        }
        Ok(DefKind::Union(variants))
    }
}

/// The wire values of a string enum.
pub fn enum_values(s: &Schema) -> Result<Vec<String>, String> {
    s.enumeration
        .as_ref()
        .ok_or("not an enum")?
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("non-string enum value {other}")),
        })
        .collect()
}

/// Serialises a schema back to JSON (for structural signatures).
struct RawSchema<'a>(&'a Schema);

impl serde::Serialize for RawSchema<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let s = self.0;
        let mut m = ser.serialize_map(None)?;
        if let Some(r) = &s.reference {
            m.serialize_entry("$ref", r)?;
        }
        if let Some(k) = &s.kind {
            m.serialize_entry("type", k)?;
        }
        if let Some(f) = &s.format {
            m.serialize_entry("format", f)?;
        }
        if s.nullable {
            m.serialize_entry("nullable", &true)?;
        }
        if !s.required.is_empty() {
            m.serialize_entry("required", &s.required)?;
        }
        if !s.properties.is_empty() {
            let props: std::collections::BTreeMap<&String, RawSchema<'_>> = s
                .properties
                .iter()
                .map(|(k, v)| (k, RawSchema(v)))
                .collect();
            m.serialize_entry("properties", &props)?;
        }
        if let Some(i) = &s.items {
            m.serialize_entry("items", &RawSchema(i))?;
        }
        if let Some(AdditionalProperties::Schema(a)) = &s.additional_properties {
            m.serialize_entry("additionalProperties", &RawSchema(a))?;
        }
        if let Some(e) = &s.enumeration {
            m.serialize_entry("enum", e)?;
        }
        if !s.one_of.is_empty() {
            let v: Vec<RawSchema<'_>> = s.one_of.iter().map(RawSchema).collect();
            m.serialize_entry("oneOf", &v)?;
        }
        if !s.all_of.is_empty() {
            let v: Vec<RawSchema<'_>> = s.all_of.iter().map(RawSchema).collect();
            m.serialize_entry("allOf", &v)?;
        }
        m.end()
    }
}

/// Special case: `ImageSource` is a `oneOf` of two string schemas, told apart by the tag prefix
/// of `ImageSourceTag`'s pattern (untagged serde would accept any string as a tag).
fn image_source_kind(spec: &Spec, s: &Schema) -> Result<DefKind, String> {
    let tag = s
        .one_of
        .iter()
        .filter_map(|o| o.reference.as_deref())
        .map(schema_ref_name)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|n| *n != "UUIDSchema")
        .ok_or("ImageSource has no tag member")?
        .to_string();
    let pattern = spec.components.schemas[&tag]
        .pattern
        .clone()
        .ok_or("the ImageSource tag schema has no pattern")?;
    let prefix: String = pattern
        .trim_start_matches('^')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    Ok(DefKind::ImageSource {
        tag_type: tag,
        prefix,
    })
}

/// Special case (shape, not leniency): `OperationMetadata` has no discriminator;
/// `OperationResponse.kind` selects it (docs/WIRE-QUIRKS.md, "Operation metadata"):
/// `instance` -> instance metadata, anything else -> import.
fn operation_metadata_kind(s: &Schema) -> Result<DefKind, String> {
    let mut variants = Vec::new();
    for o in &s.one_of {
        let r = schema_ref_name(
            o.reference
                .as_deref()
                .ok_or("inline OperationMetadata member")?,
        )?;
        let (vname, when) = match r {
            "OperationInstanceMetadata" => ("Instance", vec!["Instance".to_string()]),
            "ImageImportMetadata" => ("ImageImport", vec![]),
            other => return Err(format!("unexpected OperationMetadata member {other}")),
        };
        variants.push(ChosenVariant {
            name: vname.into(),
            when,
            ty: Ty::Named(r.into()),
        });
    }
    Ok(DefKind::Chosen {
        variants,
        raw: false,
        default: Some("ImageImport".into()),
        guess_key: Some(("command".into(), "Instance".into())),
    })
}

/// `allOf` of a base schema plus an object: the properties merged (later ones override), the
/// required lists joined, the first description kept.
fn merged_all_of(spec: &Spec, s: &Schema) -> Result<Schema, String> {
    let mut merged = Schema {
        kind: Some("object".into()),
        ..Schema::default()
    };
    for part in &s.all_of {
        let part = match &part.reference {
            Some(r) => spec.components.schemas[schema_ref_name(r)?].clone(),
            None => part.clone(),
        };
        for (k, v) in part.properties {
            merged.properties.insert(k, v);
        }
        merged.required.extend(part.required);
        if merged.description.is_none() {
            merged.description = part.description;
        }
    }
    Ok(merged)
}
