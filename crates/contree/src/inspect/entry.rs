//! Directory entries as the inspect API lists them.

use std::time::{Duration, SystemTime};

use contree_proto::types;

use super::join;

/// The type of a directory entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (see [`DirEntry::symlink_target`]).
    Symlink,
    /// A socket, FIFO or device.
    Other,
}

/// One entry of a directory listing ([`Image::ls`](crate::Image::ls)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DirEntry {
    /// The entry's name within its directory.
    pub name: String,
    /// The full path in the image.
    pub path: String,
    /// File, directory, symlink or other.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits (`0o755`), without the file-type bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// Owner name (or the uid as text).
    pub owner: String,
    /// Group name (or the gid as text).
    pub group: String,
    /// Last modification time.
    pub mtime: Option<SystemTime>,
    /// Number of hard links.
    pub nlink: u64,
    /// Where a symlink points.
    pub symlink_target: Option<String>,
}

impl DirEntry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.kind == EntryKind::File
    }
    /// Whether this is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.kind == EntryKind::Symlink
    }

    pub(crate) fn from_wire(dir: &str, w: types::FileItem) -> Self {
        let name = w.path;
        let kind = if w.is_symlink {
            EntryKind::Symlink
        } else if w.is_dir {
            EntryKind::Dir
        } else if w.is_regular && !w.is_socket && !w.is_fifo {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let uid = u32::try_from(w.uid).unwrap_or(0);
        let gid = u32::try_from(w.gid).unwrap_or(0);
        DirEntry {
            path: join(dir, &name),
            name,
            kind,
            size: u64::try_from(w.size).unwrap_or(0),
            mode: u32::try_from(w.mode).map(|m| m & 0o7777).unwrap_or(0),
            uid,
            gid,
            owner: name_or_id(w.owner),
            group: name_or_id(w.group),
            mtime: u64::try_from(w.mtime)
                .ok()
                .map(|t| std::time::UNIX_EPOCH + Duration::from_secs(t)),
            nlink: u64::try_from(w.nlink).unwrap_or(1),
            symlink_target: Some(w.symlink_to).filter(|s| !s.is_empty()),
        }
    }
}

/// `FileItem.owner` / `group` as text (a name, or the numeric id).
fn name_or_id(v: types::NameOrId) -> String {
    match v {
        types::NameOrId::String(s) => s,
        types::NameOrId::Integer(i) => i.to_string(),
        types::NameOrId::Other(v) => v.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api;

    #[test]
    fn file_item_owner_int_or_string() {
        let item = |path: &str, owner: &str, group: &str| {
            format!(
                r#"{{"path":"{path}","owner":{owner},"group":{group},"mode":33188,"size":1,
                "uid":0,"gid":0,"mtime":0,"nlink":1,"is_dir":false,"is_regular":true,
                "is_symlink":false,"is_socket":false,"is_fifo":false,"symlink_to":""}}"#
            )
        };
        let body = format!(
            r#"{{"path":"/","files":[{},{}]}}"#,
            item("a", "0", r#""root""#),
            item("b", r#""bob""#, "1000")
        );
        let l: types::DirectoryList = api::decode("test", body.as_bytes()).unwrap();
        let files: Vec<DirEntry> = l
            .files
            .into_iter()
            .map(|w| DirEntry::from_wire("/", w))
            .collect();
        assert_eq!(files[0].owner, "0");
        assert_eq!(files[0].group, "root");
        assert_eq!(files[1].owner, "bob");
        assert_eq!(files[1].group, "1000");
        assert_eq!(files[0].mode, 0o644);
    }
}
