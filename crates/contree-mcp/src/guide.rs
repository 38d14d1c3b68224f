//! The guide (`get_guide`, `contree://guide/{section}`), the server instructions and
//! the prompts, written for this server.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{PromptMessage, Resource, Role};
use rmcp::{prompt, prompt_router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::server::ContreeMcp;
use crate::types::GuideOutput;

/// The server's `instructions`.
pub(crate) const INSTRUCTIONS: &str = "ConTree sandboxes: run commands in VMs started from container images. \
Every kept run (disposable=false) makes a new immutable image version (its result_image_uuid) that you can run \
from again, so you can branch like git. Start with get_guide(section=\"quickstart\"). Inspect files without a VM \
with list_files, read_file and grep. Sync a local project with rsync and pass its directory_state_id to run.";

/// The guide sections, in order.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("workflow", WORKFLOW),
    ("reference", REFERENCE),
    ("quickstart", QUICKSTART),
    ("state", STATE),
    ("async", ASYNC),
    ("tagging", TAGGING),
    ("errors", ERRORS),
];

const WORKFLOW: &str = "# Workflow\n\n\
1. Pick a base image: `list_images(tagged=true)`; if it is missing, `import_image(registry_url=\"docker://docker.io/library/python:3.12-slim\", i_accept_that_anonymous_access_might_be_rate_limited=true)`.\n\
2. Prepare it once: `run(image=\"tag:python:3.12-slim\", command=\"pip install requests\", disposable=false)` and keep `result_image_uuid`.\n\
3. Work from that version: every `run` with `disposable=false` returns a new `result_image_uuid`; runs with `disposable=true` (the default) leave no image and are for checks.\n\
4. Bring local code with `rsync(source=\"/abs/project\", destination=\"/app\", exclude=[\".git\", \"__pycache__\"])` and `run(..., directory_state_id=ID, cwd=\"/app\")`.\n\
5. Look at results without a VM: `list_files`, `read_file`, `grep` on the result image; `download` a file to the local disk.\n\
6. Name good versions with `set_tag(image_uuid=..., tag=\"my-env:v1\")`.\n";

const REFERENCE: &str = "# Tool reference (contree-mcp for Rust)\n\n\
- `run(command, image, shell=true, env=None, preserve_env=false, cwd=\"\", uid=0, gid=0, timeout=30, disposable=true, stdin=None, directory_state_id=None, files=None, wait=true, truncate_output_at=8000, max_layer_bytes=None)` -> OperationOutput, or `{operation_id}` with wait=false. With wait=true each output line arrives as a progress notification (stderr lines start with `[stderr] `); cancelling the request cancels the operation.\n\
- `import_image(registry_url, tag=None, wait=true, i_accept_that_anonymous_access_might_be_rate_limited=false)`\n\
- `registry_token_obtain(registry_url)`, `registry_auth(registry_url, username, token)`\n\
- `list_images(limit=100, offset=0, tagged=false, tag_prefix=None, since=None, until=None)`; `since`/`until` take RFC 3339 times or ages (`15m`, `2h`, `3d`).\n\
- `get_image(image)`: UUID, `tag:NAME` or a bare tag.\n\
- `set_tag(image_uuid, tag=None)`: no tag removes all tags of the image.\n\
- `rsync(source, destination, exclude=None)` -> `{directory_state_id, files, uploaded, destination}`. No built-in excludes; each pattern (`*`, `?`, `**`) matches any path component, or with a `/` any trailing part of the path.\n\
- `upload(path | content | content_base64)` -> `{uuid, sha256, size}`; use as `run(files={\"/dest\": uuid})`.\n\
- `download(image, path, destination, executable=false)`\n\
- `list_files(image, path=\"/\")`, `read_file(image, path)`, `grep(image, pattern, path=None, glob=None, max_count=None, max_total=None, case=None)`\n\
- `get_operation(operation_id)`, `list_operations(limit=100, status=None, type=None, since=None)`, `wait_operations(operation_ids, timeout=300, mode=\"all\")`, `cancel_operation(operation_id)`\n\
- `whoami()`, `get_guide(section)`\n\n\
`upload` from a path, `download` and `rsync` touch the disk of the machine running this server: allowed over stdio, refused over HTTP unless the server was started with `--allow-local-files`.\n";

