//! Lenient decoding used by generated code: maps whose values the server may extend, and the
//! defaults of fields `xtask/src/codegen/overrides.rs` makes lenient.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

/// Decodes a JSON object into a map, dropping the entries whose value does not have the
/// declared type: a server that adds, say, a limit of another shape, or sends a `null` env
/// value, must not make the whole payload undecodable.
pub(crate) fn map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: DeserializeOwned,
{
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(deserializer)?;
    Ok(keep_typed(raw))
}

/// [`map`] for optional or nullable fields: absent or `null` is `None`.
pub(crate) fn opt_map<'de, D, V>(deserializer: D) -> Result<Option<BTreeMap<String, V>>, D::Error>
where
    D: Deserializer<'de>,
    V: DeserializeOwned,
{
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(deserializer)?;
    Ok(raw.map(keep_typed))
}

fn keep_typed<V: DeserializeOwned>(
    raw: BTreeMap<String, serde_json::Value>,
) -> BTreeMap<String, V> {
    raw.into_iter()
        .filter_map(|(k, v)| serde_json::from_value(v).ok().map(|v| (k, v)))
        .collect()
}

/// The encoding of a stream payload that names none: `ascii`, the default the spec declares
/// for `ClosableStreamRepr` and the one the service and the official client assume.
pub(crate) fn ascii() -> crate::types::StreamEncoding {
    crate::types::StreamEncoding::Ascii
}

#[cfg(test)]
mod tests {
    use crate::types::{OperationInstanceMetadata, WhoAmIResponse};

    #[test]
    fn whoami_maps_drop_entries_of_another_shape() {
        let body = br#"{"token_uuid":"t","token_expiration":null,
            "permissions":{"list":true,"spawn":false,"future":{"scope":"x"}},
            "limits":{"instance_max_timeout":3600,"x_new":{"a":1},"ratio":0.5},
            "operations_stat":{"running":2,"note":"n"}}"#;
        let w: WhoAmIResponse = crate::json::decode(body).expect("lenient whoami");
        assert_eq!(w.permissions.len(), 2);
        assert!(w.permissions["list"]);
        let limits = w.limits.expect("limits");
        assert_eq!(limits.len(), 1);
        assert_eq!(limits["instance_max_timeout"], 3600);
        assert_eq!(w.operations_stat.len(), 1);
    }

    #[test]
    fn null_env_values_are_dropped_not_fatal() {
        let body = br#"{"command":"true","image":"12345678-9abc-baba-deda-0123456789ab",
            "env":{"KEEP":"1","REMOVED":null}}"#;
        let m: OperationInstanceMetadata = crate::json::decode(body).expect("lenient env");
        let env = m.env.expect("env");
        assert_eq!(env.len(), 1);
        assert_eq!(env["KEEP"], "1");
    }

    #[test]
    fn a_map_that_is_not_an_object_is_still_an_error() {
        let body =
            br#"{"token_uuid":"t","token_expiration":null,"permissions":[1],"operations_stat":{}}"#;
        assert!(crate::json::decode::<WhoAmIResponse>(body).is_err());
    }
}
