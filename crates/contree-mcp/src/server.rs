//! The MCP server: its 19 tools (names, parameters and defaults of the official
//! `contree-mcp`), resources and prompts.

use std::sync::Arc;

use rmcp::handler::server::router::{prompt::PromptRouter, tool::ToolRouter};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    Implementation, ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData, Json, RoleServer, ServerHandler, prompt_handler, tool, tool_handler, tool_router,
};

use crate::registry::RegistryStore;
use crate::rsync::SyncCache;
use crate::types::*;

/// Where the server is reached from, which decides whether tools may touch the local
/// filesystem of the machine it runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// stdio: the client is the local user; local files are allowed.
    Stdio,
    /// Streamable HTTP: local files only with `--allow-local-files`.
    Http {
        /// `--allow-local-files` was given.
        allow_local_files: bool,
    },
}

impl Exposure {
    pub(crate) fn local_files_allowed(self) -> bool {
        match self {
            Exposure::Stdio => true,
            Exposure::Http { allow_local_files } => allow_local_files,
        }
    }
}

/// The ConTree MCP server (one per connection; clones share the client and caches).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use contree_mcp::{ContreeMcp, Exposure};
/// let server = ContreeMcp::new(contree::Contree::from_env()?, Exposure::Stdio, None)?;
/// contree_mcp::serve_stdio(server).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ContreeMcp {
    pub(crate) contree: contree::Contree,
    pub(crate) exposure: Exposure,
    pub(crate) sync: Arc<SyncCache>,
    pub(crate) registry: Arc<RegistryStore>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl std::fmt::Debug for ContreeMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContreeMcp")
            .field("exposure", &self.exposure)
            .finish_non_exhaustive()
    }
}

impl ContreeMcp {
    /// A server on `contree`. `cache_dir` holds the `rsync` cache (default
    /// `$CONTREE_HOME/mcp`, next to `auth.ini`); `None` without a home keeps it in memory.
    pub fn new(
        contree: contree::Contree,
        exposure: Exposure,
        cache_dir: Option<std::path::PathBuf>,
    ) -> std::io::Result<Self> {
        let sync = SyncCache::open(cache_dir.map(|d| d.join("files.json")))?;
        Ok(Self {
            contree,
            exposure,
            sync: Arc::new(sync),
            registry: Arc::new(RegistryStore::default()),
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
        })
    }

    /// The same server for another transport (shares the client and caches).
    pub fn with_exposure(&self, exposure: Exposure) -> Self {
        let mut s = self.clone();
        s.exposure = exposure;
        s
    }

    pub(crate) fn require_local_files(&self, tool: &str) -> Result<(), String> {
        if self.exposure.local_files_allowed() {
            Ok(())
        } else {
            Err(format!(
                "`{tool}` reads or writes files on the machine running this server, which is \
                 refused over HTTP; restart contree-mcp with --allow-local-files to allow it, \
                 or use stdio"
            ))
        }
    }
}

fn json<T>(r: Result<T, String>) -> Result<Json<T>, String> {
    r.map(Json)
}

#[tool_router]
impl ContreeMcp {
    /// Run a command in a new VM from an image. Every kept run (`disposable=false`)
    /// makes a new image version you can run from again. With `wait=true` (default),
    /// output lines arrive as progress notifications and the final output is returned;
    /// cancelling the request cancels the operation. `wait=false` returns
    /// `{"operation_id"}` at once.
    #[tool(annotations(destructive_hint = false, open_world_hint = true))]
    async fn run(
        &self,
        Parameters(p): Parameters<RunParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<RunResult>, String> {
        json(crate::tools::run(self, p, ctx).await)
    }

    /// Import a container image from a registry (e.g. `docker://docker.io/library/alpine:3.20`).
    /// Uses the credentials given to `registry_auth` for that registry; without any, pass
    /// `i_accept_that_anonymous_access_might_be_rate_limited=true`.
    #[tool(annotations(destructive_hint = false, open_world_hint = true))]
    async fn import_image(
        &self,
        Parameters(p): Parameters<ImportImageParams>,
    ) -> Result<Json<RunResult>, String> {
        json(crate::tools::import_image(self, p).await)
    }

    /// Where to create a personal access token for a registry (docker.io, ghcr.io,
    /// registry.gitlab.com, gcr.io). Opens nothing: give the URL to the user, then call
    /// `registry_auth` with the token.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn registry_token_obtain(
        &self,
        Parameters(p): Parameters<RegistryParams>,
    ) -> Result<Json<RegistryTokenOutput>, String> {
        Ok(Json(crate::registry::token_obtain(&p.registry_url)))
    }

