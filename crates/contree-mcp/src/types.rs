//! The tools' parameters and results: typed structs whose JSON Schemas are the tools'
//! `inputSchema` and `outputSchema`. Names and defaults follow the official server
//! (`contree-mcp` 0.5.0).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

/// The produced image of an operation.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct ResultImage {
    /// Image UUID.
    pub image: Option<String>,
    /// Its tag, for imports.
    pub tag: Option<String>,
}

/// An operation and, for runs, its output (the official `OperationOutput`).
#[derive(Debug, Clone, Serialize, JsonSchema, Default)]
pub struct OperationOutput {
    /// Operation UUID.
    pub uuid: String,
    /// PENDING, ASSIGNED, EXECUTING, SUCCESS, FAILED or CANCELLED.
    pub status: String,
    /// `instance` or `image_import`.
    pub kind: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// The produced image, when there is one.
    pub result: Option<ResultImage>,
    /// Seconds it took.
    pub duration: Option<f64>,
    /// Bytes of the new image layer.
    pub image_size: Option<i64>,
    /// CPU consumed.
    pub consumed_cpu: Option<f64>,
    /// Memory consumed.
    pub consumed_memory: Option<i64>,
    /// The source image.
    pub image_uuid: Option<String>,
    /// The produced image (null for disposable runs).
    pub result_image_uuid: Option<String>,
    /// Exit code of the command.
    pub exit_code: Option<i32>,
    /// Whether the command hit its timeout.
    pub timed_out: Option<bool>,
    /// Standard output (lossy UTF-8).
    pub stdout: Option<String>,
    /// Standard error (lossy UTF-8).
    pub stderr: Option<String>,
    /// Whether stdout was cut at `truncate_output_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdout_truncated: Option<bool>,
    /// Whether stderr was cut at `truncate_output_at`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stderr_truncated: Option<bool>,
}

/// `run`'s result: the [`OperationOutput`] fields when waited for, else only
/// `{"operation_id"}`.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunResult {
    /// `wait=true`: the operation and its output.
    #[serde(flatten)]
    pub output: Option<OperationOutput>,
    /// `wait=false`: the started operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
}

/// An image.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageOutput {
    /// Image UUID.
    pub uuid: Option<String>,
    /// Its tag.
    pub tag: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// The operation that made it.
    pub operation_uuid: Option<String>,
}

/// `list_images`' result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageList {
    /// The page of images.
    pub images: Vec<ImageOutput>,
}

/// `rsync`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RsyncOutput {
    /// Pass this to `run` as `directory_state_id` (the same source, destination and
    /// excludes always give the same id).
    pub directory_state_id: i64,
    /// Files in the state.
    pub files: usize,
    /// Files uploaded by this call (new or changed content).
    pub uploaded: usize,
    /// Where the files will be placed in the VM.
    pub destination: String,
}

/// `upload`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UploadOutput {
    /// File UUID (use it in `run`'s `files`).
    pub uuid: String,
    /// sha256 of the content.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where a download came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DownloadSource {
    /// The image as given.
    pub image: String,
    /// The path in the image.
    pub path: String,
}

/// `download`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DownloadOutput {
    /// True when the file was written.
    pub success: bool,
    /// What was downloaded.
    pub source: DownloadSource,
    /// The local file written.
    pub destination: String,
    /// Bytes written.
    pub size: u64,
    /// Whether it was made executable.
    pub executable: bool,
}

/// A directory entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileEntry {
    /// File name.
    pub name: String,
    /// Full path.
    pub path: String,
    /// `file`, `directory`, `symlink` or `other`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Size in bytes.
    pub size: u64,
    /// `st_mode` in Python's `oct()` form, e.g. `0o100644`.
    pub mode: String,
    /// Symlink target.
    pub target: Option<String>,
}

/// `list_files`' result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileList {
    /// The directory listed.
    pub path: String,
    /// Number of entries.
    pub count: usize,
    /// The entries.
    pub files: Vec<FileEntry>,
}

/// `read_file`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReadFileOutput {
    /// The file read.
    pub path: String,
    /// Text, or base64 when the file is not UTF-8.
    pub content: String,
    /// `utf-8` or `base64`.
    pub encoding: String,
    /// Size in bytes.
    pub bytes_size: u64,
}

/// One grep match.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GrepMatchOutput {
    /// File.
    pub path: String,
    /// 1-based line number.
    pub line_number: u64,
    /// The line (cut at 4096 bytes by the server).
    pub line_text: String,
}

/// `grep`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GrepOutput {
    /// Where it searched.
    pub path: String,
    /// The patterns.
    pub patterns: Vec<String>,
    /// True when a limit cut the results.
    pub truncated: bool,
    /// The matches.
    pub matches: Vec<GrepMatchOutput>,
}

/// An operation in a listing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationSummary {
    /// Operation UUID.
    pub uuid: String,
    /// `instance` or `image_import`.
    pub kind: Option<String>,
    /// Status.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Creation time.
    pub created_at: Option<String>,
    /// Seconds it took.
    pub duration: Option<f64>,
    /// Source image.
    pub image_uuid: Option<String>,
    /// Produced image.
    pub result_image_uuid: Option<String>,
}

/// `list_operations`' result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OperationList {
    /// The operations.
    pub operations: Vec<OperationSummary>,
}

/// `wait_operations`' result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WaitOutput {
    /// Final state per finished operation (FAILED and CANCELLED included).
    pub results: BTreeMap<String, OperationOutput>,
    /// Ids that finished.
    pub completed: Vec<String>,
    /// Ids cancelled by this call (`mode="any"`).
    pub cancelled: Vec<String>,
    /// Ids still running when the timeout passed (left running).
    pub timed_out_ids: Vec<String>,
    /// Ids that could not be waited for (e.g. unknown), with the error.
    pub errors: BTreeMap<String, String>,
    /// True when any id was still running at the timeout.
    pub timed_out: bool,
}

/// `cancel_operation`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CancelOutput {
    /// True when the operation is (or already was) cancelled.
    pub cancelled: bool,
    /// The operation.
    pub operation_id: String,
    /// Its status after the call.
    pub status: String,
}

/// `whoami`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WhoamiOutput {
    /// The token's id (never the token).
    pub token_uuid: String,
    /// When the token expires (RFC 3339).
    pub token_expiration: Option<String>,
    /// What the token may do.
    pub permissions: BTreeMap<String, bool>,
    /// Per-token limits.
    pub limits: BTreeMap<String, i64>,
    /// This server's version.
    pub mcp_version: String,
    /// Always null: this server does not phone home for updates.
    pub mcp_upgrade: Option<String>,
}

/// `registry_token_obtain`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegistryTokenOutput {
    /// `ok` or `error`.
    pub status: String,
    /// The registry host.
    pub registry: String,
    /// Where to create a token.
    pub url: Option<String>,
    /// What to do.
    pub message: String,
    /// For the agent.
    pub agent_instruction: String,
}

/// `registry_auth`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RegistryAuthOutput {
    /// `ok` or `error`.
    pub status: String,
    /// The registry host.
    pub registry: String,
    /// What happened.
    pub message: String,
}

/// `get_guide`'s result.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct GuideOutput {
    /// The section.
    pub section: String,
    /// Markdown.
    pub content: String,
    /// Every section name.
    pub available_sections: Vec<String>,
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
