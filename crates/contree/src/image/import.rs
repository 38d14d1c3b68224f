//! Importing images from a registry, and parsing OCI references.

use std::fmt;
use std::future::IntoFuture;
use std::time::Duration;

use contree_auth::SecretToken;
use contree_proto::{image_ref, types};

use super::{Image, ImageRef, Images};
use crate::api;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::operations::wait;
use crate::util::BoxFuture;

/// A parsed OCI reference: the registry URL to import from and the tag it gets.
///
/// The normalisation is contree-proto's ([`contree_proto::image_ref::OciReference`]), the
/// one the mock uses too; this type only exposes its result as fields, and the suggested tag
/// as `None` when no valid tag can express the reference (digests).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OciReference {
    /// `docker://host/path[:tag][@digest]`.
    pub url: String,
    /// The tag the image is stored under (e.g. `ubuntu:latest`, `ghcr.io/org/img:1`);
    /// `None` for digest references, which no tag can express.
    pub tag: Option<String>,
}

impl OciReference {
    /// Parses `ubuntu`, `ubuntu:24.04`, `docker.io/library/ubuntu:24.04`,
    /// `index.docker.io/ubuntu`, `ghcr.io/org/img:1`, `localhost:5000/img:1`, `docker://...`,
    /// `img@sha256:...`. A missing tag means `latest`.
    ///
    /// ```
    /// use contree::OciReference;
    /// let r = OciReference::parse("ubuntu").unwrap();
    /// assert_eq!(r.url, "docker://docker.io/library/ubuntu:latest");
    /// assert_eq!(r.tag.as_deref(), Some("ubuntu:latest"));
    /// let r = OciReference::parse("index.docker.io/ubuntu").unwrap();
    /// assert_eq!(r.url, "docker://docker.io/library/ubuntu:latest");
    /// let r = OciReference::parse("localhost:5000/img:1").unwrap();
    /// assert_eq!(r.url, "docker://localhost:5000/img:1");
    /// let err = OciReference::parse("oci://x/y").unwrap_err();
    /// assert_eq!(err.kind(), contree::ErrorKind::InvalidInput);
    /// ```
    ///
    /// # Errors
    ///
    /// An error of kind [`InvalidInput`](crate::ErrorKind::InvalidInput) that says what is wrong with
    /// the reference (an unsupported scheme, an empty name, tag or digest, whitespace).
    pub fn parse(reference: &str) -> Result<Self> {
        let parsed = image_ref::OciReference::parse(reference).map_err(|e| {
            Error::invalid(format!(
                "{e}; give an image reference such as `ubuntu:24.04` or `ghcr.io/org/img:1`"
            ))
        })?;
        let tag = image_ref::is_valid_tag(parsed.tag()).then(|| parsed.tag().to_string());
        Ok(OciReference {
            url: parsed.url().to_string(),
            tag,
        })
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
    pub(crate) fn new(client: Contree, reference: String, use_existing: bool) -> Self {
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

    /// Sends the import and returns its operation id at once, without waiting for the
    /// image: a detached import. Wait for it later with
    /// [`Operations::wait`](crate::Operations::wait) (or follow it with `get`); the image is
    /// the operation's result.
    ///
    /// Unlike awaiting, `start` always sends the import: the "use it if present" lookup of
    /// [`Images::oci`] is part of waiting for an image, and is skipped here.
    ///
    /// ```no_run
    /// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
    /// use std::time::Duration;
    /// let op = contree.images().import("alpine:3.20").start().await?;
    /// // ... other work ...
    /// let done = contree.operations().wait(&op, Duration::from_secs(600)).await?;
    /// println!("imported {:?}", done.result_image);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`InvalidInput`](crate::ErrorKind::InvalidInput) for a reference that does not parse;
    /// otherwise what the `POST /images/import` answered (e.g. an auth error). A failure of
    /// the import itself shows only when the operation is waited for.
    pub async fn start(self) -> Result<String> {
        let parsed = OciReference::parse(&self.reference)?;
        let tag = self.tag_for(&parsed);
        self.send(&parsed, tag.as_deref()).await
    }

    fn tag_for(&self, parsed: &OciReference) -> Option<String> {
        match &self.tag {
            Some(t) => t.clone(),
            None => parsed.tag.clone(),
        }
    }

    async fn execute(self) -> Result<Image> {
        let parsed = OciReference::parse(&self.reference)?;
        let tag = self.tag_for(&parsed);
        if self.use_existing
            && let Some(t) = &tag
        {
            match Images::new(self.client.clone()).get(t).await {
                Ok(image) => return Ok(image),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let op_id = self.send(&parsed, tag.as_deref()).await?;
        tracing::Span::current().record("operation_id", op_id.as_str());
        let timeout = self.timeout.unwrap_or(DEFAULT_IMPORT_TIMEOUT);
        let deadline = timeout + self.client.wait_margin();
        let op = wait::wait_operation(&self.client, &op_id, deadline, false).await?;
        wait::check_terminal(&op, &op_id)?;
        let uuid = op.result_image().ok_or_else(|| {
            Error::new(crate::error::Inner::OperationFailed {
                operation_id: op_id.clone(),
                message: "the import finished without an image".into(),
            })
        })?;
        let mut image = Image::from_ref(self.client.clone(), ImageRef::Uuid(uuid.to_string()));
        image.tag = op.result.and_then(|r| r.tag).or(tag);
        self.client
            .inner
            .lineage
            .record(crate::lineage::LineageEntry::import(
                uuid.to_string(),
                op_id.clone(),
                parsed.url.clone(),
                image.tag.clone(),
            ));
        image.operation_id = Some(op_id);
        Ok(image)
    }

    /// `POST /images/import`: the operation id.
    async fn send(&self, parsed: &OciReference, tag: Option<&str>) -> Result<String> {
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
        let mut registry = types::ImageImportRequestRegistry::new(parsed.url.as_str());
        if let Some((username, password)) = &self.credentials {
            let mut creds = types::ImageImportRequestRegistryCredentials::new();
            creds.username = Some(username.clone());
            creds.password = Some(contree_proto::SecretString::new(password.expose_secret()));
            registry.credentials = Some(creds);
        }
        let mut body = types::ImageImportRequest::new(registry);
        if let Some(t) = tag {
            body.tag = contree_proto::Nullable::Value(t.to_string());
        }
        body.timeout = Some(i64::try_from(timeout.as_secs().max(1)).unwrap_or(i64::MAX));
        let action = format!("importing {}", self.reference);
        api::import_image(&self.client, body, &action).await
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
                "index.docker.io/ubuntu",
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
}
