//! Reading and writing `auth.ini` with the dialect of Python's `configparser` (what the
//! official tools use), minus interpolation and plus precise line numbers.
//!
//! The document model is `rust-ini`'s ([`ini::Ini`]). The reader is a small line scanner
//! that builds that model, and the writer writes what configparser writes, because `configparser`'s rules differ from
//! `rust-ini`'s parser in ways that matter here: a line without `=` or `:` is an error (rust-ini
//! silently glues it onto the next key), a `\` at the end of a line is kept (rust-ini joins
//! lines), duplicate sections and keys are errors, keys are lower-cased, and every error
//! needs its line number.

use std::path::Path;

use ini::Ini;

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
///
/// A multi-line value is written as configparser writes it: every line after the first on a
/// continuation line indented with a tab (`"a\nb"` becomes `key = a\n\tb`), which [`parse`]
/// (and configparser) read back as the same value; a continuation holding `=` stays part of
/// the value. What cannot be read back unchanged (a key with `=` or `:`, a value line with
/// surrounding whitespace or starting with `#`/`;`, a carriage return, ...) is refused with
/// the reason, and the caller leaves the file as it was. As a last safety net the output is
/// parsed again and compared with `doc`.
pub(crate) fn serialize(path: &Path, doc: &Ini) -> Result<Vec<u8>, Error> {
    let mut out = String::new();
    let mut sections: Vec<(&str, &ini::Properties)> = Vec::new();
    if let Some(defaults) = doc.section(Some(DEFAULT_SECTION))
        && !defaults.is_empty()
    {
        sections.push((DEFAULT_SECTION, defaults));
    }
    for (name, props) in doc.iter() {
        match name {
            Some(DEFAULT_SECTION) | None => {}
            Some(name) => sections.push((name, props)),
        }
    }
    let refuse = |reason: String| -> Error {
        Inner::Unwritable {
            path: path.to_path_buf(),
            reason,
        }
        .into()
    };
    if doc.section(None::<String>).is_some_and(|p| !p.is_empty()) {
        return Err(refuse("keys outside any section cannot be written".into()));
    }
    for (name, props) in &sections {
        check_section_name(name).map_err(|r| refuse(format!("section [{name}]: {r}")))?;
        out.push('[');
        out.push_str(name);
        out.push_str("]\n");
        for (key, value) in props.iter() {
            check_key(key).map_err(|r| refuse(format!("key `{key}` in [{name}]: {r}")))?;
            check_value(value)
                .map_err(|r| refuse(format!("the value of `{key}` in [{name}]: {r}")))?;
            out.push_str(key);
            out.push_str(" = ");
            out.push_str(&value.replace('\n', "\n\t"));
            out.push('\n');
        }
        out.push('\n');
    }
    // The safety net: what was written reads back as `doc`.
    let reparsed = parse(path, out.as_bytes())
        .map_err(|e| refuse(format!("the output would not read back ({e})")))?;
    if !same_document(doc, &reparsed) {
        return Err(refuse("the output would not read back unchanged".into()));
    }
    Ok(out.into_bytes())
}

fn check_section_name(name: &str) -> Result<(), &'static str> {
    if name.contains(['\n', '\r']) {
        return Err("it contains a line break");
    }
    if section_header(format!("[{name}]").trim()) != Some(name) {
        return Err("it would not read back as the same section name");
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), &'static str> {
    if key.is_empty() {
        Err("it is empty")
    } else if key.contains(['\n', '\r']) {
        Err("it contains a line break")
    } else if key.contains(['=', ':']) {
        Err("it contains `=` or `:`")
    } else if key.trim() != key {
        Err("it has surrounding whitespace")
    } else if key.to_lowercase() != key {
        Err("it has upper-case letters (keys are read back lower-cased)")
    } else if key.starts_with(['#', ';', '[']) {
        Err("it starts with `#`, `;` or `[`")
    } else {
        Ok(())
    }
}

