//! Client construction, credentials resolution, whoami, concurrency limit, user agent.

use std::sync::Arc;
use std::time::Duration;

use contree::auth::{MapEnv, MemFs};
use contree_integration_tests::{setup, setup_local};
use contree_mock::MockServer;

#[tokio::test]
async fn builder_with_explicit_credentials_talks_to_the_server() {
    let env = setup().await;
    let me = env.contree.whoami().await.expect("whoami");
    assert!(!me.token_uuid().is_empty());
    assert!(me.can("spawn"));
    assert_eq!(env.contree.cached_whoami(), Some(me));
}

#[tokio::test]
async fn from_environment_resolves_token_project_and_url() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let env = MapEnv::from_iter([
        ("NEBIUS_API_KEY", server.token().to_string()),
        (
            "NEBIUS_PROJECT_ID",
            server.project().unwrap_or("").to_string(),
        ),
        ("CONTREE_BASE_URL", server.base_url().to_string()),
        ("HOME", "/nonexistent-home".to_string()),
    ]);
    let contree = contree::Contree::builder()
        .env(Arc::new(env))
        .fs(Arc::new(MemFs::new()))
        .build()
        .expect("client from env");
    contree.whoami().await.expect("whoami with env credentials");
}

#[tokio::test]
async fn from_auth_ini_profile() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let fs = MemFs::new();
    fs.insert(
        "/home/me/.config/contree/auth.ini",
        format!(
            "[profile:default]\nurl = {}\ntoken = {}\nproject = {}\ntype = iam\n",
            server.base_url(),
            server.token(),
            server.project().unwrap_or("")
        ),
        0o600,
    );
    let contree = contree::Contree::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(fs))
        .build()
        .expect("client from auth.ini");
    contree
        .whoami()
        .await
        .expect("whoami with profile credentials");
}

#[tokio::test]
async fn missing_credentials_is_an_auth_error_naming_the_sources() {
    let err = contree::Contree::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/nonexistent-home")])))
        .fs(Arc::new(MemFs::new()))
        .build()
        .expect_err("no token anywhere");
    assert!(err.is_auth(), "{err}");
    assert!(err.to_string().contains("NEBIUS_API_KEY"), "{err}");
}

#[tokio::test]
async fn wrong_token_is_auth_error_with_status() {
    let env = setup().await;
    let bad = contree_integration_tests::client_builder(
        &env.base_url,
        "wrong-token",
        Some("test-project"),
    )
    .build()
    .unwrap();
    let err = bad.whoami().await.expect_err("401");
    assert!(err.is_auth(), "{err}");
    assert_eq!(err.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert!(
        !err.to_string().contains("wrong-token"),
        "token leaked: {err}"
    );
}

#[tokio::test]
async fn a_rejected_token_costs_one_request() {
    // The client's credentials are fixed once resolved: a 401 is the error at once, with no
    // credential refresh and no second request.
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let bad = contree_integration_tests::client_builder(
        server.base_url(),
        "wrong-token",
        server.project(),
    )
    .build()
    .unwrap();
    let err = bad.whoami().await.expect_err("401");
    assert!(err.is_auth(), "{err}");
    assert_eq!(server.request_count("whoAmI"), 1);
}

#[tokio::test]
async fn whoami_limits_and_timeout_warning() {
    let env = setup_local(MockServer::builder().limit("instance_max_timeout", 30)).await;
    let me = env.contree.whoami().await.unwrap();
    assert_eq!(me.instance_max_timeout(), Some(Duration::from_secs(30)));
    assert!(me.check_run_timeout(Duration::from_secs(31)).is_some());
    assert!(me.check_run_timeout(Duration::from_secs(30)).is_none());
    // A run above the limit still goes out (the warning is advisory).
    let out = env
        .contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo ok")
        .timeout(Duration::from_secs(40))
        .await;
    assert!(out.is_ok() || out.as_ref().is_err_and(|e| e.status().is_some()));
}

#[tokio::test]
async fn user_agent_prefix_is_sent() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .user_agent_prefix("facade-test/9.9")
    .build()
    .unwrap();
    contree.whoami().await.unwrap();
    let reqs = server.requests();
    let ua = reqs
        .iter()
        .find_map(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("user-agent"))
                .map(|(_, v)| v.clone())
        })
        .expect("a user-agent header");
    assert!(ua.starts_with("facade-test/9.9"), "{ua}");
}

#[tokio::test]
async fn concurrency_limit_bounds_requests_in_flight() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .concurrency_limit(1)
    .build()
    .unwrap();
    // Every whoami is delayed; with a limit of 1 they are still all answered.
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(4)
            .delay(Duration::from_millis(50)),
    );
    let calls = (0..4).map(|_| contree.whoami());
    for r in futures_util::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(server.request_count("whoAmI"), 4);
}

