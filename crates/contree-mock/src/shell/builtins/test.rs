//! The test and [ builtins.

use super::{Ctx, R};
use crate::fs::FileKind;
use crate::shell::io::Broken;

pub(super) async fn test_cmd(c: &mut Ctx<'_>, a: &[String]) -> R {
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

/// `[ EXPR ]`: `test` with a closing bracket.
pub(super) async fn bracket(c: &mut Ctx<'_>, a: &[String]) -> R {
    if a.last().map(String::as_str) != Some("]") {
        c.fail("missing ]").await?;
        return Ok(2);
    }
    test_cmd(c, &a[..a.len() - 1]).await
}
