//! Registry credentials for `import_image`: where to get a token (`registry_token_obtain`)
//! and validating one against the registry's token endpoint (`registry_auth`).
//!
//! Credentials live in memory for the life of the server process (the official server
//! writes them in plaintext to `cache.db`); they are never returned, logged or shown by
//! `Debug`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::types::{RegistryAuthOutput, RegistryAuthParams, RegistryTokenOutput};

/// A registry token that never shows itself.
#[derive(Clone)]
struct Secret(Arc<str>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Validated registry credentials, per registry host.
#[derive(Debug, Default)]
pub struct RegistryStore {
    creds: Mutex<HashMap<String, (String, Secret)>>,
}

/// The registry host of a reference: `docker://ghcr.io/o/i:t` and `ghcr.io/o/i` give
/// `ghcr.io`; a name without a registry (`alpine:3.20`, `library/ubuntu`) is `docker.io`.
pub(crate) fn host_of(reference: &str) -> String {
    let r = reference.trim();
    let rest = match r.split_once("://") {
        Some((_, rest)) => rest,
        None => r,
    };
    let first = rest.split('/').next().unwrap_or("");
    let has_path = rest.contains('/');
    let host = if r.contains("://")
        || (has_path && (first.contains('.') || first.contains(':') || first == "localhost"))
    {
        first
    } else if !has_path && (first.contains('.') && !first.contains(':')) {
        // A bare registry host such as `ghcr.io`.
        first
    } else {
        "docker.io"
    };
    let host = host.to_ascii_lowercase();
    if host.is_empty() {
        "docker.io".into()
    } else {
        host
    }
}

fn api_host(host: &str) -> &str {
    if host == "docker.io" {
        "registry-1.docker.io"
    } else {
        host
    }
}

/// Whether a registry host (`name[:port]`, IPv6 in brackets) is loopback, by the client's
/// own rule ([`contree::is_loopback_host`]): plain http is used only there.
fn is_loopback(host: &str) -> bool {
    let name = match host.parse::<http::uri::Authority>() {
        Ok(authority) => authority.host().to_string(),
        Err(_) => return false,
    };
    contree::is_loopback_host(&name)
}

const PAT_PAGES: &[(&str, &str)] = &[
    (
        "docker.io",
        "https://app.docker.com/settings/personal-access-tokens",
    ),
    ("ghcr.io", "https://github.com/settings/tokens?type=beta"),
    (
        "registry.gitlab.com",
        "https://gitlab.com/-/user_settings/personal_access_tokens",
    ),
    (
        "gcr.io",
        "https://console.cloud.google.com/apis/credentials",
    ),
    (
        "us.gcr.io",
        "https://console.cloud.google.com/apis/credentials",
    ),
    (
        "eu.gcr.io",
        "https://console.cloud.google.com/apis/credentials",
    ),
    (
        "asia.gcr.io",
        "https://console.cloud.google.com/apis/credentials",
    ),
];

/// `registry_token_obtain`: where the user creates a token (nothing is opened on the
/// server's machine, which may not be the user's).
pub(crate) fn token_obtain(reference: &str) -> RegistryTokenOutput {
    let host = host_of(reference);
    match PAT_PAGES.iter().find(|(h, _)| *h == host) {
        Some((_, url)) => RegistryTokenOutput {
            status: "ok".into(),
            registry: host.clone(),
            url: Some((*url).into()),
            message: format!(
                "Create a read-only (pull) personal access token for {host} at {url}, then call registry_auth with the user name and the token."
            ),
            agent_instruction: format!(
                "STOP HERE. Ask the user to open {url}, create a token with pull access and give it to you; then call registry_auth(registry_url=\"{host}\", username=..., token=...)."
            ),
        },
        None => RegistryTokenOutput {
            status: "error".into(),
            registry: host.clone(),
            url: None,
            message: format!(
                "No token page is known for {host} (known: docker.io, ghcr.io, registry.gitlab.com, gcr.io). Ask the user for a user name and a token with pull access, then call registry_auth."
            ),
            agent_instruction: "STOP HERE. Ask the user for registry credentials.".into(),
        },
    }
}

fn client() -> Result<
    Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Empty<bytes::Bytes>,
    >,
    String,
> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// `realm` and `service` of a `Www-Authenticate: Bearer ...` header.
pub(crate) fn parse_challenge(header: &str) -> Option<(String, Option<String>)> {
    let rest = header
        .trim()
        .strip_prefix("Bearer ")
        .or_else(|| header.trim().strip_prefix("bearer "))?;
    let mut realm = None;
    let mut service = None;
    for part in rest.split(',') {
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"').to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "realm" => realm = Some(v),
            "service" => service = Some(v),
            _ => {}
        }
    }
    realm.map(|r| (r, service))
}

