//! Parser for the supported `sh` subset: a recursive-descent parser over characters that yields
//! the syntax tree the interpreter walks.

use std::fmt;

/// A parsed script: and-or lists run one after the other.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script(pub Vec<AndOr>);

/// `a && b || c`.
#[derive(Clone, Debug, PartialEq)]
pub struct AndOr {
    /// The first pipeline.
    pub first: Pipeline,
    /// The following pipelines with the operator before each (`true` = `&&`, `false` = `||`).
    pub rest: Vec<(bool, Pipeline)>,
}

/// `[!] a | b | c`.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    /// Whether the status is negated with `!`.
    pub negate: bool,
    /// The stages, at least one.
    pub cmds: Vec<Command>,
}

/// One stage of a pipeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Assignments, words and redirections.
    Simple(Simple),
    /// A compound command with its redirections.
    Compound(Box<Compound>, Vec<Redir>),
    /// `name() body`: defines a function.
    FuncDef(String, std::sync::Arc<Command>),
}

/// A simple command.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Simple {
    /// `NAME=value` prefixes.
    pub assigns: Vec<(String, Word)>,
    /// The command name and arguments.
    pub words: Vec<Word>,
    /// Redirections, in order.
    pub redirs: Vec<Redir>,
}

/// Compound commands.
#[derive(Clone, Debug, PartialEq)]
pub enum Compound {
    /// `( script )`.
    Subshell(Script),
    /// `{ script; }`.
    Group(Script),
    /// `if c; then b; elif c2; then b2; else e; fi`.
    If {
        /// Conditions with their bodies.
        arms: Vec<(Script, Script)>,
        /// The `else` body.
        otherwise: Option<Script>,
    },
    /// `for v in words; do body; done` (`items: None` iterates over `"$@"`).
    For {
        /// Loop variable.
        var: String,
        /// The words to iterate over.
        items: Option<Vec<Word>>,
        /// Loop body.
        body: Script,
    },
    /// `case word in pat|pat) body ;; ... esac`.
    Case {
        /// The word matched.
        word: Word,
        /// Patterns with their bodies.
        arms: Vec<(Vec<Word>, Script)>,
    },
    /// `while c; do b; done` or, with `until`, `until c; do b; done`.
    While {
        /// Loop condition.
        cond: Script,
        /// Loop body.
        body: Script,
        /// `until` instead of `while`.
        until: bool,
    },
}

/// A redirection `[fd]op target`.
#[derive(Clone, Debug, PartialEq)]
pub struct Redir {
    /// The redirected descriptor.
    pub fd: u32,
    /// What it is redirected to.
    pub kind: RedirKind,
}

/// Redirection kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum RedirKind {
    /// `> file`.
    Out(Word),
    /// `>> file`.
    Append(Word),
    /// `< file`.
    In(Word),
    /// `>&N` / `<&N` (duplicate descriptor N), `>&-` closes (target `None`).
    Dup(Option<u32>),
    /// `<<EOF` here-document or `<<<` here-string: the text is the word's expansion.
    Here(Word),
    /// `&> file` / `&>> file`: stdout and stderr to one file (bool: append).
    Both(Word, bool),
}

/// A word: parts that expand and concatenate.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Word(pub Vec<Part>);

/// A piece of a word.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Unquoted literal text (subject to globbing; `~` at the start is already separate).
    Lit(String),
    /// Quoted literal text.
    Quoted(String),
    /// `~` at the start of a word (expands to `$HOME`).
    Tilde,
    /// `$name`, `${name...}`.
    Param {
        /// The parameter (`HOME`, `1`, `?`, `@`, `#`, ...).
        name: String,
        /// Operator such as `:-` with its word.
        op: Option<(ParamOp, Word)>,
        /// Whether it was inside double quotes.
        quoted: bool,
    },
    /// `$(script)` or backquotes.
    CmdSub {
        /// The script.
        script: Script,
        /// Whether it was inside double quotes.
        quoted: bool,
    },
    /// `$(( expression ))`: the text, expanded before evaluation.
    Arith {
        /// The expression.
        expr: Word,
        /// Whether it was inside double quotes.
        quoted: bool,
    },
}

/// Parameter-expansion operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamOp {
    /// `${v:-w}` (bool: with colon, i.e. empty counts as unset).
    Default(bool),
    /// `${v:=w}`.
    Assign(bool),
    /// `${v:+w}`.
    Alt(bool),
    /// `${v:?w}`.
    Error(bool),
    /// `${#v}`.
    Length,
    /// `${v#p}` / `${v##p}` (bool: longest).
    TrimPrefix(bool),
    /// `${v%p}` / `${v%%p}` (bool: longest).
    TrimSuffix(bool),
}

/// A syntax error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "syntax error: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

type PResult<T> = Result<T, ParseError>;

/// Parses a whole script.
pub fn parse(src: &str) -> PResult<Script> {
    let mut p = Parser {
        s: src.chars().collect(),
        i: 0,
        depth: 0,
    };
    let script = p.script(&[])?;
    p.skip_blank();
    if p.i < p.s.len() {
        return Err(ParseError(format!("unexpected `{}`", p.rest_token())));
    }
    Ok(script)
}

