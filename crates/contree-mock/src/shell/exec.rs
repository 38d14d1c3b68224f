//! The interpreter: shell state, word expansion, redirections, pipelines and command dispatch.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::builtins;
use super::io::{Input, Output, Rng, lock};
use super::parse::{
    AndOr, Command, Compound, ParamOp, Part, Pipeline, RedirKind, Script, Simple, Word,
};
use crate::fs::{FileKind, Fs};

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

/// Runs a script.
pub(crate) fn exec_script<'a>(sh: &'a mut Shell, script: &'a Script, io: &'a Io) -> BoxFut<'a> {
    Box::pin(async move {
        let mut status = sh.status;
        for item in &script.0 {
            let (st, eligible) = exec_and_or(sh, item, io).await;
            status = st;
            sh.status = st;
            if sh.ctl.is_some() {
                break;
            }
            if sh.errexit && st != 0 && eligible && sh.cond_depth == 0 {
                sh.ctl = Some(Ctl::Exit(st));
                break;
            }
        }
        status
    })
}

/// Returns the status and whether `set -e` may act on it.
async fn exec_and_or(sh: &mut Shell, item: &AndOr, io: &Io) -> (i32, bool) {
    let has_rest = !item.rest.is_empty();
    if has_rest {
        sh.cond_depth += 1;
    }
    let mut status = exec_pipeline(sh, &item.first, io).await;
    let mut eligible = !item.first.negate && !has_rest;
    for (k, (and, p)) in item.rest.iter().enumerate() {
        if sh.ctl.is_some() {
            break;
        }
        sh.status = status;
        let run = if *and { status == 0 } else { status != 0 };
        if run {
            let last = k + 1 == item.rest.len();
            if last {
                sh.cond_depth -= 1;
            }
            status = exec_pipeline(sh, p, io).await;
            if last {
                sh.cond_depth += 1;
                eligible = !p.negate;
            }
        }
    }
    if has_rest {
        sh.cond_depth -= 1;
    }
    (status, eligible)
}

async fn exec_pipeline(sh: &mut Shell, p: &Pipeline, io: &Io) -> i32 {
    if p.negate {
        sh.cond_depth += 1;
    }
    let status = if p.cmds.len() == 1 {
        exec_command(sh, &p.cmds[0], io).await
    } else {
        let mut futs: Vec<BoxFut<'_>> = Vec::new();
        let mut prev_in = io.stdin.clone();
        let n = p.cmds.len();
        for (k, cmd) in p.cmds.iter().enumerate() {
            let (stdout, next_in) = if k + 1 == n {
                (io.stdout.clone(), None)
            } else {
                let (tx, rx) = mpsc::channel::<Bytes>(8);
                (Output::Pipe(tx), Some(Input::chan(rx)))
            };
            let stage_io = Io {
                stdin: prev_in,
                stdout,
                stderr: io.stderr.clone(),
            };
            let mut sub = sh.subshell();
            futs.push(Box::pin(async move {
                let st = exec_command(&mut sub, cmd, &stage_io).await;
                match sub.ctl {
                    Some(Ctl::Exit(code)) => code,
                    _ => st,
                }
            }));
            prev_in = next_in.unwrap_or_else(Input::empty);
        }
        let statuses = futures_util::future::join_all(futs).await;
        if sh.pipefail {
            statuses
                .iter()
                .rev()
                .copied()
                .find(|s| *s != 0)
                .unwrap_or(0)
        } else {
            statuses.last().copied().unwrap_or(0)
        }
    };
    if p.negate {
        sh.cond_depth -= 1;
        i32::from(status == 0)
    } else {
        status
    }
}

/// Runs one pipeline stage in the current shell.
pub(crate) fn exec_command<'a>(sh: &'a mut Shell, cmd: &'a Command, io: &'a Io) -> BoxFut<'a> {
    Box::pin(async move {
        match cmd {
            Command::Simple(s) => exec_simple(sh, s, io).await,
            Command::Compound(c, redirs) => {
                let io2 = match apply_redirs(sh, redirs, io).await {
                    Ok(io2) => io2,
                    Err(msg) => {
                        report(io, &format!("sh: {msg}\n")).await;
                        return 1;
                    }
                };
                exec_compound(sh, c, &io2).await
            }
            Command::FuncDef(name, body) => {
                sh.funcs.insert(name.clone(), body.clone());
                0
            }
        }
    })
}

