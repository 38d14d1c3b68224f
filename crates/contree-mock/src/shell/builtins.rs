//! The builtin commands (every program the simulated shell knows).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::exec::{
    self, BoxFut, Ctl, Io, Shell, glob_match, normalize, open_read, report, run_argv,
};
use super::io::{Broken, Input, Writer, lock};
use crate::fs::{FileKind, Fs, FsError, Meta};

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

// ---------------------------------------------------------------------------------------------
// helpers

/// Parsed command-line options: flags (with values) and operands, GNU-style (options may
/// follow operands; `--` ends options).
struct Opts {
    flags: Vec<(char, Option<String>)>,
    operands: Vec<String>,
}

impl Opts {
    fn has(&self, c: char) -> bool {
        self.flags.iter().any(|(f, _)| *f == c)
    }

    fn value(&self, c: char) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(f, _)| *f == c)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// `valued`: the flags taking a value. `long`: long option name to short flag.
fn getopt(args: &[String], valued: &str, long: &[(&str, char)]) -> Result<Opts, String> {
    let mut flags = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(l) = a.strip_prefix("--") {
            let (name, val) = match l.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (l, None),
            };
            let Some((_, f)) = long.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unrecognized option '{a}'"));
            };
            let val = if valued.contains(*f) && val.is_none() {
                let v = args.get(i).cloned();
                i += 1;
                Some(v.ok_or_else(|| format!("option '{a}' requires an argument"))?)
            } else {
                val
            };
            flags.push((*f, val));
            continue;
        }
        if a.len() < 2 || !a.starts_with('-') {
            operands.push(a.clone());
            continue;
        }
        let chars: Vec<char> = a[1..].chars().collect();
        let mut k = 0;
        while k < chars.len() {
            let f = chars[k];
            k += 1;
            if valued.contains(f) {
                let v = if k < chars.len() {
                    chars[k..].iter().collect::<String>()
                } else {
                    let v = args.get(i).cloned();
                    i += 1;
                    v.ok_or_else(|| format!("option requires an argument -- '{f}'"))?
                };
                flags.push((f, Some(v)));
                break;
            }
            flags.push((f, None));
        }
    }
    Ok(Opts { flags, operands })
}

async fn opts(
    c: &mut Ctx<'_>,
    args: &[String],
    valued: &str,
    allowed: &str,
    long: &[(&str, char)],
) -> Result<Option<Opts>, Broken> {
    match getopt(args, valued, long) {
        Ok(o) => {
            if let Some((f, _)) = o
                .flags
                .iter()
                .find(|(f, _)| !allowed.contains(*f) && !valued.contains(*f))
            {
                c.fail(&format!("invalid option -- '{f}'")).await?;
                return Ok(None);
            }
            Ok(Some(o))
        }
        Err(e) => {
            c.fail(&e).await?;
            Ok(None)
        }
    }
}

fn dirname(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return if p.starts_with('/') {
            "/".into()
        } else {
            ".".into()
        };
    }
    match t.rfind('/') {
        None => ".".to_owned(),
        Some(i) => {
            let d = t[..i].trim_end_matches('/');
            if d.is_empty() {
                "/".to_owned()
            } else {
                d.to_owned()
            }
        }
    }
}

fn basename(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned()
}

fn lookup_name(fs: &Fs, file: &str, id: u32) -> Option<String> {
    let data = fs.read(file).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut it = l.split(':');
        let name = it.next()?;
        let _pw = it.next()?;
        let n: u32 = it.next()?.parse().ok()?;
        (n == id).then(|| name.to_owned())
    })
}

fn lookup_id(fs: &Fs, file: &str, name: &str) -> Option<u32> {
    let data = fs.read(file).ok()?;
    String::from_utf8_lossy(&data).lines().find_map(|l| {
        let mut it = l.split(':');
        let n = it.next()?;
        let _pw = it.next()?;
        let id: u32 = it.next()?.parse().ok()?;
        (n == name).then_some(id)
    })
}

fn user_name(fs: &Fs, uid: u32) -> Option<String> {
    lookup_name(fs, "/etc/passwd", uid)
}

fn group_name(fs: &Fs, gid: u32) -> Option<String> {
    lookup_name(fs, "/etc/group", gid)
}

/// Backslash escapes of `echo -e` / `printf %b` (`zero_octal`: `\0NNN`) and of printf
/// formats (`\NNN`). Returns the bytes and whether `\c` stopped the output.
fn escapes(s: &str, zero_octal: bool) -> (Vec<u8>, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 >= b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let e = b[i + 1];
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'e' | b'E' => out.push(27),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'\\' => out.push(b'\\'),
            b'"' if !zero_octal => out.push(b'"'),
            b'c' => return (out, true),
            b'x' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 2 && i < b.len() && b[i].is_ascii_hexdigit() {
                    v = v * 16 + (b[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    n += 1;
                }
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                } else {
                    out.push(v as u8);
                }
            }
            b'0'..=b'7' => {
                let mut v = 0u32;
                let mut n = 0;
                let max = if zero_octal && e == b'0' { 3 } else { 2 };
                if !(zero_octal && e == b'0') {
                    v = u32::from(e - b'0');
                }
                if zero_octal && e != b'0' {
                    out.push(b'\\');
                    out.push(e);
                    continue;
                }
                while n < max && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                    v = v * 8 + u32::from(b[i] - b'0');
                    i += 1;
                    n += 1;
                }
                out.push(v as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    (out, false)
}

// ---------------------------------------------------------------------------------------------
// output builtins

async fn echo(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut newline = true;
    let mut esc = false;
    let mut k = 0;
    while let Some(arg) = a.get(k) {
        if arg.len() > 1 && arg.starts_with('-') && arg[1..].chars().all(|ch| "neE".contains(ch)) {
            for ch in arg[1..].chars() {
                match ch {
                    'n' => newline = false,
                    'e' => esc = true,
                    _ => esc = false,
                }
            }
            k += 1;
        } else {
            break;
        }
    }
    let text = a[k..].join(" ");
    if esc {
        let (bytes, stop) = escapes(&text, true);
        c.out.write(&bytes).await?;
        if stop {
            return Ok(0);
        }
    } else {
        c.out.put(&text).await?;
    }
    if newline {
        c.out.put("\n").await?;
    }
    Ok(0)
}

fn parse_int_arg(s: &str) -> Result<i64, ()> {
    let t = s.trim();
    if let Some(ch) = t.strip_prefix('\'').or_else(|| t.strip_prefix('"')) {
        return Ok(ch.chars().next().map(|c| c as i64).unwrap_or(0));
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).map_err(|_| ())?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).map_err(|_| ())?
    } else {
        body.parse::<i64>().map_err(|_| ())?
    };
    Ok(if neg { -v } else { v })
}

fn pad(s: String, width: usize, left: bool, zero: bool) -> String {
    let n = s.chars().count();
    if n >= width {
        return s;
    }
    let fill = width - n;
    if left {
        format!("{s}{}", " ".repeat(fill))
    } else if zero {
        let (sign, digits) = match s.strip_prefix('-') {
            Some(d) => ("-", d.to_owned()),
            None => ("", s.clone()),
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{s}", " ".repeat(fill))
    }
}

/// Formats `printf` output; returns the bytes and the error messages.
fn printf_format(fmt: &str, args: &[String]) -> (Vec<u8>, Vec<String>) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let f: Vec<char> = fmt.chars().collect();
    let mut ai = 0;
    loop {
        let start_ai = ai;
        let mut i = 0;
        while i < f.len() {
            let ch = f[i];
            if ch == '\\' {
                let mut j = i + 1;
                // take the escape sequence text and decode it
                if j < f.len() {
                    j += 1;
                    if f[i + 1] == 'x' {
                        while j < f.len() && j < i + 4 && f[j].is_ascii_hexdigit() {
                            j += 1;
                        }
                    } else if ('0'..='7').contains(&f[i + 1]) {
                        while j < f.len() && j < i + 4 && ('0'..='7').contains(&f[j]) {
                            j += 1;
                        }
                    }
                }
                let seq: String = f[i..j].iter().collect();
                let (b, stop) = escapes(&seq, false);
                out.extend_from_slice(&b);
                if stop {
                    return (out, errs);
                }
                i = j;
                continue;
            }
            if ch != '%' {
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                i += 1;
                continue;
            }
            i += 1;
            if f.get(i) == Some(&'%') {
                out.push(b'%');
                i += 1;
                continue;
            }
            let mut left = false;
            let mut zero = false;
            let mut plus = false;
            let mut space = false;
            while let Some(&fl) = f.get(i) {
                match fl {
                    '-' => left = true,
                    '0' => zero = true,
                    '+' => plus = true,
                    ' ' => space = true,
                    '#' => {}
                    _ => break,
                }
                i += 1;
            }
            let mut width = 0usize;
            if f.get(i) == Some(&'*') {
                i += 1;
                let w = args
                    .get(ai)
                    .and_then(|s| parse_int_arg(s).ok())
                    .unwrap_or(0);
                ai += 1;
                if w < 0 {
                    left = true;
                }
                width = w.unsigned_abs().min(4096) as usize;
            } else {
                while let Some(d) = f.get(i).and_then(|c| c.to_digit(10)) {
                    width = (width * 10 + d as usize).min(4096);
                    i += 1;
                }
            }
            let mut prec: Option<usize> = None;
            if f.get(i) == Some(&'.') {
                i += 1;
                let mut p = 0usize;
                if f.get(i) == Some(&'*') {
                    i += 1;
                    p = args
                        .get(ai)
                        .and_then(|s| parse_int_arg(s).ok())
                        .unwrap_or(0)
                        .clamp(0, 4096) as usize;
                    ai += 1;
                } else {
                    while let Some(d) = f.get(i).and_then(|c| c.to_digit(10)) {
                        p = (p * 10 + d as usize).min(4096);
                        i += 1;
                    }
                }
                prec = Some(p);
            }
            // length modifiers are accepted and ignored
            while matches!(
                f.get(i),
                Some('l') | Some('h') | Some('q') | Some('j') | Some('z')
            ) {
                i += 1;
            }
            let Some(&conv) = f.get(i) else {
                errs.push("missing format character".to_owned());
                return (out, errs);
            };
            i += 1;
            let arg = args.get(ai).cloned();
            ai += 1;
            let int_arg = |errs: &mut Vec<String>| -> i64 {
                match &arg {
                    None => 0,
                    Some(s) if s.is_empty() => 0,
                    Some(s) => parse_int_arg(s).unwrap_or_else(|_| {
                        errs.push(format!("{s}: invalid number"));
                        0
                    }),
                }
            };
            let s = match conv {
                's' => {
                    let mut s = arg.unwrap_or_default();
                    if let Some(p) = prec {
                        s = s.chars().take(p).collect();
                    }
                    pad(s, width, left, false)
                }
                'b' => {
                    let (b, stop) = escapes(&arg.unwrap_or_default(), true);
                    let s = String::from_utf8_lossy(&b).into_owned();
                    out.extend_from_slice(pad(s, width, left, false).as_bytes());
                    if stop {
                        return (out, errs);
                    }
                    continue;
                }
                'c' => pad(
                    arg.unwrap_or_default()
                        .chars()
                        .next()
                        .map(String::from)
                        .unwrap_or_default(),
                    width,
                    left,
                    false,
                ),
                'd' | 'i' => {
                    let n = int_arg(&mut errs);
                    let mut s = n.abs().to_string();
                    if let Some(p) = prec {
                        while s.len() < p {
                            s.insert(0, '0');
                        }
                    }
                    if n < 0 {
                        s.insert(0, '-');
                    } else if plus {
                        s.insert(0, '+');
                    } else if space {
                        s.insert(0, ' ');
                    }
                    pad(s, width, left, zero && prec.is_none())
                }
                'u' | 'x' | 'X' | 'o' => {
                    let n = int_arg(&mut errs) as u64;
                    let s = match conv {
                        'u' => n.to_string(),
                        'x' => format!("{n:x}"),
                        'X' => format!("{n:X}"),
                        _ => format!("{n:o}"),
                    };
                    pad(s, width, left, zero)
                }
                'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                    let v: f64 = match &arg {
                        None => 0.0,
                        Some(s) => s.trim().parse().unwrap_or_else(|_| {
                            errs.push(format!("{s}: invalid number"));
                            0.0
                        }),
                    };
                    let p = prec.unwrap_or(6);
                    let mut s = match conv {
                        'e' | 'E' => {
                            let s = format!("{v:.p$e}");
                            // Rust prints 1.5e2; C prints 1.5e+02
                            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                            let ev: i32 = e.parse().unwrap_or(0);
                            let sign = if ev < 0 { '-' } else { '+' };
                            let r = format!("{m}e{sign}{:02}", ev.abs());
                            if conv == 'E' { r.to_uppercase() } else { r }
                        }
                        'g' | 'G' => {
                            let s = format!("{v}");
                            if conv == 'G' { s.to_uppercase() } else { s }
                        }
                        _ => format!("{v:.p$}"),
                    };
                    if plus && v >= 0.0 {
                        s.insert(0, '+');
                    }
                    pad(s, width, left, zero)
                }
                'q' => pad(shell_quote(&arg.unwrap_or_default()), width, left, false),
                other => {
                    errs.push(format!("%{other}: invalid directive"));
                    return (out, errs);
                }
            };
            out.extend_from_slice(s.as_bytes());
        }
        if ai == start_ai || ai >= args.len() {
            break;
        }
    }
    (out, errs)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

async fn printf(c: &mut Ctx<'_>, a: &[String]) -> R {
    let a = if a.first().map(String::as_str) == Some("--") {
        &a[1..]
    } else {
        a
    };
    let Some(fmt) = a.first() else {
        c.fail("usage: printf format [arguments]").await?;
        return Ok(2);
    };
    let (bytes, errs) = printf_format(fmt, &a[1..]);
    c.out.write(&bytes).await?;
    for e in &errs {
        c.fail(e).await?;
    }
    Ok(i32::from(!errs.is_empty()))
}

