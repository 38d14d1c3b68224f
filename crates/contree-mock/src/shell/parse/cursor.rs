//! The parser's cursor: looking ahead, eating characters and keywords, skipping blanks.

use super::{MAX_DEPTH, PResult, ParseError, Parser, is_meta};

impl Parser {
    pub(super) fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    pub(super) fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.s.len() >= self.i + n && self.s[self.i..self.i + n].iter().copied().eq(s.chars()) {
            self.i += n;
            true
        } else {
            false
        }
    }

    pub(super) fn rest_token(&self) -> String {
        self.s[self.i..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .take(20)
            .collect::<String>()
    }

    /// Skips blanks, comments and backslash-newline continuations (not newlines).
    pub(super) fn skip_blank(&mut self) {
        loop {
            match self.peek() {
                Some(' ') | Some('\t') | Some('\r') => self.i += 1,
                Some('\\') if self.peek_at(1) == Some('\n') => self.i += 2,
                Some('#') => {
                    while let Some(c) = self.peek() {
                        if c == '\n' {
                            break;
                        }
                        self.i += 1;
                    }
                }
                _ => break,
            }
        }
    }

    /// Skips blanks and newlines.
    pub(super) fn skip_lines(&mut self) {
        loop {
            self.skip_blank();
            if !self.eat('\n') {
                break;
            }
        }
    }

    /// The next bare word (unquoted, no expansions) if there is one, without consuming it.
    pub(super) fn peek_bare(&self) -> Option<String> {
        let mut j = self.i;
        let mut w = String::new();
        while let Some(&c) = self.s.get(j) {
            if is_meta(c) {
                break;
            }
            if matches!(c, '\'' | '"' | '\\' | '$' | '`') {
                return None;
            }
            w.push(c);
            j += 1;
        }
        if w.is_empty() { None } else { Some(w) }
    }

    pub(super) fn at_keyword(&self, kws: &[&str]) -> bool {
        match self.peek_bare() {
            Some(w) => kws.contains(&w.as_str()),
            None => false,
        }
    }

    pub(super) fn expect_keyword(&mut self, kw: &str) -> PResult<()> {
        self.skip_lines();
        if self.at_keyword(&[kw]) {
            self.i += kw.chars().count();
            Ok(())
        } else if self.i >= self.s.len() {
            Err(ParseError(format!(
                "unexpected end of input (expecting `{kw}`)"
            )))
        } else {
            Err(ParseError(format!(
                "unexpected `{}` (expecting `{kw}`)",
                self.rest_token()
            )))
        }
    }

    pub(super) fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(ParseError("nesting too deep".to_owned()))
        } else {
            Ok(())
        }
    }
}
