//! Sessions: advance, serialise, recover from failures, history, checkout, fork.

use contree::ImageId;
use contree_integration_tests::{setup, setup_local};
use contree_mock::{FaultRule, MockServer};

#[tokio::test]
async fn session_follows_the_newest_version() {
    let env = setup().await;
    let s = env.contree.images().use_tag("ubuntu:latest").session();
    s.shell("echo 1 > /counter").await.unwrap();
    s.shell("echo 2 >> /counter").await.unwrap();
    let out = s.shell("cat /counter").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "1\n2\n");
    let h = s.history();
    // `cat` changed nothing, so it made no new version (the parent's UUID again).
    assert_eq!(h.len(), 3, "start + two versions");
    assert_eq!(s.current(), h[2]);
    assert_eq!(h[2].parent().map(ImageId::from), h[1].id());
    // Inspect works on the current version.
    assert_eq!(
        s.current().read_to_string("/counter").await.unwrap(),
        "1\n2\n"
    );
}

#[tokio::test]
async fn runs_on_one_session_are_serialised() {
    let env = setup().await;
    let s = env.contree.images().use_tag("ubuntu:latest").session();
    let runs = (0..4).map(|i| s.shell(format!("echo {i} >> /log")));
    let outs = futures_util::future::join_all(runs.map(std::future::IntoFuture::into_future)).await;
    for o in &outs {
        assert!(o.is_ok(), "{o:?}");
    }
    let log = s.current().read_to_string("/log").await.unwrap();
    assert_eq!(
        log.lines().count(),
        4,
        "every run saw the previous one: {log:?}"
    );
    // Each run started from the previous run's result.
    let h = s.history();
    for w in h.windows(2).skip(1) {
        assert_eq!(w[1].parent().map(ImageId::from), w[0].id());
    }
}

#[tokio::test]
async fn a_failed_run_leaves_the_session_at_its_last_good_version() {
    let env = setup_local(MockServer::builder()).await;
    let s = env.contree.images().use_tag("ubuntu:latest").session();
    s.shell("echo good > /state").await.unwrap();
    let good = s.current();
    env.server()
        .inject(FaultRule::new(http::Method::POST, "/v1/instances").status(400));
    assert!(s.shell("echo bad > /state").await.is_err());
    assert_eq!(s.current(), good, "not stuck, not moved");
    // The session still works.
    let out = s.shell("cat /state").await.unwrap();
    assert_eq!(out.stdout_str().unwrap(), "good\n");
    // A non-zero exit is not a failure: it made a version and the session moved on.
    let before = s.current();
    let out = s.shell("echo partial > /state; exit 1").await.unwrap();
    assert_eq!(out.exit_code(), 1);
    assert_ne!(s.current(), before);
}

#[tokio::test]
async fn checkout_and_fork() {
    let env = setup().await;
    let s = env.contree.images().use_tag("ubuntu:latest").session();
    s.shell("echo a > /f").await.unwrap();
    s.shell("echo b > /f").await.unwrap();
    let v1 = s.checkout(1).unwrap();
    assert_eq!(s.current(), v1);
    assert_eq!(s.current().read_to_string("/f").await.unwrap(), "a\n");
    assert!(s.checkout(99).is_err());
    let fork = s.fork();
    fork.shell("echo forked > /f").await.unwrap();
    assert_eq!(
        fork.current().read_to_string("/f").await.unwrap(),
        "forked\n"
    );
    assert_eq!(s.current().read_to_string("/f").await.unwrap(), "a\n");
    assert_eq!(s.current(), v1, "the fork is independent");
    // A disposable run does not move the session.
    let before = s.current();
    s.shell("echo x > /f").disposable(true).await.unwrap();
    assert_eq!(s.current(), before);
    // Clones share the session.
    let clone = s.clone();
    clone.shell("echo shared > /f").await.unwrap();
    assert_eq!(s.current(), clone.current());
}

#[tokio::test]
async fn apply_files_bakes_files_into_a_version() {
    let env = setup().await;
    let img = env.contree.images().use_tag("ubuntu:latest");
    let baked = img
        .apply_files([contree::FileSpec::new("/etc/baked.conf", b"baked\n".to_vec()).mode(0o600)])
        .await
        .unwrap()
        .into_image()
        .unwrap();
    assert_eq!(
        baked.read_to_string("/etc/baked.conf").await.unwrap(),
        "baked\n"
    );
    let s = img.session();
    s.apply_files([contree::FileSpec::new("/s.txt", b"s\n".to_vec())])
        .await
        .unwrap();
    assert_eq!(s.history().len(), 2);
    assert_eq!(s.current().read_to_string("/s.txt").await.unwrap(), "s\n");
}
