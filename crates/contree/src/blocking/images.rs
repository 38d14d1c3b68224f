//! Blocking images: [`Images`], [`Image`] and their builders.

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{ByteReader, Contree, IntoBlocking, Iter, Run, Session, forward, wrapper};
use crate::error::Result;
use crate::{DirEntry, GrepCase, GrepResult, TimeFilter};

wrapper! {
    /// The blocking image manager: `contree.images()`. See [`crate::Images`].
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// let page = contree.images().list().tagged().output()?;        // one page
    /// let ubuntu = contree.images().use_tag("ubuntu:latest");     // no request yet
    /// let pinned = contree.images().get("ubuntu:latest")?;        // resolved to a UUID now
    /// let alpine = contree.images().oci("alpine:3.20").output()?;   // imported if missing
    /// # let _ = (page, ubuntu, pinned, alpine); Ok(()) }
    /// ```
    Images => Images, Clone
}

impl Images {
    /// Lists images: [`output`](ListImages::output) for one page, [`stream`](ListImages::stream)
    /// for all of them.
    pub fn list(&self) -> ListImages {
        ListImages {
            inner: self.inner.list(),
            client: self.client.clone(),
        }
    }

    /// An image by tag, resolved by the server each time it is used (no request now).
    pub fn use_tag(&self, tag: impl Into<String>) -> Image {
        self.inner.use_tag(tag).into_blocking(&self.client)
    }

    /// An image by UUID (no request now).
    pub fn use_uuid(&self, uuid: impl Into<String>) -> Image {
        self.inner.use_uuid(uuid).into_blocking(&self.client)
    }

    /// An image by UUID or tag, checked now (see [`crate::Images::get`]).
    pub fn get(&self, reference: impl AsRef<str>) -> Result<Image> {
        let images = self.inner.clone();
        let reference = reference.as_ref().to_string();
        let out = self
            .client
            .block_on(async move { images.get(&reference).await });
        out.into_blocking(&self.client)
    }

    /// Uses the image of an OCI reference if already imported, else imports it; call
    /// [`output`](ImportImage::output).
    pub fn oci(&self, reference: impl Into<String>) -> ImportImage {
        ImportImage {
            inner: self.inner.oci(reference),
            client: self.client.clone(),
        }
    }

    /// Imports an OCI reference from its registry; call [`output`](ImportImage::output).
    pub fn import(&self, reference: impl Into<String>) -> ImportImage {
        ImportImage {
            inner: self.inner.import(reference),
            client: self.client.clone(),
        }
    }
}

wrapper! {
    /// Lists images: [`output`](Self::output) for one page, [`stream`](Self::stream) for every
    /// page. See [`crate::ListImages`].
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// use std::time::Duration;
    /// for image in contree.images().list().since(Duration::from_secs(3600)).stream() {
    ///     println!("{}", image?.uuid().unwrap_or("?"));
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use = "a ListImages does nothing until sent or iterated"]
    ListImages => ListImages, Clone
}

impl ListImages {
    forward! { ListImages:
        limit(n: u32);
        offset(n: u64);
        tagged();
        tag_prefix(prefix: impl Into<String>);
        uuid(uuid: impl Into<String>);
        since(since: impl Into<TimeFilter>);
        until(until: impl Into<TimeFilter>);
    }

    /// Fetches one page.
    pub fn output(self) -> Result<Vec<Image>> {
        self.client.wait(self.inner)
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Result<Vec<Image>> {
        self.output()
    }

    /// Every matching image, fetching pages as the iterator advances.
    pub fn stream(self) -> Iter<Result<Image>> {
        let client = self.client.clone();
        let c = client.clone();
        let stream = futures_util::StreamExt::map(self.inner.stream(), move |r| {
            r.map(|image| image.into_blocking(&c))
        });
        Iter::new(&client, stream)
    }
}

wrapper! {
    /// Imports an image (or uses it if present); call [`output`](Self::output). See
    /// [`crate::ImportImage`].
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// let img = contree.images().import("ghcr.io/acme/private:1")
    ///     .credentials("robot", "s3cret")
    ///     .tag("acme:1")
    ///     .output()?;
    /// # let _ = img; Ok(()) }
    /// ```
    #[must_use = "an ImportImage does nothing until sent"]
    ImportImage => ImportImage, Clone
}

impl ImportImage {
    forward! { ImportImage:
        tag(tag: impl Into<String>);
        untagged();
        credentials(username: impl Into<String>, password: impl Into<String>);
        timeout(timeout: std::time::Duration);
    }

    /// Imports (or finds) the image and waits until it is ready.
    pub fn output(self) -> Result<Image> {
        self.client.wait(self.inner)
    }

