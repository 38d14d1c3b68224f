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
fn optional_fields_are_omitted_nullable_ones_sent_as_null_and_nulls_decode() {
    let op: OperationResponse =
        decode(br#"{"error":null,"duration":null,"metadata":null}"#).unwrap();
    assert_eq!(op, OperationResponse::default());
    // Optional keys the spec does not mark nullable are left out; nullable ones are sent as
    // `null`, as the service does (the official Python models need the key).
    assert_eq!(
        serde_json::to_value(&op).unwrap(),
        json!({
            "error": null, "duration": null, "image_size": null, "consumed_cpu": null,
            "consumed_memory": null, "image_uuid": null, "result_image_uuid": null,
        })
    );
    // `OperationInstanceMetadata.result` is not nullable in the spec, but the service sends
    // `null` until the process exits (`overrides::NULLABLE`).
    let meta =
        types::OperationInstanceMetadata::new("true", ImageSource::parse("alpine:3").unwrap());
    let meta = serde_json::to_value(&meta).unwrap();
    assert!(meta["result"].is_null() && meta.as_object().unwrap().contains_key("result"));
    assert!(meta.get("hostname").is_none());
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

/// Events as the server sends them (one per payload type), plus odd ones.
const EVENTS: &[&str] = &[
    r#"{"data":{"boot_id":"b","hostname":"h","init_pid":1,"kernel":"k","machine":"x86_64","runtime_path":"/run/i","started_at":"2026-11-26T16:14:20Z","verbose":false},"id":0,"spid":0,"ts":"2026-11-26T16:14:20Z","type":"init"}"#,
    r#"{"data":{"configured":{"ip4":"10.0.0.2/24"},"interfaces":[{"name":"eth0","rx_bytes":0,"rx_drop":0,"rx_errs":0,"rx_packets":0,"tx_bytes":0,"tx_drop":0,"tx_errs":0,"tx_packets":0}]},"id":1,"spid":0,"ts":"t","type":"network"}"#,
    r#"{"data":{"args":["-c","echo hi"],"command":"/bin/sh","cwd":"/","env":{"HOME":"/root","GONE":null},"gid":0,"pid":1001,"shell":true,"timeout":600,"truncate_at":1048576,"uid":0},"id":2,"spid":1,"ts":"t","type":"spawn"}"#,
    r#"{"data":{"encoding":"ascii","truncated":false,"value":"h\u00e9llo\n\"q\""},"id":3,"spid":1,"ts":"t","type":"stdout"}"#,
    r#"{"data":{"encoding":"base64","value":"aGk="},"id":4,"spid":1,"ts":"t","type":"stderr"}"#,
    r#"{"data":{"code":0,"core_dump":false,"duration_ms":0,"pid":1001,"resources":{"block_input_ops":0,"block_output_ops":0,"involuntary_ctx_switches":0,"ipc_msgs_received":0,"ipc_msgs_sent":0,"major_faults":0,"max_rss_kb":2048,"minor_faults":0,"shared_memory":0,"signals_received":0,"swaps":0,"sys_time_us":0,"unshared_memory":0,"user_time_us":0,"voluntary_ctx_switches":0},"signal":0,"timed_out":false},"id":5,"spid":1,"ts":"t","type":"exit"}"#,
    r#"{"data":{"reason":"job_complete","stopped_at":"t"},"id":6,"spid":0,"ts":"t","type":"shutdown"}"#,
    r#"{"data":{"duration_ms":3,"image_size_bytes":null,"result_image_uuid":null,"status":"SUCCESS"},"id":7,"ts":"t","type":"completion"}"#,
    r#"{"data":{"status":"PAUSED","duration_ms":3},"id":8,"ts":"t","type":"completion"}"#,
    r#"{"data":{"stream":"stdfuture","bytes_emitted":1,"bytes_dropped":2},"id":9,"spid":1,"ts":"t","type":"truncated"}"#,
    // Mismatching payloads and unknown types: `Raw`, with the JSON intact.
    r#"{"data":{"encoding":"ascii","value":7,"extra":[1,{"a":null}]},"id":10,"spid":1,"ts":"t","type":"stdout"}"#,
    r#"{"data":null,"id":11,"spid":1,"ts":"t","type":"exit"}"#,
    r#"{"type":"checkpoint","id":12,"ts":"t","data":{"n":1.5,"s":"x"}}"#,
    // A duplicate key: the last one wins, as it did when `data` went through a `Value`.
    r#"{"type":"stdout","id":13,"ts":"t","data":{"encoding":"ascii","value":"a","value":"b"}}"#,
];

#[test]
fn events_decode_alike_from_text_bytes_readers_values_and_frames() {
    for text in EVENTS {
        let from_str: OperationEvent = serde_json::from_str(text).expect(text);
        let from_slice: OperationEvent = serde_json::from_slice(text.as_bytes()).expect(text);
        let from_reader: OperationEvent = serde_json::from_reader(text.as_bytes()).expect(text);
        let value: serde_json::Value = serde_json::from_str(text).expect(text);
        let from_value: OperationEvent = serde_json::from_value(value.clone()).expect(text);
        let from_ref = <OperationEvent as serde::Deserialize>::deserialize(&value).expect(text);
        let decoded: OperationEvent = decode(text.as_bytes()).expect(text);
        for other in [&from_slice, &from_reader, &from_value, &from_ref, &decoded] {
            assert_eq!(&from_str, other, "{text}");
        }
        // The untagged SSE frame buffers the event through serde's `Content`: same event.
        let frame: types::OperationEventSSEFrameData = serde_json::from_str(text).expect(text);
        assert_eq!(
            frame,
            types::OperationEventSSEFrameData::OperationEvent(from_str.clone()),
            "{text}"
        );
        // What `choose` makes of the `Value` is what the text decode made.
        let chosen =
            OperationEventData::choose(Some(&from_str.kind), value["data"].clone()).expect(text);
        assert_eq!(chosen, from_str.data, "{text}");
        // Re-encoding gives back the payload (`Raw` keeps the JSON verbatim).
        if let OperationEventData::Raw(raw) = &from_str.data {
            assert_eq!(raw, &value["data"], "{text}");
        }
    }
}

#[test]
fn event_payloads_pick_their_variant_or_stay_raw() {
    let decoded: Vec<OperationEvent> = EVENTS
        .iter()
        .map(|t| serde_json::from_str(t).unwrap())
        .collect();
    let kinds: Vec<&str> = decoded
        .iter()
        .map(|e| match &e.data {
            OperationEventData::Init(_) => "init",
            OperationEventData::Network(_) => "network",
            OperationEventData::Spawn(_) => "spawn",
            OperationEventData::Stdout(_) => "stdout",
            OperationEventData::Stderr(_) => "stderr",
            OperationEventData::Exit(_) => "exit",
            OperationEventData::Shutdown(_) => "shutdown",
            OperationEventData::Completion(_) => "completion",
            OperationEventData::Truncated(_) => "truncated",
            OperationEventData::Raw(_) => "raw",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "init",
            "network",
            "spawn",
            "stdout",
            "stderr",
            "exit",
            "shutdown",
            "completion",
            "completion",
            "truncated",
            "raw",
            "raw",
            "raw",
            "stdout"
        ]
    );
    let OperationEventData::Spawn(spawn) = &decoded[2].data else {
        panic!()
    };
    // The lenient env map still drops the `null` entry.
    assert_eq!(spawn.env, Some([("HOME".into(), "/root".into())].into()));
    let OperationEventData::Stdout(out) = &decoded[3].data else {
        panic!()
    };
    assert_eq!(out.value, "h\u{e9}llo\n\"q\"");
    let OperationEventData::Completion(c) = &decoded[8].data else {
        panic!()
    };
    assert_eq!(
        c.status,
        types::EventDataCompletionStatus::Unknown("PAUSED".into())
    );
    let OperationEventData::Truncated(t) = &decoded[9].data else {
        panic!()
    };
    assert_eq!(t.stream, types::StdStream::Unknown("stdfuture".into()));
    assert_eq!(
        decoded[10].data,
        OperationEventData::Raw(json!({"encoding":"ascii","value":7,"extra":[1,{"a":null}]}))
    );
    assert_eq!(decoded[11].data, OperationEventData::Raw(json!(null)));
    assert_eq!(
        decoded[12].kind,
        OperationEventType::Unknown("checkpoint".into())
    );
    let OperationEventData::Stdout(dup) = &decoded[13].data else {
        panic!()
    };
    assert_eq!(dup.value, "b");

    // Still strict where it was: a missing or ill-typed envelope field is an error.
    for bad in [
        r#"{"id":1,"ts":"t","type":"stdout"}"#,
        r#"{"id":"1","ts":"t","type":"stdout","data":{}}"#,
        r#"{"id":1,"ts":"t","type":5,"data":{}}"#,
        r#"{"id":1,"ts":"t","type":"stdout","data":{"value":"a"}"#,
    ] {
        assert!(
            serde_json::from_str::<OperationEvent>(bad).is_err(),
            "{bad}"
        );
        assert!(
            serde_json::from_value::<OperationEvent>(
                serde_json::from_str(bad).unwrap_or(json!(null))
            )
            .is_err(),
            "{bad}"
        );
    }
}

#[test]
fn choose_str_agrees_with_choose() {
    let selectors = [
        None,
        Some(OperationEventType::Stdout),
        Some(OperationEventType::Exit),
        Some(OperationEventType::Unknown("later".into())),
    ];
    for json in [
        r#"{"encoding":"ascii","value":"x"}"#,
        r#"{"encoding":"ascii"}"#,
        r#"[1,2]"#,
        r#""s""#,
    ] {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        for s in &selectors {
            assert_eq!(
                OperationEventData::choose_str(s.as_ref(), json),
                OperationEventData::choose(s.as_ref(), value.clone()),
                "{json} {s:?}"
            );
        }
    }
    assert!(OperationEventData::choose_str(None, "{not json").is_err());

    let kinds = [
        None,
        Some(OperationKind::Instance),
        Some(OperationKind::ImageImport),
        Some(OperationKind::Unknown("snapshot".into())),
    ];
    for json in [
        r#"{"command":"ls","image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}"#,
        r#"{"image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}"#,
        r#"{"command":"ls","image":"nope"}"#,
        r#"{"registry":{"url":"docker://x"},"tag":null}"#,
        r#"{"command":"ls","image":"019eef27-7ecb-7771-8184-aaf5fa596ce2","result":{"state":{"exit_code":"zero"}}}"#,
        r#"7"#,
    ] {
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        for k in &kinds {
            // Same variant or the same error text (with its JSON path).
            assert_eq!(
                OperationMetadata::choose_str(k.as_ref(), json),
                OperationMetadata::choose(k.as_ref(), value.clone()),
                "{json} {k:?}"
            );
        }
    }
}

#[test]
fn operation_responses_decode_alike_from_text_and_values() {
    for text in [
        r#"{"kind":"instance","metadata":{"command":"ls","image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}}"#,
        r#"{"metadata":{"command":"ls","image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}}"#,
        r#"{"metadata":{"registry":{"url":"docker://x"}},"kind":"image_import"}"#,
        r#"{"kind":"instance","metadata":null}"#,
        r#"{"kind":"instance"}"#,
    ] {
        let from_str: OperationResponse = serde_json::from_str(text).expect(text);
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        let from_value: OperationResponse = serde_json::from_value(value).expect(text);
        assert_eq!(from_str, from_value, "{text}");
    }
    let bad = r#"{"kind":"instance","metadata":{"image":"019eef27-7ecb-7771-8184-aaf5fa596ce2"}}"#;
    let a = serde_json::from_str::<OperationResponse>(bad).unwrap_err();
    let b = serde_json::from_value::<OperationResponse>(serde_json::from_str(bad).unwrap())
        .unwrap_err();
    assert!(a.to_string().starts_with(&b.to_string()), "{a} / {b}");
    assert!(
        b.to_string()
            .starts_with("metadata: .: missing field `command`"),
        "{b}"
    );
}

/// The spawn answer echoes the request: its `image` may be the `tag:…` the request gave,
/// or a UUID (`overrides::IMAGE_SOURCE_FIELDS`); either decodes, a malformed one does not.
#[test]
fn spawn_answer_image_may_be_a_tag_or_a_uuid() {
    let by_tag: types::InstanceSpawnResponse = decode(
        br#"{"uuid":"019eef27-7ecb-7771-8184-aaf5fa596ce2","command":"true","image":"tag:ubuntu:latest"}"#,
    )
    .unwrap();
    assert_eq!(
        by_tag.image.as_ref().and_then(ImageSource::as_tag),
        Some("ubuntu:latest")
    );
    assert_eq!(
        by_tag.uuid.map(|u| u.to_string()).as_deref(),
        Some("019eef27-7ecb-7771-8184-aaf5fa596ce2")
    );
    let by_uuid: types::InstanceSpawnResponse = decode(
        br#"{"uuid":"019eef27-7ecb-7771-8184-aaf5fa596ce2","image":"019eef27-7ecb-7771-8184-aaf5fa596ce3"}"#,
    )
    .unwrap();
    assert!(
        by_uuid
            .image
            .as_ref()
            .and_then(ImageSource::as_uuid)
            .is_some()
    );
    assert!(
        decode::<types::InstanceSpawnResponse>(
            br#"{"uuid":"019eef27-7ecb-7771-8184-aaf5fa596ce2","image":"not a ref"}"#
        )
        .is_err()
    );
}
