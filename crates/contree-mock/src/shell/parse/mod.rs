//! Parser for the supported `sh` subset: a recursive-descent parser over characters that yields
//! the syntax tree the interpreter walks.

mod commands;
mod cursor;
mod redirs;
#[cfg(test)]
mod tests;
mod words;

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
