//! `auth.ini`: where it lives, what a profile is, and [`ProfileStore`] to edit it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ini::Ini;

use crate::credentials::{AuthKind, DEFAULT_BASE_URL, SecretToken};
use crate::error::{Error, Inner};
use crate::inifile::{self, DEFAULT_SECTION};
use crate::shim::{Env, Fs, OsEnv, OsFs, non_blank};

/// The prefix of profile section names: `[profile:NAME]`.
pub const PROFILE_SECTION_PREFIX: &str = "profile:";

/// The profile used when neither code, `CONTREE_PROFILE` nor `[DEFAULT] profile` names one.
pub const FALLBACK_PROFILE: &str = "default";

/// The configuration directory of the SDK, computed from the environment: `$CONTREE_HOME`,
/// else `$XDG_CONFIG_HOME/contree`, else `$HOME/.config/contree`. Blank variables count as
/// unset and a leading `~` is expanded with `$HOME`. `None` when none of the three variables
/// is set. `auth.ini` lives here ([`default_auth_file`]), and so do the facade's caches and
/// stores (layer cache, sync cache, lineage).
///
/// ```
/// use std::path::PathBuf;
/// use contree_auth::{MapEnv, default_config_dir};
/// let env = MapEnv::from_iter([("HOME", "/home/me"), ("XDG_CONFIG_HOME", "/xdg")]);
/// assert_eq!(default_config_dir(&env), Some(PathBuf::from("/xdg/contree")));
/// let env = MapEnv::from_iter([("HOME", "/home/me"), ("CONTREE_HOME", "~")]);
/// assert_eq!(default_config_dir(&env), Some(PathBuf::from("/home/me")));
/// assert_eq!(default_config_dir(&MapEnv::new()), None);
/// ```
pub fn default_config_dir(env: &dyn Env) -> Option<PathBuf> {
    if let Some(dir) = non_blank(env, "CONTREE_HOME") {
        return Some(expand_tilde(&dir, env));
    }
    if let Some(dir) = non_blank(env, "XDG_CONFIG_HOME") {
        return Some(expand_tilde(&dir, env).join("contree"));
    }
    non_blank(env, "HOME").map(|home| PathBuf::from(home).join(".config").join("contree"))
}

/// The default location of `auth.ini`: `auth.ini` in [`default_config_dir`], that is
/// `$CONTREE_HOME/auth.ini`, else `$XDG_CONFIG_HOME/contree/auth.ini`, else
/// `$HOME/.config/contree/auth.ini`. Blank variables count as unset and a leading `~` is
/// expanded with `$HOME`. `None` when none of the three variables is set.
///
/// ```
/// use std::path::PathBuf;
/// use contree_auth::{MapEnv, default_auth_file};
/// let env = MapEnv::from_iter([("HOME", "/home/me"), ("XDG_CONFIG_HOME", " ")]);
/// assert_eq!(default_auth_file(&env), Some(PathBuf::from("/home/me/.config/contree/auth.ini")));
/// let env = MapEnv::from_iter([("HOME", "/home/me"), ("CONTREE_HOME", "~/ct")]);
/// assert_eq!(default_auth_file(&env), Some(PathBuf::from("/home/me/ct/auth.ini")));
/// ```
pub fn default_auth_file(env: &dyn Env) -> Option<PathBuf> {
    default_config_dir(env).map(|dir| dir.join("auth.ini"))
}

/// Expands a leading `~` or `~/` with `$HOME` (left as is when `HOME` is unset).
fn expand_tilde(value: &str, env: &dyn Env) -> PathBuf {
    let home = non_blank(env, "HOME");
    match (value, home) {
        ("~", Some(home)) => PathBuf::from(home),
        (v, Some(home)) if v.starts_with("~/") => PathBuf::from(home).join(&v[2..]),
        (v, _) => PathBuf::from(v),
    }
}

/// One `[profile:NAME]` section of `auth.ini`.
///
/// Blank values count as absent. When read, keys missing from the section are inherited
/// from `[DEFAULT]`, as Python's `configparser` does.
///
/// ```
/// use contree_auth::{AuthKind, Profile, SecretToken};
/// let mut p = Profile::new("work");
/// p.token = Some(SecretToken::new("t0ken"));
/// p.kind = Some(AuthKind::Iam);
/// p.project = Some("project-1".into());
/// assert!(!format!("{p:?}").contains("t0ken"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// The name (the part after `profile:`); case-sensitive.
    pub name: String,
    /// `url`: the base URL.
    pub url: Option<String>,
    /// `token`: the bearer token.
    pub token: Option<SecretToken>,
    /// `type`: `iam` or `jwt`. Absent means IAM when resolving credentials.
    pub kind: Option<AuthKind>,
    /// `project`: the Nebius project id.
    pub project: Option<String>,
}

