//! Credentials resolve like the SDK's `Contree::from_env()`, with `--profile`.

mod common;

use std::process::Stdio;

use common::{BIN, Recorder, World, ok};
use rmcp::ServiceExt as _;
use rmcp::transport::TokioChildProcess;
use serde_json::json;

fn bare_env(w: &World) -> Vec<(String, String)> {
    w.env()
        .into_iter()
        .filter(|(k, _)| matches!(k.as_str(), "HOME" | "CONTREE_HOME" | "PATH"))
        .collect()
}

/// Starts the server with only `bare_env` and `args`; it must exit 1. Returns its stderr.
async fn refused(w: &World, args: &[&str]) -> String {
    let out = tokio::process::Command::new(BIN)
        .env_clear()
        .envs(bare_env(w))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_flag_selects_the_auth_ini_profile() {
    let w = World::new().await;
    std::fs::write(
        w.home.path().join("auth.ini"),
        format!(
            "[DEFAULT]\nprofile = other\n\n[profile:other]\nurl = http://127.0.0.1:1\ntoken = nope\nproject = p\n\n[profile:mock]\nurl = {}\ntoken = {}\ntype = iam\nproject = {}\n",
            w.mock.base_url(),
            w.mock.token(),
            w.mock.project().unwrap_or_default()
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.env_clear()
        .envs(bare_env(&w))
        .args(["--profile", "mock"]);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = Recorder::default().serve(transport).await.unwrap();
    let who = ok(&c, "whoami", json!({})).await;
    assert!(!who["token_uuid"].as_str().unwrap().is_empty());
    let out = ok(
        &c,
        "run",
        json!({"image": "ubuntu:latest", "command": "echo via-profile"}),
    )
    .await;
    assert_eq!(out["stdout"], "via-profile\n");
    c.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_credentials_or_profile_stop_the_server_with_the_sdk_message() {
    let w = World::new().await;
    let err = refused(&w, &[]).await;
    assert!(
        err.contains("NEBIUS_API_KEY"),
        "the message lists where it looked: {err}"
    );

    std::fs::write(
        w.home.path().join("auth.ini"),
        "[profile:a]\ntoken = t\nurl = http://127.0.0.1:1\n",
    )
    .unwrap();
    let err = refused(&w, &["--profile", "zzz"]).await;
    assert!(err.contains("zzz"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flags_and_non_loopback_addresses_are_refused() {
    for args in [
        &["--http", "0.0.0.0:0"][..],
        &["--bogus"][..],
        &["--http", "nonsense"][..],
    ] {
        let out = tokio::process::Command::new(BIN)
            .env_clear()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = tokio::process::Command::new(BIN)
        .arg("--version")
        .output()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("contree-mcp "));
}
