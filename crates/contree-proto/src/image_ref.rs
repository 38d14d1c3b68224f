//! Image references: UUIDs and tags (`ImageSource`), and OCI registry references for imports.

use snafu::Snafu;

use crate::types::{ImageSource, ImageSourceTag, UUIDSchema};

/// A string that is not a valid image reference, tag or OCI reference.
#[derive(Debug, Clone, PartialEq, Eq, Snafu)]
#[snafu(display("{input:?} is not a valid {what}: {reason}"))]
pub struct InvalidReference {
    input: String,
    what: &'static str,
    reason: &'static str,
}

impl InvalidReference {
    fn new(input: &str, what: &'static str, reason: &'static str) -> Self {
        Self {
            input: input.to_string(),
            what,
            reason,
        }
    }

    /// The rejected input.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// Whether `tag` matches the spec's tag pattern
/// `^[A-Za-z0-9][A-Za-z0-9_-]*(?:[:/.][A-Za-z0-9_-]+)*$` (no `tag:` prefix, no digests).
///
/// ```
/// use contree_proto::image_ref::is_valid_tag;
/// assert!(is_valid_tag("busybox:latest"));
/// assert!(is_valid_tag("ghcr.io/org/img:1"));
/// assert!(is_valid_tag("python:3.12-slim"));
/// assert!(!is_valid_tag("-x"));
/// assert!(!is_valid_tag("a::b"));
/// assert!(!is_valid_tag("a:"));
/// assert!(!is_valid_tag("ubuntu@sha256:abc"));
/// assert!(!is_valid_tag(""));
/// ```
pub fn is_valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut chars = tag.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphanumeric() => {}
        _ => return false,
    }
    let mut after_sep = false;
    for c in chars {
        if word(c) {
            after_sep = false;
        } else if matches!(c, ':' | '/' | '.') {
            if after_sep {
                return false;
            }
            after_sep = true;
        } else {
            return false;
        }
    }
    !after_sep
}

/// Whether `s` has the UUID shape (`8-4-4-4-12` hex digits, any case). Versions are not checked.
pub fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl ImageSourceTag {
    /// A validated tag reference; the `tag:` prefix is optional in `tag`.
    ///
    /// ```
    /// use contree_proto::types::ImageSourceTag;
    /// let t = ImageSourceTag::new("busybox:latest").unwrap();
    /// assert_eq!(t.0, "tag:busybox:latest");
    /// assert_eq!(t.tag(), "busybox:latest");
    /// assert!(ImageSourceTag::new("tag:bad tag").is_err());
    /// ```
    pub fn new(tag: &str) -> Result<Self, InvalidReference> {
        let bare = tag.strip_prefix(ImageSource::TAG_PREFIX).unwrap_or(tag);
        if !is_valid_tag(bare) {
            return Err(InvalidReference::new(
                tag,
                "image tag",
                "a tag starts with a letter or digit and has letters, digits, `_` and `-` separated by single `:`, `/` or `.`",
            ));
        }
        Ok(Self(format!("{}{bare}", ImageSource::TAG_PREFIX)))
    }

    /// The tag without the `tag:` prefix.
    pub fn tag(&self) -> &str {
        self.0
            .strip_prefix(ImageSource::TAG_PREFIX)
            .unwrap_or(&self.0)
    }
}

impl ImageSource {
    /// Parses a user reference: a UUID, `tag:<tag>` or a bare tag.
    ///
    /// ```
    /// use contree_proto::types::ImageSource;
    /// let t: ImageSource = "tag:alpine:3".parse().unwrap();
    /// assert_eq!(t, ImageSource::parse("alpine:3").unwrap());
    /// assert_eq!(t.to_string(), "tag:alpine:3");
    /// let u = ImageSource::parse("019EEF27-7ECB-7771-8184-AAF5FA596CE2").unwrap();
    /// assert_eq!(u.to_string(), "019eef27-7ecb-7771-8184-aaf5fa596ce2");
    /// assert!(ImageSource::parse("not a tag").is_err());
    /// ```
    pub fn parse(reference: &str) -> Result<Self, InvalidReference> {
        if !reference.starts_with(Self::TAG_PREFIX)
            && is_uuid(reference)
            && let Ok(u) = uuid::Uuid::parse_str(reference)
        {
            return Ok(Self::Uuid(u));
        }
        ImageSourceTag::new(reference).map(Self::Tag)
    }

    /// A tag reference (validated; the `tag:` prefix is optional).
    pub fn tag(tag: &str) -> Result<Self, InvalidReference> {
        ImageSourceTag::new(tag).map(Self::Tag)
    }

    /// The UUID, when this is one.
    pub fn as_uuid(&self) -> Option<&UUIDSchema> {
        match self {
            Self::Uuid(u) => Some(u),
            Self::Tag(_) => None,
        }
    }

