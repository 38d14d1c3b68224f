//! Every operation built with `contree-proto`'s sans-IO request builders and parsed with its
//! response parsers: the mock and the SDK's wire view cannot drift apart.

use std::fmt::Debug;
use std::time::Duration;

use bytes::Bytes;
use contree_proto::Request;
use contree_proto::requests::*;
use contree_proto::types::{self, ImageSource, ImageSourceTag};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::common::{Client, setup};

/// Sends a proto-built request; returns the parsed response and the raw one.
async fn call<R: Request>(c: &Client, req: &R) -> (R::Response, http::Response<Bytes>)
where
    R::Response: Debug,
{
    let h = req.to_http().expect("the request builds");
    let uri = h.uri().to_string();
    let headers: Vec<(String, String)> = h
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let hdrs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = (!h.body().is_empty()).then(|| h.body().clone());
    let r = c.send(h.method().as_str(), &uri, &hdrs, body).await;
    let mut resp = http::Response::builder().status(r.status);
    for (k, v) in &r.headers {
        if k != "content-encoding" {
            resp = resp.header(k, v);
        }
    }
    let resp = resp.body(r.body.clone()).unwrap();
    let parsed = R::parse(&resp).unwrap_or_else(|e| panic!("{} does not parse: {e}", R::meta().id));
    (parsed, resp)
}

macro_rules! ok {
    ($c:expr, $req:expr) => {{
        let req = $req;
        let (parsed, raw) = call($c, &req).await;
        match parsed.into_success() {
            Ok(v) => (v, raw),
            Err(other) => panic!("{req:?} failed: {other:?}"),
        }
    }};
}

fn id_from_location(raw: &http::Response<Bytes>) -> Uuid {
    let loc = contree_proto::response::location(raw).expect("Location");
    Uuid::parse_str(loc.trim_end_matches('/').rsplit('/').next().unwrap()).unwrap()
}

async fn wait(c: &Client, op: Uuid) -> types::OperationResponse {
    for _ in 0..4000 {
        let (v, raw) = ok!(c, GetOperationStatus::new(op));
        assert_eq!(contree_proto::response::retry_after_secs(&raw), Some(1));
        if matches!(
            v.status.as_ref().map(|s| s.as_str()),
            Some("SUCCESS" | "FAILED" | "CANCELLED")
        ) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("operation {op} did not finish");
}

#[tokio::test]
async fn all_operations_through_contree_proto() {
    let (_s, c) = setup().await;
    let c = c.gzip();
    ok!(&c, WhoAmI::new());
    let (list, _) = ok!(&c, ListImages::new());
    assert!(!list.images.unwrap_or_default().is_empty());
    let (_, raw) = ok!(&c, InspectFindImageByTag::new("busybox:latest"));
    let busybox = id_from_location(&raw);
    ok!(&c, InspectImage::new(busybox));
    ok!(&c, InspectRedirect::new());
    ok!(&c, InspectImageRedirect::new(busybox));

    let data = Bytes::from_static(b"proto file\n");
    let sha = hex::encode(Sha256::digest(&data));
    let (file, _) = ok!(&c, UploadFile::new(data.clone()));
    ok!(&c, CheckFileExists::new(sha.clone()));
    let (got, _) = ok!(&c, GetFile::new(sha.clone()));
    assert_eq!(got.uuid, file.uuid);
    ok!(&c, ListFiles::new());

    let mut spawn = types::InstanceSpawnRequest::new(
        "cat /in.txt; mkdir -p /d; echo found > /d/x.txt",
        ImageSource::Tag(ImageSourceTag("tag:busybox:latest".into())),
    );
    spawn.shell = Some(true);
    let f = types::InstanceFile {
        uuid: Some(file.uuid),
        mode: Some("0644".into()),
        ..Default::default()
    };
    spawn.files = Some([("/in.txt".to_string(), f)].into_iter().collect());
    let (created, raw) = ok!(&c, SpawnInstance::new(spawn));
    let op = created.uuid.expect("operation uuid");
    assert_eq!(id_from_location(&raw), op);
    let done = wait(&c, op).await;
    let img = done.result_image_uuid.expect("result image");
    let (events, _) = ok!(&c, GetOperationEvents::new(op));
    assert!(String::from_utf8_lossy(&events).contains("event: completion"));
    ok!(&c, ListOperations::new());

    ok!(&c, InspectImageFile::new(img, "/d"));
    let (bytes, _) = ok!(&c, InspectImageDownload::new(img, "/d/x.txt"));
    assert_eq!(&bytes[..], b"found\n");
    ok!(&c, CheckImageFile::new(img, "/d/x.txt"));
    ok!(&c, InspectImageArchive::new(img, "/d"));
    ok!(&c, CheckImageArchive::new(img, "/d"));
    let (grep, _) = ok!(&c, InspectImageGrep::new(img, vec!["found".into()]));
    assert_eq!(grep.matches.len(), 1);
    ok!(
        &c,
        UpdateImageTag::new(img, types::UpdateImageTagBody::new("proto:1"))
    );
    ok!(&c, DeleteImageTag::new(img));

    let import = types::ImageImportRequest::new(types::ImageImportRequestRegistry::new(
        "docker://docker.io/library/alpine:3.20",
    ));
    let (imp, _) = ok!(&c, ImportImage::new(import));
    assert_eq!(wait(&c, imp.uuid).await.status.unwrap().as_str(), "SUCCESS");

    // A long-running instance for the subprocess endpoints and cancel.
    let mut long = types::InstanceSpawnRequest::new(
        "cat",
        ImageSource::Tag(ImageSourceTag("tag:busybox:latest".into())),
    );
    let mut stdin = types::ClosableStreamRepr::new("");
    stdin.close = Some(false);
    long.stdin = Some(stdin);
    let (created, _) = ok!(&c, SpawnInstance::new(long));
    let op = created.uuid.unwrap();
    for _ in 0..4000 {
        let (v, _) = ok!(&c, GetOperationStatus::new(op));
        if v.status.as_ref().map(|s| s.as_str()) == Some("EXECUTING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut exec = types::ExecSpec::new("cat");
    let mut open = types::ClosableStreamRepr::new("x");
    open.close = Some(false);
    exec.stdin = Some(open);
    let (sub, _) = ok!(&c, OperationSubprocessCreate::new(op, exec));
    assert_eq!(sub.spid, 2);
    ok!(
        &c,
        OperationSubprocessStdin::new(op, 2, types::ClosableStreamRepr::new("y"))
    );
    ok!(&c, OperationSubprocess::new(op, 2));
    let mut kill = OperationSubprocessKill::new(op, 1);
    kill.signal = Some("TERM".into());
    let (_, _) = ok!(&c, kill);
    assert_eq!(wait(&c, op).await.status.unwrap().as_str(), "SUCCESS");
    let again = c.run("sleep 30").await;
    let again = Uuid::parse_str(&again).unwrap();
    ok!(&c, CancelOperation::new(again));
    assert_eq!(wait(&c, again).await.status.unwrap().as_str(), "CANCELLED");
}
