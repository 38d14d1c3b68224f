//! Forward compatibility, unions and decode errors of the generated types.

use contree_proto::json::{DecodeError, decode};
use contree_proto::types::{
    self, ErrorDetail, ExecSpec, ImageImportRequest, ImageSource, InstanceSpawnRequest, NameOrId,
    OperationEvent, OperationEventData, OperationEventType, OperationKind, OperationMetadata,
    OperationResponse, OperationStatus, WhoAmIResponse,
};
use contree_proto::{Nullable, ops};
use serde_json::json;

#[test]
fn unknown_enum_values_and_extra_fields_decode_and_re_encode() {
    let body = br#"{"uuid":"019eef27-7ecb-7771-8184-aaf5fa596ce2","kind":"snapshot","status":"PAUSED","new_field":{"x":1}}"#;
    let op: OperationResponse = decode(body).unwrap();
    assert_eq!(op.kind, Some(OperationKind::Unknown("snapshot".into())));
    assert_eq!(op.status, Some(OperationStatus::from("PAUSED")));
    let json = serde_json::to_value(&op).unwrap();
    assert_eq!(json["kind"], "snapshot");
    assert_eq!(json["status"], "PAUSED");
    assert!(json.get("new_field").is_none());
    assert_eq!(OperationStatus::from("SUCCESS"), OperationStatus::Success);
    assert_eq!(
        "EXECUTING".parse::<OperationStatus>().unwrap().to_string(),
        "EXECUTING"
    );
    assert_eq!(OperationStatus::KNOWN.len(), 6);
}

