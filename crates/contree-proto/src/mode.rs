//! File modes: the octal strings of spawn `files` (`"0644"`) and `FileItem.mode` (`st_mode`).

use snafu::Snafu;

use crate::types::{FileItem, InstanceFile};

/// A mode string that is not octal permissions.
#[derive(Debug, Clone, PartialEq, Eq, Snafu)]
#[snafu(display(
    "{input:?} is not a file mode: use up to 4 octal digits such as \"0644\" or \"755\""
))]
pub struct InvalidMode {
    input: String,
}

/// Formats permission bits as the 4-digit octal string the spawn `files` map takes.
///
/// ```
/// assert_eq!(contree_proto::mode::format_mode(0o644), "0644");
/// assert_eq!(contree_proto::mode::format_mode(0o104755), "4755");
/// ```
pub fn format_mode(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

/// Parses an octal mode string (`"0644"`, `"644"`, `"0o644"`).
///
/// ```
/// assert_eq!(contree_proto::mode::parse_mode("0644").unwrap(), 0o644);
/// assert_eq!(contree_proto::mode::parse_mode("0o4755").unwrap(), 0o4755);
/// assert!(contree_proto::mode::parse_mode("0999").is_err());
/// assert!(contree_proto::mode::parse_mode("12345").is_err());
/// ```
pub fn parse_mode(s: &str) -> Result<u32, InvalidMode> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    let invalid = || InvalidMode {
        input: s.to_string(),
    };
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return Err(invalid());
    }
    u32::from_str_radix(digits, 8).map_err(|_| invalid())
}

impl InstanceFile {
    /// A file entry for the spawn `files` map: the uploaded file's UUID and permission bits.
    ///
    /// ```
    /// use contree_proto::types::InstanceFile;
    /// let f = InstanceFile::with_mode(uuid::Uuid::nil(), 0o600);
    /// assert_eq!(f.mode.as_deref(), Some("0600"));
    /// ```
    pub fn with_mode(uuid: uuid::Uuid, mode: u32) -> Self {
        let mut f = Self::new();
        f.uuid = Some(uuid);
        f.mode = Some(format_mode(mode));
        f
    }

    /// The parsed `mode`, if present and valid.
    pub fn mode_bits(&self) -> Option<u32> {
        self.mode.as_deref().and_then(|m| parse_mode(m).ok())
    }
}

impl FileItem {
    /// The permission bits of `mode` (`st_mode & 0o7777`).
    ///
    /// ```
    /// # use contree_proto::types::{FileItem, NameOrId};
    /// # let mut f = FileItem::new(0, "passwd", NameOrId::String("root".into()), NameOrId::Integer(0),
    /// #     0, 0, 33188, 0, 1, false, true, false, false, false, "");
    /// assert_eq!(f.permissions(), 0o644);
    /// assert_eq!(f.permissions_string(), "0644");
    /// ```
    pub fn permissions(&self) -> u32 {
        (self.mode & 0o7777) as u32
    }

    /// The permission bits as a 4-digit octal string.
    pub fn permissions_string(&self) -> String {
        format_mode(self.permissions())
    }
}
