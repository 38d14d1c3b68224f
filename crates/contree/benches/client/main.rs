//! The client side of `cargo xtask bench`: one scenario per process, so each process's peak
//! RSS belongs to that scenario alone.
//!
//! ```text
//! client resolve      --base URL --token T --project P --tag ubuntu:latest
//! client seq-sdk      --base URL --token T --project P --image UUID --n N [--warmup W] [--script S]
//! client seq-floor    (same flags: the same HTTP exchanges written against hyper, no SDK)
//! client fanout-sdk   ... --n N --concurrency C
//! client fanout-floor ... --n N --concurrency C
//! client upload       --base URL --token T --project P --file PATH --image UUID --dest /data/big.bin
//! client download     --base URL --token T --project P --image UUID --path /data/big.bin --out PATH
//! client first-output-sdk ... --image UUID --n N   (streamed runs: when the first chunk came)
//! ```
//! `seq-*` print each run's operation id and return instant (`ops`); `fanout-sdk` takes
//! `--ca PEM-FILE` (an https mock) and `--streams-per-conn N`.
//!
//! Each command prints one line `RESULT {json}` on stdout. Run without a command (as
//! `cargo bench` and `cargo test --all-targets` do) it explains itself and exits 0: it needs
//! the mock server that `cargo xtask bench` starts.

mod floor;
mod scale;
mod sdk;

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

/// Parsed `--key value` flags.
pub(crate) struct Args {
    map: HashMap<String, String>,
}

impl Args {
    fn parse(raw: &[String]) -> Result<Self, String> {
        let mut map = HashMap::new();
        let mut it = raw.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .ok_or_else(|| format!("expected a --flag, got {k:?}"))?;
            let v = it.next().ok_or_else(|| format!("--{key} needs a value"))?;
            map.insert(key.to_string(), v.clone());
        }
        Ok(Self { map })
    }

    pub(crate) fn str(&self, key: &str) -> Result<&str, String> {
        self.map
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("missing --{key}"))
    }

    pub(crate) fn opt(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    pub(crate) fn str_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.map.get(key).map(String::as_str).unwrap_or(default)
    }

    pub(crate) fn num(&self, key: &str, default: u64) -> Result<u64, String> {
        match self.map.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key} must be a number, got {v:?}")),
        }
    }
}

/// `VmHWM` (peak RSS) and `VmRSS` of this process in KiB, from `/proc/self/status`.
pub(crate) fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time (user + system) this process used so far, in microseconds (from
/// `/proc/self/stat`, in clock ticks of 10 ms).
pub(crate) fn cpu_us() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces), from field 3 on.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15, i.e. indexes 11 and 12 here.
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) * 10_000
}

/// Wall-clock microseconds since the Unix epoch (comparable with the mock's timings).
pub(crate) fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(micros)
        .unwrap_or(0)
}

/// Latencies in microseconds.
pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let known = [
        "resolve",
        "seq-sdk",
        "seq-floor",
        "fanout-sdk",
        "fanout-floor",
        "upload",
        "download",
        "first-output-sdk",
    ];
    let Some(cmd) = raw.first().filter(|c| known.contains(&c.as_str())) else {
        eprintln!(
            "client bench: driven by `cargo xtask bench` (it starts the mock server and passes \
             a command); nothing to do here"
        );
        return ExitCode::SUCCESS;
    };
    let args = match Args::parse(&raw[1..]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("client bench: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("client bench: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cmd.as_str() {
            "resolve" => sdk::resolve(&args).await,
            "seq-sdk" => sdk::seq(&args).await,
            "fanout-sdk" => sdk::fanout(&args).await,
            "upload" => sdk::upload(&args).await,
            "download" => sdk::download(&args).await,
            "first-output-sdk" => scale::first_output(&args).await,
            "seq-floor" => floor::seq(&args).await,
            "fanout-floor" => floor::fanout(&args).await,
            _ => Err(format!("unknown command {cmd}")),
        }
    });
    match result {
        Ok(json) => {
            println!("RESULT {json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("client bench {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
