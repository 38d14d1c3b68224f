//! Streams of the simulated processes: shared inputs, outputs and buffered writers.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::fs::Fs;

/// A writer emits once this many bytes are buffered...
pub(crate) const CHUNK_MIN: usize = 4096;
/// ...in chunks of at most this many bytes.
pub(crate) const CHUNK_MAX: usize = 8192;
/// Reads of in-memory data hand out at most this much at once.
const READ_MAX: usize = 64 * 1024;
/// Cap for reading a whole stream into memory (`sort`, `tail`, `$(...)`, ...).
pub(crate) const SLURP_MAX: usize = 64 * 1024 * 1024;

/// Locks the filesystem (a poisoned lock is still usable: the tree is always consistent).
pub(crate) fn lock(fs: &Arc<Mutex<Fs>>) -> MutexGuard<'_, Fs> {
    fs.lock().unwrap_or_else(|e| e.into_inner())
}

/// The deterministic generator behind `/dev/urandom` (splitmix64).
#[derive(Debug)]
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn fill(&mut self, n: usize) -> Bytes {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        Bytes::from(v)
    }
}

enum Source {
    Empty,
    Chan(mpsc::Receiver<Bytes>),
    Data(Bytes),
    Zero,
    Random(Arc<Mutex<Rng>>),
}

struct InputState {
    src: Source,
    pending: Bytes,
}

/// A readable stream, shared by the commands that read it in turn (like an inherited fd).
#[derive(Clone)]
pub(crate) struct Input(Arc<tokio::sync::Mutex<InputState>>);

impl Input {
    fn new(src: Source) -> Input {
        Input(Arc::new(tokio::sync::Mutex::new(InputState {
            src,
            pending: Bytes::new(),
        })))
    }

    /// End of file at once.
    pub(crate) fn empty() -> Input {
        Input::new(Source::Empty)
    }

    /// Chunks from a channel until the sender is dropped.
    pub(crate) fn chan(rx: mpsc::Receiver<Bytes>) -> Input {
        Input::new(Source::Chan(rx))
    }

    /// In-memory data.
    pub(crate) fn data(b: Bytes) -> Input {
        Input::new(Source::Data(b))
    }

    /// Endless zero bytes (`/dev/zero`).
    pub(crate) fn zero() -> Input {
        Input::new(Source::Zero)
    }

    /// Endless seeded pseudo-random bytes (`/dev/urandom`).
    pub(crate) fn random(rng: Arc<Mutex<Rng>>) -> Input {
        Input::new(Source::Random(rng))
    }

    /// The next chunk, `None` at end of file. Cancel-safe.
    pub(crate) async fn read(&self) -> Option<Bytes> {
        let mut st = self.0.lock().await;
        if !st.pending.is_empty() {
            return Some(std::mem::take(&mut st.pending));
        }
        read_src(&mut st.src).await
    }

    /// One line including its `\n` (the last line may lack it), `None` at end of file.
    pub(crate) async fn read_line(&self) -> Option<Bytes> {
        let mut st = self.0.lock().await;
        let mut line = BytesMut::new();
        loop {
            if st.pending.is_empty() {
                match read_src(&mut st.src).await {
                    Some(b) => st.pending = b,
                    None => {
                        return if line.is_empty() {
                            None
                        } else {
                            Some(line.freeze())
                        };
                    }
                }
            }
            if let Some(pos) = st.pending.iter().position(|&c| c == b'\n') {
                let head = st.pending.split_to(pos + 1);
                line.extend_from_slice(&head);
                return Some(line.freeze());
            }
            let all = std::mem::take(&mut st.pending);
            line.extend_from_slice(&all);
            if line.len() > SLURP_MAX {
                return Some(line.freeze());
            }
        }
    }

    /// Everything up to end of file (at most [`SLURP_MAX`] bytes).
    pub(crate) async fn read_all(&self) -> Bytes {
        let mut all = BytesMut::new();
        while let Some(b) = self.read().await {
            all.extend_from_slice(&b);
            if all.len() >= SLURP_MAX {
                all.truncate(SLURP_MAX);
                break;
            }
        }
        all.freeze()
    }
}

async fn read_src(src: &mut Source) -> Option<Bytes> {
    match src {
        Source::Empty => None,
        Source::Chan(rx) => loop {
            match rx.recv().await {
                Some(b) if b.is_empty() => continue,
                other => return other,
            }
        },
        Source::Data(d) => {
            if d.is_empty() {
                None
            } else {
                let n = d.len().min(READ_MAX);
                Some(d.split_to(n))
            }
        }
        Source::Zero => {
            tokio::task::coop::consume_budget().await;
            Some(Bytes::from(vec![0u8; CHUNK_MAX]))
        }
        Source::Random(rng) => {
            tokio::task::coop::consume_budget().await;
            Some(
                rng.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .fill(CHUNK_MAX),
            )
        }
    }
}