async fn exec_compound(sh: &mut Shell, c: &Compound, io: &Io) -> i32 {
    match c {
        Compound::Subshell(s) => {
            let mut sub = sh.subshell();
            let st = exec_script(&mut sub, s, io).await;
            match sub.ctl {
                Some(Ctl::Exit(code)) => code,
                _ => st,
            }
        }
        Compound::Group(s) => exec_script(sh, s, io).await,
        Compound::Case { word, arms } => {
            let value: Vec<char> = match expand_single(sh, word, io).await {
                Ok(v) => v.chars().collect(),
                Err(code) => return code,
            };
            for (pats, body) in arms {
                for p in pats {
                    let pat: Vec<char> = match expand_pattern(sh, p, io).await {
                        Ok(p) => p.chars().collect(),
                        Err(code) => return code,
                    };
                    if glob_match(&pat, &value) {
                        return exec_script(sh, body, io).await;
                    }
                }
            }
            0
        }
        Compound::If { arms, otherwise } => {
            for (cond, body) in arms {
                sh.cond_depth += 1;
                let st = exec_script(sh, cond, io).await;
                sh.cond_depth -= 1;
                if sh.ctl.is_some() {
                    return st;
                }
                if st == 0 {
                    return exec_script(sh, body, io).await;
                }
            }
            match otherwise {
                Some(e) => exec_script(sh, e, io).await,
                None => 0,
            }
        }
        Compound::For { var, items, body } => {
            let values = match items {
                Some(words) => {
                    let mut v = Vec::new();
                    for w in words {
                        match expand_fields(sh, w, io).await {
                            Ok(f) => v.extend(f),
                            Err(code) => return code,
                        }
                    }
                    v
                }
                None => sh.args.iter().skip(1).cloned().collect(),
            };
            let mut status = 0;
            sh.loop_depth += 1;
            for value in values {
                tokio::task::coop::consume_budget().await;
                sh.set_var(var, value);
                status = exec_script(sh, body, io).await;
                if loop_ctl(sh) {
                    break;
                }
            }
            sh.loop_depth -= 1;
            status
        }
        Compound::While { cond, body, until } => {
            let mut status = 0;
            sh.loop_depth += 1;
            loop {
                tokio::task::coop::consume_budget().await;
                sh.cond_depth += 1;
                let st = exec_script(sh, cond, io).await;
                sh.cond_depth -= 1;
                if sh.ctl.is_some() {
                    if loop_ctl(sh) {
                        break;
                    }
                    continue;
                }
                if (st == 0) == *until {
                    break;
                }
                status = exec_script(sh, body, io).await;
                if loop_ctl(sh) {
                    break;
                }
            }
            sh.loop_depth -= 1;
            status
        }
    }
}

/// Handles a pending break/continue at a loop boundary; true when the loop must stop.
fn loop_ctl(sh: &mut Shell) -> bool {
    match sh.ctl {
        None => false,
        Some(Ctl::Exit(_)) | Some(Ctl::Return(_)) => true,
        Some(Ctl::Break(n)) => {
            sh.ctl = if n > 1 { Some(Ctl::Break(n - 1)) } else { None };
            true
        }
        Some(Ctl::Continue(n)) => {
            if n > 1 {
                sh.ctl = Some(Ctl::Continue(n - 1));
                true
            } else {
                sh.ctl = None;
                false
            }
        }
    }
}

pub(crate) async fn report(io: &Io, msg: &str) {
    let _ = io.stderr.write(Bytes::from(msg.to_owned())).await;
}

