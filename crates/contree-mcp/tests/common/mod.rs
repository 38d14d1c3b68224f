//! Shared helpers: the embedded mock, the `contree-mcp` binary as a child process (stdio
//! or HTTP), and an rmcp client that records progress notifications.

#![allow(dead_code, unused_macros)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use contree_mock::MockServer;
use rmcp::model::{CallToolRequestParams, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt as _};
use serde_json::Value;
use tokio::io::AsyncBufReadExt as _;

/// Test functions `async fn NAME(via: Via)` as `#[tokio::test]`s over stdio
/// (`over_stdio::NAME`) and over HTTP (`over_http::NAME`); the caller imports `Via`.
macro_rules! over_both {
    ($($name:ident),* $(,)?) => {
        mod over_stdio {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Via::Stdio).await })*
        }
        mod over_http {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Via::Http).await })*
        }
    };
}

pub const BIN: &str = env!("CARGO_BIN_EXE_contree-mcp");

/// A client that keeps every progress notification it gets.
#[derive(Clone, Default)]
pub struct Recorder {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
}

impl ClientHandler for Recorder {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
    }
}

pub type Client = RunningService<RoleClient, Recorder>;

/// Which transport a scenario uses.
#[derive(Debug, Clone, Copy)]
pub enum Via {
    /// stdin/stdout of a child process.
    Stdio,
    /// Streamable HTTP on a loopback port.
    Http,
}

/// The mock and a scratch home (no auth.ini, so only the env vars count).
pub struct World {
    pub mock: MockServer,
    pub home: tempfile::TempDir,
}

impl World {
    pub async fn new() -> Self {
        Self::on(MockServer::start().await)
    }

    /// A world on a mock started by the caller (e.g. with latency or faults).
    pub fn on(mock: MockServer) -> Self {
        Self {
            mock,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The environment that points `Contree::from_env()` in the server at the mock.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("CONTREE_BASE_URL".into(), self.mock.base_url().to_string()),
            ("NEBIUS_API_KEY".into(), self.mock.token().to_string()),
            (
                "NEBIUS_PROJECT_ID".into(),
                self.mock.project().unwrap_or_default().to_string(),
            ),
            (
                "CONTREE_HOME".into(),
                self.home.path().display().to_string(),
            ),
            ("HOME".into(), self.home.path().display().to_string()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
        ]
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(BIN);
        cmd.env_clear()
            .envs(self.env())
            .args(args)
            .kill_on_drop(true);
        cmd
    }

    /// The server over stdio, driven by an rmcp client.
    pub async fn stdio(&self) -> (Client, Recorder) {
        let rec = Recorder::default();
        let cmd = self.command(&[]);
        let (transport, _stderr) = TokioChildProcess::builder(cmd)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("contree-mcp starts");
        let client = rec
            .clone()
            .serve(transport)
            .await
            .expect("MCP session over stdio");
        (client, rec)
    }

    /// The server over streamable HTTP on a free loopback port; returns the client and
    /// the child (killed on drop).
    pub async fn http(&self, extra: &[&str]) -> (Client, Recorder, tokio::process::Child, String) {
        self.http_logged(extra, Arc::new(Mutex::new(String::new())))
            .await
    }

    /// Like [`http`](Self::http), collecting the server's stderr into `log`.
    pub async fn http_logged(
        &self,
        extra: &[&str],
        log: Arc<Mutex<String>>,
    ) -> (Client, Recorder, tokio::process::Child, String) {
        let mut args = vec!["--http", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = self
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("contree-mcp starts");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("contree-mcp printed LISTENING before exiting");
            log.lock().unwrap().push_str(&line);
            if let Some(url) = line.strip_prefix("LISTENING ") {
                break url.trim().to_string();
            }
        };
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let rec = Recorder::default();
        let transport = StreamableHttpClientTransport::from_uri(url.clone());
        let client = rec
            .clone()
            .serve(transport)
            .await
            .expect("MCP session over HTTP");
        (client, rec, child, url)
    }

    /// The server over stdio, or over HTTP with `--allow-local-files` (the child, if any,
    /// is killed on drop).
    pub async fn connect(&self, via: Via) -> (Client, Recorder, Option<tokio::process::Child>) {
        match via {
            Via::Stdio => {
                let (c, r) = self.stdio().await;
                (c, r, None)
            }
            Via::Http => {
                let (c, r, child, _) = self.http(&["--allow-local-files"]).await;
                (c, r, Some(child))
            }
        }
    }

    /// The latest operation on the mock, once it has ended (within 20 s).
    pub async fn latest_operation_ended(&self) -> contree::OperationInfo {
        let ops = self.contree().operations();
        let latest = ops.list().limit(10).await.unwrap().into_iter().next();
        let id = latest.expect("an operation").id;
        ops.wait(&id, std::time::Duration::from_secs(20))
            .await
            .unwrap()
    }

    /// A facade client on the mock, to check what the tools did.
    pub fn contree(&self) -> contree::Contree {
        contree::Contree::builder()
            .base_url(self.mock.base_url())
            .token(self.mock.token())
            .project(self.mock.project().unwrap_or_default())
            .build()
            .unwrap()
    }
}

/// Calls a tool; returns `(is_error, json)` where json is the structured result, or the
/// error text as a JSON string.
pub async fn call(client: &Client, name: &str, args: Value) -> (bool, Value) {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    let res = client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{name}: protocol error {e}"));
    let is_error = res.is_error == Some(true);
    let text: String = res
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    let value = match (&res.structured_content, is_error) {
        (Some(v), false) => v.clone(),
        (_, false) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
        (_, true) => Value::String(text),
    };
    if !is_error {
        check_output_schema(client, name, &value).await;
    }
    (is_error, value)
}

/// Every successful result must match the tool's advertised `outputSchema`.
async fn check_output_schema(client: &Client, name: &str, value: &Value) {
    let tools = client.list_all_tools().await.expect("tools/list");
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .expect("the tool is listed");
    let schema = Value::Object((*tool.output_schema.clone().expect("an output schema")).clone());
    let validator = jsonschema::validator_for(&schema).expect("the output schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: the result does not match its output schema: {errors:?}\n{value}"
    );
}

/// Calls a tool that must succeed.
pub async fn ok(client: &Client, name: &str, args: Value) -> Value {
    let (is_error, v) = call(client, name, args).await;
    assert!(!is_error, "{name} failed: {v}");
    v
}

/// Calls a tool that must fail; returns its message.
pub async fn fails(client: &Client, name: &str, args: Value) -> String {
    let (is_error, v) = call(client, name, args).await;
    assert!(is_error, "{name} should have failed: {v}");
    v.as_str().unwrap_or_default().to_string()
}

pub fn target_dir() -> PathBuf {
    // .../target/debug/contree-mcp -> .../target
    Path::new(BIN)
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in a target directory")
        .to_path_buf()
}