const KEYWORDS_END: &[&str] = &["then", "elif", "else", "fi", "do", "done", "}", "esac"];
const MAX_DEPTH: usize = 200;

struct Parser {
    s: Vec<char>,
    i: usize,
    depth: usize,
}

fn is_meta(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')'
    )
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.s.get(self.i).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.s.get(self.i + k).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_str(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.s.len() >= self.i + n && self.s[self.i..self.i + n].iter().copied().eq(s.chars()) {
            self.i += n;
            true
        } else {
            false
        }
    }

    fn rest_token(&self) -> String {
        self.s[self.i..]
            .iter()
            .take_while(|c| !c.is_whitespace())
            .take(20)
            .collect::<String>()
    }

    /// Skips blanks, comments and backslash-newline continuations (not newlines).
    fn skip_blank(&mut self) {
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
    fn skip_lines(&mut self) {
        loop {
            self.skip_blank();
            if !self.eat('\n') {
                break;
            }
        }
    }

    /// The next bare word (unquoted, no expansions) if there is one, without consuming it.
    fn peek_bare(&self) -> Option<String> {
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

    fn at_keyword(&self, kws: &[&str]) -> bool {
        match self.peek_bare() {
            Some(w) => kws.contains(&w.as_str()),
            None => false,
        }
    }

    fn expect_keyword(&mut self, kw: &str) -> PResult<()> {
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

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(ParseError("nesting too deep".to_owned()))
        } else {
            Ok(())
        }
    }

    /// A list of and-or lists up to end of input, `)` or one of the terminator keywords.
    fn script(&mut self, terminators: &[&str]) -> PResult<Script> {
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

    fn assignment(&mut self) -> PResult<Option<(String, Word)>> {
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
    fn redir(&mut self) -> PResult<Option<Redir>> {
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

    /// A word, if one starts here.
    fn word(&mut self) -> PResult<Option<Word>> {
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
                    let mut q = String::new();
                    loop {
                        match self.peek() {
                            None => return Err(ParseError("unterminated quoted string".into())),
                            Some('\'') => {
                                self.i += 1;
                                break;
                            }
                            Some(ch) => {
                                q.push(ch);
                                self.i += 1;
                            }
                        }
                    }
                    parts.push(Part::Quoted(q));
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
                        if !lit.is_empty() {
                            parts.push(Part::Quoted(std::mem::take(&mut lit)));
                        }
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
    fn dollar(&mut self, quoted: bool) -> PResult<Option<Part>> {
        if self.eat('`') {
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
            return Ok(Some(Part::CmdSub { script, quoted }));
        }
        let save = self.i;
        self.i += 1; // the '$'
        match self.peek() {
            Some('(') if self.peek_at(1) == Some('(') => {
                self.i += 2;
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
                Ok(Some(Part::Arith {
                    expr: Word(parts),
                    quoted,
                }))
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
        self.i += 1;
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
                    let mut q = String::new();
                    loop {
                        match self.peek() {
                            None => return Err(ParseError("unterminated quoted string".into())),
                            Some('\'') => {
                                self.i += 1;
                                break;
                            }
                            Some(ch) => {
                                q.push(ch);
                                self.i += 1;
                            }
                        }
                    }
                    parts.push(Part::Quoted(q));
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
        Ok(Part::Param {
            name,
            op: Some((op, Word(parts))),
            quoted,
        })
    }
}

fn parse_nested(src: &str, depth: usize) -> PResult<Script> {
    let mut p = Parser {
        s: src.chars().collect(),
        i: 0,
        depth,
    };
    let script = p.script(&[])?;
    p.skip_lines();
    if p.i < p.s.len() {
        return Err(ParseError(format!("unexpected `{}`", p.rest_token())));
    }
    Ok(script)
}

fn flush_lit(parts: &mut Vec<Part>, lit: &mut String, quoted: bool) {
    if !lit.is_empty() {
        let s = std::mem::take(lit);
        parts.push(if quoted {
            Part::Quoted(s)
        } else {
            Part::Lit(s)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(src: &str) -> Simple {
        let s = parse(src).unwrap();
        match &s.0[0].first.cmds[0] {
            Command::Simple(c) => c.clone(),
            other => panic!("not simple: {other:?}"),
        }
    }

    fn lit(s: &str) -> Word {
        Word(vec![Part::Lit(s.to_owned())])
    }

    #[test]
    fn words_and_quotes() {
        let c = simple(r#"echo a 'b c' "d $X e" f\ g"#);
        assert_eq!(c.words.len(), 5);
        assert_eq!(c.words[1], lit("a"));
        assert_eq!(c.words[2], Word(vec![Part::Quoted("b c".into())]));
        assert_eq!(
            c.words[3],
            Word(vec![
                Part::Quoted("d ".into()),
                Part::Param {
                    name: "X".into(),
                    op: None,
                    quoted: true
                },
                Part::Quoted(" e".into())
            ])
        );
        assert_eq!(
            c.words[4],
            Word(vec![
                Part::Lit("f".into()),
                Part::Quoted(" ".into()),
                Part::Lit("g".into())
            ])
        );
        assert_eq!(
            simple(r#""""#).words[0],
            Word(vec![Part::Quoted(String::new())])
        );
    }

    #[test]
    fn operators_and_structure() {
        let s = parse("a && b || c; d | e | f\ng &").unwrap();
        assert_eq!(s.0.len(), 3);
        assert_eq!(s.0[0].rest.len(), 2);
        assert!(s.0[0].rest[0].0);
        assert!(!s.0[0].rest[1].0);
        assert_eq!(s.0[1].first.cmds.len(), 3);
        let s = parse("! false").unwrap();
        assert!(s.0[0].first.negate);
    }

    #[test]
    fn redirections() {
        let c = simple("cmd >out 2>&1 <in >>log 2>err 1>&2 &>both");
        let kinds: Vec<(u32, RedirKind)> = c.redirs.into_iter().map(|r| (r.fd, r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (1, RedirKind::Out(lit("out"))),
                (2, RedirKind::Dup(Some(1))),
                (0, RedirKind::In(lit("in"))),
                (1, RedirKind::Append(lit("log"))),
                (2, RedirKind::Out(lit("err"))),
                (1, RedirKind::Dup(Some(2))),
                (1, RedirKind::Both(lit("both"), false)),
            ]
        );
        // a digit word that is not followed by a redirection stays a word
        assert_eq!(simple("echo 2 3").words.len(), 3);
    }

    #[test]
    fn assignments_and_params() {
        let c = simple("A=1 B='x y' env");
        assert_eq!(c.assigns.len(), 2);
        assert_eq!(c.assigns[0], ("A".into(), lit("1")));
        assert_eq!(c.words.len(), 1);
        let c = simple("echo ${X:-def} ${#Y} $? $1 ${Z%.txt}");
        assert!(matches!(
            &c.words[1].0[0],
            Part::Param { name, op: Some((ParamOp::Default(true), _)), .. } if name == "X"
        ));
        assert!(matches!(
            &c.words[2].0[0],
            Part::Param {
                op: Some((ParamOp::Length, _)),
                ..
            }
        ));
        assert!(matches!(&c.words[3].0[0], Part::Param { name, .. } if name == "?"));
        assert!(matches!(&c.words[4].0[0], Part::Param { name, .. } if name == "1"));
        assert!(matches!(
            &c.words[5].0[0],
            Part::Param {
                op: Some((ParamOp::TrimSuffix(false), _)),
                ..
            }
        ));
        // `$` alone or before a non-name is literal
        assert_eq!(simple("echo $ a$").words[1], lit("$"));
    }

    #[test]
    fn compound_commands() {
        let s = parse("if true; then echo y; elif false; then :; else echo n; fi").unwrap();
        assert!(matches!(
            &s.0[0].first.cmds[0],
            Command::Compound(c, _) if matches!(**c, Compound::If { ref arms, otherwise: Some(_) } if arms.len() == 2)
        ));
        let s = parse("for i in 1 2 3; do echo $i; done > f").unwrap();
        assert!(matches!(
            &s.0[0].first.cmds[0],
            Command::Compound(c, r) if matches!(**c, Compound::For { ref items, .. } if items.as_ref().map(Vec::len) == Some(3)) && r.len() == 1
        ));
        assert!(parse("while false; do :; done").is_ok());
        assert!(parse("( cd /; ls ) && { echo a; echo b; }").is_ok());
        assert!(parse("for x\ndo\necho $x\ndone").is_ok());
    }

    #[test]
    fn command_substitution_and_arith() {
        let c = simple("echo $(echo $(pwd)) `date` $((1 + $X * 2))");
        assert!(matches!(&c.words[1].0[0], Part::CmdSub { .. }));
        assert!(matches!(&c.words[2].0[0], Part::CmdSub { .. }));
        assert!(matches!(&c.words[3].0[0], Part::Arith { .. }));
    }

    #[test]
    fn heredoc() {
        let s = parse("cat <<EOF > f\nhello $X\nEOF\necho done").unwrap();
        assert_eq!(s.0.len(), 2);
        let s = parse("cat <<'EOF'\n$X\nEOF").unwrap();
        match &s.0[0].first.cmds[0] {
            Command::Simple(c) => assert_eq!(
                c.redirs[0].kind,
                RedirKind::Here(Word(vec![Part::Quoted("$X\n".into())]))
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_do_not_panic() {
        for bad in [
            "echo 'x",
            "echo \"x",
            "a &&",
            "| b",
            "if true; then",
            "for",
            "( a",
            "echo $(",
            "${",
            "echo ${x",
            ">",
            "a ;; b",
            "done",
            "fi",
            ")",
            "$((1",
            "`x",
            "a 3>&x",
            "{ a",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be an error");
        }
        let deep = "(".repeat(1000);
        assert!(parse(&deep).is_err());
        // garbage never panics
        for s in [
            "\\", "$", "${#}", "a\\\nb", "~", "~/x", "&", ";", "\n\n", "#c",
        ] {
            let _ = parse(s);
        }
    }
}
