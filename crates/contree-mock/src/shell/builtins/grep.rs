//! The grep builtin, and the translation of basic regular expressions.

use regex::bytes::Regex;

use super::util::{Opts, opts};
use super::{Ctx, R};
use crate::fs::FileKind;
use crate::shell::io::{Broken, Input};

/// Converts a POSIX basic regular expression to the `regex` crate's syntax.
pub(super) fn bre_to_ere(p: &str) -> String {
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

pub(super) async fn grep(c: &mut Ctx<'_>, a: &[String]) -> R {
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
    let re = match grep_regex(&o, &patterns) {
        Ok(r) => r,
        Err(short) => {
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
    let (files, mut status_err) = grep_operands(c, &o, &operands, recursive).await?;
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
        let Some(count) = grep_input(c, &o, &re, &input, &display, show_name, max).await? else {
            return Ok(0);
        };
        any |= count > 0;
    }
    Ok(if status_err && !(o.has('q') && any) {
        2
    } else if any {
        0
    } else {
        1
    })
}

/// The one regular expression matching any of `patterns` under `-F`, `-E`, `-x`, `-w` and
/// `-i`; the error is the last line of the regex crate's message.
fn grep_regex(o: &Opts, patterns: &[String]) -> Result<Regex, String> {
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
    regex::bytes::RegexBuilder::new(&conv.join("|"))
        .case_insensitive(o.has('i'))
        .size_limit(1 << 22)
        .build()
        .map_err(|e| {
            let msg = e.to_string();
            msg.lines()
                .last()
                .unwrap_or("invalid regular expression")
                .trim()
                .to_owned()
        })
}

/// The files to search: operands, with directories expanded under `-r` (else reported);
/// whether an operand was in error.
async fn grep_operands(
    c: &mut Ctx<'_>,
    o: &Opts,
    operands: &[String],
    recursive: bool,
) -> Result<(Vec<String>, bool), Broken> {
    let mut files = Vec::new();
    let mut status_err = false;
    for f in operands {
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
    Ok((files, status_err))
}

/// Searches one input and prints its matches (or its count or name under `-c`, `-l`, `-L`);
/// the number of matching lines, or `None` when `-q` has found one.
async fn grep_input(
    c: &mut Ctx<'_>,
    o: &Opts,
    re: &Regex,
    input: &Input,
    display: &str,
    show_name: bool,
    max: Option<u64>,
) -> Result<Option<u64>, Broken> {
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
            count += 1;
            if o.has('q') {
                return Ok(None);
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
    Ok(Some(count))
}
