//! JSON decoding with errors that name the type, the JSON path and the payload.

use serde::de::DeserializeOwned;

/// How much of the payload a [`DecodeError`] keeps.
pub const PAYLOAD_PREFIX: usize = 4096;

/// A JSON body that did not decode into the expected type.
///
/// Its message names the type and the JSON path of the failure; [`DecodeError::payload`] holds
/// the first 4 KiB of the payload (lossy UTF-8).
///
/// ```
/// use contree_proto::{json::decode, types::FileResponse};
/// let err = decode::<FileResponse>(br#"{"uuid":"00000000-0000-0000-0000-000000000000","sha256":"x","size":"big"}"#)
///     .unwrap_err();
/// assert_eq!(err.path(), "size");
/// assert!(err.to_string().contains("FileResponse"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    type_name: &'static str,
    path: String,
    message: String,
    payload: String,
    payload_len: usize,
}

impl DecodeError {
    /// The Rust type that was expected (e.g. `contree_proto::types::OperationResponse`).
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The JSON path of the failure (`.` for the root, e.g. `metadata.result.stdout`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The serde error message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The first 4 KiB of the payload.
    pub fn payload(&self) -> &str {
        &self.payload
    }

    /// The full payload length in bytes.
    pub fn payload_len(&self) -> usize {
        self.payload_len
    }

    pub(crate) fn new<T>(path: String, message: String, payload: &[u8]) -> Self {
        let cut = payload.len().min(PAYLOAD_PREFIX);
        Self {
            type_name: std::any::type_name::<T>(),
            path,
            message,
            payload: String::from_utf8_lossy(&payload[..cut]).into_owned(),
            payload_len: payload.len(),
        }
    }
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the response body is not a valid `{}` at JSON path `{}`: {} (payload, {} bytes{}: {})",
            self.type_name,
            self.path,
            self.message,
            self.payload_len,
            if self.payload_len > PAYLOAD_PREFIX {
                ", first 4 KiB"
            } else {
                ""
            },
            self.payload
        )
    }
}

impl std::error::Error for DecodeError {}

/// Decodes a JSON payload into `T`, with the JSON path of any failure.
///
/// The payload is decoded once at full speed; only a payload that fails is decoded again,
/// with the path tracking that names where it failed.
pub fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, DecodeError> {
    if let Ok(value) = serde_json::from_slice(payload) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| DecodeError::new::<T>(e.path().to_string(), e.inner().to_string(), payload))?;
    de.end()
        .map_err(|e| DecodeError::new::<T>(".".into(), e.to_string(), payload))?;
    Ok(value)
}

/// Decodes a JSON value into `T`; the error text starts with the JSON path (tracked only on
/// the second try, after a failure).
pub(crate) fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    if let Ok(v) = T::deserialize(value) {
        return Ok(v);
    }
    serde_path_to_error::deserialize(value).map_err(|e| format!("{}: {}", e.path(), e.inner()))
}
