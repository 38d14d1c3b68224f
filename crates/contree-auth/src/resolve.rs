//! The default credentials chain: explicit > environment > `auth.ini` profile > default,
//! field by field.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::credentials::{AuthKind, Credentials, SecretToken, Source};
use crate::error::{Error, Inner};
use crate::profile::{
    AuthFile, FALLBACK_PROFILE, RawProfile, default_auth_file, describe_available,
};
use crate::provider::ProvideCredentials;
use crate::settings::ClientSettings;
use crate::shim::{Env, Fs, OsEnv, OsFs, non_blank};

/// Environment variables holding the token, in order of precedence.
pub const TOKEN_ENV: [&str; 2] = ["NEBIUS_API_KEY", "CONTREE_TOKEN"];
/// Environment variables holding the project id, in order of precedence.
pub const PROJECT_ENV: [&str; 2] = ["NEBIUS_PROJECT_ID", "CONTREE_PROJECT"];
/// The environment variable holding the base URL.
pub const BASE_URL_ENV: &str = "CONTREE_BASE_URL";
/// The environment variable selecting the profile.
pub const PROFILE_ENV: &str = "CONTREE_PROFILE";

/// Variable names the official SDK substitutes; as a value they mean a misconfiguration.
const PLACEHOLDERS: [&str; 6] = [
    "NEBIUS_API_KEY",
    "CONTREE_TOKEN",
    "NEBIUS_PROJECT_ID",
    "CONTREE_PROJECT",
    "CONTREE_BASE_URL",
    "NEBIUS_AI_PROJECT",
];

/// Resolves [`Credentials`] from explicit values, the environment and the `auth.ini`
/// profile, field by field (explicit > environment > profile > default).
///
/// | field | explicit | environment (first non-blank) | profile key | default |
/// |---|---|---|---|---|
/// | token | [`token`](DefaultChainBuilder::token) | `NEBIUS_API_KEY`, `CONTREE_TOKEN` | `token` | none: error |
/// | project | [`project`](DefaultChainBuilder::project) | `NEBIUS_PROJECT_ID`, `CONTREE_PROJECT` | `project` | none |
/// | base URL | [`base_url`](DefaultChainBuilder::base_url) | `CONTREE_BASE_URL` | `url` | the IAM endpoint (JWT: error) |
/// | kind | [`kind`](DefaultChainBuilder::kind) | — | `type` | `iam` |
///
/// The profile is the explicit [`profile`](DefaultChainBuilder::profile) name, else
/// `CONTREE_PROFILE`, else `[DEFAULT] profile` in the file, else `default`. See the
/// workspace README ("Configuration") for the file location and every error.
///
/// As a [`ProvideCredentials`] it resolves once and caches; `refresh_credentials`
/// resolves again (re-reading the environment and the file).
///
/// ```
/// use std::sync::Arc;
/// use contree_auth::{DefaultChain, MapEnv, MemFs, Source};
/// # fn main() -> Result<(), contree_auth::Error> {
/// let fs = MemFs::new();
/// fs.insert("/home/me/.config/contree/auth.ini",
///     "[profile:default]\ntoken = from-file\nproject = p1\n", 0o600);
/// let env = MapEnv::from_iter([("HOME", "/home/me"), ("NEBIUS_API_KEY", "from-env")]);
/// let creds = DefaultChain::builder()
///     .env(Arc::new(env))
///     .fs(Arc::new(fs))
///     .build()
///     .resolve()?;
/// assert_eq!(creds.token().expose_secret(), "from-env");
/// assert_eq!(creds.token_source(), &Source::Env("NEBIUS_API_KEY".into()));
/// assert_eq!(creds.project(), Some("p1"));
/// # Ok(()) }
/// ```
pub struct DefaultChain {
    token: Option<SecretToken>,
    project: Option<String>,
    base_url: Option<String>,
    kind: Option<AuthKind>,
    profile: Option<String>,
    auth_file: Option<PathBuf>,
    env: Arc<dyn Env>,
    fs: Arc<dyn Fs>,
    cache: Mutex<Option<Credentials>>,
}

impl fmt::Debug for DefaultChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultChain")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("project", &self.project)
            .field("base_url", &self.base_url)
            .field("kind", &self.kind)
            .field("profile", &self.profile)
            .field("auth_file", &self.auth_file)
            .field("env", &self.env)
            .field("fs", &self.fs)
            .field("cached", &self.cached().is_some())
            .finish()
    }
}

