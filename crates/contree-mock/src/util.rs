//! Small helpers: timestamps, stream encodings, query strings, time filters.

use std::collections::BTreeMap;

use time::{OffsetDateTime, UtcOffset};

/// `2026-06-08T20:00:00.123456789Z` (event timestamps: nanoseconds, `Z`).
pub(crate) fn ts_nanos(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

/// `2024-01-01T12:00:00.123456+00:00` (resource timestamps).
pub(crate) fn ts_iso(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Decodes a `ClosableStreamRepr`-style value; `None` if base64 is invalid or the encoding
/// unknown (proto's rule, `contree_proto::stream::try_decode`, so the mock accepts every form
/// the clients decode).
pub(crate) fn decode_stream(value: &str, encoding: Option<&str>) -> Option<Vec<u8>> {
    let encoding = encoding.map(contree_proto::types::StreamEncoding::from);
    contree_proto::stream::try_decode(encoding.as_ref(), value)
}

/// Parsed query string: repeated keys kept in order; a key without `=` has the value `""`.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

fn pct_decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

impl Query {
    pub(crate) fn parse(q: Option<&str>) -> Self {
        let pairs = q
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (pct_decode(k), pct_decode(v)),
                None => (pct_decode(p), String::new()),
            })
            .collect();
        Self { pairs }
    }

    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(kk, _)| kk == k)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all(&self, k: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(kk, _)| kk == k)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(crate) fn has(&self, k: &str) -> bool {
        self.pairs.iter().any(|(kk, _)| kk == k)
    }
}

/// Parses the shared Since/Until parameter: ISO 8601, a Unix timestamp, or `Ns|Nm|Nh|Nd|Nw` ago.
pub(crate) fn parse_time_filter(s: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(unit) = s.chars().last()
        && "smhdw".contains(unit)
        && s.len() > 1
        && let Ok(n) = s[..s.len() - 1].parse::<i64>()
    {
        let secs = match unit {
            's' => n,
            'm' => n.checked_mul(60)?,
            'h' => n.checked_mul(3600)?,
            'd' => n.checked_mul(86_400)?,
            _ => n.checked_mul(604_800)?,
        };
        return now.checked_sub(time::Duration::seconds(secs));
    }
    if let Ok(n) = s.parse::<f64>()
        && n.is_finite()
    {
        return OffsetDateTime::from_unix_timestamp_nanos((n * 1e9) as i128).ok();
    }
    if let Ok(t) = OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Some(t);
    }
    // Lenient forms: naive datetime (UTC), `Z`-less with space, or a bare date.
    let naive = s.replace(' ', "T");
    for candidate in [format!("{naive}Z"), format!("{naive}T00:00:00Z")] {
        if let Ok(t) =
            OffsetDateTime::parse(&candidate, &time::format_description::well_known::Rfc3339)
        {
            return Some(t);
        }
    }
    None
}

/// Parses a `0`/`1`/empty HTTP flag; `Err` for other values.
pub(crate) fn parse_flag(q: &Query, name: &str) -> Result<bool, String> {
    match q.get(name) {
        None => Ok(false),
        Some("" | "1") => Ok(true),
        Some("0") => Ok(false),
        Some(other) => Err(format!(
            "query parameter `{name}` must be empty, `0` or `1`, got {other:?}"
        )),
    }
}

/// Secret-looking env keys are masked in `spawn` events.
pub(crate) fn mask_env(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .map(|(k, v)| {
            let up = k.to_ascii_uppercase();
            let secret = [
                "TOKEN",
                "SECRET",
                "PASSWORD",
                "API_KEY",
                "CREDENTIALS",
                "AUTHORIZATION",
            ]
            .iter()
            .any(|s| up.ends_with(s));
            (
                k.clone(),
                if secret {
                    "<MASKED>".to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// Signal name or number to a number (`15`, `TERM`, `SIGTERM`).
pub(crate) fn parse_signal(s: &str) -> Option<i32> {
    if let Ok(n) = s.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    Some(match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        "CHLD" => 17,
        "CONT" => 18,
        "STOP" => 19,
        "TSTP" => 20,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(decode_stream("aGk=", Some("base64")).unwrap(), b"hi");
        assert!(decode_stream("!!", Some("base64")).is_none());
        // Unpadded and URL-safe base64 decode as proto decodes them for the clients.
        assert_eq!(decode_stream("AP8", Some("base64")).unwrap(), b"\x00\xff");
        assert_eq!(decode_stream("-_8", Some("base64")).unwrap(), b"\xfb\xff");
        assert!(decode_stream("hi", Some("utf8")).is_none());
    }

    #[test]
    fn time_filters() {
        let now = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        assert_eq!(
            parse_time_filter("15m", now).unwrap().unix_timestamp(),
            1_000_000 - 900
        );
        assert_eq!(
            parse_time_filter("1700000000", now)
                .unwrap()
                .unix_timestamp(),
            1_700_000_000
        );
        assert!(parse_time_filter("2025-01-01T00:00:00+00:00", now).is_some());
        assert!(parse_time_filter("2025-01-01", now).is_some());
        assert!(parse_time_filter("yesterday", now).is_none());
    }

    #[test]
    fn signals_and_flags() {
        assert_eq!(parse_signal("SIGTERM"), Some(15));
        assert_eq!(parse_signal("term"), Some(15));
        assert_eq!(parse_signal("9"), Some(9));
        assert_eq!(parse_signal("NOPE"), None);
        let q = Query::parse(Some("follow&since=3&pattern=a&pattern=b%20c"));
        assert_eq!(parse_flag(&q, "follow"), Ok(true));
        assert_eq!(q.all("pattern"), vec!["a", "b c"]);
        assert_eq!(
            ts_nanos(OffsetDateTime::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000000Z"
        );
    }
}
