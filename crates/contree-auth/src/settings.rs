//! Client settings (timeouts, retries) layered from the profile and `CONTREE_*` variables.

use std::collections::BTreeMap;
use std::time::Duration;

use config::{Config, Map, Value, ValueKind};

use crate::credentials::Source;
use crate::error::{Error, Inner};
use crate::resolve::ProfileLookup;
use crate::shim::{Env, non_blank};

/// The supported settings: (profile key, environment variable).
const KEYS: [(&str, &str); 3] = [
    ("timeout", "CONTREE_TIMEOUT"),
    ("connect_timeout", "CONTREE_CONNECT_TIMEOUT"),
    ("max_retries", "CONTREE_MAX_RETRIES"),
];

/// Client settings that a deployment may set without code, resolved per key as
/// environment variable > profile key (the selected `auth.ini` profile, including keys
/// inherited from `[DEFAULT]`) > unset (the client's own default).
///
/// | setting | env | profile key | format |
/// |---|---|---|---|
/// | [`timeout`](Self::timeout) | `CONTREE_TIMEOUT` | `timeout` | seconds > 0, e.g. `30` or `2.5` |
/// | [`connect_timeout`](Self::connect_timeout) | `CONTREE_CONNECT_TIMEOUT` | `connect_timeout` | seconds > 0 |
/// | [`max_retries`](Self::max_retries) | `CONTREE_MAX_RETRIES` | `max_retries` | integer 0..=100 |
///
/// Blank variables count as unset; a malformed value is an error naming its source.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use contree_auth::{DefaultChain, MapEnv, MemFs, Source};
/// # fn main() -> Result<(), contree_auth::Error> {
/// let fs = MemFs::new();
/// fs.insert("/h/.config/contree/auth.ini", "[profile:default]\ntimeout = 20\nmax_retries = 3\n", 0o600);
/// let env = MapEnv::from_iter([("HOME", "/h"), ("CONTREE_TIMEOUT", "2.5")]);
/// let s = DefaultChain::builder().env(Arc::new(env)).fs(Arc::new(fs)).build().settings()?;
/// assert_eq!(s.timeout, Some(Duration::from_millis(2500)));
/// assert_eq!(s.source("timeout"), Some(&Source::Env("CONTREE_TIMEOUT".into())));
/// assert_eq!(s.max_retries, Some(3));
/// assert_eq!(s.connect_timeout, None);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientSettings {
    /// Per-request (attempt) timeout.
    pub timeout: Option<Duration>,
    /// TCP/TLS connect timeout.
    pub connect_timeout: Option<Duration>,
    /// Retries after the first attempt for retryable failures.
    pub max_retries: Option<u32>,
    sources: BTreeMap<&'static str, Source>,
}

/// A `config` source made of fixed key/value pairs, each tagged with its origin.
#[derive(Debug, Clone)]
struct Layer {
    values: Map<String, Value>,
}

impl config::Source for Layer {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }
    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.values.clone())
    }
}

impl ClientSettings {
    /// Where a setting (`"timeout"`, `"connect_timeout"`, `"max_retries"`) came from, if set.
    pub fn source(&self, key: &str) -> Option<&Source> {
        self.sources.get(key)
    }

    pub(crate) fn resolve(env: &dyn Env, lookup: &ProfileLookup) -> Result<Self, Error> {
        // Origins are strings in `config`; map them back to our sources.
        let mut origins: BTreeMap<String, Source> = BTreeMap::new();
        let mut profile_layer = Map::new();
        let mut env_layer = Map::new();
        if let Ok(profile) = &lookup.found {
            let source = lookup.source();
            let origin = source.to_string();
            origins.insert(origin.clone(), source);
            for (key, _) in KEYS {
                if let Some(v) = profile.get(key) {
                    profile_layer.insert(
                        key.to_string(),
                        Value::new(Some(&origin), ValueKind::String(v.to_string())),
                    );
                }
            }
        }
        for (key, var) in KEYS {
            if let Some(v) = non_blank(env, var) {
                let source = Source::Env(var.to_string());
                let origin = source.to_string();
                origins.insert(origin.clone(), source);
                env_layer.insert(
                    key.to_string(),
                    Value::new(Some(&origin), ValueKind::String(v)),
                );
            }
        }
        let layered = Config::builder()
            .add_source(Layer {
                values: profile_layer,
            })
            .add_source(Layer { values: env_layer })
            .build()
            .map_err(|e| {
                Error::from(Inner::Settings {
                    message: e.to_string(),
                })
            })?;

        // `Config::get` deserialises and loses the origin; the collected table keeps it.
        let mut table = config::Source::collect(&layered).map_err(|e| {
            Error::from(Inner::Settings {
                message: e.to_string(),
            })
        })?;
        let mut out = ClientSettings::default();
        for (key, _) in KEYS {
            let Some(value) = table.remove(key) else {
                continue;
            };
            let source = value
                .origin()
                .and_then(|o| origins.get(o).cloned())
                .unwrap_or(Source::Default);
            let raw = value.into_string().map_err(|e| {
                Error::from(Inner::Settings {
                    message: e.to_string(),
                })
            })?;
            let raw = raw.trim().to_string();
            let invalid = |expected: &'static str| {
                Error::from(Inner::InvalidSetting {
                    what: match key {
                        "timeout" => "timeout",
                        "connect_timeout" => "connect timeout",
                        _ => "retry count",
                    },
                    value: raw.clone(),
                    source_desc: source.to_string(),
                    expected,
                })
            };
            match key {
                "max_retries" => {
                    let n = raw
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= 100)
                        .ok_or_else(|| invalid("an integer from 0 to 100"))?;
                    out.max_retries = Some(n);
                }
                _ => {
                    const EXPECTED: &str = "a number of seconds greater than 0, e.g. `30` or `2.5`";
                    let secs = raw
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1e9)
                        .ok_or_else(|| invalid(EXPECTED))?;
                    let d = Duration::from_secs_f64(secs);
                    if key == "timeout" {
                        out.timeout = Some(d);
                    } else {
                        out.connect_timeout = Some(d);
                    }
                }
            }
            out.sources.insert(key, source);
        }
        Ok(out)
    }
}