/// Builder for [`DefaultChain`]; every setter is optional. `Debug` never shows the token
/// (nor, through the redacting `Debug` of [`MapEnv`](crate::MapEnv) and
/// [`MemFs`](crate::MemFs), environment values or file contents).
#[derive(Default)]
pub struct DefaultChainBuilder {
    token: Option<SecretToken>,
    project: Option<String>,
    base_url: Option<String>,
    kind: Option<AuthKind>,
    profile: Option<String>,
    auth_file: Option<PathBuf>,
    env: Option<Arc<dyn Env>>,
    fs: Option<Arc<dyn Fs>>,
}

impl fmt::Debug for DefaultChainBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultChainBuilder")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("project", &self.project)
            .field("base_url", &self.base_url)
            .field("kind", &self.kind)
            .field("profile", &self.profile)
            .field("auth_file", &self.auth_file)
            .field("env", &self.env)
            .field("fs", &self.fs)
            .finish()
    }
}

impl DefaultChainBuilder {
    /// An explicit token (wins over every other source).
    pub fn token(mut self, token: SecretToken) -> Self {
        self.token = Some(token);
        self
    }
    /// An explicit project id.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }
    /// An explicit base URL.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }
    /// An explicit auth kind.
    pub fn kind(mut self, kind: AuthKind) -> Self {
        self.kind = Some(kind);
        self
    }
    /// The profile to use; it must exist (wins over `CONTREE_PROFILE`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }
    /// An explicit `auth.ini` path instead of the default location; it must exist when a
    /// profile is needed from it.
    pub fn auth_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth_file = Some(path.into());
        self
    }
    /// The environment to read (default: the process environment).
    pub fn env(mut self, env: Arc<dyn Env>) -> Self {
        self.env = Some(env);
        self
    }
    /// The filesystem to read (default: the real one).
    pub fn fs(mut self, fs: Arc<dyn Fs>) -> Self {
        self.fs = Some(fs);
        self
    }
    /// Builds the chain. Nothing is read until [`DefaultChain::resolve`].
    pub fn build(self) -> DefaultChain {
        DefaultChain {
            token: self.token,
            project: self.project,
            base_url: self.base_url,
            kind: self.kind,
            profile: self.profile,
            auth_file: self.auth_file,
            env: self.env.unwrap_or_else(|| Arc::new(OsEnv)),
            fs: self.fs.unwrap_or_else(|| Arc::new(OsFs)),
            cache: Mutex::new(None),
        }
    }
}

/// Resolves credentials from the process environment and the default `auth.ini`, with
/// no explicit values: `DefaultChain::new().resolve()`.
pub fn resolve() -> Result<Credentials, Error> {
    DefaultChain::new().resolve()
}

/// How the profile name was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectedBy {
    Explicit,
    Env,
    FileDefault,
    Fallback,
}

impl SelectedBy {
    fn describe(self) -> &'static str {
        match self {
            SelectedBy::Explicit => "explicit profile name",
            SelectedBy::Env => "env CONTREE_PROFILE",
            SelectedBy::FileDefault => "`profile` in [DEFAULT]",
            SelectedBy::Fallback => "fallback name",
        }
    }
    fn must_exist(self) -> bool {
        matches!(self, SelectedBy::Explicit | SelectedBy::Env)
    }
}

/// The outcome of looking up the selected profile.
#[derive(Debug)]
pub(crate) struct ProfileLookup {
    pub(crate) name: String,
    pub(crate) path: Option<PathBuf>,
    /// The profile when found; otherwise why not (for the "tried" list).
    pub(crate) found: Result<RawProfile, String>,
}

impl ProfileLookup {
    pub(crate) fn source(&self) -> Source {
        Source::Profile {
            path: self.path.clone().unwrap_or_default(),
            name: self.name.clone(),
        }
    }
    fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("profile `{}` in {}", self.name, p.display()),
            None => format!("profile `{}`", self.name),
        }
    }
}

impl Default for DefaultChain {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultChain {
    /// A chain with no explicit values, reading the process environment and the real
    /// filesystem.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts a builder.
    pub fn builder() -> DefaultChainBuilder {
        DefaultChainBuilder::default()
    }

    /// The `auth.ini` path this chain reads: the explicit one, else [`default_auth_file`].
    pub fn auth_file_path(&self) -> Option<PathBuf> {
        self.auth_file
            .clone()
            .or_else(|| default_auth_file(self.env.as_ref()))
    }

