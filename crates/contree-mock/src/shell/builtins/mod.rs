//! The builtin commands (every program the simulated shell knows).

mod control;
mod files;
mod find;
mod grep;
mod invoke;
mod ls;
mod output;
mod perms;
mod sed;
mod system;
mod test;
mod text;
mod util;
mod vars;
mod view;

use super::exec;
use super::exec::{BoxFut, Ctl, Io, Shell, open_read, run_argv};
use super::io::{Broken, Input, Writer, lock};
use crate::fs::{FileKind, Fs};
use control::trap;
use files::{cd, cp, ln, mkdir, mv, readlink, rm, rmdir, touch};
use find::{find, stat};
use grep::grep;
use invoke::{command, sh_cmd, source, type_cmd, which, xargs};
use ls::ls;
use output::{echo, printf, seq, sleep, yes};
use perms::{chmod, chown};
use sed::sed;
use system::{date, id, mktemp, uname};
use test::test_cmd;
use text::{base64_cmd, cut, sha256sum, sort, tee, tr, uniq};
use util::{dirname, user_name};
use vars::{env, export, printenv, read, set, valid_name};
use view::{cat, head, tail, wc};

/// Every builtin command name.
pub(crate) const BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "ash",
    "base64",
    "basename",
    "bash",
    "break",
    "cat",
    "cd",
    "chmod",
    "chown",
    "command",
    "continue",
    "cp",
    "cut",
    "dash",
    "date",
    "dirname",
    "echo",
    "env",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "find",
    "grep",
    "head",
    "hostname",
    "id",
    "ln",
    "local",
    "ls",
    "mkdir",
    "mktemp",
    "mv",
    "nproc",
    "printenv",
    "printf",
    "pwd",
    "read",
    "readlink",
    "realpath",
    "return",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "set",
    "sh",
    "sha256sum",
    "shift",
    "sleep",
    "sort",
    "source",
    "stat",
    "tail",
    "tee",
    "test",
    "touch",
    "tr",
    "trap",
    "true",
    "type",
    "umask",
    "uname",
    "uniq",
    "unset",
    "wait",
    "wc",
    "which",
    "whoami",
    "xargs",
    "yes",
];

/// Whether `name` is a builtin.
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTINS.binary_search(&name).is_ok()
}

type R = Result<i32, Broken>;

/// The context of one builtin invocation.
pub(crate) struct Ctx<'a> {
    sh: &'a mut Shell,
    io: &'a Io,
    out: Writer,
    err: Writer,
    name: String,
}

impl Ctx<'_> {
    /// Writes `name: msg` to stderr.
    async fn fail(&mut self, msg: &str) -> Result<(), Broken> {
        let line = format!("{}: {msg}\n", self.name);
        self.err.put(&line).await?;
        self.err.flush().await
    }

    fn abs(&self, p: &str) -> String {
        self.sh.abs(p)
    }

    fn fs(&self) -> std::sync::MutexGuard<'_, Fs> {
        lock(&self.sh.fs)
    }

    fn open(&self, path: &str) -> Result<Input, String> {
        if path == "-" {
            return Ok(self.io.stdin.clone());
        }
        let abs = self.abs(path);
        if let Ok(m) = self.fs().stat(&abs)
            && m.kind == FileKind::Dir
        {
            return Err(format!("{path}: Is a directory"));
        }
        open_read(self.sh, path, self.io)
    }
}

/// Runs builtin `name` with `argv` (argv\[0\] is the name as typed).
pub(crate) fn run<'a>(
    sh: &'a mut Shell,
    name: &'a str,
    argv: Vec<String>,
    io: &'a Io,
) -> BoxFut<'a> {
    Box::pin(async move {
        let mut ctx = Ctx {
            sh,
            io,
            out: Writer::new(io.stdout.clone()),
            err: Writer::new(io.stderr.clone()),
            name: name.to_owned(),
        };
        let args = &argv[1..];
        let r = dispatch(&mut ctx, name, args).await;
        let r = match r {
            Ok(st) => ctx.out.flush().await.map(|_| st),
            Err(b) => Err(b),
        };
        let _ = ctx.err.flush().await;
        r.unwrap_or(141)
    })
}

