//! Builtins that read and change variables: env, printenv, export, unset, local, set, read.

use std::collections::BTreeMap;

use super::output::shell_quote;
use super::{Ctx, R};
use crate::shell::exec::run_argv;

pub(super) async fn env(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn printenv(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) fn valid_name(n: &str) -> bool {
    n.chars()
        .next()
        .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && n.chars().all(|c| c == '_' || c.is_ascii_alphanumeric())
}

pub(super) async fn export(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn set(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn read(c: &mut Ctx<'_>, a: &[String]) -> R {
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

/// `unset NAME...`: removes variables.
pub(super) async fn unset(c: &mut Ctx<'_>, a: &[String]) -> R {
    for n in a.iter().filter(|n| !n.starts_with('-')) {
        c.sh.vars.remove(n);
        c.sh.exported.remove(n);
    }
    Ok(0)
}

/// `local NAME[=VALUE]...`: sets variables (the simulated shell has no scopes).
pub(super) async fn local(c: &mut Ctx<'_>, a: &[String]) -> R {
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