    /// Finds the selected profile. Errors when the file is unreadable or malformed, or
    /// when a profile named explicitly or by `CONTREE_PROFILE` does not exist.
    pub(crate) fn lookup_profile(&self) -> Result<ProfileLookup, Error> {
        let path = self.auth_file_path();
        let file = match &path {
            Some(p) => AuthFile::load(self.fs.as_ref(), p)?,
            None => None,
        };
        let (name, by) = if let Some(n) = self.profile.as_deref().filter(|n| !n.trim().is_empty()) {
            (n.trim().to_string(), SelectedBy::Explicit)
        } else if let Some(n) = non_blank(self.env.as_ref(), crate::resolve::PROFILE_ENV) {
            (n, SelectedBy::Env)
        } else if let Some(n) = file.as_ref().and_then(|f| f.default_profile()) {
            (n, SelectedBy::FileDefault)
        } else {
            (FALLBACK_PROFILE.to_string(), SelectedBy::Fallback)
        };
        let found = match (&path, &file) {
            (None, _) => {
                if by.must_exist() {
                    return Err(Inner::NoAuthFile {
                        name,
                        detail: format!(
                            "it was selected by {} but CONTREE_HOME, XDG_CONFIG_HOME and HOME are all unset, so auth.ini has no location",
                            by.describe()
                        ),
                    }
                    .into());
                }
                Err(
                    "no auth.ini location (CONTREE_HOME, XDG_CONFIG_HOME and HOME are unset)"
                        .to_string(),
                )
            }
            (Some(p), None) => {
                if by.must_exist() {
                    return Err(Inner::ProfileNotFound {
                        name,
                        selected_by: by.describe().to_string(),
                        path: p.clone(),
                        detail: "the file does not exist".to_string(),
                    }
                    .into());
                }
                if self.auth_file.is_some() {
                    return Err(Error::io(
                        "read the explicitly given auth file",
                        p,
                        std::io::Error::from(std::io::ErrorKind::NotFound),
                    ));
                }
                Err("file does not exist".to_string())
            }
            (Some(p), Some(f)) => match f.raw_profile(&name) {
                Some(raw) => Ok(raw),
                None => {
                    let available = describe_available(&f.profile_names());
                    if by.must_exist() {
                        return Err(Inner::ProfileNotFound {
                            name,
                            selected_by: by.describe().to_string(),
                            path: p.clone(),
                            detail: available,
                        }
                        .into());
                    }
                    tracing::debug!(profile = %name, path = %p.display(), "profile not in auth file");
                    Err(format!("no [profile:{name}] section; {available}"))
                }
            },
        };
        Ok(ProfileLookup { name, path, found })
    }

    /// Resolves the credentials now (reads the environment and the file every time; the
    /// file is not read when token, project, base URL and kind are all explicit).
    pub fn resolve(&self) -> Result<Credentials, Error> {
        let env = self.env.as_ref();
        let all_explicit = self.token.is_some()
            && self.project.is_some()
            && self.base_url.is_some()
            && self.kind.is_some();
        // Nothing can come from the file when every field is explicit: don't read it.
        let lookup = if all_explicit {
            ProfileLookup {
                name: String::new(),
                path: None,
                found: Err("not consulted".to_string()),
            }
        } else {
            self.lookup_profile()?
        };
        let profile = lookup.found.as_ref().ok();
        let mut used_profile = false;
        let mut tried: Vec<String> = Vec::new();

        // token
        let token = if let Some(t) = &self.token {
            (t.clone(), Source::Explicit)
        } else {
            tried.push("explicit token (not given)".into());
            let from_env = TOKEN_ENV.iter().find_map(|var| {
                non_blank(env, var).map(|v| (SecretToken::new(v), Source::Env((*var).into())))
            });
            match from_env {
                Some(found) => {
                    warn_if_both_set(env, &TOKEN_ENV);
                    found
                }
                None => {
                    for var in TOKEN_ENV {
                        tried.push(format!("env {var} (unset or blank)"));
                    }
                    match profile.map(|p| p.get("token")) {
                        Some(Some(t)) => {
                            used_profile = true;
                            (SecretToken::new(t), lookup.source())
                        }
                        Some(None) => {
                            tried.push(format!(
                                "{} (no `token`, or it is empty)",
                                lookup.describe()
                            ));
                            return no_token(tried);
                        }
                        None => {
                            let why = lookup.found.as_ref().err().cloned().unwrap_or_default();
                            tried.push(format!("{} ({why})", lookup.describe()));
                            return no_token(tried);
                        }
                    }
                }
            }
        };
        check_placeholder("token", token.0.expose_secret(), &token.1)?;

        // project
        let project = if let Some(p) = &self.project {
            Some((p.clone(), Source::Explicit))
        } else if let Some(found) = PROJECT_ENV
            .iter()
            .find_map(|var| non_blank(env, var).map(|v| (v, Source::Env((*var).into()))))
        {
            warn_if_both_set(env, &PROJECT_ENV);
            Some(found)
        } else if let Some(p) = profile.and_then(|p| p.get("project")) {
            used_profile = true;
            Some((p.to_string(), lookup.source()))
        } else {
            None
        };
        if let Some((p, s)) = &project {
            check_placeholder("project", p, s)?;
        }

        // base URL
        let base_url = if let Some(u) = &self.base_url {
            Some((u.clone(), Source::Explicit))
        } else if let Some(u) = non_blank(env, BASE_URL_ENV) {
            Some((u, Source::Env(BASE_URL_ENV.into())))
        } else if let Some(u) = profile.and_then(|p| p.get("url")) {
            used_profile = true;
            Some((u.to_string(), lookup.source()))
        } else {
            None
        };

        // kind
        let kind = if let Some(k) = self.kind {
            Some((k, Source::Explicit))
        } else if let Some(t) = profile.and_then(|p| p.get("type")) {
            used_profile = true;
            let source = lookup.source();
            let kind = t.parse::<AuthKind>().map_err(|_| {
                Error::from(Inner::InvalidSetting {
                    what: "auth type",
                    value: t.to_string(),
                    source_desc: source.to_string(),
                    expected: "`iam` or `jwt`",
                })
            })?;
            Some((kind, source))
        } else {
            None
        };

        let mut builder = Credentials::builder(token.0).token_source(token.1);
        if let Some((p, s)) = project {
            builder = builder.project_from(p, s);
        }
        if let Some((u, s)) = base_url {
            builder = builder.base_url_from(u, s);
        }
        if let Some((k, s)) = kind {
            builder = builder.kind_from(k, s);
        }
        if used_profile {
            builder = builder.profile_name(lookup.name.clone());
        }
        builder.build()
    }

