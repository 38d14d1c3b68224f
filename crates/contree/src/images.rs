//! Images: listing, lazy and strict references, import, tags.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use contree_auth::SecretToken;
use futures_core::Stream;
use futures_util::StreamExt as _;
use serde::Serialize;

use crate::client::{Contree, Query, json_request, request, seg};
use crate::error::{Error, Result};
use crate::run::Run;
use crate::session::Session;
use crate::wait;
use crate::wire;
use contree_proto::types;

/// A boxed, `Send`, `'static` future: what awaiting a builder of this crate produces.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A boxed, `Send`, `'static` stream of results.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;

/// Streams every item of an offset-paginated listing. `fetch(offset)` returns the page that
/// starts `offset` items in; a page shorter than `page_size` is the last one, and an error is
/// yielded once and ends the stream.
pub(crate) fn paginate<T, F, Fut>(page_size: u32, fetch: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    futures_util::stream::unfold(Some(0u64), move |next| {
        let fetch = fetch.clone();
        async move {
            let offset = next?;
            match fetch(offset).await {
                Ok(items) => {
                    let n = items.len() as u64;
                    let next = (n >= u64::from(page_size)).then_some(offset + n);
                    Some((Ok(items), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .flat_map(|page: Result<Vec<T>>| {
        futures_util::stream::iter(match page {
            Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    })
    .boxed()
}

/// The image manager: `contree.images()`.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// let tagged = contree.images().list().tagged().await?;
/// let ubuntu = contree.images().use_tag("ubuntu:latest"); // no request yet
/// let pinned = contree.images().get("ubuntu:latest").await?; // resolved to a UUID now
/// let alpine = contree.images().oci("alpine:3.20").await?;   // imported if missing
/// # let _ = (tagged, ubuntu, pinned, alpine); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Images {
    client: Contree,
}

impl Images {
    pub(crate) fn new(client: Contree) -> Self {
        Self { client }
    }

    /// Lists images. Await it for one page (100 by default), or call
    /// [`stream`](ListImages::stream) to walk every page.
    pub fn list(&self) -> ListImages {
        ListImages {
            client: self.client.clone(),
            limit: None,
            offset: 0,
            tagged: false,
            tag_prefix: None,
            uuid: None,
            since: None,
            until: None,
        }
    }

    /// An image by tag, resolved by the server each time it is used (no request now). The
    /// tag may move between uses; call [`Image::resolve`] to pin it.
    pub fn use_tag(&self, tag: impl Into<String>) -> Image {
        Image::from_ref(self.client.clone(), ImageRef::Tag(tag.into()))
    }

    /// An image by UUID (no request now).
    pub fn use_uuid(&self, uuid: impl Into<String>) -> Image {
        Image::from_ref(self.client.clone(), ImageRef::Uuid(uuid.into()))
    }

    /// An image by UUID or tag, checked now: a tag is resolved to its UUID (through the
    /// server's 302, which is not followed). Fails with [`Error::is_not_found`] if missing.
    pub async fn get(&self, reference: &str) -> Result<Image> {
        let reference = reference.strip_prefix("tag:").unwrap_or(reference);
        if looks_like_uuid(reference) {
            inspect_image(&self.client, reference).await
        } else {
            let uuid = find_by_tag(&self.client, reference).await?;
            let mut image = Image::from_ref(self.client.clone(), ImageRef::Uuid(uuid));
            image.tag = Some(reference.to_string());
            Ok(image)
        }
    }

    /// Uses the image of an OCI reference (`ubuntu:24.04`, `ghcr.io/org/img:1`) if one is
    /// already tagged with it, else imports it. Await the returned builder.
    pub fn oci(&self, reference: impl Into<String>) -> ImportImage {
        ImportImage::new(self.client.clone(), reference.into(), true)
    }

    /// Imports an OCI reference from its registry (always; the server returns the same
    /// UUID when the remote image is unchanged). Await the returned builder.
    pub fn import(&self, reference: impl Into<String>) -> ImportImage {
        ImportImage::new(self.client.clone(), reference.into(), false)
    }
}

/// How an [`Image`] is referenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageRef {
    Uuid(String),
    Tag(String),
}

/// A handle to an image version: a UUID, or a tag the server resolves when used.
///
/// Cheap to clone. Run commands from it ([`shell`](Image::shell), [`run`](Image::run)),
/// follow it as a [`Session`], inspect its files without a VM ([`ls`](Image::ls),
/// [`read`](Image::read), [`download`](Image::download), [`grep`](Image::grep), ...).
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// let out = contree.images().use_tag("ubuntu:latest").shell("echo hi > /greeting").await?;
/// let next = out.image().expect("a kept run has an image");
/// assert_eq!(next.read_to_string("/greeting").await?, "hi\n");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Image {
    pub(crate) client: Contree,
    pub(crate) reference: ImageRef,
    pub(crate) tag: Option<String>,
    pub(crate) created_at: Option<String>,
    pub(crate) parent: Option<String>,
    pub(crate) operation_id: Option<String>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("uuid", &self.uuid())
            .field("tag", &self.tag())
            .field("parent", &self.parent)
            .field("operation_id", &self.operation_id)
            .finish()
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            ImageRef::Uuid(u) => f.write_str(u),
            ImageRef::Tag(t) => write!(f, "tag:{t}"),
        }
    }
}

impl PartialEq for Image {
    fn eq(&self, other: &Self) -> bool {
        self.reference == other.reference
    }
}

impl Image {
    pub(crate) fn from_ref(client: Contree, reference: ImageRef) -> Self {
        let tag = match &reference {
            ImageRef::Tag(t) => Some(t.clone()),
            ImageRef::Uuid(_) => None,
        };
        Image {
            client,
            reference,
            tag,
            created_at: None,
            parent: None,
            operation_id: None,
        }
    }

    pub(crate) fn from_wire(client: Contree, w: types::Image) -> Option<Self> {
        let uuid = w.uuid?;
        Some(Image {
            client,
            reference: ImageRef::Uuid(uuid.to_string()),
            tag: w.tag,
            created_at: w.created_at,
            parent: None,
            operation_id: w.operation_uuid.map(|u| u.to_string()),
        })
    }

    /// The UUID, if known without a request (`None` for a lazy tag reference).
    pub fn uuid(&self) -> Option<&str> {
        match &self.reference {
            ImageRef::Uuid(u) => Some(u),
            ImageRef::Tag(_) => None,
        }
    }

    /// The tag this handle was created with or found under, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// When the image was created, as the server reported it (ISO 8601), if known.
    pub fn created_at(&self) -> Option<&str> {
        self.created_at.as_deref()
    }

    /// The image this version was made from, when it came from a run.
    pub fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    /// The operation that made this image, if known.
    pub fn operation_id(&self) -> Option<&str> {
        self.operation_id.as_deref()
    }

    /// The client this handle uses.
    pub fn client(&self) -> &Contree {
        &self.client
    }

    /// The reference sent in a spawn request: the UUID, or `tag:<tag>`.
    pub(crate) fn spawn_ref(&self) -> String {
        self.to_string()
    }

    /// The UUID, resolving a tag through the server if needed.
    pub(crate) async fn resolve_uuid(&self) -> Result<String> {
        match &self.reference {
            ImageRef::Uuid(u) => Ok(u.clone()),
            ImageRef::Tag(t) => find_by_tag(&self.client, t).await,
        }
    }

    /// This image pinned to a UUID (a tag is resolved now; a UUID handle is returned as is).
    pub async fn resolve(&self) -> Result<Image> {
        match &self.reference {
            ImageRef::Uuid(_) => Ok(self.clone()),
            ImageRef::Tag(t) => {
                let uuid = find_by_tag(&self.client, t).await?;
                let mut image = self.clone();
                image.reference = ImageRef::Uuid(uuid);
                Ok(image)
            }
        }
    }

    /// Fetches the image's metadata (tag, creation time, creating operation).
    pub async fn info(&self) -> Result<Image> {
        let uuid = self.resolve_uuid().await?;
        let mut image = inspect_image(&self.client, &uuid).await?;
        image.parent = self.parent.clone();
        Ok(image)
    }

    /// A command to run in a new VM from this image: `command` is an executable path (or
    /// a name found on the default `PATH`); add arguments with [`Run::arg`]. Await it.
    pub fn run(&self, command: impl Into<String>) -> Run {
        Run::new(
            self.client.clone(),
            crate::run::Target::Image(self.clone()),
            command.into(),
            false,
        )
    }

    /// A shell script to run (`sh -c`, with the image's `ENV`) in a new VM from this
    /// image. Await it for a [`RunOutput`](crate::RunOutput).
    pub fn shell(&self, script: impl Into<String>) -> Run {
        Run::new(
            self.client.clone(),
            crate::run::Target::Image(self.clone()),
            script.into(),
            true,
        )
    }

    /// A session starting at this image: it follows the newest version after each run.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }

    /// A run that only places files (the command is `true`); awaiting it yields a new
    /// version with the files baked in (the Python SDK's `apply_files`).
    ///
    /// ```no_run
    /// # async fn demo(img: contree::Image) -> contree::Result<()> {
    /// use contree::FileSpec;
    /// let with_config = img
    ///     .apply_files([FileSpec::new("/etc/app.toml", b"debug = true\n".to_vec())])
    ///     .await?
    ///     .into_image();
    /// # let _ = with_config; Ok(()) }
    /// ```
    pub fn apply_files(&self, files: impl IntoIterator<Item = crate::run::FileSpec>) -> Run {
        files
            .into_iter()
            .fold(self.shell("true"), |run, f| run.file_spec(f))
    }

    /// Tags this image (a tag already on another image moves here). Returns the tagged
    /// handle.
    pub async fn tag_as(&self, tag: &str) -> Result<Image> {
        let uuid = self.resolve_uuid().await?;
        #[derive(Serialize)]
        struct Body<'a> {
            tag: &'a str,
        }
        let req = json_request(
            http::Method::PATCH,
            format!("/images/{}/tag", seg(&uuid)),
            &Query::new(),
            &Body { tag },
        )?;
        let action = format!("tagging image {uuid} as {tag}");
        let resp = self
            .client
            .send(&contree_proto::ops::UPDATE_IMAGE_TAG, req, &action)
            .await?;
        let w: types::Image = if resp.body().is_empty() {
            types::Image::default()
        } else {
            wire::decode(&action, resp.body())?
        };
        let mut image = self.clone();
        image.reference = ImageRef::Uuid(w.uuid.map_or(uuid, |u| u.to_string()));
        image.tag = Some(w.tag.unwrap_or_else(|| tag.to_string()));
        Ok(image)
    }

    /// Removes one tag from this image.
    pub async fn untag(&self, tag: &str) -> Result<()> {
        self.delete_tag(Some(tag)).await
    }

    /// Removes every tag from this image.
    pub async fn untag_all(&self) -> Result<()> {
        self.delete_tag(None).await
    }

    async fn delete_tag(&self, tag: Option<&str>) -> Result<()> {
        let uuid = self.resolve_uuid().await?;
        let mut q = Query::new();
        q.opt("tag", tag);
        let req = request(
            http::Method::DELETE,
            format!("/images/{}/tag", seg(&uuid)),
            &q,
        );
        let action = format!("untagging image {uuid}");
        self.client
            .send(&contree_proto::ops::DELETE_IMAGE_TAG, req, &action)
            .await?;
        Ok(())
    }
}

pub(crate) fn looks_like_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

async fn inspect_image(client: &Contree, uuid: &str) -> Result<Image> {
    let req = request(
        http::Method::GET,
        format!("/inspect/{}/", seg(uuid)),
        &Query::new(),
    );
    let action = format!("inspecting image {uuid}");
    let resp = client
        .send(&contree_proto::ops::INSPECT_IMAGE, req, &action)
        .await?;
    let w: types::Image = wire::decode(&action, resp.body())?;
    let mut image = Image::from_ref(client.clone(), ImageRef::Uuid(uuid.to_string()));
    if let Some(u) = w.uuid {
        image.reference = ImageRef::Uuid(u.to_string());
    }
    image.tag = w.tag;
    image.created_at = w.created_at;
    image.operation_id = w.operation_uuid.map(|u| u.to_string());
    Ok(image)
}

/// Resolves a tag to a UUID through `GET /inspect/?tag=` without following the 302.
pub(crate) async fn find_by_tag(client: &Contree, tag: &str) -> Result<String> {
    let mut q = Query::new();
    q.push("tag", tag);
    let req = request(http::Method::GET, "/inspect/".into(), &q);
    let action = format!("resolving tag {tag}");
    let resp = client
        .send(&contree_proto::ops::INSPECT_FIND_IMAGE_BY_TAG, req, &action)
        .await?;
    let location = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::decode(&action, "the 302 answer has no Location header"))?;
    let uuid = location
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    if uuid.is_empty() {
        return Err(Error::decode(
            action,
            format!("cannot find an image id in Location `{location}`"),
        ));
    }
    Ok(uuid)
}

/// A time bound for listing filters: an instant, or an age ("created within the last hour").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFilter {
    /// A point in time.
    At(SystemTime),
    /// That long ago (resolved to an instant when the request is built, so paging does
    /// not drift).
    Ago(Duration),
}

impl From<SystemTime> for TimeFilter {
    fn from(t: SystemTime) -> Self {
        TimeFilter::At(t)
    }
}

impl From<Duration> for TimeFilter {
    fn from(d: Duration) -> Self {
        TimeFilter::Ago(d)
    }
}

impl TimeFilter {
    fn resolve(&self, now: SystemTime) -> SystemTime {
        match self {
            TimeFilter::At(t) => *t,
            TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
        }
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    let odt = time::OffsetDateTime::from(t);
    odt.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs().to_string())
                .unwrap_or_default()
        })
}