const QUICKSTART: &str = "# Quickstart\n\n\
```\nrun(image=\"ubuntu:latest\", command=\"echo hello && uname -a\")\n```\n\
returns `{status: \"SUCCESS\", exit_code: 0, stdout: \"hello\\n...\", ...}`.\n\n\
Keep what a run changed:\n\n\
```\nr = run(image=\"ubuntu:latest\", command=\"apt-get update && apt-get install -y curl\", disposable=false, timeout=300)\nrun(image=r.result_image_uuid, command=\"curl --version\")\n```\n\n\
Read a file without starting a VM: `read_file(image=r.result_image_uuid, path=\"/etc/os-release\")`.\n";

const STATE: &str = "# State and versions\n\n\
Images are immutable. A run starts a VM from an image; with `disposable=false` the files it leaves become a new image version (`result_image_uuid`), with the source image unchanged. Run again from any version to branch. `result_image_uuid` equals the source when the run wrote nothing.\n\n\
Environment variables do not carry over unless `preserve_env=true`; a `null` (or empty) value in `env` removes a preserved variable. `directory_state_id` from `rsync` is stable: the same source, destination and excludes always give the same id, and a later `rsync` updates it (only changed files are uploaded). The local rsync cache forgets entries unused for 60 days.\n";

const ASYNC: &str = "# Long and parallel work\n\n\
`run(..., wait=false)` returns `{operation_id}` at once. Then:\n\
- `get_operation(operation_id)` shows the status, and for a finished run its exit code and output;\n\
- `wait_operations(operation_ids=[...], timeout=300, mode=\"all\")` returns `{results, completed, cancelled, timed_out_ids, errors, timed_out}`; with `mode=\"any\"` the first to finish wins and the others are cancelled. Operations still running at the timeout are listed in `timed_out_ids` and keep running (they are not reported as failures);\n\
- `cancel_operation(operation_id)` stops one.\n\
With `wait=true`, output lines stream as progress notifications while the run goes on.\n";

const TAGGING: &str = "# Tags\n\n\
`set_tag(image_uuid, tag=\"project/env:v1\")` moves the tag to that image (a tag names one image). Use it as `image=\"tag:project/env:v1\"` or just `project/env:v1`. `set_tag(image_uuid)` without a tag removes every tag of the image. `list_images(tag_prefix=\"project/\")` lists by prefix. Tags: letters, digits, `_` and `-`, separated by `:`, `/` or `.`; lower case recommended.\n";

const ERRORS: &str = "# Errors\n\n\
Tool errors carry the SDK's message: what happened and what to do. Common ones:\n\
- not found: the image, tag or path does not exist; check with `list_images` or `list_files`.\n\
- authentication: the token is missing, expired or lacks a permission; `whoami` shows permissions and limits.\n\
- a non-zero `exit_code` is not an error: the run finished and its output is returned.\n\
- `timed_out: true`: the command hit `timeout` (seconds; the maximum is the token's `instance_max_timeout` from `whoami`).\n\
- `import_image` without credentials: call `registry_token_obtain`, then `registry_auth`, or accept anonymous access.\n\
- local-file tools over HTTP: restart the server with `--allow-local-files` or use stdio.\n";

/// `get_guide`.
pub(crate) fn guide(section: &str) -> Result<GuideOutput, String> {
    let names: Vec<String> = SECTIONS.iter().map(|(n, _)| n.to_string()).collect();
    let key = section.trim().to_ascii_lowercase();
    match SECTIONS.iter().find(|(n, _)| *n == key) {
        Some((n, c)) => Ok(GuideOutput {
            section: n.to_string(),
            content: c.to_string(),
            available_sections: names,
        }),
        None => Err(format!(
            "unknown guide section `{section}`; available: {}",
            names.join(", ")
        )),
    }
}

