//! The Dockerfile subset `contree build` accepts, parsed into a [`Build`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Base, Build, CopyOptions, Stage, Step};
use crate::client::Contree;
use crate::error::{Error, Result};

/// Instructions that are parsed but not applied (as `contree build` does).
const SKIPPED: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "LABEL",
    "EXPOSE",
    "VOLUME",
    "STOPSIGNAL",
    "MAINTAINER",
    "HEALTHCHECK",
    "ONBUILD",
    "SHELL",
];

/// Parses a Dockerfile (its text, or a path to one) into a build with `context`.
pub(crate) fn from_dockerfile(client: &Contree, source: &str, context: &Path) -> Result<Build> {
    let text = if !source.contains('\n') && Path::new(source.trim()).is_file() {
        let path = Path::new(source.trim());
        std::fs::read_to_string(path).map_err(|e| Error::io("reading the Dockerfile", path, e))?
    } else {
        source.to_string()
    };
    let mut build = Build::from(client, "scratch");
    build.stages.clear();
    build.context = context.to_path_buf();
    build.confine = true;
    for (line_no, line) in logical_lines(&text) {
        let at = |msg: String| Error::invalid(format!("Dockerfile line {line_no}: {msg}"));
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w.to_ascii_uppercase(), r.trim().to_string()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        if word != "FROM" && word != "ARG" && build.stages.is_empty() {
            return Err(at(format!(
                "{word} before the first FROM; a Dockerfile starts with FROM (only ARG may come before it)"
            )));
        }
        let step = match word.as_str() {
            "FROM" => {
                let words = split_words(&rest).map_err(at)?;
                let words: Vec<String> =
                    words.into_iter().filter(|w| !w.starts_with("--")).collect();
                let (base, alias) = match words.as_slice() {
                    [b] => (b.clone(), None),
                    [b, as_, a] if as_.eq_ignore_ascii_case("as") => (b.clone(), Some(a.clone())),
                    _ => return Err(at("expected `FROM image [AS name]`".into())),
                };
                build.stages.push(Stage {
                    base: Base::Ref(base),
                    alias,
                    steps: Vec::new(),
                });
                continue;
            }
            "RUN" => parse_run(&rest).map_err(at)?,
            "COPY" | "ADD" => parse_copy(&word, &rest, &mut build.warnings, line_no).map_err(at)?,
            "WORKDIR" => Step::Workdir(one_word(&rest).map_err(at)?),
            "USER" => Step::User(one_word(&rest).map_err(at)?),
            "ENV" => {
                for (k, v) in parse_env(&rest).map_err(at)? {
                    push(&mut build, Step::Env(k, v));
                }
                continue;
            }
            "ARG" => {
                let w = one_word(&rest).map_err(at)?;
                let step = match w.split_once('=') {
                    Some((k, v)) => Step::Arg(k.to_string(), Some(v.to_string())),
                    None => Step::Arg(w, None),
                };
                if build.stages.is_empty() {
                    build.global_args.push(step);
                    continue;
                }
                step
            }
            w if SKIPPED.contains(&w) => {
                build.warnings.push(format!(
                    "Dockerfile line {line_no}: {w} is not applied by a contree build; skipped"
                ));
                continue;
            }
            w => {
                return Err(at(format!(
                    "unknown instruction `{w}`; supported: FROM, RUN, COPY, ADD, WORKDIR, ENV, ARG, USER"
                )));
            }
        };
        push(&mut build, step);
    }
    if build.stages.is_empty() {
        return Err(Error::invalid("the Dockerfile has no FROM instruction"));
    }
    Ok(build)
}

fn push(build: &mut Build, step: Step) {
    if let Some(s) = build.stages.last_mut() {
        s.steps.push(step);
    }
}