/// Lists images: await for one page, or [`stream`](ListImages::stream) all of them.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use std::time::Duration;
/// let recent: Vec<_> = contree
///     .images()
///     .list()
///     .since(Duration::from_secs(3600))
///     .stream()
///     .try_collect()
///     .await?;
/// # let _ = recent; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ListImages does nothing until awaited or streamed"]
pub struct ListImages {
    client: Contree,
    limit: Option<u32>,
    offset: u64,
    tagged: bool,
    tag_prefix: Option<String>,
    uuid: Option<String>,
    since: Option<TimeFilter>,
    until: Option<TimeFilter>,
}

impl ListImages {
    /// Page size (1..=1000, default 100). When awaited, at most this many images.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.clamp(1, 1000));
        self
    }
    /// Skips this many images.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// Only tagged images.
    pub fn tagged(mut self) -> Self {
        self.tagged = true;
        self
    }
    /// Only images whose tag starts with this prefix (implies tagged).
    pub fn tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = Some(prefix.into());
        self
    }
    /// Only the image with this UUID.
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }
    /// Only images created after this instant or within this age.
    pub fn since(mut self, since: impl Into<TimeFilter>) -> Self {
        self.since = Some(since.into());
        self
    }
    /// Only images created before this instant or more than this age ago.
    pub fn until(mut self, until: impl Into<TimeFilter>) -> Self {
        self.until = Some(until.into());
        self
    }

    fn query(&self, offset: u64, limit: u32, now: SystemTime) -> Query {
        let mut q = Query::new();
        q.push("limit", limit).push("offset", offset);
        if self.tagged {
            q.push("tagged", "1");
        }
        q.opt("tag", self.tag_prefix.as_deref())
            .opt("uuid", self.uuid.as_deref())
            .opt(
                "since",
                self.since.as_ref().map(|s| rfc3339(s.resolve(now))),
            )
            .opt(
                "until",
                self.until.as_ref().map(|s| rfc3339(s.resolve(now))),
            );
        q
    }

    async fn page(client: &Contree, q: &Query) -> Result<Vec<Image>> {
        let req = request(http::Method::GET, "/images".into(), q);
        let resp = client
            .send(&contree_proto::ops::LIST_IMAGES, req, "listing images")
            .await?;
        let list: types::ImageListResponse = wire::decode("listing images", resp.body())?;
        Ok(list
            .images
            .unwrap_or_default()
            .into_iter()
            .filter_map(|w| Image::from_wire(client.clone(), w))
            .collect())
    }

    /// Every matching image, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<Image> {
        let now = SystemTime::now();
        let page_size = self.limit.unwrap_or(100);
        paginate(page_size, move |offset| {
            let this = self.clone();
            async move {
                let q = this.query(this.offset + offset, page_size, now);
                Self::page(&this.client, &q).await
            }
        })
    }
}

