//! Typed command rules for tests ([`MockServer::on_command`](crate::MockServer::on_command)) and
//! the log of the commands the mock ran ([`MockServer::commands`](crate::MockServer::commands)).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use crate::executor::{Executor, Process};

/// A command the mock was asked to run, as the request carried it.
///
/// Recorded for every process, in the order they started: the main process of each spawned
/// instance (`spid` 1) and each subprocess (`spid` 2, 3, ...). Rules see the same value.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = contree_mock::MockServer::start().await;
/// // ... run something through your client, then:
/// for c in server.commands() {
///     println!("{} (spid {}) on {}: {}", c.operation, c.spid, c.image, c.line());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// The operation (instance) UUID.
    pub operation: String,
    /// The process id within the operation: 1 for the main process, 2, 3, ... for subprocesses.
    pub spid: u32,
    /// The UUID of the image the instance runs on (a tag in the request is resolved).
    pub image: String,
    /// `command` of the request (a script when [`shell`](Self::shell) is true).
    pub command: String,
    /// `args` of the request (empty for `shell: true`, which ignores them like the service).
    pub args: Vec<String>,
    /// `shell` of the request.
    pub shell: bool,
    /// `env` of the request (empty when it sent none or `null`); the image's and the default
    /// variables are not included.
    pub env: BTreeMap<String, String>,
    /// The working directory: `cwd` of the request, or the image's default when it sent none.
    pub cwd: String,
    /// The user id the process runs as.
    pub uid: u32,
    /// The group id the process runs as.
    pub gid: u32,
    /// The decoded `stdin.value` of the request (bytes sent later through the stdin endpoint
    /// are not included).
    pub stdin: Bytes,
    /// The request's `files`, by path (the main process only; subprocesses have none).
    pub files: BTreeMap<String, CommandFile>,
    /// The index of the [`on_command`](crate::MockServer::on_command) rule that answered it
    /// (0 for the first rule registered), or `None` when it went to the executor.
    pub rule: Option<usize>,
}

impl Command {
    /// The command line: `command` for `shell: true`, else `command` and `args` joined by
    /// spaces.
    ///
    /// ```
    /// # let c = contree_mock::Command::example("make", &["test", "-j2"]);
    /// assert_eq!(c.line(), "make test -j2");
    /// assert!(c.contains("make test"));
    /// ```
    pub fn line(&self) -> String {
        if self.shell || self.args.is_empty() {
            return self.command.clone();
        }
        let mut line = self.command.clone();
        for a in &self.args {
            line.push(' ');
            line.push_str(a);
        }
        line
    }

    /// Whether the [command line](Self::line) contains `needle`.
    pub fn contains(&self, needle: &str) -> bool {
        self.line().contains(needle)
    }

    /// A command of `program` with `args` (`shell: false`), for examples and matcher tests.
    #[doc(hidden)]
    pub fn example(program: &str, args: &[&str]) -> Command {
        Command {
            operation: String::new(),
            spid: 1,
            image: String::new(),
            command: program.to_string(),
            args: args.iter().map(|a| a.to_string()).collect(),
            shell: false,
            env: BTreeMap::new(),
            cwd: "/".to_string(),
            uid: 0,
            gid: 0,
            stdin: Bytes::new(),
            files: BTreeMap::new(),
            rule: None,
        }
    }
}

/// A file a spawn request placed (`files` of the request).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandFile {
    /// The uploaded file's UUID.
    pub uuid: String,
    /// Its content.
    pub data: Bytes,
    /// The permission bits (`0o644` unless the request said otherwise).
    pub mode: u32,
    /// The owner's user id.
    pub uid: u32,
    /// The owner's group id.
    pub gid: u32,
}

type Matcher = Arc<dyn Fn(&Command) -> bool + Send + Sync>;

/// What a rule does when it answers a command.
#[derive(Debug, Clone, Default)]
struct Action {
    stdout: Bytes,
    stderr: Bytes,
    exit: i32,
    writes: Vec<(String, Bytes)>,
    delay: Duration,
    /// Uses left (`None`: unlimited).
    times: Option<u64>,
    hits: u64,
}