async fn exec_simple(sh: &mut Shell, c: &Simple, io: &Io) -> i32 {
    sh.status_of_subst = None;
    let mut argv = Vec::new();
    for w in &c.words {
        match expand_fields(sh, w, io).await {
            Ok(f) => argv.extend(f),
            Err(code) => return code,
        }
    }
    let mut assigns = Vec::new();
    for (name, w) in &c.assigns {
        match expand_single(sh, w, io).await {
            Ok(v) => assigns.push((name.clone(), v)),
            Err(code) => return code,
        }
    }
    if argv.is_empty() {
        for (name, v) in assigns {
            sh.set_var(&name, v);
        }
        let st = sh.status_of_subst.unwrap_or(0);
        if let Err(msg) = apply_redirs(sh, &c.redirs, io).await {
            report(io, &format!("sh: {msg}\n")).await;
            return 1;
        }
        return st;
    }
    let io2 = match apply_redirs(sh, &c.redirs, io).await {
        Ok(io2) => io2,
        Err(msg) => {
            report(io, &format!("sh: {msg}\n")).await;
            return 1;
        }
    };
    if assigns.is_empty() {
        return run_argv(sh, argv, &io2).await;
    }
    // Prefix assignments apply to this command only.
    let saved: Vec<(String, Option<String>, bool)> = assigns
        .iter()
        .map(|(n, _)| (n.clone(), sh.vars.get(n).cloned(), sh.exported.contains(n)))
        .collect();
    for (n, v) in assigns {
        sh.set_var(&n, v);
        sh.export(&n);
    }
    let st = run_argv(sh, argv, &io2).await;
    for (n, old, was_exported) in saved {
        match old {
            Some(v) => {
                sh.vars.insert(n.clone(), v);
            }
            None => {
                sh.vars.remove(&n);
            }
        }
        if !was_exported {
            sh.exported.remove(&n);
        }
    }
    st
}

/// Runs an already expanded command line: a builtin, a script file, or "not found".
pub(crate) fn run_argv<'a>(sh: &'a mut Shell, argv: Vec<String>, io: &'a Io) -> BoxFut<'a> {
    Box::pin(async move {
        let Some(name) = argv.first().cloned() else {
            return 0;
        };
        if name.contains('/') {
            let base = name.rsplit('/').next().unwrap_or("").to_owned();
            let path = sh.abs(&name);
            let meta = lock(&sh.fs).stat(&path);
            match meta {
                Ok(m) if m.kind == FileKind::File && !builtins::is_builtin(&base) => {
                    return run_file(sh, &name, &path, m.mode, argv, io).await;
                }
                Ok(m) if m.kind == FileKind::Dir => {
                    report(io, &format!("sh: {name}: Permission denied\n")).await;
                    return 126;
                }
                _ if builtins::is_builtin(&base) => {
                    return builtins::run(sh, &base, argv, io).await;
                }
                _ => {
                    report(io, &format!("sh: {name}: not found\n")).await;
                    return 127;
                }
            }
        }
        if let Some(body) = sh.funcs.get(&name).cloned() {
            if sh.depth + sh.func_depth >= MAX_DEPTH {
                report(
                    io,
                    &format!("sh: {name}: maximum function nesting depth exceeded\n"),
                )
                .await;
                return 2;
            }
            let mut args = vec![sh.args.first().cloned().unwrap_or_default()];
            args.extend(argv.into_iter().skip(1));
            let saved = std::mem::replace(&mut sh.args, args);
            sh.func_depth += 1;
            let saved_loops = std::mem::replace(&mut sh.loop_depth, 0);
            let mut st = exec_command(sh, &body, io).await;
            sh.loop_depth = saved_loops;
            sh.func_depth -= 1;
            sh.args = saved;
            if let Some(Ctl::Return(n)) = sh.ctl {
                sh.ctl = None;
                st = n;
            }
            return st;
        }
        if builtins::is_builtin(&name) {
            return builtins::run(sh, &name, argv, io).await;
        }
        if let Some(path) = which(sh, &name) {
            let mode = lock(&sh.fs).stat(&path).map(|m| m.mode).unwrap_or(0);
            return run_file(sh, &name, &path, mode, argv, io).await;
        }
        report(io, &format!("sh: {name}: not found\n")).await;
        127
    })
}

