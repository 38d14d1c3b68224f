//! The command provider: caching, refresh before expiry, failures. Unix only (uses `sh`).
#![cfg(unix)]

use std::future::Future;
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use contree_auth::{Clock, CommandProvider, ErrorKind, ProvideCredentials, Source};

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock {
    base: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            base: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
        })
    }
    fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.base + *self.offset.lock().unwrap()
    }
}

/// A minimal executor: the crate needs no runtime, so the tests use none.
fn block_on<F: Future>(f: F) -> F::Output {
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut f = pin!(f);
    loop {
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}

/// A script printing `token-N` where N counts its runs (kept in `dir/count`); from run
/// `fail_from` on it fails instead.
fn counting_provider(dir: &Path, clock: Arc<ManualClock>, fail_from: u32) -> CommandProvider {
    let count = dir.join("count");
    let script = format!(
        "n=$(cat '{c}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '{c}'; \
         if [ $n -ge {fail_from} ]; then echo 'backend down' >&2; exit 3; fi; \
         printf '  token-%s\\n' $n",
        c = count.display()
    );
    CommandProvider::builder("sh")
        .args(["-c", &script])
        .project("project-1")
        .lifetime(Duration::from_secs(100))
        .refresh_before(Duration::from_secs(10))
        .clock(clock)
        .build()
}

fn runs(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("count"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn caches_for_the_lifetime_and_refreshes_before_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let p = counting_provider(dir.path(), clock.clone(), u32::MAX);

    let c1 = block_on(p.provide_credentials()).unwrap();
    assert_eq!(c1.token().expose_secret(), "token-1");
    assert_eq!(c1.token_source(), &Source::Command("sh".into()));
    assert_eq!(c1.project(), Some("project-1"));
    assert!(!format!("{c1:?}").contains("token-1"));

    clock.advance(Duration::from_secs(89));
    let c2 = block_on(p.provide_credentials()).unwrap();
    assert_eq!(c2.token().expose_secret(), "token-1");
    assert_eq!(runs(dir.path()), 1, "cached within lifetime - margin");

    clock.advance(Duration::from_secs(2)); // 91 s: inside the refresh margin
    let c3 = block_on(p.provide_credentials()).unwrap();
    assert_eq!(c3.token().expose_secret(), "token-2");
    assert_eq!(runs(dir.path()), 2);

    // The new token is cached from when it was fetched.
    clock.advance(Duration::from_secs(50));
    assert_eq!(
        p.credentials_blocking().unwrap().token().expose_secret(),
        "token-2"
    );
    assert_eq!(runs(dir.path()), 2);
}

#[test]
fn refresh_always_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let p = counting_provider(dir.path(), ManualClock::new(), u32::MAX);
    assert_eq!(
        p.credentials_blocking().unwrap().token().expose_secret(),
        "token-1"
    );
    let c = block_on(p.refresh_credentials()).unwrap();
    assert_eq!(c.token().expose_secret(), "token-2");
    assert_eq!(
        p.refresh_blocking().unwrap().token().expose_secret(),
        "token-3"
    );
    // and the refreshed token is what provide returns next
    assert_eq!(
        block_on(p.provide_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "token-3"
    );
    assert_eq!(runs(dir.path()), 3);
}

#[test]
fn failed_refresh_keeps_unexpired_token_then_errors() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new();
    let p = counting_provider(dir.path(), clock.clone(), 2);
    assert_eq!(
        p.credentials_blocking().unwrap().token().expose_secret(),
        "token-1"
    );

    clock.advance(Duration::from_secs(95)); // in the margin, not expired
    let c = block_on(p.provide_credentials()).unwrap();
    assert_eq!(c.token().expose_secret(), "token-1");
    assert_eq!(runs(dir.path()), 2, "a refresh was attempted");

    clock.advance(Duration::from_secs(10)); // expired
    let e = block_on(p.provide_credentials()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Command);
    let msg = e.to_string();
    assert!(msg.contains("backend down"), "{msg}");
    assert!(msg.contains("exit status: 3"), "{msg}");
}

#[test]
fn concurrent_callers_share_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = counting_provider(dir.path(), ManualClock::new(), u32::MAX);
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                s.spawn(move || {
                    block_on(p.provide_credentials())
                        .unwrap()
                        .token()
                        .expose_secret()
                        .to_string()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(tokens.iter().all(|t| t == "token-1"), "{tokens:?}");
    assert_eq!(runs(dir.path()), 1);
}

#[test]
fn failures_are_typed_and_never_show_stdout() {
    let empty = CommandProvider::builder("sh")
        .args(["-c", "echo '   '"])
        .build();
    let e = empty.credentials_blocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Command);
    assert!(e.to_string().contains("printed no token"), "{e}");

    let failing = CommandProvider::builder("sh")
        .args([
            "-c",
            "echo secret-on-stdout; echo 'not logged in' >&2; exit 1",
        ])
        .build();
    let e = failing.credentials_blocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Command);
    let msg = e.to_string();
    assert!(msg.contains("not logged in"), "{msg}");
    assert!(!msg.contains("secret-on-stdout"), "{msg}");

    let missing = CommandProvider::builder("contree-auth-test-no-such-program").build();
    let e = missing.credentials_blocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Command);
    assert!(
        e.to_string().contains("contree-auth-test-no-such-program"),
        "{e}"
    );

    let slow = CommandProvider::builder("sh")
        .args(["-c", "exec sleep 5"])
        .timeout(Duration::from_millis(100))
        .build();
    let e = slow.credentials_blocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Command);
    assert!(e.to_string().contains("killed"), "{e}");

    let multiline = CommandProvider::builder("sh")
        .args(["-c", "printf 'a\\nb\\n'"])
        .build();
    let e = multiline.credentials_blocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("command sh"), "{e}");
}