    /// Resolves the client settings (timeouts, retries) from `CONTREE_*` variables and
    /// the selected profile; see [`ClientSettings`].
    pub fn settings(&self) -> Result<ClientSettings, Error> {
        let lookup = self.lookup_profile()?;
        ClientSettings::resolve(self.env.as_ref(), &lookup)
    }

    fn cached(&self) -> Option<Credentials> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn store(&self, creds: &Credentials) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some(creds.clone());
    }
}

fn no_token<T>(tried: Vec<String>) -> Result<T, Error> {
    Err(Inner::NoToken {
        tried: tried.join("; "),
        hint: "Set NEBIUS_API_KEY (and NEBIUS_PROJECT_ID), run `contree auth` to create a profile, or pass a token explicitly",
    }
    .into())
}

fn check_placeholder(what: &'static str, value: &str, source: &Source) -> Result<(), Error> {
    match PLACEHOLDERS.iter().find(|p| **p == value.trim()) {
        Some(name) => Err(Inner::Placeholder {
            what,
            source_desc: source.to_string(),
            name: (*name).to_string(),
        }
        .into()),
        None => Ok(()),
    }
}

fn warn_if_both_set(env: &dyn Env, vars: &[&str; 2]) {
    if let (Some(a), Some(b)) = (non_blank(env, vars[0]), non_blank(env, vars[1]))
        && a != b
    {
        tracing::warn!(
            "both {} and {} are set and differ; using {}",
            vars[0],
            vars[1],
            vars[0]
        );
    }
}

#[async_trait]
impl ProvideCredentials for DefaultChain {
    async fn provide_credentials(&self) -> Result<Credentials, Error> {
        if let Some(c) = self.cached() {
            return Ok(c);
        }
        let creds = self.resolve()?;
        self.store(&creds);
        Ok(creds)
    }

    async fn refresh_credentials(&self) -> Result<Credentials, Error> {
        let creds = self.resolve()?;
        self.store(&creds);
        Ok(creds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shim::{MapEnv, MemFs};

    #[test]
    fn internal_types_holding_file_values_redact_them() {
        let canary = "CANARY-internal-51d0";
        let fs = MemFs::new();
        fs.insert(
            "/h/.config/contree/auth.ini",
            format!("[DEFAULT]\nextra = {canary}\n[profile:default]\ntoken = {canary}\n"),
            0o600,
        );
        let chain = DefaultChain::builder()
            .env(Arc::new(MapEnv::from_iter([("HOME", "/h")])))
            .fs(Arc::new(fs.clone()))
            .build();
        let lookup = chain.lookup_profile().unwrap();
        let file = AuthFile::load(&fs, std::path::Path::new("/h/.config/contree/auth.ini"))
            .unwrap()
            .unwrap();
        let raw = file.raw_profile("default").unwrap();
        assert_eq!(raw.get("token"), Some(canary));
        let mut n = 0;
        for s in [
            format!("{lookup:?}"),
            format!("{lookup:#?}"),
            format!("{file:?}"),
            format!("{file:#?}"),
            format!("{raw:?}"),
            format!("{raw:#?}"),
        ] {
            assert!(!s.contains(canary), "{s}");
            n += 1;
        }
        assert!(format!("{raw:?}").contains("token"), "keys are shown");
        assert_eq!(n, 6);
    }
}
