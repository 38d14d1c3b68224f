//! Request building and response parsing of the generated sans-IO layer.

use bytes::Bytes;
use contree_proto::types::{self, ImageSource, InstanceSpawnRequest, OperationStatus};
use contree_proto::{Nullable, OPERATIONS, Request, ops, requests};
use uuid::Uuid;

const OP: &str = "019eef27-7ecb-7771-8184-aaf5fa596ce2";

fn op_id() -> Uuid {
    Uuid::parse_str(OP).unwrap()
}

fn response(status: u16, content_type: Option<&str>, body: &'static [u8]) -> http::Response<Bytes> {
    let mut b = http::Response::builder().status(status);
    if let Some(ct) = content_type {
        b = b.header(http::header::CONTENT_TYPE, ct);
    }
    b.body(Bytes::from_static(body)).unwrap()
}

#[test]
fn operation_table_matches_the_contract() {
    assert_eq!(OPERATIONS.len(), 28);
    let ids: std::collections::BTreeSet<_> = OPERATIONS.iter().map(|o| o.id).collect();
    assert_eq!(ids.len(), 28, "ids are unique");
    assert_eq!(ops::LIST_FILES.path, "/files");
    assert_eq!(ops::GET_FILE.path, "/files/{sha256}");
    assert_eq!(ops::SPAWN_INSTANCE.method, http::Method::POST);
    assert_eq!(ops::SPAWN_INSTANCE.success, &[201]);
    assert!(!ops::SPAWN_INSTANCE.idempotent);
    assert!(!ops::UPDATE_IMAGE_TAG.idempotent);
    assert!(ops::CANCEL_OPERATION.idempotent);
    assert!(ops::CHECK_FILE_EXISTS.idempotent);
    assert!(ops::GET_OPERATION_EVENTS.streaming);
    assert!(ops::INSPECT_IMAGE_DOWNLOAD.streaming);
    assert!(ops::INSPECT_IMAGE_ARCHIVE.streaming);
    assert!(!ops::UPLOAD_FILE.streaming);
    assert!(!ops::INSPECT_IMAGE_FILE.streaming);
    assert_eq!(ops::INSPECT_FIND_IMAGE_BY_TAG.success, &[302]);
    assert_eq!(ops::INSPECT_FIND_IMAGE_BY_TAG.path, "/inspect/");
    for op in OPERATIONS {
        let expected = matches!(op.method.as_str(), "GET" | "HEAD" | "DELETE");
        assert_eq!(op.idempotent, expected, "{}", op.id);
        assert!(ops::by_id(op.id).is_some());
    }
    assert_eq!(ops::by_id("whoAmI"), Some(&ops::WHO_AM_I));
}

#[test]
fn list_images_omits_false_flags_and_unset_params() {
    let req = requests::ListImages::new();
    let http = req.to_http().unwrap();
    assert_eq!(http.method(), http::Method::GET);
    assert_eq!(http.uri(), "/images");
    assert!(http.headers().get(http::header::CONTENT_TYPE).is_none());
    assert!(http.body().is_empty());

    let mut req = requests::ListImages::new();
    req.tagged = true;
    req.limit = Some(5);
    req.tag = Some("ghcr.io/org/img:1 x".into());
    req.since = Some("2025-01-01T00:00:00+00:00".into());
    assert_eq!(
        req.uri(),
        "/images?limit=5&tagged=1&tag=ghcr.io/org/img%3A1%20x&since=2025-01-01T00%3A00%3A00%2B00%3A00"
    );
}

#[test]
fn flags_are_sent_as_one_and_never_as_false() {
    let mut req = requests::GetOperationEvents::new(op_id());
    assert_eq!(req.uri(), format!("/operations/{OP}/events"));
    req.follow = true;
    req.since = Some(7);
    req.last_event_id = Some(9);
    let http = req.to_http().unwrap();
    assert_eq!(
        http.uri(),
        format!("/operations/{OP}/events?follow=1&since=7").as_str()
    );
    assert_eq!(http.headers()["Last-Event-Id"], "9");
    assert_eq!(http.headers()[http::header::ACCEPT], "text/event-stream");

    let mut status = requests::GetOperationStatus::new(op_id());
    assert!(!status.uri().contains("inflight"));
    status.inflight = true;
    assert!(status.uri().ends_with("?inflight=1"));

    let mut list = requests::InspectImageFile::new(op_id(), "/etc");
    assert_eq!(list.uri(), format!("/inspect/{OP}/list?path=/etc"));
    list.text = true;
    assert_eq!(list.uri(), format!("/inspect/{OP}/list?path=/etc&text=1"));
    let download = requests::InspectImageDownload::new(op_id(), "/a");
    assert_eq!(download.uri(), format!("/inspect/{OP}/download?path=/a"));
}

