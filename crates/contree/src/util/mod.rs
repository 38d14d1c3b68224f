//! Leaf helpers with no knowledge of the API: boxed futures and streams, pagination,
//! time filters.

mod setters;
mod time;

pub(crate) use setters::define_setters;

pub use time::TimeFilter;
pub(crate) use time::rfc3339;

use std::future::Future;
use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt as _;

use crate::error::Result;

/// A boxed, `Send`, `'static` future: what awaiting a builder of this crate produces.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A boxed, `Send`, `'static` stream of results.
pub type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'static>>;

/// Streams every item of an offset-paginated listing. `fetch(offset)` returns the page that
/// starts `offset` items in; a page shorter than `page_size` is the last one, and an error is
/// yielded once and ends the stream.
pub(crate) fn paginate<T, F, Fut>(page_size: u32, fetch: F) -> BoxStream<T>
where
    T: Send + 'static,
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<T>>> + Send + 'static,
{
    let fetch = std::sync::Arc::new(fetch);
    futures_util::stream::unfold(Some(0u64), move |next| {
        let fetch = fetch.clone();
        async move {
            let offset = next?;
            match fetch(offset).await {
                Ok(items) => {
                    let n = items.len() as u64;
                    let next = (n >= u64::from(page_size)).then_some(offset + n);
                    Some((Ok(items), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
    .flat_map(|page: Result<Vec<T>>| {
        futures_util::stream::iter(match page {
            Ok(items) => items.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    })
    .boxed()
}
