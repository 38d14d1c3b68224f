//! Images: the manager ([`Images`]), lazy and strict references ([`Image`]), tags.

mod id;
mod import;
mod list;

pub use id::ImageId;
pub use import::{DEFAULT_IMPORT_TIMEOUT, ImportImage, OciReference};
pub use list::ListImages;

use std::fmt;

use contree_proto::types;

use crate::api::{self, find_by_tag};
use crate::client::Contree;
use crate::error::Result;
use crate::run::Run;
use crate::session::Session;

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
    /// server's 302, which is not followed). Fails with [`Error::is_not_found`](crate::Error::is_not_found) if missing.
    ///
    /// # Errors
    ///
    /// `NotFound` when no image has this UUID or tag; the [errors of every call](crate#errors).
    pub async fn get(&self, reference: impl AsRef<str>) -> Result<Image> {
        let reference = reference.as_ref();
        // UUID or tag is contree-proto's rule; a `tag:` prefix always means a tag.
        let (reference, tagged) = match reference.strip_prefix(types::ImageSource::TAG_PREFIX) {
            Some(tag) => (tag, true),
            None => (reference, false),
        };
        if !tagged && contree_proto::image_ref::is_uuid(reference) {
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
            .field("uuid", &self.id_str())
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

    /// The UUID, if known without a request (`None` for a lazy tag reference): the raw
    /// string the service sent.
    ///
    /// Deprecated: [`id`](Self::id) is the same id, typed ([`ImageId`]; its
    /// [`as_str`](ImageId::as_str) is this string).
    #[deprecated(
        since = "0.1.0",
        note = "use `Image::id()`, the same id as a typed `ImageId` (`.as_str()` is this text)"
    )]
    pub fn uuid(&self) -> Option<&str> {
        self.id_str()
    }

    /// The id's text, if known without a request.
    pub(crate) fn id_str(&self) -> Option<&str> {
        match &self.reference {
            ImageRef::Uuid(u) => Some(u),
            ImageRef::Tag(_) => None,
        }
    }

    /// The id, if known without a request (`None` for a lazy tag reference), as an
    /// [`ImageId`]: the text the service sent.
    ///
    /// ```no_run
    /// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
    /// let image = contree.images().get("ubuntu:latest").await?;
    /// let id = image.id().expect("a resolved image has an id");
    /// println!("{id} (as a UUID: {:?})", id.to_uuid());
    /// assert_eq!(contree.images().use_tag("ubuntu:latest").id(), None);
    /// # Ok(()) }
    /// ```
    pub fn id(&self) -> Option<ImageId> {
        self.id_str().map(ImageId::from)
    }

    /// The tag this handle was created with or found under, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// When the image was created, if known (from a listing, [`info`](Self::info) or
    /// [`Images::get`] by UUID); `None` also when the server's timestamp is not RFC 3339
    /// (then [`created_at_raw`](Self::created_at_raw) still has it).
    ///
    /// ```no_run
    /// # async fn demo(img: contree::Image) -> contree::Result<()> {
    /// let info = img.info().await?;
    /// if let Some(t) = info.created_at() {
    ///     println!("created {} (unix {})", t, t.unix_timestamp());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn created_at(&self) -> Option<::time::OffsetDateTime> {
        let raw = self.created_at.as_deref()?;
        ::time::OffsetDateTime::parse(raw, &::time::format_description::well_known::Rfc3339).ok()
    }

    /// When the image was created, as the server sent it (ISO 8601), if known.
    ///
    /// ```no_run
    /// # fn demo(img: &contree::Image) {
    /// println!("{}", img.created_at_raw().unwrap_or("unknown"));
    /// # }
    /// ```
    pub fn created_at_raw(&self) -> Option<&str> {
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
    ///
    /// # Errors
    ///
    /// `NotFound` when no image has the tag; the [errors of every call](crate#errors).
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
    ///
    /// # Errors
    ///
    /// `NotFound` when the image or its tag does not exist; the [errors of every
    /// call](crate#errors).
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
    ///
    /// # Errors
    ///
    /// `NotFound` when the image does not exist; `Api` when the server refuses the tag (e.g.
    /// 409); the [errors of every call](crate#errors).
    pub async fn tag_as(&self, tag: impl AsRef<str>) -> Result<Image> {
        let tag = tag.as_ref();
        let uuid = self.resolve_uuid().await?;
        let w = api::tag(&self.client, &uuid, tag)
            .await?
            .unwrap_or_default();
        let mut image = self.clone();
        image.reference = ImageRef::Uuid(w.uuid.map_or(uuid, |u| u.to_string()));
        image.tag = Some(w.tag.unwrap_or_else(|| tag.to_string()));
        Ok(image)
    }

    /// Removes one tag from this image.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image does not exist; the [errors of every
    /// call](crate#errors).
    pub async fn untag(&self, tag: impl AsRef<str>) -> Result<()> {
        self.delete_tag(Some(tag.as_ref())).await
    }

    /// Removes every tag from this image.
    ///
    /// # Errors
    ///
    /// `NotFound` when the image does not exist; the [errors of every call](crate#errors).
    pub async fn untag_all(&self) -> Result<()> {
        self.delete_tag(None).await
    }

    async fn delete_tag(&self, tag: Option<&str>) -> Result<()> {
        let uuid = self.resolve_uuid().await?;
        api::delete_tag(&self.client, &uuid, tag).await
    }
}

async fn inspect_image(client: &Contree, uuid: &str) -> Result<Image> {
    let w = api::inspect_image(client, uuid).await?;
    let mut image = Image::from_ref(client.clone(), ImageRef::Uuid(uuid.to_string()));
    if let Some(u) = w.uuid {
        image.reference = ImageRef::Uuid(u.to_string());
    }
    image.tag = w.tag;
    image.created_at = w.created_at;
    image.operation_id = w.operation_uuid.map(|u| u.to_string());
    Ok(image)
}