async fn yes(c: &mut Ctx<'_>, a: &[String]) -> R {
    let line = if a.is_empty() {
        "y".to_owned()
    } else {
        a.join(" ")
    };
    let line = format!("{line}\n");
    let reps = (super::io::CHUNK_MAX / line.len()).max(1);
    let block = line.repeat(reps);
    loop {
        c.out.write(block.as_bytes()).await?;
        c.out.flush().await?;
        tokio::task::coop::consume_budget().await;
    }
}

async fn seq(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut sep = "\n".to_owned();
    let mut equal = false;
    let mut nums = Vec::new();
    let mut i = 0;
    while i < a.len() {
        let s = &a[i];
        i += 1;
        if s.parse::<f64>().is_ok() {
            nums.push(s.clone());
        } else if s == "-s" {
            sep = a.get(i).cloned().unwrap_or_default();
            i += 1;
        } else if let Some(v) = s.strip_prefix("-s") {
            sep = v.to_owned();
        } else if s == "-w" {
            equal = true;
        } else {
            c.fail(&format!("invalid floating point argument: '{s}'"))
                .await?;
            return Ok(1);
        }
    }
    let (first, inc, last) = match nums.as_slice() {
        [l] => ("1".to_owned(), "1".to_owned(), l.clone()),
        [f, l] => (f.clone(), "1".to_owned(), l.clone()),
        [f, s, l] => (f.clone(), s.clone(), l.clone()),
        [] => {
            c.fail("missing operand").await?;
            return Ok(1);
        }
        _ => {
            c.fail(&format!("extra operand '{}'", nums[3])).await?;
            return Ok(1);
        }
    };
    let decimals = [&first, &inc]
        .iter()
        .map(|s| s.split_once('.').map(|(_, d)| d.len()).unwrap_or(0))
        .max()
        .unwrap_or(0);
    let (f, st, l): (f64, f64, f64) = (
        first.parse().unwrap_or(0.0),
        inc.parse().unwrap_or(1.0),
        last.parse().unwrap_or(0.0),
    );
    if st == 0.0 || !st.is_finite() || !f.is_finite() || !l.is_finite() {
        c.fail(&format!("invalid Zero increment value: '{inc}'"))
            .await?;
        return Ok(1);
    }
    let fmt_num = |v: f64| -> String {
        if decimals == 0 {
            format!("{}", v.round() as i64)
        } else {
            format!("{v:.decimals$}")
        }
    };
    let width = if equal {
        fmt_num(f).len().max(fmt_num(l).len())
    } else {
        0
    };
    let mut k: u64 = 0;
    let mut first_out = true;
    loop {
        let v = f + st * k as f64;
        if (st > 0.0 && v > l + 1e-9) || (st < 0.0 && v < l - 1e-9) {
            break;
        }
        if !first_out {
            c.out.put(&sep).await?;
        }
        first_out = false;
        let s = fmt_num(v);
        let s = if equal { pad(s, width, false, true) } else { s };
        c.out.put(&s).await?;
        k += 1;
        if k.is_multiple_of(4096) {
            tokio::task::coop::consume_budget().await;
        }
    }
    if !first_out {
        c.out.put("\n").await?;
    }
    Ok(0)
}

async fn sleep(c: &mut Ctx<'_>, a: &[String]) -> R {
    if a.is_empty() {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let mut total = 0f64;
    for s in a {
        if s == "inf" || s == "infinity" {
            c.out.flush().await?;
            std::future::pending::<()>().await;
        }
        let (num, mult) = match s.chars().last() {
            Some('s') => (&s[..s.len() - 1], 1.0),
            Some('m') => (&s[..s.len() - 1], 60.0),
            Some('h') => (&s[..s.len() - 1], 3600.0),
            Some('d') => (&s[..s.len() - 1], 86400.0),
            _ => (s.as_str(), 1.0),
        };
        match num.parse::<f64>() {
            Ok(v) if v >= 0.0 && v.is_finite() => total += v * mult,
            _ => {
                c.fail(&format!("invalid time interval '{s}'")).await?;
                return Ok(1);
            }
        }
    }
    c.out.flush().await?;
    let d =
        Duration::try_from_secs_f64(total.min(1e9)).unwrap_or(Duration::from_secs(1_000_000_000));
    tokio::time::sleep(d).await;
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// reading builtins

async fn cat(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "nuAevEtTsb", &[]).await? else {
        return Ok(1);
    };
    let number = o.has('n');
    let files = if o.operands.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.operands.clone()
    };
    let mut status = 0;
    let mut line_no = 1u64;
    let mut at_start = true;
    for f in files {
        let input = match c.open(&f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&e).await?;
                status = 1;
                continue;
            }
        };
        while let Some(chunk) = input.read().await {
            if number {
                let mut buf = Vec::with_capacity(chunk.len() + 64);
                for &b in chunk.iter() {
                    if at_start {
                        buf.extend_from_slice(format!("{line_no:>6}\t").as_bytes());
                        line_no += 1;
                    }
                    buf.push(b);
                    at_start = b == b'\n';
                }
                c.out.write(&buf).await?;
            } else {
                c.out.write(&chunk).await?;
            }
            c.out.flush().await?;
        }
    }
    Ok(status)
}

/// Rewrites `-5` into `-n 5` for head/tail.
fn numeric_shorthand(a: &[String]) -> Vec<String> {
    a.iter()
        .flat_map(|s| {
            if s.len() > 1 && s.starts_with('-') && s[1..].chars().all(|c| c.is_ascii_digit()) {
                vec!["-n".to_owned(), s[1..].to_owned()]
            } else {
                vec![s.clone()]
            }
        })
        .collect()
}

async fn head(c: &mut Ctx<'_>, a: &[String]) -> R {
    let a = numeric_shorthand(a);
    let Some(o) = opts(c, &a, "nc", "qv", &[("lines", 'n'), ("bytes", 'c')]).await? else {
        return Ok(1);
    };
    let (bytes_mode, spec) = match (o.value('c'), o.value('n')) {
        (Some(v), _)
            if o.flags
                .iter()
                .rev()
                .find(|(f, _)| *f == 'c' || *f == 'n')
                .map(|f| f.0)
                == Some('c') =>
        {
            (true, v.to_owned())
        }
        (_, Some(v)) => (false, v.to_owned()),
        _ => (false, "10".to_owned()),
    };
    let Some((neg, count)) = parse_count(&spec) else {
        c.fail(&format!(
            "invalid number of {}: '{spec}'",
            if bytes_mode { "bytes" } else { "lines" }
        ))
        .await?;
        return Ok(1);
    };
    let files = if o.operands.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.operands.clone()
    };
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    let mut status = 0;
    for (k, f) in files.iter().enumerate() {
        let input = match c.open(f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&format!(
                    "cannot open '{}' for reading: {}",
                    f,
                    e.rsplit(": ").next().unwrap_or("")
                ))
                .await?;
                status = 1;
                continue;
            }
        };
        if headers {
            let name = if f == "-" { "standard input" } else { f };
            c.out
                .put(&format!(
                    "{}==> {name} <==\n",
                    if k > 0 { "\n" } else { "" }
                ))
                .await?;
        }
        if neg {
            let all = input.read_all().await;
            let keep = if bytes_mode {
                all.len().saturating_sub(count as usize)
            } else {
                let lines = split_lines(&all);
                let n = lines.len().saturating_sub(count as usize);
                lines[..n].iter().map(|l| l.len()).sum()
            };
            c.out.write(&all[..keep]).await?;
            continue;
        }
        let mut left = count;
        while left > 0 {
            let Some(chunk) = input.read().await else {
                break;
            };
            let take = if bytes_mode {
                (left as usize).min(chunk.len())
            } else {
                let mut end = chunk.len();
                for (i, b) in chunk.iter().enumerate() {
                    if *b == b'\n' {
                        left -= 1;
                        if left == 0 {
                            end = i + 1;
                            break;
                        }
                    }
                }
                end
            };
            if bytes_mode {
                left -= take as u64;
            }
            c.out.write(&chunk[..take]).await?;
            c.out.flush().await?;
        }
    }
    Ok(status)
}

/// `N`, `-N`, `+N` (with k/M suffixes); the bool is a leading `-`.
fn parse_count(s: &str) -> Option<(bool, u64)> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (digits, mult) = match body.chars().last()? {
        'k' | 'K' => (&body[..body.len() - 1], 1024),
        'M' => (&body[..body.len() - 1], 1024 * 1024),
        _ => (body, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .map(|n| (neg, n.saturating_mul(mult)))
}

/// Lines including their `\n`.
fn split_lines(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'\n' {
            out.push(&b[start..=i]);
            start = i + 1;
        }
    }
    if start < b.len() {
        out.push(&b[start..]);
    }
    out
}

async fn tail(c: &mut Ctx<'_>, a: &[String]) -> R {
    let a = numeric_shorthand(a);
    let Some(o) = opts(
        c,
        &a,
        "ncs",
        "qvfF",
        &[("lines", 'n'), ("bytes", 'c'), ("follow", 'f')],
    )
    .await?
    else {
        return Ok(1);
    };
    let last_kind = o
        .flags
        .iter()
        .rev()
        .find(|(f, _)| *f == 'c' || *f == 'n')
        .map(|f| f.0);
    let bytes_mode = last_kind == Some('c');
    let spec = if bytes_mode {
        o.value('c')
    } else {
        o.value('n')
    }
    .unwrap_or("10")
    .to_owned();
    let from_start = spec.starts_with('+');
    let Some((_, count)) = parse_count(&spec) else {
        c.fail(&format!(
            "invalid number of {}: '{spec}'",
            if bytes_mode { "bytes" } else { "lines" }
        ))
        .await?;
        return Ok(1);
    };
    let files = if o.operands.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.operands.clone()
    };
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    let mut status = 0;
    for (k, f) in files.iter().enumerate() {
        let input = match c.open(f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&format!(
                    "cannot open '{}' for reading: {}",
                    f,
                    e.rsplit(": ").next().unwrap_or("")
                ))
                .await?;
                status = 1;
                continue;
            }
        };
        if headers {
            let name = if f == "-" { "standard input" } else { f };
            c.out
                .put(&format!(
                    "{}==> {name} <==\n",
                    if k > 0 { "\n" } else { "" }
                ))
                .await?;
        }
        let all = input.read_all().await;
        let start = if bytes_mode {
            if from_start {
                (count.saturating_sub(1) as usize).min(all.len())
            } else {
                all.len().saturating_sub(count as usize)
            }
        } else {
            let lines = split_lines(&all);
            let skip = if from_start {
                (count.saturating_sub(1) as usize).min(lines.len())
            } else {
                lines.len().saturating_sub(count as usize)
            };
            lines[..skip].iter().map(|l| l.len()).sum()
        };
        c.out.write(&all[start..]).await?;
    }
    Ok(status)
}

async fn wc(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "lwcmL",
        &[
            ("lines", 'l'),
            ("words", 'w'),
            ("bytes", 'c'),
            ("chars", 'm'),
        ],
    )
    .await?
    else {
        return Ok(1);
    };
    let mut which: Vec<char> = ['l', 'w', 'm', 'c']
        .into_iter()
        .filter(|f| o.has(*f))
        .collect();
    if which.is_empty() {
        which = vec!['l', 'w', 'c'];
    }
    let files = if o.operands.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.operands.clone()
    };
    let mut rows: Vec<(Vec<u64>, Option<String>)> = Vec::new();
    let mut totals = vec![0u64; which.len()];
    let mut status = 0;
    for f in &files {
        let input = match c.open(f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&e).await?;
                status = 1;
                continue;
            }
        };
        let (mut lines, mut words, mut bytes, mut chars) = (0u64, 0u64, 0u64, 0u64);
        let mut in_word = false;
        while let Some(chunk) = input.read().await {
            bytes += chunk.len() as u64;
            for &b in chunk.iter() {
                if b == b'\n' {
                    lines += 1;
                }
                if (b & 0xC0) != 0x80 {
                    chars += 1;
                }
                let ws = b.is_ascii_whitespace();
                if !ws && !in_word {
                    words += 1;
                }
                in_word = !ws;
            }
        }
        let vals: Vec<u64> = which
            .iter()
            .map(|w| match w {
                'l' => lines,
                'w' => words,
                'm' => chars,
                _ => bytes,
            })
            .collect();
        for (t, v) in totals.iter_mut().zip(&vals) {
            *t += v;
        }
        rows.push((
            vals,
            if f == "-" && o.operands.is_empty() {
                None
            } else {
                Some(f.clone())
            },
        ));
    }
    if rows.len() > 1 {
        rows.push((totals.clone(), Some("total".to_owned())));
    }
    let width = if which.len() == 1 && rows.len() == 1 {
        0
    } else if o.operands.is_empty() {
        7
    } else {
        totals
            .iter()
            .map(|t| t.to_string().len())
            .max()
            .unwrap_or(1)
    };
    for (vals, name) in rows {
        let mut line = vals
            .iter()
            .map(|v| format!("{v:>width$}"))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(n) = name {
            line.push(' ');
            line.push_str(&n);
        }
        line.push('\n');
        c.out.put(&line).await?;
    }
    Ok(status)
}

