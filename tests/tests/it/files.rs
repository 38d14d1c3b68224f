//! Files: upload from path, bytes and reader with sha256 dedup, progress, exists, list.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use contree::UploadSource;
use contree_integration_tests::setup_local;
use contree_mock::MockServer;
use futures_util::TryStreamExt as _;

#[tokio::test]
async fn upload_dedups_by_sha256() {
    let env = setup_local(MockServer::builder()).await;
    let files = env.contree.files();
    let a = files.upload(b"hello files\n".to_vec()).await.unwrap();
    assert_eq!(a.sha256().len(), 64);
    assert_eq!(env.server().request_count("uploadFile"), 1);
    let b = files.upload(b"hello files\n".to_vec()).await.unwrap();
    assert_eq!(a.uuid(), b.uuid());
    assert_eq!(
        env.server().request_count("uploadFile"),
        1,
        "no second upload"
    );
    assert!(
        env.server().request_count("getFile") >= 2,
        "looked up by sha256 first"
    );

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.txt");
    std::fs::write(&p, "hello files\n").unwrap();
    let c = files.upload(p.clone()).await.unwrap();
    assert_eq!(c.uuid(), a.uuid(), "same content from a path");
    let d = files
        .upload(UploadSource::reader(std::io::Cursor::new(
            b"hello files\n".to_vec(),
        )))
        .await
        .unwrap();
    assert_eq!(d.uuid(), a.uuid(), "same content from a reader");
    assert_eq!(env.server().request_count("uploadFile"), 1);
}

#[tokio::test]
async fn upload_path_and_reader_with_progress() {
    let env = setup_local(MockServer::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.bin");
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&p, &data).unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let seen2 = seen.clone();
    let up = env
        .contree
        .files()
        .upload(p)
        .progress(move |sent, total| {
            assert_eq!(total, Some(300_000));
            seen2.store(sent, Ordering::SeqCst);
        })
        .await
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 300_000);
    assert_eq!(up.size(), Some(300_000));
    let r = env
        .contree
        .files()
        .upload(UploadSource::reader(std::io::Cursor::new(
            b"reader data".to_vec(),
        )))
        .await
        .unwrap();
    assert_ne!(r.uuid(), up.uuid());
    // The uploaded content is what a run sees.
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("cat /r")
        .file("/r", r)
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "reader data");
}

#[tokio::test]
async fn exists_and_list() {
    let env = setup_local(MockServer::builder()).await;
    let files = env.contree.files();
    let up = files.upload(b"listed".to_vec()).await.unwrap();
    assert!(files.exists(up.sha256()).await.unwrap());
    assert!(!files.exists(&"0".repeat(64)).await.unwrap());
    assert!(files.exists("not-a-sha").await.is_err());
    files.upload(b"listed two".to_vec()).await.unwrap();
    let all: Vec<_> = files
        .list()
        .page_size(1)
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|f| f.file.uuid() == up.uuid()));
    assert!(files.get(up.sha256()).await.unwrap().is_some());
}
