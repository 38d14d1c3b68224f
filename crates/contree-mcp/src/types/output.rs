//! The tools' results (their `outputSchema`), in the official shapes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

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

impl RunResult {
    /// The waited-for operation.
    pub(crate) fn output(o: OperationOutput) -> Self {
        Self {
            output: Some(o),
            operation_id: None,
        }
    }

    /// Only the id of a started operation.
    pub(crate) fn started(operation_id: String) -> Self {
        Self {
            output: None,
            operation_id: Some(operation_id),
        }
    }
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