    /// The tag without prefix, when this is one.
    pub fn as_tag(&self) -> Option<&str> {
        match self {
            Self::Tag(t) => Some(t.tag()),
            Self::Uuid(_) => None,
        }
    }
}

impl From<uuid::Uuid> for ImageSource {
    fn from(u: uuid::Uuid) -> Self {
        Self::Uuid(u)
    }
}

impl std::str::FromStr for ImageSource {
    type Err = InvalidReference;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Display for ImageSource {
    /// The wire form: the hyphenated lowercase UUID or `tag:<tag>`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uuid(u) => write!(f, "{u}"),
            Self::Tag(t) => f.write_str(&t.0),
        }
    }
}

/// An OCI registry reference normalised for `POST /images/import`.
///
/// Rules (PYTHON-SDK.md 2.9, with two deliberate differences): no scheme means `docker://`, and
/// any other scheme is rejected; the first path segment is a registry host when it contains `.`
/// or `:` or is `localhost` (the official SDK sends `localhost:5000/img` to Docker Hub; this does
/// not); the default host is `docker.io`, where a single-segment name gets `library/`; a reference
/// without tag or digest gets `:latest` (the SDK adds none). `tag` is the suggested ConTree tag:
/// the name without `docker.io/` and `library/`, else `host/name`, plus the tag.
///
/// ```
/// use contree_proto::image_ref::OciReference;
/// let r = OciReference::parse("ubuntu").unwrap();
/// assert_eq!(r.url(), "docker://docker.io/library/ubuntu:latest");
/// assert_eq!(r.tag(), "ubuntu:latest");
/// let r = OciReference::parse("localhost:5000/img:1").unwrap();
/// assert_eq!(r.url(), "docker://localhost:5000/img:1");
/// assert!(OciReference::parse("oci://x/y").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference {
    url: String,
    tag: String,
}

impl OciReference {
    /// Normalises a reference (`ubuntu`, `nebius/foo:1`, `ghcr.io/org/img:tag`,
    /// `docker://docker.io/busybox:latest`, `img@sha256:...`).
    pub fn parse(reference: &str) -> Result<Self, InvalidReference> {
        let bad = |reason| InvalidReference::new(reference, "OCI reference", reason);
        let r = reference.trim();
        if r.is_empty() {
            return Err(bad("it is empty"));
        }
        let rest = match r.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("docker") => rest,
            Some(_) => return Err(bad("only the docker:// scheme is supported")),
            None => r,
        };
        if rest.starts_with(':') || rest.starts_with('/') || rest.starts_with('@') {
            return Err(bad("it must start with a registry host or an image name"));
        }
        if rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("it contains whitespace"));
        }
        let (first, after) = match rest.split_once('/') {
            Some((f, a)) => (f, Some(a)),
            None => (rest, None),
        };
        let is_host =
            after.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
        let (host, name_ref) = if is_host {
            (first.to_ascii_lowercase(), after.unwrap_or_default())
        } else {
            ("docker.io".to_string(), rest)
        };
        let host = match host.as_str() {
            "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
            _ => host,
        };
        if name_ref.is_empty() {
            return Err(bad("the image name is missing"));
        }
        // Split off a digest, then a tag (a `:` after the last `/`).
        let (name_tag, digest) = match name_ref.split_once('@') {
            Some((n, d)) if !d.is_empty() => (n, Some(d)),
            Some(_) => return Err(bad("the digest after `@` is empty")),
            None => (name_ref, None),
        };
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].find(':') {
            Some(i) => (
                &name_tag[..last_slash + i],
                Some(&name_tag[last_slash + i + 1..]),
            ),
            None => (name_tag, None),
        };
        if name.is_empty() || name.split('/').any(str::is_empty) {
            return Err(bad("the image name has an empty path segment"));
        }
        if tag == Some("") {
            return Err(bad("the tag after `:` is empty"));
        }
        let name = if host == "docker.io" && !name.contains('/') {
            format!("library/{name}")
        } else {
            name.to_string()
        };
        let suffix = match (tag, digest) {
            (Some(t), Some(d)) => format!(":{t}@{d}"),
            (Some(t), None) => format!(":{t}"),
            (None, Some(d)) => format!("@{d}"),
            (None, None) => ":latest".to_string(),
        };
        let short = if host == "docker.io" {
            name.strip_prefix("library/").unwrap_or(&name).to_string()
        } else {
            format!("{host}/{name}")
        };
        Ok(Self {
            url: format!("docker://{host}/{name}{suffix}"),
            tag: format!("{short}{suffix}"),
        })
    }

    /// The registry URL for `ImageImportRequest.registry.url`, e.g.
    /// `docker://docker.io/library/ubuntu:latest`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The suggested ConTree tag, e.g. `ubuntu:latest` or `ghcr.io/org/img:tag` (a digest
    /// reference gives a string that [`is_valid_tag`] rejects).
    pub fn tag(&self) -> &str {
        &self.tag
    }
}
