//! Which credentials will be used? Prints the resolved fields and where each came from, as
//! JSON (the token only as a fingerprint), or the error and a non-zero exit status.
//!
//! ```sh
//! cargo run -p contree-auth --example resolve
//! cargo run -p contree-auth --example resolve -- --profile work
//! cargo run -p contree-auth --example resolve -- --auth-file ./auth.ini
//! ```

use std::process::ExitCode;

use contree_auth::{ClientSettings, Credentials, DefaultChain, Source};
use serde_json::{Value, json};

const USAGE: &str = "usage: resolve [--profile NAME] [--auth-file PATH]";

fn source(s: Option<&Source>) -> Value {
    s.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

fn report(chain: &DefaultChain, creds: &Credentials, settings: &ClientSettings) -> Value {
    json!({
        "auth_file": chain.auth_file_path().map(|p| p.display().to_string()),
        "profile": creds.profile(),
        "token": {
            "fingerprint": creds.token().fingerprint(),
            "source": source(Some(creds.token_source())),
        },
        "project": { "value": creds.project(), "source": source(creds.project_source()) },
        "base_url": { "value": creds.base_url(), "source": source(Some(creds.base_url_source())) },
        "kind": { "value": creds.kind().as_str(), "source": source(Some(creds.kind_source())) },
        "headers": creds.headers().iter().map(|h| h.name).collect::<Vec<_>>(),
        "settings": {
            "timeout_secs": settings.timeout.map(|d| d.as_secs_f64()),
            "timeout_source": source(settings.source("timeout")),
            "connect_timeout_secs": settings.connect_timeout.map(|d| d.as_secs_f64()),
            "connect_timeout_source": source(settings.source("connect_timeout")),
            "max_retries": settings.max_retries,
            "max_retries_source": source(settings.source("max_retries")),
        },
    })
}

fn main() -> ExitCode {
    let mut builder = DefaultChain::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--profile" | "-p", Some(name)) => builder = builder.profile(name),
            ("--auth-file" | "-c", Some(path)) => builder = builder.auth_file(path),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let chain = builder.build();
    let result = chain
        .resolve()
        .and_then(|creds| chain.settings().map(|settings| (creds, settings)));
    match result {
        Ok((creds, settings)) => {
            let out = report(&chain, &creds, &settings);
            println!(
                "{}",
                serde_json::to_string_pretty(&out).unwrap_or_else(|_| out.to_string())
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