impl IntoFuture for ListImages {
    type Output = Result<Vec<Image>>;
    type IntoFuture = BoxFuture<Result<Vec<Image>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let q = self.query(self.offset, self.limit.unwrap_or(100), SystemTime::now());
            Self::page(&self.client, &q).await
        })
    }
}

/// A parsed OCI reference: the registry URL to import from and the tag it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciReference {
    /// `docker://host/path[:tag|@digest]`.
    pub url: String,
    /// The tag the image is stored under (e.g. `ubuntu:latest`, `ghcr.io/org/img:1`);
    /// `None` for digest references, which no tag can express.
    pub tag: Option<String>,
}

impl OciReference {
    /// Parses `ubuntu`, `ubuntu:24.04`, `docker.io/library/ubuntu:24.04`,
    /// `ghcr.io/org/img:1`, `localhost:5000/img:1`, `docker://...`, `img@sha256:...`.
    /// A missing tag means `latest`.
    ///
    /// ```
    /// use contree::OciReference;
    /// let r = OciReference::parse("ubuntu").unwrap();
    /// assert_eq!(r.url, "docker://docker.io/library/ubuntu:latest");
    /// assert_eq!(r.tag.as_deref(), Some("ubuntu:latest"));
    /// let r = OciReference::parse("localhost:5000/img:1").unwrap();
    /// assert_eq!(r.url, "docker://localhost:5000/img:1");
    /// ```
    pub fn parse(reference: &str) -> Result<Self> {
        let r = reference.trim();
        let rest = match r.split_once("://") {
            Some(("docker", rest)) => rest,
            Some((scheme, _)) => {
                return Err(Error::invalid(format!(
                    "unsupported scheme `{scheme}` in image reference `{r}`; use docker:// or none"
                )));
            }
            None => r,
        };
        if rest.is_empty()
            || rest.starts_with([':', '@', '/'])
            || rest.contains(char::is_whitespace)
        {
            return Err(Error::invalid(format!(
                "`{reference}` is not a valid OCI image reference (expected e.g. ubuntu:24.04)"
            )));
        }
        let (host, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        let (name, suffix) = if let Some((n, d)) = path.split_once('@') {
            (n.to_string(), format!("@{d}"))
        } else {
            let last_slash = path.rfind('/').map(|i| i + 1).unwrap_or(0);
            match path[last_slash..].rfind(':') {
                Some(i) => (
                    path[..last_slash + i].to_string(),
                    path[last_slash + i..].to_string(),
                ),
                None => (path.clone(), ":latest".to_string()),
            }
        };
        if name.is_empty() || suffix == ":" {
            return Err(Error::invalid(format!(
                "`{reference}` is not a valid OCI image reference"
            )));
        }
        let full_name = if host == "docker.io" && !name.contains('/') {
            format!("library/{name}")
        } else {
            name.clone()
        };
        let url = format!("docker://{host}/{full_name}{suffix}");
        let short = if host == "docker.io" {
            full_name
                .strip_prefix("library/")
                .unwrap_or(&full_name)
                .to_string()
        } else {
            format!("{host}/{full_name}")
        };
        let tag = (!suffix.starts_with('@')).then(|| format!("{short}{suffix}"));
        Ok(OciReference { url, tag })
    }
}

/// Imports an image from a registry ([`Images::import`]) or uses it if present
/// ([`Images::oci`]). Await it for the [`Image`].
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use std::time::Duration;
/// let img = contree
///     .images()
///     .import("ghcr.io/acme/private:1")
///     .credentials("robot", "s3cret")
///     .tag("acme:1")
///     .timeout(Duration::from_secs(900))
///     .await?;
/// # let _ = img; Ok(()) }
/// ```
#[derive(Clone)]
#[must_use = "an ImportImage does nothing until awaited"]
pub struct ImportImage {
    client: Contree,
    reference: String,
    use_existing: bool,
    tag: Option<Option<String>>,
    credentials: Option<(String, SecretToken)>,
    timeout: Option<Duration>,
}

impl fmt::Debug for ImportImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportImage")
            .field("reference", &self.reference)
            .field("use_existing", &self.use_existing)
            .field("tag", &self.tag)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The default import timeout (the server's default).
pub const DEFAULT_IMPORT_TIMEOUT: Duration = Duration::from_secs(300);

impl ImportImage {
    fn new(client: Contree, reference: String, use_existing: bool) -> Self {
        Self {
            client,
            reference,
            use_existing,
            tag: None,
            credentials: None,
            timeout: None,
        }
    }

    /// Stores the image under this tag instead of the one derived from the reference.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(Some(tag.into()));
        self
    }

    /// Imports without a tag (reachable by UUID only). Ignored by `oci()`'s lookup.
    pub fn untagged(mut self) -> Self {
        self.tag = Some(None);
        self
    }

    /// Registry credentials for a private image. The password never appears in logs.
    pub fn credentials(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.credentials = Some((username.into(), SecretToken::new(password)));
        self
    }

    /// Server-side import timeout (default 5 minutes); the client waits a margin longer.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    async fn execute(self) -> Result<Image> {
        let parsed = OciReference::parse(&self.reference)?;
        let tag = match &self.tag {
            Some(t) => t.clone(),
            None => parsed.tag.clone(),
        };
        if self.use_existing
            && let Some(t) = &tag
        {
            match Images::new(self.client.clone()).get(t).await {
                Ok(image) => return Ok(image),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let timeout = self.timeout.unwrap_or(DEFAULT_IMPORT_TIMEOUT);
        if let Some(who) = self.client.cached_whoami()
            && let Some(max) = who.images_import_max_timeout()
            && timeout > max
        {
            tracing::warn!(
                timeout_secs = timeout.as_secs(),
                max_secs = max.as_secs(),
                "import timeout exceeds the token's images_import_max_timeout"
            );
        }
        #[derive(Serialize)]
        struct Creds<'a> {
            username: &'a str,
            password: &'a str,
        }
        #[derive(Serialize)]
        struct Registry<'a> {
            url: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            credentials: Option<Creds<'a>>,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            registry: Registry<'a>,
            #[serde(skip_serializing_if = "Option::is_none")]
            tag: Option<&'a str>,
            timeout: u64,
        }
        let body = Body {
            registry: Registry {
                url: &parsed.url,
                credentials: self.credentials.as_ref().map(|(u, p)| Creds {
                    username: u,
                    password: p.expose_secret(),
                }),
            },
            tag: tag.as_deref(),
            timeout: timeout.as_secs().max(1),
        };
        let req = json_request(
            http::Method::POST,
            "/images/import".into(),
            &Query::new(),
            &body,
        )?;
        let action = format!("importing {}", self.reference);
        let resp = self
            .client
            .send(&contree_proto::ops::IMPORT_IMAGE, req, &action)
            .await?;
        let op: types::ImportImageCreatedBody = wire::decode(&action, resp.body())?;
        let op_id = op.uuid.to_string();
        tracing::Span::current().record("operation_id", op_id.as_str());
        let deadline = timeout + self.client.wait_margin();
        let op = wait::wait_operation(&self.client, &op_id, deadline, false).await?;
        wait::check_terminal(&op, &op_id)?;
        let uuid = op.result_image().ok_or_else(|| {
            Error::new(crate::error::Inner::OperationFailed {
                operation_id: op_id.clone(),
                message: "the import finished without an image".into(),
            })
        })?;
        let mut image = Image::from_ref(self.client.clone(), ImageRef::Uuid(uuid));
        image.tag = op.result.and_then(|r| r.tag).or(tag);
        image.operation_id = Some(op_id);
        Ok(image)
    }
}

