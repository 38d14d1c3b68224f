//! An overall deadline for an event stream.

use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt as _;

use crate::error::{Error, Inner, Result};
use crate::util::BoxStream;

struct State<T> {
    inner: Option<BoxStream<T>>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    op_id: String,
    deadline: Duration,
}

/// Ends `stream` with an error of kind [`Timeout`](crate::ErrorKind::Timeout) once
/// `deadline` has passed since its first poll (the operation is not cancelled).
pub(crate) fn with_deadline<T: Send + 'static>(
    stream: BoxStream<T>,
    op_id: &str,
    deadline: Duration,
) -> BoxStream<T> {
    let state = State {
        inner: Some(stream),
        sleep: None,
        op_id: op_id.to_string(),
        deadline,
    };
    futures_util::stream::unfold(state, |mut st| async move {
        let mut inner = st.inner.take()?;
        let deadline = st.deadline;
        let sleep = st
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        tokio::select! {
            item = inner.next() => {
                let item: Result<T> = item?;
                st.inner = Some(inner);
                Some((item, st))
            }
            () = sleep.as_mut() => {
                tracing::debug!(operation_id = %st.op_id, ?deadline, "event stream deadline passed");
                let e = Error::new(Inner::WaitDeadline {
                    operation_id: st.op_id.clone(),
                    waited: deadline,
                });
                Some((Err(e), st))
            }
        }
    })
    .boxed()
}
