//! Builtins that write what they are given: echo, printf, yes, seq, sleep.

use std::time::Duration;

use super::{Ctx, R};

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

pub(super) async fn echo(c: &mut Ctx<'_>, a: &[String]) -> R {
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
                let j = escape_end(&f, i);
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
            let spec = parse_spec(&f, &mut i, args, &mut ai);
            let Some(&conv) = f.get(i) else {
                errs.push("missing format character".to_owned());
                return (out, errs);
            };
            i += 1;
            let arg = args.get(ai).cloned();
            ai += 1;
            match convert(conv, arg, &spec, &mut errs) {
                Piece::Text(s) => out.extend_from_slice(s.as_bytes()),
                Piece::Stop(s) => {
                    out.extend_from_slice(s.as_bytes());
                    return (out, errs);
                }
                Piece::Invalid => return (out, errs),
            }
        }
        if ai == start_ai || ai >= args.len() {
            break;
        }
    }
    (out, errs)
}

/// The end of the backslash escape starting at `f[i]` (`\x` takes up to two hex digits, `\N`
/// up to three octal ones).
fn escape_end(f: &[char], i: usize) -> usize {
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
    j
}

/// The flags, width and precision of one conversion (`%-08.3d`).
#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
    prec: Option<usize>,
}

/// Reads the flags, width, precision and length modifiers after `%` at `f[*i]`; a `*` width or
/// precision takes the next argument.
fn parse_spec(f: &[char], i: &mut usize, args: &[String], ai: &mut usize) -> Spec {
    let mut sp = Spec::default();
    while let Some(&fl) = f.get(*i) {
        match fl {
            '-' => sp.left = true,
            '0' => sp.zero = true,
            '+' => sp.plus = true,
            ' ' => sp.space = true,
            '#' => {}
            _ => break,
        }
        *i += 1;
    }
    if f.get(*i) == Some(&'*') {
        *i += 1;
        let w = args
            .get(*ai)
            .and_then(|s| parse_int_arg(s).ok())
            .unwrap_or(0);
        *ai += 1;
        if w < 0 {
            sp.left = true;
        }
        sp.width = w.unsigned_abs().min(4096) as usize;
    } else {
        while let Some(d) = f.get(*i).and_then(|c| c.to_digit(10)) {
            sp.width = (sp.width * 10 + d as usize).min(4096);
            *i += 1;
        }
    }
    if f.get(*i) == Some(&'.') {
        *i += 1;
        let mut p = 0usize;
        if f.get(*i) == Some(&'*') {
            *i += 1;
            p = args
                .get(*ai)
                .and_then(|s| parse_int_arg(s).ok())
                .unwrap_or(0)
                .clamp(0, 4096) as usize;
            *ai += 1;
        } else {
            while let Some(d) = f.get(*i).and_then(|c| c.to_digit(10)) {
                p = (p * 10 + d as usize).min(4096);
                *i += 1;
            }
        }
        sp.prec = Some(p);
    }
    // length modifiers are accepted and ignored
    while matches!(
        f.get(*i),
        Some('l') | Some('h') | Some('q') | Some('j') | Some('z')
    ) {
        *i += 1;
    }
    sp
}

/// What one conversion produced.
enum Piece {
    /// Text to output.
    Text(String),
    /// Text to output, then stop (`\c` in a `%b` argument).
    Stop(String),
    /// An invalid directive (its message is in the errors): stop here.
    Invalid,
}

/// Converts one argument by `conv` (`s`, `b`, `c`, `d`, `i`, `u`, `x`, `X`, `o`, `f`, `e`,
/// `g`, `q` and their capitals).
fn convert(conv: char, arg: Option<String>, sp: &Spec, errs: &mut Vec<String>) -> Piece {
    let (width, left) = (sp.width, sp.left);
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
            if let Some(p) = sp.prec {
                s = s.chars().take(p).collect();
            }
            pad(s, width, left, false)
        }
        'b' => {
            let (b, stop) = escapes(&arg.unwrap_or_default(), true);
            let s = pad(String::from_utf8_lossy(&b).into_owned(), width, left, false);
            return if stop { Piece::Stop(s) } else { Piece::Text(s) };
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
            let n = int_arg(errs);
            let mut s = n.abs().to_string();
            if let Some(p) = sp.prec {
                while s.len() < p {
                    s.insert(0, '0');
                }
            }
            if n < 0 {
                s.insert(0, '-');
            } else if sp.plus {
                s.insert(0, '+');
            } else if sp.space {
                s.insert(0, ' ');
            }
            pad(s, width, left, sp.zero && sp.prec.is_none())
        }
        'u' | 'x' | 'X' | 'o' => {
            let n = int_arg(errs) as u64;
            let s = match conv {
                'u' => n.to_string(),
                'x' => format!("{n:x}"),
                'X' => format!("{n:X}"),
                _ => format!("{n:o}"),
            };
            pad(s, width, left, sp.zero)
        }
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
            let v: f64 = match &arg {
                None => 0.0,
                Some(s) => s.trim().parse().unwrap_or_else(|_| {
                    errs.push(format!("{s}: invalid number"));
                    0.0
                }),
            };
            let mut s = float(conv, v, sp.prec.unwrap_or(6));
            if sp.plus && v >= 0.0 {
                s.insert(0, '+');
            }
            pad(s, width, left, sp.zero)
        }
        'q' => pad(shell_quote(&arg.unwrap_or_default()), width, left, false),
        other => {
            errs.push(format!("%{other}: invalid directive"));
            return Piece::Invalid;
        }
    };
    Piece::Text(s)
}

/// `%f`, `%e` and `%g` (and capitals) of `v` with precision `p`.
fn float(conv: char, v: f64, p: usize) -> String {
    match conv {
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
    }
}

pub(super) fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,+@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

pub(super) async fn printf(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn yes(c: &mut Ctx<'_>, a: &[String]) -> R {
    let line = if a.is_empty() {
        "y".to_owned()
    } else {
        a.join(" ")
    };
    let line = format!("{line}\n");
    let reps = (crate::shell::io::CHUNK_MAX / line.len()).max(1);
    let block = line.repeat(reps);
    loop {
        c.out.write(block.as_bytes()).await?;
        c.out.flush().await?;
        tokio::task::coop::consume_budget().await;
    }
}

pub(super) async fn seq(c: &mut Ctx<'_>, a: &[String]) -> R {
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

pub(super) async fn sleep(c: &mut Ctx<'_>, a: &[String]) -> R {
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
