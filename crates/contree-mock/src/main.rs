//! `contree-mock`: runs the mock ConTree server until killed.
//!
//! ```text
//! contree-mock [--port N] [--token T] [--project P | --no-project] [--latency MS | --profile realistic] [--seed N] [--prefix /sandboxes]
//!              [--tls [--cert-out PATH]] [--max-concurrent-streams N]
//! ```
//! Prints exactly one line `LISTENING http://127.0.0.1:PORT` on stdout when ready; `--help`
//! describes every flag, its default and the `/_mock` control endpoints.

use std::io::Write as _;
use std::time::Duration;

const USAGE: &str = "usage: contree-mock [--port N] [--token T] [--project P | --no-project] [--latency MS | --profile P] [--seed N] [--prefix PATH] [--tls [--cert-out PATH]] [--max-concurrent-streams N]";

fn usage() -> ! {
    eprintln!("{USAGE}\n(contree-mock --help describes every flag)");
    std::process::exit(2)
}

/// `--help`: every flag with its default, the output contract and the control endpoints.
fn help() -> String {
    format!(
        "contree-mock: a spec-faithful local ConTree server for tests (127.0.0.1 only).

{USAGE}

Options:
  --port N        TCP port on 127.0.0.1 (default 0: any free port)
  --token T       the bearer token clients must send (default {token})
  --project P     the `Project` header IAM clients must send (default {project})
  --no-project    JWT mode: no `Project` header is required (default: IAM mode)
  --latency MS    delay of each operation state transition, in ms (default 5)
  --profile P     fixed (default: every state lasts --latency) or realistic: seeded
                  delays like the real service's (PENDING 50-400 ms, answering 425 with
                  Retry-After: 1; ASSIGNED/boot 20-200 ms; imports work 100-500 ms)
  --seed N        seed of UUIDs, /dev/urandom and mktemp names (default 0)
  --prefix PATH   serve under a deployment prefix, e.g. /sandboxes (default: none)
  --tls           serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a self-signed certificate
                  for localhost and 127.0.0.1, generated at start (default: plain http,
                  HTTP/1.1 and h2c)
  --cert-out PATH with --tls: write the certificate (PEM) clients must trust to PATH
                  (default: $TMPDIR/contree-mock-PORT.pem); the path is printed on stderr
  --max-concurrent-streams N
                  HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection (default {streams})
  -h, --help      print this help and exit

Output: when ready it prints exactly one line on stdout,
  LISTENING http://127.0.0.1:PORT[PREFIX]     (https:// with --tls)
then serves until interrupted (Ctrl-C). Clients append /v1 to that URL and send
`Authorization: Bearer {token}` and `Project: {project}` (unless --no-project).

Control endpoints (no auth, outside /v1):
  POST   /_mock/faults    inject a fault rule given as JSON, e.g.
                          {{\"method\": \"POST\", \"path\": \"/v1/instances\", \"status\": 429, \"retry_after\": 1, \"times\": 2}}
  DELETE /_mock/faults    remove every fault rule
  GET    /_mock/counters  requests received per operationId, as a JSON object
  GET    /_mock/connections  TCP connections: {{\"accepted\": N, \"open\": M}}
  GET    /_mock/timings   the server-side timeline of every operation (states entered,
                          first output, completed, service time; wall-clock microseconds
                          since the Unix epoch); /_mock/timings/UUID for one

See the contree-mock README for the operations, fault kinds and the simulated shell.
",
        token = contree_mock::DEFAULT_TOKEN,
        project = contree_mock::DEFAULT_PROJECT,
        streams = contree_mock::DEFAULT_MAX_CONCURRENT_STREAMS,
    )
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
    let mut cert_out: Option<std::path::PathBuf> = None;
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
            "--profile" => {
                let v = value(&args, i, flag);
                match v.parse() {
                    Ok(p) => builder = builder.profile(p),
                    Err(e) => {
                        eprintln!("contree-mock: --profile: {e}");
                        usage()
                    }
                }
            }
            "--seed" => builder = builder.seed(number(value(&args, i, flag), flag)),
            "--prefix" => builder = builder.prefix(value(&args, i, flag)),
            "--cert-out" => cert_out = Some(value(&args, i, flag).into()),
            "--max-concurrent-streams" => {
                builder = builder.max_concurrent_streams(number(value(&args, i, flag), flag))
            }
            "--tls" => {
                builder = builder.tls(true);
                i += 1;
                continue;
            }
            "--no-project" => {
                builder = builder.no_project();
                i += 1;
                continue;
            }
            "-h" | "--help" => {
                print!("{}", help());
                return;
            }
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
        if let Some(pem) = server.ca_pem() {
            let path = cert_out.unwrap_or_else(|| {
                std::env::temp_dir().join(format!("contree-mock-{}.pem", server.addr().port()))
            });
            if let Err(e) = std::fs::write(&path, pem) {
                eprintln!(
                    "contree-mock: cannot write the certificate to {}: {e}",
                    path.display()
                );
                std::process::exit(1)
            }
            eprintln!(
                "contree-mock: TLS certificate (trust it as a root) at {}",
                path.display()
            );
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "LISTENING {}", server.base_url());
        let _ = out.flush();
        drop(out);
        let _ = tokio::signal::ctrl_c().await;
        server.shutdown().await;
    });
}