impl Profile {
    /// An empty profile with the given name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: None,
            token: None,
            kind: None,
            project: None,
        }
    }
}

/// A profile's raw key/value pairs, `[DEFAULT]` keys merged in (section keys win; the
/// `profile` key of `[DEFAULT]` is not inherited). `Debug` shows the keys only.
#[derive(Clone)]
pub(crate) struct RawProfile {
    pub(crate) values: BTreeMap<String, String>,
}

impl std::fmt::Debug for RawProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProfile")
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RawProfile {
    /// A non-blank value.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// A parsed `auth.ini`. `Debug` shows the path and section names only.
#[derive(Clone)]
pub(crate) struct AuthFile {
    pub(crate) path: PathBuf,
    pub(crate) doc: Ini,
}

impl std::fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFile")
            .field("path", &self.path)
            .field(
                "sections",
                &self.doc.sections().flatten().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl AuthFile {
    /// Reads and parses `path`. `Ok(None)` when the file does not exist. Warns when the file
    /// is readable by group or others.
    pub(crate) fn load(fs: &dyn Fs, path: &Path) -> Result<Option<AuthFile>, Error> {
        let bytes = match fs.read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("read", path, e)),
        };
        if let Ok(Some(mode)) = fs.mode(path)
            && mode & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:04o}"),
                "auth file is readable by group or others; it holds tokens: run `chmod 600 {}`",
                path.display()
            );
        }
        let doc = inifile::parse(path, &bytes)?;
        Ok(Some(AuthFile {
            path: path.to_path_buf(),
            doc,
        }))
    }

    /// The profile names, in file order.
    pub(crate) fn profile_names(&self) -> Vec<String> {
        self.doc
            .sections()
            .flatten()
            .filter_map(|s| s.strip_prefix(PROFILE_SECTION_PREFIX))
            .map(str::to_string)
            .collect()
    }

    /// `[DEFAULT] profile`, if set and not blank.
    pub(crate) fn default_profile(&self) -> Option<String> {
        self.doc
            .get_from(Some(DEFAULT_SECTION), "profile")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// The raw profile `name`, with `[DEFAULT]` inheritance.
    pub(crate) fn raw_profile(&self, name: &str) -> Option<RawProfile> {
        let section = self
            .doc
            .section(Some(format!("{PROFILE_SECTION_PREFIX}{name}")))?;
        let mut values = BTreeMap::new();
        if let Some(defaults) = self.doc.section(Some(DEFAULT_SECTION)) {
            for (k, v) in defaults.iter() {
                if k != "profile" {
                    values.insert(k.to_string(), v.to_string());
                }
            }
        }
        for (k, v) in section.iter() {
            values.insert(k.to_string(), v.to_string());
        }
        Some(RawProfile { values })
    }

    /// The typed profile `name`.
    pub(crate) fn profile(&self, name: &str) -> Result<Option<Profile>, Error> {
        let Some(raw) = self.raw_profile(name) else {
            return Ok(None);
        };
        let kind = match raw.get("type") {
            Some(t) => Some(t.parse::<AuthKind>().map_err(|_| {
                Error::from(Inner::InvalidSetting {
                    what: "auth type",
                    value: t.to_string(),
                    source_desc: format!("profile {name} in {}", self.path.display()),
                    expected: "`iam` or `jwt`",
                })
            })?),
            None => None,
        };
        Ok(Some(Profile {
            name: name.to_string(),
            url: raw.get("url").map(str::to_string),
            token: raw.get("token").map(SecretToken::new),
            kind,
            project: raw.get("project").map(str::to_string),
        }))
    }
}