/// Converts a POSIX basic regular expression to the `regex` crate's syntax.
fn bre_to_ere(p: &str) -> String {
    let ch: Vec<char> = p.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut at_start = true;
    while i < ch.len() {
        let c = ch[i];
        match c {
            '\\' if i + 1 < ch.len() => {
                let n = ch[i + 1];
                i += 2;
                match n {
                    '(' | ')' | '{' | '}' | '|' | '+' | '?' => out.push(n),
                    '<' | '>' => out.push_str("\\b"),
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                at_start = n == '(' || n == '|';
                continue;
            }
            '[' => {
                // copy the bracket expression verbatim
                let st = i;
                i += 1;
                if ch.get(i) == Some(&'^') {
                    i += 1;
                }
                if ch.get(i) == Some(&']') {
                    i += 1;
                }
                while i < ch.len() && ch[i] != ']' {
                    if ch[i] == '[' && matches!(ch.get(i + 1), Some(':') | Some('=') | Some('.')) {
                        let close = ch[i + 1];
                        i += 2;
                        while i + 1 < ch.len() && !(ch[i] == close && ch[i + 1] == ']') {
                            i += 1;
                        }
                        i += 2;
                        continue;
                    }
                    i += 1;
                }
                let end = (i + 1).min(ch.len());
                out.extend(&ch[st..end]);
                i = end;
                at_start = false;
                continue;
            }
            '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            '*' if at_start => out.push_str("\\*"),
            _ => out.push(c),
        }
        at_start = c == '^' && at_start;
        i += 1;
    }
    out
}

async fn grep(c: &mut Ctx<'_>, a: &[String]) -> R {
    let long = [
        ("ignore-case", 'i'),
        ("invert-match", 'v'),
        ("line-number", 'n'),
        ("count", 'c'),
        ("quiet", 'q'),
        ("silent", 'q'),
        ("extended-regexp", 'E'),
        ("fixed-strings", 'F'),
        ("files-with-matches", 'l'),
        ("files-without-match", 'L'),
        ("word-regexp", 'w'),
        ("line-regexp", 'x'),
        ("only-matching", 'o'),
        ("recursive", 'r'),
        ("no-filename", 'h'),
        ("with-filename", 'H'),
        ("no-messages", 's'),
        ("regexp", 'e'),
        ("max-count", 'm'),
    ];
    let Some(o) = opts(c, a, "em", "ivncqEFGlLwxorRhHsaI", &long).await? else {
        return Ok(2);
    };
    let mut operands = o.operands.clone();
    let mut patterns: Vec<String> = o
        .flags
        .iter()
        .filter(|(f, _)| *f == 'e')
        .filter_map(|(_, v)| v.clone())
        .collect();
    if patterns.is_empty() {
        if operands.is_empty() {
            c.fail("usage: grep [OPTION]... PATTERNS [FILE]...").await?;
            return Ok(2);
        }
        patterns = operands.remove(0).split('\n').map(str::to_owned).collect();
    }
    let conv: Vec<String> = patterns
        .iter()
        .map(|p| {
            let p = if o.has('F') {
                regex::escape(p)
            } else if o.has('E') {
                p.clone()
            } else {
                bre_to_ere(p)
            };
            let p = if o.has('x') {
                format!("^(?:{p})$")
            } else if o.has('w') {
                format!("\\b(?:{p})\\b")
            } else {
                p
            };
            format!("(?:{p})")
        })
        .collect();
    let re = match regex::bytes::RegexBuilder::new(&conv.join("|"))
        .case_insensitive(o.has('i'))
        .size_limit(1 << 22)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let msg = e.to_string();
            let short = msg
                .lines()
                .last()
                .unwrap_or("invalid regular expression")
                .trim()
                .to_owned();
            c.fail(&format!("invalid regular expression: {short}"))
                .await?;
            return Ok(2);
        }
    };
    let recursive = o.has('r') || o.has('R');
    if operands.is_empty() {
        operands.push(if recursive {
            ".".to_owned()
        } else {
            "-".to_owned()
        });
    }
    // expand directories for -r
    let mut files = Vec::new();
    let mut status_err = false;
    for f in &operands {
        let abs = c.abs(f);
        let meta = if f == "-" {
            None
        } else {
            c.fs().stat(&abs).ok()
        };
        match meta {
            Some(m) if m.kind == FileKind::Dir => {
                if recursive {
                    let walked = c.fs().walk(&abs).unwrap_or_default();
                    for (p, m) in walked {
                        if m.kind == FileKind::File {
                            let rel = if f == "."
                                && !o.operands.contains(&"./".to_owned())
                                && p.len() > abs.len()
                            {
                                p[abs.len()..].trim_start_matches('/').to_owned()
                            } else {
                                format!("{}{}", f.trim_end_matches('/'), &p[abs.len()..])
                            };
                            files.push(rel);
                        }
                    }
                } else {
                    if !o.has('s') {
                        c.fail(&format!("{f}: Is a directory")).await?;
                    }
                    status_err = true;
                }
            }
            _ => files.push(f.clone()),
        }
    }
    let show_name = !o.has('h') && (o.has('H') || files.len() > 1 || recursive);
    let max = o.value('m').and_then(|m| m.parse::<u64>().ok());
    let mut any = false;
    for f in &files {
        let input = match c.open(f) {
            Ok(i) => i,
            Err(e) => {
                if !o.has('s') {
                    c.fail(&e).await?;
                }
                status_err = true;
                continue;
            }
        };
        let display = if f == "-" {
            "(standard input)".to_owned()
        } else {
            f.clone()
        };
        let mut count = 0u64;
        let mut line_no = 0u64;
        let mut partial: Vec<u8> = Vec::new();
        let mut done = false;
        let mut eof = false;
        while !done && !eof {
            let chunk = input.read().await;
            let mut data = std::mem::take(&mut partial);
            match chunk {
                Some(ch) => data.extend_from_slice(&ch),
                None => eof = true,
            }
            let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
            if !eof {
                partial = lines.pop().map(<[u8]>::to_vec).unwrap_or_default();
            } else if lines.last().is_some_and(|l| l.is_empty()) {
                lines.pop();
            }
            for line in lines {
                line_no += 1;
                let matched = re.is_match(line) != o.has('v');
                if !matched {
                    continue;
                }
                any = true;
                count += 1;
                if o.has('q') {
                    return Ok(0);
                }
                if o.has('l') {
                    done = true;
                    break;
                }
                if !o.has('c') && !o.has('L') {
                    let prefix = format!(
                        "{}{}",
                        if show_name {
                            format!("{display}:")
                        } else {
                            String::new()
                        },
                        if o.has('n') {
                            format!("{line_no}:")
                        } else {
                            String::new()
                        }
                    );
                    if o.has('o') && !o.has('v') {
                        for m in re.find_iter(line) {
                            if m.as_bytes().is_empty() {
                                continue;
                            }
                            c.out.put(&prefix).await?;
                            c.out.write(m.as_bytes()).await?;
                            c.out.put("\n").await?;
                        }
                    } else {
                        c.out.put(&prefix).await?;
                        c.out.write(line).await?;
                        c.out.put("\n").await?;
                    }
                }
                if max.is_some_and(|m| count >= m) {
                    done = true;
                    break;
                }
            }
            c.out.flush().await?;
        }
        if o.has('c') {
            let line = if show_name {
                format!("{display}:{count}\n")
            } else {
                format!("{count}\n")
            };
            c.out.put(&line).await?;
        }
        if o.has('l') && count > 0 {
            c.out.put(&format!("{display}\n")).await?;
        }
        if o.has('L') && count == 0 {
            c.out.put(&format!("{display}\n")).await?;
        }
    }
    Ok(if status_err && !(o.has('q') && any) {
        2
    } else if any {
        0
    } else {
        1
    })
}

async fn sha256sum(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "btz", &[("binary", 'b'), ("text", 't')]).await? else {
        return Ok(1);
    };
    let files = if o.operands.is_empty() {
        vec!["-".to_owned()]
    } else {
        o.operands.clone()
    };
    let mut status = 0;
    for f in files {
        let input = match c.open(&f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&e).await?;
                status = 1;
                continue;
            }
        };
        let mut h = Sha256::new();
        while let Some(chunk) = input.read().await {
            h.update(&chunk);
        }
        let line = format!("{}  {f}\n", hex::encode(h.finalize()));
        c.out.put(&line).await?;
    }
    Ok(status)
}

async fn base64_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "w",
        "di",
        &[("decode", 'd'), ("wrap", 'w'), ("ignore-garbage", 'i')],
    )
    .await?
    else {
        return Ok(1);
    };
    let file = o
        .operands
        .first()
        .cloned()
        .unwrap_or_else(|| "-".to_owned());
    let input = match c.open(&file) {
        Ok(i) => i,
        Err(e) => {
            c.fail(&e).await?;
            return Ok(1);
        }
    };
    let data = input.read_all().await;
    let engine = base64::engine::general_purpose::STANDARD;
    if o.has('d') {
        let clean: Vec<u8> = data
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .filter(|b| !o.has('i') || b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            .collect();
        match engine.decode(&clean) {
            Ok(v) => {
                c.out.write(&v).await?;
                Ok(0)
            }
            Err(_) => {
                c.fail("invalid input").await?;
                Ok(1)
            }
        }
    } else {
        let wrap = match o.value('w').map(str::parse::<usize>) {
            None => 76,
            Some(Ok(w)) => w,
            Some(Err(_)) => {
                c.fail("invalid wrap size").await?;
                return Ok(1);
            }
        };
        let enc = engine.encode(&data);
        if wrap == 0 {
            c.out.put(&enc).await?;
            if !enc.is_empty() {
                c.out.put("\n").await?;
            }
        } else {
            for line in enc.as_bytes().chunks(wrap) {
                c.out.write(line).await?;
                c.out.put("\n").await?;
            }
        }
        Ok(0)
    }
}

async fn tee(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "ai", &[("append", 'a')]).await? else {
        return Ok(1);
    };
    let mut outs = Vec::new();
    let mut status = 0;
    for f in &o.operands {
        match exec::open_write(c.sh, f, o.has('a'), c.io) {
            Ok(out) => outs.push(out),
            Err(e) => {
                c.fail(&e).await?;
                status = 1;
            }
        }
    }
    let input = c.io.stdin.clone();
    while let Some(chunk) = input.read().await {
        for out in &outs {
            let _ = out.write(chunk.clone()).await;
        }
        c.out.write(&chunk).await?;
        c.out.flush().await?;
    }
    Ok(status)
}

async fn read_inputs(c: &mut Ctx<'_>, files: &[String]) -> Result<(Vec<u8>, i32), Broken> {
    let files = if files.is_empty() {
        vec!["-".to_owned()]
    } else {
        files.to_vec()
    };
    let mut all = Vec::new();
    let mut status = 0;
    for f in files {
        match c.open(&f) {
            Ok(i) => all.extend_from_slice(&i.read_all().await),
            Err(e) => {
                c.fail(&e).await?;
                status = 2;
            }
        }
    }
    Ok((all, status))
}

fn lines_of(data: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(data);
    let mut v: Vec<String> = text.split('\n').map(str::to_owned).collect();
    if v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

async fn sort(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "tko", "rnufbs", &[]).await? else {
        return Ok(2);
    };
    let (data, status) = read_inputs(c, &o.operands).await?;
    let mut lines = lines_of(&data);
    let key = |l: &str| -> String {
        match o.value('k').and_then(|k| {
            k.split(',')
                .next()?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        }) {
            Some(n) if n >= 1 => {
                let fields: Vec<&str> = match o.value('t') {
                    Some(t) => l.split(t).collect(),
                    None => l.split_whitespace().collect(),
                };
                fields.get(n - 1..).map(|f| f.join(" ")).unwrap_or_default()
            }
            _ => l.to_owned(),
        }
    };
    let numeric = o.has('n');
    let fold = o.has('f');
    lines.sort_by(|x, y| {
        let (kx, ky) = (key(x), key(y));
        if numeric {
            let nx = leading_num(&kx);
            let ny = leading_num(&ky);
            nx.partial_cmp(&ny)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| x.cmp(y))
        } else if fold {
            kx.to_lowercase().cmp(&ky.to_lowercase())
        } else {
            kx.cmp(&ky)
        }
    });
    if o.has('r') {
        lines.reverse();
    }
    if o.has('u') {
        lines.dedup();
    }
    let mut text = lines.join("\n");
    if !lines.is_empty() {
        text.push('\n');
    }
    match o.value('o') {
        Some(f) => match exec::open_write(c.sh, f, false, c.io) {
            Ok(out) => {
                let _ = out.write(Bytes::from(text)).await;
            }
            Err(e) => {
                c.fail(&e).await?;
                return Ok(2);
            }
        },
        None => c.out.put(&text).await?,
    }
    Ok(status)
}

fn leading_num(s: &str) -> f64 {
    let t = s.trim_start();
    let end = t
        .char_indices()
        .take_while(|(i, ch)| {
            ch.is_ascii_digit() || *ch == '.' || (*i == 0 && (*ch == '-' || *ch == '+'))
        })
        .map(|(i, ch)| i + ch.len_utf8())
        .last()
        .unwrap_or(0);
    t[..end].parse().unwrap_or(0.0)
}

async fn uniq(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "cdui", &[]).await? else {
        return Ok(1);
    };
    let (data, status) = read_inputs(c, &o.operands[..o.operands.len().min(1)]).await?;
    let lines = lines_of(&data);
    let mut groups: Vec<(String, u64)> = Vec::new();
    for l in lines {
        match groups.last_mut() {
            Some((g, n)) if *g == l || (o.has('i') && g.to_lowercase() == l.to_lowercase()) => {
                *n += 1
            }
            _ => groups.push((l, 1)),
        }
    }
    for (l, n) in groups {
        if (o.has('d') && n < 2) || (o.has('u') && n > 1) {
            continue;
        }
        let line = if o.has('c') {
            format!("{n:>7} {l}\n")
        } else {
            format!("{l}\n")
        };
        c.out.put(&line).await?;
    }
    Ok(status)
}