/// Finds a regular file named `name` in `$PATH`.
pub(crate) fn which(sh: &Shell, name: &str) -> Option<String> {
    let path = sh.var("PATH").unwrap_or("").to_owned();
    let fs = lock(&sh.fs);
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = normalize(&format!("{}/{name}", sh.abs(dir)));
        if let Ok(m) = fs.stat(&cand)
            && m.kind == FileKind::File
        {
            return Some(cand);
        }
    }
    None
}

/// Executes a file of the filesystem: shell scripts run, anything else cannot be executed.
async fn run_file(
    sh: &mut Shell,
    name: &str,
    path: &str,
    mode: u32,
    argv: Vec<String>,
    io: &Io,
) -> i32 {
    if mode & 0o111 == 0 {
        report(io, &format!("sh: {name}: Permission denied\n")).await;
        return 126;
    }
    let content = lock(&sh.fs).read(path);
    let Ok(content) = content else {
        report(io, &format!("sh: {name}: not found\n")).await;
        return 127;
    };
    let text = String::from_utf8_lossy(&content).into_owned();
    let first = text.lines().next().unwrap_or("");
    let is_script = if let Some(interp) = first.strip_prefix("#!") {
        let prog = interp.split_whitespace().collect::<Vec<_>>();
        let base = |s: &str| s.rsplit('/').next().unwrap_or("").to_owned();
        match prog.as_slice() {
            [p, ..] if matches!(base(p).as_str(), "sh" | "bash" | "dash" | "ash") => true,
            [p, arg, ..] if base(p) == "env" && matches!(*arg, "sh" | "bash") => true,
            _ => false,
        }
    } else {
        !content.contains(&0)
    };
    if !is_script {
        report(
            io,
            &format!("sh: {name}: cannot execute binary file (the ConTree mock only runs shell scripts and builtins)\n"),
        )
        .await;
        return 126;
    }
    let mut args = argv;
    if let Some(a0) = args.first_mut() {
        *a0 = name.to_owned();
    }
    run_script_text(sh, &text, args, io).await
}

/// Runs script source in a subshell with the given `$0 $1 ...`.
pub(crate) async fn run_script_text(sh: &mut Shell, text: &str, args: Vec<String>, io: &Io) -> i32 {
    if sh.depth >= MAX_DEPTH {
        report(io, "sh: maximum nesting depth exceeded\n").await;
        return 2;
    }
    let script = match super::parse::parse(text) {
        Ok(s) => s,
        Err(e) => {
            report(io, &format!("sh: {e}\n")).await;
            return 2;
        }
    };
    // A new process: only exported variables are inherited.
    let mut sub = sh.subshell();
    sub.vars = sh.env();
    sub.depth += 1;
    sub.args = args;
    sub.cond_depth = 0;
    let st = exec_script(&mut sub, &script, io).await;
    finish(&mut sub, st, io).await
}

/// The exit status of a finished shell process, after running its `trap ... EXIT` command.
pub(crate) async fn finish(sh: &mut Shell, status: i32, io: &Io) -> i32 {
    let code = match sh.ctl {
        Some(Ctl::Exit(code)) => code,
        _ => status,
    };
    let Some(trap) = sh.exit_trap.take() else {
        return code;
    };
    let Ok(script) = super::parse::parse(&trap) else {
        return code;
    };
    sh.ctl = None;
    sh.status = code;
    sh.cond_depth = 0;
    let _ = exec_script(sh, &script, io).await;
    match sh.ctl {
        Some(Ctl::Exit(c)) => c,
        _ => code,
    }
}

