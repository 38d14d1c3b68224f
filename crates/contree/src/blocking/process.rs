//! Blocking interactive processes: [`Exec`], [`Process`] and its pipes, [`Popen`].

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::live::RunHandle;
use super::{ByteReader, Contree, RunOutput, wrapper};
use crate::error::Result;
use crate::{ExecOutput, ExitStatus, Signal};

wrapper! {
    /// A command inside a running VM (see [`crate::Exec`]): [`spawn`](Self::spawn) it,
    /// or [`output`](Self::output) for its result.
    #[must_use = "an Exec does nothing until spawned or run"]
    Exec => Exec, Clone
}

impl Exec {
    super::forward! { Exec:
        env(key: impl Into<String>, value: impl Into<String>);
        cwd(cwd: impl Into<String>);
        uid(uid: u32);
        gid(gid: u32);
        stdin(data: impl AsRef<[u8]>);
        truncate_output_at(bytes: u64);
    }
    /// Runs an executable with these arguments instead of a shell script.
    pub fn args<I, S>(self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            inner: self.inner.args(args),
            client: self.client,
        }
    }
    /// Starts the subprocess with stdin open.
    pub fn spawn(self) -> Result<Process> {
        let inner = self.inner;
        let process = self.client.block_on(async move { inner.spawn().await })?;
        Ok(Process::new(process, self.client))
    }
    /// Runs it to the end and returns its status and output.
    pub fn output(self) -> Result<ExecOutput> {
        self.client.wait(self.inner)
    }
}

/// A running process (see [`crate::Process`]) with blocking pipes: [`ProcessStdin`] is a
/// [`Write`], [`ProcessOutput`] a [`Read`].
///
/// ```no_run
/// # fn demo(img: contree::blocking::Image) -> Result<(), Box<dyn std::error::Error>> {
/// use std::io::{Read as _, Write as _};
/// let mut cat = img.run("cat").spawn()?;
/// let mut stdin = cat.take_stdin().expect("stdin");
/// stdin.write_all(b"hello\n")?;
/// stdin.close()?;
/// let mut out = String::new();
/// cat.take_stdout().expect("stdout").read_to_string(&mut out)?;
/// assert_eq!(out, "hello\n");
/// assert!(cat.wait()?.success());
/// # Ok(()) }
/// ```
pub struct Process {
    inner: Arc<crate::Process>,
    stdin: Option<ProcessStdin>,
    stdout: Option<ProcessOutput>,
    stderr: Option<ProcessOutput>,
    client: Contree,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl Process {
    pub(super) fn new(mut process: crate::Process, client: Contree) -> Self {
        let stdin = process.take_stdin().map(|s| ProcessStdin {
            inner: Some(s),
            client: client.clone(),
        });
        let pipe = |r: Option<crate::OutputReader>| {
            r.map(|r| ProcessOutput {
                reader: ByteReader::new(&client, r),
            })
        };
        let stdout = pipe(process.take_stdout());
        let stderr = pipe(process.take_stderr());
        Self {
            inner: Arc::new(process),
            stdin,
            stdout,
            stderr,
            client,
        }
    }
    /// The operation the process runs in.
    pub fn operation_id(&self) -> &str {
        self.inner.operation_id()
    }
    /// The process's id in its operation (1 for a run's main process).
    pub fn spid(&self) -> u64 {
        self.inner.spid()
    }
    /// The stdin writer, if not taken.
    pub fn stdin(&mut self) -> Option<&mut ProcessStdin> {
        self.stdin.as_mut()
    }
    /// The stdout reader, if not taken.
    pub fn stdout(&mut self) -> Option<&mut ProcessOutput> {
        self.stdout.as_mut()
    }
    /// The stderr reader, if not taken.
    pub fn stderr(&mut self) -> Option<&mut ProcessOutput> {
        self.stderr.as_mut()
    }
    /// Takes the stdin writer.
    pub fn take_stdin(&mut self) -> Option<ProcessStdin> {
        self.stdin.take()
    }
    /// Takes the stdout reader.
    pub fn take_stdout(&mut self) -> Option<ProcessOutput> {
        self.stdout.take()
    }
    /// Takes the stderr reader.
    pub fn take_stderr(&mut self) -> Option<ProcessOutput> {
        self.stderr.take()
    }
    /// The handle of the run this process belongs to.
    pub fn run_handle(&self) -> RunHandle {
        RunHandle {
            inner: self.inner.run_handle(),
            client: self.client.clone(),
        }
    }
    /// Sends `signal` to the process.
    pub fn kill(&self, signal: Signal) -> Result<()> {
        let p = self.inner.clone();
        self.client.wait(async move { p.kill(signal).await })
    }
    /// Waits for the process to exit (close stdin first if it reads to end of input).
    pub fn wait(&self) -> Result<ExitStatus> {
        let p = self.inner.clone();
        self.client.wait(async move { p.wait().await })
    }
    /// For a run's main process: waits for the run and returns its [`RunOutput`].
    pub fn output(&self) -> Result<RunOutput> {
        let p = self.inner.clone();
        self.client.wait(async move { p.output().await })
    }
    /// Runs a command in the same VM (a subprocess).
    pub fn exec(&self, command: impl Into<String>) -> Exec {
        Exec {
            inner: self.inner.exec(command),
            client: self.client.clone(),
        }
    }
}

/// The stdin of a blocking [`Process`]: a [`Write`] whose every `write` is one ordered
/// request the server has accepted when it returns; [`close`](Self::close) sends EOF.
pub struct ProcessStdin {
    inner: Option<crate::ProcessStdin>,
    client: Contree,
}

impl fmt::Debug for ProcessStdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessStdin").finish_non_exhaustive()
    }
}