impl IntoFuture for ImportImage {
    type Output = Result<Image>;
    type IntoFuture = BoxFuture<Result<Image>>;
    fn into_future(self) -> Self::IntoFuture {
        let span = tracing::info_span!(
            "contree.import",
            reference = %self.reference,
            operation_id = tracing::field::Empty
        );
        Box::pin(tracing::Instrument::instrument(self.execute(), span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_parsing() {
        let cases = [
            (
                "ubuntu:latest",
                "docker://docker.io/library/ubuntu:latest",
                Some("ubuntu:latest"),
            ),
            (
                "ubuntu",
                "docker://docker.io/library/ubuntu:latest",
                Some("ubuntu:latest"),
            ),
            (
                "docker://docker.io/busybox:1",
                "docker://docker.io/library/busybox:1",
                Some("busybox:1"),
            ),
            (
                "library/ubuntu:22.04",
                "docker://docker.io/library/ubuntu:22.04",
                Some("ubuntu:22.04"),
            ),
            (
                "nebius/foo:1",
                "docker://docker.io/nebius/foo:1",
                Some("nebius/foo:1"),
            ),
            (
                "ghcr.io/org/img:tag",
                "docker://ghcr.io/org/img:tag",
                Some("ghcr.io/org/img:tag"),
            ),
            (
                "registry.example.com:5000/ns/img:1",
                "docker://registry.example.com:5000/ns/img:1",
                Some("registry.example.com:5000/ns/img:1"),
            ),
            (
                "localhost:5000/img:1",
                "docker://localhost:5000/img:1",
                Some("localhost:5000/img:1"),
            ),
            (
                "ubuntu@sha256:abc",
                "docker://docker.io/library/ubuntu@sha256:abc",
                None,
            ),
        ];
        for (input, url, tag) in cases {
            let r = OciReference::parse(input).unwrap();
            assert_eq!(r.url, url, "{input}");
            assert_eq!(r.tag.as_deref(), tag, "{input}");
        }
        for bad in ["", ":bad", "oci://x/y", "a b"] {
            assert!(OciReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_filters_are_utc_rfc3339() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(86_400);
        assert_eq!(rfc3339(t), "1970-01-02T00:00:00Z");
        let now = std::time::UNIX_EPOCH + Duration::from_secs(1000);
        assert_eq!(
            TimeFilter::Ago(Duration::from_secs(10)).resolve(now),
            std::time::UNIX_EPOCH + Duration::from_secs(990)
        );
    }

    #[test]
    fn uuid_detection() {
        assert!(looks_like_uuid("12345678-9abc-baba-deda-0123456789ab"));
        assert!(!looks_like_uuid("ubuntu:latest"));
        assert!(!looks_like_uuid("123456789abcbabadeda0123456789ab"));
    }
}
