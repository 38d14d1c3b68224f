//! The facade secrets canary (issue 16): every public type of `contree` that holds or sits
//! next to a secret (builders and clients with a canary token, registry credentials, handles,
//! outputs, events) and an error of every `ErrorKind`, each produced for real against
//! contree-mock, formatted with `{:?}`, `{:#?}` and `{}`; and every TRACE log line of the
//! run. The canary token must never appear. (contree-auth and contree-transport have their
//! own canaries for their types.)

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use contree::auth::{Credentials, MapEnv, MemFs, SecretToken, StaticProvider};
use contree::{Contree, Error, ErrorKind, RetryConfig, Timeouts};
use contree_integration_tests::client_builder;
use contree_mock::{FaultRule, MockServer};
use futures_util::StreamExt as _;
use http::Method;

/// Every crate of ours at TRACE (the HTTP stack below holds no token of its own).
const LOG_FILTER: &str = "contree=trace,contree_transport=trace,contree_auth=trace,contree_proto=trace,contree_mock=trace";
const CANARY: &str = "CANARY-f4c4de-91b2c7";
/// A registry password: a second secret, sent in an import request.
const PASSWORD: &str = "CANARY-registry-pw-55e1";

/// Every kind, so that a kind nobody produced fails the test.
const ALL_KINDS: [ErrorKind; 16] = [
    ErrorKind::Config,
    ErrorKind::Auth,
    ErrorKind::Api,
    ErrorKind::Transport,
    ErrorKind::Timeout,
    ErrorKind::Decode,
    ErrorKind::Io,
    ErrorKind::InvalidInput,
    ErrorKind::OperationFailed,
    ErrorKind::OperationCancelled,
    ErrorKind::NonZeroExit,
    ErrorKind::Utf8,
    ErrorKind::UnsafeArchive,
    ErrorKind::NotFound,
    ErrorKind::Process,
    ErrorKind::ResponseTooLarge,
];

#[derive(Default)]
struct Cases {
    formats: usize,
    types: BTreeSet<String>,
    kinds: BTreeSet<String>,
}

/// `s` with the secrets replaced, if it contains one.
fn leak(s: &str) -> Option<String> {
    [CANARY, PASSWORD]
        .iter()
        .any(|secret| s.contains(secret))
        .then(|| s.replace(CANARY, "<SECRET>").replace(PASSWORD, "<SECRET>"))
}

fn assert_clean(what: &str, how: &str, s: &str) {
    if let Some(shown) = leak(s) {
        panic!("{what} {how} leaks a secret: {shown}");
    }
}

impl Cases {
    /// A public type (named by the first word of `what`) with `Debug`.
    fn debug(&mut self, what: &str, v: &dyn std::fmt::Debug) {
        self.fmt_debug(what, v);
        self.types
            .insert(what.split(' ').next().unwrap_or(what).to_string());
    }

    fn fmt_debug(&mut self, what: &str, v: &dyn std::fmt::Debug) {
        assert_clean(what, "Debug", &format!("{v:?}"));
        assert_clean(what, "pretty Debug", &format!("{v:#?}"));
        self.formats += 2;
    }

    fn display(&mut self, what: &str, v: &dyn std::fmt::Display) {
        assert_clean(what, "Display", &v.to_string());
        self.formats += 1;
    }

    /// An error expected to be of `kind`: its Debug, Display, every source's Display, and
    /// the accessors that return server text.
    fn error(&mut self, what: &str, kind: ErrorKind, e: &Error) {
        assert_eq!(e.kind(), kind, "{what}: {e}");
        self.debug("Error", e);
        self.display(what, e);
        if let Some(m) = e.api_message() {
            self.display(what, &m);
        }
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            self.display(what, &s);
            self.fmt_debug(what, &s);
            src = s.source();
        }
        // As an io::Error (how OutputReader reports it), it stays clean.
        let io = std::io::Error::other(format!("{e}"));
        self.display(what, &io);
        self.kinds.insert(format!("{kind:?}"));
    }

    fn result<T>(&mut self, what: &str, kind: ErrorKind, r: contree::Result<T>) {
        match r {
            Ok(_) => panic!("{what}: expected an error of kind {kind:?}"),
            Err(e) => self.error(what, kind, &e),
        }
    }
}

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn one_attempt() -> RetryConfig {
    RetryConfig {
        max_attempts: 1,
        ..RetryConfig::default()
    }
}

