//! `contree-mcp`: the ConTree MCP server (stdio by default, or streamable HTTP).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use contree_mcp::{ContreeMcp, Exposure, HttpOptions};

const HELP: &str = "contree-mcp: an MCP server for ConTree sandboxes

USAGE:
    contree-mcp [OPTIONS]

OPTIONS:
    --http ADDR            serve streamable HTTP at http://ADDR/mcp (e.g. 127.0.0.1:9452)
                           instead of stdio; ADDR must be a loopback address unless
                           --allow-non-loopback is given
    --mode stdio|http      like the official server (http listens on 127.0.0.1:9452, or --port)
    --port PORT            the port for --mode http
    --allow-local-files    over HTTP, allow upload from a path, download and rsync
                           (always allowed over stdio)
    --allow-non-loopback   allow --http on a non-loopback address
    --profile NAME         the auth.ini profile (else CONTREE_PROFILE, [DEFAULT] profile)
    --cache-dir DIR        where the rsync cache lives (default $CONTREE_HOME/mcp)
    --log-level LEVEL      error, warn (default), info, debug, trace; logs go to stderr
    -V, --version          print the version
    -h, --help             print this help

Credentials are resolved like the SDK (Contree::from_env): NEBIUS_API_KEY / CONTREE_TOKEN,
NEBIUS_PROJECT_ID / CONTREE_PROJECT, CONTREE_BASE_URL, then the auth.ini profile.";

#[derive(Debug, Default)]
struct Args {
    http: Option<SocketAddr>,
    mode_http: bool,
    port: Option<u16>,
    allow_local_files: bool,
    allow_non_loopback: bool,
    profile: Option<String>,
    cache_dir: Option<PathBuf>,
    log_level: Option<String>,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut a = Args::default();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value (see --help)"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return Ok(None);
            }
            "-V" | "--version" => {
                println!("contree-mcp {}", env!("CARGO_PKG_VERSION"));
                return Ok(None);
            }
            "--http" => {
                let v = value("--http")?;
                a.http = Some(v.parse().map_err(|e| {
                    format!("--http {v}: not an address such as 127.0.0.1:9452 ({e})")
                })?);
            }
            "--mode" => match value("--mode")?.as_str() {
                "stdio" => a.mode_http = false,
                "http" => a.mode_http = true,
                other => return Err(format!("--mode {other}: use stdio or http")),
            },
            "--port" | "--http-port" => {
                let v = value("--port")?;
                a.port = Some(v.parse().map_err(|_| format!("--port {v}: not a port"))?);
            }
            "--allow-local-files" => a.allow_local_files = true,
            "--allow-non-loopback" => a.allow_non_loopback = true,
            "--profile" => a.profile = Some(value("--profile")?),
            "--cache-dir" => a.cache_dir = Some(PathBuf::from(value("--cache-dir")?)),
            "--log-level" => a.log_level = Some(value("--log-level")?),
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    if a.http.is_none() && (a.mode_http || a.port.is_some()) {
        a.http = Some(SocketAddr::from(([127, 0, 0, 1], a.port.unwrap_or(9452))));
    }
    if let Some(addr) = a.http
        && !addr.ip().is_loopback()
        && !a.allow_non_loopback
    {
        return Err(format!(
            "--http {addr} is not a loopback address: anyone who can reach it could use your ConTree token; add --allow-non-loopback if that is what you want"
        ));
    }
    Ok(Some(a))
}

fn init_logging(level: Option<&str>) {
    let base = level
        .map(str::to_string)
        .or_else(|| std::env::var("CONTREE_MCP_LOG").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "warn".into());
    // rmcp logs whole requests at debug level, registry tokens included: keep it quiet.
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{base},rmcp=warn"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rmcp=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
}

async fn serve(args: Args) -> Result<(), String> {
    let mut builder = contree::Contree::builder()
        .user_agent_prefix(concat!("contree-mcp-rs/", env!("CARGO_PKG_VERSION")));
    if let Some(p) = &args.profile {
        builder = builder.profile(p.clone());
    }
    let contree = builder.build().map_err(|e| e.to_string())?;
    let cache_dir = args.cache_dir.clone().or_else(|| {
        contree_auth::default_auth_file(&contree_auth::OsEnv)
            .and_then(|f| f.parent().map(|d| d.join("mcp")))
    });
    let exposure = match args.http {
        Some(_) => Exposure::Http {
            allow_local_files: args.allow_local_files,
        },
        None => Exposure::Stdio,
    };
    let server = ContreeMcp::new(contree, exposure, cache_dir)
        .map_err(|e| format!("cannot open the rsync cache: {e}"))?;
    match args.http {
        None => contree_mcp::serve_stdio(server)
            .await
            .map_err(|e| e.to_string()),
        Some(addr) => {
            let shutdown = tokio_util::sync::CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.cancel();
            });
            let opts = HttpOptions {
                addr,
                allow_local_files: args.allow_local_files,
                shutdown,
            };
            contree_mcp::serve_http(server, opts, |bound| {
                eprintln!("LISTENING http://{bound}/mcp");
            })
            .await
            .map_err(|e| format!("cannot serve HTTP on {addr}: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contree-mcp: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(args.log_level.as_deref());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("contree-mcp: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("contree-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<Option<Args>, String> {
        parse_args(v.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_parse() {
        let a = parse(&["--http", "127.0.0.1:0", "--allow-local-files"])
            .unwrap()
            .unwrap();
        assert_eq!(a.http, Some("127.0.0.1:0".parse().unwrap()));
        assert!(a.allow_local_files);
        let a = parse(&["--mode=http"]).unwrap().unwrap();
        assert_eq!(a.http, Some("127.0.0.1:9452".parse().unwrap()));
        assert!(parse(&["--http", "0.0.0.0:1"]).is_err());
        assert!(parse(&["--http", "0.0.0.0:1", "--allow-non-loopback"]).is_ok());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--profile"]).is_err());
    }
}
