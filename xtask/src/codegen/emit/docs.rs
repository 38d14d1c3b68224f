//! Rustdoc emission: spec descriptions made safe for rustdoc, field and type docs, examples.

use proc_macro2::TokenStream;
use quote::quote;

use super::super::model::{Def, Field};

/// `#[doc = ...]` attributes for a spec description, made safe for rustdoc: lines are
/// left-trimmed (no accidental indented code blocks, which rustdoc would compile as doctests)
/// and fenced blocks are marked `text`.
pub fn doc(text: &str) -> TokenStream {
    let mut lines: Vec<String> = Vec::new();
    let mut in_fence = false;
    let mut in_item = false;
    for line in text.trim().lines() {
        let t = line.trim_start();
        if t.starts_with("```") {
            if in_fence {
                lines.push("```".into());
            } else {
                lines.push("```text".into());
            }
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            lines.push(line.to_string());
        } else if t.is_empty() {
            in_item = false;
            lines.push(String::new());
        } else if is_list_item(t) {
            in_item = true;
            lines.push(escape_doc(t));
        } else if in_item {
            // A continuation line of a list item: indented, so markdown keeps it in the item.
            lines.push(format!("  {}", escape_doc(t)));
        } else {
            // Escape what rustdoc would read as HTML tags or intra-doc links outside code spans.
            lines.push(escape_doc(t));
        }
    }
    if in_fence {
        lines.push("```".into());
    }
    let attrs = lines.iter().map(|l| {
        let l = if l.is_empty() {
            String::new()
        } else {
            format!(" {l}")
        };
        quote!(#[doc = #l])
    });
    quote!(#(#attrs)*)
}

fn is_list_item(t: &str) -> bool {
    t.starts_with("* ") || t.starts_with("- ") || {
        let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
        digits > 0 && t[digits..].starts_with(". ")
    }
}

fn escape_doc(line: &str) -> String {
    // Outside backtick spans, `<` and `[`/`]` are escaped so rustdoc sees plain text.
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        match c {
            '`' => {
                in_code = !in_code;
                out.push(c);
            }
            '<' if !in_code => out.push_str("&lt;"),
            '>' if !in_code => out.push_str("&gt;"),
            '[' if !in_code => out.push_str("\\["),
            ']' if !in_code => out.push_str("\\]"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn field_doc(owner: &str, f: &Field) -> TokenStream {
    let mut text = f
        .doc
        .clone()
        .unwrap_or_else(|| format!("The `{}` field of `{}`.", f.wire, owner));
    let mut notes = Vec::new();
    if f.required && !f.nullable {
        notes.push("Required.".to_string());
    } else if f.required {
        notes.push("Required, may be `null`.".to_string());
    } else if f.nullable && !f.tristate {
        notes.push("May be `null`; `None` is sent as `null`.".to_string());
    }
    if f.tristate {
        notes.push("Absent, `null` and a value are three different requests.".to_string());
    }
    if f.rust.trim_start_matches("r#") != f.wire {
        notes.push(format!("Wire name: `{}`.", f.wire));
    }
    if !notes.is_empty() {
        text = format!("{}\n\n{}", text.trim_end(), notes.join(" "));
    }
    doc(&text)
}

pub(super) fn def_doc(d: &Def) -> TokenStream {
    let mut text = d.doc.clone().unwrap_or_default();
    if let Some(s) = &d.schema {
        let src = format!("Generated from the spec's `{s}` schema.");
        text = if text.trim().is_empty() {
            src
        } else {
            format!("{}\n\n{src}", text.trim_end())
        };
    } else if text.trim().is_empty() {
        text = format!("The `{}` type (an inline schema of the spec).", d.name);
    }
    doc(&text)
}

/// A doc example decoding the spec's example of a schema (a doctest).
pub(super) fn example_doc(name: &str, example: Option<&serde_json::Value>) -> TokenStream {
    let Some(example) = example else {
        return quote!();
    };
    let json = serde_json::to_string(example).unwrap_or_default();
    let mut hashes = String::from("#");
    while json.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let lines = [
        String::new(),
        " # Example".to_string(),
        String::new(),
        " The spec's example (assembled from its property examples when the schema has none):"
            .to_string(),
        String::new(),
        " ```".to_string(),
        format!(" let json = r{hashes}\"{json}\"{hashes};"),
        format!(" let value: contree_proto::types::{name} = serde_json::from_str(json).unwrap();"),
        " let again: serde_json::Value = serde_json::to_value(&value).unwrap();".to_string(),
        " assert!(again.is_object() || again.is_string());".to_string(),
        " ```".to_string(),
    ];
    let attrs = lines.iter().map(|l| quote!(#[doc = #l]));
    quote!(#(#attrs)*)
}