    /// Sends the import and returns its operation id without waiting. See
    /// [`crate::ImportImage::start`].
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// let op = contree.images().import("alpine:3.20").start()?;
    /// let done = contree.operations().wait(&op, std::time::Duration::from_secs(600))?;
    /// # let _ = done; Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`crate::ImportImage::start`].
    pub fn start(self) -> Result<String> {
        self.client.wait(self.inner.start())
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Result<Image> {
        self.output()
    }
}

/// A blocking handle to an image version. See [`crate::Image`].
///
/// ```no_run
/// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
/// let out = contree.images().use_tag("ubuntu:latest").shell("echo hi > /greeting").output()?;
/// let next = out.image().expect("a kept run has an image");
/// assert_eq!(next.read_to_string("/greeting")?, "hi\n");
/// for entry in next.ls("/")? {
///     println!("{} {:o}", entry.path, entry.mode);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Image {
    pub(crate) inner: crate::Image,
    pub(crate) client: Contree,
}

impl PartialEq for Image {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl IntoBlocking for crate::Image {
    type Output = Image;
    fn into_blocking(self, client: &Contree) -> Image {
        Image {
            inner: self,
            client: client.clone(),
        }
    }
}

impl Image {
    /// The async image this wraps.
    pub fn as_async(&self) -> &crate::Image {
        &self.inner
    }
    /// The async image this wraps.
    pub fn into_async(self) -> crate::Image {
        self.inner
    }
    /// The UUID, if known without a request (`None` for a lazy tag reference).
    ///
    /// Deprecated: [`id`](Self::id) is the same id, typed.
    #[deprecated(
        since = "0.1.0",
        note = "use `Image::id()`, the same id as a typed `ImageId` (`.as_str()` is this text)"
    )]
    pub fn uuid(&self) -> Option<&str> {
        self.inner.id_str()
    }
    /// The id as a typed [`ImageId`](crate::ImageId), if known without a request.
    pub fn id(&self) -> Option<crate::ImageId> {
        self.inner.id()
    }
    /// The tag this handle was created with or found under, if any.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }
    /// When the image was created, if known (see [`crate::Image::created_at`]).
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// let created = img.info()?.created_at();
    /// # let _ = created; Ok(()) }
    /// ```
    pub fn created_at(&self) -> Option<crate::OffsetDateTime> {
        self.inner.created_at()
    }
    /// When the image was created, as the server sent it, if known.
    pub fn created_at_raw(&self) -> Option<&str> {
        self.inner.created_at_raw()
    }
    /// The image this version was made from, when it came from a run.
    pub fn parent(&self) -> Option<&str> {
        self.inner.parent()
    }
    /// The operation that made this image, if known.
    pub fn operation_id(&self) -> Option<&str> {
        self.inner.operation_id()
    }
    /// The client this handle uses.
    pub fn client(&self) -> &Contree {
        &self.client
    }

    /// Runs `f` with (a clone of) the async image on the runtime thread and converts the
    /// result.
    fn with<T, Fut>(&self, f: impl FnOnce(crate::Image) -> Fut) -> T::Output
    where
        Fut: std::future::Future<Output = T> + Send + 'static,
        T: IntoBlocking + Send + 'static,
    {
        self.client
            .block_on(f(self.inner.clone()))
            .into_blocking(&self.client)
    }

