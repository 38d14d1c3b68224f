//! Searching an image's files.

use std::future::IntoFuture;

use contree_proto::{requests, types};

use crate::api;
use crate::error::Result;
use crate::image::Image;
use crate::util::BoxFuture;

/// Case sensitivity of a [`Grep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrepCase {
    /// Exact case (the default).
    Sensitive,
    /// Ignore case.
    Insensitive,
    /// Ignore case unless the pattern has an upper-case letter.
    Smart,
}

/// A content search in an image ([`Image::grep`]); await it for a [`GrepResult`].
///
/// ```no_run
/// # async fn demo(img: contree::Image) -> contree::Result<()> {
/// let hits = img.grep("^root:").path("/etc").glob("passwd*").max_total(10).await?;
/// for m in hits.matches() {
///     println!("{}:{}: {}", m.path, m.line_number, m.line.trim_end());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a Grep does nothing until awaited"]
pub struct Grep {
    pub(crate) image: Image,
    pub(crate) patterns: Vec<String>,
    pub(crate) paths: Vec<String>,
    pub(crate) globs: Vec<String>,
    pub(crate) max_count: Option<u32>,
    pub(crate) max_total: Option<u32>,
    pub(crate) case: Option<GrepCase>,
    pub(crate) before: Option<u32>,
    pub(crate) after: Option<u32>,
}

impl Grep {
    /// Another pattern (patterns are OR-ed; at most 16).
    pub fn pattern(mut self, p: impl Into<String>) -> Self {
        self.patterns.push(p.into());
        self
    }
    /// A file or directory to search (repeatable; default `/`).
    pub fn path(mut self, p: impl Into<String>) -> Self {
        self.paths.push(p.into());
        self
    }
    /// A ripgrep glob filter (`*.rs`, `!*.min.js`; repeatable).
    pub fn glob(mut self, g: impl Into<String>) -> Self {
        self.globs.push(g.into());
        self
    }
    /// At most this many matches per file.
    pub fn max_count(mut self, n: u32) -> Self {
        self.max_count = Some(n);
        self
    }
    /// At most this many matches in total (server default 1000).
    pub fn max_total(mut self, n: u32) -> Self {
        self.max_total = Some(n);
        self
    }
    /// Case sensitivity.
    pub fn case(mut self, c: GrepCase) -> Self {
        self.case = Some(c);
        self
    }
    /// Lines of context before and after each match.
    pub fn context(mut self, before: u32, after: u32) -> Self {
        self.before = Some(before);
        self.after = Some(after);
        self
    }

    async fn execute(self) -> Result<GrepResult> {
        let uuid = self.image.resolve_uuid().await?;
        let mut q = requests::InspectImageGrep::new(uuid.as_str(), self.patterns.clone());
        q.path = self.paths.clone();
        q.glob = self.globs.clone();
        q.max_count = self.max_count.map(i64::from);
        q.max_total = self.max_total.map(i64::from);
        q.case = self.case.map(|c| match c {
            GrepCase::Sensitive => types::GrepCase::Sensitive,
            GrepCase::Insensitive => types::GrepCase::Insensitive,
            GrepCase::Smart => types::GrepCase::Smart,
        });
        q.before = self.before.map(i64::from);
        q.after = self.after.map(i64::from);
        let action = format!("searching image {uuid}");
        let w = api::grep(&self.image.client, &q, &action).await?;
        Ok(GrepResult {
            matches: w
                .matches
                .into_iter()
                .map(|m| GrepMatch {
                    path: m.path,
                    line_number: u64::try_from(m.line_number).unwrap_or(0),
                    byte_offset: u64::try_from(m.absolute_offset).unwrap_or(0),
                    line: m.line_text,
                    line_len: u64::try_from(m.line_bytes).unwrap_or(0),
                    is_context: m.kind == types::GrepMatchType::Context,
                    submatches: m
                        .submatches
                        .into_iter()
                        .map(|s| Submatch {
                            text: s.text,
                            start: usize::try_from(s.start).unwrap_or(0),
                            end: usize::try_from(s.end).unwrap_or(0),
                        })
                        .collect(),
                })
                .collect(),
            truncated: w.truncated,
        })
    }
}

impl IntoFuture for Grep {
    type Output = Result<GrepResult>;
    type IntoFuture = BoxFuture<Result<GrepResult>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.execute())
    }
}

/// The answer of a [`Grep`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrepResult {
    matches: Vec<GrepMatch>,
    truncated: bool,
}

impl GrepResult {
    /// Matching lines (and context lines, see [`GrepMatch::is_context`]), in file order.
    pub fn matches(&self) -> &[GrepMatch] {
        &self.matches
    }
    /// Whether the search stopped early (`max_total` or the server's deadline).
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// One line of a [`GrepResult`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GrepMatch {
    /// Absolute path of the file.
    pub path: String,
    /// 1-based line number.
    pub line_number: u64,
    /// Byte offset of the line in the file.
    pub byte_offset: u64,
    /// The line, with its terminator (cut at 4096 bytes).
    pub line: String,
    /// The line's real length in bytes.
    pub line_len: u64,
    /// Whether this is a context line rather than a match.
    pub is_context: bool,
    /// The matching parts of the line.
    pub submatches: Vec<Submatch>,
}

/// A matching span within a [`GrepMatch`] line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Submatch {
    /// The matched text.
    pub text: String,
    /// Start byte offset within the line.
    pub start: usize,
    /// End byte offset within the line.
    pub end: usize,
}
