//! Commands: lists, pipelines, compound commands, functions and simple commands.

use super::{
    AndOr, Command, Compound, KEYWORDS_END, PResult, ParseError, Parser, Pipeline, Script, Simple,
    is_meta, is_name_char, is_name_start,
};

impl Parser {
    /// A list of and-or lists up to end of input, `)` or one of the terminator keywords.
    pub(super) fn script(&mut self, terminators: &[&str]) -> PResult<Script> {
        self.enter()?;
        let mut items = Vec::new();
        loop {
            self.skip_lines();
            match self.peek() {
                None | Some(')') => break,
                Some(';') if self.peek_at(1) == Some(';') => break,
                _ => {}
            }
            if self.at_keyword(terminators) || self.at_keyword(KEYWORDS_END) {
                break;
            }
            items.push(self.and_or()?);
            self.skip_blank();
            match self.peek() {
                Some(';') if self.peek_at(1) != Some(';') => self.i += 1,
                Some('&') if self.peek_at(1) != Some('&') => self.i += 1,
                Some('\n') => self.i += 1,
                _ => break,
            }
        }
        self.depth -= 1;
        Ok(Script(items))
    }

    fn and_or(&mut self) -> PResult<AndOr> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            self.skip_blank();
            let and = if self.eat_str("&&") {
                true
            } else if self.eat_str("||") {
                false
            } else {
                break;
            };
            self.skip_lines();
            rest.push((and, self.pipeline()?));
        }
        Ok(AndOr { first, rest })
    }

    fn pipeline(&mut self) -> PResult<Pipeline> {
        self.skip_blank();
        let mut negate = false;
        while self.at_keyword(&["!"]) {
            self.i += 1;
            negate = !negate;
            self.skip_blank();
        }
        let mut cmds = vec![self.command()?];
        loop {
            self.skip_blank();
            if self.peek() == Some('|') && self.peek_at(1) != Some('|') {
                self.i += 1;
                self.skip_lines();
                cmds.push(self.command()?);
            } else {
                break;
            }
        }
        Ok(Pipeline { negate, cmds })
    }

    fn command(&mut self) -> PResult<Command> {
        self.skip_blank();
        let compound = if self.eat('(') {
            let s = self.script(&[])?;
            self.skip_lines();
            if !self.eat(')') {
                return Err(ParseError("missing `)`".to_owned()));
            }
            Some(Compound::Subshell(s))
        } else if let Some(w) = self.peek_bare() {
            match w.as_str() {
                "{" => {
                    self.i += 1;
                    let s = self.script(&["}"])?;
                    self.expect_keyword("}")?;
                    Some(Compound::Group(s))
                }
                "if" => {
                    self.i += 2;
                    Some(self.if_rest()?)
                }
                "while" | "until" => {
                    self.i += w.len();
                    let cond = self.script(&["do"])?;
                    self.expect_keyword("do")?;
                    let body = self.script(&["done"])?;
                    self.expect_keyword("done")?;
                    Some(Compound::While {
                        cond,
                        body,
                        until: w == "until",
                    })
                }
                "for" => {
                    self.i += 3;
                    Some(self.for_rest()?)
                }
                "case" => {
                    self.i += 4;
                    Some(self.case_rest()?)
                }
                "function" => {
                    self.i += 8;
                    self.skip_blank();
                    let name = self.peek_bare().unwrap_or_default();
                    if name.is_empty() || !name.chars().all(is_name_char) {
                        return Err(ParseError("bad function name".to_owned()));
                    }
                    self.i += name.len();
                    self.skip_blank();
                    if self.eat('(') {
                        self.skip_blank();
                        if !self.eat(')') {
                            return Err(ParseError("missing `)` of function definition".into()));
                        }
                    }
                    return self.func_body(name);
                }
                w if w.chars().next().is_some_and(is_name_start) && w.chars().all(is_name_char) => {
                    let save = self.i;
                    self.i += w.len();
                    self.skip_blank();
                    if self.eat('(') {
                        self.skip_blank();
                        if self.eat(')') {
                            return self.func_body(w.to_owned());
                        }
                    }
                    self.i = save;
                    None
                }
                _ => None,
            }
        } else {
            None
        };
        if let Some(c) = compound {
            let mut redirs = Vec::new();
            loop {
                self.skip_blank();
                match self.redir()? {
                    Some(r) => redirs.push(r),
                    None => break,
                }
            }
            return Ok(Command::Compound(Box::new(c), redirs));
        }
        self.simple()
    }

    fn func_body(&mut self, name: String) -> PResult<Command> {
        self.skip_lines();
        let body = self.command()?;
        if !matches!(body, Command::Compound(..)) {
            return Err(ParseError(format!("bad function body for `{name}`")));
        }
        Ok(Command::FuncDef(name, std::sync::Arc::new(body)))
    }

    fn case_rest(&mut self) -> PResult<Compound> {
        self.skip_blank();
        let word = self
            .word()?
            .ok_or_else(|| ParseError("missing word after `case`".to_owned()))?;
        self.expect_keyword("in")?;
        let mut arms = Vec::new();
        loop {
            self.skip_lines();
            if self.at_keyword(&["esac"]) {
                self.i += 4;
                break;
            }
            if self.i >= self.s.len() {
                return Err(ParseError(
                    "unexpected end of input (expecting `esac`)".into(),
                ));
            }
            self.eat('(');
            let mut pats = Vec::new();
            loop {
                self.skip_blank();
                match self.word()? {
                    Some(w) => pats.push(w),
                    None => {
                        return Err(ParseError(format!(
                            "unexpected `{}` in case pattern",
                            self.rest_token()
                        )));
                    }
                }
                self.skip_blank();
                if !self.eat('|') {
                    break;
                }
            }
            if !self.eat(')') {
                return Err(ParseError("missing `)` after case pattern".into()));
            }
            let body = self.script(&["esac"])?;
            arms.push((pats, body));
            self.skip_lines();
            if self.eat_str(";;") {
                continue;
            }
            self.expect_keyword("esac")?;
            break;
        }
        Ok(Compound::Case { word, arms })
    }

    fn if_rest(&mut self) -> PResult<Compound> {
        let mut arms = Vec::new();
        let mut otherwise = None;
        loop {
            let cond = self.script(&["then"])?;
            self.expect_keyword("then")?;
            let body = self.script(&["elif", "else", "fi"])?;
            arms.push((cond, body));
            self.skip_lines();
            if self.at_keyword(&["elif"]) {
                self.i += 4;
                continue;
            }
            if self.at_keyword(&["else"]) {
                self.i += 4;
                otherwise = Some(self.script(&["fi"])?);
            }
            self.expect_keyword("fi")?;
            break;
        }
        Ok(Compound::If { arms, otherwise })
    }

    fn for_rest(&mut self) -> PResult<Compound> {
        self.skip_blank();
        let var = match self.peek_bare() {
            Some(v)
                if v.chars().next().is_some_and(is_name_start) && v.chars().all(is_name_char) =>
            {
                v
            }
            _ => return Err(ParseError("bad for loop variable".to_owned())),
        };
        self.i += var.len();
        self.skip_lines();
        let mut items = None;
        if self.at_keyword(&["in"]) {
            self.i += 2;
            let mut list = Vec::new();
            loop {
                self.skip_blank();
                match self.peek() {
                    None | Some(';') | Some('\n') => break,
                    _ => {}
                }
                match self.word()? {
                    Some(w) => list.push(w),
                    None => return Err(ParseError(format!("unexpected `{}`", self.rest_token()))),
                }
            }
            items = Some(list);
        }
        self.skip_blank();
        if !self.eat(';') {
            self.eat('\n');
        }
        self.expect_keyword("do")?;
        let body = self.script(&["done"])?;
        self.expect_keyword("done")?;
        Ok(Compound::For { var, items, body })
    }

    fn simple(&mut self) -> PResult<Command> {
        let mut cmd = Simple::default();
        loop {
            self.skip_blank();
            if let Some(r) = self.redir()? {
                cmd.redirs.push(r);
                continue;
            }
            match self.peek() {
                None => break,
                Some(c) if is_meta(c) => break,
                _ => {}
            }
            if cmd.words.is_empty()
                && let Some(a) = self.assignment()?
            {
                cmd.assigns.push(a);
                continue;
            }
            match self.word()? {
                Some(w) => cmd.words.push(w),
                None => break,
            }
        }
        if cmd.words.is_empty() && cmd.assigns.is_empty() && cmd.redirs.is_empty() {
            return Err(match self.peek() {
                None => ParseError("unexpected end of input".to_owned()),
                Some(_) => ParseError(format!("unexpected `{}`", self.rest_token())),
            });
        }
        Ok(Command::Simple(cmd))
    }
}
