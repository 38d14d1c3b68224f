//! An incremental Server-Sent Events decoder following the WHATWG rules.
//!
//! Feed it the body chunks as they arrive, in any split; it yields the same frames as if the
//! whole body had been decoded at once. Handled: LF, CR and CRLF line endings (also split
//! across chunks), a leading UTF-8 BOM, comments (`:` lines, e.g. `: keepalive`), multi-line
//! `data` (joined with `\n`), `event`, `id` (ignored when it contains NUL or is longer than
//! [`MAX_ID_LEN`]), `retry` (ASCII digits only) and unknown fields (ignored). Blocks without data are not dispatched, and an
//! unterminated block at end of stream is discarded, as the standard requires.
//!
//! A `cargo fuzz` target checks that it never panics and that chunking never changes the
//! result: `cargo xtask fuzz sse_decoder` (needs nightly and cargo-fuzz); the seeded property
//! test `tests/sse_properties.rs` checks the same on stable in every test run.
//!
//! ```
//! use contree_transport::sse::SseDecoder;
//! let mut d = SseDecoder::new();
//! d.feed(b": keepalive\n\nid: 1\nevent: spawn\nda").unwrap();
//! assert!(d.next_frame().is_none());
//! d.feed(b"ta: {\"pid\":1}\r\n\r\n").unwrap();
//! let f = d.next_frame().unwrap();
//! assert_eq!((f.id.as_deref(), f.event.as_str(), f.data.as_str()), (Some("1"), "spawn", "{\"pid\":1}"));
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The default cap on one line plus the pending `data` of a frame (8 MiB).
pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

/// The longest `id:` value taken (1 KiB); a longer one is ignored like an id with NUL.
/// ConTree's ids are decimal integers: anything this long is not one.
pub const MAX_ID_LEN: usize = 1024;

/// One dispatched SSE frame ("event" in WHATWG terms).
///
/// A frame holds only what its own block said: the WHATWG "last event ID" (carried over from
/// earlier blocks) is kept once, in the decoder ([`SseDecoder::last_event_id`]), never copied
/// into each frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseFrame {
    /// The event type: the last `event:` field of the block, or `message` when absent.
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field given in *this* block, if any (ids are not carried over here).
    pub id: Option<String>,
}

/// The decoder refused its input (a frame larger than the configured cap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseDecodeError {
    limit: usize,
}

impl fmt::Display for SseDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an SSE frame exceeds {} bytes; the stream is corrupt or not an event stream",
            self.limit
        )
    }
}

impl std::error::Error for SseDecodeError {}

/// The incremental decoder. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SseDecoder {
    bom_checked: bool,
    head: Vec<u8>,
    line: Vec<u8>,
    after_cr: bool,
    data: String,
    event: String,
    frame_id: Option<String>,
    last_event_id: String,
    retry: Option<Duration>,
    max_len: usize,
    frames: VecDeque<SseFrame>,
}

impl Default for SseDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SseDecoder {
    /// A decoder with the default frame cap ([`DEFAULT_MAX_FRAME_LEN`]).
    pub fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A decoder that rejects a line plus pending data longer than `max` bytes.
    pub fn with_max_frame_len(max: usize) -> Self {
        Self {
            bom_checked: false,
            head: Vec::new(),
            line: Vec::new(),
            after_cr: false,
            data: String::new(),
            event: String::new(),
            frame_id: None,
            last_event_id: String::new(),
            retry: None,
            max_len: max,
            frames: VecDeque::new(),
        }
    }

