//! Builtins that transform or summarise text: sha256sum, base64, tee, sort, uniq, tr, cut.

use base64::Engine as _;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::util::opts;
use super::{Ctx, R};
use crate::shell::exec;
use crate::shell::io::Broken;

pub(super) async fn sha256sum(c: &mut Ctx<'_>, a: &[String]) -> R {
    let Some(o) = opts(c, a, "", "btz", &[("binary", 'b'), ("text", 't')]).await? else {
        return Ok(1);
    };
    let files = o.inputs();
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

pub(super) async fn base64_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn tee(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn sort(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn uniq(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn tr(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn cut(c: &mut Ctx<'_>, a: &[String]) -> R {
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
