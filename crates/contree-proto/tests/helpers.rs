//! Hand-written helpers: stream payloads, image references, OCI references, modes, timestamps.

use contree_proto::image_ref::{OciReference, is_uuid, is_valid_tag};
use contree_proto::mode::{format_mode, parse_mode};
use contree_proto::stream::{decode, encode, is_ascii_text};
use contree_proto::types::{
    ClosableStreamRepr, EventDataStream, ImageSource, ImageSourceTag, StreamEncoding, StreamRepr,
};
use contree_proto::{SecretString, timestamp};

#[test]
fn stream_encoding_follows_the_wire_rule() {
    for b in 0u8..=255 {
        let printable = (0x20..=0x7e).contains(&b) || b == b'\t' || b == b'\n' || b == b'\r';
        assert_eq!(is_ascii_text(&[b]), printable, "byte {b:#x}");
        let (enc, value) = encode(&[b]);
        let expected = if printable {
            StreamEncoding::Ascii
        } else {
            StreamEncoding::Base64
        };
        assert_eq!(enc, expected);
        assert_eq!(decode(Some(&enc), &value), vec![b]);
    }
    assert_eq!(encode(b"").0, StreamEncoding::Ascii);
    assert_eq!(
        encode("ü".as_bytes()),
        (StreamEncoding::Base64, "w7w=".into())
    );
}

#[test]
fn stream_decoding_is_lenient() {
    let b64 = Some(&StreamEncoding::Base64);
    assert_eq!(decode(b64, "aGVsbG8="), b"hello");
    assert_eq!(decode(b64, "aGVsbG8"), b"hello", "missing padding");
    assert_eq!(decode(b64, "aGVs\nbG8="), b"hello", "embedded newline");
    assert_eq!(decode(b64, "-_8="), vec![0xfb, 0xff], "url-safe alphabet");
    assert_eq!(
        decode(b64, "***"),
        b"",
        "invalid base64 is empty, never an error"
    );
    let unknown = StreamEncoding::Unknown("utf8".into());
    assert_eq!(decode(Some(&unknown), "héllo"), "héllo".as_bytes());
}

#[test]
fn stream_types_round_trip_bytes() {
    let data: Vec<u8> = (0..=255).collect();
    let s = StreamRepr::from_bytes(&data);
    assert_eq!(s.encoding, StreamEncoding::Base64);
    assert_eq!(s.to_bytes(), data);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["encoding"], "base64");
    assert!(json.get("truncated").is_none());

    let e = EventDataStream::from_bytes(b"hello world\n");
    assert_eq!(e.value, "hello world\n");
    assert_eq!(e.to_bytes(), b"hello world\n");

    let c: ClosableStreamRepr = serde_json::from_str(r#"{"value":"hi"}"#).unwrap();
    assert!(c.closes());
    assert_eq!(c.to_bytes(), b"hi");
    let close = ClosableStreamRepr::close_only();
    assert_eq!(
        serde_json::to_string(&close).unwrap(),
        r#"{"value":"","encoding":"ascii","close":true}"#
    );
}

#[test]
fn image_sources_parse_and_encode() {
    let u = "019eef27-7ecb-7771-8184-aaf5fa596ce2";
    let uuid_src = ImageSource::parse(u).unwrap();
    assert_eq!(uuid_src.as_uuid().unwrap().to_string(), u);
    assert_eq!(
        serde_json::to_string(&uuid_src).unwrap(),
        format!("\"{u}\"")
    );
    // The spec's example UUID is not RFC 4122 valid; it still is a UUID here.
    assert!(ImageSource::parse("12345678-9abc-baba-deda-0123456789ab").is_ok());

    let tag = ImageSource::parse("tag:python:3.12-slim").unwrap();
    assert_eq!(tag.as_tag(), Some("python:3.12-slim"));
    assert_eq!(ImageSource::tag("python:3.12-slim").unwrap(), tag);
    assert_eq!(
        serde_json::to_string(&tag).unwrap(),
        "\"tag:python:3.12-slim\""
    );

    let decoded: ImageSource = serde_json::from_str("\"tag:ghcr.io/org/img:1\"").unwrap();
    assert_eq!(decoded.as_tag(), Some("ghcr.io/org/img:1"));
    let err = serde_json::from_str::<ImageSource>("\"busybox\"").unwrap_err();
    assert!(err.to_string().contains("tag:"), "{err}");

    for bad in ["", "tag:", "a b", "ubuntu@sha256:abc", "-x", "x/", "a..b"] {
        assert!(ImageSource::tag(bad).is_err(), "{bad:?}");
    }
    let err = ImageSourceTag::new("bad tag").unwrap_err();
    assert_eq!(err.input(), "bad tag");
    assert!(err.to_string().contains("image tag"));
}

