//! Word expansion: parameters, command substitution, arithmetic, field splitting.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use super::glob::{glob, glob_match};
use super::lists::exec_script;
use super::{Ctl, Io, MAX_DEPTH, Shell, report};
use crate::shell::io::Output;
use crate::shell::parse::{ParamOp, Part, Script, Word};

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
pub(super) async fn expand_pattern(sh: &mut Shell, w: &Word, io: &Io) -> Result<String, i32> {
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
                    Some((op, word)) => param_op(sh, name, value, *op, word, io).await?,
                };
                Ok((v, *quoted))
            }
            Part::CmdSub { script, quoted } => {
                let s = command_subst(sh, script, io).await?;
                Ok((s, *quoted))
            }
            Part::Arith { expr, quoted } => {
                let text = expand_single(sh, expr, io).await?;
                match crate::shell::arith::eval(&text, sh) {
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

/// `${name<op>word}` for a parameter whose value is `value`.
async fn param_op(
    sh: &mut Shell,
    name: &str,
    value: Option<String>,
    op: ParamOp,
    word: &Word,
    io: &Io,
) -> Result<String, i32> {
    let unset = |colon: bool| match &value {
        None => true,
        Some(v) => colon && v.is_empty(),
    };
    Ok(match op {
        ParamOp::Length => value.unwrap_or_default().chars().count().to_string(),
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
            let pat: Vec<char> = expand_pattern(sh, word, io).await?.chars().collect();
            let chars: Vec<char> = v.chars().collect();
            let prefix = matches!(op, ParamOp::TrimPrefix(_));
            trim(&chars, &pat, prefix, longest)
        }
    })
}

/// `$(script)`: runs the script in a subshell and returns its output without trailing
/// newlines; the status becomes `$?`.
async fn command_subst(sh: &mut Shell, script: &Script, io: &Io) -> Result<String, i32> {
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
    Ok(s)
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
