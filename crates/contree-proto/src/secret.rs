//! [`SecretString`]: a string that never shows in `Debug` output.

use serde::{Deserialize, Serialize};

/// A secret string (registry passwords): serialised as a plain JSON string, but `Debug` prints
/// `<redacted>`.
///
/// ```
/// use contree_proto::SecretString;
/// let s = SecretString::new("hunter2");
/// assert_eq!(format!("{s:?}"), "SecretString(<redacted>)");
/// assert_eq!(s.expose_secret(), "hunter2");
/// assert_eq!(serde_json::to_string(&s).unwrap(), r#""hunter2""#);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SecretString {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}