#[test]
fn optional_fields_are_omitted_and_nulls_decode() {
    let op: OperationResponse =
        decode(br#"{"error":null,"duration":null,"metadata":null}"#).unwrap();
    assert_eq!(op, OperationResponse::default());
    assert_eq!(serde_json::to_string(&op).unwrap(), "{}");
    // Required but nullable: decodes from null and from absence, and is always sent.
    let who: WhoAmIResponse = decode(
        br#"{"token_uuid":"t","token_expiration":null,"permissions":{"list":true},"operations_stat":{}}"#,
    )
    .unwrap();
    assert_eq!(who.token_expiration, None);
    assert!(
        serde_json::to_string(&who)
            .unwrap()
            .contains(r#""token_expiration":null"#)
    );
    let who: WhoAmIResponse =
        decode(br#"{"token_uuid":"t","permissions":{},"operations_stat":{}}"#).unwrap();
    assert_eq!(who.token_expiration, None);
}

#[test]
fn tri_state_fields_keep_absent_null_and_value_apart() {
    let mut req = InstanceSpawnRequest::new("true", ImageSource::parse("alpine:3").unwrap());
    let absent = serde_json::to_value(&req).unwrap();
    assert!(absent.get("env").is_none());
    req.env = Nullable::Null;
    assert_eq!(serde_json::to_value(&req).unwrap()["env"], json!(null));
    req.env = Nullable::Value([("A".to_string(), "1".to_string())].into());
    assert_eq!(
        serde_json::to_value(&req).unwrap()["env"],
        json!({"A": "1"})
    );

    let decoded: ExecSpec = serde_json::from_value(json!({"command": "x", "env": null})).unwrap();
    assert_eq!(decoded.env, Nullable::Null);
    let decoded: ExecSpec = serde_json::from_value(json!({"command": "x"})).unwrap();
    assert_eq!(decoded.env, Nullable::Absent);
    let decoded: ImageImportRequest =
        serde_json::from_value(json!({"registry": {"url": "docker://x/y"}, "tag": "y:1"})).unwrap();
    assert_eq!(decoded.tag, Nullable::Value("y:1".into()));
}

#[test]
fn operation_metadata_is_chosen_by_kind() {
    let instance = json!({
        "kind": "instance",
        "metadata": {"command": "ls", "image": "019eef27-7ecb-7771-8184-aaf5fa596ce2",
                     "result": {"state": {"exit_code": 0}, "stdout": {"value": "aGk=", "encoding": "base64"}}}
    });
    let op: OperationResponse = serde_json::from_value(instance).unwrap();
    let Some(OperationMetadata::Instance(meta)) = &op.metadata else {
        panic!("{:?}", op.metadata)
    };
    assert_eq!(meta.command, "ls");
    let result = meta.result.as_ref().unwrap();
    assert_eq!(result.state.as_ref().unwrap().exit_code, Some(0));
    assert_eq!(result.stdout.as_ref().unwrap().to_bytes(), b"hi");

    // The official test double echoes `tag:` images in metadata: tolerated.
    let tagged =
        json!({"kind": "instance", "metadata": {"command": "ls", "image": "tag:ubuntu:latest"}});
    let op: OperationResponse = serde_json::from_value(tagged).unwrap();
    let Some(OperationMetadata::Instance(meta)) = op.metadata else {
        panic!()
    };
    assert_eq!(meta.image.as_tag(), Some("ubuntu:latest"));

    // `image_import`: only-optional import metadata, even when it could match both.
    let import = json!({"kind": "image_import", "metadata": {"registry": {"url": "docker://x"}, "tag": null}});
    let op: OperationResponse = serde_json::from_value(import).unwrap();
    assert!(matches!(
        op.metadata,
        Some(OperationMetadata::ImageImport(_))
    ));

    // An instance without the required `command` is an error naming the path.
    let broken =
        br#"{"kind":"instance","metadata":{"image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}}"#;
    let err = decode::<OperationResponse>(broken).unwrap_err();
    assert!(err.to_string().contains("metadata"), "{err}");
    assert!(err.to_string().contains("command"), "{err}");
}

#[test]
fn event_data_is_chosen_by_type_and_falls_back_to_raw() {
    let stdout: OperationEvent = serde_json::from_value(json!({
        "id": 3, "ts": "2026-06-08T20:00:00.123456789Z", "spid": 1, "type": "stdout",
        "data": {"value": "hello\n", "encoding": "ascii"}
    }))
    .unwrap();
    assert_eq!(stdout.kind, OperationEventType::Stdout);
    let OperationEventData::Stdout(chunk) = &stdout.data else {
        panic!("{:?}", stdout.data)
    };
    assert_eq!(chunk.to_bytes(), b"hello\n");

    let completion: OperationEvent = serde_json::from_value(json!({
        "id": 9, "ts": "2026-06-08T20:00:01Z", "type": "completion",
        "data": {"status": "SUCCESS", "duration_ms": 12, "result_image_uuid": null}
    }))
    .unwrap();
    assert_eq!(completion.spid, None);
    let OperationEventData::Completion(c) = &completion.data else {
        panic!()
    };
    assert_eq!(c.status, types::EventDataCompletionStatus::Success);

    // The spec's own example `init` payload lacks required fields: kept raw, not an error.
    let init: OperationEvent = serde_json::from_str(
        r#"{"id":0,"ts":"2026-06-08T20:00:00Z","spid":0,"type":"init","data":{"init_pid":1}}"#,
    )
    .unwrap();
    assert_eq!(init.data, OperationEventData::Raw(json!({"init_pid": 1})));

    let future: OperationEvent = serde_json::from_str(
        r#"{"id":1,"ts":"2026-06-08T20:00:00Z","type":"checkpoint","data":[1,2]}"#,
    )
    .unwrap();
    assert_eq!(
        future.kind,
        OperationEventType::Unknown("checkpoint".into())
    );
    assert_eq!(future.data, OperationEventData::Raw(json!([1, 2])));
    assert_eq!(
        serde_json::to_value(&future).unwrap()["data"],
        json!([1, 2])
    );

    // Missing `data` is an error (as in the official client).
    assert!(serde_json::from_str::<OperationEvent>(r#"{"id":1,"ts":"x","type":"exit"}"#).is_err());
}

#[test]
fn untagged_unions_decode_each_member() {
    let e: types::Error = decode(br#"{"error":"boom"}"#).unwrap();
    assert_eq!(e.error, ErrorDetail::String("boom".into()));
    let e: types::Error = decode(br#"{"error":{"field":"x"},"status":400}"#).unwrap();
    assert!(matches!(e.error, ErrorDetail::Object(ref m) if m["field"] == "x"));
    let e: types::Error = decode(br#"{"error":[{"loc":["body"]}]}"#).unwrap();
    assert!(matches!(e.error, ErrorDetail::Array(ref a) if a.len() == 1));
    let e: types::Error = decode(br#"{"error":42}"#).unwrap();
    assert_eq!(e.error, ErrorDetail::Other(json!(42)));

    let owner: NameOrId = serde_json::from_str("\"root\"").unwrap();
    assert_eq!(owner, NameOrId::String("root".into()));
    let owner: NameOrId = serde_json::from_str("1000").unwrap();
    assert_eq!(owner, NameOrId::Integer(1000));
}

#[test]
fn decode_errors_name_type_path_and_keep_4_kib_of_payload() {
    let mut body = br#"{"kind":"instance","metadata":{"command":"ls","image":"019eef27-7ecb-7771-8184-aaf5fa596ce2","result":{"state":{"exit_code":"zero"}}},"padding":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 10_000));
    body.extend(br#""}"#);
    let err: DecodeError = decode::<OperationResponse>(&body).unwrap_err();
    assert!(err.type_name().ends_with("OperationResponse"));
    let text = err.to_string();
    assert!(text.contains("metadata: result.state.exit_code"), "{text}");
    assert_eq!(err.payload().len(), 4096);
    assert_eq!(err.payload_len(), body.len());
    assert!(text.contains("first 4 KiB"));

    let err = decode::<types::FileResponse>(br#"{"uuid":"not-a-uuid","sha256":"x","size":1}"#)
        .unwrap_err();
    assert_eq!(err.path(), "uuid");
    let err = decode::<types::FileResponse>(b"{} trailing").unwrap_err();
    assert!(!err.message().is_empty());
    let err =
        decode::<Vec<types::OperationSummary>>(br#"[{"status":"SUCCESS"},{"duration":"slow"}]"#)
            .unwrap_err();
    assert_eq!(err.path(), "[1].duration");
}

#[test]
fn statics_are_reachable() {
    assert_eq!(ops::GET_OPERATION_EVENTS.id, "getOperationEvents");
    assert_eq!(ops::LIST_FILES.id, "listFiles");
    assert_eq!(ops::GET_FILE.id, "getFile");
}
