//! Listing operations.

use std::future::IntoFuture;
use std::time::SystemTime;

use super::{OperationInfo, OperationKind, OperationStatus};
use contree_proto::requests;

use crate::api;
use crate::client::Contree;
use crate::error::Result;
use crate::util::{BoxFuture, BoxStream, TimeFilter, paginate};

/// Lists operations: await for one page, or [`stream`](ListOperations::stream) all.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree) -> contree::Result<()> {
/// use std::time::Duration;
/// use contree::{OperationKind, OperationStatus};
/// let failed = contree.operations().list()
///     .status(OperationStatus::Failed)
///     .kind(OperationKind::Instance)
///     .since(Duration::from_secs(24 * 3600))
///     .await?;
/// # let _ = failed; Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ListOperations does nothing until awaited or streamed"]
pub struct ListOperations {
    pub(crate) client: Contree,
    pub(crate) limit: Option<u32>,
    pub(crate) offset: u64,
    pub(crate) status: Option<OperationStatus>,
    pub(crate) kind: Option<OperationKind>,
    pub(crate) since: Option<TimeFilter>,
    pub(crate) until: Option<TimeFilter>,
}

fn resolve(t: &TimeFilter, now: SystemTime) -> SystemTime {
    match t {
        TimeFilter::At(t) => *t,
        TimeFilter::Ago(d) => now.checked_sub(*d).unwrap_or(std::time::UNIX_EPOCH),
    }
}

impl ListOperations {
    /// Page size (1..=1000, default 100).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.clamp(1, 1000));
        self
    }
    /// Skips this many operations.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = offset;
        self
    }
    /// Only operations in this state.
    pub fn status(mut self, status: OperationStatus) -> Self {
        self.status = Some(status);
        self
    }
    /// Only operations of this kind.
    pub fn kind(mut self, kind: OperationKind) -> Self {
        self.kind = Some(kind);
        self
    }
    /// Only operations created after this instant or within this age.
    pub fn since(mut self, since: impl Into<TimeFilter>) -> Self {
        self.since = Some(since.into());
        self
    }
    /// Only operations created before this instant or more than this age ago.
    pub fn until(mut self, until: impl Into<TimeFilter>) -> Self {
        self.until = Some(until.into());
        self
    }

    fn query(&self, offset: u64, limit: u32, now: SystemTime) -> requests::ListOperations {
        let mut q = requests::ListOperations::new();
        q.limit = Some(i64::from(limit));
        q.offset = Some(i64::try_from(offset).unwrap_or(i64::MAX));
        q.status = self.status.clone();
        q.kind = self.kind.clone();
        q.since = self
            .since
            .as_ref()
            .map(|s| crate::util::rfc3339(resolve(s, now)));
        q.until = self
            .until
            .as_ref()
            .map(|s| crate::util::rfc3339(resolve(s, now)));
        q
    }

    async fn page(client: &Contree, q: &requests::ListOperations) -> Result<Vec<OperationInfo>> {
        let list = api::list_operations(client, q).await?;
        Ok(list.into_iter().map(OperationInfo::from_summary).collect())
    }

    /// Every matching operation, fetching pages as the stream is polled.
    pub fn stream(self) -> BoxStream<OperationInfo> {
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

impl IntoFuture for ListOperations {
    type Output = Result<Vec<OperationInfo>>;
    type IntoFuture = BoxFuture<Result<Vec<OperationInfo>>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let q = self.query(self.offset, self.limit.unwrap_or(100), SystemTime::now());
            Self::page(&self.client, &q).await
        })
    }
}
