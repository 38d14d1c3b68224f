//! Lineage: parents, ancestors, descendants, roots and depths recorded from runs and
//! imports (in memory and in a shared file), and changed_files from inspect listings.

use std::sync::Arc;

use contree::ImageId;
use contree::lineage::{ChangeKind, FileLineage, LineageStore};
use contree_integration_tests::{client_builder, setup_local};
use contree_mock::MockServer;

#[tokio::test]
async fn runs_and_imports_record_a_tree() {
    let env = setup_local(MockServer::builder()).await;
    let c = &env.contree;
    let root = c.images().import("alpine:3.19").await.unwrap();
    let entry = root.lineage().expect("imports are recorded");
    assert_eq!(entry.parent, None);
    assert_eq!(
        entry.origin.as_deref(),
        Some("docker://docker.io/library/alpine:3.19")
    );
    assert_eq!(root.depth(), 0);
    assert_eq!(root.root(), root);

    let a = root
        .shell("echo a > /a")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let b = a.shell("echo b > /b").await.unwrap().into_image().unwrap();
    let c2 = a.shell("echo c > /c").await.unwrap().into_image().unwrap();
    let d = b.shell("rm /a").await.unwrap().into_image().unwrap();
    let e = d.lineage().unwrap();
    assert_eq!(e.parent.map(ImageId::from), b.id());
    assert_eq!(e.command.as_deref(), Some("rm /a"));
    assert!(e.operation_id.is_some());
    assert_eq!(d.ancestors(), vec![b.clone(), a.clone(), root.clone()]);
    assert_eq!(d.depth(), 3);
    assert_eq!(d.root(), root);
    let mut desc: Vec<_> = a
        .descendants()
        .iter()
        .map(|i| i.id().unwrap().to_string())
        .collect();
    desc.sort();
    let mut want: Vec<String> = [&b, &c2, &d]
        .iter()
        .map(|i| i.id().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(desc, want);
    assert_eq!(root.descendants().len(), 4);
    assert!(d.descendants().is_empty());

    let ubuntu = c.images().get("ubuntu:latest").await.unwrap();
    // A lazy tag handle has no lineage until resolved; a disposable run records nothing.
    assert!(c.images().use_tag("ubuntu:latest").lineage().is_none());
    let gone = ubuntu.shell("true").disposable(true).await.unwrap();
    assert!(gone.image().is_none());
    assert!(ubuntu.descendants().is_empty());
}

#[tokio::test]
async fn a_file_store_is_shared_between_clients() {
    let env = setup_local(MockServer::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lineage.jsonl");
    let client = |store: Arc<dyn LineageStore>| {
        client_builder(&env.base_url, env.server().token(), env.server().project())
            .lineage_store(store)
            .build()
            .unwrap()
    };
    let one = client(Arc::new(FileLineage::open(&path)));
    let v1 = one
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo 1 > /v")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let v2 = v1.shell("echo 2 > /v").await.unwrap().into_image().unwrap();
    let two = client(Arc::new(FileLineage::open(&path)));
    let seen = two.images().use_uuid(v2.id().unwrap());
    assert_eq!(seen.depth(), 2);
    assert_eq!(seen.ancestors()[0].id(), v1.id());
    // The default client keeps lineage in memory: a third client knows nothing.
    assert!(
        env.contree
            .images()
            .use_uuid(v2.id().unwrap())
            .lineage()
            .is_none()
    );
}

#[tokio::test]
async fn changed_files_lists_what_a_step_changed() {
    let env = setup_local(MockServer::builder()).await;
    let base = env.contree.images().get("ubuntu:latest").await.unwrap();
    let v1 = base
        .shell("mkdir -p /work/sub && echo 1 > /work/a && echo x > /work/sub/gone && echo k > /work/keep")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let v2 = v1
        .shell("echo 22 > /work/a && rm /work/sub/gone && echo n > /work/sub/new && chmod 600 /work/keep")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let changes = v1.changed_files(&v2).under("/work").await.unwrap();
    let got: Vec<(&str, ChangeKind)> = changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(
        got,
        [
            ("/work/a", ChangeKind::Modified),
            ("/work/keep", ChangeKind::Modified),
            ("/work/sub/gone", ChangeKind::Removed),
            ("/work/sub/new", ChangeKind::Added),
        ]
    );
    let a = &changes[0];
    assert_eq!(
        (
            a.before.as_ref().unwrap().size,
            a.after.as_ref().unwrap().size
        ),
        (2, 3)
    );
    // The whole tree: the same changes (nothing else differs), and no VM was started.
    let spawns = env.count("spawnInstance");
    let whole = v1.changed_files(&v2).await.unwrap();
    assert_eq!(whole, changes);
    assert_eq!(env.count("spawnInstance"), spawns);
    assert!(v2.changed_files(&v2).await.unwrap().is_empty());
    // The other way round, added and removed swap.
    let back = v2.changed_files(&v1).under("/work").await.unwrap();
    assert_eq!(back[2].kind, ChangeKind::Added);
    assert_eq!(back[3].kind, ChangeKind::Removed);
}

#[test]
fn the_blocking_client_builds_syncs_and_answers_lineage() {
    let mock = MockServer::start_blocking();
    let contree = contree::blocking::Contree::builder()
        .base_url(mock.base_url())
        .token(mock.token())
        .project(mock.project().unwrap_or_default())
        .build()
        .unwrap();
    let (tree, state, cache) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    std::fs::write(tree.path().join("a.txt"), "a\n").unwrap();
    let map = contree
        .files()
        .sync_dir(tree.path(), "/src")
        .cache_file(state.path().join("c.json"))
        .output()
        .unwrap();
    let build = contree::blocking::Build::from(&contree, "ubuntu:latest")
        .files(&map)
        .run("cat /src/a.txt > /b.txt")
        .run("cat /b.txt /b.txt > /c.txt")
        .caches([contree::build::LocalCache::new(cache.path())]);
    let built = build.clone().output().unwrap();
    assert_eq!(built.misses(), 2);
    assert_eq!(build.output().unwrap().hits(), 2);
    let img = &built.image;
    assert_eq!(img.read_to_string("/c.txt").unwrap(), "a\na\n");
    assert_eq!(img.depth(), 2);
    let parent = &img.ancestors()[0];
    let changes = parent.changed_files(img).output().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/c.txt");
    assert_eq!(parent.descendants().len(), 1);
}
