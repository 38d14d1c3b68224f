//! Running scripts: and-or lists, pipelines and compound commands.

use bytes::Bytes;
use tokio::sync::mpsc;

use super::expand::{expand_fields, expand_pattern, expand_single};
use super::glob::glob_match;
use super::redirs::apply_redirs;
use super::simple::exec_simple;
use super::{BoxFut, Ctl, Io, Shell, report};
use crate::shell::io::{Input, Output};
use crate::shell::parse::{AndOr, Command, Compound, Pipeline, Script};

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
