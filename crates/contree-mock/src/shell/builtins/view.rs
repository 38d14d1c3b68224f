//! Builtins that read files and show parts of them: cat, head, tail, wc.

use super::util::opts;
use super::{Ctx, R};
use crate::shell::io::{Broken, Input};

pub(super) async fn cat(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "nuAevEtTsb", &[]).await? else {
        return Ok(1);
    };
    let number = o.has('n');
    let files = o.inputs();
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

pub(super) async fn head(c: &mut Ctx<'_>, a: &[String]) -> R {
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
    let Some((neg, count)) = count_arg(c, &spec, bytes_mode).await? else {
        return Ok(1);
    };
    let files = o.inputs();
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    let mut status = 0;
    for (k, f) in files.iter().enumerate() {
        let Some(input) = open_headed(c, f, headers, k > 0).await? else {
            status = 1;
            continue;
        };
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

/// The count of head or tail (`parse_count`); `None` after failing with their message.
async fn count_arg(
    c: &mut Ctx<'_>,
    spec: &str,
    bytes_mode: bool,
) -> Result<Option<(bool, u64)>, Broken> {
    let count = parse_count(spec);
    if count.is_none() {
        c.fail(&format!(
            "invalid number of {}: '{spec}'",
            if bytes_mode { "bytes" } else { "lines" }
        ))
        .await?;
    }
    Ok(count)
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

pub(super) async fn tail(c: &mut Ctx<'_>, a: &[String]) -> R {
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
    let Some((_, count)) = count_arg(c, &spec, bytes_mode).await? else {
        return Ok(1);
    };
    let files = o.inputs();
    let headers = (files.len() > 1 && !o.has('q')) || o.has('v');
    let mut status = 0;
    for (k, f) in files.iter().enumerate() {
        let Some(input) = open_headed(c, f, headers, k > 0).await? else {
            status = 1;
            continue;
        };
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

pub(super) async fn wc(c: &mut Ctx<'_>, a: &[String]) -> R {
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
    let files = o.inputs();
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
        let (lines, words, bytes, chars) = count(&input).await;
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

/// Lines, words, bytes and characters (UTF-8 lead bytes) of `input`, to its end.
async fn count(input: &Input) -> (u64, u64, u64, u64) {
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
    (lines, words, bytes, chars)
}

/// Opens `f` for head or tail (failing with their message), after its `==> f <==` header when
/// `headers` (a blank line before it when `later`); `None` when it cannot be opened.
async fn open_headed(
    c: &mut Ctx<'_>,
    f: &str,
    headers: bool,
    later: bool,
) -> Result<Option<Input>, Broken> {
    let input = match c.open(f) {
        Ok(i) => i,
        Err(e) => {
            c.fail(&format!(
                "cannot open '{}' for reading: {}",
                f,
                e.rsplit(": ").next().unwrap_or("")
            ))
            .await?;
            return Ok(None);
        }
    };
    if headers {
        let name = if f == "-" { "standard input" } else { f };
        c.out
            .put(&format!(
                "{}==> {name} <==\n",
                if later { "\n" } else { "" }
            ))
            .await?;
    }
    Ok(Some(input))
}