/// Applies redirections, returning the new streams or an error message.
pub(crate) async fn apply_redirs(
    sh: &mut Shell,
    redirs: &[super::parse::Redir],
    io: &Io,
) -> Result<Io, String> {
    let mut io = io.clone();
    for r in redirs {
        match &r.kind {
            RedirKind::Out(w) | RedirKind::Append(w) | RedirKind::Both(w, _) => {
                let target = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad redirection".to_owned())?;
                let append = matches!(r.kind, RedirKind::Append(_) | RedirKind::Both(_, true));
                let out = open_write(sh, &target, append, &io)?;
                if matches!(r.kind, RedirKind::Both(..)) {
                    io.stdout = out.clone();
                    io.stderr = out;
                } else {
                    set_out(&mut io, r.fd, out)?;
                }
            }
            RedirKind::In(w) => {
                let target = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad redirection".to_owned())?;
                let input = open_read(sh, &target, &io)?;
                if r.fd == 0 {
                    io.stdin = input;
                }
            }
            RedirKind::Here(w) => {
                let text = expand_single(sh, w, &io)
                    .await
                    .map_err(|_| "bad here-document".to_owned())?;
                if r.fd == 0 {
                    io.stdin = Input::data(Bytes::from(text));
                }
            }
            RedirKind::Dup(None) => {
                if r.fd == 0 {
                    io.stdin = Input::empty();
                } else {
                    set_out(&mut io, r.fd, Output::Null)?;
                }
            }
            RedirKind::Dup(Some(src)) => {
                if r.fd == 0 {
                    if *src != 0 {
                        return Err(format!("{src}: Bad file descriptor"));
                    }
                } else {
                    let out = match src {
                        1 => io.stdout.clone(),
                        2 => io.stderr.clone(),
                        n => return Err(format!("{n}: Bad file descriptor")),
                    };
                    set_out(&mut io, r.fd, out)?;
                }
            }
        }
    }
    Ok(io)
}

fn set_out(io: &mut Io, fd: u32, out: Output) -> Result<(), String> {
    match fd {
        1 => io.stdout = out,
        2 => io.stderr = out,
        // Other descriptors are accepted and discarded (nothing reads them).
        _ => {}
    }
    Ok(())
}

/// Opens a path for reading (devices included).
pub(crate) fn open_read(sh: &Shell, path: &str, io: &Io) -> Result<Input, String> {
    match path {
        "/dev/null" => return Ok(Input::empty()),
        "/dev/zero" => return Ok(Input::zero()),
        "/dev/urandom" | "/dev/random" => return Ok(Input::random(sh.rng.clone())),
        "/dev/stdin" | "/dev/fd/0" | "/proc/self/fd/0" => return Ok(io.stdin.clone()),
        _ => {}
    }
    let abs = sh.abs(path);
    let data = lock(&sh.fs).read(&abs);
    data.map(Input::data)
        .map_err(|e| format!("{path}: {}", e.reason()))
}

/// Opens a path for writing (truncating unless `append`), creating it owned by the shell's user.
pub(crate) fn open_write(sh: &Shell, path: &str, append: bool, io: &Io) -> Result<Output, String> {
    match path {
        "/dev/null" => return Ok(Output::Null),
        "/dev/stdout" | "/dev/fd/1" => return Ok(io.stdout.clone()),
        "/dev/stderr" | "/dev/fd/2" => return Ok(io.stderr.clone()),
        "" => return Err(": No such file or directory".to_owned()),
        _ => {}
    }
    let abs = sh.abs(path);
    let mut fs = lock(&sh.fs);
    let existed = fs.exists(&abs);
    let res = if append {
        fs.append(&abs, &[])
    } else {
        fs.write(&abs, Bytes::new())
    };
    res.map_err(|e| format!("{path}: {}", e.reason()))?;
    let canon = fs
        .canonicalize(&abs)
        .map_err(|e| format!("{path}: {}", e.reason()))?;
    if !existed {
        let _ = fs.chown(&canon, sh.uid, sh.gid);
    }
    Ok(Output::File(sh.fs.clone(), canon))
}

// ---------------------------------------------------------------------------------------------
// Word expansion

#[derive(Default)]
struct Field {
    text: String,
    pattern: String,
    glob: bool,
}

impl Field {
    fn lit(&mut self, s: &str) {
        self.text.push_str(s);
        self.pattern.push_str(s);
        if s.contains(['*', '?', '[']) {
            self.glob = true;
        }
    }

    fn quoted(&mut self, s: &str) {
        self.text.push_str(s);
        for c in s.chars() {
            if matches!(c, '*' | '?' | '[' | ']' | '\\') {
                self.pattern.push('\\');
            }
            self.pattern.push(c);
        }
    }
}

