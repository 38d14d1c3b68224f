//! Files: uploads deduplicated by sha256, existence checks, listing.

mod upload;

pub use upload::{ProgressFn, Upload, UploadSource};
pub(crate) use upload::{sha256_file, sha256_hex};

use std::time::SystemTime;

use contree_proto::{requests, types};

use crate::api;
use crate::client::Contree;
use crate::error::{Error, Result};
use crate::util::{BoxStream, TimeFilter, rfc3339};
use upload::check_sha;

/// The file manager: `contree.files()`.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// let up = contree.files().upload(std::path::PathBuf::from("model.bin")).await?;
/// assert!(contree.files().exists(up.sha256()).await?);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Files {
    pub(crate) client: Contree,
}

/// A file stored on the server, usable in runs ([`Run::file`](crate::Run::file)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadedFile {
    uuid: String,
    sha256: String,
    size: Option<i64>,
}

impl UploadedFile {
    /// A reference to a file uploaded earlier (its file UUID and sha256).
    pub fn new(uuid: impl Into<String>, sha256: impl Into<String>) -> Self {
        Self {
            uuid: uuid.into(),
            sha256: sha256.into(),
            size: None,
        }
    }
    /// The file's UUID (what runs reference).
    pub fn uuid(&self) -> &str {
        &self.uuid
    }
    /// The hex sha256 of the content.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    /// The size in bytes, when the server reported it (`-1` means unknown).
    pub fn size(&self) -> Option<i64> {
        self.size
    }

    fn from_wire(w: types::FileResponse) -> Self {
        UploadedFile {
            uuid: w.uuid.to_string(),
            sha256: w.sha256,
            size: Some(w.size),
        }
    }
}

/// A file record from [`Files::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileInfo {
    /// The file.
    pub file: UploadedFile,
    /// First upload by this namespace (ISO 8601), if reported.
    pub created_at: Option<String>,
    /// Last re-upload (ISO 8601), if reported.
    pub updated_at: Option<String>,
}

impl Files {
    pub(crate) fn new(client: Contree) -> Self {
        Self { client }
    }

    /// Uploads a local path, bytes, or a reader ([`UploadSource::reader`]). The content is
    /// hashed first (streamed) and uploaded only if the server does not have it yet.
    pub fn upload(&self, source: impl Into<UploadSource>) -> Upload {
        Upload {
            client: self.client.clone(),
            source: source.into(),
            progress: None,
            known_sha256: None,
        }
    }

    /// Whether content with this sha256 was uploaded by your namespace (`HEAD`).
    ///
    /// # Errors
    ///
    /// The [errors of every call](crate#errors).
    pub async fn exists(&self, sha256: &str) -> Result<bool> {
        check_sha(sha256)?;
        let sha = sha256.to_ascii_lowercase();
        match api::check_file(&self.client, &sha).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The uploaded file with this sha256, or `None` (`GET /files/{sha256}`).
    ///
    /// # Errors
    ///
    /// The [errors of every call](crate#errors) (a missing file is `Ok(None)`).
    pub async fn get(&self, sha256: &str) -> Result<Option<UploadedFile>> {
        check_sha(sha256)?;
        let sha = sha256.to_ascii_lowercase();
        match api::get_file(&self.client, &sha).await {
            Ok(w) => Ok(Some(UploadedFile::from_wire(w))),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn post(&self, body: contree_transport::Body, sha: &str) -> Result<UploadedFile> {
        let action = format!("uploading file {sha}");
        let w = api::upload_file(&self.client, body, &action).await?;
        let up = UploadedFile::from_wire(w);
        if !up.sha256.eq_ignore_ascii_case(sha) {
            // The server stored other bytes than were hashed here: never use them.
            return Err(Error::decode(
                &action,
                format!(
                    "the server stored content with sha256 {}, but the content sent hashes to {sha}: it changed on the way (or the source changed while uploading); upload it again",
                    up.sha256
                ),
            ));
        }
        Ok(up)
    }

    /// Lists uploaded files as a stream over all pages (newest filters optional).
    pub fn list(&self) -> ListFiles {
        ListFiles {
            client: self.client.clone(),
            page_size: 100,
            since: None,
            until: None,
        }
    }
}

/// Lists uploaded files; call [`stream`](ListFiles::stream).
#[derive(Debug, Clone)]
#[must_use = "a ListFiles does nothing until streamed"]
pub struct ListFiles {
    client: Contree,
    page_size: u32,
    since: Option<TimeFilter>,
    until: Option<TimeFilter>,
}

impl ListFiles {
    /// Page size (1..=1000, default 100).
    pub fn page_size(mut self, n: u32) -> Self {
        self.page_size = n.clamp(1, 1000);
        self
    }
    /// Only files uploaded after this instant or within this age.
    pub fn since(mut self, t: impl Into<TimeFilter>) -> Self {
        self.since = Some(t.into());
        self
    }
    /// Only files uploaded before this instant or more than this age ago.
    pub fn until(mut self, t: impl Into<TimeFilter>) -> Self {
        self.until = Some(t.into());
        self
    }

    /// Every matching file, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<FileInfo> {
        use futures_util::StreamExt as _;
        let now = SystemTime::now();
        let resolve = |t: &TimeFilter| match t {
            TimeFilter::At(t) => *t,
            TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
        };
        let since = self.since.as_ref().map(|t| rfc3339(resolve(t)));
        let until = self.until.as_ref().map(|t| rfc3339(resolve(t)));
        let page = self.page_size;
        let client = self.client.clone();
        futures_util::stream::unfold(Some(0u64), move |next| {
            let client = client.clone();
            let since = since.clone();
            let until = until.clone();
            async move {
                let offset = next?;
                let mut q = requests::ListFiles::new();
                q.limit = Some(i64::from(page));
                q.offset = Some(i64::try_from(offset).unwrap_or(i64::MAX));
                q.since = since;
                q.until = until;
                let r = async {
                    let l = api::list_files(&client, &q).await?;
                    Ok::<_, Error>(l.files.unwrap_or_default())
                }
                .await;
                match r {
                    Ok(items) => {
                        let n = items.len() as u64;
                        let next = (n >= u64::from(page)).then_some(offset + n);
                        let infos: Vec<Result<FileInfo>> = items
                            .into_iter()
                            .map(|w| {
                                Ok(FileInfo {
                                    file: UploadedFile {
                                        uuid: w.uuid.to_string(),
                                        sha256: w.sha256,
                                        size: Some(w.size),
                                    },
                                    created_at: Some(w.created_at),
                                    updated_at: Some(w.updated_at),
                                })
                            })
                            .collect();
                        Some((futures_util::stream::iter(infos), next))
                    }
                    Err(e) => Some((futures_util::stream::iter(vec![Err(e)]), None)),
                }
            }
        })
        .flatten()
        .boxed()
    }
}
