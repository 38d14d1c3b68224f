//! Where layers are remembered: the [`LayerCache`] trait, a local store and a server-side
//! store kept in image tags.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::client::Contree;
use crate::error::{Error, Result};
use crate::util::BoxFuture;

/// The tag prefix of the server-side layer cache ([`TagCache`]).
pub const CACHE_TAG_PREFIX: &str = "contree-build/";

/// A store of layers: step key → image UUID.
///
/// A lookup that fails (a network error, a corrupt entry) is treated by the builder as a
/// miss with a warning, never as a build error; so is an entry whose image is gone.
///
/// ```
/// use contree::build::{LayerCache, LocalCache};
/// let dir = tempfile::tempdir().unwrap();
/// let cache = LocalCache::new(dir.path());
/// assert!(cache.describe().starts_with("local cache"));
/// ```
pub trait LayerCache: Send + Sync + fmt::Debug {
    /// A short description for reports and logs (`local cache at …`).
    fn describe(&self) -> String;
    /// The image UUID stored under `key`, if any.
    fn lookup(&self, client: Contree, key: String) -> BoxFuture<Result<Option<String>>>;
    /// Remembers that `key` made `image`.
    fn store(&self, client: Contree, key: String, image: String) -> BoxFuture<Result<()>>;
}

/// A layer cache in a local directory: one small JSON file per step key.
///
/// The default one ([`LocalCache::for_client`]) lives under the SDK's configuration
/// directory (`$CONTREE_HOME`, else `$XDG_CONFIG_HOME/contree`, else `~/.config/contree`, read
/// from the client's environment), in `build-cache/<server>` (one directory per base URL, as image UUIDs belong to a server).
/// Writes are atomic (a temporary file renamed into place), so concurrent builds never
/// see half an entry. An entry whose image was deleted on the server is a miss.
///
/// ```
/// use contree::build::LocalCache;
/// let dir = tempfile::tempdir().unwrap();
/// let cache = LocalCache::new(dir.path().join("layers"));
/// assert_eq!(cache.dir(), dir.path().join("layers"));
/// ```
#[derive(Debug, Clone)]
pub struct LocalCache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct LocalEntry {
    image: String,
}

impl LocalCache {
    /// A cache in `dir` (created when the first entry is written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The default cache of a client: `build-cache/<server>` under the SDK's configuration
    /// directory in the client's environment ([`contree_auth::default_config_dir`] of the
    /// env the client was built with). `None` when no configuration directory can be found
    /// (no `CONTREE_HOME`, `XDG_CONFIG_HOME` or `HOME`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use contree::auth::MapEnv;
    /// use contree::build::LocalCache;
    /// let env = MapEnv::new().with("CONTREE_HOME", "/opt/ct");
    /// let client = contree::Contree::builder()
    ///     .base_url("http://127.0.0.1:9")
    ///     .token("t")
    ///     .env(Arc::new(env))
    ///     .build()
    ///     .unwrap();
    /// let cache = LocalCache::for_client(&client).unwrap();
    /// assert!(cache.dir().starts_with("/opt/ct/build-cache"));
    /// ```
    pub fn for_client(client: &Contree) -> Option<Self> {
        let dir = client
            .config_dir()?
            .join("build-cache")
            .join(server_scope(client));
        Some(Self::new(dir))
    }

    /// The directory of the entries.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry(&self, key: &str) -> Result<PathBuf> {
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::invalid(format!(
                "`{key}` is not a step key (64 hex digits)"
            )));
        }
        Ok(self.dir.join(format!("{key}.json")))
    }
}

/// A short, stable name for the server a client talks to (cache entries are per server).
pub(crate) fn server_scope(client: &Contree) -> String {
    let url = client.inner.base_url.as_deref().unwrap_or("default");
    hex::encode(&Sha256::digest(url.as_bytes())[..6])
}

impl LayerCache for LocalCache {
    fn describe(&self) -> String {
        format!("local cache at {}", self.dir.display())
    }