fn check_value(value: &str) -> Result<(), &'static str> {
    if value.contains('\r') {
        return Err("it contains a carriage return");
    }
    if value.trim_end() != value {
        return Err("it ends with whitespace or an empty line");
    }
    for (i, line) in value.split('\n').enumerate() {
        if line.trim() != line {
            return Err("a line of it has surrounding whitespace");
        }
        if i > 0 && line.starts_with(['#', ';']) {
            return Err(
                "a continuation line starts with `#` or `;` (it would read back as a comment)",
            );
        }
    }
    Ok(())
}

/// The same sections (an empty `[DEFAULT]` counts as absent) with the same keys and values
/// in the same order; `[DEFAULT]` may move to the front.
fn same_document(a: &Ini, b: &Ini) -> bool {
    let sections = |d: &Ini| -> Vec<(String, Vec<(String, String)>)> {
        let mut v: Vec<_> = d
            .iter()
            .filter_map(|(name, props)| {
                let name = name?;
                if name == DEFAULT_SECTION && props.is_empty() {
                    return None;
                }
                let kv = props
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                Some((name.to_string(), kv))
            })
            .collect();
        v.sort_by_key(|(name, _)| name != DEFAULT_SECTION);
        v
    };
    sections(a) == sections(b)
}

#[cfg(test)]
mod proptest;

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

    fn roundtrip(text: &str) -> Ini {
        let doc = p(text).unwrap();
        let out = serialize(Path::new("auth.ini"), &doc).unwrap();
        let again = parse(Path::new("auth.ini"), &out).unwrap();
        assert!(
            same_document(&doc, &again),
            "{text:?} -> {:?}",
            String::from_utf8_lossy(&out)
        );
        again
    }

    #[test]
    fn continuation_lines_are_written_indented_and_read_back() {
        let doc = roundtrip("[s]\nk = a\n  b = c\n\n  d\nx = y\n    z: w\n");
        assert_eq!(doc.get_from(Some("s"), "k"), Some("a\nb = c\n\nd"));
        assert_eq!(doc.get_from(Some("s"), "x"), Some("y\nz: w"));
        // A continuation holding `=` is never a new key.
        assert_eq!(doc.get_from(Some("s"), "b"), None);
        let out = serialize(Path::new("a"), &doc).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "[s]\nk = a\n\tb = c\n\t\n\td\nx = y\n\tz: w\n\n"
        );
    }

    #[test]
    fn control_characters_the_reader_keeps_are_written_back() {
        // Found by `cargo xtask fuzz auth_ini`: a section named by a vertical tab.
        let doc = roundtrip("[\u{b}]\nk\u{c} = a\u{b}b\n\n[x]\nk = \u{1}\n");
        // (A trailing form feed is whitespace: the key reads as `k`.)
        assert_eq!(doc.get_from(Some("\u{b}"), "k"), Some("a\u{b}b"));
        assert_eq!(doc.get_from(Some("x"), "k"), Some("\u{1}"));
    }

    #[test]
    fn what_cannot_round_trip_is_refused() {
        let path = Path::new("auth.ini");
        let cases: &[(&str, &str, &str)] = &[
            ("s", "k", "a\n#not a comment"),
            ("s", "k", " padded"),
            ("s", "k", "a\n"),
            ("s", "k", "a\rb"),
            ("s", "K", "v"),
            ("s", "a=b", "v"),
            ("s", "#k", "v"),
            ("bad\nname", "k", "v"),
        ];
        for (section, key, value) in cases {
            let mut doc = Ini::new();
            doc.with_section(Some(*section)).set(*key, *value);
            let err = serialize(path, &doc).expect_err(&format!("{section} {key} {value:?}"));
            assert_eq!(err.kind(), crate::ErrorKind::File);
            assert!(err.to_string().contains("left unchanged"), "{err}");
        }
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
        let out = String::from_utf8(serialize(Path::new("auth.ini"), &doc).unwrap()).unwrap();
        assert_eq!(
            out,
            "[DEFAULT]\nprofile = a\n\n[profile:a]\nurl = u\ntoken = \n\n[empty]\n\n[cli]\neditor = vim\n\n"
        );
    }
}