/// Expands a `tr` set: ranges, escapes and a few character classes.
fn tr_set(s: &str) -> Vec<char> {
    let mut chars: Vec<char> = Vec::new();
    let src: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < src.len() {
        if src[i] == '['
            && src.get(i + 1) == Some(&':')
            && let Some(end) =
                (i + 2..src.len().saturating_sub(1)).find(|&k| src[k] == ':' && src[k + 1] == ']')
        {
            let class: String = src[i + 2..end].iter().collect();
            let range: Vec<char> = match class.as_str() {
                "upper" => ('A'..='Z').collect(),
                "lower" => ('a'..='z').collect(),
                "digit" => ('0'..='9').collect(),
                "alpha" => ('A'..='Z').chain('a'..='z').collect(),
                "alnum" => ('0'..='9').chain('A'..='Z').chain('a'..='z').collect(),
                "space" => vec![' ', '\t', '\n', '\r', '\x0b', '\x0c'],
                "blank" => vec![' ', '\t'],
                "punct" => (33u8..127)
                    .map(char::from)
                    .filter(|c| c.is_ascii_punctuation())
                    .collect(),
                _ => Vec::new(),
            };
            chars.extend(range);
            i = end + 2;
            continue;
        }
        let mut ch = src[i];
        if ch == '\\' && i + 1 < src.len() {
            i += 1;
            ch = match src[i] {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                '\\' => '\\',
                o => o,
            };
        }
        if src.get(i + 1) == Some(&'-') && i + 2 < src.len() {
            let hi = src[i + 2];
            if hi >= ch {
                chars.extend(ch..=hi);
            }
            i += 3;
            continue;
        }
        chars.push(ch);
        i += 1;
    }
    chars
}

async fn tr(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "dsc", &[]).await? else {
        return Ok(1);
    };
    let Some(s1) = o.operands.first() else {
        c.fail("missing operand").await?;
        return Ok(1);
    };
    let set1 = tr_set(s1);
    let set2 = o.operands.get(1).map(|s| tr_set(s)).unwrap_or_default();
    if !o.has('d') && !o.has('s') && set2.is_empty() {
        c.fail(&format!("missing operand after '{s1}'")).await?;
        return Ok(1);
    }
    let input = c.io.stdin.clone();
    let mut last: Option<char> = None;
    while let Some(chunk) = input.read().await {
        let text = String::from_utf8_lossy(&chunk).into_owned();
        let mut out = String::with_capacity(text.len());
        for ch in text.chars() {
            let in1 = set1.contains(&ch) != o.has('c');
            if o.has('d') && in1 {
                continue;
            }
            let mapped = if !o.has('d') && in1 && !set2.is_empty() {
                let idx = set1.iter().position(|x| *x == ch).unwrap_or(0);
                *set2.get(idx).or(set2.last()).unwrap_or(&ch)
            } else {
                ch
            };
            if o.has('s') {
                let squeeze_set = if set2.is_empty() || o.has('d') {
                    &set1
                } else {
                    &set2
                };
                if last == Some(mapped) && squeeze_set.contains(&mapped) {
                    continue;
                }
            }
            last = Some(mapped);
            out.push(mapped);
        }
        c.out.put(&out).await?;
        c.out.flush().await?;
    }
    Ok(0)
}

/// Parses a cut LIST like `1,3-5,7-` into ranges (1-based, inclusive).
fn cut_list(s: &str) -> Option<Vec<(usize, usize)>> {
    s.split(',')
        .map(|p| {
            let (a, b) = match p.split_once('-') {
                Some((a, b)) => (a, b),
                None => (p, p),
            };
            let lo = if a.is_empty() { 1 } else { a.parse().ok()? };
            let hi = if b.is_empty() {
                usize::MAX
            } else {
                b.parse().ok()?
            };
            (lo >= 1 && hi >= lo).then_some((lo, hi))
        })
        .collect()
}

async fn cut(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "dfcb", "s", &[("delimiter", 'd'), ("fields", 'f')]).await? else {
        return Ok(1);
    };
    let (spec, by_field) = match (o.value('f'), o.value('c').or(o.value('b'))) {
        (Some(f), _) => (f, true),
        (None, Some(ch)) => (ch, false),
        _ => {
            c.fail("you must specify a list of bytes, characters, or fields")
                .await?;
            return Ok(1);
        }
    };
    let Some(ranges) = cut_list(spec) else {
        c.fail(&format!("invalid field value '{spec}'")).await?;
        return Ok(1);
    };
    let delim = o.value('d').unwrap_or("\t").chars().next().unwrap_or('\t');
    let sel = |i: usize| ranges.iter().any(|(lo, hi)| *lo <= i && i <= *hi);
    let (data, status) = read_inputs(c, &o.operands).await?;
    for line in lines_of(&data) {
        let out = if by_field {
            if !line.contains(delim) {
                if o.has('s') {
                    continue;
                }
                line.clone()
            } else {
                line.split(delim)
                    .enumerate()
                    .filter(|(i, _)| sel(i + 1))
                    .map(|(_, f)| f)
                    .collect::<Vec<_>>()
                    .join(&delim.to_string())
            }
        } else {
            line.chars()
                .enumerate()
                .filter(|(i, _)| sel(i + 1))
                .map(|(_, ch)| ch)
                .collect()
        };
        c.out.put(&out).await?;
        c.out.put("\n").await?;
    }
    Ok(status)
}

// ---------------------------------------------------------------------------------------------
// filesystem builtins

fn fs_msg(e: &FsError) -> &str {
    e.reason()
}

fn mode_string(m: &Meta) -> String {
    let mut s = String::with_capacity(10);
    s.push(match m.kind {
        FileKind::Dir => 'd',
        FileKind::Symlink => 'l',
        FileKind::File => '-',
    });
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    for (k, (bit, ch)) in bits.iter().enumerate() {
        let mut out = if m.mode & bit != 0 { *ch } else { '-' };
        if k == 2 && m.mode & 0o4000 != 0 {
            out = if out == 'x' { 's' } else { 'S' };
        }
        if k == 5 && m.mode & 0o2000 != 0 {
            out = if out == 'x' { 's' } else { 'S' };
        }
        if k == 8 && m.mode & 0o1000 != 0 {
            out = if out == 'x' { 't' } else { 'T' };
        }
        s.push(out);
    }
    s
}

fn format_time(t: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let Ok(dt) = time::OffsetDateTime::from_unix_timestamp(t) else {
        return "Jan  1  1970".to_owned();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let month = MONTHS[(u8::from(dt.month()) as usize).saturating_sub(1) % 12];
    if (now - t).abs() < 180 * 86400 {
        format!(
            "{month} {:>2} {:02}:{:02}",
            dt.day(),
            dt.hour(),
            dt.minute()
        )
    } else {
        format!("{month} {:>2}  {}", dt.day(), dt.year())
    }
}

async fn ls(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "laA1dhrtFSR",
        &[("all", 'a'), ("almost-all", 'A')],
    )
    .await?
    else {
        return Ok(2);
    };
    let long = o.has('l');
    let operands = if o.operands.is_empty() {
        vec![".".to_owned()]
    } else {
        o.operands.clone()
    };
    let mut status = 0;
    let mut file_entries: Vec<(String, Meta, String)> = Vec::new(); // display, meta, abs
    let mut dirs: Vec<(String, String)> = Vec::new();
    for op in &operands {
        let abs = c.abs(op);
        let (st, lst) = {
            let fs = c.fs();
            (fs.stat(&abs), fs.lstat(&abs))
        };
        match (st, lst) {
            (Ok(m), Ok(lm)) => {
                if m.kind == FileKind::Dir && !o.has('d') && !(long && lm.kind == FileKind::Symlink)
                {
                    dirs.push((op.clone(), abs));
                } else {
                    file_entries.push((op.clone(), if long { lm } else { m }, abs));
                }
            }
            (Err(_), Ok(lm)) => file_entries.push((op.clone(), lm, abs)),
            _ => {
                c.fail(&format!("cannot access '{op}': No such file or directory"))
                    .await?;
                status = 2;
            }
        }
    }
    let sort_entries = |v: &mut Vec<(String, Meta, String)>| {
        if o.has('t') {
            v.sort_by(|x, y| y.1.mtime.cmp(&x.1.mtime).then_with(|| x.0.cmp(&y.0)));
        } else if o.has('S') {
            v.sort_by(|x, y| y.1.size.cmp(&x.1.size).then_with(|| x.0.cmp(&y.0)));
        } else {
            v.sort_by(|x, y| x.0.cmp(&y.0));
        }
        if o.has('r') {
            v.reverse();
        }
    };
    sort_entries(&mut file_entries);
    let mut blocks = Vec::new();
    if !file_entries.is_empty() {
        blocks.push((None, file_entries, false));
    }
    let show_headers = operands.len() > 1;
    for (disp, abs) in dirs {
        let listed = c.fs().list(&abs);
        match listed {
            Ok(entries) => {
                let mut v: Vec<(String, Meta, String)> = Vec::new();
                if o.has('a') {
                    let fs = c.fs();
                    if let Ok(m) = fs.stat(&abs) {
                        v.push((".".to_owned(), m, abs.clone()));
                    }
                    if let Ok(m) = fs.stat(&normalize(&format!("{abs}/.."))) {
                        v.push(("..".to_owned(), m, normalize(&format!("{abs}/.."))));
                    }
                }
                for (name, m) in entries {
                    if name.starts_with('.') && !o.has('a') && !o.has('A') {
                        continue;
                    }
                    let p = normalize(&format!("{abs}/{name}"));
                    v.push((name, m, p));
                }
                sort_entries(&mut v);
                blocks.push((Some(disp), v, true));
            }
            Err(e) => {
                c.fail(&format!("cannot open directory '{disp}': {}", fs_msg(&e)))
                    .await?;
                status = 2;
            }
        }
    }
    let mut first = true;
    for (header, entries, is_dir) in blocks {
        if !first {
            c.out.put("\n").await?;
        }
        first = false;
        if show_headers && let Some(h) = &header {
            c.out.put(&format!("{h}:\n")).await?;
        }
        if long {
            let names: Vec<(String, String)> = {
                let fs = c.fs();
                entries
                    .iter()
                    .map(|(_, m, _)| {
                        (
                            user_name(&fs, m.uid).unwrap_or_else(|| m.uid.to_string()),
                            group_name(&fs, m.gid).unwrap_or_else(|| m.gid.to_string()),
                        )
                    })
                    .collect()
            };
            if is_dir {
                let total: i64 = entries
                    .iter()
                    .filter(|(_, m, _)| m.kind != FileKind::Symlink)
                    .map(|(_, m, _)| (m.size + 4095) / 4096 * 4)
                    .sum();
                c.out.put(&format!("total {total}\n")).await?;
            }
            let wl = entries
                .iter()
                .map(|e| e.1.nlink.to_string().len())
                .max()
                .unwrap_or(1);
            let wu = names.iter().map(|n| n.0.len()).max().unwrap_or(1);
            let wg = names.iter().map(|n| n.1.len()).max().unwrap_or(1);
            let ws = entries
                .iter()
                .map(|e| e.1.size.to_string().len())
                .max()
                .unwrap_or(1);
            for ((name, m, _), (u, g)) in entries.iter().zip(names) {
                let mut line = format!(
                    "{} {:>wl$} {:<wu$} {:<wg$} {:>ws$} {} {}",
                    mode_string(m),
                    m.nlink,
                    u,
                    g,
                    m.size,
                    format_time(m.mtime),
                    name
                );
                if m.kind == FileKind::Symlink {
                    line.push_str(" -> ");
                    line.push_str(&m.symlink_to);
                }
                line.push('\n');
                c.out.put(&line).await?;
            }
        } else {
            for (name, m, _) in &entries {
                let suffix = if o.has('F') {
                    match m.kind {
                        FileKind::Dir => "/",
                        FileKind::Symlink => "@",
                        FileKind::File if m.mode & 0o111 != 0 => "*",
                        FileKind::File => "",
                    }
                } else {
                    ""
                };
                c.out.put(&format!("{name}{suffix}\n")).await?;
            }
        }
    }
    Ok(status)
}

async fn cd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let args: Vec<&String> = a.iter().filter(|s| *s != "-L" && *s != "-P").collect();
    let target = match args.first().map(|s| s.as_str()) {
        None => c.sh.home(),
        Some("-") => c.sh.var("OLDPWD").unwrap_or("/").to_owned(),
        Some(p) => p.to_owned(),
    };
    let abs = c.abs(&target);
    let meta = c.fs().stat(&abs);
    match meta {
        Ok(m) if m.kind == FileKind::Dir => {
            let old = c.sh.cwd.clone();
            c.sh.set_var("OLDPWD", old);
            c.sh.cwd = abs.clone();
            c.sh.set_var("PWD", abs.clone());
            if args.first().map(|s| s.as_str()) == Some("-") {
                c.out.put(&format!("{abs}\n")).await?;
            }
            Ok(0)
        }
        Ok(_) => {
            c.fail(&format!("{target}: Not a directory")).await?;
            Ok(1)
        }
        Err(e) => {
            c.fail(&format!("{target}: {}", fs_msg(&e))).await?;
            Ok(1)
        }
    }
}

fn parse_mode(spec: &str, current: u32, is_dir: bool) -> Option<u32> {
    if !spec.is_empty() && spec.chars().all(|c| ('0'..='7').contains(&c)) {
        return u32::from_str_radix(spec, 8).ok().filter(|m| *m <= 0o7777);
    }
    let mut mode = current & 0o7777;
    for clause in spec.split(',') {
        let ch: Vec<char> = clause.chars().collect();
        let mut i = 0;
        let mut who = 0u32;
        while i < ch.len() && "ugoa".contains(ch[i]) {
            who |= match ch[i] {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                _ => 0o7777,
            };
            i += 1;
        }
        let implicit = who == 0;
        if implicit {
            who = 0o7777;
        }
        if i >= ch.len() {
            return None;
        }
        while i < ch.len() {
            let op = ch[i];
            if !"+-=".contains(op) {
                return None;
            }
            i += 1;
            let mut bits = 0u32;
            while i < ch.len() && "rwxXst".contains(ch[i]) {
                bits |= match ch[i] {
                    'r' => 0o444,
                    'w' => 0o222,
                    'x' => 0o111,
                    'X' => {
                        if is_dir || mode & 0o111 != 0 {
                            0o111
                        } else {
                            0
                        }
                    }
                    's' => 0o6000,
                    _ => 0o1000,
                };
                i += 1;
            }
            let mut eff = bits & who;
            if implicit {
                eff &= !0o022 | (bits & 0o7000) | 0o755;
            }
            match op {
                '+' => mode |= eff,
                '-' => mode &= !eff,
                _ => mode = (mode & !(who & 0o7777)) | eff,
            }
        }
    }
    Some(mode)
}

