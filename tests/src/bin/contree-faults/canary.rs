//! The secrets canary: every TRACE log line of the run is scanned for the token.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of what the canary scanned.
#[derive(Debug, Default)]
pub struct Scanned {
    pub lines: AtomicU64,
    pub bytes: AtomicU64,
    pub leaks: AtomicU64,
}

/// A `MakeWriter` that scans every log line for the canary and keeps nothing.
#[derive(Clone)]
pub struct CanaryWriter {
    canary: Arc<str>,
    pub scanned: Arc<Scanned>,
}

impl CanaryWriter {
    pub fn new(canary: &str) -> Self {
        CanaryWriter {
            canary: Arc::from(canary),
            scanned: Arc::new(Scanned::default()),
        }
    }

    /// Scans `text` (an error rendering, a log line); true when it leaks the canary.
    pub fn check(&self, text: &[u8]) -> bool {
        let leak = contains(text, self.canary.as_bytes());
        self.scanned.lines.fetch_add(1, Ordering::Relaxed);
        self.scanned
            .bytes
            .fetch_add(text.len() as u64, Ordering::Relaxed);
        if leak {
            self.scanned.leaks.fetch_add(1, Ordering::Relaxed);
        }
        leak
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

impl io::Write for CanaryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.check(buf) {
            // Shown redacted, so the report itself does not spread it.
            let line = String::from_utf8_lossy(buf).replace(&*self.canary, "<CANARY>");
            eprintln!("faults: canary leaked in a log line: {}", line.trim_end());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CanaryWriter {
    type Writer = CanaryWriter;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