async fn dispatch(c: &mut Ctx<'_>, name: &str, a: &[String]) -> R {
    match name {
        ":" | "true" => Ok(0),
        "false" => Ok(1),
        "echo" => echo(c, a).await,
        "printf" => printf(c, a).await,
        "cat" => cat(c, a).await,
        "ls" => ls(c, a).await,
        "pwd" => {
            let cwd = c.sh.cwd.clone();
            c.out.put(&format!("{cwd}\n")).await?;
            Ok(0)
        }
        "cd" => cd(c, a).await,
        "mkdir" => mkdir(c, a).await,
        "rm" => rm(c, a).await,
        "rmdir" => rmdir(c, a).await,
        "touch" => touch(c, a).await,
        "cp" => cp(c, a).await,
        "mv" => mv(c, a).await,
        "ln" => ln(c, a).await,
        "chmod" => chmod(c, a).await,
        "chown" => chown(c, a).await,
        "head" => head(c, a).await,
        "tail" => tail(c, a).await,
        "wc" => wc(c, a).await,
        "grep" => grep(c, a).await,
        "env" => env(c, a).await,
        "printenv" => printenv(c, a).await,
        "export" => export(c, a).await,
        "unset" => {
            for n in a.iter().filter(|n| !n.starts_with('-')) {
                c.sh.vars.remove(n);
                c.sh.exported.remove(n);
            }
            Ok(0)
        }
        "set" => set(c, a).await,
        "shift" => {
            let n = a.first().and_then(|s| s.parse::<usize>().ok()).unwrap_or(1);
            if n > c.sh.args.len().saturating_sub(1) {
                c.fail("can't shift that many").await?;
                return Ok(1);
            }
            c.sh.args.drain(1..1 + n);
            Ok(0)
        }
        "exit" => {
            let code = match a.first() {
                None => c.sh.status,
                Some(s) => match s.parse::<i64>() {
                    Ok(n) => (n & 255) as i32,
                    Err(_) => {
                        c.fail(&format!("Illegal number: {s}")).await?;
                        2
                    }
                },
            };
            c.sh.ctl = Some(Ctl::Exit(code));
            Ok(code)
        }
        "break" | "continue" => {
            let n = a
                .first()
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(1)
                .max(1);
            if c.sh.loop_depth > 0 {
                let n = n.min(c.sh.loop_depth);
                c.sh.ctl = Some(if name == "break" {
                    Ctl::Break(n)
                } else {
                    Ctl::Continue(n)
                });
            }
            Ok(0)
        }
        "sleep" => sleep(c, a).await,
        "seq" => seq(c, a).await,
        "test" => test_cmd(c, a).await,
        "[" => {
            if a.last().map(String::as_str) != Some("]") {
                c.fail("missing ]").await?;
                return Ok(2);
            }
            test_cmd(c, &a[..a.len() - 1]).await
        }
        "sha256sum" => sha256sum(c, a).await,
        "base64" => base64_cmd(c, a).await,
        "yes" => yes(c, a).await,
        "sh" | "bash" | "dash" | "ash" => sh_cmd(c, a).await,
        "read" => read(c, a).await,
        "eval" => {
            let text = a.join(" ");
            match super::parse::parse(&text) {
                Ok(script) => {
                    let io = c.io.clone();
                    c.out.flush().await?;
                    Ok(exec::exec_script(c.sh, &script, &io).await)
                }
                Err(e) => {
                    c.fail(&e.to_string()).await?;
                    Ok(2)
                }
            }
        }
        "." | "source" => source(c, a).await,
        "exec" => {
            if a.is_empty() {
                return Ok(0);
            }
            let io = c.io.clone();
            let st = run_argv(c.sh, a.to_vec(), &io).await;
            c.sh.ctl = Some(Ctl::Exit(st));
            Ok(st)
        }
        "command" => command(c, a).await,
        "which" => which(c, a).await,
        "type" => type_cmd(c, a).await,
        "basename" => {
            let Some(p) = a.first() else {
                c.fail("missing operand").await?;
                return Ok(1);
            };
            let trimmed = p.trim_end_matches('/');
            let mut b = if trimmed.is_empty() && !p.is_empty() {
                "/".to_owned()
            } else {
                trimmed.rsplit('/').next().unwrap_or("").to_owned()
            };
            if let Some(suf) = a.get(1)
                && b.len() > suf.len()
                && b.ends_with(suf.as_str())
            {
                b.truncate(b.len() - suf.len());
            }
            c.out.put(&format!("{b}\n")).await?;
            Ok(0)
        }
        "dirname" => {
            let Some(p) = a.first() else {
                c.fail("missing operand").await?;
                return Ok(1);
            };
            c.out.put(&format!("{}\n", dirname(p))).await?;
            Ok(0)
        }
        "whoami" => {
            let uid = c.sh.uid;
            let name = user_name(&c.fs(), uid);
            match name {
                Some(n) => {
                    c.out.put(&format!("{n}\n")).await?;
                    Ok(0)
                }
                None => {
                    c.fail(&format!("cannot find name for user ID {uid}"))
                        .await?;
                    Ok(1)
                }
            }
        }
        "id" => id(c, a).await,
        "hostname" => {
            let h = c.sh.hostname.clone();
            c.out.put(&format!("{h}\n")).await?;
            Ok(0)
        }
        "uname" => uname(c, a).await,
        "nproc" => {
            c.out.put("1\n").await?;
            Ok(0)
        }
        "date" => date(c, a).await,
        "tee" => tee(c, a).await,
        "sort" => sort(c, a).await,
        "uniq" => uniq(c, a).await,
        "tr" => tr(c, a).await,
        "trap" => trap(c, a).await,
        "wait" => Ok(0),
        "sed" => sed(c, a).await,
        "return" => {
            let code = match a.first() {
                None => c.sh.status,
                Some(s) => s.parse::<i64>().map(|n| (n & 255) as i32).unwrap_or(2),
            };
            if c.sh.func_depth == 0 {
                c.fail("can only `return' from a function or sourced script")
                    .await?;
                return Ok(1);
            }
            c.sh.ctl = Some(Ctl::Return(code));
            Ok(code)
        }
        "local" => {
            for s in a.iter().filter(|s| !s.starts_with('-')) {
                match s.split_once('=') {
                    Some((n, v)) if valid_name(n) => c.sh.set_var(n, v.to_owned()),
                    None if valid_name(s) => {
                        if !c.sh.vars.contains_key(s.as_str()) {
                            c.sh.set_var(s, String::new());
                        }
                    }
                    _ => {
                        c.fail(&format!("{s}: bad variable name")).await?;
                        return Ok(1);
                    }
                }
            }
            Ok(0)
        }
        "umask" => {
            if a.is_empty() {
                c.out.put("0022\n").await?;
            }
            Ok(0)
        }
        "mktemp" => mktemp(c, a).await,
        "stat" => stat(c, a).await,
        "cut" => cut(c, a).await,
        "readlink" | "realpath" => readlink(c, name, a).await,
        "find" => find(c, a).await,
        "xargs" => xargs(c, a).await,
        _ => {
            c.fail("not found").await?;
            Ok(127)
        }
    }
}
