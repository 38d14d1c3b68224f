//! The simulated shell: a deterministic, in-memory `sh` that runs instance commands against an
//! [`Fs`], never touching the host.
//!
//! The supported language and builtins are listed in the crate README ("Simulated shell").
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use contree_mock::{fs::Fs, shell::{run_process, ProcessIo, ProcessSpec}};
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let fs = Arc::new(Mutex::new(Fs::new()));
//! let (_stdin_tx, stdin) = tokio::sync::mpsc::channel(1);
//! let (stdout, mut out_rx) = tokio::sync::mpsc::unbounded_channel();
//! let (stderr, _err_rx) = tokio::sync::mpsc::unbounded_channel();
//! let spec = ProcessSpec { command: "echo hi | wc -c > /n; cat /n".into(), shell: true, ..Default::default() };
//! let status = run_process(fs.clone(), spec, ProcessIo { stdin, stdout, stderr }, 7).await;
//! assert_eq!(status, 0);
//! assert_eq!(out_rx.recv().await.unwrap(), "3\n");
//! assert_eq!(fs.lock().unwrap().read("/n").unwrap(), "3\n");
//! # });
//! ```

mod arith;
mod builtins;
mod exec;
mod io;
pub mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::fs::Fs;

/// What to run: the command, its arguments and its environment.
///
/// ```
/// use contree_mock::shell::ProcessSpec;
/// let spec = ProcessSpec {
///     command: "/bin/echo".into(),
///     args: vec!["hello".into()],
///     cwd: "/root".into(),
///     hostname: "sandbox".into(),
///     ..Default::default()
/// };
/// assert!(!spec.shell);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProcessSpec {
    /// The command (a script when `shell` is true, else a program name or path).
    pub command: String,
    /// Arguments (for `shell: true` they become `$0`, `$1`, ... of the script).
    pub args: Vec<String>,
    /// Whether `command` is a shell script (`sh -c command`).
    pub shell: bool,
    /// Environment variables on top of the defaults (`PATH`, `HOME`, `HOSTNAME`, `PWD`).
    pub env: BTreeMap<String, String>,
    /// Working directory.
    pub cwd: String,
    /// User id the process runs as (owner of created files).
    pub uid: u32,
    /// Group id the process runs as.
    pub gid: u32,
    /// The hostname reported by `hostname` and `$HOSTNAME`.
    pub hostname: String,
}

/// The standard streams of a process.
#[derive(Debug)]
pub struct ProcessIo {
    /// Standard input; dropping the sender is end-of-file.
    pub stdin: mpsc::Receiver<Bytes>,
    /// Standard output chunks, sent as they are produced.
    pub stdout: mpsc::UnboundedSender<Bytes>,
    /// Standard error chunks, sent as they are produced.
    pub stderr: mpsc::UnboundedSender<Bytes>,
}

/// The default `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether `name` (a basename) is a builtin command of the simulated shell.
pub fn is_builtin(name: &str) -> bool {
    builtins::is_builtin(name)
}

/// Runs a process to completion and returns its exit status.
///
/// With `shell: true`, `command` is a script (`sh -c command`; `args` are ignored as the service
/// does); otherwise `command` (a builtin name or a path whose basename is a builtin, or a shell
/// script in the filesystem) runs with `args`, unexpanded. Unknown commands print
/// `sh: NAME: not found` and exit with 127; syntax errors exit with 2.
///
/// Output goes to the channels as it is produced, in chunks of a few KB. The future is
/// cancel-safe: dropping it kills the process (no lock is held across an await point).
pub async fn run_process(fs: Arc<Mutex<Fs>>, spec: ProcessSpec, io: ProcessIo, seed: u64) -> i32 {
    let mut sh = exec::Shell::new(fs, spec.uid, spec.gid, spec.hostname.clone(), seed);
    let cwd = if spec.cwd.is_empty() {
        "/".to_owned()
    } else {
        exec::normalize(&format!("/{}", spec.cwd))
    };
    sh.cwd = cwd.clone();
    let home = {
        let fs = io::lock(&sh.fs);
        home_of(&fs, spec.uid)
    };
    let defaults = [
        ("PATH", DEFAULT_PATH.to_owned()),
        ("HOME", home),
        ("HOSTNAME", spec.hostname.clone()),
        ("PWD", cwd),
    ];
    for (k, v) in defaults {
        sh.set_var(k, v);
        sh.export(k);
    }
    for (k, v) in &spec.env {
        sh.set_var(k, v.clone());
        sh.export(k);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let closed = Arc::new(io::Closed::default());
    let pio = exec::Io {
        stdin: io::Input::chan(io.stdin),
        stdout: io::Output::Proc(tx.clone(), 1, closed.clone()),
        stderr: io::Output::Proc(tx, 2, closed.clone()),
    };
    // The shell and the forwarder run in this one future (no spawned task), so dropping it
    // stops both; the forwarder ends once the shell has dropped every output handle.
    let shell = async move {
        let status = if spec.shell {
            match parse::parse(&spec.command) {
                Ok(script) => exec::exec_script(&mut sh, &script, &pio).await,
                Err(e) => {
                    exec::report(&pio, &format!("sh: {e}\n")).await;
                    2
                }
            }
        } else {
            let mut argv = vec![spec.command.clone()];
            argv.extend(spec.args.iter().cloned());
            exec::run_argv(&mut sh, argv, &pio).await
        };
        exec::finish(&mut sh, status, &pio).await
    };
    let (status, ()) = tokio::join!(shell, io::forward(rx, io.stdout, io.stderr, closed));
    status
}

/// The home directory of `uid` from `/etc/passwd` (`/root` for root, `/` when unknown).
fn home_of(fs: &Fs, uid: u32) -> String {
    if let Ok(data) = fs.read("/etc/passwd") {
        for line in String::from_utf8_lossy(&data).lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 6 && f[2].parse::<u32>().ok() == Some(uid) {
                return f[5].to_owned();
            }
        }
    }
    if uid == 0 {
        "/root".to_owned()
    } else {
        "/".to_owned()
    }
}
