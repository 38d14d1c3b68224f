//! Words: quoting, `$` expansions, parameters, command substitution and arithmetic.

use super::{
    PResult, ParamOp, ParseError, Parser, Part, Word, flush_lit, is_meta, is_name_char,
    is_name_start, parse_nested,
};

impl Parser {
    /// A word, if one starts here.
    pub(super) fn word(&mut self) -> PResult<Option<Word>> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let start = self.i;
        if self.peek() == Some('~') && self.peek_at(1).is_none_or(|c| c == '/' || is_meta(c)) {
            self.i += 1;
            parts.push(Part::Tilde);
        }
        while let Some(c) = self.peek() {
            if is_meta(c) {
                break;
            }
            match c {
                '\'' => {
                    self.i += 1;
                    flush_lit(&mut parts, &mut lit, false);
                    parts.push(Part::Quoted(self.single_quoted()?));
                }
                '"' => {
                    self.i += 1;
                    flush_lit(&mut parts, &mut lit, false);
                    self.double_quoted(&mut parts)?;
                }
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        None => lit.push('\\'),
                        Some('\n') => self.i += 1,
                        Some(ch) => {
                            flush_lit(&mut parts, &mut lit, false);
                            parts.push(Part::Quoted(ch.to_string()));
                            self.i += 1;
                        }
                    }
                }
                '$' | '`' => match self.dollar(false)? {
                    Some(p) => {
                        flush_lit(&mut parts, &mut lit, false);
                        parts.push(p);
                    }
                    None => {
                        lit.push(c);
                        self.i += 1;
                    }
                },
                _ => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush_lit(&mut parts, &mut lit, false);
        if self.i == start {
            return Ok(None);
        }
        Ok(Some(Word(parts)))
    }

    fn double_quoted(&mut self, parts: &mut Vec<Part>) -> PResult<()> {
        let mut lit = String::new();
        let mut any = false;
        loop {
            match self.peek() {
                None => return Err(ParseError("unterminated quoted string".into())),
                Some('"') => {
                    self.i += 1;
                    break;
                }
                Some('\\') => match self.peek_at(1) {
                    Some(ch @ ('$' | '`' | '"' | '\\')) => {
                        lit.push(ch);
                        self.i += 2;
                    }
                    Some('\n') => self.i += 2,
                    _ => {
                        lit.push('\\');
                        self.i += 1;
                    }
                },
                Some(c @ ('$' | '`')) => match self.dollar(true)? {
                    Some(p) => {
                        flush_lit(parts, &mut lit, true);
                        parts.push(p);
                        any = true;
                    }
                    None => {
                        lit.push(c);
                        self.i += 1;
                    }
                },
                Some(c) => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        if !lit.is_empty() || !any {
            parts.push(Part::Quoted(lit));
        }
        Ok(())
    }

    /// An expansion starting with `$` or a backquote; `None` when `$` is literal.
    pub(super) fn dollar(&mut self, quoted: bool) -> PResult<Option<Part>> {
        if self.eat('`') {
            return self.backquote(quoted).map(Some);
        }
        let save = self.i;
        self.i += 1; // the '$'
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.i += 2;
                self.arith(quoted).map(Some)
            }
            Some('(') => {
                self.i += 1;
                self.enter()?;
                let script = self.script(&[])?;
                self.depth -= 1;
                self.skip_lines();
                if !self.eat(')') {
                    return Err(ParseError("missing `)` of $(".into()));
                }
                Ok(Some(Part::CmdSub { script, quoted }))
            }
            Some('{') => {
                self.i += 1;
                self.braced_param(quoted).map(Some)
            }
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek() {
                    if is_name_char(c) {
                        name.push(c);
                        self.i += 1;
                    } else {
                        break;
                    }
                }
                Ok(Some(Part::Param {
                    name,
                    op: None,
                    quoted,
                }))
            }
            Some(c)
                if c.is_ascii_digit() || matches!(c, '?' | '@' | '*' | '#' | '$' | '!' | '-') =>
            {
                self.i += 1;
                Ok(Some(Part::Param {
                    name: c.to_string(),
                    op: None,
                    quoted,
                }))
            }
            _ => {
                self.i = save;
                Ok(None)
            }
        }
    }

    fn braced_param(&mut self, quoted: bool) -> PResult<Part> {
        let length = self.peek() == Some('#') && self.peek_at(1).is_some_and(|c| c != '}');
        if length {
            self.i += 1;
        }
        let name = self.param_name()?;
        if length {
            if !self.eat('}') {
                return Err(ParseError("bad substitution".into()));
            }
            return Ok(Part::Param {
                name,
                op: Some((ParamOp::Length, Word::default())),
                quoted,
            });
        }
        if self.eat('}') {
            return Ok(Part::Param {
                name,
                op: None,
                quoted,
            });
        }
        let colon = self.eat(':');
        let op = self.param_op(colon)?;
        self.i += 1;
        let operand = self.param_operand(quoted)?;
        Ok(Part::Param {
            name,
            op: Some((op, operand)),
            quoted,
        })
    }

    /// A backquoted command substitution after its opening backquote.
    fn backquote(&mut self, quoted: bool) -> PResult<Part> {
        let mut body = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError("unterminated backquote".into())),
                Some('`') => {
                    self.i += 1;
                    break;
                }
                Some('\\') if matches!(self.peek_at(1), Some('`' | '\\' | '$')) => {
                    body.push(self.s[self.i + 1]);
                    self.i += 2;
                }
                Some(c) => {
                    body.push(c);
                    self.i += 1;
                }
            }
        }
        self.enter()?;
        let script = parse_nested(&body, self.depth)?;
        self.depth -= 1;
        Ok(Part::CmdSub { script, quoted })
    }

    /// `$((expr))` after its `$((`: the expression, with its own expansions.
    fn arith(&mut self, quoted: bool) -> PResult<Part> {
        let expr_start = self.i;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(ParseError("unterminated $((".into())),
                Some('(') => depth += 1,
                Some(')') if depth == 0 && self.peek_at(1) == Some(')') => break,
                Some(')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            self.i += 1;
        }
        let text: String = self.s[expr_start..self.i].iter().collect();
        self.i += 2;
        let mut sub = Parser {
            s: text.chars().collect(),
            i: 0,
            depth: self.depth,
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        while let Some(c) = sub.peek() {
            if (c == '$' || c == '`')
                && let Some(p) = sub.dollar(true)?
            {
                flush_lit(&mut parts, &mut lit, true);
                parts.push(p);
                continue;
            }
            lit.push(c);
            sub.i += 1;
        }
        flush_lit(&mut parts, &mut lit, true);
        Ok(Part::Arith {
            expr: Word(parts),
            quoted,
        })
    }

    /// The parameter name in `${...}`: a name, digits or one special character.
    fn param_name(&mut self) -> PResult<String> {
        let mut name = String::new();
        match self.peek() {
            Some(c) if is_name_start(c) => {
                while let Some(c) = self.peek() {
                    if is_name_char(c) {
                        name.push(c);
                        self.i += 1;
                    } else {
                        break;
                    }
                }
            }
            Some(c) if c.is_ascii_digit() => {
                while let Some(c) = self.peek() {
                    if c.is_ascii_digit() {
                        name.push(c);
                        self.i += 1;
                    } else {
                        break;
                    }
                }
            }
            Some(c) if matches!(c, '?' | '@' | '*' | '#' | '$' | '!' | '-') => {
                name.push(c);
                self.i += 1;
            }
            _ => return Err(ParseError("bad substitution".into())),
        }
        Ok(name)
    }

    /// The operator after a parameter name (and optional `:`); the caller steps over its last
    /// character.
    fn param_op(&mut self, colon: bool) -> PResult<ParamOp> {
        let op = match self.peek() {
            Some('-') => ParamOp::Default(colon),
            Some('=') => ParamOp::Assign(colon),
            Some('+') => ParamOp::Alt(colon),
            Some('?') => ParamOp::Error(colon),
            Some('#') if !colon => {
                if self.peek_at(1) == Some('#') {
                    self.i += 1;
                    ParamOp::TrimPrefix(true)
                } else {
                    ParamOp::TrimPrefix(false)
                }
            }
            Some('%') if !colon => {
                if self.peek_at(1) == Some('%') {
                    self.i += 1;
                    ParamOp::TrimSuffix(true)
                } else {
                    ParamOp::TrimSuffix(false)
                }
            }
            _ => return Err(ParseError("bad substitution".into())),
        };
        Ok(op)
    }

    /// The operand of `${name<op>...}`: like a double-quoted word up to the matching `}`.
    fn param_operand(&mut self, quoted: bool) -> PResult<Word> {
        // The operand: like a double-quoted word up to the matching `}`.
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError("missing `}`".into())),
                Some('}') => {
                    self.i += 1;
                    break;
                }
                Some('\'') if !quoted => {
                    self.i += 1;
                    flush_lit(&mut parts, &mut lit, false);
                    parts.push(Part::Quoted(self.single_quoted()?));
                }
                Some('"') => {
                    self.i += 1;
                    flush_lit(&mut parts, &mut lit, quoted);
                    self.double_quoted(&mut parts)?;
                }
                Some('\\') => {
                    self.i += 1;
                    if let Some(ch) = self.peek() {
                        flush_lit(&mut parts, &mut lit, quoted);
                        parts.push(Part::Quoted(ch.to_string()));
                        self.i += 1;
                    }
                }
                Some(c @ ('$' | '`')) => match self.dollar(quoted)? {
                    Some(p) => {
                        flush_lit(&mut parts, &mut lit, quoted);
                        parts.push(p);
                    }
                    None => {
                        lit.push(c);
                        self.i += 1;
                    }
                },
                Some(c) => {
                    lit.push(c);
                    self.i += 1;
                }
            }
        }
        flush_lit(&mut parts, &mut lit, quoted);
        Ok(Word(parts))
    }

    /// The text of a single-quoted string after its opening quote, up to the closing one.
    fn single_quoted(&mut self) -> PResult<String> {
        let mut q = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError("unterminated quoted string".into())),
                Some('\'') => {
                    self.i += 1;
                    return Ok(q);
                }
                Some(ch) => {
                    q.push(ch);
                    self.i += 1;
                }
            }
        }
    }
}