async fn mock() -> MockServer {
    MockServer::builder().token(CANARY).start().await
}

fn client(server: &MockServer) -> Contree {
    client_builder(server.base_url(), CANARY, server.project())
        .build()
        .expect("client")
}

/// Builders and clients configured with the canary in every place a token can come from.
fn builders_and_clients(c: &mut Cases, server: &MockServer) {
    let url = server.base_url();
    let b = Contree::builder().base_url(url).token(CANARY).project("p");
    c.debug("ContreeBuilder (token)", &b);
    c.debug("Contree (token)", &b.build().expect("client"));
    let creds = Credentials::builder(SecretToken::new(CANARY))
        .build()
        .unwrap();
    let b = Contree::builder().base_url(url).credentials(creds);
    c.debug("ContreeBuilder (credentials)", &b);
    c.debug("Contree (credentials)", &b.build().expect("client"));
    let env = MapEnv::from_iter([
        ("HOME", "/home/me".to_string()),
        ("NEBIUS_API_KEY", CANARY.to_string()),
        ("CONTREE_BASE_URL", url.to_string()),
    ]);
    let fs = MemFs::new();
    fs.insert(
        "/home/me/.config/contree/auth.ini",
        format!("[profile:default]\nurl = {url}\ntoken = {CANARY}\nproject = p\n"),
        0o600,
    );
    let b = Contree::builder()
        .env(Arc::new(env))
        .fs(Arc::new(fs.clone()));
    c.debug("ContreeBuilder (env, auth.ini)", &b);
    let contree = b.build().expect("a client from env and auth.ini");
    c.debug("Contree (env, auth.ini)", &contree);
    let b = Contree::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(fs));
    c.debug("ContreeBuilder (auth.ini)", &b);
    c.debug(
        "Contree (auth.ini)",
        &b.build().expect("a client from auth.ini"),
    );
}

/// Config and Auth errors, produced by building clients and by the server.
async fn config_and_auth_errors(c: &mut Cases, server: &MockServer) {
    let url = server.base_url();
    let with_userinfo = url.replacen("http://", &format!("http://{CANARY}@"), 1);
    // Resolved with the credentials, a bad base URL is a credentials (Auth) error.
    let b = Contree::builder().base_url(&with_userinfo).token(CANARY);
    c.debug("ContreeBuilder (userinfo URL)", &b);
    c.result("userinfo in the base URL", ErrorKind::Auth, b.build());
    let b = Contree::builder()
        .base_url(format!("ftp://{CANARY}@x.example/"))
        .token(CANARY);
    c.result("a non-http base URL", ErrorKind::Auth, b.build());
    // Checked by the transport's rule, it is a Config error.
    let b = Contree::builder()
        .base_url("http://api.example.com")
        .token(CANARY);
    c.result("plain http to a remote host", ErrorKind::Config, b.build());
    let creds = Credentials::builder(SecretToken::new(CANARY))
        .build()
        .unwrap();
    let b = Contree::builder()
        .credentials_provider(Arc::new(StaticProvider::new(creds)))
        .base_url(&with_userinfo);
    c.result("userinfo next to a provider", ErrorKind::Config, b.build());
    let b = Contree::builder()
        .base_url(url)
        .token(format!("{CANARY}\n"));
    c.result("a token with a line break", ErrorKind::Auth, b.build());
    let env = MapEnv::from_iter([("HOME", "/home/me")]);
    let fs = MemFs::new();
    fs.insert(
        "/home/me/.config/contree/auth.ini",
        format!("[profile:default]\ntoken {CANARY}\n"),
        0o600,
    );
    let b = Contree::builder()
        .base_url(url)
        .env(Arc::new(env.clone()))
        .fs(Arc::new(fs));
    c.result("a malformed auth.ini", ErrorKind::Auth, b.build());
    let b = Contree::builder()
        .base_url(url)
        .env(Arc::new(env))
        .fs(Arc::new(MemFs::new()));
    c.result("no token anywhere", ErrorKind::Auth, b.build());
    // The server rejects the canary (401) and the project (403).
    let other = MockServer::builder().token("another-token").start().await;
    let wrong = client_builder(other.base_url(), CANARY, other.project())
        .build()
        .unwrap();
    c.result("401", ErrorKind::Auth, wrong.whoami().await);
    let wrong_project = client_builder(url, CANARY, Some("not-mine"))
        .build()
        .unwrap();
    c.result("403", ErrorKind::Auth, wrong_project.whoami().await);
}