/// Joins `\` continuations and drops blank and comment lines; yields (first line number, text).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_none()) {
            continue;
        }
        let (start, mut acc) = current.take().unwrap_or((i + 1, String::new()));
        if let Some(body) = t.strip_suffix('\\') {
            acc.push_str(body);
            acc.push(' ');
            current = Some((start, acc));
        } else {
            acc.push_str(t);
            if !acc.trim().is_empty() {
                out.push((start, acc.trim().to_string()));
            }
        }
    }
    if let Some((start, acc)) = current
        && !acc.trim().is_empty()
    {
        out.push((start, acc.trim().to_string()));
    }
    out
}

/// A JSON array of strings (the exec form), if `rest` is one.
fn json_form(rest: &str) -> Option<std::result::Result<Vec<String>, String>> {
    rest.starts_with('[').then(|| {
        serde_json::from_str::<Vec<String>>(rest)
            .map_err(|e| format!("not a JSON array of strings ({e})"))
    })
}

fn parse_run(rest: &str) -> std::result::Result<Step, String> {
    if rest.starts_with("--") {
        return Err(format!(
            "RUN options (`{}`) are not supported",
            rest.split_whitespace().next().unwrap_or_default()
        ));
    }
    if rest.is_empty() {
        return Err("RUN needs a command".into());
    }
    match json_form(rest) {
        Some(parts) => {
            let parts = parts?;
            if parts.is_empty() {
                return Err("RUN [] needs a command".into());
            }
            Ok(Step::Run {
                shell: false,
                parts,
            })
        }
        None => Ok(Step::Run {
            shell: true,
            parts: vec![rest.to_string()],
        }),
    }
}

fn parse_copy(
    word: &str,
    rest: &str,
    warnings: &mut Vec<String>,
    line_no: usize,
) -> std::result::Result<Step, String> {
    let mut opts = CopyOptions::new();
    let mut from = None;
    let mut rest = rest.trim();
    while rest.starts_with("--") {
        let (flag, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        rest = tail.trim_start();
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        match name {
            "--from" if word == "ADD" => {
                return Err("ADD --from is not supported; use COPY --from".into());
            }
            "--from" => from = Some(value.to_string()),
            "--chown" => {
                let (u, g) = value.split_once(':').unwrap_or((value, value));
                let mut id = |s: &str| {
                    s.parse::<u32>().unwrap_or_else(|_| {
                        warnings.push(format!(
                            "Dockerfile line {line_no}: --chown={value}: names are not resolved; using 0 (give numeric ids)"
                        ));
                        0
                    })
                };
                let uid = id(u);
                opts = opts.chown(uid, id(g));
            }
            "--chmod" => {
                let mode = u32::from_str_radix(value, 8)
                    .map_err(|_| format!("--chmod={value} is not an octal mode"))?;
                opts = opts.chmod(mode);
            }
            other => return Err(format!("{word} option `{other}` is not supported")),
        }
    }
    let mut words = match json_form(rest) {
        Some(parts) => parts?,
        None => split_words(rest)?,
    };
    if words.len() < 2 {
        return Err(format!("expected `{word} SRC... DEST`"));
    }
    let dest = words.pop().unwrap_or_default();
    if words.len() > 1 && !dest.ends_with('/') {
        return Err(format!(
            "{word} with several sources needs a directory destination ending in `/` (got `{dest}`)"
        ));
    }
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    if word == "ADD" && from.is_none() && words.len() == 1 && is_url(&words[0]) {
        return Ok(Step::AddUrl {
            url: words.remove(0),
            dest,
            opts,
            line: Some(line_no),
        });
    }
    for src in &words {
        if is_url(src) {
            return Err(format!(
                "{word} of a URL (`{src}`) is supported only as `ADD <url> <dest>` (one URL, no other sources)"
            ));
        }
        if src.contains(['*', '?', '[']) {
            return Err(format!(
                "wildcards in {word} sources (`{src}`) are not supported yet; name the files or their directory"
            ));
        }
    }
    Ok(match from {
        Some(from) => Step::CopyFrom {
            from: Base::Ref(from),
            sources: words,
            dest,
            opts,
        },
        None => Step::Copy {
            sources: words.into_iter().map(PathBuf::from).collect(),
            dest,
            opts,
        },
    })
}

fn one_word(rest: &str) -> std::result::Result<String, String> {
    let words = split_words(rest)?;
    match words.as_slice() {
        [w] => Ok(w.clone()),
        [] => Err("expected a value".into()),
        _ => Err(format!("expected one value, got `{rest}`")),
    }
}

/// `K=V K2="v 2"` or the legacy `K V…`.
fn parse_env(rest: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let words = split_words(rest)?;
    if words.first().is_some_and(|w| !w.contains('=')) {
        let (k, v) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| "expected `ENV KEY=VALUE`".to_string())?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|w| {
            w.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("`{w}` is not KEY=VALUE"))
        })
        .collect()
}

