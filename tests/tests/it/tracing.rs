//! Observability: spans per call and per run carry ids, never secrets.

use std::io::Write;
use std::sync::{Arc, Mutex};

use contree_integration_tests::setup_local;
use contree_mock::MockServer;

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn runs_are_traced_with_ids_and_without_secrets() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("contree=debug,contree_transport=debug")
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let env = setup_local(MockServer::builder().token("very-secret-token")).await;
    let img = env.contree.images().get("ubuntu:latest").await.unwrap();
    let out = img.shell("echo traced").await.unwrap();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("contree.run"), "{text}");
    assert!(text.contains("contree.call"), "{text}");
    assert!(text.contains(out.operation_id()), "operation id traced");
    assert!(
        text.contains(img.id().unwrap().as_str()),
        "source image traced"
    );
    assert!(
        text.contains(out.image().unwrap().id().unwrap().as_str()),
        "result image traced"
    );
    assert!(!text.contains("very-secret-token"), "token leaked: {text}");
}

#[tokio::test]
async fn a_run_timeout_above_the_token_limit_is_warned_about() {
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("contree=warn")
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let env = setup_local(MockServer::builder().limit("instance_max_timeout", 30)).await;
    env.contree.whoami().await.unwrap();
    let img = env.contree.images().use_tag("ubuntu:latest");
    img.shell("true")
        .timeout(std::time::Duration::from_secs(20))
        .await
        .unwrap();
    let quiet = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(!quiet.contains("instance_max_timeout"), "{quiet}");
    let _ = img
        .shell("true")
        .timeout(std::time::Duration::from_secs(45))
        .await;
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("exceeds the token's instance_max_timeout"),
        "{text}"
    );
}