/// Api, Transport, Timeout, Decode and ResponseTooLarge: what the transport can report.
async fn transport_errors(c: &mut Cases, server: &MockServer, contree: &Contree) {
    let ubuntu = contree.images().use_tag("ubuntu:latest");
    server.inject(FaultRule::new(Method::POST, "/v1/instances").status(400));
    c.result("400 on a spawn", ErrorKind::Api, ubuntu.shell("true").await);
    server.inject(
        FaultRule::new(Method::GET, "/v1/images")
            .status(503)
            .times(9),
    );
    let r = ubuntu.client().images().list().await;
    c.result("503 until retries run out", ErrorKind::Api, r);
    server.clear_faults();
    // Nothing listens on the closed port; the request never leaves loopback.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let refused = client_builder(&closed_url, CANARY, Some("p"))
        .retry(one_attempt())
        .build()
        .unwrap();
    c.debug("Contree (unreachable)", &refused);
    c.result(
        "connection refused",
        ErrorKind::Transport,
        refused.whoami().await,
    );
    server.inject(FaultRule::new(Method::POST, "/v1/instances").close_before_response());
    let r = ubuntu.shell("true").await;
    let e = r.as_ref().expect_err("a dropped spawn");
    assert!(e.may_have_taken_effect(), "{e}");
    c.result("a dropped spawn", ErrorKind::Transport, r);
    let slow = client_builder(server.base_url(), CANARY, server.project())
        .timeouts(Timeouts {
            attempt: Duration::from_millis(100),
            ..Timeouts::default()
        })
        .retry(one_attempt())
        .build()
        .unwrap();
    server.inject(FaultRule::new(Method::GET, "/v1/whoami").delay(Duration::from_secs(2)));
    c.result(
        "an attempt timeout",
        ErrorKind::Timeout,
        slow.whoami().await,
    );
    server.inject(FaultRule::new(Method::GET, "/v1/images").malformed_json());
    c.result(
        "broken JSON",
        ErrorKind::Decode,
        contree.images().list().await,
    );
    let small = client_builder(server.base_url(), CANARY, server.project())
        .max_response_bytes(64)
        .build()
        .unwrap();
    let r = small.images().list().await;
    c.result("a capped answer", ErrorKind::ResponseTooLarge, r);
}