/// Splits on whitespace, honouring single and double quotes and backslash escapes
/// (`$` references are kept for later substitution).
fn split_words(s: &str) -> std::result::Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => cur.extend(chars.next()),
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                cur.extend(chars.next());
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in `{s}`"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Substitutes `$NAME` and `${NAME}` (and `${NAME:-default}`) from `vars`; a missing
/// name becomes empty, `\$` is a literal `$`.
pub(crate) fn substitute(s: &str, vars: &BTreeMap<String, String>) -> String {
    if !s.contains('$') {
        return s.to_string();
    }
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            '\\' if b.get(i + 1) == Some(&'$') => {
                out.push('$');
                i += 2;
            }
            '$' if b.get(i + 1) == Some(&'{') => match b[i + 2..].iter().position(|&c| c == '}') {
                Some(end) => {
                    let inner: String = b[i + 2..i + 2 + end].iter().collect();
                    let (name, default) = match inner.split_once(":-") {
                        Some((n, d)) => (n.to_string(), Some(d.to_string())),
                        None => (inner, None),
                    };
                    match (vars.get(&name).filter(|v| !v.is_empty()), default) {
                        (Some(v), _) => out.push_str(v),
                        (None, Some(d)) => out.push_str(&d),
                        (None, None) => out.push_str(vars.get(&name).map_or("", |v| v)),
                    }
                    i += end + 3;
                }
                None => {
                    out.push('$');
                    i += 1;
                }
            },
            '$' if b
                .get(i + 1)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == '_') {
                    end += 1;
                }
                let name: String = b[start..end].iter().collect();
                out.push_str(vars.get(&name).map_or("", |v| v));
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution() {
        let vars: BTreeMap<String, String> = [
            ("A".to_string(), "1".to_string()),
            ("B_2".into(), "two".into()),
        ]
        .into();
        assert_eq!(substitute("$A/${B_2}/$C/x", &vars), "1/two//x");
        assert_eq!(substitute("${C:-dflt} \\$A", &vars), "dflt $A");
        assert_eq!(substitute("no vars", &vars), "no vars");
        assert_eq!(substitute("$ 5", &vars), "$ 5");
    }

    #[test]
    fn words_and_lines() {
        assert_eq!(
            split_words(r#"A="x y" B=z 'q r'"#).unwrap(),
            vec!["A=x y", "B=z", "q r"]
        );
        assert!(split_words("\"open").is_err());
        let lines = logical_lines("# c\nFROM a\n\nRUN x \\\n  && y\nUSER 1\n");
        assert_eq!(
            lines,
            vec![
                (2, "FROM a".to_string()),
                (4, "RUN x  && y".to_string()),
                (6, "USER 1".to_string())
            ]
        );
        assert_eq!(
            parse_env("A=1 B=\"two words\"").unwrap(),
            vec![("A".into(), "1".into()), ("B".into(), "two words".into())]
        );
        assert_eq!(
            parse_env("A one two").unwrap(),
            vec![("A".into(), "one two".into())]
        );
    }
}
