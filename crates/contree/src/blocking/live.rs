//! Blocking live output, detached runs, operations, fan-out and interactive processes.

use std::time::Duration;

use futures_util::StreamExt as _;

use super::process::{Exec, Popen, Process};
use super::{Contree, Image, IntoBlocking, Iter, Run, RunOutput, wrapper};
use crate::error::Result;
use crate::{
    Event, ExecOutput, ExitStatus, OperationInfo, OperationKind, OperationStatus, RunEvent,
    TimeFilter,
};

super::plain_data!(OperationInfo, ExitStatus, ExecOutput);

impl Run {
    /// Streams the run live: an iterator of [`RunEvent`]s (stdout/stderr chunks, exit,
    /// completion) ending with [`RunEvent::Output`] (see [`crate::Run::stream`]).
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// for event in img.shell("for i in 1 2 3; do echo $i; sleep 1; done").stream() {
    ///     match event? {
    ///         contree::RunEvent::Stdout(chunk) => print!("{}", String::from_utf8_lossy(&chunk)),
    ///         contree::RunEvent::Output(out) => println!("exit {}", out.exit_code()),
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream(self) -> Iter<Result<RunEvent>> {
        Iter::new(&self.client, self.inner.stream())
    }

    /// Spawns the run and returns at once with a detached [`RunHandle`].
    pub fn start(self) -> Result<RunHandle> {
        let inner = self.inner;
        let handle = self.client.block_on(async move { inner.start().await })?;
        Ok(RunHandle {
            inner: handle,
            client: self.client,
        })
    }

    /// Spawns the run as an interactive [`Process`] (stdin open, output live).
    pub fn spawn(self) -> Result<Process> {
        let inner = self.inner;
        let process = self.client.block_on(async move { inner.spawn().await })?;
        Ok(Process::new(process, self.client))
    }

    /// Starts the run like Python's `subprocess.Popen(..., stdin=PIPE, stdout=PIPE,
    /// stderr=PIPE)`: see [`Popen`].
    pub fn popen(self) -> Result<Popen> {
        Ok(Popen {
            process: self.spawn()?,
        })
    }
}

wrapper! {
    /// A detached run (see [`crate::RunHandle`]): its operation id, live events, wait,
    /// cancel, exec. Re-attach from the id with [`Operations::attach`].
    ///
    /// ```no_run
    /// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
    /// let handle = img.shell("make test").start()?;
    /// let id = handle.operation_id().to_string();
    /// let again = img.client().operations().attach(id);
    /// let out = again.wait()?;
    /// # let _ = out; Ok(()) }
    /// ```
    RunHandle => RunHandle, Clone
}

impl RunHandle {
    /// The operation id.
    pub fn operation_id(&self) -> &str {
        self.inner.operation_id()
    }
    /// The operation's current state.
    pub fn status(&self) -> Result<OperationInfo> {
        let h = self.inner.clone();
        self.client.wait(async move { h.status().await })
    }
    /// The run's events from the start, live, ending with [`RunEvent::Output`].
    pub fn events(&self) -> Iter<Result<RunEvent>> {
        Iter::new(&self.client, self.inner.events())
    }
    /// The run's events after event id `since`.
    pub fn events_since(&self, since: u64) -> Iter<Result<RunEvent>> {
        Iter::new(&self.client, self.inner.events_since(since))
    }
    /// Waits for the run to finish and returns its output.
    pub fn wait(&self) -> Result<RunOutput> {
        let h = self.inner.clone();
        self.client.wait(async move { h.wait().await })
    }
    /// Like [`wait`](Self::wait), giving up after `deadline`.
    pub fn wait_timeout(&self, deadline: Duration) -> Result<RunOutput> {
        let h = self.inner.clone();
        self.client
            .wait(async move { h.wait_timeout(deadline).await })
    }
    /// Asks the server to cancel the run.
    pub fn cancel(&self) -> Result<()> {
        let h = self.inner.clone();
        self.client.wait(async move { h.cancel().await })
    }
    /// A command to run inside this run's VM while it runs.
    pub fn exec(&self, command: impl Into<String>) -> Exec {
        Exec {
            inner: self.inner.exec(command),
            client: self.client.clone(),
        }
    }
}

wrapper! {
    /// Operations: `contree.operations()` (see [`crate::Operations`]).
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree) -> contree::Result<()> {
    /// use contree::OperationStatus;
    /// for op in contree.operations().list().status(OperationStatus::Executing).stream() {
    ///     contree.operations().cancel(&op?.id)?;
    /// }
    /// # Ok(()) }
    /// ```
    Operations => Operations, Clone
}

impl Contree {
    /// Operations: get, list, cancel, wait, events, re-attach (see [`Operations`]).
    pub fn operations(&self) -> Operations {
        Operations {
            inner: self.client.operations(),
            client: self.clone(),
        }
    }

    /// Runs many [`Run`]s with a concurrency bound (see [`FanOut`]).
    pub fn fan_out(&self, runs: impl IntoIterator<Item = Run>) -> FanOut {
        FanOut {
            inner: self.client.fan_out(runs.into_iter().map(|r| r.inner)),
            client: self.clone(),
        }
    }
}

