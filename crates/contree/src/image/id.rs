//! [`ImageId`]: an image's id as the service handed it out.

use std::fmt;
use std::str::FromStr;

/// The id of an image version, kept exactly as the service sent it.
///
/// The service's ids have the UUID shape but are not all RFC 4122 UUIDs, so the text is the
/// id and [`to_uuid`](ImageId::to_uuid) is only a view of it. Converting from a string never
/// fails and never re-formats the id.
///
/// ```
/// use contree::ImageId;
///
/// let id: ImageId = "0b7e6a52-5f6e-4c1d-9a33-3f0c2f7d9a10".parse().unwrap();
/// assert_eq!(id.as_str(), "0b7e6a52-5f6e-4c1d-9a33-3f0c2f7d9a10");
/// assert_eq!(id.to_string(), id.as_str());
/// assert!(id.to_uuid().is_some());
/// assert_eq!(ImageId::from("not-a-uuid").to_uuid(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId(String);

impl ImageId {
    /// The id as the service sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a [`uuid::Uuid`] when it parses as one (`None` otherwise; the service may
    /// hand out ids that do not).
    pub fn to_uuid(&self) -> Option<uuid::Uuid> {
        uuid::Uuid::parse_str(&self.0).ok()
    }

    /// The id's text, consuming it.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ImageId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for ImageId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for ImageId {
    fn from(s: &str) -> Self {
        Self(s.to_string())
    }
}

impl From<uuid::Uuid> for ImageId {
    fn from(u: uuid::Uuid) -> Self {
        Self(u.to_string())
    }
}

impl From<ImageId> for String {
    fn from(id: ImageId) -> Self {
        id.0
    }
}

/// An id compares equal to its text, so `image.id().unwrap() == "…"` reads as it says.
///
/// ```
/// let id = contree::ImageId::from("0b7e6a52-5f6e-4c1d-9a33-3f0c2f7d9a10");
/// assert_eq!(id, "0b7e6a52-5f6e-4c1d-9a33-3f0c2f7d9a10");
/// assert_ne!(id, "0B7E6A52-5F6E-4C1D-9A33-3F0C2F7D9A10");
/// ```
impl PartialEq<str> for ImageId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for ImageId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl FromStr for ImageId {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_text_and_views_it_as_a_uuid_when_it_is_one() {
        // Version nibble 0: not RFC 4122, yet the uuid crate parses the shape.
        let raw = "01890a5d-ac96-074b-ac11-e1a6d8ce5e4b";
        let id: ImageId = raw.parse().unwrap();
        assert_eq!(id.as_str(), raw);
        assert_eq!(format!("{id}"), raw);
        assert_eq!(id.as_ref() as &str, raw);
        assert_eq!(id.to_uuid().map(|u| u.to_string()).as_deref(), Some(raw));
        // Upper case is kept as sent; the uuid view is the canonical lower case.
        let upper = ImageId::from(raw.to_uppercase());
        assert_eq!(upper.as_str(), raw.to_uppercase());
        assert_eq!(upper.to_uuid(), id.to_uuid());
        assert_ne!(upper, id, "ids compare as the service's text");
        // An id that is no UUID at all is still an id.
        let ulid = ImageId::from("01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(ulid.to_uuid(), None);
        assert_eq!(String::from(ulid), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
        assert_eq!(
            ImageId::from(uuid::Uuid::nil()).as_str(),
            uuid::Uuid::nil().to_string()
        );
    }
}