struct Rule {
    matcher: Matcher,
    action: Mutex<Action>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A rule registered with [`MockServer::on_command`](crate::MockServer::on_command): what the
/// matching commands do instead of running in the simulated shell.
///
/// The rule is active as soon as `on_command` returns; each method changes it in place (there is
/// nothing to install) and returns it for chaining. By default a matching command prints
/// nothing, writes nothing and exits 0, for every match. When it answers, a rule waits its
/// [`delay`](Self::delay), then writes its files, then its stdout and stderr, then exits.
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let server = contree_mock::MockServer::start().await;
/// let rule = server
///     .on_command(|c| c.contains("make test"))
///     .stdout("ok\n")
///     .stderr("")
///     .exit(0)
///     .writes("/out/report.json", br#"{"passed": 3}"#)
///     .delay(Duration::from_millis(10))
///     .times(2);
/// assert_eq!(rule.hits(), 0);
/// # }
/// ```
#[derive(Clone)]
pub struct CommandRule {
    rule: Arc<Rule>,
}

impl fmt::Debug for CommandRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandRule")
            .field("action", &*lock(&self.rule.action))
            .finish_non_exhaustive()
    }
}

impl CommandRule {
    fn with(self, f: impl FnOnce(&mut Action)) -> Self {
        f(&mut lock(&self.rule.action));
        self
    }

    /// What the command prints on stdout (replaces an earlier value).
    pub fn stdout(self, data: impl AsRef<[u8]>) -> Self {
        let data = Bytes::copy_from_slice(data.as_ref());
        self.with(|a| a.stdout = data)
    }

    /// What the command prints on stderr (replaces an earlier value).
    pub fn stderr(self, data: impl AsRef<[u8]>) -> Self {
        let data = Bytes::copy_from_slice(data.as_ref());
        self.with(|a| a.stderr = data)
    }

    /// The exit status (default 0), reported as the process's exit code like a real one.
    pub fn exit(self, code: i32) -> Self {
        self.with(|a| a.exit = code)
    }

    /// Writes `data` to `path` in the instance's filesystem (a relative path is taken from the
    /// working directory; missing directories are created), owned by the process's uid/gid with
    /// mode `0644`. Later processes of the instance, `inspect` of the result image and runs
    /// from it see the file. Several calls write several files, in order.
    pub fn writes(self, path: impl Into<String>, data: impl AsRef<[u8]>) -> Self {
        let (path, data) = (path.into(), Bytes::copy_from_slice(data.as_ref()));
        self.with(|a| a.writes.push((path, data)))
    }

    /// Waits `d` before doing anything else (the process is running meanwhile: it can be
    /// killed, time out or be cancelled, and then writes and prints nothing).
    pub fn delay(self, d: Duration) -> Self {
        self.with(|a| a.delay = d)
    }

    /// Answers only the next `n` matching commands; after that the rule is exhausted and
    /// commands fall through to the next rules and the executor.
    pub fn times(self, n: u64) -> Self {
        self.with(|a| a.times = Some(n))
    }

    /// How many commands this rule has answered.
    pub fn hits(&self) -> u64 {
        lock(&self.rule.action).hits
    }
}

/// The rules in registration order and the command log.
#[derive(Default)]
pub(crate) struct Rules {
    rules: Mutex<Vec<Arc<Rule>>>,
    log: Mutex<Vec<Command>>,
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("rules", &lock(&self.rules).len())
            .field("commands", &lock(&self.log).len())
            .finish()
    }
}

impl Rules {
    pub(crate) fn add(&self, matcher: Matcher) -> CommandRule {
        let rule = Arc::new(Rule {
            matcher,
            action: Mutex::new(Action::default()),
        });
        lock(&self.rules).push(rule.clone());
        CommandRule { rule }
    }

    pub(crate) fn clear(&self) {
        lock(&self.rules).clear();
    }

    pub(crate) fn commands(&self) -> Vec<Command> {
        lock(&self.log).clone()
    }

    /// The first rule with uses left whose matcher accepts `cmd` (one use taken), by index.
    /// Matchers run without any of the mock's locks held.
    fn take(&self, cmd: &Command) -> Option<(usize, Action)> {
        let rules = lock(&self.rules).clone();
        for (i, rule) in rules.iter().enumerate() {
            let live = |a: &Action| a.times.is_none_or(|n| a.hits < n);
            if !live(&lock(&rule.action)) || !(rule.matcher)(cmd) {
                continue;
            }
            let mut a = lock(&rule.action);
            if live(&a) {
                a.hits += 1;
                return Some((i, a.clone()));
            }
        }
        None
    }
}

/// What the request asked for, carried from the handler to the process (see [`Command`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Asked {
    pub(crate) image: Option<Uuid>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) files: BTreeMap<String, CommandFile>,
}