impl Operations {
    /// The current state of an operation.
    pub fn get(&self, id: &str) -> Result<OperationInfo> {
        let (ops, id) = (self.inner.clone(), id.to_string());
        self.client.wait(async move { ops.get(&id).await })
    }
    /// Lists operations: [`output`](ListOperations::output) for a page,
    /// [`stream`](ListOperations::stream) for all.
    pub fn list(&self) -> ListOperations {
        ListOperations {
            inner: self.inner.list(),
            client: self.client.clone(),
        }
    }
    /// Asks the server to cancel an operation.
    pub fn cancel(&self, id: &str) -> Result<()> {
        let (ops, id) = (self.inner.clone(), id.to_string());
        self.client.wait(async move { ops.cancel(&id).await })
    }
    /// A handle to a run known only by its operation id (no request is made).
    pub fn attach(&self, id: impl Into<String>) -> RunHandle {
        RunHandle {
            inner: self.inner.attach(id),
            client: self.client.clone(),
        }
    }
    /// The operation's typed event log, live until `completion`.
    pub fn events(&self, id: &str) -> Iter<Result<Event>> {
        Iter::new(&self.client, self.inner.events(id))
    }
    /// Like [`events`](Self::events), but only events after event id `since`.
    pub fn events_since(&self, id: &str, since: u64) -> Iter<Result<Event>> {
        Iter::new(&self.client, self.inner.events_since(id, since))
    }
    /// Like [`events_since`](Self::events_since) (all events when `since` is `None`), ending
    /// with an error of kind [`Timeout`](crate::ErrorKind::Timeout) after `deadline` (see
    /// [`crate::Operations::events_with_deadline`]).
    ///
    /// ```no_run
    /// # fn demo(contree: contree::blocking::Contree, id: &str) -> contree::Result<()> {
    /// use std::time::Duration;
    /// for ev in contree.operations().events_with_deadline(id, None, Duration::from_secs(30)) {
    ///     match ev {
    ///         Ok(ev) => println!("{:?}", ev.kind),
    ///         Err(e) if e.kind() == contree::ErrorKind::Timeout => break, // still running
    ///         Err(e) => return Err(e),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn events_with_deadline(
        &self,
        id: &str,
        since: Option<u64>,
        deadline: Duration,
    ) -> Iter<Result<Event>> {
        Iter::new(
            &self.client,
            self.inner.events_with_deadline(id, since, deadline),
        )
    }
    /// Waits until the operation is terminal (see [`crate::Operations::wait`]).
    pub fn wait(&self, id: &str, deadline: Duration) -> Result<OperationInfo> {
        let (ops, id) = (self.inner.clone(), id.to_string());
        self.client
            .wait(async move { ops.wait(&id, deadline).await })
    }
    /// Waits for every run; results in the order of `handles`.
    pub fn wait_all(&self, handles: &[RunHandle]) -> Vec<Result<RunOutput>> {
        let ops = self.inner.clone();
        let hs: Vec<_> = handles.iter().map(|h| h.inner.clone()).collect();
        self.client.wait(async move { ops.wait_all(&hs).await })
    }
    /// Waits for the first run to finish: its index in `handles` and its output.
    pub fn wait_any(&self, handles: &[RunHandle]) -> Option<(usize, Result<RunOutput>)> {
        let ops = self.inner.clone();
        let hs: Vec<_> = handles.iter().map(|h| h.inner.clone()).collect();
        self.client
            .block_on(async move { ops.wait_any(&hs).await })
            .map(|(i, out)| (i, out.into_blocking(&self.client)))
    }
}

wrapper! {
    /// Lists operations (see [`crate::ListOperations`]).
    #[must_use = "a ListOperations does nothing until sent or streamed"]
    ListOperations => ListOperations, Clone
}

impl ListOperations {
    super::forward! { ListOperations:
        limit(limit: u32);
        offset(offset: u64);
        status(status: OperationStatus);
        kind(kind: OperationKind);
        since(since: impl Into<TimeFilter>);
        until(until: impl Into<TimeFilter>);
    }
    /// Fetches one page.
    pub fn output(self) -> Result<Vec<OperationInfo>> {
        self.client.wait(self.inner)
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Result<Vec<OperationInfo>> {
        self.output()
    }
    /// Every matching operation, fetching pages as the iterator advances.
    pub fn stream(self) -> Iter<Result<OperationInfo>> {
        Iter::new(&self.client, self.inner.stream())
    }
}

wrapper! {
    /// Many runs at once with a concurrency bound (see [`crate::FanOut`]).
    ///
    /// ```no_run
    /// # fn demo(base: contree::blocking::Image) -> contree::Result<()> {
    /// for r in base.fan_out_shell(["echo a", "echo b", "echo c"]).concurrency(2).stream() {
    ///     println!("#{} -> {}", r.index, r.output?.stdout_lossy());
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use = "a FanOut does nothing until sent or streamed"]
    FanOut => FanOut
}

/// One finished run of a [`FanOut`].
#[derive(Debug)]
#[non_exhaustive]
pub struct FanOutResult {
    /// The run's position in the input.
    pub index: usize,
    /// Its output.
    pub output: Result<RunOutput>,
}

impl FanOut {
    super::forward! { FanOut:
        concurrency(n: usize);
    }
    /// Runs them all; results in input order.
    pub fn output(self) -> Vec<Result<RunOutput>> {
        self.client.wait(self.inner)
    }

    /// The old name of [`output`](Self::output), which every blocking builder now ends with.
    #[deprecated(
        since = "0.1.0",
        note = "use output(): every blocking builder ends with output()"
    )]
    pub fn send(self) -> Vec<Result<RunOutput>> {
        self.output()
    }
    /// Results as the runs finish.
    pub fn stream(self) -> Iter<FanOutResult> {
        let c = self.client.clone();
        let stream = self.inner.stream().map(move |r| FanOutResult {
            index: r.index,
            output: r.output.into_blocking(&c),
        });
        Iter::new(&self.client, stream)
    }
}

impl Image {
    /// Runs each shell script from this version, in parallel (see [`FanOut`]).
    pub fn fan_out_shell<I, S>(&self, scripts: I) -> FanOut
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FanOut {
            inner: self.inner.fan_out_shell(scripts),
            client: self.client.clone(),
        }
    }
}
