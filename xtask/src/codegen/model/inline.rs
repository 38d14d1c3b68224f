//! Inline schemas: property, item and parameter schemas resolved to types, with inline
//! objects, enums and `oneOf`s registered as definitions named by their shape.

use serde_json::Value;

use super::super::spec::{AdditionalProperties, Schema, Spec, schema_ref_name};
use super::{
    Def, DefKind, Model, PATH_NAMES, RawSchema, SHARED_NAMES, Ty, enum_values, pascal, strip_docs,
};

impl Model {
    /// Resolves a (property, item, parameter) schema to a type, registering inline definitions.
    pub fn resolve(
        &mut self,
        spec: &Spec,
        owner: &str,
        field: &str,
        s: &Schema,
    ) -> Result<Ty, String> {
        if let Some(r) = &s.reference {
            return Ok(Ty::Named(schema_ref_name(r)?.to_string()));
        }
        if s.all_of.len() == 1 && s.one_of.is_empty() && s.properties.is_empty() {
            return self.resolve(spec, owner, field, &s.all_of[0]);
        }
        let path = format!("{owner}.{field}");
        let generic = format!("{owner}{}", pascal(field));
        if !s.one_of.is_empty() {
            return self.inline_union(spec, s, generic, &path);
        }
        match s.kind.as_deref() {
            Some("string") if s.enumeration.is_some() => self.inline_enum(s, generic, &path),
            Some("string") => Ok(match s.format.as_deref() {
                Some("uuid") => Ty::Uuid,
                Some("binary") => Ty::Bytes,
                Some("password") => Ty::Secret,
                _ => Ty::String,
            }),
            Some("integer") => Ok(Ty::I64),
            Some("number") => Ok(Ty::F64),
            Some("boolean") => Ok(Ty::Bool),
            Some("array") => {
                let items = s.items.as_deref().cloned().unwrap_or_default();
                let item_field = format!("{field}_item");
                Ok(Ty::Vec(Box::new(self.resolve(
                    spec,
                    owner,
                    &item_field,
                    &items,
                )?)))
            }
            Some("object") | None if !s.properties.is_empty() => {
                self.inline_object(spec, s, generic, &path)
            }
            Some("object") | None => match &s.additional_properties {
                Some(AdditionalProperties::Schema(v)) => {
                    let value_field = format!("{field}_value");
                    Ok(Ty::Map(Box::new(self.resolve(
                        spec,
                        owner,
                        &value_field,
                        v,
                    )?)))
                }
                _ if s.kind.is_some() => Ok(Ty::JsonObject),
                _ => Ok(Ty::Json),
            },
            Some(other) => Err(format!("{path}: unsupported schema type {other}")),
        }
    }

    /// An inline `oneOf`, named by the sorted kinds of its members (one type per shape).
    fn inline_union(
        &mut self,
        spec: &Spec,
        s: &Schema,
        generic: String,
        path: &str,
    ) -> Result<Ty, String> {
        let kinds: Vec<String> = s
            .one_of
            .iter()
            .map(|o| o.reference.clone().or(o.kind.clone()).unwrap_or_default())
            .collect();
        let mut sorted = kinds.clone();
        sorted.sort();
        let (name, new) = self.shape_name(format!("oneOf:{}", sorted.join("|")), generic, path);
        if new {
            let kind = self.union_kind(spec, &name, s)?;
            self.push(Def {
                name: name.clone(),
                doc: s.description.clone(),
                kind,
                schema: None,
            })?;
        }
        Ok(Ty::Named(name))
    }

    /// An inline string enum, named by its sorted values (one type per value set).
    fn inline_enum(&mut self, s: &Schema, generic: String, path: &str) -> Result<Ty, String> {
        let values = enum_values(s)?;
        let mut sorted = values.clone();
        sorted.sort();
        let (name, new) = self.shape_name(format!("enum:{}", sorted.join(",")), generic, path);
        if new {
            self.push(Def {
                name: name.clone(),
                doc: s.description.clone(),
                kind: DefKind::Enum(values),
                schema: None,
            })?;
        }
        Ok(Ty::Named(name))
    }

    /// An inline object, named by its property names and structure.
    fn inline_object(
        &mut self,
        spec: &Spec,
        s: &Schema,
        generic: String,
        path: &str,
    ) -> Result<Ty, String> {
        let mut props: Vec<&String> = s.properties.keys().collect();
        props.sort();
        let sig_json = serde_json::to_value(RawSchema(s)).unwrap_or(Value::Null);
        let sig = format!(
            "object:{}",
            props
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        // Structurally different objects with the same property names are different shapes.
        let sig = format!("{sig}#{}", strip_docs(&sig_json));
        let (name, new) = self.shape_name_prefixed(sig, generic, path);
        if new {
            let fields = self.fields(spec, &name, s)?;
            self.push(Def {
                name: name.clone(),
                doc: s.description.clone(),
                kind: DefKind::Struct {
                    fields,
                    chosen: None,
                },
                schema: None,
            })?;
        }
        Ok(Ty::Named(name))
    }

    /// The name of an inline shape with signature `sig`, and whether it is new: a shape seen
    /// before keeps its name; a new one is named from [`SHARED_NAMES`], else [`PATH_NAMES`],
    /// else `generic`.
    fn shape_name(&mut self, sig: String, generic: String, path: &str) -> (String, bool) {
        let key = sig.clone();
        self.shape_name_keyed(sig, &key, generic, path)
    }

    /// Like [`Self::shape_name`], but table entries match on the part of the signature before `#`.
    fn shape_name_prefixed(&mut self, sig: String, generic: String, path: &str) -> (String, bool) {
        let head = sig.split('#').next().unwrap_or_default().to_string();
        self.shape_name_keyed(sig, &head, generic, path)
    }

    /// [`Self::shape_name`] with `table_key` looked up in [`SHARED_NAMES`].
    fn shape_name_keyed(
        &mut self,
        sig: String,
        table_key: &str,
        generic: String,
        path: &str,
    ) -> (String, bool) {
        if let Some((name, count, _)) = self.shapes.get_mut(&sig) {
            *count += 1;
            return (name.clone(), false);
        }
        let table = SHARED_NAMES
            .iter()
            .find(|(s, _)| *s == table_key)
            .map(|(_, n)| n.to_string());
        let from_table = table.is_some();
        let name = table
            .or_else(|| {
                PATH_NAMES
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, n)| n.to_string())
            })
            .unwrap_or(generic);
        self.shapes.insert(sig, (name.clone(), 1, from_table));
        (name, true)
    }
}
