//! Credential resolution and profiles for ConTree.
//!
//! Resolution order, per field: explicit value > environment variable > `auth.ini` profile >
//! default. See the workspace README ("Configuration") for the exact rules.
//!
//! This crate has no HTTP stack and needs no async runtime for its core API; the
//! [`ProvideCredentials`] trait is async so that clients can refresh tokens.
//!
//! - [`DefaultChain`] (and [`resolve`]): explicit > env > profile > default, per field, with
//!   typed errors ([`ErrorKind`]) that name the sources tried.
//! - [`ProfileStore`]: list, read, write, remove profiles and set the default in `auth.ini`,
//!   byte-compatible with the official `contree` CLI; [`default_auth_file`] finds the file.
//! - [`CommandProvider`]: a token printed by a command, cached and refreshed before expiry.
//! - [`ClientSettings`]: timeouts and retries from `CONTREE_*` variables and profile keys.
//! - [`Env`] / [`Fs`] shims ([`OsEnv`], [`MapEnv`], [`OsFs`], [`MemFs`]) so that nothing
//!   has to touch the process environment in tests.
//!
//! ```
//! use contree_auth::{AuthKind, Credentials, SecretToken};
//!
//! let creds = Credentials::builder(SecretToken::new("t0ken"))
//!     .project("my-project")
//!     .build()
//!     .unwrap();
//! assert_eq!(creds.kind(), AuthKind::Iam);
//! // The token never shows up in Debug output.
//! assert!(!format!("{creds:?}").contains("t0ken"));
//! ```

mod command;
mod credentials;
mod error;
mod inifile;
mod profile;
mod provider;
mod resolve;
mod settings;
mod shim;

pub use command::{Clock, CommandProvider, CommandProviderBuilder, SystemClock};
pub use credentials::{
    AuthHeader, AuthKind, Credentials, CredentialsBuilder, DEFAULT_BASE_URL, SecretToken, Source,
};
pub use error::{Error, ErrorKind};
pub use profile::{
    FALLBACK_PROFILE, PROFILE_SECTION_PREFIX, Profile, ProfileStore, default_auth_file,
    default_config_dir,
};
pub use provider::{ProvideCredentials, StaticProvider};
pub use resolve::{
    BASE_URL_ENV, DefaultChain, DefaultChainBuilder, PROFILE_ENV, PROJECT_ENV, TOKEN_ENV, resolve,
};
pub use settings::ClientSettings;
pub use shim::{Env, Fs, FsLock, MapEnv, MemFs, OsEnv, OsFs};