    /// Decodes the next chunk of the body. Completed frames are queued for
    /// [`next_frame`](Self::next_frame).
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), SseDecodeError> {
        if !self.bom_checked {
            self.head.extend_from_slice(chunk);
            if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
                return Ok(());
            }
            self.bom_checked = true;
            let head = std::mem::take(&mut self.head);
            let rest = head.strip_prefix(BOM).unwrap_or(&head);
            return self.feed_lines(rest);
        }
        self.feed_lines(chunk)
    }

    fn feed_lines(&mut self, mut bytes: &[u8]) -> Result<(), SseDecodeError> {
        while !bytes.is_empty() {
            if self.after_cr {
                self.after_cr = false;
                if bytes[0] == b'\n' {
                    bytes = &bytes[1..];
                    continue;
                }
            }
            match memchr::memchr2(b'\n', b'\r', bytes) {
                Some(pos) => {
                    self.after_cr = bytes[pos] == b'\r';
                    if self.line.is_empty() {
                        // The whole line is in this chunk: decoded in place, not copied.
                        self.check_len(pos)?;
                        self.handle_line(&bytes[..pos]);
                    } else {
                        self.push_line_bytes(&bytes[..pos])?;
                        self.end_line();
                    }
                    bytes = &bytes[pos + 1..];
                }
                None => {
                    self.push_line_bytes(bytes)?;
                    bytes = &[];
                }
            }
        }
        Ok(())
    }

    /// Refuses `more` bytes of line when the line plus the pending data would pass the cap.
    fn check_len(&self, more: usize) -> Result<(), SseDecodeError> {
        if self.line.len() + more + self.data.len() > self.max_len {
            return Err(SseDecodeError {
                limit: self.max_len,
            });
        }
        Ok(())
    }

    fn push_line_bytes(&mut self, b: &[u8]) -> Result<(), SseDecodeError> {
        self.check_len(b.len())?;
        self.line.extend_from_slice(b);
        Ok(())
    }

    fn end_line(&mut self) {
        let mut raw = std::mem::take(&mut self.line);
        self.handle_line(&raw);
        // The line buffer keeps its capacity for the next line, unless one huge line grew it:
        // an idle stream should not hold megabytes.
        raw.clear();
        if raw.capacity() > 64 * 1024 {
            raw = Vec::new();
        }
        self.line = raw;
    }

    fn handle_line(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            self.dispatch();
            return;
        }
        if raw[0] == b':' {
            // A comment (keepalive).
            return;
        }
        // The field name is split off on the bytes (':' is ASCII, so never inside a UTF-8
        // sequence); only the value needs to be text. Valid UTF-8 (the normal case) is
        // borrowed; invalid sequences become U+FFFD.
        let (field, value) = match memchr::memchr(b':', raw) {
            Some(pos) => {
                let value = &raw[pos + 1..];
                (&raw[..pos], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (raw, &[][..]),
        };
        let value = match std::str::from_utf8(value) {
            Ok(s) => std::borrow::Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                self.data.push_str(&value);
                self.data.push('\n');
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&value);
            }
            b"id" if value.len() <= MAX_ID_LEN && !value.contains('\0') => {
                self.last_event_id.clear();
                self.last_event_id.push_str(&value);
                self.frame_id = Some(value.into_owned());
            }
            b"retry" => {
                if !value.is_empty()
                    && value.bytes().all(|b| b.is_ascii_digit())
                    && let Ok(ms) = value.parse::<u64>()
                {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self) {
        let id = self.frame_id.take();
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return;
        }
        // The next frame's data gets room for as much as this one's (one allocation, no
        // regrowing line by line).
        let room = self.data.len();
        let mut data = std::mem::replace(&mut self.data, String::with_capacity(room));
        if data.ends_with('\n') {
            data.pop();
        }
        self.frames.push_back(SseFrame {
            event: if event.is_empty() {
                "message".to_string()
            } else {
                event
            },
            data,
            id,
        });
    }

    /// The next completed frame, if any.
    pub fn next_frame(&mut self) -> Option<SseFrame> {
        self.frames.pop_front()
    }

    /// The reconnection time most recently set by a `retry:` field.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// The WHATWG "last event ID" buffer (the last `id:` taken, carried across blocks).
    pub fn last_event_id(&self) -> &str {
        &self.last_event_id
    }

    /// Ends the stream: an unterminated block is discarded (WHATWG). Queued frames remain
    /// available from [`next_frame`](Self::next_frame).
    pub fn finish(&mut self) {
        self.head.clear();
        self.line.clear();
        self.after_cr = false;
        self.data.clear();
        self.event.clear();
        self.frame_id = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Vec<SseFrame> {
        let mut d = SseDecoder::new();
        d.feed(input).unwrap();
        d.finish();
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    fn decode_split(input: &[u8], sizes: impl Iterator<Item = usize>) -> Vec<SseFrame> {
        let mut d = SseDecoder::new();
        let mut rest = input;
        for n in sizes {
            if rest.is_empty() {
                break;
            }
            let n = n.clamp(1, rest.len());
            d.feed(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        d.feed(rest).unwrap();
        d.finish();
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    fn f(event: &str, data: &str, id: Option<&str>, _last: &str) -> SseFrame {
        SseFrame {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        }
    }

    /// (name, input, expected frames)
    fn cases() -> Vec<(&'static str, &'static [u8], Vec<SseFrame>)> {
        vec![
            ("lf", b"data: a\n\n", vec![f("message", "a", None, "")]),
            ("crlf", b"data: a\r\n\r\n", vec![f("message", "a", None, "")]),
            ("cr", b"data: a\r\rdata: b\r\r", vec![
                f("message", "a", None, ""),
                f("message", "b", None, ""),
            ]),
            ("mixed endings", b"data: a\r\ndata: b\rdata: c\n\r\n", vec![f(
                "message", "a\nb\nc", None, "",
            )]),
            ("multi-line data", b"data: YHOO\ndata: +2\ndata: 10\n\n", vec![f(
                "message",
                "YHOO\n+2\n10",
                None,
                "",
            )]),
            ("comments and keepalive", b": keepalive\n\n:another\ndata: x\n\n", vec![f(
                "message", "x", None, "",
            )]),
            (
                "id and event",
                b"id: 1\nevent: spawn\ndata: {\"id\":1}\n\n",
                vec![f("spawn", "{\"id\":1}", Some("1"), "1")],
            ),
            (
                "id carried in last_event_id, not in id",
                b"id: 7\ndata: a\n\ndata: b\n\n",
                vec![
                    f("message", "a", Some("7"), "7"),
                    f("message", "b", None, "7"),
                ],
            ),
            ("id with NUL ignored", b"id: 1\0\ndata: a\n\n", vec![f(
                "message", "a", None, "",
            )]),
            ("empty id resets", b"id: 3\ndata: a\n\nid\ndata: b\n\n", vec![
                f("message", "a", Some("3"), "3"),
                f("message", "b", Some(""), ""),
            ]),
            ("no space after colon", b"data:a\n\n", vec![f("message", "a", None, "")]),
            ("only one space stripped", b"data:  a\n\n", vec![f(
                "message", " a", None, "",
            )]),
            ("field without colon", b"data\n\n", vec![f("message", "", None, "")]),
            ("empty data lines", b"data\ndata\n\n", vec![f("message", "\n", None, "")]),
            ("no data: not dispatched", b"event: x\n\ndata: y\n\n", vec![f(
                "message", "y", None, "",
            )]),
            ("unknown fields ignored", b"foo: bar\ndata: y\n\n", vec![f(
                "message", "y", None, "",
            )]),
            ("colon in value kept", b"data: a: b\n\n", vec![f(
                "message", "a: b", None, "",
            )]),
            ("bom stripped", b"\xEF\xBB\xBFdata: a\n\n", vec![f(
                "message", "a", None, "",
            )]),
            (
                "only one bom stripped",
                b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
                vec![f("message", "b", None, "")],
            ),
            ("unterminated block discarded", b"data: a\n\ndata: b\n", vec![f(
                "message", "a", None, "",
            )]),
            (
                "sse_error frame",
                b": stream ended with error, retry since last event id\n\nevent: sse_error\ndata: upstream closed\n\n",
                vec![f("sse_error", "upstream closed", None, "")],
            ),
            ("invalid utf8 replaced", b"data: \xFF\n\n", vec![f(
                "message", "\u{FFFD}", None, "",
            )]),
            ("field names are case sensitive", b"Data: a\ndata: b\n\n", vec![f(
                "message", "b", None, "",
            )]),
            ("last event wins", b"event: a\nevent: b\ndata: x\n\n", vec![f(
                "b", "x", None, "",
            )]),
        ]
    }

    #[test]
    fn conformance() {
        for (name, input, want) in cases() {
            assert_eq!(decode_all(input), want, "case {name}");
        }
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        for (name, input, want) in cases() {
            // Byte by byte.
            assert_eq!(
                decode_split(input, std::iter::repeat(1)),
                want,
                "{name} bytewise"
            );
            // Every two-way split.
            for cut in 0..=input.len() {
                let got = decode_split(input, [cut.max(1)].into_iter());
                assert_eq!(got, want, "{name} split at {cut}");
            }
        }
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let mut d = SseDecoder::new();
        d.feed(b"data: a\r").unwrap();
        d.feed(b"\n\r").unwrap();
        d.feed(b"\n").unwrap();
        assert_eq!(d.next_frame().unwrap().data, "a");
        assert!(d.next_frame().is_none());
    }

    #[test]
    fn retry_field() {
        let mut d = SseDecoder::new();
        d.feed(b"retry: 1500\n\n").unwrap();
        assert_eq!(d.retry(), Some(Duration::from_millis(1500)));
        d.feed(b"retry: 15x\n\nretry: -1\n\nretry:\n\n").unwrap();
        assert_eq!(d.retry(), Some(Duration::from_millis(1500)));
        assert!(d.next_frame().is_none());
    }

    /// What the frames hold on the heap.
    fn heap(frames: &[SseFrame]) -> usize {
        frames
            .iter()
            .map(|f| {
                std::mem::size_of::<SseFrame>()
                    + f.data.capacity()
                    + f.event.capacity()
                    + f.id.as_ref().map_or(0, String::capacity)
            })
            .sum()
    }

    #[test]
    fn a_long_last_event_id_is_not_copied_into_every_frame() {
        // One id as long as allowed, then 2,000 small frames that do not repeat it.
        let mut input = format!("id: {}\n", "7".repeat(MAX_ID_LEN)).into_bytes();
        for _ in 0..2000 {
            input.extend_from_slice(b"data: x\n\n");
        }
        let frames = decode_all(&input);
        assert_eq!(frames.len(), 2000);
        let held = heap(&frames);
        // 2,000 copies of the id would be 2 MB; the frames hold only their own few bytes.
        assert!(held < 2000 * 128, "frames hold {held} bytes");
        assert_eq!(frames[0].id.as_deref().map(str::len), Some(MAX_ID_LEN));
        assert!(frames[1..].iter().all(|f| f.id.is_none()));
    }

    #[test]
    fn an_id_over_the_cap_is_ignored() {
        // ~1 MiB of id then 2,000 frames: the memory the audit saw grow to 2,000 MiB.
        let mut input = format!("id: 1\ndata: a\n\nid: {}\n", "9".repeat(1 << 20)).into_bytes();
        for _ in 0..2000 {
            input.extend_from_slice(b"data: x\n\n");
        }
        let mut d = SseDecoder::new();
        for chunk in input.chunks(16 * 1024) {
            d.feed(chunk).unwrap();
        }
        let frames: Vec<_> = std::iter::from_fn(|| d.next_frame()).collect();
        assert_eq!(frames.len(), 2001);
        assert_eq!(d.last_event_id(), "1", "the oversized id was ignored");
        let held = heap(&frames);
        assert!(held < 2001 * 128, "frames hold {held} bytes");
    }

    #[test]
    fn oversized_frame_is_an_error() {
        let mut d = SseDecoder::with_max_frame_len(16);
        assert!(d.feed(b"data: 0123456789\n").is_ok());
        let err = d.feed(b"data: 0123456789\n").unwrap_err();
        assert!(err.to_string().contains("16 bytes"));
    }

    #[test]
    fn bom_prefix_split() {
        let mut d = SseDecoder::new();
        d.feed(b"\xEF").unwrap();
        d.feed(b"\xBB").unwrap();
        d.feed(b"\xBFdata: a\n\n").unwrap();
        assert_eq!(d.next_frame().unwrap().data, "a");
        // A partial BOM followed by something else is data, not a BOM.
        let mut d = SseDecoder::new();
        d.feed(b"\xEF").unwrap();
        d.feed(b"data: a\n\n").unwrap();
        assert!(d.next_frame().is_none(), "field name is \\u{{FFFD}}data");
    }
}
