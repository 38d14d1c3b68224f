//! Lenient private wire models for the parts of the API the facade reads.
//!
//! Every field is optional and defaulted, unknown fields are ignored, and values the spec
//! marks nullable (or that real servers send as null) decode as `None`. This keeps the
//! facade working when the server adds fields or omits optional ones.

use std::collections::BTreeMap;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Decodes JSON, naming the action in the error.
///
/// Delegates to [`contree_proto::json::decode`] (type name, JSON path and the start of the body).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(action: &str, body: &[u8]) -> Result<T> {
    contree_proto::json::decode(body).map_err(|e| Error::decode(action, e.to_string()))
}

/// The `uuid` of the spawn answer (`201`, `InstanceSpawnResponse`).
///
/// Kept facade-side on purpose: the 201 body echoes the request, and
/// `contree_proto::types::InstanceSpawnResponse` types its `image` as a UUID while a spawn
/// from `tag:...` may echo the tag (PROTOCOL.md section 9, item 6/38), and its `env` values as
/// strings while `preserve_env` allows `null` (item 25). Decoding the whole echo with the proto
/// type would fail a run that the server accepted; only `uuid` is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireUuid {
    pub uuid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireStream {
    pub value: Option<String>,
    pub encoding: Option<String>,
    pub truncated: Option<bool>,
}