#[test]
fn grep_repeats_list_parameters_and_requires_a_pattern() {
    let mut req = requests::InspectImageGrep::new(op_id(), vec!["^a b".into(), "c+".into()]);
    req.path = vec!["/etc".into(), "/usr/lib".into()];
    req.case = Some(types::GrepCase::Smart);
    assert_eq!(
        req.uri(),
        format!(
            "/inspect/{OP}/grep?pattern=%5Ea%20b&pattern=c%2B&path=/etc&path=/usr/lib&case=smart"
        )
    );
    let empty = requests::InspectImageGrep::new(op_id(), vec![]);
    let err = empty.to_http().unwrap_err();
    assert_eq!(err.operation(), "inspectImageGrep");
    assert!(err.to_string().contains("pattern"), "{err}");
}

#[test]
fn path_parameters_are_escaped() {
    let req = requests::GetFile::new("ab/c d");
    assert_eq!(req.uri(), "/files/ab%2Fc%20d");
    let kill = {
        let mut k = requests::OperationSubprocessKill::new(op_id(), 3);
        k.signal = Some("SIGTERM".into());
        k
    };
    let http = kill.to_http().unwrap();
    assert_eq!(http.method(), http::Method::DELETE);
    assert_eq!(
        http.uri(),
        format!("/operations/{OP}/subprocesses/3?signal=SIGTERM").as_str()
    );
}

#[test]
fn json_bodies_are_serialised_with_content_type() {
    let mut body = InstanceSpawnRequest::new(
        "echo hi",
        ImageSource::Tag(types::ImageSourceTag("tag:busybox:latest".into())),
    );
    body.shell = Some(true);
    body.env = Nullable::Null;
    let http = requests::SpawnInstance::new(body).to_http().unwrap();
    assert_eq!(http.method(), http::Method::POST);
    assert_eq!(http.uri(), "/instances");
    assert_eq!(
        http.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let json: serde_json::Value = serde_json::from_slice(http.body()).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"command": "echo hi", "image": "tag:busybox:latest", "shell": true, "env": null})
    );
}

#[test]
fn upload_is_octet_stream() {
    let http = requests::UploadFile::new(Bytes::from_static(b"\x00\x01"))
        .to_http()
        .unwrap();
    assert_eq!(
        http.headers()[http::header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(http.body().as_ref(), b"\x00\x01");
}

#[test]
fn responses_parse_per_status() {
    let ok = response(
        200,
        Some("application/json"),
        br#"{"images":[{"uuid":"019eef27-7ecb-7771-8184-aaf5fa596ce2","tag":null,"extra":1}]}"#,
    );
    match requests::ListImages::parse(&ok).unwrap() {
        requests::ListImagesResponse::Ok(list) => {
            let images = list.images.unwrap();
            assert_eq!(images[0].uuid, Some(op_id()));
            assert_eq!(images[0].tag, None);
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = response(
        403,
        Some("application/json"),
        br#"{"error":"no","status":403}"#,
    );
    match requests::ListImagesResponse::from_http(&err).unwrap() {
        requests::ListImagesResponse::Forbidden(Some(e)) => {
            assert_eq!(e.error, types::ErrorDetail::String("no".into()))
        }
        other => panic!("unexpected {other:?}"),
    }
    let html = response(401, Some("text/html"), b"<html>");
    assert_eq!(
        requests::ListImagesResponse::from_http(&html).unwrap(),
        requests::ListImagesResponse::Unauthorized(None)
    );
    let teapot = response(418, None, b"tea");
    assert_eq!(
        requests::ListImagesResponse::from_http(&teapot).unwrap(),
        requests::ListImagesResponse::Other {
            status: http::StatusCode::IM_A_TEAPOT,
            body: Bytes::from_static(b"tea")
        }
    );
    let cancelled = response(202, None, b"");
    assert_eq!(
        requests::CancelOperationResponse::from_http(&cancelled)
            .unwrap()
            .into_success(),
        Ok(())
    );

    let listing = response(200, Some("text/plain; charset=utf-8"), b"total 0\n");
    assert_eq!(
        requests::InspectImageFileResponse::from_http(&listing).unwrap(),
        requests::InspectImageFileResponse::OkText("total 0\n".into())
    );
    let ops_list = response(
        200,
        Some("application/json"),
        br#"[{"status":"SUCCESS"},{"status":"success"}]"#,
    );
    let list = requests::ListOperationsResponse::from_http(&ops_list)
        .unwrap()
        .into_success()
        .unwrap();
    assert_eq!(list[0].status, Some(OperationStatus::Success));
    // Statuses decode case-insensitively (xtask/src/codegen/overrides.rs).
    assert_eq!(list[1].status, Some(OperationStatus::Success));
    assert_eq!(
        OperationStatus::from("RUNNING_LATER"),
        OperationStatus::Unknown("RUNNING_LATER".into())
    );
}

#[test]
fn malformed_success_bodies_are_decode_errors_with_path() {
    // (Map entries of another shape are dropped, see `lenient`; a wrong top-level type is not.)
    let bad = response(200, Some("application/json"), br#"{"token_uuid":"t","token_expiration":"soon","permissions":{"list":true},"operations_stat":{}}"#);
    let err = requests::WhoAmI::parse(&bad).unwrap_err();
    assert_eq!(err.path(), "token_expiration");
    assert!(
        err.type_name().ends_with("WhoAmIResponse"),
        "{}",
        err.type_name()
    );
    assert!(err.payload().contains("token_uuid"));
}
