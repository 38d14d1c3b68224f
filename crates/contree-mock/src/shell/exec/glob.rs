//! Pathname expansion: glob patterns matched against the filesystem.

use super::Shell;
use crate::fs::FileKind;
use crate::shell::io::lock;

/// Matches `text` against a glob pattern with `*`, `?`, `[...]` and backslash escapes.
pub(crate) fn glob_match(pat: &[char], text: &[char]) -> bool {
    // Iterative matcher with backtracking on the last `*`.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pat.len() {
            match pat[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = class_match(pat, p, text[t])
                        && matched
                    {
                        p = next;
                        t += 1;
                        continue;
                    } else if class_match(pat, p, text[t]).is_none() && text[t] == '[' {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                '\\' if p + 1 < pat.len() => {
                    if pat[p + 1] == text[t] {
                        p += 2;
                        t += 1;
                        continue;
                    }
                }
                c => {
                    if c == text[t] {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, st)) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    while p < pat.len() && pat[p] == '*' {
        p += 1;
    }
    p == pat.len()
}

/// Matches a `[...]` class at `pat[p]`; `None` if the class is not closed.
fn class_match(pat: &[char], p: usize, c: char) -> Option<(bool, usize)> {
    let mut i = p + 1;
    let negate = matches!(pat.get(i), Some('!') | Some('^'));
    if negate {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < pat.len() {
        let mut ch = pat[i];
        if ch == ']' && !first {
            return Some((matched != negate, i + 1));
        }
        first = false;
        if ch == '\\' && i + 1 < pat.len() {
            i += 1;
            ch = pat[i];
        }
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|e| *e != ']') {
            let hi = pat[i + 2];
            if ch <= c && c <= hi {
                matched = true;
            }
            i += 3;
        } else {
            if ch == c {
                matched = true;
            }
            i += 1;
        }
    }
    None
}

fn has_glob(component: &str) -> bool {
    let mut esc = false;
    for c in component.chars() {
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if matches!(c, '*' | '?' | '[') {
            return true;
        }
    }
    false
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// Pathname expansion; the results are sorted, empty if nothing matches.
pub(crate) fn glob(sh: &Shell, pattern: &str) -> Vec<String> {
    let absolute = pattern.starts_with('/');
    let comps: Vec<&str> = pattern.split('/').filter(|c| !c.is_empty()).collect();
    // (display path, absolute path)
    let mut cands: Vec<(String, String)> = vec![if absolute {
        (String::new(), String::new())
    } else {
        (
            String::new(),
            if sh.cwd == "/" {
                String::new()
            } else {
                sh.cwd.clone()
            },
        )
    }];
    let fs = lock(&sh.fs);
    for (k, comp) in comps.iter().enumerate() {
        let last = k + 1 == comps.len();
        let mut next = Vec::new();
        for (disp, abs) in &cands {
            let join = |d: &str, name: &str| {
                if d.is_empty() && !absolute {
                    name.to_owned()
                } else {
                    format!("{d}/{name}")
                }
            };
            if has_glob(comp) {
                let dir = if abs.is_empty() { "/" } else { abs.as_str() };
                let Ok(entries) = fs.list(dir) else { continue };
                let pat: Vec<char> = comp.chars().collect();
                for (name, meta) in entries {
                    if name.starts_with('.') && !comp.starts_with('.') {
                        continue;
                    }
                    let is_dir_like = meta.kind == FileKind::Dir
                        || fs
                            .stat(&format!("{abs}/{name}"))
                            .is_ok_and(|m| m.kind == FileKind::Dir);
                    if !last && !is_dir_like {
                        continue;
                    }
                    let chars: Vec<char> = name.chars().collect();
                    if glob_match(&pat, &chars) {
                        next.push((join(disp, &name), format!("{abs}/{name}")));
                    }
                }
            } else {
                let name = unescape(comp);
                next.push((join(disp, &name), format!("{abs}/{name}")));
            }
        }
        cands = next;
        if cands.is_empty() {
            break;
        }
    }
    let mut out: Vec<String> = cands
        .into_iter()
        .filter(|(_, abs)| fs.lstat(if abs.is_empty() { "/" } else { abs }).is_ok())
        .map(|(d, _)| if d.is_empty() { "/".to_owned() } else { d })
        .collect();
    if pattern.ends_with('/') {
        for o in &mut out {
            o.push('/');
        }
    }
    out.sort();
    out
}