    /// This image pinned to a UUID (see [`crate::Image::resolve`]).
    pub fn resolve(&self) -> Result<Image> {
        self.with(|i| async move { i.resolve().await })
    }
    /// Fetches the image's metadata (see [`crate::Image::info`]).
    pub fn info(&self) -> Result<Image> {
        self.with(|i| async move { i.info().await })
    }
    /// An executable to run in a new VM from this image; call [`Run::output`].
    pub fn run(&self, command: impl Into<String>) -> Run {
        Run {
            inner: self.inner.run(command),
            client: self.client.clone(),
        }
    }
    /// A shell script to run in a new VM from this image; call [`Run::output`].
    pub fn shell(&self, script: impl Into<String>) -> Run {
        Run {
            inner: self.inner.shell(script),
            client: self.client.clone(),
        }
    }
    /// A session starting at this image (see [`Session`]).
    pub fn session(&self) -> Session {
        Session {
            inner: self.inner.session(),
            client: self.client.clone(),
        }
    }
    /// A run that only places files (the command is `true`); its
    /// [`output`](Run::output) is a new version with the files baked in (see
    /// [`crate::Image::apply_files`]).
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// use contree::FileSpec;
    /// let out = img
    ///     .apply_files([FileSpec::new("/etc/app.toml", b"debug = true\n".to_vec())])
    ///     .output()?;
    /// let with_config = out.image().expect("kept");
    /// assert_eq!(with_config.read_to_string("/etc/app.toml")?, "debug = true\n");
    /// # Ok(()) }
    /// ```
    pub fn apply_files(&self, files: impl IntoIterator<Item = crate::FileSpec>) -> Run {
        Run {
            inner: self.inner.apply_files(files),
            client: self.client.clone(),
        }
    }
    /// Tags this image; returns the tagged handle.
    pub fn tag_as(&self, tag: impl AsRef<str>) -> Result<Image> {
        let tag = tag.as_ref().to_string();
        self.with(|i| async move { i.tag_as(&tag).await })
    }
    /// Removes one tag from this image.
    pub fn untag(&self, tag: impl AsRef<str>) -> Result<()> {
        let tag = tag.as_ref().to_string();
        self.with(|i| async move { i.untag(&tag).await })
    }
    /// Removes every tag from this image.
    pub fn untag_all(&self) -> Result<()> {
        self.with(|i| async move { i.untag_all().await })
    }
    /// Lists a directory (see [`crate::Image::ls`]).
    pub fn ls(&self, path: &str) -> Result<Vec<DirEntry>> {
        let path = path.to_string();
        self.with(|i| async move { i.ls(&path).await })
    }
    /// One entry's metadata (see [`crate::Image::stat`]).
    pub fn stat(&self, path: &str) -> Result<DirEntry> {
        let path = path.to_string();
        self.with(|i| async move { i.stat(&path).await })
    }
    /// Whether a path exists (see [`crate::Image::exists`]).
    pub fn exists(&self, path: &str) -> Result<bool> {
        let path = path.to_string();
        self.with(|i| async move { i.exists(&path).await })
    }
    /// A file's content, in memory.
    pub fn read(&self, path: &str) -> Result<Bytes> {
        let path = path.to_string();
        self.with(|i| async move { i.read(&path).await })
    }
    /// A file's content as UTF-8 text.
    pub fn read_to_string(&self, path: &str) -> Result<String> {
        let path = path.to_string();
        self.with(|i| async move { i.read_to_string(&path).await })
    }
    /// A file's content as a [`std::io::Read`], streamed.
    pub fn read_stream(&self, path: &str) -> Result<ByteReader> {
        let path = path.to_string();
        let stream = self.client.block_on({
            let i = self.inner.clone();
            async move { i.read_stream(&path).await }
        })?;
        Ok(ByteReader::new(&self.client, stream))
    }
    /// Downloads a file to `local` (see [`crate::Image::download`]); returns the path
    /// written.
    pub fn download(&self, path: &str, local: impl AsRef<Path>) -> Result<PathBuf> {
        let path = path.to_string();
        let local = local.as_ref().to_path_buf();
        self.with(|i| async move { i.download(&path, local).await })
    }
    /// A directory as a tar archive (see [`crate::Image::archive`]).
    pub fn archive(&self, path: &str) -> Result<Archive> {
        let path = path.to_string();
        let inner = self.client.block_on({
            let i = self.inner.clone();
            async move { i.archive(&path).await }
        })?;
        Ok(Archive {
            inner,
            client: self.client.clone(),
        })
    }
    /// Searches file contents; call [`Grep::output`].
    pub fn grep(&self, pattern: impl Into<String>) -> Grep {
        Grep {
            inner: self.inner.grep(pattern),
            client: self.client.clone(),
        }
    }
}

/// A tar archive of a directory ([`Image::archive`]): read it as a [`std::io::Read`],
/// collect it, or unpack it safely. See [`crate::Archive`].
///
/// ```no_run
/// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
/// let entries = img.archive("/etc")?.extract_to("./etc-copy")?;
/// println!("{entries} entries");
/// # Ok(()) }
/// ```
pub struct Archive {
    inner: crate::Archive,
    client: Contree,
}

impl fmt::Debug for Archive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Archive {
    /// The raw tar bytes as a [`std::io::Read`].
    pub fn into_reader(self) -> ByteReader {
        ByteReader::new(&self.client, self.inner.into_stream())
    }
    /// Collects the whole archive in memory.
    pub fn bytes(self) -> Result<Bytes> {
        let inner = self.inner;
        self.client.block_on(async move { inner.bytes().await })
    }
    /// Unpacks into `dir`, refusing entries that would escape it (see
    /// [`crate::Archive::extract_to`]). Returns the number of entries written.
    pub fn extract_to(self, dir: impl AsRef<Path>) -> Result<usize> {
        let inner = self.inner;
        let dir = dir.as_ref().to_path_buf();
        self.client
            .block_on(async move { inner.extract_to(dir).await })
    }
    /// The async archive this wraps.
    pub fn into_async(self) -> crate::Archive {
        self.inner
    }
}

wrapper! {
    /// A content search; call [`output`](Self::output). See [`crate::Grep`].
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// let hits = img.grep("^root:").path("/etc").max_total(10).output()?;
    /// for m in hits.matches() {
    ///     println!("{}:{}: {}", m.path, m.line_number, m.line.trim_end());
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use = "a Grep does nothing until sent"]
    Grep => Grep, Clone
}

impl Grep {
    forward! { Grep:
        pattern(p: impl Into<String>);
        path(p: impl Into<String>);
        glob(g: impl Into<String>);
        max_count(n: u32);
        max_total(n: u32);
        case(c: GrepCase);
        context(before: u32, after: u32);
    }

    /// Runs the search.
    pub fn output(self) -> Result<GrepResult> {
        self.client.wait(self.inner)
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Result<GrepResult> {
        self.output()
    }
}
