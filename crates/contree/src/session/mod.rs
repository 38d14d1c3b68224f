//! Sessions: a moving pointer to the newest image version.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::image::Image;
use crate::run::{Run, RunOutput, Target};

/// A session follows an image as it changes: each run starts from the session's current
/// version and, when it yields a new version, moves the session there.
///
/// - Runs on one session are serialised (concurrent awaits queue up in order).
/// - A run that fails (spawn rejected, operation failed, wait timed out, ...) leaves the
///   session at its last good version; the session never gets stuck.
/// - A non-zero exit is not a failure: the run still made a version and the session moves
///   to it. A disposable run does not move the session.
/// - A run that changes nothing (no file, environment or working-directory change) makes no
///   new version: the service answers with the parent's UUID, so the session stays where it
///   is and [`history`](Session::history) does not list that version twice.
/// - The session remembers every version it moved to ([`history`](Session::history)) and
///   can go back ([`checkout`](Session::checkout)) or split ([`fork`](Session::fork)).
///
/// Clones of a `Session` share it (like an `Arc`); `fork()` makes an independent one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> contree::Result<()> {
/// # let mock = contree_mock::MockServer::start().await;
/// # let contree = contree::Contree::builder().base_url(mock.base_url()).token(mock.token())
/// #     .project(mock.project().unwrap_or_default()).build()?;
/// let session = contree.images().use_tag("ubuntu:latest").session();
/// session.shell("echo 1 > /a").await?;             // a new version
/// session.shell("cat /a").await?;                  // changes nothing: the same version
/// assert_eq!(session.history().len(), 2);          // the start, then the version with /a
/// session.shell("echo 2 >> /a").await?;
/// assert_eq!(session.history().len(), 3);
/// session.checkout(1)?; // back to the version where /a holds "1"
/// let other = session.fork();
/// other.shell("rm /a").await?; // `session` still has /a
/// assert_eq!(session.current().read_to_string("/a").await?, "1\n");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<SessionInner>,
}

struct SessionInner {
    run_lock: Arc<tokio::sync::Mutex<()>>,
    state: Mutex<State>,
}

#[derive(Clone)]
struct State {
    current: Image,
    history: Vec<Image>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state();
        f.debug_struct("Session")
            .field("current", &s.current)
            .field("versions", &s.history.len())
            .finish()
    }
}

impl Session {
    pub(crate) fn new(start: Image) -> Self {
        Self::with_state(State {
            current: start.clone(),
            history: vec![start],
        })
    }

    fn with_state(state: State) -> Self {
        Session {
            inner: Arc::new(SessionInner {
                run_lock: Arc::new(tokio::sync::Mutex::new(())),
                state: Mutex::new(state),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current version.
    pub fn current(&self) -> Image {
        self.state().current.clone()
    }

    /// Every version the session moved to, oldest first (the start image first): one entry
    /// per run that made a new version, per [`reset_to`](Self::reset_to) to another image.
    /// A run that changed nothing (its result has the current version's UUID, see the type's
    /// docs), a disposable run and a failed run add nothing; [`checkout`](Self::checkout)
    /// moves within the history without adding to it. Versions are compared by reference (a
    /// lazy tag and the UUID it resolves to are different entries).
    pub fn history(&self) -> Vec<Image> {
        self.state().history.clone()
    }

    /// Moves the session back (or forward) to the version at `index` in
    /// [`history`](Self::history). History is kept unchanged; later runs append to it.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `index` is past the end of the history.
    pub fn checkout(&self, index: usize) -> Result<Image> {
        let mut s = self.state();
        let image = s.history.get(index).cloned().ok_or_else(|| {
            Error::invalid(format!(
                "session history has {} versions; index {index} is out of range",
                s.history.len()
            ))
        })?;
        s.current = image.clone();
        Ok(image)
    }

    /// Moves the session to any image (e.g. one from another session's history); it is
    /// appended to the history unless it is the current version already.
    pub fn reset_to(&self, image: Image) {
        let mut s = self.state();
        if s.current != image {
            s.history.push(image.clone());
        }
        s.current = image;
    }

    /// An independent session starting at this one's current version, with a copy of its
    /// history.
    pub fn fork(&self) -> Session {
        Self::with_state(self.state().clone())
    }

    /// A shell script to run from the current version; awaiting it advances the session.
    pub fn shell(&self, script: impl Into<String>) -> Run {
        let client = self.current().client.clone();
        Run::new(client, Target::Session(self.clone()), script.into(), true)
    }

    /// An executable to run from the current version; awaiting it advances the session.
    pub fn run(&self, command: impl Into<String>) -> Run {
        let client = self.current().client.clone();
        Run::new(client, Target::Session(self.clone()), command.into(), false)
    }

    /// A run that only places files (the command is `true`); awaiting it advances the
    /// session to a version with the files baked in.
    pub fn apply_files(&self, files: impl IntoIterator<Item = crate::run::FileSpec>) -> Run {
        files
            .into_iter()
            .fold(self.shell("true"), |run, f| run.file_spec(f))
    }

    /// Waits for the session's turn (runs are serialised); the guard keeps other runs out
    /// until dropped. Used by streamed, started and spawned runs.
    pub(crate) async fn lock_runs(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.inner.run_lock.clone().lock_owned().await
    }

    /// Moves the session to the version `out` produced (none for disposable runs).
    pub(crate) fn advance(&self, out: &RunOutput) {
        if let Some(next) = out.image() {
            let mut s = self.state();
            // A run that changed nothing made no new version (the service returns the
            // parent's UUID): the session is already there, so history does not repeat it.
            if s.current != *next {
                s.history.push(next.clone());
            }
            s.current = next.clone();
        }
    }

    /// Runs `run` serialised with the session's other runs, from its current version,
    /// and advances to the version it made.
    pub(crate) async fn execute(&self, run: Run) -> Result<RunOutput> {
        let _guard = self.inner.run_lock.lock().await;
        let start = self.current();
        // Advanced to the version the run made as soon as it exists (a failed tag request
        // afterwards does not leave the session behind).
        run.execute_on(start, Some(self)).await
    }
}