/// Expands a word into fields (splitting unquoted expansions, globbing). `Err` carries the
/// status of a failed expansion (the shell is already told to exit when that is fatal).
pub(crate) async fn expand_fields(sh: &mut Shell, w: &Word, io: &Io) -> Result<Vec<String>, i32> {
    let mut fields: Vec<Field> = Vec::new();
    let mut cur = Field::default();
    let mut live = false;
    for part in &w.0 {
        match part {
            Part::Lit(s) => {
                cur.lit(s);
                live = true;
            }
            Part::Quoted(s) => {
                cur.quoted(s);
                live = true;
            }
            Part::Tilde => {
                cur.quoted(&sh.home());
                live = true;
            }
            Part::Param {
                name,
                op: None,
                quoted: true,
            } if name == "@" => {
                let args: Vec<String> = sh.args.iter().skip(1).cloned().collect();
                for (k, a) in args.iter().enumerate() {
                    if k > 0 {
                        fields.push(std::mem::take(&mut cur));
                    }
                    cur.quoted(a);
                    live = true;
                }
            }
            _ => {
                let (value, quoted) = expand_part(sh, part, io).await?;
                if quoted {
                    cur.quoted(&value);
                    live = true;
                } else {
                    split_into(&value, &mut fields, &mut cur, &mut live);
                }
            }
        }
    }
    if live {
        fields.push(cur);
    }
    let mut out = Vec::new();
    for f in fields {
        if f.glob {
            let matches = glob(sh, &f.pattern);
            if matches.is_empty() {
                out.push(f.text);
            } else {
                out.extend(matches);
            }
        } else {
            out.push(f.text);
        }
    }
    Ok(out)
}

fn split_into(value: &str, fields: &mut Vec<Field>, cur: &mut Field, live: &mut bool) {
    if value.is_empty() {
        return;
    }
    let is_ws = |c: char| matches!(c, ' ' | '\t' | '\n');
    if value.starts_with(is_ws) && *live {
        fields.push(std::mem::take(cur));
        *live = false;
    }
    for (k, piece) in value.split(is_ws).filter(|p| !p.is_empty()).enumerate() {
        if k > 0 {
            fields.push(std::mem::take(cur));
        }
        cur.lit(piece);
        *live = true;
    }
    if value.ends_with(is_ws) && *live {
        fields.push(std::mem::take(cur));
        *live = false;
    }
}

/// Expands a word into one string (no splitting, no globbing).
pub(crate) async fn expand_single(sh: &mut Shell, w: &Word, io: &Io) -> Result<String, i32> {
    let mut s = String::new();
    for part in &w.0 {
        match part {
            Part::Lit(t) | Part::Quoted(t) => s.push_str(t),
            Part::Tilde => s.push_str(&sh.home()),
            _ => s.push_str(&expand_part(sh, part, io).await?.0),
        }
    }
    Ok(s)
}

/// Expands a word into a glob pattern (quoted parts escaped).
async fn expand_pattern(sh: &mut Shell, w: &Word, io: &Io) -> Result<String, i32> {
    let mut f = Field::default();
    for part in &w.0 {
        match part {
            Part::Lit(t) => f.lit(t),
            Part::Quoted(t) => f.quoted(t),
            Part::Tilde => f.quoted(&sh.home()),
            _ => {
                let (v, quoted) = expand_part(sh, part, io).await?;
                if quoted { f.quoted(&v) } else { f.lit(&v) }
            }
        }
    }
    Ok(f.pattern)
}

