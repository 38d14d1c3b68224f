//! Builtins that run other commands or scripts: eval, exec, source, sh, command, which, type,
//! xargs.

use super::util::fs_msg;
use super::{Ctx, R, is_builtin};
use crate::shell::exec;
use crate::shell::exec::{Ctl, Io, Shell, report, run_argv};
use crate::shell::io::Input;

pub(super) async fn source(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(file) = a.first() else {
        c.fail("filename argument required").await?;
        return Ok(2);
    };
    let path = if file.contains('/') {
        Some(c.abs(file))
    } else {
        exec::which(c.sh, file).or_else(|| Some(c.abs(file)))
    };
    let data = path.map(|p| c.fs().read(&p));
    let text = match data {
        Some(Ok(d)) => String::from_utf8_lossy(&d).into_owned(),
        _ => {
            c.fail(&format!("{file}: not found")).await?;
            return Ok(1);
        }
    };
    run_text(c, &text, &format!("{file}: ")).await
}

/// Parses `text` and runs it in this shell (`.` and `eval`); a syntax error fails with
/// `prefix` and the error, status 2.
async fn run_text(c: &mut Ctx<'_>, text: &str, prefix: &str) -> R {
    match crate::shell::parse::parse(text) {
        Ok(script) => {
            let io = c.io.clone();
            c.out.flush().await?;
            Ok(exec::exec_script(c.sh, &script, &io).await)
        }
        Err(e) => {
            c.fail(&format!("{prefix}{e}")).await?;
            Ok(2)
        }
    }
}

pub(super) async fn sh_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut errexit = false;
    let mut pipefail = false;
    let mut command: Option<String> = None;
    let mut i = 0;
    let mut want_c = false;
    while i < a.len() {
        let s = &a[i];
        if s == "--" {
            i += 1;
            break;
        }
        if s.len() < 2 || !(s.starts_with('-') || s.starts_with('+')) {
            break;
        }
        if s == "--login" || s == "--norc" || s == "--noprofile" || s == "--posix" {
            i += 1;
            continue;
        }
        i += 1;
        for f in s[1..].chars() {
            match f {
                'c' => want_c = true,
                'e' => errexit = true,
                'o' => {
                    if a.get(i).map(String::as_str) == Some("pipefail") {
                        pipefail = true;
                    }
                    if a.get(i).map(String::as_str) == Some("errexit") {
                        errexit = true;
                    }
                    i += 1;
                }
                _ => {}
            }
        }
    }
    if want_c {
        command = a.get(i).cloned();
        i += 1;
        if command.is_none() {
            c.fail("-c: option requires an argument").await?;
            return Ok(2);
        }
    }
    let io = c.io.clone();
    c.out.flush().await?;
    let mut base = c.sh.subshell();
    base.errexit = errexit;
    base.pipefail = pipefail;
    base.cond_depth = 0;
    if let Some(cmd) = command {
        let mut args = vec![a.get(i).cloned().unwrap_or_else(|| c.name.clone())];
        args.extend(a.iter().skip(i + 1).cloned());
        return Ok(exec::run_script_text(&mut base, &cmd, args, &io).await);
    }
    if let Some(file) = a.get(i) {
        let abs = c.abs(file);
        let data = c.fs().read(&abs);
        return match data {
            Ok(d) => {
                let text = String::from_utf8_lossy(&d).into_owned();
                let args: Vec<String> = a[i..].to_vec();
                Ok(exec::run_script_text(&mut base, &text, args, &io).await)
            }
            Err(e) => {
                c.fail(&format!("{file}: {}", fs_msg(&e))).await?;
                Ok(127)
            }
        };
    }
    // Commands from standard input, run as soon as each is complete.
    base.args = vec![c.name.clone()];
    let input = c.io.stdin.clone();
    Ok(run_stdin(&mut base, &input, &io, &c.name).await)
}

