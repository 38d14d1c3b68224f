//! Reading and writing `auth.ini` with the dialect of Python's `configparser` (what the
//! official tools use), minus interpolation and plus precise line numbers.
//!
//! The document model and the writer are `rust-ini`'s ([`ini::Ini`]). The reader is a small
//! line scanner that builds that model, because `configparser`'s rules differ from
//! `rust-ini`'s parser in ways that matter here: a line without `=` or `:` is an error (rust-ini
//! silently glues it onto the next key), a `\` at the end of a line is kept (rust-ini joins
//! lines), duplicate sections and keys are errors, keys are lower-cased, and every error
//! needs its line number.

use std::path::Path;

use ini::{EscapePolicy, Ini, LineSeparator, WriteOption};

use crate::error::{Error, Inner};

/// The name of the section whose keys every other section inherits.
pub(crate) const DEFAULT_SECTION: &str = "DEFAULT";

/// Parses `auth.ini` bytes. Accepts a UTF-8 BOM, CRLF/CR/LF line ends, `key = value` and
/// `key: value` with any whitespace around the delimiter, full-line `#`/`;` comments,
/// indented continuation lines, and a missing final newline. Values are raw: no
/// interpolation, no quotes, no escapes, no inline comments.
pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<Ini, Error> {
    let malformed = |line: usize, reason: String| -> Error {
        Inner::Malformed {
            path: path.to_path_buf(),
            line,
            reason,
        }
        .into()
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            return Err(malformed(line, "the file is not valid UTF-8".into()));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");

    let mut doc = Ini::new();
    // (section, key, lines of the value) of the option being read.
    let mut current_section: Option<String> = None;
    let mut current_key: Option<String> = None;
    let mut pending: Vec<String> = Vec::new();
    let mut indent_level = 0usize;

    let flush = |doc: &mut Ini,
                 section: &Option<String>,
                 key: &mut Option<String>,
                 pending: &mut Vec<String>| {
        if let (Some(section), Some(key)) = (section, key.take()) {
            let value = pending.join("\n");
            let value = value.trim_end().to_string();
            doc.with_section(Some(section.as_str())).set(key, value);
        }
        pending.clear();
    };

    for (idx, raw) in text.split('\n').enumerate() {
        let lineno = idx + 1;
        let stripped = raw.trim();
        if stripped.starts_with('#') || stripped.starts_with(';') {
            // Full-line comment: skipped; it does not end a multi-line value.
            continue;
        }
        if stripped.is_empty() {
            if current_key.is_some() {
                pending.push(String::new());
            }
            continue;
        }
        let cur_indent = raw.len() - raw.trim_start().len();
        if current_key.is_some() && cur_indent > indent_level {
            // Continuation line of a multi-line value.
            pending.push(stripped.to_string());
            continue;
        }
        indent_level = cur_indent;
        if let Some(header) = section_header(stripped) {
            flush(&mut doc, &current_section, &mut current_key, &mut pending);
            if doc.section(Some(header)).is_some() {
                return Err(malformed(
                    lineno,
                    format!("section [{header}] appears a second time"),
                ));
            }
            doc.entry(Some(header.to_string()))
                .or_insert_with(Default::default);
            current_section = Some(header.to_string());
            continue;
        }
        let Some(section) = current_section.clone() else {
            return Err(malformed(
                lineno,
                "a key outside any section; the file must start with a [section] header".into(),
            ));
        };
        let Some(delim) = stripped.find(['=', ':']) else {
            return Err(malformed(
                lineno,
                "expected `key = value` (no `=` or `:` on this line)".into(),
            ));
        };
        let key = stripped[..delim].trim_end().to_lowercase();
        if key.is_empty() {
            return Err(malformed(lineno, "a value without a key".into()));
        }
        flush(&mut doc, &current_section, &mut current_key, &mut pending);
        if doc
            .section(Some(section.as_str()))
            .is_some_and(|s| s.contains_key(&key))
        {
            return Err(malformed(
                lineno,
                format!("key `{key}` appears a second time in section [{section}]"),
            ));
        }
        pending.push(stripped[delim + 1..].trim().to_string());
        current_key = Some(key);
    }
    flush(&mut doc, &current_section, &mut current_key, &mut pending);
    Ok(doc)
}

/// `[name]` (configparser: `\[(.+)\]` matched at the start; text after the last `]` is
/// ignored, the name is not trimmed).
fn section_header(stripped: &str) -> Option<&str> {
    let rest = stripped.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    if end == 0 {
        return None;
    }
    Some(&rest[..end])
}

/// Serialises like `configparser.write` with `space_around_delimiters`: `[DEFAULT]` first,
/// then the other sections in order, `key = value` lines, and one blank line after every
/// section (including the last). This is byte-identical to what the official CLI writes.
pub(crate) fn serialize(doc: &Ini) -> Vec<u8> {
    let opt = || WriteOption {
        escape_policy: EscapePolicy::Nothing,
        line_separator: LineSeparator::CR,
        kv_separator: " = ",
    };
    let mut out = Vec::new();
    // One section at a time, each followed by a blank line, exactly like configparser
    // (rust-ini alone would drop the blank line before an empty section and after the last).
    let mut write_section = |name: &str, props: &ini::Properties| {
        let mut one = Ini::new();
        one.entry(Some(name.to_string()))
            .or_insert_with(Default::default);
        {
            let mut setter = one.with_section(Some(name));
            for (k, v) in props.iter() {
                setter.set(k, v);
            }
        }
        // Writing into a Vec cannot fail.
        let _ = one.write_to_opt(&mut out, opt());
        out.push(b'\n');
    };
    if let Some(defaults) = doc.section(Some(DEFAULT_SECTION))
        && !defaults.is_empty()
    {
        write_section(DEFAULT_SECTION, defaults);
    }
    for (name, props) in doc.iter() {
        match name {
            Some(DEFAULT_SECTION) | None => {}
            Some(name) => write_section(name, props),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Ini, Error> {
        parse(Path::new("auth.ini"), s.as_bytes())
    }

    #[test]
    fn raw_values_and_dialect() {
        let doc = p("\u{feff}[DEFAULT]\r\nprofile=work\r\n[profile:work]\r\n  TOKEN   =  a%b#c;d=e \r\nurl: https://x/\r\n# note\r\n; note\r\nproject = p").unwrap();
        assert_eq!(doc.get_from(Some("DEFAULT"), "profile"), Some("work"));
        assert_eq!(
            doc.get_from(Some("profile:work"), "token"),
            Some("a%b#c;d=e")
        );
        assert_eq!(
            doc.get_from(Some("profile:work"), "url"),
            Some("https://x/")
        );
        assert_eq!(doc.get_from(Some("profile:work"), "project"), Some("p"));
    }

    #[test]
    fn continuation_lines_join_with_newline() {
        let doc = p("[s]\nk = a\n  b\n\nx = y\n# note\n   z\n\n").unwrap();
        assert_eq!(doc.get_from(Some("s"), "k"), Some("a\nb"));
        assert_eq!(doc.get_from(Some("s"), "x"), Some("y\nz"));
    }

    #[test]
    fn errors_carry_line_numbers() {
        let e = p("[s]\nk = v\njunk\n").unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Malformed);
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = p("k = v\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = p("[s]\nk = v\n[s]\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = p("[s]\nk = v\nK = w\n").unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = p("[s]\n= v\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse(Path::new("a"), b"[s]\nk = \xff\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }

    #[test]
    fn serialize_matches_configparser() {
        let doc = p(
            "[profile:a]\nurl = u\ntoken =\n[DEFAULT]\nprofile = a\n[empty]\n[cli]\neditor = vim\n",
        )
        .unwrap();
        let out = String::from_utf8(serialize(&doc)).unwrap();
        assert_eq!(
            out,
            "[DEFAULT]\nprofile = a\n\n[profile:a]\nurl = u\ntoken = \n\n[empty]\n\n[cli]\neditor = vim\n\n"
        );
    }
}