#[tokio::test]
async fn client_is_cheap_to_clone_and_send() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    let env = setup().await;
    assert_send_sync(&env.contree);
    let c = env.contree.clone();
    tokio::spawn(async move { c.whoami().await.map(|_| ()) })
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn retry_policy_is_configurable() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let retrying = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .retry(contree::RetryConfig {
        max_attempts: 3,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..Default::default()
    })
    .build()
    .unwrap();
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(2)
            .status(503),
    );
    retrying.whoami().await.expect("two 503s are retried");
    assert_eq!(server.request_count("whoAmI"), 3);

    let no_retry = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .retry(contree::RetryConfig::disabled())
    .build()
    .unwrap();
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(1)
            .status(503),
    );
    let e = no_retry.whoami().await.unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert!(e.is_retryable(), "{e}");
}

#[tokio::test]
async fn request_timeouts_are_configurable() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let contree = contree_integration_tests::client_builder(
        server.base_url(),
        server.token(),
        server.project(),
    )
    .timeouts(contree::Timeouts {
        attempt: Duration::from_millis(200),
        ..Default::default()
    })
    .retry(contree::RetryConfig::disabled())
    .build()
    .unwrap();
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(1)
            .delay(Duration::from_secs(2)),
    );
    let e = contree.whoami().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");
}

#[tokio::test]
async fn credentials_provider_is_used() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let creds =
        contree::auth::Credentials::builder(contree::auth::SecretToken::new(server.token()))
            .base_url(server.base_url())
            .project(server.project().unwrap_or(""))
            .build()
            .unwrap();
    let contree = contree::Contree::builder()
        .credentials_provider(Arc::new(contree::auth::StaticProvider::new(creds)))
        .allow_insecure_http(true)
        .build()
        .unwrap();
    contree.whoami().await.unwrap();
}

/// `CONTREE_MAX_RETRIES` and `CONTREE_TIMEOUT` (contree-auth's `ClientSettings`) reach the
/// transport when the client resolves its credentials from the environment.
#[tokio::test]
async fn retry_and_timeout_settings_come_from_the_environment() {
    let server = MockServer::builder().latency(Duration::ZERO).start().await;
    let env_with = |extra: &[(&str, &str)]| {
        let mut vars = vec![
            ("NEBIUS_API_KEY".to_string(), server.token().to_string()),
            (
                "NEBIUS_PROJECT_ID".to_string(),
                server.project().unwrap_or("").to_string(),
            ),
            (
                "CONTREE_BASE_URL".to_string(),
                server.base_url().to_string(),
            ),
            ("HOME".to_string(), "/nonexistent-home".to_string()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        contree::Contree::builder()
            .env(Arc::new(MapEnv::from_iter(vars)))
            .fs(Arc::new(MemFs::new()))
            .build()
            .expect("client from env")
    };

    // No retries: a single 503 is the answer, after exactly one request.
    let no_retries = env_with(&[("CONTREE_MAX_RETRIES", "0")]);
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(1)
            .status(503),
    );
    let e = no_retries.whoami().await.unwrap_err();
    assert_eq!(e.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(server.request_count("whoAmI"), 1);

    // An attempt timeout shorter than the mock's delay turns into a timeout error.
    let impatient = env_with(&[("CONTREE_TIMEOUT", "0.2"), ("CONTREE_MAX_RETRIES", "0")]);
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(1)
            .delay(Duration::from_secs(3)),
    );
    let e = impatient.whoami().await.unwrap_err();
    assert!(e.is_timeout(), "{e}");

    // An explicit builder option wins over the environment.
    let explicit = contree::Contree::builder()
        .env(Arc::new(MapEnv::from_iter([
            ("NEBIUS_API_KEY", server.token().to_string()),
            (
                "NEBIUS_PROJECT_ID",
                server.project().unwrap_or("").to_string(),
            ),
            ("CONTREE_BASE_URL", server.base_url().to_string()),
            ("CONTREE_MAX_RETRIES", "0".to_string()),
            ("HOME", "/nonexistent-home".to_string()),
        ])))
        .fs(Arc::new(MemFs::new()))
        .retry(contree::RetryConfig {
            max_attempts: 2,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
            ..Default::default()
        })
        .build()
        .unwrap();
    let before = server.request_count("whoAmI");
    server.inject(
        contree_mock::FaultRule::new(http::Method::GET, "/v1/whoami")
            .times(1)
            .status(503),
    );
    explicit
        .whoami()
        .await
        .expect("the builder's retry policy retries once");
    assert_eq!(server.request_count("whoAmI") - before, 2);
}
