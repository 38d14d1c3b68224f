//! Blocking file uploads.

use super::{Iter, wrapper};
use crate::error::Result;
use crate::{FileInfo, TimeFilter, UploadSource, UploadedFile};

wrapper! {
    /// Uploaded files: `contree.files()`. See [`crate::Files`].
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// let file = contree.files().upload(std::path::PathBuf::from("data.csv")).output()?;
    /// assert!(contree.files().exists(file.sha256())?);
    /// # Ok(()) }
    /// ```
    Files => Files, Clone
}

impl Files {
    /// Uploads a local path or bytes (deduplicated by sha256); call
    /// [`output`](Upload::output).
    pub fn upload(&self, source: impl Into<UploadSource>) -> Upload {
        Upload {
            inner: self.inner.upload(source),
            client: self.client.clone(),
        }
    }

    /// Uploads what a [`std::io::Read`] yields (spooled to a temporary file while
    /// hashed); call [`output`](Upload::output).
    pub fn upload_reader(&self, reader: impl std::io::Read + Send + 'static) -> Upload {
        self.upload(UploadSource::reader(super::io::async_read(reader)))
    }

    /// Whether content with this sha256 was uploaded by your namespace.
    pub fn exists(&self, sha256: &str) -> Result<bool> {
        let files = self.inner.clone();
        let sha = sha256.to_string();
        self.client
            .block_on(async move { files.exists(&sha).await })
    }

    /// The uploaded file with this sha256, or `None`.
    pub fn get(&self, sha256: &str) -> Result<Option<UploadedFile>> {
        let files = self.inner.clone();
        let sha = sha256.to_string();
        self.client.block_on(async move { files.get(&sha).await })
    }

    /// Lists uploaded files; call [`stream`](ListFiles::stream).
    pub fn list(&self) -> ListFiles {
        ListFiles {
            inner: self.inner.list(),
            client: self.client.clone(),
        }
    }
}

wrapper! {
    /// An upload; call [`output`](Self::output). See [`crate::Upload`].
    #[must_use = "an Upload does nothing until sent"]
    Upload => Upload
}

impl Upload {
    /// Calls `f(sent, total)` as bytes are sent (on the runtime thread).
    pub fn progress(self, f: impl Fn(u64, Option<u64>) + Send + Sync + 'static) -> Self {
        Self {
            inner: self.inner.progress(f),
            client: self.client,
        }
    }

    /// Hashes, checks and (if needed) uploads the content.
    pub fn output(self) -> Result<UploadedFile> {
        self.client.wait(self.inner)
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Result<UploadedFile> {
        self.output()
    }
}

wrapper! {
    /// Lists uploaded files; call [`stream`](Self::stream). See [`crate::ListFiles`].
    #[must_use = "a ListFiles does nothing until iterated"]
    ListFiles => ListFiles, Clone
}

impl ListFiles {
    super::forward! { ListFiles:
        page_size(n: u32);
        since(t: impl Into<TimeFilter>);
        until(t: impl Into<TimeFilter>);
    }

    /// Every matching file, fetching pages as the iterator advances.
    pub fn stream(self) -> Iter<Result<FileInfo>> {
        Iter::new(&self.client, self.inner.stream())
    }
}
