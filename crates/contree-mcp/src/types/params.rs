//! The tools' parameters (their `inputSchema`), with the official defaults.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// Numbers as LLM clients send them: `30`, `30.0` or `"30"` are all 30 (as the official
/// server's pydantic models accept); `30.5` or `"x"` are errors.
mod lenient {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        I(i64),
        U(u64),
        F(f64),
        S(String),
    }

    fn value(n: Num) -> Result<i128, String> {
        match n {
            Num::I(i) => Ok(i128::from(i)),
            Num::U(u) => Ok(i128::from(u)),
            Num::F(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(f as i128),
            Num::F(f) => Err(format!("{f} is not a whole number")),
            Num::S(s) => s
                .trim()
                .parse::<i128>()
                .map_err(|_| format!("`{s}` is not a whole number")),
        }
    }

    pub(super) fn int<'de, D: Deserializer<'de>, T: TryFrom<i128>>(d: D) -> Result<T, D::Error> {
        let v = value(Num::deserialize(d)?).map_err(D::Error::custom)?;
        T::try_from(v).map_err(|_| D::Error::custom(format!("{v} is out of range")))
    }

    pub(super) fn opt_int<'de, D: Deserializer<'de>, T: TryFrom<i128>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<Num>::deserialize(d)? {
            None => Ok(None),
            Some(n) => {
                let v = value(n).map_err(D::Error::custom)?;
                T::try_from(v)
                    .map(Some)
                    .map_err(|_| D::Error::custom(format!("{v} is out of range")))
            }
        }
    }
}

fn yes() -> bool {
    true
}
fn default_timeout() -> u64 {
    30
}
fn default_truncate() -> u64 {
    8000
}
fn default_limit() -> u32 {
    100
}
fn default_root() -> String {
    "/".into()
}
fn default_wait_timeout() -> f64 {
    300.0
}
fn default_mode() -> String {
    "all".into()
}

/// `run`: a command in a new VM from an image.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RunParams {
    /// The command (a shell script when `shell` is true).
    pub command: String,
    /// Image UUID, `tag:NAME` or a bare tag such as `ubuntu:latest`.
    pub image: String,
    /// Run through `sh -c` (default true).
    #[serde(default = "yes")]
    pub shell: bool,
    /// Environment variables; a `null` value unsets a variable kept by `preserve_env`.
    #[serde(default)]
    pub env: Option<BTreeMap<String, Option<String>>>,
    /// Keep the image's environment from earlier runs.
    #[serde(default)]
    pub preserve_env: bool,
    /// Working directory (empty: the image's default).
    #[serde(default)]
    pub cwd: String,
    /// User id of the process.
    #[serde(default, deserialize_with = "lenient::int")]
    pub uid: u32,
    /// Group id of the process.
    #[serde(default, deserialize_with = "lenient::int")]
    pub gid: u32,
    /// Server-side timeout in seconds (default 30).
    #[serde(default = "default_timeout", deserialize_with = "lenient::int")]
    pub timeout: u64,
    /// Discard the resulting image (default true); false keeps a new image version.
    #[serde(default = "yes")]
    pub disposable: bool,
    /// Text given to the command on standard input.
    #[serde(default)]
    pub stdin: Option<String>,
    /// Files synced by `rsync`, placed before the command runs.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub directory_state_id: Option<i64>,
    /// Extra files: `{"/dest/path": "<file uuid from upload>"}` (mode 0644).
    #[serde(default)]
    pub files: Option<BTreeMap<String, String>>,
    /// Wait for the result (default true; progress notifications carry output lines).
    /// False returns `{"operation_id"}` at once.
    #[serde(default = "yes")]
    pub wait: bool,
    /// Bytes of stdout and of stderr kept (default 8000).
    #[serde(default = "default_truncate", deserialize_with = "lenient::int")]
    pub truncate_output_at: u64,
    /// Maximum size of the new image layer in bytes.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub max_layer_bytes: Option<u64>,
}

/// `import_image`: import a container image from a registry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ImportImageParams {
    /// Full reference, e.g. `docker://docker.io/library/alpine:3.20` (`oci://` accepted;
    /// a short name such as `alpine:3.20` means Docker Hub).
    pub registry_url: String,
    /// Tag to store the image under (default: derived from the reference).
    #[serde(default)]
    pub tag: Option<String>,
    /// Wait for the import (default true).
    #[serde(default = "yes")]
    pub wait: bool,
    /// Import without registry credentials (anonymous pulls may be rate limited).
    #[serde(default)]
    pub i_accept_that_anonymous_access_might_be_rate_limited: bool,
}

/// A registry reference alone.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RegistryParams {
    /// Registry or image reference, e.g. `docker.io` or `ghcr.io/org/image`.
    pub registry_url: String,
}

/// `registry_auth`: credentials for a registry.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RegistryAuthParams {
    /// Registry or image reference.
    pub registry_url: String,
    /// Registry user name.
    pub username: String,
    /// Personal access token (never echoed back or logged).
    pub token: String,
}

/// `list_images`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ListImagesParams {
    /// Page size (default 100, at most 1000).
    #[serde(default = "default_limit", deserialize_with = "lenient::int")]
    pub limit: u32,
    /// Records to skip.
    #[serde(default, deserialize_with = "lenient::int")]
    pub offset: u64,
    /// Only tagged images.
    #[serde(default)]
    pub tagged: bool,
    /// Only tags starting with this prefix (trailing `:`, `/`, `.` are ignored).
    #[serde(default)]
    pub tag_prefix: Option<String>,
    /// Created at or after: RFC 3339 time or an age such as `15m`, `2h`, `3d`.
    #[serde(default)]
    pub since: Option<String>,
    /// Created at or before: RFC 3339 time or an age.
    #[serde(default)]
    pub until: Option<String>,
}