/// The static resources: one per guide section.
pub(crate) fn resources() -> Vec<rmcp::model::Resource> {
    SECTIONS
        .iter()
        .map(|(n, _)| {
            Resource::new(format!("contree://guide/{n}"), format!("guide-{n}"))
                .with_description(format!("The {n} section of the contree-mcp guide"))
                .with_mime_type("text/markdown")
        })
        .collect()
}

fn user(text: String) -> Vec<PromptMessage> {
    vec![PromptMessage::new_text(Role::User, text)]
}

/// `prepare-environment`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct PrepareEnvironment {
    /// What the environment is for.
    pub task: String,
    /// Base image (default python:3.11-slim).
    pub base: Option<String>,
    /// Local project directory to sync.
    pub project: Option<String>,
    /// Packages to install.
    pub packages: Option<String>,
}
/// `run-python`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunPython {
    /// Python code.
    pub code: String,
}
/// `run-shell` and `install-packages`-like prompts.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct RunShell {
    /// Shell command.
    pub command: String,
    /// Image (default ubuntu:noble).
    pub image: Option<String>,
}
/// `sync-and-run`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SyncAndRun {
    /// Local directory.
    pub source: String,
    /// Command to run in it.
    pub command: String,
    /// Image (default alpine:latest).
    pub image: Option<String>,
}
/// `install-packages`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InstallPackages {
    /// Packages.
    pub packages: String,
    /// Image (default ubuntu:noble).
    pub image: Option<String>,
}
/// `parallel-tasks`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct ParallelTasks {
    /// Tasks, one per line.
    pub tasks: String,
    /// Image (default ubuntu:noble).
    pub image: Option<String>,
}
/// `build-project` and `multi-stage-build`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct BuildProject {
    /// Local project directory.
    pub source: String,
    /// Install command (default `pip install -e .`).
    pub install_cmd: Option<String>,
    /// Build command (multi-stage only; default `python -m build`).
    pub build_cmd: Option<String>,
    /// Test command (default `pytest`).
    pub test_cmd: Option<String>,
}
/// `debug-failure`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DebugFailure {
    /// The failed operation.
    pub operation_id: String,
}
/// `inspect-image`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct InspectImage {
    /// The image.
    pub image: String,
}

fn or<'a>(v: &'a Option<String>, d: &'a str) -> &'a str {
    v.as_deref().filter(|s| !s.trim().is_empty()).unwrap_or(d)
}

#[allow(missing_docs)] // the generated `*_prompt_attr` functions
#[prompt_router(vis = "pub(crate)")]
impl ContreeMcp {
    /// Prepare a reusable environment for a task.
    #[prompt(name = "prepare-environment")]
    async fn prepare_environment(
        &self,
        Parameters(p): Parameters<PrepareEnvironment>,
    ) -> Vec<PromptMessage> {
        let base = or(&p.base, "python:3.11-slim");
        let sync = p.project.as_deref().map(|d| format!(" Sync {d} with rsync(source=\"{d}\", destination=\"/app\", exclude=[\".git\", \"__pycache__\"]) and pass its directory_state_id.")).unwrap_or_default();
        let pkgs = p
            .packages
            .as_deref()
            .map(|s| format!(" Install: {s}."))
            .unwrap_or_default();
        user(format!(
            "Prepare a ConTree environment for: {}. Start from image `{base}` (import_image it if list_images does not show it).{pkgs}{sync} Use run with disposable=false so each step makes a new image version, then set_tag the final result_image_uuid and report it.",
            p.task
        ))
    }

    /// Run Python code in a sandbox.
    #[prompt(name = "run-python")]
    async fn run_python(&self, Parameters(p): Parameters<RunPython>) -> Vec<PromptMessage> {
        user(format!(
            "Run this Python code with the run tool on image `python:3.12` (command=\"python3 -\", stdin=the code) and report stdout, stderr and the exit code:\n\n```python\n{}\n```",
            p.code
        ))
    }

