//! Listing images: one page, or a stream of all of them.

use std::future::IntoFuture;
use std::time::SystemTime;

use contree_proto::requests;

use super::Image;
use crate::api;
use crate::client::Contree;
use crate::error::Result;
use crate::util::{BoxFuture, BoxStream, TimeFilter, paginate, rfc3339};

/// Lists images: await for one page, or [`stream`](ListImages::stream) all of them.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use futures_util::TryStreamExt as _;
/// use std::time::Duration;
/// let recent: Vec<_> = contree
///     .images()
///     .list()
///     .since(Duration::from_secs(3600))
///     .stream()
///     .try_collect()
///     .await?;
/// # let _ = recent; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ListImages does nothing until awaited or streamed"]
pub struct ListImages {
    pub(crate) client: Contree,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: u64,
    pub(crate) tagged: bool,
    pub(crate) tag_prefix: Option<String>,
    pub(crate) uuid: Option<String>,
    pub(crate) since: Option<TimeFilter>,
    pub(crate) until: Option<TimeFilter>,
}

impl ListImages {
    /// Page size (1..=1000, default 100). When awaited, at most this many images.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.clamp(1, 1000));
        self
    }
    /// Skips this many images.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// Only tagged images.
    pub fn tagged(mut self) -> Self {
        self.tagged = true;
        self
    }
    /// Only images whose tag starts with this prefix (implies tagged).
    pub fn tag_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tag_prefix = Some(prefix.into());
        self
    }
    /// Only the image with this UUID.
    pub fn uuid(mut self, uuid: impl Into<String>) -> Self {
        self.uuid = Some(uuid.into());
        self
    }
    /// Only images created after this instant or within this age.
    pub fn since(mut self, since: impl Into<TimeFilter>) -> Self {
        self.since = Some(since.into());
        self
    }
    /// Only images created before this instant or more than this age ago.
    pub fn until(mut self, until: impl Into<TimeFilter>) -> Self {
        self.until = Some(until.into());
        self
    }

    fn query(&self, offset: u64, limit: u32, now: SystemTime) -> requests::ListImages {
        let mut q = requests::ListImages::new();
        q.limit = Some(i64::from(limit));
        q.offset = Some(i64::try_from(offset).unwrap_or(i64::MAX));
        q.tagged = self.tagged;
        q.tag = self.tag_prefix.clone();
        q.uuid = self.uuid.clone();
        q.since = self.since.as_ref().map(|s| rfc3339(s.resolve(now)));
        q.until = self.until.as_ref().map(|s| rfc3339(s.resolve(now)));
        q
    }

    async fn page(client: &Contree, q: &requests::ListImages) -> Result<Vec<Image>> {
        let list = api::list_images(client, q).await?;
        Ok(list
            .images
            .unwrap_or_default()
            .into_iter()
            .filter_map(|w| Image::from_wire(client.clone(), w))
            .collect())
    }

    /// Every matching image, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<Image> {
        let now = SystemTime::now();
        let page_size = self.limit.unwrap_or(100);
        paginate(page_size, move |offset| {
            let this = self.clone();
            async move {
                let q = this.query(this.offset + offset, page_size, now);
                Self::page(&this.client, &q).await
            }
        })
    }
}

impl IntoFuture for ListImages {
    type Output = Result<Vec<Image>>;
    type IntoFuture = BoxFuture<Result<Vec<Image>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let q = self.query(self.offset, self.limit.unwrap_or(100), SystemTime::now());
            Self::page(&self.client, &q).await
        })
    }
}
