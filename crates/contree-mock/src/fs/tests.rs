//! Tests of the in-memory filesystem.

use bytes::Bytes;

use super::{FileKind, Fs, FsError};

fn sample() -> Fs {
    let mut fs = Fs::new();
    fs.set_clock(Some(100));
    fs.mkdir_p("/a/b/c").unwrap();
    fs.write("/a/b/file", Bytes::from_static(b"hello")).unwrap();
    fs.write("/a-b", Bytes::from_static(b"x")).unwrap();
    fs.symlink("b", "/a/lnk").unwrap();
    fs
}

#[test]
fn new_has_root_only() {
    let fs = Fs::new();
    let m = fs.stat("/").unwrap();
    assert_eq!(m.kind, FileKind::Dir);
    assert_eq!(m.mode, 0o040755);
    assert_eq!(fs.list("/").unwrap().len(), 0);
    assert_eq!(Fs::default().content_hash(), fs.content_hash());
}

#[test]
fn write_read_append() {
    let mut fs = sample();
    assert_eq!(fs.read("/a/b/file").unwrap(), "hello");
    fs.append("/a/b/file", b" world").unwrap();
    assert_eq!(fs.read("/a/b/file").unwrap(), "hello world");
    fs.append("/a/new", b"n").unwrap();
    assert_eq!(fs.read("/a/new").unwrap(), "n");
    fs.write("/a/b/file", Bytes::from_static(b"z")).unwrap();
    assert_eq!(fs.stat("/a/b/file").unwrap().size, 1);
    assert_eq!(fs.stat("/a/b/file").unwrap().mode, 0o100644);
}

#[test]
fn append_to_a_clone_leaves_the_original_alone() {
    let mut a = sample();
    let b = a.clone();
    for _ in 0..3 {
        a.append("/a/b/file", b"!").unwrap();
    }
    assert_eq!(a.read("/a/b/file").unwrap(), "hello!!!");
    assert_eq!(b.read("/a/b/file").unwrap(), "hello");
    let mut c = a.clone();
    c.append("/a/b/file", b"?").unwrap();
    assert_eq!(a.read("/a/b/file").unwrap(), "hello!!!");
    assert_eq!(c.read("/a/b/file").unwrap(), "hello!!!?");
}

#[test]
fn errors() {
    let mut fs = sample();
    assert_eq!(fs.read("/nope"), Err(FsError::NotFound("/nope".to_owned())));
    assert_eq!(
        fs.write("/x/y", Bytes::new()),
        Err(FsError::NotFound("/x/y".to_owned()))
    );
    assert!(matches!(fs.read("/a"), Err(FsError::IsADirectory(_))));
    assert!(matches!(
        fs.write("/a", Bytes::new()),
        Err(FsError::IsADirectory(_))
    ));
    assert!(matches!(
        fs.read("/a/b/file/x"),
        Err(FsError::NotADirectory(_))
    ));
    assert!(matches!(fs.mkdir("/a"), Err(FsError::Exists(_))));
    assert!(matches!(fs.mkdir_p("/a/b/file/q"), Err(FsError::Exists(_))));
    assert!(matches!(fs.remove("/a", false), Err(FsError::NotEmpty(_))));
    assert!(matches!(fs.remove("/", true), Err(FsError::Invalid(_))));
    assert!(matches!(fs.symlink("x", "/a-b"), Err(FsError::Exists(_))));
    assert_eq!(
        FsError::NotFound("/q".into()).to_string(),
        "/q: No such file or directory"
    );
}