/// The reader of a pipe or the stdout of the process went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Broken;

/// A writable stream.
#[derive(Clone)]
pub(crate) enum Output {
    /// Discards everything (`/dev/null`, closed descriptors).
    Null,
    /// A standard stream of the process (1 or 2), multiplexed towards the server.
    Proc(mpsc::UnboundedSender<(u8, Bytes)>, u8, Arc<Closed>),
    /// A pipe to the next pipeline stage.
    Pipe(mpsc::Sender<Bytes>),
    /// Appends to a file (canonical path).
    File(Arc<Mutex<Fs>>, String),
    /// Collects into memory (command substitution).
    Capture(Arc<Mutex<Vec<u8>>>),
}

impl Output {
    pub(crate) async fn write(&self, data: Bytes) -> Result<(), Broken> {
        if data.is_empty() {
            return Ok(());
        }
        match self {
            Output::Null => Ok(()),
            Output::Proc(tx, fd, closed) => {
                if closed.is_closed(*fd) {
                    return Err(Broken);
                }
                tx.send((*fd, data)).map_err(|_| Broken)
            }
            Output::Pipe(tx) => tx.send(data).await.map_err(|_| Broken),
            Output::File(fs, path) => lock(fs).append(path, &data).map_err(|_| Broken),
            Output::Capture(buf) => {
                let mut b = buf.lock().unwrap_or_else(|e| e.into_inner());
                if b.len() + data.len() > SLURP_MAX {
                    return Err(Broken);
                }
                b.extend_from_slice(&data);
                Ok(())
            }
        }
    }
}

/// A buffered writer emitting chunks of a few KB.
pub(crate) struct Writer {
    out: Output,
    buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn new(out: Output) -> Writer {
        Writer {
            out,
            buf: Vec::new(),
        }
    }

    /// Buffers `data`, emitting full chunks.
    pub(crate) async fn write(&mut self, data: &[u8]) -> Result<(), Broken> {
        self.buf.extend_from_slice(data);
        while self.buf.len() >= CHUNK_MIN {
            let n = self.buf.len().min(CHUNK_MAX);
            let rest = self.buf.split_off(n);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.out.write(Bytes::from(chunk)).await?;
            tokio::task::coop::consume_budget().await;
        }
        Ok(())
    }

    /// Writes a string.
    pub(crate) async fn put(&mut self, s: &str) -> Result<(), Broken> {
        self.write(s.as_bytes()).await
    }

    /// Emits everything buffered.
    pub(crate) async fn flush(&mut self) -> Result<(), Broken> {
        while !self.buf.is_empty() {
            let n = self.buf.len().min(CHUNK_MAX);
            let rest = self.buf.split_off(n);
            let chunk = std::mem::replace(&mut self.buf, rest);
            self.out.write(Bytes::from(chunk)).await?;
        }
        Ok(())
    }
}

/// Which of the server's output channels (stdout, stderr) stopped listening.
#[derive(Debug, Default)]
pub(crate) struct Closed([std::sync::atomic::AtomicBool; 3]);

impl Closed {
    fn is_closed(&self, fd: u8) -> bool {
        self.0
            .get(usize::from(fd))
            .is_some_and(|b| b.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn close(&self, fd: u8) {
        if let Some(b) = self.0.get(usize::from(fd)) {
            b.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Forwards process output to the server's channels in order, merging chunks of the same
/// stream that were written back to back while the process did not wait (e.g. `echo` in a
/// loop), up to [`CHUNK_MAX`] bytes.
pub(crate) async fn forward(
    mut rx: mpsc::UnboundedReceiver<(u8, Bytes)>,
    stdout: mpsc::UnboundedSender<Bytes>,
    stderr: mpsc::UnboundedSender<Bytes>,
    closed: Arc<Closed>,
) {
    let mut held: Option<(u8, Bytes)> = None;
    loop {
        let (fd, first) = match held.take() {
            Some(h) => h,
            None => match rx.recv().await {
                Some(m) => m,
                None => return,
            },
        };
        let mut buf = BytesMut::from(&first[..]);
        while buf.len() < CHUNK_MIN {
            match rx.try_recv() {
                Ok((f, b)) if f == fd && buf.len() + b.len() <= CHUNK_MAX => {
                    buf.extend_from_slice(&b)
                }
                Ok(other) => {
                    held = Some(other);
                    break;
                }
                Err(_) => break,
            }
        }
        let tx = if fd == 2 { &stderr } else { &stdout };
        if tx.send(buf.freeze()).is_err() {
            // The server stopped listening: further writes to this stream fail (like EPIPE).
            closed.close(fd);
        }
    }
}