/// An image reference alone.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ImageParams {
    /// Image UUID, `tag:NAME` or a bare tag.
    pub image: String,
}

/// `set_tag`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SetTagParams {
    /// The image UUID (or a reference).
    pub image_uuid: String,
    /// The tag to set; empty or absent removes every tag of the image.
    #[serde(default)]
    pub tag: Option<String>,
}

/// `rsync`: sync a local directory to the server's file store.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RsyncParams {
    /// Absolute local directory (`~` expanded).
    pub source: String,
    /// Absolute directory in the VM where the files will be placed.
    pub destination: String,
    /// Glob patterns to leave out (`*`, `?`, `**`), matched against every path
    /// component and the whole relative path, e.g. `__pycache__`, `*.pyc`, `.git`.
    #[serde(default)]
    pub exclude: Option<Vec<String>>,
}

/// `upload`: exactly one of `path`, `content`, `content_base64`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct UploadParams {
    /// A local file on the machine running this server.
    #[serde(default)]
    pub path: Option<String>,
    /// Text content (UTF-8).
    #[serde(default)]
    pub content: Option<String>,
    /// Binary content, base64.
    #[serde(default)]
    pub content_base64: Option<String>,
}

/// `download`: a file from an image to the local disk.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct DownloadParams {
    /// Image UUID, `tag:NAME` or a bare tag.
    pub image: String,
    /// Absolute path of the file in the image.
    pub path: String,
    /// Absolute local destination path (`~` expanded).
    pub destination: String,
    /// Make the local file executable (0755).
    #[serde(default)]
    pub executable: bool,
}

/// `list_files`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ListFilesParams {
    /// Image UUID, `tag:NAME` or a bare tag.
    pub image: String,
    /// Directory to list (default `/`).
    #[serde(default = "default_root")]
    pub path: String,
}

/// `read_file`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ReadFileParams {
    /// Image UUID, `tag:NAME` or a bare tag.
    pub image: String,
    /// Absolute path of the file.
    pub path: String,
}

/// `grep`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GrepParams {
    /// Image UUID, `tag:NAME` or a bare tag.
    pub image: String,
    /// Regular expression.
    pub pattern: String,
    /// Directory or file to search (default `/`).
    #[serde(default)]
    pub path: Option<String>,
    /// Only files matching this glob.
    #[serde(default)]
    pub glob: Option<String>,
    /// Matches per file at most.
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub max_count: Option<u32>,
    /// Matches in total at most (server default 1000).
    #[serde(default, deserialize_with = "lenient::opt_int")]
    pub max_total: Option<u32>,
    /// `sensitive`, `insensitive` or `smart`.
    #[serde(default)]
    pub case: Option<String>,
}

/// An operation id alone.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct OperationIdParams {
    /// The operation UUID.
    pub operation_id: String,
}

/// `list_operations`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct ListOperationsParams {
    /// Page size (default 100).
    #[serde(default = "default_limit", deserialize_with = "lenient::int")]
    pub limit: u32,
    /// `PENDING`, `ASSIGNED`, `EXECUTING`, `SUCCESS`, `FAILED` or `CANCELLED`.
    #[serde(default)]
    pub status: Option<String>,
    /// `instance` or `image_import`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Created at or after: RFC 3339 time or an age such as `1h`.
    #[serde(default)]
    pub since: Option<String>,
}

/// `wait_operations`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WaitOperationsParams {
    /// Operation UUIDs.
    pub operation_ids: Vec<String>,
    /// Seconds to wait (default 300); operations still running then are reported in
    /// `timed_out_ids`, not as failures.
    #[serde(default = "default_wait_timeout")]
    pub timeout: f64,
    /// `all` (default) or `any` (the rest are cancelled once one finishes).
    #[serde(default = "default_mode")]
    pub mode: String,
}

/// `get_guide`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct GuideParams {
    /// workflow, reference, quickstart, state, async, tagging or errors.
    pub section: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_official_ones() {
        let p: RunParams = serde_json::from_value(json!({"command": "ls", "image": "x"})).unwrap();
        assert!(p.shell && p.disposable && p.wait && !p.preserve_env);
        assert_eq!(
            (p.timeout, p.truncate_output_at, p.uid, p.gid),
            (30, 8000, 0, 0)
        );
        let w: WaitOperationsParams = serde_json::from_value(json!({"operation_ids": []})).unwrap();
        assert_eq!((w.timeout, w.mode.as_str()), (300.0, "all"));
        let l: ListFilesParams = serde_json::from_value(json!({"image": "x"})).unwrap();
        assert_eq!(l.path, "/");
    }

    #[test]
    fn whole_numbers_are_accepted_in_any_spelling() {
        let p: RunParams = serde_json::from_value(
            json!({"command": "ls", "image": "x", "timeout": 45.0, "uid": "1000", "max_layer_bytes": 1e6}),
        )
        .unwrap();
        assert_eq!(
            (p.timeout, p.uid, p.max_layer_bytes),
            (45, 1000, Some(1_000_000))
        );
        for bad in [json!(1.5), json!("x"), json!(-1)] {
            let r: Result<RunParams, _> =
                serde_json::from_value(json!({"command": "ls", "image": "x", "timeout": bad}));
            assert!(r.is_err(), "{bad} accepted");
        }
        let schema = serde_json::to_value(schemars::schema_for!(RunParams)).unwrap();
        assert_eq!(schema["properties"]["timeout"]["type"], "integer");
    }
}
