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

use super::exec::{BoxFut, Io, Shell, open_read};
use super::io::{Broken, Input, Writer, lock};
use crate::fs::{FileKind, Fs};
use control::{break_continue, exit, return_cmd, shift, trap};
use files::{cd, cp, ln, mkdir, mv, readlink, rm, rmdir, touch};
use find::{find, stat};
use grep::grep;
use invoke::{command, eval, exec_cmd, sh_cmd, source, type_cmd, which, xargs};
use ls::ls;
use output::{echo, printf, seq, sleep, yes};
use perms::{chmod, chown};
use sed::sed;
use system::{
    basename_cmd, date, dirname_cmd, hostname, id, mktemp, nproc, pwd, umask, uname, whoami,
};
use test::{bracket, test_cmd};
use text::{base64_cmd, cut, sha256sum, sort, tee, tr, uniq};
use vars::{env, export, local, printenv, read, set, unset};
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
        "pwd" => pwd(c, a).await,
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
        "unset" => unset(c, a).await,
        "set" => set(c, a).await,
        "shift" => shift(c, a).await,
        "exit" => exit(c, a).await,
        "break" | "continue" => break_continue(c, name, a).await,
        "sleep" => sleep(c, a).await,
        "seq" => seq(c, a).await,
        "test" => test_cmd(c, a).await,
        "[" => bracket(c, a).await,
        "sha256sum" => sha256sum(c, a).await,
        "base64" => base64_cmd(c, a).await,
        "yes" => yes(c, a).await,
        "sh" | "bash" | "dash" | "ash" => sh_cmd(c, a).await,
        "read" => read(c, a).await,
        "eval" => eval(c, a).await,
        "." | "source" => source(c, a).await,
        "exec" => exec_cmd(c, a).await,
        "command" => command(c, a).await,
        "which" => which(c, a).await,
        "type" => type_cmd(c, a).await,
        "basename" => basename_cmd(c, a).await,
        "dirname" => dirname_cmd(c, a).await,
        "whoami" => whoami(c, a).await,
        "id" => id(c, a).await,
        "hostname" => hostname(c, a).await,
        "uname" => uname(c, a).await,
        "nproc" => nproc(c, a).await,
        "date" => date(c, a).await,
        "tee" => tee(c, a).await,
        "sort" => sort(c, a).await,
        "uniq" => uniq(c, a).await,
        "tr" => tr(c, a).await,
        "trap" => trap(c, a).await,
        "wait" => Ok(0),
        "sed" => sed(c, a).await,
        "return" => return_cmd(c, a).await,
        "local" => local(c, a).await,
        "umask" => umask(c, a).await,
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