/// Operation, process and local errors, and the handle types they come from.
async fn run_errors(c: &mut Cases, server: &MockServer, contree: &Contree) {
    let images = contree.images();
    let ubuntu = images.use_tag("ubuntu:latest");
    c.debug("Images", &images);
    c.debug("Image", &ubuntu);
    c.display("Image", &ubuntu);
    c.result(
        "empty command",
        ErrorKind::InvalidInput,
        ubuntu.shell(" ").await,
    );
    server.inject(FaultRule::new(Method::POST, "/v1/instances").fail_operation("no capacity"));
    let r = ubuntu.shell("true").await;
    c.result("a failed operation", ErrorKind::OperationFailed, r);
    let run = ubuntu.shell("sleep 100").env("K", "v");
    c.debug("Run", &run);
    let handle = run.start().await.unwrap();
    c.debug("RunHandle", &handle);
    let r = handle.wait_timeout(Duration::from_millis(50)).await;
    c.result("a wait deadline", ErrorKind::Timeout, r);
    handle.cancel().await.unwrap();
    c.result(
        "a cancelled run",
        ErrorKind::OperationCancelled,
        handle.wait().await,
    );
    let out = ubuntu.shell("echo out; exit 3").await.unwrap();
    c.debug("RunOutput", &out);
    c.result("exit 3", ErrorKind::NonZeroExit, out.check());
    let out = ubuntu
        .shell("cat /bin.dat")
        .file("/bin.dat", Bytes::from_static(&[0xff, 0xfe]))
        .await
        .unwrap();
    c.result("not UTF-8", ErrorKind::Utf8, out.stdout_str().map(drop));
    let r = ubuntu.read_to_string("/no/such/file").await;
    c.result("a missing file", ErrorKind::NotFound, r);
    let r = images.use_tag("no-such-image:0").shell("true").await;
    c.result("a missing image", ErrorKind::NotFound, r);
    let r = contree
        .files()
        .upload(std::path::Path::new("/no/such/local/file"))
        .await;
    c.result("a missing local file", ErrorKind::Io, r);
    let mut process = ubuntu.shell("cat").spawn().await.unwrap();
    c.debug("Process", &process);
    let mut stdin = process.take_stdin().unwrap();
    c.debug("ProcessStdin", &stdin);
    c.debug("OutputReader", &process.take_stdout().unwrap());
    stdin.close().await.unwrap();
    let r = stdin.send(Bytes::from_static(b"late")).await;
    c.result("stdin after close", ErrorKind::Process, r);
    let exec = process.exec("true");
    c.debug("Exec", &exec);
    assert!(process.wait().await.unwrap().success());
    let session = ubuntu.session();
    c.debug("Session", &session);
    let linked = ubuntu
        .shell("mkdir -p /d && ln -s ../../../../etc /d/up")
        .await
        .unwrap()
        .into_image()
        .unwrap();
    let archive = linked.archive("/d").await.unwrap();
    c.debug("Archive", &archive);
    let dir = tempfile::tempdir().unwrap();
    let r = archive.extract_to(dir.path().join("x")).await;
    c.result("a link out of the destination", ErrorKind::UnsafeArchive, r);
}

/// The remaining public types that sit next to the token or the registry password.
async fn other_types(c: &mut Cases, contree: &Contree) {
    let who = contree.whoami().await.unwrap();
    c.debug("WhoAmI", &who);
    let import = contree
        .images()
        .import("docker.io/nobody/private:1")
        .credentials("me", PASSWORD);
    c.debug("ImportImage (credentials)", &import);
    let r = import.await;
    c.result("an import with credentials", ErrorKind::OperationFailed, r);
    let list = contree.images().list();
    c.debug("ListImages", &list);
    let ops = contree.operations();
    c.debug("Operations", &ops);
    c.debug("ListOperations", &ops.list());
    for info in ops.list().await.unwrap() {
        c.debug("OperationInfo", &info);
    }
    let done = contree
        .images()
        .use_tag("ubuntu:latest")
        .shell("echo ev")
        .await
        .unwrap();
    let mut events = ops.events(done.operation_id());
    let mut seen = 0;
    while let Some(ev) = events.next().await {
        c.debug("Event", &ev.unwrap());
        seen += 1;
    }
    assert!(seen >= 2, "the finished run's events: {seen}");
    let files = contree.files();
    c.debug("Files", &files);
    let upload = files.upload(Bytes::from_static(b"data"));
    c.debug("Upload", &upload);
    c.debug("UploadedFile", &upload.await.unwrap());
    let ubuntu = contree.images().use_tag("ubuntu:latest");
    let grep = ubuntu.grep("root").path("/etc");
    c.debug("Grep", &grep);
    c.debug("GrepResult", &grep.await.unwrap());
    c.debug("DirEntry", &ubuntu.ls("/etc").await.unwrap());
    let fan = contree.fan_out([ubuntu.shell("true")]);
    c.debug("FanOut", &fan);
}

