//! [`WhoAmI`]: what the token may do.

use std::collections::BTreeMap;
use std::time::Duration;

/// What the token may do: the answer of `GET /whoami`.
///
/// ```
/// # fn demo(me: contree::WhoAmI) {
/// if let Some(max) = me.instance_max_timeout() {
///     println!("runs may last up to {max:?}");
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI {
    token_uuid: String,
    token_expiration: Option<std::time::SystemTime>,
    permissions: BTreeMap<String, bool>,
    limits: BTreeMap<String, i64>,
}

impl WhoAmI {
    pub(crate) fn from_wire(w: contree_proto::types::WhoAmIResponse) -> Self {
        WhoAmI {
            token_uuid: w.token_uuid,
            token_expiration: w
                .token_expiration
                .and_then(|s| u64::try_from(s).ok())
                .map(|s| std::time::UNIX_EPOCH + Duration::from_secs(s)),
            permissions: w.permissions,
            limits: w.limits.unwrap_or_default(),
        }
    }

    /// The token's id.
    pub fn token_uuid(&self) -> &str {
        &self.token_uuid
    }

    /// When the token expires, if it does.
    pub fn token_expiration(&self) -> Option<std::time::SystemTime> {
        self.token_expiration
    }

    /// Time left until the token expires (zero if already expired), if it expires.
    pub fn expires_in(&self) -> Option<Duration> {
        self.token_expiration.map(|t| {
            t.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        })
    }

    /// Every known permission and whether it is granted.
    pub fn permissions(&self) -> &BTreeMap<String, bool> {
        &self.permissions
    }

    /// Whether the named permission (`spawn`, `import`, `list`, ...) is granted.
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.get(permission).copied().unwrap_or(false)
    }

    /// The token's limits (`instance_max_timeout`, `instance_max_concurrency`, ...).
    pub fn limits(&self) -> &BTreeMap<String, i64> {
        &self.limits
    }

    /// The longest run timeout the token may ask for.
    pub fn instance_max_timeout(&self) -> Option<Duration> {
        self.limit_secs("instance_max_timeout")
    }

    /// How many runs the token may have at once.
    pub fn instance_max_concurrency(&self) -> Option<usize> {
        self.limits
            .get("instance_max_concurrency")
            .and_then(|v| usize::try_from(*v).ok())
    }

    /// The longest import timeout the token may ask for.
    pub fn images_import_max_timeout(&self) -> Option<Duration> {
        self.limit_secs("images_import_max_timeout")
    }

    fn limit_secs(&self, key: &str) -> Option<Duration> {
        self.limits
            .get(key)
            .and_then(|v| u64::try_from(*v).ok())
            .map(Duration::from_secs)
    }

    /// A warning text when `timeout` exceeds the token's `instance_max_timeout`, else `None`.
    /// Runs log this at `warn` level when the client has a cached `WhoAmI`.
    pub fn check_run_timeout(&self, timeout: Duration) -> Option<String> {
        let max = self.instance_max_timeout()?;
        (timeout > max).then(|| {
            format!(
                "run timeout {}s exceeds the token's instance_max_timeout of {}s; the server may reject or cut the run",
                timeout.as_secs(),
                max.as_secs()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whoami_timeout_warning() {
        let w = WhoAmI::from_wire(
            contree_proto::json::decode(
                br#"{"token_uuid":"t","token_expiration":null,"permissions":{},
                    "limits":{"instance_max_timeout":60},"operations_stat":{}}"#,
            )
            .expect("a whoami body"),
        );
        assert!(w.check_run_timeout(Duration::from_secs(61)).is_some());
        assert!(w.check_run_timeout(Duration::from_secs(60)).is_none());
    }
}
