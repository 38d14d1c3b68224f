//! Bytes <-> the stream payload schemas (`StreamRepr`, `ClosableStreamRepr`, `EventDataStream`).
//!
//! The rule, shared by the server and the official client: a payload is `ascii` when every byte
//! is printable ASCII (0x20..=0x7E) or `\t`, `\n`, `\r`; otherwise it is standard padded `base64`.
//! Decoding is lenient: `base64` that does not decode yields empty bytes (as the official client
//! does) after trying without padding and the URL-safe alphabet; any other encoding value is taken
//! as the UTF-8 bytes of `value`.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::{DecodePaddingMode, general_purpose};

use crate::types::{ClosableStreamRepr, EventDataStream, StreamEncoding, StreamRepr};

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const LENIENT_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether `bytes` may be sent with the `ascii` encoding.
///
/// ```
/// use contree_proto::stream::is_ascii_text;
/// assert!(is_ascii_text(b"hello\tworld\r\n"));
/// assert!(!is_ascii_text("héllo".as_bytes()));
/// assert!(!is_ascii_text(b"\x1b[0m"));
/// ```
pub fn is_ascii_text(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, 0x20..=0x7e | b'\t' | b'\n' | b'\r'))
}

/// Encodes bytes: the encoding the wire rule picks and the value.
pub fn encode(bytes: &[u8]) -> (StreamEncoding, String) {
    if is_ascii_text(bytes) {
        // Every byte is ASCII, hence valid UTF-8.
        (
            StreamEncoding::Ascii,
            String::from_utf8_lossy(bytes).into_owned(),
        )
    } else {
        (StreamEncoding::Base64, STANDARD.encode(bytes))
    }
}

/// Decodes a value with its encoding (lenient, never fails).
///
/// ```
/// use contree_proto::{stream::decode, types::StreamEncoding};
/// assert_eq!(decode(Some(&StreamEncoding::Base64), "aGk="), b"hi");
/// assert_eq!(decode(Some(&StreamEncoding::Base64), "aGk"), b"hi");
/// assert_eq!(decode(Some(&StreamEncoding::Base64), "!!"), b"");
/// assert_eq!(decode(Some(&StreamEncoding::Ascii), "hi"), b"hi");
/// assert_eq!(decode(None, "hé"), "hé".as_bytes());
/// ```
pub fn decode(encoding: Option<&StreamEncoding>, value: &str) -> Vec<u8> {
    match encoding {
        Some(StreamEncoding::Base64) => decode_base64(value).unwrap_or_default(),
        _ => value.as_bytes().to_vec(),
    }
}

/// Decodes a value as a receiver that refuses bad input does (the mock's request bodies):
/// `None` for an encoding other than `ascii`/`base64` (absent is `ascii`) or for `base64` that
/// does not decode. The base64 forms [`decode`] accepts (padded or not, standard or URL-safe
/// alphabet, whitespace ignored) are accepted here too, so both ends agree on every value.
///
/// ```
/// use contree_proto::{stream::try_decode, types::StreamEncoding};
/// let b64 = Some(&StreamEncoding::Base64);
/// assert_eq!(try_decode(b64, "AP8=").unwrap(), b"\x00\xff");
/// assert_eq!(try_decode(b64, "AP8").unwrap(), b"\x00\xff");
/// assert_eq!(try_decode(b64, "-_8").unwrap(), b"\xfb\xff");
/// assert_eq!(try_decode(b64, "!!"), None);
/// assert_eq!(try_decode(None, "hi").unwrap(), b"hi");
/// assert_eq!(try_decode(Some(&StreamEncoding::from("utf8")), "hi"), None);
/// ```
pub fn try_decode(encoding: Option<&StreamEncoding>, value: &str) -> Option<Vec<u8>> {
    match encoding {
        None | Some(StreamEncoding::Ascii) => Some(value.as_bytes().to_vec()),
        Some(StreamEncoding::Base64) => decode_base64(value),
        Some(_) => None,
    }
}

fn decode_base64(value: &str) -> Option<Vec<u8>> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT
        .decode(&compact)
        .or_else(|_| LENIENT_URL.decode(&compact))
        .or_else(|_| general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('=')))
        .ok()
}

impl StreamRepr {
    /// Encodes bytes (`truncated` unset).
    ///
    /// ```
    /// use contree_proto::types::{StreamEncoding, StreamRepr};
    /// let s = StreamRepr::from_bytes(b"\x00\xff");
    /// assert_eq!(s.encoding, StreamEncoding::Base64);
    /// assert_eq!(s.to_bytes(), b"\x00\xff");
    /// ```
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let (encoding, value) = encode(bytes);
        Self::new(value, encoding)
    }

    /// The decoded bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        decode(Some(&self.encoding), &self.value)
    }

    /// The decoded bytes as text (lossy UTF-8).
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(&self.to_bytes()).into_owned()
    }
}

impl EventDataStream {
    /// Encodes bytes (`truncated` unset).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let (encoding, value) = encode(bytes);
        Self::new(value, encoding)
    }

    /// The decoded bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        decode(Some(&self.encoding), &self.value)
    }
}

impl ClosableStreamRepr {
    /// Stdin bytes; `close: true` sends EOF after them. The encoding is always explicit.
    ///
    /// ```
    /// use contree_proto::types::ClosableStreamRepr;
    /// let s = ClosableStreamRepr::from_bytes(b"data\n", false);
    /// assert_eq!(serde_json::to_string(&s).unwrap(), r#"{"value":"data\n","encoding":"ascii","close":false}"#);
    /// assert_eq!(s.to_bytes(), b"data\n");
    /// ```
    pub fn from_bytes(bytes: &[u8], close: bool) -> Self {
        let (encoding, value) = encode(bytes);
        let mut s = Self::new(value);
        s.encoding = Some(encoding);
        s.close = Some(close);
        s
    }

    /// Only closes stdin (empty value, `close: true`).
    pub fn close_only() -> Self {
        Self::from_bytes(b"", true)
    }

    /// The decoded bytes (a missing encoding means `ascii`, the spec default).
    pub fn to_bytes(&self) -> Vec<u8> {
        decode(self.encoding.as_ref(), &self.value)
    }

    /// Whether stdin is closed after this write (the spec default is `true`).
    pub fn closes(&self) -> bool {
        self.close.unwrap_or(true)
    }
}
