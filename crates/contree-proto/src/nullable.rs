//! [`Nullable`]: a field that can be absent, `null` or a value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A request field with three states: absent (the server default applies), explicit `null`,
/// or a value.
///
/// Used where the wire distinguishes them (`InstanceSpawnRequest.env`, `ExecSpec.env`,
/// `ImageImportRequest.tag`). Generated fields of this type carry
/// `#[serde(default, skip_serializing_if = "Nullable::is_absent")]`, so `Absent` is omitted from
/// the JSON, `Null` is sent as `null` and `Value(v)` as `v`.
///
/// ```
/// use contree_proto::{Nullable, types::ImageImportRequest, types::ImageImportRequestRegistry};
/// let mut req = ImageImportRequest::new(ImageImportRequestRegistry::new("docker://docker.io/library/alpine:3"));
/// assert!(!serde_json::to_string(&req).unwrap().contains("tag"));
/// req.tag = Nullable::Null;
/// assert!(serde_json::to_string(&req).unwrap().contains(r#""tag":null"#));
/// req.tag = Nullable::Value("alpine:3".into());
/// assert!(serde_json::to_string(&req).unwrap().contains(r#""tag":"alpine:3""#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Nullable<T> {
    /// The field is omitted.
    #[default]
    Absent,
    /// The field is sent as JSON `null`.
    Null,
    /// The field has a value.
    Value(T),
}

impl<T> Nullable<T> {
    /// Whether the field is omitted (for `skip_serializing_if`).
    pub fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }

    /// Whether the field is an explicit `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value, if any.
    pub fn as_value(&self) -> Option<&T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }

    /// The value, if any (by value).
    pub fn into_value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }

    /// `None` for absent, `Some(None)` for `null`, `Some(Some(v))` for a value.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Value(v) => Some(Some(v)),
        }
    }
}

impl<T> From<T> for Nullable<T> {
    fn from(v: T) -> Self {
        Self::Value(v)
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    /// `None` becomes `Null` (an explicit `null`), `Some(v)` becomes `Value(v)`.
    fn from(v: Option<T>) -> Self {
        match v {
            Some(v) => Self::Value(v),
            None => Self::Null,
        }
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Only reached when the field is not skipped: the best rendering of "absent" is null.
            Self::Absent | Self::Null => serializer.serialize_none(),
            Self::Value(v) => serializer.serialize_some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A missing field never reaches here (`#[serde(default)]` gives `Absent`).
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Self::Value(v),
            None => Self::Null,
        })
    }
}