impl WireStream {
    /// Decodes per the spec: base64 for `base64`, the UTF-8 bytes of the value otherwise.
    /// Invalid base64 decodes leniently (as the official client does) to empty bytes.
    pub(crate) fn bytes(&self) -> Bytes {
        let value = self.value.as_deref().unwrap_or("");
        match self
            .encoding
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("base64") => base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map(Bytes::from)
                .unwrap_or_default(),
            _ => Bytes::copy_from_slice(value.as_bytes()),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireState {
    pub exit_code: Option<i64>,
    pub signal: Option<i64>,
    pub timed_out: Option<bool>,
    pub core_dump: Option<bool>,
    pub pid: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireResources {
    pub elapsed_time: Option<f64>,
    pub user_cpu_time: Option<f64>,
    pub system_cpu_time: Option<f64>,
    pub max_rss: Option<i64>,
    pub cost: Option<f64>,
    pub block_input: Option<i64>,
    pub block_output: Option<i64>,
    pub page_faults: Option<i64>,
    pub page_faults_io: Option<i64>,
    pub voluntary_switches: Option<i64>,
    pub involuntary_switches: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireInstanceResult {
    pub resources: Option<WireResources>,
    pub state: Option<WireState>,
    pub stdout: Option<WireStream>,
    pub stderr: Option<WireStream>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireInstanceMetadata {
    pub command: Option<String>,
    pub image: Option<String>,
    pub args: Option<Vec<String>>,
    pub shell: Option<bool>,
    pub env: Option<serde_json::Value>,
    pub disposable: Option<bool>,
    pub result: Option<WireInstanceResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireOperationResult {
    pub image: Option<String>,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireOperation {
    pub uuid: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    pub error: Option<String>,
    pub created_at: Option<String>,
    pub duration: Option<f64>,
    pub image_size: Option<i64>,
    pub consumed_cpu: Option<f64>,
    pub consumed_memory: Option<i64>,
    pub image_uuid: Option<String>,
    pub result_image_uuid: Option<String>,
    /// Kept raw: its shape depends on `kind` (instance or import metadata).
    pub metadata: Option<serde_json::Value>,
    pub result: Option<WireOperationResult>,
}

impl WireOperation {
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(
            self.status
                .as_deref()
                .map(str::to_ascii_uppercase)
                .as_deref(),
            Some("SUCCESS" | "FAILED" | "CANCELLED")
        )
    }

    pub(crate) fn status_upper(&self) -> String {
        self.status.as_deref().unwrap_or("").to_ascii_uppercase()
    }

    /// The instance metadata (`None` when absent or null); a shape mismatch is an error.
    pub(crate) fn instance_metadata(&self) -> Result<Option<WireInstanceMetadata>> {
        match &self.metadata {
            None | Some(serde_json::Value::Null) => Ok(None),
            // Decoded from the borrowed value; the path is tracked only to explain a failure.
            Some(m) => match WireInstanceMetadata::deserialize(m) {
                Ok(meta) => Ok(Some(meta)),
                Err(_) => serde_path_to_error::deserialize(m)
                    .map(Some)
                    .map_err(|e| Error::decode("reading the run's result", e.to_string())),
            },
        }
    }

    /// The produced image: `result_image_uuid`, else `result.image`.
    pub(crate) fn result_image(&self) -> Option<String> {
        self.result_image_uuid
            .clone()
            .or_else(|| self.result.as_ref().and_then(|r| r.image.clone()))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct WireEvent {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The stdin object of a spawn request (`ClosableStreamRepr`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WireStdin {
    pub value: String,
    pub encoding: &'static str,
    pub close: bool,
}

impl WireStdin {
    /// Encodes per the spec: `ascii` only when every byte is printable ASCII or tab/LF/CR.
    pub(crate) fn encode(data: &[u8]) -> Self {
        let ascii = data
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) || b == b'\t' || b == b'\n' || b == b'\r');
        if ascii {
            WireStdin {
                value: String::from_utf8_lossy(data).into_owned(),
                encoding: "ascii",
                close: true,
            }
        } else {
            WireStdin {
                value: base64::engine::general_purpose::STANDARD.encode(data),
                encoding: "base64",
                close: true,
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WireSpawnFile {
    pub uuid: String,
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WireEnabled {
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct WireLimits {
    pub max_layer_bytes: u64,
}

/// The spawn request body. Unset options are omitted so server defaults apply.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct WireSpawn {
    pub command: String,
    pub image: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    pub shell: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<WireStdin>,
    pub timeout: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate_output_at: Option<u64>,
    pub disposable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub networking: Option<WireEnabled>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources_limits: Option<WireLimits>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_env: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub preserve_cwd: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, WireSpawnFile>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_with_nulls_decodes() {
        // Every nullable field the Python SDK chokes on: duration, env, resources members,
        // owner as int, error as object.
        let body = br#"{"uuid":"op","kind":"instance","status":"SUCCESS","error":null,
            "duration":null,"image_size":null,"consumed_cpu":null,"image_uuid":null,
            "result_image_uuid":null,"unknown_field":{"x":1},
            "metadata":{"command":"true","image":"i","env":null,
              "result":{"state":{"exit_code":0,"signal":-1},"resources":{"cost":null},
                        "stdout":{"value":"aGk=","encoding":"base64"},"stderr":null}},
            "result":{"image":null,"tag":null}}"#;
        let op: WireOperation = decode("test", body).unwrap();
        assert!(op.is_terminal());
        assert_eq!(op.duration, None);
        let md = op.instance_metadata().unwrap().unwrap();
        assert_eq!(md.env, None);
        let res = md.result.unwrap();
        assert_eq!(&res.stdout.unwrap().bytes()[..], b"hi");
        assert!(res.stderr.is_none());
    }

    #[test]
    fn stdin_encoding_rule() {
        assert_eq!(WireStdin::encode(b"hi\n").encoding, "ascii");
        let b = WireStdin::encode("héllo".as_bytes());
        assert_eq!(b.encoding, "base64");
        let w = WireStream {
            value: Some(b.value),
            encoding: Some("base64".into()),
            truncated: None,
        };
        assert_eq!(&w.bytes()[..], "héllo".as_bytes());
    }

    #[test]
    fn decode_error_names_action() {
        let e = decode::<WireOperation>("getting operation x", b"not json").unwrap_err();
        assert!(e.to_string().contains("getting operation x"));
    }
}