async fn get(
    url: &str,
    basic: Option<&str>,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("bad registry URL {url}: {e}"))?;
    let mut req = http::Request::get(uri).header(
        "user-agent",
        concat!("contree-mcp-rs/", env!("CARGO_PKG_VERSION")),
    );
    if let Some(b) = basic {
        req = req.header("authorization", format!("Basic {b}"));
    }
    let req = req.body(Empty::new()).map_err(|e| e.to_string())?;
    let fut = client()?.request(req);
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .map_err(|_| format!("{url} did not answer within 20 s"))?
        .map_err(|e| format!("cannot reach {url}: {e}"))
}

/// Checks `username`/`token` against the registry: its `/v2/` challenge names the token
/// endpoint, which must accept the credentials (HTTP 200).
async fn validate(host: &str, username: &str, token: &str) -> Result<(), String> {
    let scheme = if is_loopback(host) { "http" } else { "https" };
    let base = format!("{scheme}://{}/v2/", api_host(host));
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{token}"));
    let probe = get(&base, None).await?;
    let status = probe.status();
    let challenge = probe
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_challenge);
    drop(probe.into_body().collect().await);
    let check_url = match (status.as_u16(), challenge) {
        (401, Some((realm, service))) => match service {
            Some(s) => format!(
                "{realm}{}service={}",
                if realm.contains('?') { "&" } else { "?" },
                percent_encode(&s)
            ),
            None => realm,
        },
        // Basic auth on the registry itself (or no auth at all).
        _ => base.clone(),
    };
    let resp = get(&check_url, Some(&basic)).await?;
    let code = resp.status();
    drop(resp.into_body().collect().await);
    if code.is_success() {
        Ok(())
    } else {
        Err(format!(
            "{host} refused these credentials (HTTP {}); check the user name and that the token has pull access",
            code.as_u16()
        ))
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

impl RegistryStore {
    /// `registry_auth`: validates and keeps the credentials.
    pub(crate) async fn authenticate(
        &self,
        p: &RegistryAuthParams,
    ) -> Result<RegistryAuthOutput, String> {
        let host = host_of(&p.registry_url);
        if p.username.trim().is_empty() || p.token.trim().is_empty() {
            return Err("`username` and `token` must not be empty".into());
        }
        if let Err(e) = validate(&host, p.username.trim(), p.token.trim()).await {
            self.lock().remove(&host);
            return Ok(RegistryAuthOutput {
                status: "error".into(),
                registry: host,
                message: e,
            });
        }
        self.lock().insert(
            host.clone(),
            (p.username.trim().to_string(), Secret(p.token.trim().into())),
        );
        Ok(RegistryAuthOutput {
            status: "ok".into(),
            registry: host.clone(),
            message: format!(
                "Credentials for {host} are valid and kept for this server's lifetime; import_image will use them."
            ),
        })
    }

    /// The credentials kept for `host`.
    pub(crate) fn get(&self, host: &str) -> Option<(String, String)> {
        self.lock()
            .get(host)
            .map(|(u, t)| (u.clone(), t.0.to_string()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Secret)>> {
        self.creds.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_found() {
        assert_eq!(host_of("docker://ghcr.io/o/i:t"), "ghcr.io");
        assert_eq!(
            host_of("oci://registry.gitlab.com/g/p"),
            "registry.gitlab.com"
        );
        assert_eq!(host_of("alpine:3.20"), "docker.io");
        assert_eq!(host_of("library/ubuntu"), "docker.io");
        assert_eq!(host_of("ghcr.io/org/image"), "ghcr.io");
        assert_eq!(host_of("ghcr.io"), "ghcr.io");
        assert_eq!(host_of("docker://127.0.0.1:5000/x:1"), "127.0.0.1:5000");
    }

    #[test]
    fn plain_http_only_for_loopback_registries() {
        for host in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in [
            "127.0.0.1.example.com:5000",
            "ghcr.io",
            "x.localhost",
            "[::2]:1",
            "a b",
        ] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn challenges_are_parsed() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io""#
            ),
            Some((
                "https://auth.docker.io/token".into(),
                Some("registry.docker.io".into())
            ))
        );
        assert_eq!(parse_challenge("Basic realm=x"), None);
    }

    #[test]
    fn tokens_do_not_show() {
        let store = RegistryStore::default();
        store
            .lock()
            .insert("h".into(), ("u".into(), Secret("s3cret".into())));
        assert!(!format!("{store:?}").contains("s3cret"));
    }
}
