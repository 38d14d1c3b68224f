//! Inspect without a VM: ls, stat, exists, read, download, archive + extract, grep.

use contree::{EntryKind, ErrorKind, GrepCase, Image};
use contree_integration_tests::setup;

async fn prepared(env: &contree_integration_tests::TestEnv) -> Image {
    env.contree
        .images()
        .use_tag("ubuntu:latest")
        .shell(
            "mkdir -p /data/sub; echo hello > /data/a.txt; echo 'second line' > /data/sub/b.txt; \
             printf 'x\\377y' > /data/bin; ln -s /data/a.txt /data/link",
        )
        .await
        .unwrap()
        .check()
        .unwrap()
        .into_image()
        .unwrap()
}

#[tokio::test]
async fn ls_stat_exists() {
    let env = setup().await;
    let img = prepared(&env).await;
    let entries = img.ls("/data").await.unwrap();
    let a = entries.iter().find(|e| e.name == "a.txt").expect("a.txt");
    assert_eq!(a.kind, EntryKind::File);
    assert_eq!(a.path, "/data/a.txt");
    assert_eq!(a.size, 6);
    assert!(a.mtime.is_some());
    let sub = entries.iter().find(|e| e.name == "sub").expect("sub");
    assert!(sub.is_dir());
    let link = entries.iter().find(|e| e.name == "link").expect("link");
    assert!(link.is_symlink());
    assert_eq!(link.symlink_target.as_deref(), Some("/data/a.txt"));
    assert_eq!(img.stat("/data/sub/b.txt").await.unwrap().size, 12);
    assert!(img.stat("/data/nope").await.unwrap_err().is_not_found());
    assert!(img.exists("/data/a.txt").await.unwrap());
    assert!(img.exists("/data/sub").await.unwrap());
    assert!(!img.exists("/data/nope").await.unwrap());
    assert_eq!(
        img.ls("relative").await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[tokio::test]
async fn read_and_read_to_string() {
    let env = setup().await;
    let img = prepared(&env).await;
    assert_eq!(img.read_to_string("/data/a.txt").await.unwrap(), "hello\n");
    assert_eq!(img.read("/data/bin").await.unwrap().as_ref(), b"x\xffy");
    let e = img.read_to_string("/data/bin").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Utf8);
    assert!(img.read("/data/missing").await.unwrap_err().is_not_found());
    assert!(
        img.read("/data/sub").await.is_err(),
        "a directory is not a regular file"
    );
}

#[tokio::test]
async fn download_to_file_dir_and_new_dirs() {
    let env = setup().await;
    let img = prepared(&env).await;
    let dir = tempfile::tempdir().unwrap();
    let to_file = img
        .download("/data/a.txt", dir.path().join("x.txt"))
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&to_file).unwrap(), "hello\n");
    let into_dir = img.download("/data/a.txt", dir.path()).await.unwrap();
    assert_eq!(into_dir, dir.path().join("a.txt"));
    assert_eq!(std::fs::read_to_string(&into_dir).unwrap(), "hello\n");
    let nested = img
        .download("/data/sub/b.txt", dir.path().join("new/deeper/"))
        .await
        .unwrap();
    assert_eq!(nested, dir.path().join("new/deeper/b.txt"));
    assert_eq!(std::fs::read_to_string(&nested).unwrap(), "second line\n");
    // A failed download leaves nothing behind.
    let bad = dir.path().join("missing.txt");
    assert!(img.download("/data/missing", &bad).await.is_err());
    assert!(!bad.exists());
}

#[tokio::test]
async fn archive_and_extract() {
    let env = setup().await;
    let img = prepared(&env).await;
    let raw = img.archive("/data").await.unwrap().bytes().await.unwrap();
    let mut names = Vec::new();
    for e in tar::Archive::new(&raw[..]).entries().unwrap() {
        names.push(e.unwrap().path().unwrap().display().to_string());
    }
    assert!(names.iter().any(|n| n.ends_with("a.txt")), "{names:?}");
    let dir = tempfile::tempdir().unwrap();
    let n = img
        .archive("/data")
        .await
        .unwrap()
        .extract_to(dir.path())
        .await;
    // Absolute symlinks (`/data/link`) are refused as unsafe; archive a subtree without one.
    match n {
        Ok(n) => assert!(n >= 3),
        Err(e) => assert_eq!(e.kind(), ErrorKind::UnsafeArchive, "{e}"),
    }
    let dir2 = tempfile::tempdir().unwrap();
    let n = img
        .archive("/data/sub")
        .await
        .unwrap()
        .extract_to(dir2.path())
        .await
        .unwrap();
    assert!(n >= 1);
    let found = walk(dir2.path());
    assert!(found.iter().any(|p| p.ends_with("b.txt")), "{found:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn grep_builder() {
    let env = setup().await;
    let img = prepared(&env).await;
    let r = img.grep("hello").path("/data").await.unwrap();
    assert!(
        r.matches()
            .iter()
            .any(|m| m.path == "/data/a.txt" && m.line_number == 1)
    );
    assert!(!r.truncated());
    let r = img
        .grep("SECOND")
        .case(GrepCase::Insensitive)
        .path("/data")
        .glob("*.txt")
        .max_total(5)
        .await
        .unwrap();
    assert_eq!(r.matches().len(), 1);
    assert_eq!(r.matches()[0].submatches[0].text.to_lowercase(), "second");
    let r = img.grep("SECOND").path("/data").await.unwrap();
    assert!(r.matches().is_empty(), "case-sensitive by default");
}