fn param_value(sh: &Shell, name: &str) -> Option<String> {
    match name {
        "?" => Some(sh.status.to_string()),
        "#" => Some(sh.args.len().saturating_sub(1).to_string()),
        "$" => Some("1".to_owned()),
        "!" => Some(String::new()),
        "-" => Some(if sh.errexit { "e" } else { "" }.to_owned()),
        "@" | "*" => Some(
            sh.args
                .iter()
                .skip(1)
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        n if n.chars().all(|c| c.is_ascii_digit()) => n
            .parse::<usize>()
            .ok()
            .and_then(|i| sh.args.get(i).cloned()),
        n => sh.vars.get(n).cloned(),
    }
}

/// The future of [`expand_part`].
type ExpandFut<'a> = Pin<Box<dyn Future<Output = Result<(String, bool), i32>> + Send + 'a>>;

/// Expands one expansion part; returns its value and whether it was quoted.
fn expand_part<'a>(sh: &'a mut Shell, part: &'a Part, io: &'a Io) -> ExpandFut<'a> {
    Box::pin(async move {
        match part {
            Part::Lit(s) => Ok((s.clone(), false)),
            Part::Quoted(s) => Ok((s.clone(), true)),
            Part::Tilde => Ok((sh.home(), true)),
            Part::Param { name, op, quoted } => {
                let value = param_value(sh, name);
                let v = match op {
                    None => value.unwrap_or_default(),
                    Some((op, word)) => {
                        let unset = |colon: bool| match &value {
                            None => true,
                            Some(v) => colon && v.is_empty(),
                        };
                        match *op {
                            ParamOp::Length => {
                                value.unwrap_or_default().chars().count().to_string()
                            }
                            ParamOp::Default(colon) => {
                                if unset(colon) {
                                    expand_single(sh, word, io).await?
                                } else {
                                    value.unwrap_or_default()
                                }
                            }
                            ParamOp::Assign(colon) => {
                                if unset(colon) {
                                    let v = expand_single(sh, word, io).await?;
                                    sh.set_var(name, v.clone());
                                    v
                                } else {
                                    value.unwrap_or_default()
                                }
                            }
                            ParamOp::Alt(colon) => {
                                if unset(colon) {
                                    String::new()
                                } else {
                                    expand_single(sh, word, io).await?
                                }
                            }
                            ParamOp::Error(colon) => {
                                if unset(colon) {
                                    let msg = expand_single(sh, word, io).await?;
                                    let msg = if msg.is_empty() {
                                        "parameter null or not set".to_owned()
                                    } else {
                                        msg
                                    };
                                    report(io, &format!("sh: {name}: {msg}\n")).await;
                                    sh.ctl = Some(Ctl::Exit(1));
                                    return Err(1);
                                }
                                value.unwrap_or_default()
                            }
                            ParamOp::TrimPrefix(longest) | ParamOp::TrimSuffix(longest) => {
                                let v = value.unwrap_or_default();
                                let pat: Vec<char> =
                                    expand_pattern(sh, word, io).await?.chars().collect();
                                let chars: Vec<char> = v.chars().collect();
                                let prefix = matches!(op, ParamOp::TrimPrefix(_));
                                trim(&chars, &pat, prefix, longest)
                            }
                        }
                    }
                };
                Ok((v, *quoted))
            }
            Part::CmdSub { script, quoted } => {
                if sh.depth >= MAX_DEPTH {
                    report(io, "sh: maximum nesting depth exceeded\n").await;
                    return Err(2);
                }
                let buf = Arc::new(Mutex::new(Vec::new()));
                let sub_io = Io {
                    stdin: io.stdin.clone(),
                    stdout: Output::Capture(buf.clone()),
                    stderr: io.stderr.clone(),
                };
                let mut sub = sh.subshell();
                sub.depth += 1;
                sub.cond_depth = 0;
                let st = exec_script(&mut sub, script, &sub_io).await;
                let st = match sub.ctl {
                    Some(Ctl::Exit(c)) => c,
                    _ => st,
                };
                sh.status_of_subst = Some(st);
                sh.status = st;
                let bytes = std::mem::take(&mut *buf.lock().unwrap_or_else(|e| e.into_inner()));
                let mut s = String::from_utf8_lossy(&bytes).into_owned();
                while s.ends_with('\n') {
                    s.pop();
                }
                Ok((s, *quoted))
            }
            Part::Arith { expr, quoted } => {
                let text = expand_single(sh, expr, io).await?;
                match super::arith::eval(&text, sh) {
                    Ok(n) => Ok((n.to_string(), *quoted)),
                    Err(e) => {
                        report(
                            io,
                            &format!("sh: arithmetic expression: {e}: \"{}\"\n", text.trim()),
                        )
                        .await;
                        sh.ctl = Some(Ctl::Exit(2));
                        Err(2)
                    }
                }
            }
        }
    })
}

