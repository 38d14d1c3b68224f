use std::io::Read as _;

use serde_json::{Value, json};

use crate::common::{Client, setup};

/// Builds an image with known files (placed via upload + spawn, and a symlink from the shell).
async fn fixture(c: &Client) -> String {
    let mut fids = Vec::new();
    for data in [
        &b"hello world\nsecond line\nHELLO again\n"[..],
        b"Foo = 1\nbar = 2\nfoo = 3\n",
        b"bin\0ary hello\n",
        b"hello\nhello\nhello\nhello\n",
    ] {
        let v = c
            .send(
                "POST",
                "/files",
                &[],
                Some(bytes::Bytes::copy_from_slice(data)),
            )
            .await
            .expect(201, "FileResponse");
        fids.push(v["uuid"].as_str().unwrap().to_string());
    }
    let op = c
        .spawn(json!({
            "command": "ln -s /data/a.txt /data/link",
            "image": "tag:busybox:latest",
            "shell": true,
            "files": {
                "/data/a.txt": {"uuid": fids[0], "mode": "0644"},
                "/data/sub/b.conf": {"uuid": fids[1], "mode": "0600", "uid": 5, "gid": 6},
                "/data/bin.dat": {"uuid": fids[2]},
                "/other/many.txt": {"uuid": fids[3]},
            },
        }))
        .await;
    let v = c.wait(&op).await;
    v["result_image_uuid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn redirects_find_and_image_metadata() {
    let (_s, c) = setup().await;
    let r = c.get("/inspect").await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location").as_deref(), Some("/v1/inspect/"));
    let img = fixture(&c).await;
    let r = c.get(&format!("/inspect/{img}")).await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some(format!("/v1/inspect/{img}/")));
    let v = c
        .get(&format!("/inspect/{img}/"))
        .await
        .expect(200, "Image");
    assert_eq!(v["uuid"], img.as_str());
    assert!(v["tag"].is_null());
    assert!(v["operation_uuid"].is_string());
    c.get("/inspect/00000000-0000-4000-8000-000000000000/")
        .await
        .expect_error(404);
    c.get("/inspect/not-a-uuid/").await.expect_error(400);
    let r = c.get("/inspect/?tag=tag:busybox:latest").await;
    assert_eq!(r.status, 302);
    c.get("/inspect/?tag=nope:1").await.expect_error(404);
}

#[tokio::test]
async fn list_download_and_head() {
    let (_s, c) = setup().await;
    let img = fixture(&c).await;
    let v = c
        .get(&format!("/inspect/{img}/list?path=/data"))
        .await
        .expect(200, "DirectoryList");
    assert_eq!(v["path"], "/data");
    let names: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "bin.dat", "link", "sub"]);
    let by = |n: &str| -> Value {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by("a.txt")["mode"], 0o100644);
    assert_eq!(by("a.txt")["is_regular"], true);
    assert_eq!(by("a.txt")["size"], 36);
    assert_eq!(by("sub")["is_dir"], true);
    assert_eq!(by("link")["is_symlink"], true);
    assert_eq!(by("link")["symlink_to"], "/data/a.txt");
    let text = c.get(&format!("/inspect/{img}/list?path=/data&text")).await;
    assert_eq!(text.status, 200);
    assert!(
        text.header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    let t = text.text();
    assert!(t.starts_with("total "), "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("-rw-r--r-- 1 0 0") && l.ends_with(" a.txt")),
        "{t}"
    );
    assert!(
        t.lines().any(|l| l.starts_with('d') && l.ends_with(" sub")),
        "{t}"
    );
    c.get(&format!("/inspect/{img}/list?path=/data/a.txt"))
        .await
        .expect_error(422);
    c.get(&format!("/inspect/{img}/list?path=/nope"))
        .await
        .expect_error(404);
    c.get(&format!("/inspect/{img}/list"))
        .await
        .expect_error(400);

    let r = c
        .get(&format!("/inspect/{img}/download?path=/data/a.txt"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(r.text().starts_with("hello world\n"));
    let r = c
        .get(&format!("/inspect/{img}/download?path=/data/link&text"))
        .await;
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert!(
        r.text().starts_with("hello world\n"),
        "symlinks are followed"
    );
    c.get(&format!("/inspect/{img}/download?path=/data"))
        .await
        .expect_error(422);
    c.get(&format!("/inspect/{img}/download?path=/data/none"))
        .await
        .expect_error(404);
    c.get(&format!("/inspect/{img}/download"))
        .await
        .expect_error(400);
    for (p, status) in [("/data/a.txt", 200), ("/data", 422), ("/none", 404)] {
        let r = c.head(&format!("/inspect/{img}/download?path={p}")).await;
        assert_eq!(r.status, status, "{p}");
        assert!(r.body.is_empty());
    }
    assert_eq!(
        c.head("/inspect/00000000-0000-4000-8000-000000000000/download?path=/")
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn archive_is_a_pax_tar() {
    let (_s, c) = setup().await;
    let img = fixture(&c).await;
    let r = c.get(&format!("/inspect/{img}/archive?path=/data")).await;
    let plain_dir = r.body.clone();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-tar")
    );
    assert!(r.header("content-length").is_none(), "archives are chunked");
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("data.tar")
    );
    let mut ar = tar::Archive::new(&r.body[..]);
    let mut seen = Vec::new();
    let mut pax = false;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if let Ok(Some(exts)) = e.pax_extensions() {
            pax |= exts.flatten().any(|x| x.key() == Ok("path"));
        }
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let kind = e.header().entry_type();
        let mut body = String::new();
        if kind.is_file() {
            e.read_to_string(&mut body).ok();
        }
        seen.push((
            path,
            kind,
            body,
            e.header().mode().unwrap(),
            e.header().uid().unwrap(),
        ));
    }
    assert!(pax, "entries carry PAX extended headers");
    let get = |p: &str| {
        seen.iter()
            .find(|s| s.0.trim_end_matches('/') == p)
            .unwrap_or_else(|| panic!("{p} in {seen:?}"))
    };
    assert!(get("a.txt").1.is_file());
    assert!(get("a.txt").2.starts_with("hello world"));
    assert!(get("sub").1.is_dir());
    assert_eq!(get("sub/b.conf").3, 0o600);
    assert_eq!(get("sub/b.conf").4, 5);
    assert!(get("link").1.is_symlink());
    // A single file becomes a one-entry archive.
    let r = c
        .get(&format!("/inspect/{img}/archive?path=/data/sub/b.conf"))
        .await;
    let mut ar = tar::Archive::new(&r.body[..]);
    let names: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["b.conf"]);
    assert!(
        r.header("content-disposition")
            .unwrap()
            .contains("data_sub_b.conf.tar")
    );
    // gzip-encoded archive when accepted.
    let gz = Client {
        gzip: true,
        ..c.clone()
    }
    .get(&format!("/inspect/{img}/archive?path=/data"))
    .await;
    assert!(gz.was_gzip);
    assert_eq!(gz.body, plain_dir);
    c.get(&format!("/inspect/{img}/archive?path=/nope"))
        .await
        .expect_error(404);
    assert_eq!(
        c.head(&format!("/inspect/{img}/archive?path=/data"))
            .await
            .status,
        200
    );
    assert_eq!(
        c.head(&format!("/inspect/{img}/archive?path=/nope"))
            .await
            .status,
        404
    );
    c.get(&format!("/inspect/{img}/archive"))
        .await
        .expect_error(400);
}

