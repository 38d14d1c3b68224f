//! The sed builtin (a subset: s, d, p, q, line and regex addresses, -n, -i, -E).

use bytes::Bytes;

use super::grep::bre_to_ere;
use super::util::fs_msg;
use super::{Ctx, R};

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
    loop {
        while i < ch.len() && (ch[i].is_whitespace() || ch[i] == ';') {
            i += 1;
        }
        if i >= ch.len() {
            break;
        }
        let a1 = sed_addr(&ch, &mut i, extended)?;
        let mut a2 = None;
        if a1.is_some() && i < ch.len() && ch[i] == ',' {
            i += 1;
            a2 = sed_addr(&ch, &mut i, extended)?;
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
            's' => sed_subst(&ch, &mut i, extended)?,
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

/// An address at `ch[*i]`: a line number, `$` or `/regex/`.
fn sed_addr(ch: &[char], i: &mut usize, extended: bool) -> Result<Option<SedAddr>, String> {
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
        let p = sed_until(ch, i, '/')?;
        return sed_regex(&p, extended, false).map(|r| Some(SedAddr::Re(r)));
    }
    Ok(None)
}

/// The rest of an `s` command after the `s`: delimiter, pattern, replacement, flags.
fn sed_subst(ch: &[char], i: &mut usize, extended: bool) -> Result<SedOp, String> {
    let Some(&delim) = ch.get(*i) else {
        return Err("-e expression: unterminated `s' command".to_owned());
    };
    if delim == '\\' || delim == '\n' {
        return Err("-e expression: unterminated `s' command".to_owned());
    }
    *i += 1;
    let pat = sed_until(ch, i, delim)?;
    let repl = sed_until(ch, i, delim)?;
    let (mut global, mut print, mut icase, mut nth) = (false, false, false, 1usize);
    while *i < ch.len() && !matches!(ch[*i], ';' | '\n' | '}') {
        match ch[*i] {
            'g' => global = true,
            'p' => print = true,
            'i' | 'I' => icase = true,
            d if d.is_ascii_digit() => nth = d.to_digit(10).unwrap_or(1).max(1) as usize,
            ' ' => {}
            other => {
                return Err(format!("-e expression: unknown option to `s': {other}"));
            }
        }
        *i += 1;
    }
    Ok(SedOp::Subst {
        re: sed_regex(&pat, extended, icase)?,
        repl,
        global,
        nth,
        print,
    })
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
            let selected = sed_selects(cmd, line_no, last, &pat);
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
                    if let Some(result) = sed_subst_line(re, repl, *global, *nth, &pat) {
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

/// Whether `cmd`'s address selects this line (a range stays active until its end address).
fn sed_selects(cmd: &mut SedCmd, line_no: usize, last: bool, pat: &str) -> bool {
    match (&cmd.a1, &cmd.a2) {
        (None, _) => true,
        (Some(a1), None) => sed_matches(a1, line_no, last, pat),
        (Some(a1), Some(a2)) => {
            if cmd.active {
                let end = match a2 {
                    SedAddr::Line(n) => line_no >= *n,
                    other => sed_matches(other, line_no, last, pat),
                };
                if end {
                    cmd.active = false;
                }
                true
            } else if sed_matches(a1, line_no, last, pat) {
                cmd.active = !matches!(a2, SedAddr::Line(n) if *n <= line_no);
                true
            } else {
                false
            }
        }
    }
}

/// `s`: the line with the `nth` (and, if `global`, every later) match replaced, or `None`
/// when nothing matched.
fn sed_subst_line(
    re: &regex::Regex,
    repl: &str,
    global: bool,
    nth: usize,
    pat: &str,
) -> Option<String> {
    let mut result = String::new();
    let mut last_end = 0;
    let mut count = 0;
    let mut changed = false;
    for caps in re.captures_iter(pat) {
        let Some(m) = caps.get(0) else { continue };
        count += 1;
        if count < nth {
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
    if !changed {
        return None;
    }
    result.push_str(&pat[last_end..]);
    Some(result)
}

pub(super) async fn sed(c: &mut Ctx<'_>, a: &[String]) -> R {
    let SedArgs {
        quiet,
        in_place,
        extended,
        scripts,
        files,
    } = match sed_args(a) {
        Ok(v) => v,
        Err(e) => {
            c.fail(&e).await?;
            return Ok(1);
        }
    };
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

/// The options and operands of `sed`.
struct SedArgs {
    quiet: bool,
    in_place: bool,
    extended: bool,
    scripts: Vec<String>,
    files: Vec<String>,
}

/// Parses `sed`'s arguments (the first operand is the script when there is no `-e`); the error
/// is the message to print.
fn sed_args(a: &[String]) -> Result<SedArgs, String> {
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
                    return Err("option requires an argument -- 'e'".to_owned());
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
                return Err(format!("invalid option -- '{}'", &s[1..]));
            }
            _ => files.push(s.clone()),
        }
    }
    if scripts.is_empty() {
        if files.is_empty() {
            return Err("usage: sed [-n] [-i] [-E] [-e script] script [file...]".to_owned());
        }
        scripts.push(files.remove(0));
    }
    Ok(SedArgs {
        quiet,
        in_place,
        extended,
        scripts,
        files,
    })
}