#[test]
fn tag_pattern_matches_the_spec_regex() {
    for ok in [
        "a",
        "A9",
        "a_b-c",
        "a:b",
        "a/b.c:d",
        "ghcr.io/org/img:1",
        "x-:y_",
    ] {
        assert!(is_valid_tag(ok), "{ok}");
    }
    for bad in ["_a", "a:", ":a", "a::b", "a:/b", "a b", "a@b", "é"] {
        assert!(!is_valid_tag(bad), "{bad}");
    }
    assert!(is_uuid("ABCDEF01-2345-6789-abcd-ef0123456789"));
    assert!(!is_uuid("01J0000000000000000000000"));
}

#[test]
fn oci_references_normalise() {
    let cases = [
        (
            "ubuntu:latest",
            "docker://docker.io/library/ubuntu:latest",
            "ubuntu:latest",
        ),
        (
            "ubuntu",
            "docker://docker.io/library/ubuntu:latest",
            "ubuntu:latest",
        ),
        (
            "docker://docker.io/busybox:latest",
            "docker://docker.io/library/busybox:latest",
            "busybox:latest",
        ),
        (
            "library/ubuntu:22.04",
            "docker://docker.io/library/ubuntu:22.04",
            "ubuntu:22.04",
        ),
        (
            "nebius/foo:1",
            "docker://docker.io/nebius/foo:1",
            "nebius/foo:1",
        ),
        (
            "ghcr.io/org/img:tag",
            "docker://ghcr.io/org/img:tag",
            "ghcr.io/org/img:tag",
        ),
        (
            "registry.example.com:5000/ns/img:1",
            "docker://registry.example.com:5000/ns/img:1",
            "registry.example.com:5000/ns/img:1",
        ),
        (
            "localhost:5000/img:1",
            "docker://localhost:5000/img:1",
            "localhost:5000/img:1",
        ),
        (
            "localhost/img",
            "docker://localhost/img:latest",
            "localhost/img:latest",
        ),
        (
            "ubuntu@sha256:abc",
            "docker://docker.io/library/ubuntu@sha256:abc",
            "ubuntu@sha256:abc",
        ),
        (
            "index.docker.io/alpine:3",
            "docker://docker.io/library/alpine:3",
            "alpine:3",
        ),
    ];
    for (input, url, tag) in cases {
        let r = OciReference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(r.url(), url, "{input}");
        assert_eq!(r.tag(), tag, "{input}");
    }
    for bad in ["", ":bad", "oci://x/y", "a b", "ubuntu:", "x//y", "img@"] {
        assert!(OciReference::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn modes_are_four_octal_digits() {
    assert_eq!(format_mode(0o755), "0755");
    assert_eq!(format_mode(0o100644), "0644");
    assert_eq!(parse_mode("755").unwrap(), 0o755);
    assert_eq!(parse_mode(" 0644 ").unwrap(), 0o644);
    for bad in ["", "8", "0o", "07777x", "-644"] {
        assert!(parse_mode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn timestamps_parse_leniently() {
    let t = timestamp::parse("2026-06-08T20:00:00.10Z").unwrap();
    assert_eq!(t.millisecond(), 100);
    let t = timestamp::parse("2026-06-08T20:00:00.1234567891Z").unwrap();
    assert_eq!(t.nanosecond(), 123_456_789);
    let a = timestamp::parse("2026-06-08T22:00:00+0200").unwrap();
    let b = timestamp::parse("2026-06-08T20:00:00Z").unwrap();
    assert_eq!(a, b);
    assert_eq!(timestamp::parse("2026-06-08T20:00:00-00").unwrap(), b);
    for bad in [
        "",
        "2026-06-08",
        "2026-06-08T20:00:00.Z",
        "2026-06-08T20:00:00+1",
        "2026-13-08T20:00:00Z",
    ] {
        assert!(timestamp::parse(bad).is_none(), "{bad:?}");
    }
}

#[test]
fn registry_passwords_are_redacted_in_debug() {
    let mut req = contree_proto::types::ImageImportRequest::new(
        contree_proto::types::ImageImportRequestRegistry::new(
            "docker://docker.io/library/alpine:3",
        ),
    );
    let mut creds = contree_proto::types::ImageImportRequestRegistryCredentials::new();
    creds.username = Some("me".into());
    creds.password = Some(SecretString::new("hunter2"));
    req.registry.credentials = Some(creds);
    let debug = format!("{req:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let json = serde_json::to_string(&req).unwrap();
    assert!(json.contains(r#""password":"hunter2""#));
}