/// Runs commands from standard input as soon as each is complete (`sh` with no script); the
/// status of the last one, or the code of an `exit`.
async fn run_stdin(base: &mut Shell, input: &Input, io: &Io, name: &str) -> i32 {
    let mut pending = String::new();
    let mut status = 0;
    loop {
        let line = input.read_line().await;
        let eof = line.is_none();
        if let Some(l) = line {
            pending.push_str(&String::from_utf8_lossy(&l));
        }
        if pending.trim().is_empty() {
            pending.clear();
            if eof {
                break;
            }
            continue;
        }
        match crate::shell::parse::parse(&pending) {
            Ok(script) => {
                pending.clear();
                status = exec::exec_script(base, &script, io).await;
                if let Some(Ctl::Exit(code)) = base.ctl {
                    return code;
                }
            }
            Err(e) => {
                let incomplete = ["end of input", "unterminated", "missing", "expecting"]
                    .iter()
                    .any(|k| e.0.contains(k));
                if !incomplete || eof {
                    report(io, &format!("{}: {e}\n", name)).await;
                    pending.clear();
                    status = 2;
                }
            }
        }
        if eof {
            break;
        }
    }
    status
}

pub(super) async fn command(c: &mut Ctx<'_>, a: &[String]) -> R {
    let (query, rest) = match a.first().map(String::as_str) {
        Some("-v") | Some("-V") => (true, &a[1..]),
        _ => (false, a),
    };
    if query {
        let mut status = 0;
        for n in rest {
            if let Some(p) = exec::which(c.sh, n) {
                c.out.put(&format!("{p}\n")).await?;
            } else if is_builtin(n) {
                c.out.put(&format!("{n}\n")).await?;
            } else {
                status = 1;
            }
        }
        return Ok(status);
    }
    if rest.is_empty() {
        return Ok(0);
    }
    c.out.flush().await?;
    let io = c.io.clone();
    Ok(run_argv(c.sh, rest.to_vec(), &io).await)
}

pub(super) async fn which(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut status = 0;
    for n in a.iter().filter(|s| !s.starts_with('-')) {
        match exec::which(c.sh, n) {
            Some(p) => c.out.put(&format!("{p}\n")).await?,
            None => status = 1,
        }
    }
    Ok(status)
}

pub(super) async fn type_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut status = 0;
    for n in a {
        if let Some(p) = exec::which(c.sh, n) {
            c.out.put(&format!("{n} is {p}\n")).await?;
        } else if is_builtin(n) {
            c.out.put(&format!("{n} is a shell builtin\n")).await?;
        } else {
            c.fail(&format!("{n}: not found")).await?;
            status = 1;
        }
    }
    Ok(status)
}

pub(super) async fn xargs(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut per: Option<usize> = None;
    let mut i = 0;
    while i < a.len() && a[i].starts_with('-') {
        match a[i].as_str() {
            "-n" => {
                per = a.get(i + 1).and_then(|v| v.parse().ok()).filter(|n| *n > 0);
                i += 1;
            }
            "-0" | "-r" | "--no-run-if-empty" | "-t" => {}
            s if s.starts_with("-n") => per = s[2..].parse().ok().filter(|n| *n > 0),
            other => {
                c.fail(&format!(
                    "invalid option -- '{}'",
                    other.trim_start_matches('-')
                ))
                .await?;
                return Ok(1);
            }
        }
        i += 1;
    }
    let cmd: Vec<String> = if i < a.len() {
        a[i..].to_vec()
    } else {
        vec!["echo".to_owned()]
    };
    let data = c.io.stdin.read_all().await;
    let items: Vec<String> = String::from_utf8_lossy(&data)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if items.is_empty() {
        return Ok(0);
    }
    let batch = per.unwrap_or(items.len());
    let io = Io {
        stdin: Input::empty(),
        stdout: c.io.stdout.clone(),
        stderr: c.io.stderr.clone(),
    };
    let mut status = 0;
    for chunk in items.chunks(batch) {
        let mut argv = cmd.clone();
        argv.extend(chunk.iter().cloned());
        let mut sub = c.sh.subshell();
        let st = run_argv(&mut sub, argv, &io).await;
        if st != 0 {
            status = if st == 127 { 127 } else { 123 };
        }
    }
    Ok(status)
}

/// `eval ARGS...`: runs the joined arguments as a script.
pub(super) async fn eval(c: &mut Ctx<'_>, a: &[String]) -> R {
    run_text(c, &a.join(" "), "").await
}

/// `exec CMD ARGS...`: runs a command, then leaves the shell with its status.
pub(super) async fn exec_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    if a.is_empty() {
        return Ok(0);
    }
    let io = c.io.clone();
    let st = run_argv(c.sh, a.to_vec(), &io).await;
    c.sh.ctl = Some(Ctl::Exit(st));
    Ok(st)
}
