//! A lenient RFC 3339 timestamp parser for every timestamp form the API uses.
//!
//! Event `ts`, `init.started_at` and `shutdown.stopped_at` carry nanosecond fractions with `Z`;
//! `File.created_at` is `date-time`; `Image.created_at` and `Operation*.created_at` are plain
//! strings such as `2024-01-01T12:00:00+00:00` (`docs/WIRE-QUIRKS.md`, "Timestamps"). The generated types keep them
//! as `String`; this turns them into `time::OffsetDateTime`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 / ISO 8601 timestamp leniently: `T` or a space between date and time,
/// `Z`/`z`/`±hh:mm`/`±hhmm`/`±hh` offsets, no offset (taken as UTC), 0 to 9 fraction digits
/// (more are truncated). Returns `None` when it is not a timestamp.
///
/// ```
/// use contree_proto::timestamp::parse;
/// let a = parse("2026-06-08T20:00:00.123456789Z").unwrap();
/// assert_eq!(a.nanosecond(), 123_456_789);
/// let b = parse("2024-01-01T12:00:00+00:00").unwrap();
/// assert_eq!(b.unix_timestamp(), 1_704_110_400);
/// assert_eq!(parse("2024-01-01 12:00:00").unwrap(), b);
/// assert!(parse("yesterday").is_none());
/// ```
pub fn parse(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(19) {
        return None;
    }
    let (date, rest) = s.split_at(10);
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, mut tail) = rest.split_at(8);
    let mut fraction = String::new();
    if let Some(f) = tail.strip_prefix(['.', ',']) {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!(".{}", &f[..digits.min(9)]);
        tail = &f[digits..];
    }
    let offset = match tail {
        "" | "Z" | "z" => "Z".to_string(),
        t if (t.starts_with('+') || t.starts_with('-')) && t.is_ascii() => {
            let (sign, hm) = t.split_at(1);
            let hm = hm.replace(':', "");
            match hm.len() {
                2 => format!("{sign}{hm}:00"),
                4 => format!("{sign}{}:{}", &hm[..2], &hm[2..]),
                _ => return None,
            }
        }
        _ => return None,
    };
    OffsetDateTime::parse(&format!("{date}T{clock}{fraction}{offset}"), &Rfc3339).ok()
}
