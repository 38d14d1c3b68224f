//! Lineage: which image version was made from which, as this client saw it.
//!
//! The service has no notion of parent and child images; the client records one edge
//! for every run it sees finish with a new image (parent, operation, command), and a
//! root for every import (registry URL, tag). The store is pluggable
//! ([`ContreeBuilder::lineage_store`](crate::ContreeBuilder::lineage_store)): in memory
//! by default ([`MemoryLineage`]), or a file shared by every client on the machine
//! ([`FileLineage`]). Query it from any [`Image`]: [`ancestors`](Image::ancestors),
//! [`descendants`](Image::descendants), [`root`](Image::root), [`depth`](Image::depth);
//! and see what a step changed with [`Image::changed_files`] (inspect listings, no VM).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> contree::Result<()> {
//! # let mock = contree_mock::MockServer::start().await;
//! # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
//! #     .project(mock.project().unwrap_or_default()).build()?;
//! let base = contree.images().get("ubuntu:latest").await?;
//! let v1 = base.shell("echo 1 > /a").await?.into_image().expect("kept");
//! let v2 = v1.shell("echo 2 > /b").await?.into_image().expect("kept");
//! assert_eq!(v2.depth(), 2);
//! assert_eq!(v2.root(), base);
//! assert_eq!(v2.lineage().unwrap().command.as_deref(), Some("echo 2 > /b"));
//! let changes = v1.changed_files(&v2).await?;
//! assert_eq!(changes[0].path, "/b");
//! # Ok(()) }
//! ```

mod diff;
mod store;

pub use diff::{ChangeKind, ChangedFiles, FileChange};
pub use store::{FileLineage, LineageStore, MemoryLineage};

use crate::image::{Image, ImageRef};

/// The most ancestors or descendants a query walks (a guard against cycles in a
/// hand-edited store).
pub const MAX_LINEAGE: usize = 10_000;

/// How one image version came to be.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct LineageEntry {
    /// The image's UUID.
    pub image: String,
    /// The image it was made from (`None` for an import: a root).
    pub parent: Option<String>,
    /// The operation that made it.
    pub operation_id: Option<String>,
    /// The command of the run that made it.
    pub command: Option<String>,
    /// The registry URL of an import.
    pub origin: Option<String>,
    /// The tag it got when it was made, if any.
    pub tag: Option<String>,
}

impl LineageEntry {
    /// An edge: `image` was made from `parent` by `operation_id` running `command`.
    pub fn run(
        image: impl Into<String>,
        parent: impl Into<String>,
        operation_id: impl Into<String>,
        command: impl Into<String>,
    ) -> Self {
        Self {
            image: image.into(),
            parent: Some(parent.into()),
            operation_id: Some(operation_id.into()),
            command: Some(command.into()),
            origin: None,
            tag: None,
        }
    }

    /// A root: `image` was imported from `origin`.
    pub fn import(
        image: impl Into<String>,
        operation_id: impl Into<String>,
        origin: impl Into<String>,
        tag: Option<String>,
    ) -> Self {
        Self {
            image: image.into(),
            parent: None,
            operation_id: Some(operation_id.into()),
            command: None,
            origin: Some(origin.into()),
            tag,
        }
    }
}

impl Image {
    fn store(&self) -> &dyn LineageStore {
        &*self.client.inner.lineage
    }

    fn image_of(&self, e: &LineageEntry) -> Image {
        let mut image = Image::from_ref(self.client.clone(), ImageRef::Uuid(e.image.clone()));
        image.parent = e.parent.clone();
        image.operation_id = e.operation_id.clone();
        image.tag = e.tag.clone();
        image
    }

    /// What the lineage store knows of this version (`None` for a version this client
    /// never saw made, or a tag handle: [`resolve`](Image::resolve) it first).
    pub fn lineage(&self) -> Option<LineageEntry> {
        self.store().get(self.id_str()?)
    }

    /// The versions this one was made from, nearest first (its parent, then the
    /// parent's parent, …), as far as the store knows.
    pub fn ancestors(&self) -> Vec<Image> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut parent = self.lineage().and_then(|e| e.parent);
        while let Some(p) = parent {
            if !seen.insert(p.clone()) || out.len() >= MAX_LINEAGE {
                break;
            }
            match self.store().get(&p) {
                Some(e) => {
                    out.push(self.image_of(&e));
                    parent = e.parent;
                }
                None => {
                    // Known only as a parent: the oldest version the store can name.
                    out.push(Image::from_ref(self.client.clone(), ImageRef::Uuid(p)));
                    parent = None;
                }
            }
        }
        out
    }

    /// Every version made from this one, directly or not, breadth first.
    pub fn descendants(&self) -> Vec<Image> {
        let Some(uuid) = self.id_str() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::from([uuid.to_string()]);
        let mut queue = std::collections::VecDeque::from([uuid.to_string()]);
        while let Some(next) = queue.pop_front() {
            for child in self.store().children(&next) {
                if out.len() >= MAX_LINEAGE {
                    return out;
                }
                if seen.insert(child.image.clone()) {
                    queue.push_back(child.image.clone());
                    out.push(self.image_of(&child));
                }
            }
        }
        out
    }

    /// The oldest known ancestor (an import, or the first version this client saw), or
    /// this image itself.
    pub fn root(&self) -> Image {
        self.ancestors().pop().unwrap_or_else(|| self.clone())
    }

    /// How many ancestors the store knows.
    pub fn depth(&self) -> usize {
        self.ancestors().len()
    }

    /// What changed from this version to `other` (added, removed and modified paths),
    /// from inspect listings: no VM is started. Await it; narrow it with
    /// [`under`](ChangedFiles::under).
    pub fn changed_files(&self, other: &Image) -> ChangedFiles {
        ChangedFiles::new(self.clone(), other.clone())
    }
}

/// Records what a finished run made (called by the run machinery).
pub(crate) fn record_run(
    client: &crate::Contree,
    parent: Option<&str>,
    image: &Image,
    operation_id: &str,
    command: &str,
) {
    let (Some(child), Some(parent)) = (image.id_str(), parent) else {
        return;
    };
    if child == parent {
        return;
    }
    let mut e = LineageEntry::run(child, parent, operation_id, command);
    e.tag = image.tag().map(str::to_string);
    client.inner.lineage.record(e);
}