impl Asked {
    /// The [`Command`] record of a process.
    pub(crate) fn command(
        &self,
        op: Uuid,
        spid: u32,
        spec: &crate::shell::ProcessSpec,
        stdin: &[u8],
    ) -> Command {
        Command {
            operation: op.to_string(),
            spid,
            image: self.image.map(|u| u.to_string()).unwrap_or_default(),
            command: spec.command.clone(),
            args: spec.args.clone(),
            shell: spec.shell,
            env: self.env.clone(),
            cwd: spec.cwd.clone(),
            uid: spec.uid,
            gid: spec.gid,
            stdin: Bytes::copy_from_slice(stdin),
            files: self.files.clone(),
            rule: None,
        }
    }
}

/// Runs one process: the first matching rule answers it, else `fallback` runs it. The command
/// is logged (with the rule that answered) before it starts.
pub(crate) async fn execute(rules: &Rules, fallback: Arc<dyn Executor>, mut p: Process) -> i32 {
    let taken = rules.take(&p.command);
    p.command.rule = taken.as_ref().map(|(i, _)| *i);
    lock(&rules.log).push(p.command.clone());
    match taken {
        Some((_, action)) => answer(action, p).await,
        None => fallback.run(p).await,
    }
}

/// What a rule does: delay, writes, stdout, stderr, exit status.
async fn answer(a: Action, p: Process) -> i32 {
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    let mut failed = Vec::new();
    {
        let mut fs = lock(&p.fs);
        for (path, data) in &a.writes {
            let full = if path.starts_with('/') {
                path.clone()
            } else {
                format!("{}/{path}", p.spec.cwd.trim_end_matches('/'))
            };
            let parent = full.rsplit_once('/').map_or("/", |(d, _)| d);
            let res = (if parent.is_empty() {
                Ok(())
            } else {
                fs.mkdir_p(parent)
            })
            .and_then(|()| fs.write_with(&full, data.clone(), 0o644, p.spec.uid, p.spec.gid));
            if let Err(e) = res {
                failed.push(format!(
                    "contree-mock rule: cannot write {full}: {e}; fix the rule's writes() path\n"
                ));
            }
        }
    }
    if !a.stdout.is_empty() {
        let _ = p.io.stdout.send(a.stdout);
    }
    if !a.stderr.is_empty() {
        let _ = p.io.stderr.send(a.stderr);
    }
    if failed.is_empty() {
        return a.exit;
    }
    let _ = p.io.stderr.send(Bytes::from(failed.concat()));
    1
}

impl crate::MockServer {
    /// Adds a rule: the commands `matcher` accepts get the rule's stdout, stderr, exit status,
    /// file writes and delay instead of running in the simulated shell (or the
    /// [`executor`](crate::MockServerBuilder::executor)).
    ///
    /// Rules are tried in the order they were added, for the main process of every spawned
    /// instance and for every subprocess; the first one with uses left whose matcher accepts
    /// the [`Command`] answers it, and a command no rule accepts falls through to the shell. The
    /// matcher runs on the server's tasks: keep it quick and do not call the server from it.
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let server = contree_mock::MockServer::start().await;
    /// // The first `make test` fails, every later one passes and leaves a report behind.
    /// server.on_command(|c| c.contains("make test")).stderr("flaky\n").exit(2).times(1);
    /// server
    ///     .on_command(|c| c.contains("make test"))
    ///     .stdout("ok\n")
    ///     .writes("/out/report.json", b"{}")
    ///     .delay(Duration::from_millis(5));
    /// // Anything else (`ls`, `cat /out/report.json`, ...) runs in the simulated shell.
    /// # }
    /// ```
    pub fn on_command(
        &self,
        matcher: impl Fn(&Command) -> bool + Send + Sync + 'static,
    ) -> CommandRule {
        self.shared.rules.add(Arc::new(matcher))
    }

    /// Removes every [`on_command`](Self::on_command) rule (the command log stays).
    pub fn clear_rules(&self) {
        self.shared.rules.clear();
    }

    /// The commands the mock was asked to run so far, in the order they started, with the
    /// rule that answered each (see [`Command`]).
    ///
    /// ```
    /// let server = contree_mock::MockServer::start_blocking();
    /// assert!(server.commands().is_empty());
    /// ```
    pub fn commands(&self) -> Vec<Command> {
        self.shared.rules.commands()
    }
}