    fn lookup(&self, client: Contree, key: String) -> BoxFuture<Result<Option<String>>> {
        let path = self.entry(&key);
        Box::pin(async move {
            let path = path?;
            let data = match tokio::fs::read(&path).await {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(Error::io("reading the layer cache entry", path, e)),
            };
            let entry: LocalEntry = serde_json::from_slice(&data).map_err(|e| {
                Error::invalid(format!(
                    "the layer cache entry {} is corrupt ({e}); delete it",
                    path.display()
                ))
            })?;
            // The image may have been deleted on the server since: then it is a miss.
            match crate::api::inspect_image(&client, &entry.image).await {
                Ok(_) => Ok(Some(entry.image)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn store(&self, _client: Contree, key: String, image: String) -> BoxFuture<Result<()>> {
        let path = self.entry(&key);
        let dir = self.dir.clone();
        Box::pin(async move {
            let path = path?;
            let body = serde_json::to_vec(&LocalEntry { image }).unwrap_or_default();
            tokio::task::spawn_blocking(move || write_atomic(&dir, &path, &body))
                .await
                .map_err(|e| Error::invalid(format!("the cache writer task failed: {e}")))?
        })
    }
}

/// Writes `body` to `path` through a temporary file in `dir`, renamed into place.
pub(crate) fn write_atomic(dir: &Path, path: &Path, body: &[u8]) -> Result<()> {
    use std::io::Write as _;
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the cache directory", dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error::io("creating a temporary file in", dir, e))?;
    tmp.write_all(body)
        .map_err(|e| Error::io("writing", tmp.path().to_path_buf(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("replacing", path, e.error))?;
    Ok(())
}

/// The server-side layer cache: each layer image is tagged `contree-build/<key prefix>`
/// (the first 32 hex digits of its step key), so every machine and CI runner of a
/// namespace shares hits. A lookup is one `GET /inspect/?tag=`; a tag that is missing or
/// was moved to an image that is gone is a miss.
///
/// ```
/// use contree::build::{LayerCache, TagCache};
/// assert_eq!(TagCache::new().tag_for(&"ab".repeat(32)), format!("contree-build/{}", "ab".repeat(16)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct TagCache {
    _private: (),
}

impl TagCache {
    /// The server-side cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tag a step key is stored under.
    pub fn tag_for(&self, key: &str) -> String {
        let end = key.len().min(32);
        format!("{CACHE_TAG_PREFIX}{}", &key[..end])
    }
}

impl LayerCache for TagCache {
    fn describe(&self) -> String {
        "server-side cache (image tags contree-build/…)".into()
    }

    fn lookup(&self, client: Contree, key: String) -> BoxFuture<Result<Option<String>>> {
        let tag = self.tag_for(&key);
        Box::pin(async move {
            match crate::api::find_by_tag(&client, &tag).await {
                Ok(uuid) => Ok(Some(uuid)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn store(&self, client: Contree, key: String, image: String) -> BoxFuture<Result<()>> {
        let tag = self.tag_for(&key);
        Box::pin(async move {
            crate::api::tag(&client, &image, &tag).await?;
            Ok(())
        })
    }
}

/// The stores a build uses, and how.
#[derive(Debug, Clone, Default)]
pub(crate) struct CacheConfig {
    /// `None`: the defaults (the client's local cache, if any, and the tag cache).
    pub(crate) stores: Option<Vec<Arc<dyn LayerCache>>>,
    /// Extra stores consulted on lookups only.
    pub(crate) from: Vec<Arc<dyn LayerCache>>,
    /// Whether lookups are skipped (results are still stored).
    pub(crate) no_cache: bool,
}

impl CacheConfig {
    /// The stores written to after a miss.
    pub(crate) fn writable(&self, client: &Contree) -> Vec<Arc<dyn LayerCache>> {
        match &self.stores {
            Some(s) => s.clone(),
            None => {
                let mut v: Vec<Arc<dyn LayerCache>> = Vec::new();
                if let Some(local) = LocalCache::for_client(client) {
                    v.push(Arc::new(local));
                }
                v.push(Arc::new(TagCache::new()));
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use contree_auth::MapEnv;

    use super::LocalCache;
    use crate::client::Contree;

    #[test]
    fn the_default_caches_live_in_the_config_dir_of_the_clients_env() {
        let client = Contree::offline_in(MapEnv::new().with("XDG_CONFIG_HOME", "/xdg"));
        assert_eq!(client.config_dir(), Some(PathBuf::from("/xdg/contree")));
        let layers = LocalCache::for_client(&client).unwrap();
        assert_eq!(
            layers.dir().parent(),
            Some(Path::new("/xdg/contree/build-cache"))
        );
        let mut scratch = Vec::new();
        let urls = crate::build::url::default_dir(client.config_dir(), &mut scratch).unwrap();
        assert_eq!(urls, Path::new("/xdg/contree/build-cache/urls"));
        assert!(scratch.is_empty());
    }

    #[test]
    fn without_a_config_dir_there_is_no_local_layer_cache_and_urls_go_to_scratch() {
        // HOME unset in the client's env, whatever the process environment holds.
        let client = Contree::offline_in(MapEnv::new());
        assert_eq!(client.config_dir(), None);
        assert!(LocalCache::for_client(&client).is_none());
        let mut scratch = Vec::new();
        let urls = crate::build::url::default_dir(None, &mut scratch).unwrap();
        assert_eq!(scratch.len(), 1);
        assert_eq!(urls, scratch[0].path());
    }
}
