//! Query and path encoding exactly as the official client does it (`docs/WIRE-QUIRKS.md`,
//! "Percent-encoding"):
//! `urlencode(doseq=True, safe="/", quote_via=quote)` for queries and `quote(s, safe="")` for path
//! parameters.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters escaped in path parameters: everything but `A-Za-z0-9-._~`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Characters escaped in query keys and values: as [`PATH_SEGMENT`], but `/` is kept.
const QUERY: &AsciiSet = &PATH_SEGMENT.remove(b'/');

/// Escapes one path parameter (`/` becomes `%2F`, space `%20`).
///
/// ```
/// assert_eq!(contree_proto::query::encode_path_segment("a b/c"), "a%20b%2Fc");
/// ```
pub fn encode_path_segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// Escapes a query key or value (space `%20`, `/` kept, `:` `%3A`, `+` `%2B`).
///
/// ```
/// assert_eq!(contree_proto::query::encode_query_component("/etc/a b:+*"), "/etc/a%20b%3A%2B%2A");
/// ```
pub fn encode_query_component(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

/// A query string under construction; keys keep their insertion order and may repeat.
///
/// ```
/// use contree_proto::query::Query;
/// let mut q = Query::new();
/// q.push("pattern", "a b");
/// q.push("pattern", "c");
/// q.flag("follow", true);
/// q.flag("text", false);
/// assert_eq!(q.append_to("/x".into()), "/x?pattern=a%20b&pattern=c&follow=1");
/// ```
#[derive(Debug, Default, Clone)]
pub struct Query {
    out: String,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `key=value`.
    pub fn push(&mut self, key: &str, value: &str) {
        if !self.out.is_empty() {
            self.out.push('&');
        }
        self.out.push_str(&encode_query_component(key));
        self.out.push('=');
        self.out.push_str(&encode_query_component(value));
    }

    /// Appends `key=1` when `on`; nothing otherwise (flags are never sent as false).
    pub fn flag(&mut self, key: &str, on: bool) {
        if on {
            self.push(key, "1");
        }
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// `path` followed by `?query` when the query is not empty.
    pub fn append_to(self, mut path: String) -> String {
        if !self.out.is_empty() {
            path.push('?');
            path.push_str(&self.out);
        }
        path
    }
}
