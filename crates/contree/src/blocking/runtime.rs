//! The runtime thread behind the blocking client (the reqwest model).
//!
//! One thread, named `contree-blocking-rt`, runs a current-thread Tokio runtime. Every
//! blocking call ships a future to it over a channel and waits for the answer on a
//! standard-library channel, so it works from any thread, including a thread that is
//! itself driving an async runtime (it then merely blocks that thread).

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{JoinHandle, ThreadId};

use futures_util::FutureExt as _;

use crate::error::{Error, Result};

type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The shared runtime thread. Dropping the last reference closes the job channel and
/// joins the thread.
pub(crate) struct RuntimeThread {
    tx: Option<tokio::sync::mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
    thread_id: ThreadId,
}

static WARNED_IN_RUNTIME: AtomicBool = AtomicBool::new(false);

impl RuntimeThread {
    /// Starts the thread and its runtime.
    pub(crate) fn start() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("contree-blocking-rt")
            .build()
            .map_err(|e| Error::io("starting the runtime of the blocking client", "", e))?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("contree-blocking-rt".into())
            .spawn(move || {
                runtime.block_on(async move {
                    while let Some(job) = rx.recv().await {
                        tokio::spawn(job);
                    }
                });
                // Dropping the runtime cancels what is still running (detached
                // clean-ups, streams nobody reads any more).
                drop(runtime);
            })
            .map_err(|e| Error::io("starting the thread of the blocking client", "", e))?;
        Ok(Self {
            tx: Some(tx),
            thread_id: thread.thread().id(),
            thread: Some(thread),
        })
    }

    /// Runs `fut` on the runtime thread and blocks the calling thread until it finishes.
    /// A panic inside `fut` is resumed on the calling thread.
    pub(crate) fn block_on<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if std::thread::current().id() == self.thread_id {
            // Called from a future running on our own runtime thread (a blocking call
            // nested in a job): waiting for our own thread would deadlock, so run this
            // one on a short-lived side thread with its own runtime.
            return run_on_side_thread(fut);
        }
        warn_if_in_async_context();
        let (reply_tx, reply_rx) = std::sync::mpsc::sync_channel::<Reply<F::Output>>(1);
        let job: Job = Box::pin(async move {
            let out = AssertUnwindSafe(fut).catch_unwind().await;
            let _ = reply_tx.send(out);
        });
        let sent = self.tx.as_ref().map(|tx| tx.send(job).is_ok());
        if sent != Some(true) {
            // The loop only ends when the last handle is dropped, and we hold one.
            panic!("the contree blocking runtime thread has stopped");
        }
        match reply_rx.recv() {
            Ok(Ok(value)) => value,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the contree blocking runtime thread stopped during a call"),
        }
    }

    /// Runs `fut` on the runtime thread without waiting for it (clean-ups on drop).
    pub(crate) fn spawn_detached<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Box::pin(fut));
        }
    }
}

type Reply<T> = std::result::Result<T, Box<dyn Any + Send + 'static>>;

fn run_on_side_thread<F>(fut: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let joined = std::thread::scope(|s| {
        s.spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("could not start a helper runtime: {e}"));
            rt.block_on(fut)
        })
        .join()
    });
    match joined {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn warn_if_in_async_context() {
    if tokio::runtime::Handle::try_current().is_ok()
        && !WARNED_IN_RUNTIME.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            "contree::blocking was called from inside an async runtime; this works but blocks \
             a runtime worker thread for the whole call; use the async contree::Contree there"
        );
    }
}

/// Whether the in-runtime warning has been emitted (for tests).
#[cfg(test)]
pub(crate) fn warned_in_runtime() -> bool {
    WARNED_IN_RUNTIME.load(Ordering::Relaxed)
}

impl Drop for RuntimeThread {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take()
            && std::thread::current().id() != self.thread_id
        {
            let _ = thread.join();
        }
    }
}
