//! A minimal serde model of the OpenAPI 3.0 document: only what the generator reads.
//!
//! Maps are `IndexMap`s so the generated code follows the spec's order (deterministic output).

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::Value;

/// The whole document.
#[derive(Debug, Deserialize)]
pub struct Spec {
    pub openapi: String,
    pub paths: IndexMap<String, PathItem>,
    pub components: Components,
}

/// `components`.
#[derive(Debug, Deserialize)]
pub struct Components {
    #[serde(default)]
    pub schemas: IndexMap<String, Schema>,
    #[serde(default)]
    pub parameters: IndexMap<String, Parameter>,
    #[serde(default)]
    pub responses: IndexMap<String, Response>,
}

/// Either a `$ref` or an inline item.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum RefOr<T> {
    Ref {
        #[serde(rename = "$ref")]
        reference: String,
    },
    Item(T),
}

/// One path with its operations.
#[derive(Debug, Deserialize)]
pub struct PathItem {
    #[serde(default)]
    pub parameters: Vec<RefOr<Parameter>>,
    pub get: Option<Operation>,
    pub head: Option<Operation>,
    pub post: Option<Operation>,
    pub put: Option<Operation>,
    pub patch: Option<Operation>,
    pub delete: Option<Operation>,
}

impl PathItem {
    /// The operations in a fixed method order.
    pub fn operations(&self) -> Vec<(&'static str, &Operation)> {
        let mut out = Vec::new();
        for (m, op) in [
            ("GET", &self.get),
            ("HEAD", &self.head),
            ("POST", &self.post),
            ("PUT", &self.put),
            ("PATCH", &self.patch),
            ("DELETE", &self.delete),
        ] {
            if let Some(op) = op {
                out.push((m, op));
            }
        }
        out
    }
}

/// One operation.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub operation_id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Vec<RefOr<Parameter>>,
    pub request_body: Option<RequestBody>,
    #[serde(default)]
    pub responses: IndexMap<String, RefOr<Response>>,
}

/// A parameter.
#[derive(Debug, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "in")]
    pub location: String,
    #[serde(default)]
    pub required: bool,
    pub description: Option<String>,
    #[serde(default)]
    pub allow_empty_value: bool,
    pub schema: Schema,
}

/// A request body.
#[derive(Debug, Deserialize)]
pub struct RequestBody {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub content: IndexMap<String, MediaType>,
}

/// A response.
#[derive(Debug, Deserialize, Clone)]
pub struct Response {
    pub description: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, Header>,
    #[serde(default)]
    pub content: IndexMap<String, MediaType>,
}

/// A response header.
#[derive(Debug, Deserialize, Clone)]
pub struct Header {
    pub description: Option<String>,
    pub schema: Option<Schema>,
}

/// A media type entry.
#[derive(Debug, Deserialize, Clone)]
pub struct MediaType {
    pub schema: Option<Schema>,
    pub example: Option<Value>,
    #[serde(default)]
    pub examples: IndexMap<String, Example>,
}

/// A named example.
#[derive(Debug, Deserialize, Clone)]
pub struct Example {
    pub value: Value,
}

/// `additionalProperties`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum AdditionalProperties {
    Bool(bool),
    Schema(Box<Schema>),
}

/// A schema object (OpenAPI 3.0 subset).
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    #[serde(rename = "$ref")]
    pub reference: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub format: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub properties: IndexMap<String, Schema>,
    #[serde(default)]
    pub required: Vec<String>,
    pub items: Option<Box<Schema>>,
    pub additional_properties: Option<AdditionalProperties>,
    #[serde(rename = "enum")]
    pub enumeration: Option<Vec<Value>>,
    #[serde(default)]
    pub one_of: Vec<Schema>,
    #[serde(default)]
    pub all_of: Vec<Schema>,
    #[serde(default)]
    pub nullable: bool,
    pub default: Option<Value>,
    pub example: Option<Value>,
    pub pattern: Option<String>,
    pub minimum: Option<Value>,
    pub maximum: Option<Value>,
}

impl Spec {
    /// Parses the YAML text.
    pub fn parse(text: &str) -> Result<Spec, String> {
        let spec: Spec = serde_yaml::from_str(text)
            .map_err(|e| format!("cannot parse the OpenAPI spec: {e}"))?;
        if !spec.openapi.starts_with("3.0") {
            return Err(format!(
                "unsupported OpenAPI version {} (the generator reads 3.0.x)",
                spec.openapi
            ));
        }
        Ok(spec)
    }

    /// Resolves a parameter reference.
    pub fn parameter<'a>(&'a self, p: &'a RefOr<Parameter>) -> Result<&'a Parameter, String> {
        match p {
            RefOr::Item(p) => Ok(p),
            RefOr::Ref { reference } => {
                let name = reference
                    .strip_prefix("#/components/parameters/")
                    .ok_or_else(|| format!("unsupported parameter reference {reference}"))?;
                self.components
                    .parameters
                    .get(name)
                    .ok_or_else(|| format!("unknown parameter {reference}"))
            }
        }
    }

    /// Resolves a response reference.
    pub fn response<'a>(&'a self, r: &'a RefOr<Response>) -> Result<&'a Response, String> {
        match r {
            RefOr::Item(r) => Ok(r),
            RefOr::Ref { reference } => {
                let name = reference
                    .strip_prefix("#/components/responses/")
                    .ok_or_else(|| format!("unsupported response reference {reference}"))?;
                self.components
                    .responses
                    .get(name)
                    .ok_or_else(|| format!("unknown response {reference}"))
            }
        }
    }
}

/// The schema name a `#/components/schemas/X` reference points to.
pub fn schema_ref_name(reference: &str) -> Result<&str, String> {
    reference
        .strip_prefix("#/components/schemas/")
        .ok_or_else(|| format!("unsupported schema reference {reference}"))
}