#[test]
fn symlinks_and_dotdot() {
    let mut fs = sample();
    assert_eq!(fs.read("/a/lnk/file").unwrap(), "hello");
    assert_eq!(fs.read("/a/lnk/../b/./file").unwrap(), "hello");
    assert_eq!(fs.read("/../../a/b/file").unwrap(), "hello");
    assert_eq!(fs.lstat("/a/lnk").unwrap().kind, FileKind::Symlink);
    assert_eq!(fs.lstat("/a/lnk").unwrap().mode, 0o120777);
    assert_eq!(fs.stat("/a/lnk").unwrap().kind, FileKind::Dir);
    fs.symlink("/loop2", "/loop1").unwrap();
    fs.symlink("/loop1", "/loop2").unwrap();
    assert!(matches!(fs.read("/loop1"), Err(FsError::Invalid(_))));
    // writing through a symlink writes the target
    fs.symlink("/a/b/file", "/f").unwrap();
    fs.write("/f", Bytes::from_static(b"via")).unwrap();
    assert_eq!(fs.read("/a/b/file").unwrap(), "via");
    // removing a symlink keeps the target
    fs.remove("/a/lnk", false).unwrap();
    assert!(fs.exists("/a/b/file"));
    assert_eq!(fs.canonicalize("/f").unwrap(), "/a/b/file");
}

#[test]
fn list_and_walk_are_sorted_depth_first() {
    let fs = sample();
    let names: Vec<String> = fs.list("/a").unwrap().into_iter().map(|e| e.0).collect();
    assert_eq!(names, ["b", "lnk"]);
    let paths: Vec<String> = fs.walk("/").unwrap().into_iter().map(|e| e.0).collect();
    assert_eq!(
        paths,
        ["/", "/a", "/a/b", "/a/b/c", "/a/b/file", "/a/lnk", "/a-b"]
    );
    assert_eq!(fs.stat("/a/b").unwrap().nlink, 3);
    assert!(matches!(fs.list("/a-b"), Err(FsError::NotADirectory(_))));
}

#[test]
fn write_with_creates_parents() {
    let mut fs = Fs::new();
    fs.write_with(
        "/opt/app/run.sh",
        Bytes::from_static(b"#!/bin/sh"),
        0o755,
        1000,
        1000,
    )
    .unwrap();
    let m = fs.stat("/opt/app/run.sh").unwrap();
    assert_eq!((m.mode, m.uid, m.gid), (0o100755, 1000, 1000));
    assert_eq!(fs.stat("/opt/app").unwrap().kind, FileKind::Dir);
}

#[test]
fn remove_and_rename() {
    let mut fs = sample();
    fs.rename("/a/b", "/z").unwrap();
    assert_eq!(fs.read("/z/file").unwrap(), "hello");
    assert!(fs.exists("/z/c"));
    assert!(!fs.exists("/a/b"));
    assert!(matches!(
        fs.rename("/z", "/z/c/q"),
        Err(FsError::Invalid(_))
    ));
    fs.remove("/z", true).unwrap();
    assert!(!fs.exists("/z/c"));
    assert!(fs.exists("/a-b"));
}

#[test]
fn content_hash_ignores_mtime_and_order() {
    let mut x = Fs::new();
    x.mkdir_p("/d").unwrap();
    x.write("/d/1", Bytes::from_static(b"1")).unwrap();
    x.write("/d/2", Bytes::from_static(b"2")).unwrap();
    let mut y = Fs::new();
    y.set_clock(Some(5));
    y.mkdir("/d").unwrap();
    y.write("/d/2", Bytes::from_static(b"2")).unwrap();
    y.write("/d/1", Bytes::from_static(b"1")).unwrap();
    assert_eq!(x.content_hash(), y.content_hash());
    y.chmod("/d/1", 0o600).unwrap();
    assert_ne!(x.content_hash(), y.content_hash());
    y.chmod("/d/1", 0o644).unwrap();
    assert_eq!(x.content_hash(), y.content_hash());
    y.chown("/d/1", 1, 1).unwrap();
    assert_ne!(x.content_hash(), y.content_hash());
    let clone = x.clone();
    x.write("/d/1", Bytes::from_static(b"changed")).unwrap();
    assert_ne!(x.content_hash(), clone.content_hash());
}