impl ProcessStdin {
    fn with<T: Send + 'static, Fut>(
        &mut self,
        f: impl FnOnce(crate::ProcessStdin) -> Fut,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = (crate::ProcessStdin, Result<T>)> + Send + 'static,
    {
        let stdin = self
            .inner
            .take()
            .ok_or_else(|| crate::Error::invalid("stdin was lost by an earlier panic"))?;
        let (stdin, out) = self.client.block_on(f(stdin));
        self.inner = Some(stdin);
        out
    }

    /// Writes `data` and waits until the server accepted it.
    pub fn send(&mut self, data: impl Into<Bytes>) -> Result<()> {
        let data = data.into();
        self.with(|mut s| async move {
            let r = s.send(data).await;
            (s, r)
        })
    }

    /// Sends end-of-file (idempotent).
    pub fn close(&mut self) -> Result<()> {
        self.with(|mut s| async move {
            let r = s.close().await;
            (s, r)
        })
    }
}

impl Write for ProcessStdin {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.send(Bytes::copy_from_slice(buf))
            .map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The stdout or stderr of a blocking [`Process`]: a [`Read`] that ends when the
/// process exits.
#[derive(Debug)]
pub struct ProcessOutput {
    reader: ByteReader,
}

impl ProcessOutput {
    /// Reads to the end (the process's exit) into memory.
    pub fn bytes(self) -> Result<Bytes> {
        self.reader.bytes()
    }
}

impl Read for ProcessOutput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.reader.read(buf)
    }
}

/// A process with piped stdin, stdout and stderr, like Python's `subprocess.Popen`
/// (made by [`Run::popen`](super::Run::popen); it is a spawned [`Process`] underneath).
///
/// | Python | here |
/// |---|---|
/// | `Popen(args, stdin=PIPE, stdout=PIPE, stderr=PIPE)` | `image.run(cmd).args(..).popen()?` / `image.shell(script).popen()?` |
/// | `p.stdin.write(b)`, `p.stdout.read()` | `p.stdin()` ([`Write`]), `p.stdout()` ([`Read`]) |
/// | `p.communicate(input)` | [`communicate`](Popen::communicate)`(Some(input))` → `(stdout, stderr)` |
/// | `p.wait()` → returncode | [`wait`](Popen::wait) → [`ExitStatus`] |
/// | `p.poll()` | [`poll`](Popen::poll) |
/// | `p.kill()`, `p.terminate()`, `p.send_signal(s)` | [`kill`](Popen::kill), [`terminate`](Popen::terminate), [`send_signal`](Popen::send_signal) |
/// | `p.returncode` | [`returncode`](Popen::returncode) |
///
/// ```no_run
/// # fn demo(img: contree::blocking::Image) -> contree::Result<()> {
/// let mut p = img.run("tr").args(["a-z", "A-Z"]).popen()?;
/// let (stdout, _stderr) = p.communicate(Some(b"hello\n"))?;
/// assert_eq!(&stdout[..], b"HELLO\n");
/// assert_eq!(p.returncode(), Some(0));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Popen {
    pub(super) process: Process,
}

