//! `contree-mock`: runs the mock ConTree server until killed.
//!
//! ```text
//! contree-mock [--port N] [--token T] [--project P | --no-project] [--latency MS] [--seed N] [--prefix /sandboxes]
//! ```
//! Prints exactly one line `LISTENING http://127.0.0.1:PORT` on stdout when ready.

use std::io::Write as _;
use std::time::Duration;

fn usage() -> ! {
    eprintln!(
        "usage: contree-mock [--port N] [--token T] [--project P | --no-project] [--latency MS] [--seed N] [--prefix PATH]"
    );
    std::process::exit(2)
}

fn value<'a>(args: &'a [String], i: usize, flag: &str) -> &'a str {
    match args.get(i + 1) {
        Some(v) => v,
        None => {
            eprintln!("contree-mock: {flag} needs a value");
            usage()
        }
    }
}

fn number<T: std::str::FromStr>(s: &str, flag: &str) -> T {
    s.parse().unwrap_or_else(|_| {
        eprintln!("contree-mock: {flag} must be a number, got {s:?}");
        usage()
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut builder = contree_mock::MockServer::builder();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        match flag {
            "--port" => builder = builder.port(number(value(&args, i, flag), flag)),
            "--token" => builder = builder.token(value(&args, i, flag)),
            "--project" => builder = builder.project(value(&args, i, flag)),
            "--latency" => {
                builder =
                    builder.latency(Duration::from_millis(number(value(&args, i, flag), flag)))
            }
            "--seed" => builder = builder.seed(number(value(&args, i, flag), flag)),
            "--prefix" => builder = builder.prefix(value(&args, i, flag)),
            "--no-project" => {
                builder = builder.no_project();
                i += 1;
                continue;
            }
            "-h" | "--help" => usage(),
            other => {
                eprintln!("contree-mock: unknown argument {other:?}");
                usage()
            }
        }
        i += 2;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("contree-mock: cannot start the async runtime: {e}");
            std::process::exit(1)
        }
    };
    rt.block_on(async move {
        let server = match builder.try_start().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("contree-mock: cannot bind: {e}");
                std::process::exit(1)
            }
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "LISTENING {}", server.base_url());
        let _ = out.flush();
        drop(out);
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
    });
}