async fn grep(c: &Client, img: &str, q: &str) -> Value {
    c.get(&format!("/inspect/{img}/grep?{q}"))
        .await
        .expect(200, "GrepResult")
}

#[tokio::test]
async fn grep_patterns_paths_globs_context_case_caps() {
    let (_s, c) = setup().await;
    let img = fixture(&c).await;
    let v = grep(&c, &img, "pattern=hello&path=/data").await;
    assert_eq!(v["path"], "/data");
    assert_eq!(v["patterns"], json!(["hello"]));
    assert_eq!(v["truncated"], false);
    let m = v["matches"].as_array().unwrap();
    assert_eq!(
        m.len(),
        1,
        "binary files are skipped, the symlink is not followed: {m:?}"
    );
    assert_eq!(m[0]["path"], "/data/a.txt");
    assert_eq!(m[0]["line_number"], 1);
    assert_eq!(m[0]["absolute_offset"], 0);
    assert_eq!(m[0]["line_text"], "hello world\n");
    assert_eq!(m[0]["line_bytes"], 12);
    assert_eq!(m[0]["type"], "match");
    assert_eq!(
        m[0]["submatches"],
        json!([{"text": "hello", "start": 0, "end": 5}])
    );

    let ci = grep(&c, &img, "pattern=hello&path=/data&case=insensitive").await;
    assert_eq!(ci["matches"].as_array().unwrap().len(), 2);
    assert_eq!(ci["matches"][1]["absolute_offset"], 24);
    let smart = grep(&c, &img, "pattern=foo&path=/data&case=smart").await;
    assert_eq!(smart["matches"].as_array().unwrap().len(), 2);
    let smart_upper = grep(&c, &img, "pattern=Foo&path=/data&case=smart").await;
    assert_eq!(smart_upper["matches"].as_array().unwrap().len(), 1);

    let globbed = grep(&c, &img, "pattern=o&path=/data&glob=*.conf").await;
    assert!(
        globbed["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["path"] == "/data/sub/b.conf")
    );
    let negated = grep(&c, &img, "pattern=o&path=/data&glob=!*.conf").await;
    assert!(
        negated["matches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["path"] == "/data/a.txt")
    );

    let two = grep(&c, &img, "pattern=world&pattern=bar&path=/data&path=/other").await;
    assert_eq!(two["patterns"], json!(["world", "bar"]));
    assert_eq!(two["matches"].as_array().unwrap().len(), 2);

    let ctx = grep(&c, &img, "pattern=second&path=/data/a.txt&before=1&after=1").await;
    let types: Vec<&str> = ctx["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["context", "match", "context"]);
    assert_eq!(ctx["matches"][0]["submatches"], json!([]));

    let capped = grep(&c, &img, "pattern=hello&path=/other&max_count=2").await;
    assert_eq!(capped["matches"].as_array().unwrap().len(), 2);
    assert_eq!(capped["truncated"], false);
    let total = grep(&c, &img, "pattern=hello&path=/other&path=/data&max_total=3").await;
    assert_eq!(total["matches"].as_array().unwrap().len(), 3);
    assert_eq!(total["truncated"], true);
    let whole = grep(&c, &img, "pattern=^bar").await;
    assert_eq!(whole["path"], "/");
    assert_eq!(whole["matches"][0]["path"], "/data/sub/b.conf");

    for bad in [
        "path=/data",
        "pattern=(",
        "pattern=x&case=loud",
        "pattern=x&max_total=0",
        "pattern=x&before=51",
        "pattern=x&max_count=10001",
    ] {
        c.get(&format!("/inspect/{img}/grep?{bad}"))
            .await
            .expect_error(400);
    }
    let many: String = (0..17).map(|i| format!("pattern=p{i}&")).collect();
    c.get(&format!("/inspect/{img}/grep?{many}"))
        .await
        .expect_error(400);
    c.get(&format!("/inspect/{img}/grep?pattern=x&path=/missing"))
        .await
        .expect_error(404);
}