fn trim(chars: &[char], pat: &[char], prefix: bool, longest: bool) -> String {
    let n = chars.len();
    let lens: Vec<usize> = if longest {
        (0..=n).rev().collect()
    } else {
        (0..=n).collect()
    };
    for len in lens {
        let (candidate, rest) = if prefix {
            (&chars[..len], &chars[len..])
        } else {
            (&chars[n - len..], &chars[..n - len])
        };
        if glob_match(pat, candidate) {
            return rest.iter().collect();
        }
    }
    chars.iter().collect()
}

/// Matches `text` against a glob pattern with `*`, `?`, `[...]` and backslash escapes.
pub(crate) fn glob_match(pat: &[char], text: &[char]) -> bool {
    // Iterative matcher with backtracking on the last `*`.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            match pat[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(pat, p, text[t])
                        && matched
                    {
                        p = next;
                        t += 1;
                        continue;
                    } else if class_match(pat, p, text[t]).is_none() && text[t] == '[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                '\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == text[t] {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if c == text[t] {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while p < pat.len() && pat[p] == '*' {
        p += 1;
    }
    p == pat.len()
}

/// Matches a `[...]` class at `pat[p]`; `None` if the class is not closed.
fn class_match(pat: &[char], p: usize, c: char) -> Option<(bool, usize)> {
    let mut i = p + 1;
    let negate = matches!(pat.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        let mut ch = pat[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == '\\' && i + 1 < pat.len() {
            i += 1;
            ch = pat[i];
        }
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = pat[i + 2];
            if ch <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

fn has_glob(component: &str) -> bool {
    let mut esc = false;
    for c in component.chars() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Pathname expansion; the results are sorted, empty if nothing matches.
pub(crate) fn glob(sh: &Shell, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    // (display path, absolute path)
    let mut cands: Vec<(String, String)> = vec![if absolute {
        (String::new(), String::new())
    } else {
        (
            String::new(),
            if sh.cwd == "/" {
                String::new()
            } else {
                sh.cwd.clone()
            },
        )
    }];
    let fs = lock(&sh.fs);
    for (k, comp) in comps.iter().enumerate() {
        let last = k + 1 == comps.len();
        let mut next = Vec::new();
        for (disp, abs) in &cands {
            let join = |d: &str, name: &str| {
                if d.is_empty() && !absolute {
                    name.to_owned()
                } else {
                    format!("{d}/{name}")
                }
            };
            if has_glob(comp) {
                let dir = if abs.is_empty() { "/" } else { abs.as_str() };
                let Ok(entries) = fs.list(dir) else { continue };
                let pat: Vec<char> = comp.chars().collect();
                for (name, meta) in entries {
                    if name.starts_with('.') && !comp.starts_with('.') {
                        continue;
                    }
                    let is_dir_like = meta.kind == FileKind::Dir
                        || fs
                            .stat(&format!("{abs}/{name}"))
                            .is_ok_and(|m| m.kind == FileKind::Dir);
                    if !last && !is_dir_like {
                        continue;
                    }
                    let chars: Vec<char> = name.chars().collect();
                    if glob_match(&pat, &chars) {
                        next.push((join(disp, &name), format!("{abs}/{name}")));
                    }
                }
            } else {
                let name = unescape(comp);
                next.push((join(disp, &name), format!("{abs}/{name}")));
            }
        }
        cands = next;
        if cands.is_empty() {
            break;
        }
    }
    let mut out: Vec<String> = cands
        .into_iter()
        .filter(|(_, abs)| fs.lstat(if abs.is_empty() { "/" } else { abs }).is_ok())
        .map(|(d, _)| if d.is_empty() { "/".to_owned() } else { d })
        .collect();
    if pattern.ends_with('/') {
        for o in &mut out {
            o.push('/');
        }
    }
    out.sort();
    out
}
