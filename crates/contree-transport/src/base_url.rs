//! The base-URL rules: which schemes and hosts a token may be sent to.
//!
//! One owner for the rule "plain `http://` only to loopback": the transport checks every
//! request URL with it before a connection is made, and the facade calls
//! [`check_base_url`] when a client is built, so a misconfigured URL fails at once.
//!
//! The rule itself is documented on [`check_base_url`].

use std::net::IpAddr;

use http::Uri;

use crate::error::Error;

/// Whether `host` (the host part of a URL authority, IPv6 in brackets or not) is a loopback
/// host by the rule of [`check_base_url`].
///
/// ```
/// use contree_transport::is_loopback_host;
/// assert!(is_loopback_host("127.0.0.1"));
/// assert!(is_loopback_host("[::1]"));
/// assert!(is_loopback_host("[::ffff:127.0.0.1]"));
/// assert!(is_loopback_host("LOCALHOST."));
/// assert!(!is_loopback_host("x.localhost"));
/// assert!(!is_loopback_host("127.0.0.1.example.com"));
/// ```
pub fn is_loopback_host(host: &str) -> bool {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let name = h.strip_suffix('.').unwrap_or(h);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match h.parse::<IpAddr>() {
        Ok(ip) => is_loopback_ip(ip),
        Err(_) => false,
    }
}

/// Whether an address is loopback: `127.0.0.0/8`, `::1` or `::ffff:127.0.0.0/104`.
pub(crate) fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// The URL with any userinfo replaced, for error messages and `Debug` output (a password
/// or token put in the URL must not be echoed).
///
/// ```
/// use contree_transport::redact_url;
/// assert_eq!(redact_url("https://me:pw@h.example/v1"), "https://<userinfo redacted>@h.example/v1");
/// assert_eq!(redact_url("https://h.example/a@b"), "https://h.example/a@b");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let auth_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..auth_end].rfind('@') {
        Some(at) => format!("{scheme}<userinfo redacted>{}", &rest[at..]),
        None => url.to_string(),
    }
}

/// Checks a base URL (or a full request URL): `http`/`https` in any case, a host, no
/// userinfo, and plain `http` only to a loopback host unless `allow_insecure_http` is set.
/// Nothing is resolved or connected.
///
/// Loopback means, after parsing the URL's authority (never by a text prefix):
///
/// | host | loopback? |
/// |---|---|
/// | `127.0.0.0/8` (e.g. `127.0.0.1`, `127.1.2.3`) | yes |
/// | `[::1]` | yes |
/// | `[::ffff:127.x.y.z]` (IPv4-mapped IPv6 of 127/8) | yes |
/// | `localhost`, any case, with or without one trailing dot (`localhost.`) | yes |
/// | `x.localhost` | **no**: RFC 6761 reserves it, but whether it resolves to loopback depends on the resolver (glibc sends it to DNS), so it is treated as any other name |
/// | `127.0.0.1.nip.io`, `127.x.example`, `2130706433`, `127.1`, `0.0.0.0` | no |
///
/// A base URL with userinfo (`http://user@host`, `http://127.0.0.1@host`) is always refused:
/// the part before `@` is not the host, and a password there would end up in logs. The
/// scheme may be written in any case (`HTTP://`); anything but `http`/`https` is refused.
/// As a second line of defence, a plain-`http` connection that the transport allowed only
/// because its host is loopback is closed before anything is written if its peer address
/// turns out not to be loopback (a `localhost` entry in `/etc/hosts` pointing elsewhere).
///
/// ```
/// use contree_transport::check_base_url;
/// assert!(check_base_url("https://api.example.com/sandboxes", false).is_ok());
/// assert!(check_base_url("http://127.0.0.1:8080", false).is_ok());
/// assert!(check_base_url("http://example.com", false).is_err());
/// assert!(check_base_url("http://example.com", true).is_ok());
/// // Userinfo is refused even with the opt-in: the host is what follows `@`.
/// assert!(check_base_url("http://127.0.0.1@example.com", true).is_err());
/// ```
pub fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<(), Error> {
    let shown = redact_url(url);
    let uri: Uri = url.parse().map_err(|e| {
        Error::config(format!(
            "the base URL {shown:?} is not a valid URL ({e}); use e.g. https://host/path"
        ))
    })?;
    check_uri(&uri, &shown, allow_insecure_http)
}