/// Reads and edits the profiles of one `auth.ini` file.
///
/// The file stays readable by the official `contree` CLI and SDK and vice versa:
/// `[DEFAULT] profile = NAME` plus `[profile:NAME]` sections with `url`, `token`, `type`,
/// `project`, written as `key = value` with one blank line after each section. Unlike the
/// official CLI, other sections and unknown keys are kept (comments are not), and every
/// write is atomic and durable (a `0600` temporary file, synced, renamed over the old one,
/// then the directory synced) and serialised with other writers by a lock on
/// the file's directory ([`Fs::lock`](crate::Fs::lock)), so concurrent edits from
/// several processes do not lose each other's changes. Multi-line values are written back
/// the way configparser writes them (continuation lines indented); an entry that could not
/// be read back unchanged makes the write fail and leaves the file as it was.
///
/// Values are stored raw. A token containing `%` is written as is; contree-rs reads it
/// back unchanged, but the official Python tools cannot read such a value (they apply
/// `%` interpolation).
///
/// ```
/// use std::sync::Arc;
/// use contree_auth::{AuthKind, MemFs, Profile, ProfileStore, SecretToken};
/// # fn main() -> Result<(), contree_auth::Error> {
/// let fs = MemFs::new();
/// let store = ProfileStore::with_fs("/home/me/.config/contree/auth.ini", Arc::new(fs.clone()));
/// let mut p = Profile::new("work");
/// p.token = Some(SecretToken::new("t0ken"));
/// p.kind = Some(AuthKind::Iam);
/// p.project = Some("project-1".into());
/// store.write(&p)?;
/// store.set_default("work")?;
/// assert_eq!(store.list()?, vec!["work".to_string()]);
/// let text = String::from_utf8(fs.get("/home/me/.config/contree/auth.ini".as_ref()).unwrap()).unwrap();
/// assert_eq!(text, "[DEFAULT]\nprofile = work\n\n[profile:work]\n\
///     url = https://api.tokenfactory.nebius.com/sandboxes\ntoken = t0ken\ntype = iam\n\
///     project = project-1\n\n");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ProfileStore {
    path: PathBuf,
    fs: Arc<dyn Fs>,
}

impl ProfileStore {
    /// A store for the file at `path` on the real filesystem.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::with_fs(path, Arc::new(OsFs))
    }

    /// A store for the file at `path` through the given filesystem.
    pub fn with_fs(path: impl Into<PathBuf>, fs: Arc<dyn Fs>) -> Self {
        Self {
            path: path.into(),
            fs,
        }
    }

    /// A store for the default file of the real environment (see [`default_auth_file`]).
    pub fn open_default() -> Result<Self, Error> {
        Self::from_env(&OsEnv, Arc::new(OsFs))
    }

    /// A store for the default file of the given environment (see [`default_auth_file`]).
    pub fn from_env(env: &dyn Env, fs: Arc<dyn Fs>) -> Result<Self, Error> {
        match default_auth_file(env) {
            Some(path) => Ok(Self::with_fs(path, fs)),
            None => Err(Inner::NoAuthFile {
                name: FALLBACK_PROFILE.to_string(),
                detail: "CONTREE_HOME, XDG_CONFIG_HOME and HOME are all unset, so auth.ini has no location"
                    .to_string(),
            }
            .into()),
        }
    }

    /// The file this store reads and writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn load(&self) -> Result<Option<AuthFile>, Error> {
        AuthFile::load(self.fs.as_ref(), &self.path)
    }

    fn load_or_empty(&self) -> Result<AuthFile, Error> {
        Ok(self.load()?.unwrap_or_else(|| AuthFile {
            path: self.path.clone(),
            doc: Ini::new(),
        }))
    }

    /// The write lock, held from reading the file to renaming the new one over it.
    fn lock(&self) -> Result<crate::shim::FsLock, Error> {
        self.fs
            .lock(&self.path)
            .map_err(|e| Error::io("lock", &self.path, e))
    }

    fn save(&self, file: &mut AuthFile) -> Result<(), Error> {
        // The official CLI always writes `[DEFAULT] profile`; so do we, for identical bytes.
        if file.default_profile().is_none() {
            set_default_key(&mut file.doc, FALLBACK_PROFILE.to_string());
        }
        let bytes = inifile::serialize(&self.path, &file.doc)?;
        self.fs
            .write_atomic(&self.path, &bytes)
            .map_err(|e| Error::io("write", &self.path, e))
    }

    /// The profile names in file order (empty when the file does not exist).
    pub fn list(&self) -> Result<Vec<String>, Error> {
        Ok(self.load()?.map(|f| f.profile_names()).unwrap_or_default())
    }

    /// The profile named by `[DEFAULT] profile`, if any.
    pub fn default_profile(&self) -> Result<Option<String>, Error> {
        Ok(self.load()?.and_then(|f| f.default_profile()))
    }

    /// Reads one profile (`None` if there is no such section). Keys missing from the
    /// section are inherited from `[DEFAULT]`.
    pub fn read(&self, name: &str) -> Result<Option<Profile>, Error> {
        match self.load()? {
            Some(f) => f.profile(name),
            None => Ok(None),
        }
    }

    /// Creates or replaces a profile, the way the official CLI does: keys `url` (the IAM
    /// default when absent and the kind is IAM, else empty), `token` (empty when absent),
    /// `type` (`iam` when absent), and `project` (removed when absent). Other keys in the
    /// section and other sections are kept. Creates the file and its directory if needed.
    pub fn write(&self, profile: &Profile) -> Result<(), Error> {
        validate_name(&profile.name)?;
        let kind = profile.kind.unwrap_or(AuthKind::Iam);
        let url = match (&profile.url, kind) {
            (Some(u), _) => u.trim().trim_end_matches('/').to_string(),
            (None, AuthKind::Iam) => DEFAULT_BASE_URL.to_string(),
            (None, _) => String::new(),
        };
        let token = profile
            .token
            .as_ref()
            .map(|t| t.expose_secret().to_string())
            .unwrap_or_default();
        validate_value("url", &url, false)?;
        validate_value("token", &token, true)?;
        if let Some(project) = &profile.project {
            validate_value("project", project, false)?;
        }
        let _lock = self.lock()?;
        let mut file = self.load_or_empty()?;
        let section = format!("{PROFILE_SECTION_PREFIX}{}", profile.name);
        {
            let props = file
                .doc
                .entry(Some(section))
                .or_insert_with(Default::default);
            set_in_place(props, "url", url);
            set_in_place(props, "token", token);
            set_in_place(props, "type", kind.as_str().to_string());
            match &profile.project {
                Some(p) => set_in_place(props, "project", p.trim().to_string()),
                None => {
                    props.remove("project");
                }
            }
        }
        self.save(&mut file)
    }

    /// Removes a profile; returns whether it existed. When it was the default, the
    /// default falls back to the first remaining profile, else `default` (as the official
    /// CLI does).
    pub fn remove(&self, name: &str) -> Result<bool, Error> {
        let _lock = self.lock()?;
        let Some(mut file) = self.load()? else {
            return Ok(false);
        };
        let section = format!("{PROFILE_SECTION_PREFIX}{name}");
        if file.doc.delete(Some(section.as_str())).is_none() {
            return Ok(false);
        }
        if file.default_profile().as_deref() == Some(name) {
            let next = file
                .profile_names()
                .into_iter()
                .next()
                .unwrap_or_else(|| FALLBACK_PROFILE.to_string());
            set_default_key(&mut file.doc, next);
        }
        self.save(&mut file)?;
        Ok(true)
    }

    /// Makes `name` the default profile (`[DEFAULT] profile = name`). The profile must
    /// exist.
    pub fn set_default(&self, name: &str) -> Result<(), Error> {
        let _lock = self.lock()?;
        let mut file = self.load_or_empty()?;
        let names = file.profile_names();
        if !names.iter().any(|n| n == name) {
            return Err(Inner::ProfileNotFound {
                name: name.to_string(),
                selected_by: "set_default".to_string(),
                path: self.path.clone(),
                detail: describe_available(&names),
            }
            .into());
        }
        set_default_key(&mut file.doc, name.to_string());
        self.save(&mut file)
    }
}