    /// Run a shell command in a sandbox.
    #[prompt(name = "run-shell")]
    async fn run_shell(&self, Parameters(p): Parameters<RunShell>) -> Vec<PromptMessage> {
        user(format!(
            "Use the run tool with image `{}` and command `{}`; report the exit code and output.",
            or(&p.image, "ubuntu:noble"),
            p.command
        ))
    }

    /// Sync a local directory and run a command in it.
    #[prompt(name = "sync-and-run")]
    async fn sync_and_run(&self, Parameters(p): Parameters<SyncAndRun>) -> Vec<PromptMessage> {
        user(format!(
            "Call rsync(source=\"{}\", destination=\"/work\", exclude=[\".git\", \"node_modules\", \"__pycache__\", \"target\"]), then run(image=\"{}\", command=\"{}\", directory_state_id=<id>, cwd=\"/work\") and report the result.",
            p.source,
            or(&p.image, "alpine:latest"),
            p.command
        ))
    }

    /// Install packages and keep the result as a new image.
    #[prompt(name = "install-packages")]
    async fn install_packages(
        &self,
        Parameters(p): Parameters<InstallPackages>,
    ) -> Vec<PromptMessage> {
        user(format!(
            "Install `{}` on image `{}` with run(disposable=false, timeout=600) using the distribution's package manager; report the result_image_uuid and offer to set_tag it.",
            p.packages,
            or(&p.image, "ubuntu:noble")
        ))
    }

    /// Run several tasks in parallel.
    #[prompt(name = "parallel-tasks")]
    async fn parallel_tasks(&self, Parameters(p): Parameters<ParallelTasks>) -> Vec<PromptMessage> {
        user(format!(
            "Start each of these tasks with run(image=\"{}\", command=<task>, wait=false), then wait_operations on all the operation ids and summarise each result:\n{}",
            or(&p.image, "ubuntu:noble"),
            p.tasks
        ))
    }

    /// Install, then test, a local project.
    #[prompt(name = "build-project")]
    async fn build_project(&self, Parameters(p): Parameters<BuildProject>) -> Vec<PromptMessage> {
        user(format!(
            "rsync {} to /app, run `{}` in /app with disposable=false (keep the result_image_uuid), then run `{}` from that image and report failures with their output.",
            p.source,
            or(&p.install_cmd, "pip install -e ."),
            or(&p.test_cmd, "pytest")
        ))
    }

    /// Find out why an operation failed.
    #[prompt(name = "debug-failure")]
    async fn debug_failure(&self, Parameters(p): Parameters<DebugFailure>) -> Vec<PromptMessage> {
        user(format!(
            "Call get_operation(operation_id=\"{}\"), read its error, exit_code, stdout and stderr, inspect the source image with list_files/read_file/grep where useful, and explain the failure and a fix.",
            p.operation_id
        ))
    }

    /// Look around an image without starting a VM.
    #[prompt(name = "inspect-image")]
    async fn inspect_image(&self, Parameters(p): Parameters<InspectImage>) -> Vec<PromptMessage> {
        user(format!(
            "Describe image `{}`: get_image, list_files on / and /etc, read_file /etc/os-release, and summarise what is installed.",
            p.image
        ))
    }

    /// Install, build and test as separate image versions.
    #[prompt(name = "multi-stage-build")]
    async fn multi_stage_build(
        &self,
        Parameters(p): Parameters<BuildProject>,
    ) -> Vec<PromptMessage> {
        user(format!(
            "rsync {} to /app. Stage 1: run `{}` (disposable=false). Stage 2: from its result, run `{}` (disposable=false). Stage 3: from that result, run `{}`. Tag each stage's image and report the UUIDs.",
            p.source,
            or(&p.install_cmd, "pip install -e ."),
            or(&p.build_cmd, "python -m build"),
            or(&p.test_cmd, "pytest")
        ))
    }
}