/// [`check_base_url`] on a parsed URI; `shown` is the redacted text for messages.
pub(crate) fn check_uri(uri: &Uri, shown: &str, allow_insecure_http: bool) -> Result<(), Error> {
    let Some(authority) = uri.authority() else {
        return Err(Error::config(format!(
            "the base URL {shown:?} has no host; use e.g. https://host/path"
        )));
    };
    if authority.as_str().contains('@') {
        return Err(Error::config(format!(
            "the base URL {shown:?} contains userinfo (`user@`); refusing to use it, since the host is what follows `@`: remove everything between `//` and `@`"
        )));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(Error::config(format!(
            "the base URL {shown:?} has an empty host"
        )));
    }
    let scheme = uri.scheme_str().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("https") {
        return Ok(());
    }
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(Error::config(format!(
            "the base URL {shown:?} must start with https:// or http://"
        )));
    }
    if allow_insecure_http || is_loopback_host(host) {
        return Ok(());
    }
    Err(Error::config(format!(
        "refusing to send credentials over plain http to {host}, which is not a loopback address (only 127.0.0.0/8, [::1], [::ffff:127.x.y.z] and `localhost` are); use an https:// base URL, or opt in with `allow_insecure_http(true)`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_table() {
        let yes = [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "LocalHost.",
            "127.0.0.1",
            "127.1.2.3",
            "127.255.255.255",
            "[::1]",
            "::1",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:127.9.9.9]",
        ];
        for h in yes {
            assert!(is_loopback_host(h), "{h} must be loopback");
        }
        let no = [
            "a.localhost",
            "x.localhost.",
            "localhost..",
            "localhost.example.com",
            "127.0.0.1.nip.io",
            "127.anything.example",
            "127.0.0.1.",
            "127.1",
            "2130706433",
            "0x7f000001",
            "0.0.0.0",
            "[::]",
            "[::2]",
            "[::ffff:10.0.0.1]",
            "[::127.0.0.1]",
            "example.com",
            "10.0.0.1",
            "",
        ];
        for h in no {
            assert!(!is_loopback_host(h), "{h} must not be loopback");
        }
    }

    #[test]
    fn base_url_table() {
        let ok = [
            ("https://api.example.com/sandboxes", false),
            ("HTTPS://api.example.com", false),
            ("http://127.0.0.1:8080", false),
            ("HTTP://127.0.0.1:8080/x", false),
            ("http://localhost.:1", false),
            ("http://[::1]:80", false),
            ("http://[::ffff:127.0.0.1]:80", false),
            ("http://example.com", true),
        ];
        for (u, allow) in ok {
            assert!(check_base_url(u, allow).is_ok(), "{u} allow={allow}");
        }
        let refused = [
            ("http://127.0.0.1@other-host:9", false),
            ("http://127.0.0.1@other-host:9", true),
            ("http://user:pass@127.0.0.1:9", false),
            ("https://user:pass@api.example.com", false),
            ("http://127.anything.example", false),
            ("http://127.0.0.1.nip.io", false),
            ("http://x.localhost:8080", false),
            ("http://[::ffff:10.0.0.1]", false),
            ("HTTP://example.com", false),
            ("http://example.com.", false),
            ("ftp://127.0.0.1", true),
            ("127.0.0.1:8080", true),
            ("http://", true),
        ];
        for (u, allow) in refused {
            let e = check_base_url(u, allow).expect_err(u);
            assert_eq!(e.kind(), crate::ErrorKind::Config, "{u}");
            assert!(!e.to_string().contains("pass"), "{e}");
        }
    }

    #[test]
    fn userinfo_is_redacted_in_messages() {
        assert_eq!(
            redact_url("http://u:secret@h:1/p?q=a@b"),
            "http://<userinfo redacted>@h:1/p?q=a@b"
        );
        assert_eq!(redact_url("https://h/p@x"), "https://h/p@x");
    }
}