    /// Validate registry credentials against the registry and keep them (in memory, for
    /// this server process) for `import_image`. The token is never returned or logged.
    #[tool(annotations(
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = true
    ))]
    async fn registry_auth(
        &self,
        Parameters(p): Parameters<RegistryAuthParams>,
    ) -> Result<Json<RegistryAuthOutput>, String> {
        json(self.registry.authenticate(&p).await)
    }

    /// List images (newest first), optionally only tagged ones or by tag prefix and age.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_images(
        &self,
        Parameters(p): Parameters<ListImagesParams>,
    ) -> Result<Json<ImageList>, String> {
        json(crate::tools::list_images(self, p).await)
    }

    /// Details of one image by UUID, `tag:NAME` or bare tag.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_image(
        &self,
        Parameters(p): Parameters<ImageParams>,
    ) -> Result<Json<ImageOutput>, String> {
        json(crate::tools::get_image(self, p).await)
    }

    /// Set (move) a tag to an image; an empty or absent `tag` removes all of its tags.
    #[tool(annotations(
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn set_tag(
        &self,
        Parameters(p): Parameters<SetTagParams>,
    ) -> Result<Json<ImageOutput>, String> {
        json(crate::tools::set_tag(self, p).await)
    }

    /// Upload a local directory (only new or changed files) and get a
    /// `directory_state_id` to place it in a `run`. Excludes match any path component
    /// (`__pycache__`, `*.pyc`, `.git`). Local files: stdio, or HTTP with
    /// `--allow-local-files`.
    #[tool(annotations(
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn rsync(
        &self,
        Parameters(p): Parameters<RsyncParams>,
    ) -> Result<Json<RsyncOutput>, String> {
        self.require_local_files("rsync")?;
        json(crate::rsync::rsync(self, p).await)
    }

    /// Upload one file (exactly one of `path`, `content`, `content_base64`) and get its
    /// UUID for `run`'s `files`. Deduplicated by sha256.
    #[tool(annotations(
        destructive_hint = false,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn upload(
        &self,
        Parameters(p): Parameters<UploadParams>,
    ) -> Result<Json<UploadOutput>, String> {
        json(crate::tools::upload(self, p).await)
    }

    /// Download a file from an image to the local disk (atomically; parents created).
    /// Local files: stdio, or HTTP with `--allow-local-files`.
    #[tool(annotations(
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn download(
        &self,
        Parameters(p): Parameters<DownloadParams>,
    ) -> Result<Json<DownloadOutput>, String> {
        self.require_local_files("download")?;
        json(crate::tools::download(self, p).await)
    }

    /// List a directory of an image without starting a VM.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_files(
        &self,
        Parameters(p): Parameters<ListFilesParams>,
    ) -> Result<Json<FileList>, String> {
        json(crate::tools::list_files(self, p).await)
    }

    /// Read a file of an image without starting a VM (text, or base64 for binary).
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn read_file(
        &self,
        Parameters(p): Parameters<ReadFileParams>,
    ) -> Result<Json<ReadFileOutput>, String> {
        json(crate::tools::read_file(self, p).await)
    }

    /// Search the files of an image with a regular expression, without starting a VM.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn grep(
        &self,
        Parameters(p): Parameters<GrepParams>,
    ) -> Result<Json<GrepOutput>, String> {
        json(crate::tools::grep(self, p).await)
    }

    /// The state of an operation and, for a finished run, its exit code and output.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_operation(
        &self,
        Parameters(p): Parameters<OperationIdParams>,
    ) -> Result<Json<OperationOutput>, String> {
        json(crate::tools::get_operation(self, &p.operation_id).await)
    }

    /// List operations, filtered by status, type and age.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn list_operations(
        &self,
        Parameters(p): Parameters<ListOperationsParams>,
    ) -> Result<Json<OperationList>, String> {
        json(crate::tools::list_operations(self, p).await)
    }

    /// Wait for several operations (`mode="all"`, or `"any"`: the first to finish wins and
    /// the others are cancelled). Operations still running at the timeout are listed in
    /// `timed_out_ids` and keep running.
    #[tool(annotations(
        read_only_hint = false,
        destructive_hint = true,
        open_world_hint = false
    ))]
    async fn wait_operations(
        &self,
        Parameters(p): Parameters<WaitOperationsParams>,
    ) -> Result<Json<WaitOutput>, String> {
        json(crate::tools::wait_operations(self, p).await)
    }

    /// Cancel a running operation (a finished one is left as it is).
    #[tool(annotations(
        destructive_hint = true,
        idempotent_hint = true,
        open_world_hint = false
    ))]
    async fn cancel_operation(
        &self,
        Parameters(p): Parameters<OperationIdParams>,
    ) -> Result<Json<CancelOutput>, String> {
        json(crate::tools::cancel_operation(self, &p.operation_id).await)
    }

    /// Who the configured token is: permissions and limits (never the token itself).
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn whoami(&self) -> Result<Json<WhoamiOutput>, String> {
        json(crate::tools::whoami(self).await)
    }

    /// A section of the guide to this server: workflow, reference, quickstart, state,
    /// async, tagging, errors.
    #[tool(annotations(read_only_hint = true, open_world_hint = false))]
    async fn get_guide(
        &self,
        Parameters(p): Parameters<GuideParams>,
    ) -> Result<Json<GuideOutput>, String> {
        json(crate::guide::guide(&p.section))
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for ContreeMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new(
            "contree-mcp",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(crate::guide::INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(
            crate::guide::resources(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            crate::resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let contents = crate::resources::read(self, &request.uri).await?;
        Ok(ReadResourceResult::new(contents).into())
    }
}
