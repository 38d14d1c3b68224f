//! Assignments, redirections and here-documents.

use super::{
    PResult, ParseError, Parser, Part, Redir, RedirKind, Word, flush_lit, is_name_char,
    is_name_start,
};

impl Parser {
    pub(super) fn assignment(&mut self) -> PResult<Option<(String, Word)>> {
        let mut j = self.i;
        let mut name = String::new();
        while let Some(&c) = self.s.get(j) {
            if (name.is_empty() && is_name_start(c)) || (!name.is_empty() && is_name_char(c)) {
                name.push(c);
                j += 1;
            } else {
                break;
            }
        }
        if name.is_empty() || self.s.get(j) != Some(&'=') {
            return Ok(None);
        }
        self.i = j + 1;
        let value = self.word()?.unwrap_or_default();
        Ok(Some((name, value)))
    }

    /// A redirection operator with its target, if one starts here.
    pub(super) fn redir(&mut self) -> PResult<Option<Redir>> {
        let start = self.i;
        let mut j = self.i;
        while self.s.get(j).is_some_and(|c| c.is_ascii_digit()) {
            j += 1;
        }
        let explicit_fd: Option<u32> = if j > start {
            let digits: String = self.s[start..j].iter().collect();
            match digits.parse() {
                Ok(n) if n < 1000 => Some(n),
                _ => return Ok(None),
            }
        } else {
            None
        };
        match self.s.get(j) {
            Some('<') | Some('>') => {}
            Some('&') if explicit_fd.is_none() && self.s.get(j + 1) == Some(&'>') => {
                self.i = j + 2;
                let append = self.eat('>');
                let target = self.redir_target()?;
                return Ok(Some(Redir {
                    fd: 1,
                    kind: RedirKind::Both(target, append),
                }));
            }
            _ => return Ok(None),
        }
        self.i = j;
        let kind;
        let fd;
        if self.eat_str("<<<") {
            fd = explicit_fd.unwrap_or(0);
            let mut w = self.redir_target()?;
            w.0.push(Part::Quoted("\n".to_owned()));
            kind = RedirKind::Here(w);
        } else if self.eat_str("<<") {
            fd = explicit_fd.unwrap_or(0);
            let strip_tabs = self.eat('-');
            kind = RedirKind::Here(self.heredoc(strip_tabs)?);
        } else if self.eat_str(">>") {
            fd = explicit_fd.unwrap_or(1);
            kind = RedirKind::Append(self.redir_target()?);
        } else if self.eat_str(">&") || self.eat_str("<&") {
            fd = explicit_fd.unwrap_or(if self.s[self.i - 2] == '>' { 1 } else { 0 });
            self.skip_blank();
            if self.eat('-') {
                kind = RedirKind::Dup(None);
            } else {
                let s0 = self.i;
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                let digits: String = self.s[s0..self.i].iter().collect();
                match digits.parse::<u32>() {
                    Ok(n) if n < 1000 => kind = RedirKind::Dup(Some(n)),
                    _ => {
                        if fd == 1 && explicit_fd.is_none() && digits.is_empty() {
                            // `>& file` is bash for `&> file`.
                            kind = RedirKind::Both(self.redir_target()?, false);
                        } else {
                            return Err(ParseError("bad file descriptor in redirection".into()));
                        }
                    }
                }
            }
        } else if self.eat_str(">|") || self.eat('>') {
            fd = explicit_fd.unwrap_or(1);
            kind = RedirKind::Out(self.redir_target()?);
        } else if self.eat_str("<>") || self.eat('<') {
            fd = explicit_fd.unwrap_or(0);
            kind = RedirKind::In(self.redir_target()?);
        } else {
            self.i = start;
            return Ok(None);
        }
        Ok(Some(Redir { fd, kind }))
    }

    fn redir_target(&mut self) -> PResult<Word> {
        self.skip_blank();
        match self.word()? {
            Some(w) => Ok(w),
            None => Err(ParseError(match self.peek() {
                None => "unexpected end of input after redirection".to_owned(),
                Some(_) => format!("unexpected `{}` after redirection", self.rest_token()),
            })),
        }
    }

    /// Reads a here-document: the delimiter word now, the body from the lines after the
    /// current one (which are removed from the input).
    fn heredoc(&mut self, strip_tabs: bool) -> PResult<Word> {
        self.skip_blank();
        let w = self
            .word()?
            .ok_or_else(|| ParseError("missing here-document delimiter".to_owned()))?;
        let mut quoted = false;
        let mut delim = String::new();
        for p in &w.0 {
            match p {
                Part::Lit(s) => delim.push_str(s),
                Part::Quoted(s) => {
                    quoted = true;
                    delim.push_str(s);
                }
                Part::Tilde => delim.push('~'),
                _ => return Err(ParseError("unsupported here-document delimiter".to_owned())),
            }
        }
        // The body starts after the next newline.
        let mut j = self.i;
        while j < self.s.len() && self.s[j] != '\n' {
            j += 1;
        }
        if j >= self.s.len() {
            return Ok(Word(vec![Part::Quoted(String::new())]));
        }
        let body_start = j + 1;
        let mut k = body_start;
        let mut body = String::new();
        let mut end = self.s.len();
        while k < self.s.len() {
            let mut e = k;
            while e < self.s.len() && self.s[e] != '\n' {
                e += 1;
            }
            let mut line: String = self.s[k..e].iter().collect();
            if strip_tabs {
                line = line.trim_start_matches('\t').to_owned();
            }
            let next = (e + 1).min(self.s.len());
            if line == delim {
                end = next;
                break;
            }
            body.push_str(&line);
            body.push('\n');
            k = next;
        }
        self.s.drain(body_start..end.max(body_start));
        if quoted {
            return Ok(Word(vec![Part::Quoted(body)]));
        }
        let mut sub = Parser {
            s: body.chars().collect(),
            i: 0,
            depth: self.depth,
        };
        let mut parts = Vec::new();
        let mut lit = String::new();
        while let Some(c) = sub.peek() {
            match c {
                '\\' if matches!(sub.peek_at(1), Some('$') | Some('`') | Some('\\')) => {
                    lit.push(sub.s[sub.i + 1]);
                    sub.i += 2;
                }
                '\\' if sub.peek_at(1) == Some('\n') => sub.i += 2,
                '$' | '`' => {
                    if let Some(p) = sub.dollar(true)? {
                        flush_lit(&mut parts, &mut lit, true);
                        parts.push(p);
                    } else {
                        lit.push(c);
                        sub.i += 1;
                    }
                }
                _ => {
                    lit.push(c);
                    sub.i += 1;
                }
            }
        }
        flush_lit(&mut parts, &mut lit, true);
        if parts.is_empty() {
            parts.push(Part::Quoted(String::new()));
        }
        Ok(Word(parts))
    }
}