async fn mkdir(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "m", "pv", &[("parents", 'p'), ("mode", 'm')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let mode = match o.value('m') {
        None => None,
        Some(m) => match parse_mode(m, 0o755, true) {
            Some(v) => Some(v),
            None => {
                c.fail(&format!("invalid mode '{m}'")).await?;
                return Ok(1);
            }
        },
    };
    let mut status = 0;
    for d in &o.operands {
        let abs = c.abs(d);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let res = {
            let mut fs = c.fs();
            if o.has('p') {
                // remember which components are new to give them to the user
                let mut created = Vec::new();
                let mut prefix = String::new();
                for comp in abs.split('/').filter(|s| !s.is_empty()) {
                    prefix.push('/');
                    prefix.push_str(comp);
                    if !fs.exists(&prefix) {
                        created.push(prefix.clone());
                    }
                }
                let r = fs.mkdir_p(&abs);
                if r.is_ok() {
                    for p in created {
                        let _ = fs.chown(&p, uid, gid);
                    }
                }
                r
            } else {
                let r = fs.mkdir(&abs);
                if r.is_ok() {
                    let _ = fs.chown(&abs, uid, gid);
                }
                r
            }
        };
        match res {
            Ok(()) => {
                if let Some(m) = mode {
                    let _ = c.fs().chmod(&abs, m);
                }
            }
            Err(e) => {
                let reason = match e {
                    FsError::Exists(_) if o.has('p') => "Not a directory",
                    ref e => fs_msg(e),
                }
                .to_owned();
                c.fail(&format!("cannot create directory '{d}': {reason}"))
                    .await?;
                status = 1;
            }
        }
    }
    Ok(status)
}

async fn rm(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "rRfdvI",
        &[
            ("recursive", 'r'),
            ("force", 'f'),
            ("dir", 'd'),
            ("no-preserve-root", 'I'),
        ],
    )
    .await?
    else {
        return Ok(1);
    };
    let recursive = o.has('r') || o.has('R');
    let force = o.has('f');
    if o.operands.is_empty() && !force {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        if abs == "/" {
            c.fail("it is dangerous to operate recursively on '/'")
                .await?;
            status = 1;
            continue;
        }
        let base = basename(p);
        if base == "." || base == ".." {
            c.fail(&format!(
                "refusing to remove '.' or '..' directory: skipping '{p}'"
            ))
            .await?;
            status = 1;
            continue;
        }
        let meta = c.fs().lstat(&abs);
        let res = match meta {
            Err(e) => {
                if !force {
                    c.fail(&format!("cannot remove '{p}': {}", fs_msg(&e)))
                        .await?;
                    status = 1;
                }
                continue;
            }
            Ok(m) if m.kind == FileKind::Dir && !recursive => {
                if o.has('d') {
                    c.fs().remove(&abs, false)
                } else {
                    Err(FsError::IsADirectory(p.clone()))
                }
            }
            Ok(_) => c.fs().remove(&abs, recursive),
        };
        if let Err(e) = res {
            c.fail(&format!("cannot remove '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

async fn rmdir(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "pv", &[("parents", 'p')]).await? else {
        return Ok(1);
    };
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let meta = c.fs().lstat(&abs);
        let res = match meta {
            Ok(m) if m.kind != FileKind::Dir => Err(FsError::NotADirectory(p.clone())),
            Ok(_) => c.fs().remove(&abs, false),
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            c.fail(&format!("failed to remove '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

async fn touch(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "dtr", "cam", &[("no-create", 'c'), ("date", 'd')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing file operand").await?;
        return Ok(1);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let res = {
            let mut fs = c.fs();
            if fs.exists(&abs) {
                fs.set_mtime(&abs, now)
            } else if o.has('c') {
                Ok(())
            } else {
                fs.write(&abs, Bytes::new())
                    .and_then(|_| fs.chown(&abs, uid, gid))
            }
        };
        if let Err(e) = res {
            c.fail(&format!("cannot touch '{p}': {}", fs_msg(&e)))
                .await?;
            status = 1;
        }
    }
    Ok(status)
}

/// Copies `src` to `dst` (both absolute); directories need `recursive`.
fn copy_path(
    fs: &mut Fs,
    src: &str,
    dst: &str,
    recursive: bool,
    preserve: bool,
    owner: (u32, u32),
) -> Result<(), String> {
    let m = fs
        .stat(src)
        .map_err(|e| format!("cannot stat '{src}': {}", e.reason()))?;
    if m.kind == FileKind::Dir {
        if !recursive {
            return Err(format!("-r not specified; omitting directory '{src}'"));
        }
        let src_c = fs.canonicalize(src).map_err(|e| e.to_string())?;
        let dst_c = fs.canonicalize(dst).unwrap_or_else(|_| dst.to_owned());
        if dst_c == src_c || dst_c.starts_with(&format!("{}/", src_c.trim_end_matches('/'))) {
            return Err(format!(
                "cannot copy a directory, '{src}', into itself, '{dst}'"
            ));
        }
        let entries = fs.walk(src).map_err(|e| e.to_string())?;
        let root = entries.first().map(|e| e.0.clone()).unwrap_or_default();
        for (path, meta) in entries {
            let target = format!("{dst}{}", &path[root.len()..]);
            let target = if path == root {
                dst.to_owned()
            } else {
                target.replacen("//", "/", 1)
            };
            let r = match meta.kind {
                FileKind::Dir => {
                    let r = fs.mkdir_p(&target);
                    let _ = fs.chmod(&target, meta.mode);
                    r
                }
                FileKind::File => {
                    let data = fs.read(&path).map_err(|e| e.to_string())?;
                    let r = fs.write(&target, data);
                    let _ = fs.chmod(&target, meta.mode);
                    r
                }
                FileKind::Symlink => {
                    if fs.lstat(&target).is_ok() {
                        let _ = fs.remove(&target, true);
                    }
                    fs.symlink(&meta.symlink_to, &target)
                }
            };
            r.map_err(|e| format!("cannot create '{target}': {}", e.reason()))?;
            let (u, g) = if preserve {
                (meta.uid, meta.gid)
            } else {
                owner
            };
            let _ = fs.chown(&target, u, g);
            if preserve {
                let _ = fs.set_mtime(&target, meta.mtime);
            }
        }
        return Ok(());
    }
    let data = fs
        .read(src)
        .map_err(|e| format!("cannot open '{src}' for reading: {}", e.reason()))?;
    let existed = fs.exists(dst);
    fs.write(dst, data)
        .map_err(|e| format!("cannot create regular file '{dst}': {}", e.reason()))?;
    if !existed || preserve {
        let _ = fs.chmod(dst, m.mode);
        let (u, g) = if preserve { (m.uid, m.gid) } else { owner };
        let _ = fs.chown(dst, u, g);
    }
    if preserve {
        let _ = fs.set_mtime(dst, m.mtime);
    }
    Ok(())
}

/// Splits operands into sources and destination; the destination becomes `dst/basename`
/// when it is a directory.
async fn targets(
    c: &mut Ctx<'_>,
    operands: &[String],
    no_target_dir: bool,
) -> Result<Option<Vec<(String, String, String)>>, Broken> {
    if operands.len() < 2 {
        let msg = if operands.is_empty() {
            "missing file operand".to_owned()
        } else {
            format!("missing destination file operand after '{}'", operands[0])
        };
        c.fail(&msg).await?;
        return Ok(None);
    }
    let (srcs, dst) = operands.split_at(operands.len() - 1);
    let dst = &dst[0];
    let dst_abs = c.abs(dst);
    let dst_is_dir = !no_target_dir && c.fs().stat(&dst_abs).is_ok_and(|m| m.kind == FileKind::Dir);
    if srcs.len() > 1 && !dst_is_dir {
        c.fail(&format!("target '{dst}': Not a directory")).await?;
        return Ok(None);
    }
    Ok(Some(
        srcs.iter()
            .map(|s| {
                let target = if dst_is_dir {
                    normalize(&format!("{dst_abs}/{}", basename(s)))
                } else {
                    dst_abs.clone()
                };
                (s.clone(), c.abs(s), target)
            })
            .collect(),
    ))
}

async fn cp(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(
        c,
        a,
        "",
        "rRapfvnTPLdu",
        &[
            ("recursive", 'r'),
            ("archive", 'a'),
            ("force", 'f'),
            ("no-clobber", 'n'),
        ],
    )
    .await?
    else {
        return Ok(1);
    };
    let Some(list) = targets(c, &o.operands, o.has('T')).await? else {
        return Ok(1);
    };
    let recursive = o.has('r') || o.has('R') || o.has('a');
    let preserve = o.has('a') || o.has('p');
    let owner = (c.sh.uid, c.sh.gid);
    let mut status = 0;
    for (disp, src, dst) in list {
        if o.has('n') && c.fs().exists(&dst) {
            continue;
        }
        let r = copy_path(&mut c.fs(), &src, &dst, recursive, preserve, owner);
        if let Err(e) = r {
            c.fail(&e.replace(&src, &disp)).await?;
            status = 1;
        }
    }
    Ok(status)
}

async fn mv(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "fivnT", &[("force", 'f'), ("no-clobber", 'n')]).await? else {
        return Ok(1);
    };
    let Some(list) = targets(c, &o.operands, o.has('T')).await? else {
        return Ok(1);
    };
    let mut status = 0;
    for (disp, src, dst) in list {
        if o.has('n') && c.fs().exists(&dst) {
            continue;
        }
        let r = c.fs().rename(&src, &dst);
        if let Err(e) = r {
            let msg = match e {
                FsError::NotFound(_) => format!("cannot stat '{disp}': No such file or directory"),
                FsError::Invalid(m) => m,
                e => format!("cannot move '{disp}': {}", e.reason()),
            };
            c.fail(&msg).await?;
            status = 1;
        }
    }
    Ok(status)
}

async fn ln(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "sfnvT", &[("symbolic", 's'), ("force", 'f')]).await? else {
        return Ok(1);
    };
    let mut operands = o.operands.clone();
    if operands.len() == 1 {
        operands.push(basename(&operands[0]));
    }
    if operands.is_empty() {
        c.fail("missing file operand").await?;
        return Ok(1);
    }
    let (targets_, link) = operands.split_at(operands.len() - 1);
    let link = &link[0];
    let link_abs = c.abs(link);
    let link_is_dir = !o.has('n')
        && !o.has('T')
        && c.fs()
            .stat(&link_abs)
            .is_ok_and(|m| m.kind == FileKind::Dir);
    if targets_.len() > 1 && !link_is_dir {
        c.fail(&format!("target '{link}': Not a directory")).await?;
        return Ok(1);
    }
    let mut status = 0;
    for t in targets_ {
        let path = if link_is_dir {
            normalize(&format!("{link_abs}/{}", basename(t)))
        } else {
            link_abs.clone()
        };
        let t_abs = c.abs(t);
        let r = {
            let mut fs = c.fs();
            if o.has('f') && fs.lstat(&path).is_ok_and(|m| m.kind != FileKind::Dir) {
                let _ = fs.remove(&path, false);
            }
            if o.has('s') {
                fs.symlink(t, &path)
            } else {
                match fs.stat(&t_abs) {
                    Ok(m) if m.kind == FileKind::Dir => Err(FsError::Invalid(format!(
                        "'{t}': hard link not allowed for directory"
                    ))),
                    Ok(m) => {
                        if fs.exists(&path) {
                            Err(FsError::Exists(path.clone()))
                        } else {
                            fs.read(&t_abs)
                                .and_then(|d| fs.write_with(&path, d, m.mode, m.uid, m.gid))
                        }
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = r {
            let kind = if o.has('s') {
                "symbolic link"
            } else {
                "hard link"
            };
            let msg = match e {
                FsError::Invalid(m) => m,
                e => format!("failed to create {kind} '{link}': {}", e.reason()),
            };
            c.fail(&msg).await?;
            status = 1;
        }
    }
    Ok(status)
}

async fn chmod(c: &mut Ctx<'_>, a: &[String]) -> R {
    // modes like -x look like options: take the first non-option operand as the mode
    let mut recursive = false;
    let mut rest = Vec::new();
    for s in a {
        if s == "-R" || s == "--recursive" {
            recursive = true;
        } else if s == "-v" || s == "-f" || s == "-c" {
        } else {
            rest.push(s.clone());
        }
    }
    if rest.len() < 2 {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let spec = rest.remove(0);
    let mut status = 0;
    for p in rest {
        let abs = c.abs(&p);
        let paths: Vec<(String, Meta)> = {
            let fs = c.fs();
            if recursive {
                fs.walk(&abs).unwrap_or_default()
            } else {
                fs.stat(&abs)
                    .map(|m| vec![(abs.clone(), m)])
                    .unwrap_or_default()
            }
        };
        if paths.is_empty() {
            c.fail(&format!("cannot access '{p}': No such file or directory"))
                .await?;
            status = 1;
            continue;
        }
        for (path, m) in paths {
            if m.kind == FileKind::Symlink {
                continue;
            }
            match parse_mode(&spec, m.mode, m.kind == FileKind::Dir) {
                Some(mode) => {
                    let _ = c.fs().chmod(&path, mode);
                }
                None => {
                    c.fail(&format!("invalid mode: '{spec}'")).await?;
                    return Ok(1);
                }
            }
        }
    }
    Ok(status)
}

async fn chown(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "Rhvf", &[("recursive", 'R')]).await? else {
        return Ok(1);
    };
    if o.operands.len() < 2 {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let spec = &o.operands[0];
    let (u, g) = match spec.split_once([':', '.']) {
        Some((u, g)) => (u, Some(g)),
        None => (spec.as_str(), None),
    };
    let (uid, gid) = {
        let fs = c.fs();
        let uid = if u.is_empty() {
            None
        } else {
            u.parse()
                .ok()
                .or_else(|| lookup_id(&fs, "/etc/passwd", u))
                .map(Some)
                .unwrap_or(Some(u32::MAX))
        };
        let gid = match g {
            None | Some("") => None,
            Some(g) => Some(
                g.parse()
                    .ok()
                    .or_else(|| lookup_id(&fs, "/etc/group", g))
                    .unwrap_or(u32::MAX),
            ),
        };
        (uid, gid)
    };
    if uid == Some(u32::MAX) || gid == Some(u32::MAX) {
        c.fail(&format!("invalid user: '{spec}'")).await?;
        return Ok(1);
    }
    let mut status = 0;
    for p in &o.operands[1..] {
        let abs = c.abs(p);
        let paths: Vec<(String, Meta)> = {
            let fs = c.fs();
            if o.has('R') {
                fs.walk(&abs).unwrap_or_default()
            } else {
                fs.stat(&abs)
                    .map(|m| vec![(abs.clone(), m)])
                    .unwrap_or_default()
            }
        };
        if paths.is_empty() {
            c.fail(&format!("cannot access '{p}': No such file or directory"))
                .await?;
            status = 1;
        }
        for (path, m) in paths {
            let _ = c
                .fs()
                .chown(&path, uid.unwrap_or(m.uid), gid.unwrap_or(m.gid));
        }
    }
    Ok(status)
}

async fn readlink(c: &mut Ctx<'_>, name: &str, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "femnqsvz", &[]).await? else {
        return Ok(1);
    };
    let canon = name == "realpath" || o.has('f') || o.has('e') || o.has('m');
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let r = {
            let fs = c.fs();
            if canon {
                fs.canonicalize(&abs)
                    .ok()
                    .filter(|q| !o.has('e') || fs.exists(q))
            } else {
                fs.lstat(&abs)
                    .ok()
                    .filter(|m| m.kind == FileKind::Symlink)
                    .map(|m| m.symlink_to)
            }
        };
        match r {
            Some(v) => c.out.put(&format!("{v}\n")).await?,
            None => {
                if name == "realpath" {
                    c.fail(&format!("{p}: No such file or directory")).await?;
                }
                status = 1;
            }
        }
    }
    Ok(status)
}

async fn find(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut roots = Vec::new();
    let mut i = 0;
    while i < a.len() && !a[i].starts_with('-') && a[i] != "(" && a[i] != "!" {
        roots.push(a[i].clone());
        i += 1;
    }
    if roots.is_empty() {
        roots.push(".".to_owned());
    }
    let mut name_pats: Vec<(Vec<char>, bool, bool)> = Vec::new(); // pattern, case-insensitive, negated
    let mut kind: Option<FileKind> = None;
    let mut maxdepth = usize::MAX;
    let mut mindepth = 0usize;
    let mut negate_next = false;
    while i < a.len() {
        let arg = a[i].as_str();
        let val = a.get(i + 1).cloned();
        match arg {
            "!" | "-not" => {
                negate_next = true;
                i += 1;
                continue;
            }
            "-name" | "-iname" | "-path" => {
                let Some(v) = val else {
                    c.fail(&format!("missing argument to `{arg}'")).await?;
                    return Ok(1);
                };
                name_pats.push((v.chars().collect(), arg == "-iname", negate_next));
                i += 2;
            }
            "-type" => {
                kind = match val.as_deref() {
                    Some("f") => Some(FileKind::File),
                    Some("d") => Some(FileKind::Dir),
                    Some("l") => Some(FileKind::Symlink),
                    _ => {
                        c.fail("Unknown argument to -type").await?;
                        return Ok(1);
                    }
                };
                i += 2;
            }
            "-maxdepth" | "-mindepth" => {
                let Some(n) = val.and_then(|v| v.parse::<usize>().ok()) else {
                    c.fail(&format!(
                        "Expected a positive decimal integer argument to {arg}"
                    ))
                    .await?;
                    return Ok(1);
                };
                if arg == "-maxdepth" {
                    maxdepth = n
                } else {
                    mindepth = n
                }
                i += 2;
            }
            "-print" | "-a" | "-and" => i += 1,
            other => {
                c.fail(&format!("unknown predicate `{other}'")).await?;
                return Ok(1);
            }
        }
        negate_next = false;
    }
    let mut status = 0;
    for root in roots {
        let abs = c.abs(&root);
        let walked = {
            let fs = c.fs();
            fs.lstat(&abs).and_then(|m| {
                if m.kind == FileKind::Symlink {
                    Ok(vec![(abs.clone(), m)])
                } else {
                    fs.walk(&abs)
                }
            })
        };
        let entries = match walked {
            Ok(e) => e,
            Err(e) => {
                c.fail(&format!("'{root}': {}", fs_msg(&e))).await?;
                status = 1;
                continue;
            }
        };
        let base_depth = abs.matches('/').count() - usize::from(abs == "/");
        for (path, m) in entries {
            let depth = if path == abs {
                0
            } else {
                path.matches('/').count() - base_depth
            };
            if depth > maxdepth || depth < mindepth {
                continue;
            }
            if kind.as_ref().is_some_and(|k| *k != m.kind) {
                continue;
            }
            let disp = if path == abs {
                root.clone()
            } else {
                format!(
                    "{}{}",
                    root.trim_end_matches('/'),
                    &path[if abs == "/" { 0 } else { abs.len() }..]
                )
            };
            let name = if path == abs {
                basename(&root)
            } else {
                basename(&path)
            };
            let ok = name_pats.iter().all(|(p, ci, neg)| {
                let subject: Vec<char> = if *ci {
                    name.to_lowercase()
                } else {
                    name.clone()
                }
                .chars()
                .collect();
                let pat: Vec<char> = if *ci {
                    p.iter()
                        .collect::<String>()
                        .to_lowercase()
                        .chars()
                        .collect()
                } else {
                    p.clone()
                };
                let hit = glob_match(&pat, &subject)
                    || glob_match(&pat, &disp.chars().collect::<Vec<_>>());
                hit != *neg
            });
            if ok {
                c.out.put(&format!("{disp}\n")).await?;
            }
        }
    }
    Ok(status)
}

// ---------------------------------------------------------------------------------------------
// shell-level builtins

async fn env(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut vars = c.sh.env();
    let mut i = 0;
    while i < a.len() {
        let s = &a[i];
        if s == "-i" || s == "-" || s == "--ignore-environment" {
            vars.clear();
        } else if s == "-u" {
            if let Some(n) = a.get(i + 1) {
                vars.remove(n);
            }
            i += 1;
        } else if let Some((k, v)) = s
            .split_once('=')
            .filter(|(k, _)| !k.is_empty() && !k.starts_with('-'))
        {
            vars.insert(k.to_owned(), v.to_owned());
        } else if s == "--" {
            i += 1;
            break;
        } else {
            break;
        }
        i += 1;
    }
    if i >= a.len() {
        for (k, v) in &vars {
            c.out.put(&format!("{k}={v}\n")).await?;
        }
        return Ok(0);
    }
    let mut sub = c.sh.subshell();
    sub.vars = vars.clone();
    sub.exported = vars.keys().cloned().collect();
    c.out.flush().await?;
    let io = c.io.clone();
    Ok(run_argv(&mut sub, a[i..].to_vec(), &io).await)
}

async fn printenv(c: &mut Ctx<'_>, a: &[String]) -> R {
    let vars = c.sh.env();
    if a.is_empty() {
        for (k, v) in &vars {
            c.out.put(&format!("{k}={v}\n")).await?;
        }
        return Ok(0);
    }
    let mut status = 0;
    for n in a {
        match vars.get(n) {
            Some(v) => c.out.put(&format!("{v}\n")).await?,
            None => status = 1,
        }
    }
    Ok(status)
}

fn valid_name(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && n.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

async fn export(c: &mut Ctx<'_>, a: &[String]) -> R {
    let names: Vec<&String> = a.iter().filter(|s| !s.starts_with('-')).collect();
    if names.is_empty() {
        let env = c.sh.env();
        for (k, v) in env {
            c.out
                .put(&format!("export {k}={}\n", shell_quote(&v)))
                .await?;
        }
        return Ok(0);
    }
    let mut status = 0;
    for s in names {
        let (n, v) = match s.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (s.as_str(), None),
        };
        if !valid_name(n) {
            c.fail(&format!("{s}: bad variable name")).await?;
            status = 1;
            continue;
        }
        if let Some(v) = v {
            c.sh.set_var(n, v);
        }
        c.sh.export(n);
    }
    Ok(status)
}

async fn set(c: &mut Ctx<'_>, a: &[String]) -> R {
    if a.is_empty() {
        let vars: BTreeMap<String, String> = c.sh.vars.clone();
        for (k, v) in vars {
            c.out.put(&format!("{k}={}\n", shell_quote(&v))).await?;
        }
        return Ok(0);
    }
    let mut i = 0;
    while i < a.len() {
        let s = &a[i];
        i += 1;
        if s == "--" {
            let mut args = vec![c.sh.args.first().cloned().unwrap_or_default()];
            args.extend(a[i..].iter().cloned());
            c.sh.args = args;
            return Ok(0);
        }
        let (on, flags) = match s.strip_prefix('-') {
            Some(f) => (true, f),
            None => match s.strip_prefix('+') {
                Some(f) => (false, f),
                None => {
                    let mut args = vec![c.sh.args.first().cloned().unwrap_or_default()];
                    args.extend(a[i - 1..].iter().cloned());
                    c.sh.args = args;
                    return Ok(0);
                }
            },
        };
        for f in flags.chars() {
            match f {
                'e' => c.sh.errexit = on,
                'o' => {
                    let opt = a.get(i).cloned().unwrap_or_default();
                    i += 1;
                    match opt.as_str() {
                        "errexit" => c.sh.errexit = on,
                        "pipefail" => c.sh.pipefail = on,
                        "nounset" | "xtrace" | "noglob" | "noclobber" | "verbose" | "posix" => {}
                        other => {
                            c.fail(&format!("Illegal option -o {other}")).await?;
                            return Ok(2);
                        }
                    }
                }
                'u' | 'x' | 'v' | 'f' | 'C' | 'h' | 'm' | 'a' | 'b' | 'n' => {}
                other => {
                    c.fail(&format!("Illegal option -{other}")).await?;
                    return Ok(2);
                }
            }
        }
    }
    Ok(0)
}

async fn read(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut raw = false;
    let mut names = Vec::new();
    let mut i = 0;
    while i < a.len() {
        match a[i].as_str() {
            "-r" => raw = true,
            "-p" | "-t" | "-n" | "-d" | "-u" => i += 1,
            s if s.starts_with('-') && s.len() > 1 => {}
            s => names.push(s.to_owned()),
        }
        i += 1;
    }
    if names.is_empty() {
        names.push("REPLY".to_owned());
    }
    let input = c.io.stdin.clone();
    let mut line = String::new();
    let mut got_any = false;
    let mut eof = false;
    loop {
        let Some(l) = input.read_line().await else {
            eof = true;
            break;
        };
        got_any = true;
        let mut s = String::from_utf8_lossy(&l).into_owned();
        let had_nl = s.ends_with('\n');
        if had_nl {
            s.pop();
        } else {
            eof = true;
        }
        if !raw && s.ends_with('\\') && had_nl {
            s.pop();
            line.push_str(&s);
            continue;
        }
        line.push_str(&s);
        break;
    }
    if !raw {
        let mut out = String::new();
        let mut esc = false;
        for ch in line.chars() {
            if esc {
                out.push(ch);
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else {
                out.push(ch);
            }
        }
        line = out;
    }
    let name_count = names.len();
    let mut rest = line.trim_start_matches([' ', '\t']).to_owned();
    for (k, n) in names.iter().enumerate() {
        let value = if k + 1 == name_count {
            let v = rest.trim_end_matches([' ', '\t']).to_owned();
            rest.clear();
            v
        } else {
            match rest.find([' ', '\t']) {
                Some(p) => {
                    let v = rest[..p].to_owned();
                    rest = rest[p..].trim_start_matches([' ', '\t']).to_owned();
                    v
                }
                None => std::mem::take(&mut rest),
            }
        };
        c.sh.set_var(n, value);
    }
    let _ = got_any;
    Ok(i32::from(eof))
}

async fn source(c: &mut Ctx<'_>, a: &[String]) -> R {
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
    match super::parse::parse(&text) {
        Ok(script) => {
            let io = c.io.clone();
            c.out.flush().await?;
            Ok(exec::exec_script(c.sh, &script, &io).await)
        }
        Err(e) => {
            c.fail(&format!("{file}: {e}")).await?;
            Ok(2)
        }
    }
}

async fn sh_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
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
        match super::parse::parse(&pending) {
            Ok(script) => {
                pending.clear();
                status = exec::exec_script(&mut base, &script, &io).await;
                if let Some(Ctl::Exit(code)) = base.ctl {
                    return Ok(code);
                }
            }
            Err(e) => {
                let incomplete = ["end of input", "unterminated", "missing", "expecting"]
                    .iter()
                    .any(|k| e.0.contains(k));
                if !incomplete || eof {
                    report(&io, &format!("{}: {e}\n", c.name)).await;
                    pending.clear();
                    status = 2;
                }
            }
        }
        if eof {
            break;
        }
    }
    Ok(status)
}

async fn command(c: &mut Ctx<'_>, a: &[String]) -> R {
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

async fn which(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut status = 0;
    for n in a.iter().filter(|s| !s.starts_with('-')) {
        match exec::which(c.sh, n) {
            Some(p) => c.out.put(&format!("{p}\n")).await?,
            None => status = 1,
        }
    }
    Ok(status)
}

async fn type_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
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

async fn id(c: &mut Ctx<'_>, a: &[String]) -> R {
    let (uid, gid) = (c.sh.uid, c.sh.gid);
    let (un, gn) = {
        let fs = c.fs();
        (user_name(&fs, uid), group_name(&fs, gid))
    };
    let names = a.iter().any(|s| s.contains('n'));
    let fmt = |id: u32, name: &Option<String>| {
        if names {
            name.clone().unwrap_or_else(|| id.to_string())
        } else {
            id.to_string()
        }
    };
    let line = if a.iter().any(|s| s.starts_with('-') && s.contains('u')) {
        fmt(uid, &un)
    } else if a
        .iter()
        .any(|s| s.starts_with('-') && (s.contains('g') || s.contains('G')))
    {
        fmt(gid, &gn)
    } else {
        let u = un.map(|n| format!("({n})")).unwrap_or_default();
        let g = gn.map(|n| format!("({n})")).unwrap_or_default();
        format!("uid={uid}{u} gid={gid}{g} groups={gid}{g}")
    };
    c.out.put(&format!("{line}\n")).await?;
    Ok(0)
}

async fn uname(c: &mut Ctx<'_>, a: &[String]) -> R {
    let host = c.sh.hostname.clone();
    let all = a.iter().any(|s| s.contains('a'));
    let mut parts = Vec::new();
    let want = |f: char| all || a.iter().any(|s| s.starts_with('-') && s.contains(f));
    if want('s') || a.is_empty() {
        parts.push("Linux".to_owned());
    }
    if want('n') {
        parts.push(host);
    }
    if want('r') {
        parts.push("6.1.0-contree".to_owned());
    }
    if want('v') {
        parts.push("#1 SMP".to_owned());
    }
    if want('m') || want('p') && !all {
        parts.push("x86_64".to_owned());
    }
    if all || want('o') {
        parts.push("GNU/Linux".to_owned());
    }
    c.out.put(&format!("{}\n", parts.join(" "))).await?;
    Ok(0)
}

async fn date(c: &mut Ctx<'_>, a: &[String]) -> R {
    let now = time::OffsetDateTime::now_utc();
    let fmt = a.iter().find_map(|s| s.strip_prefix('+'));
    let out = match fmt {
        Some(f) => {
            let mut s = String::new();
            let mut it = f.chars();
            while let Some(ch) = it.next() {
                if ch != '%' {
                    s.push(ch);
                    continue;
                }
                match it.next() {
                    Some('s') => s.push_str(&now.unix_timestamp().to_string()),
                    Some('Y') => s.push_str(&now.year().to_string()),
                    Some('m') => s.push_str(&format!("{:02}", u8::from(now.month()))),
                    Some('d') => s.push_str(&format!("{:02}", now.day())),
                    Some('H') => s.push_str(&format!("{:02}", now.hour())),
                    Some('M') => s.push_str(&format!("{:02}", now.minute())),
                    Some('S') => s.push_str(&format!("{:02}", now.second())),
                    Some('F') => s.push_str(&format!(
                        "{}-{:02}-{:02}",
                        now.year(),
                        u8::from(now.month()),
                        now.day()
                    )),
                    Some('T') => s.push_str(&format!(
                        "{:02}:{:02}:{:02}",
                        now.hour(),
                        now.minute(),
                        now.second()
                    )),
                    Some('%') => s.push('%'),
                    Some(o) => {
                        s.push('%');
                        s.push(o);
                    }
                    None => s.push('%'),
                }
            }
            s
        }
        None => format!(
            "{} {:02}:{:02}:{:02} UTC {}",
            format_time(now.unix_timestamp())
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            now.hour(),
            now.minute(),
            now.second(),
            now.year()
        ),
    };
    c.out.put(&format!("{out}\n")).await?;
    Ok(0)
}

async fn xargs(c: &mut Ctx<'_>, a: &[String]) -> R {
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

// ---------------------------------------------------------------------------------------------
// test / [

async fn test_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut t = Test { c, a, i: 0 };
    if a.is_empty() {
        return Ok(1);
    }
    match t.expr() {
        Ok(v) if t.i == a.len() => Ok(i32::from(!v)),
        Ok(_) => {
            let extra = a[t.i].clone();
            c_fail_sync(t.c, &format!("{extra}: unexpected operator")).await?;
            Ok(2)
        }
        Err(e) => {
            c_fail_sync(t.c, &e).await?;
            Ok(2)
        }
    }
}

async fn c_fail_sync(c: &mut Ctx<'_>, msg: &str) -> Result<(), Broken> {
    c.fail(msg).await
}

struct Test<'c, 'x, 'a> {
    c: &'c mut Ctx<'x>,
    a: &'a [String],
    i: usize,
}

impl Test<'_, '_, '_> {
    fn peek(&self) -> Option<&str> {
        self.a.get(self.i).map(String::as_str)
    }

    fn expr(&mut self) -> Result<bool, String> {
        let mut v = self.and()?;
        while self.peek() == Some("-o") {
            self.i += 1;
            let r = self.and()?;
            v = v || r;
        }
        Ok(v)
    }

    fn and(&mut self) -> Result<bool, String> {
        let mut v = self.not()?;
        while self.peek() == Some("-a") {
            self.i += 1;
            let r = self.not()?;
            v = v && r;
        }
        Ok(v)
    }

    fn not(&mut self) -> Result<bool, String> {
        if self.peek() == Some("!") && self.a.len() - self.i > 1 {
            self.i += 1;
            return Ok(!self.not()?);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<bool, String> {
        let rest = self.a.len() - self.i;
        let Some(first) = self.peek().map(str::to_owned) else {
            return Err("argument expected".to_owned());
        };
        if first == "(" && rest >= 3 {
            self.i += 1;
            let v = self.expr()?;
            if self.peek() != Some(")") {
                return Err("missing )".to_owned());
            }
            self.i += 1;
            return Ok(v);
        }
        // binary operators
        if rest >= 3 {
            let op = self.a[self.i + 1].clone();
            let rhs = self.a[self.i + 2].clone();
            let bin = match op.as_str() {
                "=" | "==" => Some(first == rhs),
                "!=" => Some(first != rhs),
                "<" => Some(first < rhs),
                ">" => Some(first > rhs),
                "-eq" | "-ne" | "-lt" | "-le" | "-gt" | "-ge" => {
                    let l = first
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| format!("{first}: integer expression expected"))?;
                    let r = rhs
                        .trim()
                        .parse::<i64>()
                        .map_err(|_| format!("{rhs}: integer expression expected"))?;
                    Some(match op.as_str() {
                        "-eq" => l == r,
                        "-ne" => l != r,
                        "-lt" => l < r,
                        "-le" => l <= r,
                        "-gt" => l > r,
                        _ => l >= r,
                    })
                }
                "-nt" | "-ot" | "-ef" => {
                    let fs = self.c.fs();
                    let m1 = fs.stat(&self.c.sh.abs(&first)).ok();
                    let m2 = fs.stat(&self.c.sh.abs(&rhs)).ok();
                    Some(match (op.as_str(), m1, m2) {
                        ("-nt", Some(x), Some(y)) => x.mtime > y.mtime,
                        ("-nt", Some(_), None) => true,
                        ("-ot", Some(x), Some(y)) => x.mtime < y.mtime,
                        ("-ot", None, Some(_)) => true,
                        ("-ef", Some(_), Some(_)) => {
                            fs.canonicalize(&self.c.sh.abs(&first)).ok()
                                == fs.canonicalize(&self.c.sh.abs(&rhs)).ok()
                        }
                        _ => false,
                    })
                }
                _ => None,
            };
            if let Some(v) = bin {
                self.i += 3;
                return Ok(v);
            }
        }
        if rest >= 2 && first.len() == 2 && first.starts_with('-') {
            let arg = self.a[self.i + 1].clone();
            let path = self.c.sh.abs(&arg);
            let fs = self.c.fs();
            let st = fs.stat(&path).ok();
            let v = match first.as_str() {
                "-z" => Some(arg.is_empty()),
                "-n" => Some(!arg.is_empty()),
                "-e" | "-a" => Some(st.is_some()),
                "-f" => Some(st.is_some_and(|m| m.kind == FileKind::File)),
                "-d" => Some(st.is_some_and(|m| m.kind == FileKind::Dir)),
                "-s" => Some(st.is_some_and(|m| m.size > 0 && m.kind == FileKind::File)),
                "-r" | "-w" => Some(st.is_some()),
                "-x" => Some(st.is_some_and(|m| m.mode & 0o111 != 0)),
                "-L" | "-h" => Some(fs.lstat(&path).is_ok_and(|m| m.kind == FileKind::Symlink)),
                "-p" | "-S" | "-b" | "-c" => Some(
                    matches!(
                        arg.as_str(),
                        "/dev/null" | "/dev/zero" | "/dev/urandom" | "/dev/random"
                    ) && first == "-c",
                ),
                "-t" => Some(false),
                _ => None,
            };
            if let Some(v) = v {
                self.i += 2;
                return Ok(v);
            }
        }
        self.i += 1;
        Ok(!first.is_empty())
    }
}

async fn trap(c: &mut Ctx<'_>, a: &[String]) -> R {
    let a: Vec<&String> = a.iter().filter(|s| *s != "--").collect();
    if a.is_empty() || a[0] == "-l" || a[0] == "-p" {
        if let Some(t) = c.sh.exit_trap.clone() {
            c.out
                .put(&format!("trap -- {} EXIT\n", shell_quote(&t)))
                .await?;
        }
        return Ok(0);
    }
    let (action, sigs) = if a.len() == 1 {
        ("-", &a[..])
    } else {
        (a[0].as_str(), &a[1..])
    };
    for sig in sigs {
        if matches!(sig.as_str(), "EXIT" | "0" | "SIGEXIT") {
            c.sh.exit_trap = if action == "-" || action.is_empty() {
                None
            } else {
                Some(action.to_owned())
            };
        }
    }
    Ok(0)
}

async fn mktemp(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "p", "dqtu", &[("directory", 'd'), ("tmpdir", 'p')]).await? else {
        return Ok(1);
    };
    let template = o
        .operands
        .first()
        .cloned()
        .unwrap_or_else(|| "tmp.XXXXXXXXXX".to_owned());
    let xs = template.len() - template.trim_end_matches('X').len();
    if xs < 3 {
        c.fail(&format!("too few X's in template '{template}'"))
            .await?;
        return Ok(1);
    }
    let dir = match o.value('p') {
        Some(d) => d.to_owned(),
        None if o.operands.is_empty() || o.has('t') => {
            c.sh.var("TMPDIR")
                .filter(|s| !s.is_empty())
                .unwrap_or("/tmp")
                .to_owned()
        }
        None => String::new(),
    };
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..100 {
        let suffix: String = {
            let mut rng = c.sh.rng.lock().unwrap_or_else(|e| e.into_inner());
            (0..xs)
                .map(|_| ALNUM[(rng.next_u64() % ALNUM.len() as u64) as usize] as char)
                .collect()
        };
        let name = format!("{}{suffix}", &template[..template.len() - xs]);
        let path = if dir.is_empty() {
            name
        } else {
            format!("{}/{name}", dir.trim_end_matches('/'))
        };
        let abs = c.abs(&path);
        let (uid, gid) = (c.sh.uid, c.sh.gid);
        let r = {
            let mut fs = c.fs();
            if fs.exists(&abs) {
                continue;
            }
            if o.has('d') {
                fs.mkdir(&abs).and_then(|_| fs.chmod(&abs, 0o700))
            } else {
                fs.write(&abs, Bytes::new())
                    .and_then(|_| fs.chmod(&abs, 0o600))
            }
            .and_then(|_| fs.chown(&abs, uid, gid))
        };
        return match r {
            Ok(()) => {
                c.out.put(&format!("{path}\n")).await?;
                Ok(0)
            }
            Err(e) => {
                c.fail(&format!(
                    "failed to create {} via template '{template}': {}",
                    if o.has('d') { "directory" } else { "file" },
                    fs_msg(&e)
                ))
                .await?;
                Ok(1)
            }
        };
    }
    c.fail("too many attempts").await?;
    Ok(1)
}

fn stat_format(fmt: &str, name: &str, m: &Meta, fs: &Fs) -> String {
    let mut out = String::new();
    let mut it = fmt.chars();
    let user = user_name(fs, m.uid).unwrap_or_else(|| "UNKNOWN".to_owned());
    let group = group_name(fs, m.gid).unwrap_or_else(|| "UNKNOWN".to_owned());
    let kind = match m.kind {
        FileKind::File if m.size == 0 => "regular empty file",
        FileKind::File => "regular file",
        FileKind::Dir => "directory",
        FileKind::Symlink => "symbolic link",
    };
    let time = time::OffsetDateTime::from_unix_timestamp(m.mtime)
        .map(|t| {
            format!(
                "{}-{:02}-{:02} {:02}:{:02}:{:02}.000000000 +0000",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_default();
    while let Some(ch) = it.next() {
        if ch == '\\' {
            match it.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => out.push('\\'),
            }
            continue;
        }
        if ch != '%' {
            out.push(ch);
            continue;
        }
        match it.next() {
            Some('n') => out.push_str(name),
            Some('N') => {
                out.push_str(&format!("'{name}'"));
                if m.kind == FileKind::Symlink {
                    out.push_str(&format!(" -> '{}'", m.symlink_to));
                }
            }
            Some('s') => out.push_str(&m.size.to_string()),
            Some('a') => out.push_str(&format!("{:o}", m.mode & 0o7777)),
            Some('A') => out.push_str(&mode_string(m)),
            Some('f') => out.push_str(&format!("{:x}", m.mode)),
            Some('u') => out.push_str(&m.uid.to_string()),
            Some('g') => out.push_str(&m.gid.to_string()),
            Some('U') => out.push_str(&user),
            Some('G') => out.push_str(&group),
            Some('F') => out.push_str(kind),
            Some('h') => out.push_str(&m.nlink.to_string()),
            Some('b') => out.push_str(&((m.size + 511) / 512).to_string()),
            Some('B') => out.push_str("512"),
            Some('i') => out.push('0'),
            Some('Y') | Some('X') | Some('Z') | Some('W') => out.push_str(&m.mtime.to_string()),
            Some('y') | Some('x') | Some('z') | Some('w') => out.push_str(&time),
            Some('%') => out.push('%'),
            Some(_) => out.push('?'),
            None => out.push('%'),
        }
    }
    out
}

async fn stat(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "c", "Lt", &[("format", 'c'), ("dereference", 'L')]).await? else {
        return Ok(1);
    };
    if o.operands.is_empty() {
        c.fail("missing operand").await?;
        return Ok(1);
    }
    let default = "  File: %N\n  Size: %s\tBlocks: %b\tIO Block: 4096\t%F\nAccess: (0%a/%A)  Uid: (%u/%U)   Gid: (%g/%G)\nModify: %y\n";
    let mut status = 0;
    for p in &o.operands {
        let abs = c.abs(p);
        let text = {
            let fs = c.fs();
            let m = if o.has('L') {
                fs.stat(&abs)
            } else {
                fs.lstat(&abs)
            };
            m.map(|m| match o.value('c') {
                Some(f) => format!("{}\n", stat_format(f, p, &m, &fs)),
                None => stat_format(default, p, &m, &fs),
            })
        };
        match text {
            Ok(t) => c.out.put(&t).await?,
            Err(e) => {
                c.fail(&format!("cannot statx '{p}': {}", fs_msg(&e)))
                    .await?;
                status = 1;
            }
        }
    }
    Ok(status)
}

enum SedAddr {
    Line(usize),
    Last,
    Re(regex::Regex),
}

enum SedOp {
    Subst {
        re: regex::Regex,
        repl: String,
        global: bool,
        nth: usize,
        print: bool,
    },
    Delete,
    Print,
    Quit,
}

struct SedCmd {
    a1: Option<SedAddr>,
    a2: Option<SedAddr>,
    negate: bool,
    op: SedOp,
    active: bool,
}

fn sed_regex(pat: &str, extended: bool, icase: bool) -> Result<regex::Regex, String> {
    let p = if extended {
        pat.to_owned()
    } else {
        bre_to_ere(pat)
    };
    regex::RegexBuilder::new(&p)
        .case_insensitive(icase)
        .size_limit(1 << 22)
        .build()
        .map_err(|_| format!("-e expression: invalid regular expression '{pat}'"))
}

/// Reads text up to an unescaped `delim`, keeping other escapes; `\delim` becomes `delim`.
fn sed_until(ch: &[char], i: &mut usize, delim: char) -> Result<String, String> {
    let mut out = String::new();
    while *i < ch.len() {
        let c = ch[*i];
        if c == '\\' && *i + 1 < ch.len() {
            if ch[*i + 1] == delim {
                out.push(delim);
            } else {
                out.push('\\');
                out.push(ch[*i + 1]);
            }
            *i += 2;
            continue;
        }
        if c == delim {
            *i += 1;
            return Ok(out);
        }
        out.push(c);
        *i += 1;
    }
    Err(format!("-e expression: unterminated `{delim}'"))
}

fn sed_parse(script: &str, extended: bool) -> Result<Vec<SedCmd>, String> {
    let ch: Vec<char> = script.chars().collect();
    let mut i = 0;
    let mut cmds = Vec::new();
    let addr = |i: &mut usize| -> Result<Option<SedAddr>, String> {
        if *i < ch.len() && ch[*i].is_ascii_digit() {
            let st = *i;
            while *i < ch.len() && ch[*i].is_ascii_digit() {
                *i += 1;
            }
            let n: String = ch[st..*i].iter().collect();
            return n
                .parse()
                .map(|n| Some(SedAddr::Line(n)))
                .map_err(|_| "invalid line number".to_owned());
        }
        if *i < ch.len() && ch[*i] == '$' {
            *i += 1;
            return Ok(Some(SedAddr::Last));
        }
        if *i < ch.len() && ch[*i] == '/' {
            *i += 1;
            let p = sed_until(&ch, i, '/')?;
            return sed_regex(&p, extended, false).map(|r| Some(SedAddr::Re(r)));
        }
        Ok(None)
    };
    loop {
        while i < ch.len() && (ch[i].is_whitespace() || ch[i] == ';') {
            i += 1;
        }
        if i >= ch.len() {
            break;
        }
        let a1 = addr(&mut i)?;
        let mut a2 = None;
        if a1.is_some() && i < ch.len() && ch[i] == ',' {
            i += 1;
            a2 = addr(&mut i)?;
            if a2.is_none() {
                return Err("-e expression: unexpected `,'".to_owned());
            }
        }
        while i < ch.len() && ch[i] == ' ' {
            i += 1;
        }
        let negate = i < ch.len() && ch[i] == '!';
        if negate {
            i += 1;
        }
        let Some(&c) = ch.get(i) else {
            return Err("-e expression: missing command".to_owned());
        };
        i += 1;
        let op = match c {
            'd' => SedOp::Delete,
            'p' => SedOp::Print,
            'q' => SedOp::Quit,
            's' => {
                let Some(&delim) = ch.get(i) else {
                    return Err("-e expression: unterminated `s' command".to_owned());
                };
                if delim == '\\' || delim == '\n' {
                    return Err("-e expression: unterminated `s' command".to_owned());
                }
                i += 1;
                let pat = sed_until(&ch, &mut i, delim)?;
                let repl = sed_until(&ch, &mut i, delim)?;
                let (mut global, mut print, mut icase, mut nth) = (false, false, false, 1usize);
                while i < ch.len() && !matches!(ch[i], ';' | '\n' | '}') {
                    match ch[i] {
                        'g' => global = true,
                        'p' => print = true,
                        'i' | 'I' => icase = true,
                        d if d.is_ascii_digit() => {
                            nth = d.to_digit(10).unwrap_or(1).max(1) as usize
                        }
                        ' ' => {}
                        other => {
                            return Err(format!("-e expression: unknown option to `s': {other}"));
                        }
                    }
                    i += 1;
                }
                SedOp::Subst {
                    re: sed_regex(&pat, extended, icase)?,
                    repl,
                    global,
                    nth,
                    print,
                }
            }
            other => return Err(format!("-e expression: unknown command: `{other}'")),
        };
        cmds.push(SedCmd {
            a1,
            a2,
            negate,
            op,
            active: false,
        });
    }
    Ok(cmds)
}

fn sed_expand(repl: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    let ch: Vec<char> = repl.chars().collect();
    let mut i = 0;
    while i < ch.len() {
        match ch[i] {
            '&' => out.push_str(caps.get(0).map_or("", |m| m.as_str())),
            '\\' if i + 1 < ch.len() => {
                i += 1;
                match ch[i] {
                    d if d.is_ascii_digit() => {
                        let n = d.to_digit(10).unwrap_or(0) as usize;
                        out.push_str(caps.get(n).map_or("", |m| m.as_str()));
                    }
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    o => out.push(o),
                }
            }
            o => out.push(o),
        }
        i += 1;
    }
    out
}

fn sed_matches(a: &SedAddr, line_no: usize, last: bool, text: &str) -> bool {
    match a {
        SedAddr::Line(n) => *n == line_no,
        SedAddr::Last => last,
        SedAddr::Re(r) => r.is_match(text),
    }
}

/// Runs the commands over `text`; returns the output and whether `q` was hit.
fn sed_run(
    cmds: &mut [SedCmd],
    text: &str,
    quiet: bool,
    line_base: &mut usize,
    is_last_input: bool,
) -> (String, bool) {
    let mut out = String::new();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (k, raw) in lines.iter().enumerate() {
        *line_base += 1;
        let line_no = *line_base;
        let last = is_last_input && k + 1 == lines.len();
        let had_nl = raw.ends_with('\n');
        let mut pat = raw.strip_suffix('\n').unwrap_or(raw).to_owned();
        let mut deleted = false;
        let mut quit = false;
        for cmd in cmds.iter_mut() {
            let selected = match (&cmd.a1, &cmd.a2) {
                (None, _) => true,
                (Some(a1), None) => sed_matches(a1, line_no, last, &pat),
                (Some(a1), Some(a2)) => {
                    if cmd.active {
                        let end = match a2 {
                            SedAddr::Line(n) => line_no >= *n,
                            other => sed_matches(other, line_no, last, &pat),
                        };
                        if end {
                            cmd.active = false;
                        }
                        true
                    } else if sed_matches(a1, line_no, last, &pat) {
                        cmd.active = !matches!(a2, SedAddr::Line(n) if *n <= line_no);
                        true
                    } else {
                        false
                    }
                }
            };
            if selected == cmd.negate {
                continue;
            }
            match &cmd.op {
                SedOp::Delete => {
                    deleted = true;
                    break;
                }
                SedOp::Print => {
                    out.push_str(&pat);
                    out.push('\n');
                }
                SedOp::Quit => {
                    quit = true;
                    break;
                }
                SedOp::Subst {
                    re,
                    repl,
                    global,
                    nth,
                    print,
                } => {
                    let mut result = String::new();
                    let mut last_end = 0;
                    let mut count = 0;
                    let mut changed = false;
                    for caps in re.captures_iter(&pat) {
                        let Some(m) = caps.get(0) else { continue };
                        count += 1;
                        if count < *nth {
                            continue;
                        }
                        result.push_str(&pat[last_end..m.start()]);
                        result.push_str(&sed_expand(repl, &caps));
                        last_end = m.end();
                        changed = true;
                        if !global {
                            break;
                        }
                    }
                    if changed {
                        result.push_str(&pat[last_end..]);
                        pat = result;
                        if *print {
                            out.push_str(&pat);
                            out.push('\n');
                        }
                    }
                }
            }
        }
        if !deleted && !quiet {
            out.push_str(&pat);
            if had_nl {
                out.push('\n');
            }
        }
        if quit {
            return (out, true);
        }
    }
    (out, false)
}

async fn sed(c: &mut Ctx<'_>, a: &[String]) -> R {
    let mut quiet = false;
    let mut in_place = false;
    let mut extended = false;
    let mut scripts = Vec::new();
    let mut files = Vec::new();
    let mut i = 0;
    while i < a.len() {
        let s = &a[i];
        i += 1;
        match s.as_str() {
            "-n" | "--quiet" | "--silent" => quiet = true,
            "-E" | "-r" | "--regexp-extended" => extended = true,
            "-e" | "--expression" => match a.get(i) {
                Some(e) => {
                    scripts.push(e.clone());
                    i += 1;
                }
                None => {
                    c.fail("option requires an argument -- 'e'").await?;
                    return Ok(1);
                }
            },
            "--" => {
                files.extend(a[i..].iter().cloned());
                break;
            }
            s if s.starts_with("-i") || s.starts_with("--in-place") => in_place = true,
            s if s.starts_with('-')
                && s.len() > 1
                && s[1..].chars().all(|f| "nEri".contains(f)) =>
            {
                for f in s[1..].chars() {
                    match f {
                        'n' => quiet = true,
                        'E' | 'r' => extended = true,
                        _ => in_place = true,
                    }
                }
            }
            s if s.starts_with('-') && s.len() > 1 => {
                c.fail(&format!("invalid option -- '{}'", &s[1..])).await?;
                return Ok(1);
            }
            _ => files.push(s.clone()),
        }
    }
    if scripts.is_empty() {
        if files.is_empty() {
            c.fail("usage: sed [-n] [-i] [-E] [-e script] script [file...]")
                .await?;
            return Ok(1);
        }
        scripts.push(files.remove(0));
    }
    let mut cmds = match sed_parse(&scripts.join("\n"), extended) {
        Ok(v) => v,
        Err(e) => {
            c.fail(&e).await?;
            return Ok(1);
        }
    };
    if in_place && files.is_empty() {
        c.fail("no input files").await?;
        return Ok(1);
    }
    let inputs = if files.is_empty() {
        vec!["-".to_owned()]
    } else {
        files
    };
    let mut status = 0;
    let mut line_base = 0usize;
    let n = inputs.len();
    for (k, f) in inputs.iter().enumerate() {
        let input = match c.open(f) {
            Ok(i) => i,
            Err(e) => {
                c.fail(&format!("can't read {e}")).await?;
                status = 2;
                continue;
            }
        };
        let data = input.read_all().await;
        let text = String::from_utf8_lossy(&data).into_owned();
        if in_place {
            line_base = 0;
            for cmd in cmds.iter_mut() {
                cmd.active = false;
            }
        }
        let (out, quit) = sed_run(
            &mut cmds,
            &text,
            quiet,
            &mut line_base,
            in_place || k + 1 == n,
        );
        if in_place {
            let abs = c.abs(f);
            let r = c.fs().write(&abs, Bytes::from(out));
            if let Err(e) = r {
                c.fail(&format!("couldn't edit {f}: {}", fs_msg(&e)))
                    .await?;
                status = 4;
            }
        } else {
            c.out.put(&out).await?;
        }
        if quit {
            break;
        }
    }
    Ok(status)
}
