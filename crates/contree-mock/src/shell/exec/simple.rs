//! Simple commands: assignments, builtins, functions and script files, and the end of a run.

use super::expand::{expand_fields, expand_single};
use super::lists::{exec_command, exec_script};
use super::redirs::apply_redirs;
use super::{BoxFut, Ctl, Io, MAX_DEPTH, Shell, normalize, report};
use crate::fs::FileKind;
use crate::shell::builtins;
use crate::shell::io::lock;
use crate::shell::parse::Simple;

pub(super) async fn exec_simple(sh: &mut Shell, c: &Simple, io: &Io) -> i32 {
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
    let script = match crate::shell::parse::parse(text) {
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
    let Ok(script) = crate::shell::parse::parse(&trap) else {
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
