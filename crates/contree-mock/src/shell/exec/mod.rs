//! The interpreter: shell state, word expansion, redirections, pipelines and command dispatch.

mod expand;
mod glob;
mod lists;
mod redirs;
mod simple;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use super::io::{Input, Output, Rng};
use super::parse::Command;
use crate::fs::Fs;

pub(crate) use glob::glob_match;
pub(crate) use lists::exec_script;
pub(crate) use redirs::{open_read, open_write};
pub(crate) use simple::{finish, run_argv, run_script_text, which};

/// A boxed command future (recursion between the executors needs boxing).
pub(crate) type BoxFut<'a> = Pin<Box<dyn Future<Output = i32> + Send + 'a>>;

/// Nesting limit for scripts running scripts and command substitutions.
const MAX_DEPTH: usize = 64;

/// Non-local control flow in progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ctl {
    /// `exit N` (or a fatal error).
    Exit(i32),
    /// `break N`.
    Break(u32),
    /// `continue N`.
    Continue(u32),
    /// `return N` from a function.
    Return(i32),
}

/// The standard streams of a command.
#[derive(Clone)]
pub(crate) struct Io {
    pub(crate) stdin: Input,
    pub(crate) stdout: Output,
    pub(crate) stderr: Output,
}

/// The state of one shell (a subshell is a clone).
#[derive(Clone)]
pub(crate) struct Shell {
    pub(crate) fs: Arc<Mutex<Fs>>,
    pub(crate) vars: BTreeMap<String, String>,
    pub(crate) exported: BTreeSet<String>,
    pub(crate) cwd: String,
    pub(crate) status: i32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) hostname: String,
    pub(crate) rng: Arc<Mutex<Rng>>,
    /// `$0`, `$1`, ...
    pub(crate) args: Vec<String>,
    pub(crate) ctl: Option<Ctl>,
    pub(crate) depth: usize,
    pub(crate) loop_depth: u32,
    /// Inside an `if`/`while` condition or the left of `&&`/`||`: `set -e` does not apply.
    pub(crate) cond_depth: u32,
    pub(crate) errexit: bool,
    pub(crate) pipefail: bool,
    /// Status of the last command substitution of the current simple command.
    pub(crate) status_of_subst: Option<i32>,
    /// The `trap ... EXIT` command.
    pub(crate) exit_trap: Option<String>,
    /// Defined functions.
    pub(crate) funcs: BTreeMap<String, Arc<Command>>,
    /// Function calls in progress.
    pub(crate) func_depth: usize,
}

impl Shell {
    pub(crate) fn new(
        fs: Arc<Mutex<Fs>>,
        uid: u32,
        gid: u32,
        hostname: String,
        seed: u64,
    ) -> Shell {
        Shell {
            fs,
            vars: BTreeMap::new(),
            exported: BTreeSet::new(),
            cwd: "/".to_owned(),
            status: 0,
            uid,
            gid,
            hostname,
            rng: Arc::new(Mutex::new(Rng(seed))),
            args: vec!["sh".to_owned()],
            ctl: None,
            depth: 0,
            loop_depth: 0,
            cond_depth: 0,
            errexit: false,
            pipefail: false,
            status_of_subst: None,
            exit_trap: None,
            funcs: BTreeMap::new(),
            func_depth: 0,
        }
    }

    /// A subshell: a copy whose changes do not flow back.
    pub(crate) fn subshell(&self) -> Shell {
        let mut s = self.clone();
        s.ctl = None;
        s.loop_depth = 0;
        s.exit_trap = None;
        s
    }

    pub(crate) fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub(crate) fn set_var(&mut self, name: &str, value: String) {
        self.vars.insert(name.to_owned(), value);
    }

    pub(crate) fn export(&mut self, name: &str) {
        self.exported.insert(name.to_owned());
    }

    /// The exported environment.
    pub(crate) fn env(&self) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter(|(k, _)| self.exported.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// An absolute, lexically normalised path for `p` relative to the working directory.
    pub(crate) fn abs(&self, p: &str) -> String {
        let joined = if p.starts_with('/') {
            p.to_owned()
        } else {
            format!("{}/{}", self.cwd, p)
        };
        normalize(&joined)
    }

    pub(crate) fn home(&self) -> String {
        self.var("HOME").unwrap_or("/").to_owned()
    }
}

/// Lexical normalisation of an absolute path (`.`/`..`/duplicate slashes).
pub(crate) fn normalize(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}", parts.join("/"))
    }
}

pub(crate) async fn report(io: &Io, msg: &str) {
    let _ = io.stderr.write(Bytes::from(msg.to_owned())).await;
}