#[tokio::test]
async fn no_public_facade_type_or_error_shows_a_secret() {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter(LOG_FILTER)
        .with_ansi(false)
        .finish();
    // A global subscriber: in the one integration binary a thread-local one missed the
    // events of callsites whose interest another test's thread had cached first (a 75-line
    // log under `cargo test`). Other tests' lines land here too; none carries the canary.
    tracing::subscriber::set_global_default(subscriber)
        .expect("no other test installs a global subscriber");
    // The check itself can fail.
    assert!(leak(&format!("Bearer {CANARY}")).is_some() && leak(PASSWORD).is_some());
    let mut c = Cases::default();
    let server = mock().await;
    let contree = client(&server);
    builders_and_clients(&mut c, &server);
    config_and_auth_errors(&mut c, &server).await;
    transport_errors(&mut c, &server, &contree).await;
    server.clear_faults();
    run_errors(&mut c, &server, &contree).await;
    other_types(&mut c, &contree).await;
    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    let lines = text.lines().count();
    assert!(
        lines > 100,
        "the TRACE log is suspiciously short: {lines} lines"
    );
    assert_clean("the TRACE log", "text", &text);
    let c = std::thread::spawn(move || {
        blocking_types(&mut c);
        c
    })
    .join()
    .expect("the blocking checks pass");
    let missing: Vec<_> = ALL_KINDS
        .iter()
        .map(|k| format!("{k:?}"))
        .filter(|k| !c.kinds.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "no error of kinds {missing:?} was produced"
    );
    println!(
        "facade secrets canary: {} formatting cases over {} types and all {} error kinds, {} TRACE log lines, 0 leaks",
        c.formats,
        c.types.len(),
        c.kinds.len(),
        lines
    );
}

/// The blocking client's types hold the same secrets (run on a plain thread: the blocking
/// client has its own runtime).
fn blocking_types(c: &mut Cases) {
    let server = MockServer::builder().token(CANARY).start_blocking();
    let b = contree::blocking::Contree::builder()
        .base_url(server.base_url())
        .token(CANARY)
        .project(server.project().unwrap_or("p"));
    c.debug("blocking::ContreeBuilder", &b);
    let contree = b.build().expect("client");
    c.debug("blocking::Contree", &contree);
    let images = contree.images();
    c.debug("blocking::Images", &images);
    let ubuntu = images.use_tag("ubuntu:latest");
    c.debug("blocking::Image", &ubuntu);
    c.debug("blocking::Run", &ubuntu.shell("true"));
    c.debug("blocking::Session", &ubuntu.session());
    let import = images
        .import("docker.io/nobody/private:1")
        .credentials("me", PASSWORD);
    c.debug("blocking::ImportImage", &import);
    c.debug("blocking::Operations", &contree.operations());
    c.debug("blocking::Files", &contree.files());
    c.result(
        "a missing file",
        ErrorKind::NotFound,
        ubuntu.read_to_string("/no/such"),
    );
    let r = images.get("no-such-image:0");
    c.result("a missing tag", ErrorKind::NotFound, r);
    let wrong = contree::blocking::Contree::builder()
        .base_url(server.base_url())
        .token(CANARY)
        .project("not-mine")
        .build()
        .unwrap();
    c.result("403", ErrorKind::Auth, wrong.whoami());
}
