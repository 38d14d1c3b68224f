use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{Client, setup};

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

#[tokio::test]
async fn upload_dedup_head_get_list() {
    let (_s, c) = setup().await;
    let r = c
        .send(
            "POST",
            "/files",
            &[("content-type", "application/octet-stream")],
            Some("hello file".into()),
        )
        .await;
    let v = r.expect(201, "FileResponse");
    assert_eq!(v["sha256"], sha(b"hello file"));
    assert_eq!(v["size"], 10);
    let uuid = v["uuid"].as_str().unwrap().to_string();
    let first = c
        .get(&format!("/files/{}", sha(b"hello file")))
        .await
        .expect(200, "File");
    assert_eq!(first["uuid"], uuid.as_str());
    // Re-upload: same uuid, updated_at bumped.
    let again = c
        .send("POST", "/files", &[], Some("hello file".into()))
        .await
        .expect(201, "FileResponse");
    assert_eq!(again["uuid"], uuid.as_str());
    let second = c
        .get(&format!("/files/{}", sha(b"hello file").to_uppercase()))
        .await
        .expect(200, "File");
    assert_eq!(second["created_at"], first["created_at"]);
    assert!(second["updated_at"].as_str() > first["updated_at"].as_str());

    let r = c.head(&format!("/files/{}", sha(b"hello file"))).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        c.head(&format!("/files/{}", sha(b"other"))).await.status,
        404
    );
    // The spec lists only 404 here: a malformed digest names no file.
    assert_eq!(c.head("/files/xyz").await.status, 404);
    c.get(&format!("/files/{}", sha(b"other")))
        .await
        .expect_error(404);
    c.get("/files/not-hex").await.expect_error(404);

    // Empty files are fine too.
    c.send("POST", "/files", &[], None)
        .await
        .expect(201, "FileResponse");
    let list = c.get("/files").await.expect(200, "FilesListResponse");
    assert_eq!(list["files"].as_array().unwrap().len(), 2);
    let page = c
        .get("/files?limit=1&offset=1")
        .await
        .expect(200, "FilesListResponse");
    assert_eq!(page["files"].as_array().unwrap().len(), 1);
    assert_eq!(page["files"][0]["sha256"], sha(b""));
    let none = c
        .get("/files?since=2099-01-01T00:00:00Z")
        .await
        .expect(200, "FilesListResponse");
    assert!(none["files"].as_array().unwrap().is_empty());
    let all = c
        .get("/files?until=2099-01-01T00:00:00Z&since=1d")
        .await
        .expect(200, "FilesListResponse");
    assert_eq!(all["files"].as_array().unwrap().len(), 2);
    c.get("/files?since=soon").await.expect_error(400);
    c.get("/files?limit=0").await.expect_error(400);
}

/// `Transfer-Encoding: chunked` uploads (what http.client sends for file objects).
#[tokio::test]
async fn chunked_upload() {
    let (_s, c) = setup().await;
    let mut tcp = tokio::net::TcpStream::connect(&c.addr).await.unwrap();
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer test-token\r\nproject: test-project\r\n\
         content-type: application/octet-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        c.addr
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(b"5\r\nchunk\r\n6\r\ned up!\r\n0\r\n\r\n")
        .await
        .unwrap();
    let mut resp = Vec::new();
    tcp.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp);
    assert!(text.starts_with("HTTP/1.1 201"), "{text}");
    assert!(text.contains(&sha(b"chunked up!")), "{text}");
    let v = c
        .get(&format!("/files/{}", sha(b"chunked up!")))
        .await
        .expect(200, "File");
    assert_eq!(v["size"], 11);
}

#[tokio::test]
async fn gzip_is_used_only_when_accepted() {
    let (_s, c) = setup().await;
    let plain = c.get("/files").await;
    assert!(!plain.was_gzip);
    let gz = Client {
        gzip: true,
        ..c.clone()
    }
    .get("/files")
    .await;
    assert!(gz.was_gzip);
    assert_eq!(gz.json(), plain.json());
    let r = c
        .send(
            "GET",
            "/whoami",
            &[("accept-encoding", "gzip;q=0, identity")],
            None,
        )
        .await;
    assert!(!r.was_gzip);
}
