//! Directory sync: excludes and secrets reported, the persistent upload cache (a re-sync
//! hashes and uploads only what changed), revalidation, and using the map.

use std::path::Path;
use std::time::{Duration, SystemTime};

use contree::build::{Build, LocalCache};
use contree::sync::SkipReason;
use contree_integration_tests::setup_local;
use contree_mock::MockServer;

/// A tree of 2,000 synced files plus what a sync must leave out.
fn big_tree(root: &Path) {
    for d in 0..20 {
        let dir = root.join(format!("pkg{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f:03}.txt")), format!("{d}/{f}\n")).unwrap();
        }
    }
    for skipped in [
        ".git/objects",
        "node_modules/lib",
        "pkg00/__pycache__",
        "logs",
    ] {
        std::fs::create_dir_all(root.join(skipped)).unwrap();
        std::fs::write(root.join(skipped).join("x"), "skip me").unwrap();
    }
    std::fs::write(root.join(".gitignore"), "/logs/\n*.tmp\n").unwrap();
    std::fs::write(root.join("pkg01/scratch.tmp"), "tmp").unwrap();
    std::fs::write(root.join(".env"), "TOKEN=secret").unwrap();
    std::fs::write(root.join("pkg02/id_ed25519"), "KEY").unwrap();
    std::fs::write(root.join("notes.draft"), "draft").unwrap();
}

/// Sets the mtime of `path`.
fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(t))
        .unwrap();
}

/// Sets the mtime of every file under `root` to an hour ago: a tree nobody has touched
/// lately, whose cache entries can vouch for it (a file modified within seconds of a sync
/// is re-hashed by the next one, however fast the machine; see the racy test below).
fn backdate(root: &Path) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            backdate(&path);
        } else {
            set_mtime(&path, hour_ago);
        }
    }
}

fn count(env: &contree_integration_tests::TestEnv, op: &str) -> u64 {
    env.count(op).unwrap()
}

#[tokio::test]
async fn a_resync_after_touching_three_files_hashes_and_uploads_three() {
    let env = setup_local(MockServer::builder()).await;
    let (tree, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    big_tree(tree.path());
    // 1,999 files of pkg*/ plus the .gitignore: 2,000 synced files.
    std::fs::remove_file(tree.path().join("pkg19/f099.txt")).unwrap();
    backdate(tree.path());
    let cache = state.path().join("sync.json");
    let sync = || {
        env.contree
            .files()
            .sync_dir(tree.path(), "/src/")
            .exclude("*.draft")
            .cache_file(&cache)
    };
    let first = sync().await.unwrap();
    assert_eq!(first.len(), 2000);
    let r = first.report();
    assert_eq!((r.hashed, r.uploaded), (2000, 2000));
    assert_eq!(count(&env, "uploadFile"), 2000);
    let reasons: Vec<(&str, &SkipReason)> = r
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), &s.reason))
        .collect();
    for (path, want) in [
        (".git", SkipReason::DefaultExclude(".git".into())),
        (
            "node_modules",
            SkipReason::DefaultExclude("node_modules".into()),
        ),
        (
            "pkg00/__pycache__",
            SkipReason::DefaultExclude("__pycache__".into()),
        ),
        (".env", SkipReason::Secret),
        ("pkg02/id_ed25519", SkipReason::Secret),
        ("notes.draft", SkipReason::Excluded),
    ] {
        assert!(reasons.contains(&(path, &want)), "{path}: {reasons:?}");
    }
    for path in ["logs", "pkg01/scratch.tmp"] {
        assert!(
            reasons
                .iter()
                .any(|(p, r)| *p == path && matches!(r, SkipReason::Gitignore(_))),
            "{path}: {reasons:?}"
        );
    }
    assert!(first.get("/src/.gitignore").is_some());
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);

    // Unchanged: nothing hashed, nothing sent.
    let before = (count(&env, "getFile"), count(&env, "uploadFile"));
    let same = sync().await.unwrap();
    assert_eq!((same.report().hashed, same.report().uploaded), (0, 0));
    assert_eq!((count(&env, "getFile"), count(&env, "uploadFile")), before);
    assert_eq!(same.files(), first.files());

    // Three files change: three hashed, three uploaded.
    for p in ["pkg00/f000.txt", "pkg10/f050.txt", "pkg19/f098.txt"] {
        std::fs::write(tree.path().join(p), format!("changed {p}\n")).unwrap();
    }
    let again = sync().await.unwrap();
    assert_eq!((again.report().hashed, again.report().uploaded), (3, 3));
    assert_eq!(count(&env, "uploadFile"), 2003);
    let changed: Vec<&String> = again
        .files()
        .iter()
        .filter(|(k, v)| first.get(k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        changed,
        [
            "/src/pkg00/f000.txt",
            "/src/pkg10/f050.txt",
            "/src/pkg19/f098.txt"
        ]
    );
}