impl Popen {
    /// The underlying process.
    pub fn process(&mut self) -> &mut Process {
        &mut self.process
    }
    /// The operation the process runs in.
    pub fn operation_id(&self) -> &str {
        self.process.operation_id()
    }
    /// The stdin pipe (`None` once [`communicate`](Self::communicate) closed it).
    pub fn stdin(&mut self) -> Option<&mut ProcessStdin> {
        self.process.stdin()
    }
    /// The stdout pipe (`None` once [`communicate`](Self::communicate) consumed it).
    pub fn stdout(&mut self) -> Option<&mut ProcessOutput> {
        self.process.stdout()
    }
    /// The stderr pipe (`None` once [`communicate`](Self::communicate) consumed it).
    pub fn stderr(&mut self) -> Option<&mut ProcessOutput> {
        self.process.stderr()
    }

    /// Writes `input` (if any) to stdin and closes it, reads stdout and stderr to the
    /// end (both at once, so neither pipe can stall the other), waits for the exit, and
    /// returns `(stdout, stderr)`. Pipes already taken or consumed yield nothing.
    pub fn communicate(&mut self, input: Option<&[u8]>) -> Result<(Bytes, Bytes)> {
        let input = input.map(Bytes::copy_from_slice);
        let stdin = self.process.stdin.take().and_then(|s| s.inner);
        let stdout = self.process.stdout.take();
        let stderr = self.process.stderr.take();
        let client = self.process.client.clone();
        // The pipes' readers run on the caller side; drain them on helper threads while
        // this thread writes stdin and waits.
        let out_t = std::thread::spawn(move || stdout.map(|o| o.bytes()).transpose());
        let err_t = std::thread::spawn(move || stderr.map(|o| o.bytes()).transpose());
        let written = client.block_on(async move {
            if let Some(mut s) = stdin {
                if let Some(data) = input
                    && !data.is_empty()
                {
                    s.send(data).await?;
                }
                s.close().await?;
            }
            Ok::<_, crate::Error>(())
        });
        let status = written.and_then(|()| self.wait());
        let join = |t: std::thread::JoinHandle<Result<Option<Bytes>>>| match t.join() {
            Ok(r) => r.map(Option::unwrap_or_default),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let out = join(out_t);
        let err = join(err_t);
        status?;
        Ok((out?, err?))
    }

    /// Waits for the exit and returns the status (stdin is not closed for you).
    pub fn wait(&mut self) -> Result<ExitStatus> {
        self.process.wait()
    }

    /// The exit status if the process has exited, else `None` (does not block).
    pub fn poll(&mut self) -> Result<Option<ExitStatus>> {
        let p = self.process.inner.clone();
        self.process.client.block_on(async move {
            match tokio::time::timeout(Duration::ZERO, p.wait()).await {
                Ok(r) => r.map(Some),
                Err(_) => Ok(None),
            }
        })
    }

    /// The exit code once known (by [`wait`](Self::wait), [`poll`](Self::poll) or
    /// [`communicate`](Self::communicate)); `-1` when killed by a signal.
    pub fn returncode(&mut self) -> Option<i32> {
        self.poll().ok().flatten().map(|s| s.code)
    }

    /// Sends `signal`.
    pub fn send_signal(&self, signal: Signal) -> Result<()> {
        self.process.kill(signal)
    }
    /// Sends SIGTERM.
    pub fn terminate(&self) -> Result<()> {
        self.send_signal(Signal::Term)
    }
    /// Sends SIGKILL.
    pub fn kill(&self) -> Result<()> {
        self.send_signal(Signal::Kill)
    }
    /// Waits for the run and returns its [`RunOutput`] (with the new image version).
    pub fn output(&self) -> Result<RunOutput> {
        self.process.output()
    }
}
