//! `$(( ... ))` arithmetic: 64-bit integers with C operator precedence.

use super::exec::Shell;

/// Evaluates an expression; variables are read from the shell (unset or empty is 0).
pub(crate) fn eval(text: &str, sh: &Shell) -> Result<i64, String> {
    let toks = lex(text)?;
    let mut p = P {
        toks,
        i: 0,
        sh,
        depth: 0,
    };
    if p.toks.is_empty() {
        return Ok(0);
    }
    let v = p.ternary()?;
    if p.i < p.toks.len() {
        return Err("syntax error".to_owned());
    }
    Ok(v)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(i64),
    Name(String),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "**", "+", "-", "*", "/", "%", "<", ">", "!",
    "~", "(", ")", "&", "|", "^", "?", ":",
];

fn lex(s: &str) -> Result<Vec<Tok>, String> {
    let c: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    'outer: while i < c.len() {
        if c[i].is_whitespace() {
            i += 1;
            continue;
        }
        if c[i].is_ascii_digit() {
            let st = i;
            while i < c.len() && c[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let t: String = c[st..i].iter().collect();
            out.push(Tok::Num(parse_num(&t)?));
            continue;
        }
        if c[i] == '_' || c[i].is_ascii_alphabetic() {
            let st = i;
            while i < c.len() && (c[i] == '_' || c[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(Tok::Name(c[st..i].iter().collect()));
            continue;
        }
        for op in OPS {
            let n = op.len();
            if i + n <= c.len() && c[i..i + n].iter().copied().eq(op.chars()) {
                out.push(Tok::Op(op));
                i += n;
                continue 'outer;
            }
        }
        return Err(format!("unexpected character `{}`", c[i]));
    }
    Ok(out)
}

fn parse_num(t: &str) -> Result<i64, String> {
    let r = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(h, 16)
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8)
    } else {
        t.parse::<i64>()
    };
    r.map_err(|_| format!("invalid number `{t}`"))
}

struct P<'a> {
    toks: Vec<Tok>,
    i: usize,
    sh: &'a Shell,
    depth: usize,
}

impl P<'_> {
    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.i) {
            Some(Tok::Op(o)) => Some(o),
            _ => None,
        }
    }

    fn ternary(&mut self) -> Result<i64, String> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression too deep".to_owned());
        }
        let c = self.binary(0)?;
        let r = if self.peek_op() == Some("?") {
            self.i += 1;
            let a = self.ternary()?;
            if self.peek_op() != Some(":") {
                return Err("expected `:`".to_owned());
            }
            self.i += 1;
            let b = self.ternary()?;
            if c != 0 { a } else { b }
        } else {
            c
        };
        self.depth -= 1;
        Ok(r)
    }

    fn binary(&mut self, min_prec: u8) -> Result<i64, String> {
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_op() {
            let prec = match op {
                "||" => 1,
                "&&" => 2,
                "|" => 3,
                "^" => 4,
                "&" => 5,
                "==" | "!=" => 6,
                "<" | ">" | "<=" | ">=" => 7,
                "<<" | ">>" => 8,
                "+" | "-" => 9,
                "*" | "/" | "%" => 10,
                "**" => 11,
                _ => break,
            };
            if prec < min_prec {
                break;
            }
            self.i += 1;
            let next = if op == "**" { prec } else { prec + 1 };
            let rhs = self.binary(next)?;
            lhs = match op {
                "||" => i64::from(lhs != 0 || rhs != 0),
                "&&" => i64::from(lhs != 0 && rhs != 0),
                "|" => lhs | rhs,
                "^" => lhs ^ rhs,
                "&" => lhs & rhs,
                "==" => i64::from(lhs == rhs),
                "!=" => i64::from(lhs != rhs),
                "<" => i64::from(lhs < rhs),
                ">" => i64::from(lhs > rhs),
                "<=" => i64::from(lhs <= rhs),
                ">=" => i64::from(lhs >= rhs),
                "<<" => lhs.wrapping_shl(rhs as u32),
                ">>" => lhs.wrapping_shr(rhs as u32),
                "+" => lhs.wrapping_add(rhs),
                "-" => lhs.wrapping_sub(rhs),
                "*" => lhs.wrapping_mul(rhs),
                "/" | "%" => {
                    if rhs == 0 {
                        return Err("division by zero".to_owned());
                    }
                    if op == "/" {
                        lhs.wrapping_div(rhs)
                    } else {
                        lhs.wrapping_rem(rhs)
                    }
                }
                "**" => {
                    if rhs < 0 {
                        return Err("exponent less than 0".to_owned());
                    }
                    lhs.wrapping_pow(rhs.min(u32::MAX as i64) as u32)
                }
                _ => lhs,
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<i64, String> {
        self.depth += 1;
        if self.depth > 200 {
            return Err("expression too deep".to_owned());
        }
        let r = match self.toks.get(self.i).cloned() {
            Some(Tok::Op("-")) => {
                self.i += 1;
                self.unary()?.wrapping_neg()
            }
            Some(Tok::Op("+")) => {
                self.i += 1;
                self.unary()?
            }
            Some(Tok::Op("!")) => {
                self.i += 1;
                i64::from(self.unary()? == 0)
            }
            Some(Tok::Op("~")) => {
                self.i += 1;
                !self.unary()?
            }
            Some(Tok::Op("(")) => {
                self.i += 1;
                let v = self.ternary()?;
                if self.peek_op() != Some(")") {
                    return Err("missing `)`".to_owned());
                }
                self.i += 1;
                v
            }
            Some(Tok::Num(n)) => {
                self.i += 1;
                n
            }
            Some(Tok::Name(name)) => {
                self.i += 1;
                let v = self.sh.var(&name).unwrap_or("").trim().to_owned();
                if v.is_empty() {
                    0
                } else {
                    let neg = v.starts_with('-');
                    let n = parse_num(v.trim_start_matches(['-', '+']))?;
                    if neg { -n } else { n }
                }
            }
            _ => return Err("syntax error".to_owned()),
        };
        self.depth -= 1;
        Ok(r)
    }
}