/// Sets `[DEFAULT] profile`, keeping its position.
fn set_default_key(doc: &mut Ini, name: String) {
    let props = doc
        .entry(Some(DEFAULT_SECTION.to_string()))
        .or_insert_with(Default::default);
    set_in_place(props, "profile", name);
}

/// Sets `key` keeping its position when present (configparser does), else appends it.
fn set_in_place(props: &mut ini::Properties, key: &str, value: String) {
    match props.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = value,
        None => props.append(key, value),
    }
}

/// "the file has profiles: a, b" / "the file has no profiles".
pub(crate) fn describe_available(names: &[String]) -> String {
    if names.is_empty() {
        "the file has no [profile:NAME] sections".to_string()
    } else {
        format!("the file has profiles: {}", names.join(", "))
    }
}

fn validate_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.trim() != name {
        Some("it has leading or trailing whitespace")
    } else if name.contains(['[', ']']) || name.chars().any(char::is_control) {
        Some("it contains `[`, `]` or a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Inner::InvalidProfileData {
            what: "name",
            value: name.to_string(),
            reason,
        }
        .into()),
        None => Ok(()),
    }
}

fn validate_value(what: &'static str, value: &str, secret: bool) -> Result<(), Error> {
    let reason = if value.chars().any(char::is_control) {
        Some("it contains a newline or control character")
    } else if value.trim() != value {
        Some("it has leading or trailing whitespace")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Inner::InvalidProfileData {
            what,
            value: if secret {
                "<redacted>".to_string()
            } else {
                value.to_string()
            },
            reason,
        }
        .into()),
        None => Ok(()),
    }
}