#[tokio::test]
async fn a_same_size_rewrite_that_keeps_its_mtime_is_hashed_again() {
    let env = setup_local(MockServer::builder()).await;
    let (tree, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let file = tree.path().join("a.txt");
    std::fs::write(&file, "one\n").unwrap();
    // Just written: within the margin of the walk that records it.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    let cache = state.path().join("sync.json");
    let sync = || {
        env.contree
            .files()
            .sync_dir(tree.path(), "/src")
            .cache_file(&cache)
    };
    let first = sync().await.unwrap();
    assert_eq!((first.report().hashed, first.report().uploaded), (1, 1));
    // Rewritten with the same size, same inode and the same mtime: what a rewrite within
    // one timestamp tick of that walk looks like. Size, mtime, inode and mode all match the
    // cache entry, yet the content changed.
    std::fs::write(&file, "two\n").unwrap();
    set_mtime(&file, mtime);
    let second = sync().await.unwrap();
    assert_eq!((second.report().hashed, second.report().uploaded), (1, 1));
    let sha = |m: &contree::sync::FileMap| m.get("/src/a.txt").unwrap().file.sha256().to_string();
    assert_ne!(sha(&second), sha(&first), "the new content is in the map");
    let uploads = count(&env, "uploadFile");
    assert_eq!(uploads, 2);
    // Read again while recent, but unchanged: hashed, not uploaded.
    let third = sync().await.unwrap();
    assert_eq!((third.report().hashed, third.report().uploaded), (1, 0));
    assert_eq!(sha(&third), sha(&second));
    // Once the file is older than the walks by the margin, its entry vouches for it.
    set_mtime(&file, mtime - Duration::from_secs(3600));
    let fourth = sync().await.unwrap();
    assert_eq!(fourth.report().hashed, 1, "a new mtime is a new state");
    let fifth = sync().await.unwrap();
    assert_eq!((fifth.report().hashed, fifth.report().uploaded), (0, 0));
    assert_eq!(sha(&fifth), sha(&second));
    assert_eq!(
        count(&env, "uploadFile"),
        uploads,
        "the same content is never sent twice"
    );
}

#[tokio::test]
async fn gitignore_secrets_symlinks_and_revalidation() {
    let env = setup_local(MockServer::builder()).await;
    let (tree, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let root = tree.path();
    std::fs::create_dir_all(root.join("sub/build")).unwrap();
    std::fs::write(root.join(".gitignore"), "*.tmp\nbuild/\n").unwrap();
    std::fs::write(root.join("sub/.gitignore"), "!keep.tmp\n").unwrap();
    std::fs::write(root.join("sub/keep.tmp"), "kept").unwrap();
    std::fs::write(root.join("sub/drop.tmp"), "dropped").unwrap();
    std::fs::write(root.join("sub/build/out"), "built").unwrap();
    std::fs::write(root.join("main.py"), "print()\n").unwrap();
    std::fs::write(root.join(".env.local"), "X=1").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("main.py", root.join("link.py")).unwrap();
    backdate(root);
    let cache = state.path().join("sync.json");
    let map = env
        .contree
        .files()
        .sync_dir(root, "/w")
        .cache_file(&cache)
        .await
        .unwrap();
    let mut dests: Vec<&str> = map.files().keys().map(String::as_str).collect();
    dests.sort();
    assert_eq!(
        dests,
        [
            "/w/.gitignore",
            "/w/main.py",
            "/w/sub/.gitignore",
            "/w/sub/keep.tmp"
        ]
    );
    let skipped: Vec<&str> = map
        .report()
        .skipped
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    for p in ["sub/drop.tmp", "sub/build", ".env.local"] {
        assert!(skipped.contains(&p), "{p}: {skipped:?}");
    }
    #[cfg(unix)]
    {
        assert_eq!(
            map.symlinks().get("/w/link.py").map(String::as_str),
            Some("main.py")
        );
        assert!(skipped.contains(&"link.py"));
    }
    // Asked for: secrets and links come in.
    let all = env
        .contree
        .files()
        .sync_dir(root, "/w")
        .secrets(true)
        .follow_symlinks(true)
        .gitignore(false)
        .no_cache_file()
        .await
        .unwrap();
    assert!(all.get("/w/.env.local").is_some());
    assert!(all.get("/w/sub/drop.tmp").is_some());
    #[cfg(unix)]
    assert_eq!(
        all.get("/w/link.py").unwrap().file.sha256(),
        all.get("/w/main.py").unwrap().file.sha256()
    );

    // Old entries are re-checked with HEAD /files/{sha256}, not re-hashed.
    let heads = env.count("checkFileExists").unwrap();
    let stale = env
        .contree
        .files()
        .sync_dir(root, "/w")
        .cache_file(&cache)
        .revalidate_after(Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(stale.report().revalidated, 4);
    assert_eq!(stale.report().hashed, 0);
    assert_eq!(env.count("checkFileExists").unwrap(), heads + 4);
}

#[tokio::test]
async fn a_map_feeds_runs_sessions_and_builds() {
    let env = setup_local(MockServer::builder()).await;
    let (tree, state) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir_all(tree.path().join("app")).unwrap();
    std::fs::write(tree.path().join("app/run.sh"), "echo from-sync\n").unwrap();
    let map = env
        .contree
        .files()
        .sync_dir(tree.path(), "/src")
        .cache_file(state.path().join("s.json"))
        .await
        .unwrap();
    let ubuntu = env.contree.images().use_tag("ubuntu:latest");
    let out = ubuntu
        .shell("sh /src/app/run.sh")
        .files(&map)
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "from-sync\n");
    // An explicit file wins.
    let out = ubuntu
        .shell("sh /src/app/run.sh")
        .file("/src/app/run.sh", b"echo explicit\n".to_vec())
        .files(&map)
        .await
        .unwrap();
    assert_eq!(out.stdout_str().unwrap(), "explicit\n");
    let session = ubuntu.session();
    session.shell("true").files(&map).await.unwrap();
    assert!(session.current().exists("/src/app/run.sh").await.unwrap());
    let uploads = env.count("uploadFile").unwrap();
    let cache = tempfile::tempdir().unwrap();
    let build = Build::from(&env.contree, "ubuntu:latest")
        .files(&map)
        .run("sh /src/app/run.sh > /out")
        .caches([LocalCache::new(cache.path())]);
    let built = build.clone().await.unwrap();
    assert_eq!(
        built.image.read_to_string("/out").await.unwrap(),
        "from-sync\n"
    );
    assert_eq!(
        env.count("uploadFile").unwrap(),
        uploads,
        "synced files are not re-uploaded"
    );
    assert_eq!(build.await.unwrap().hits(), 1);
}
