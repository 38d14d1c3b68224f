//! The secrets canary: every public type of contree-auth that can hold a token, and every
//! error a token can reach, formatted with `{:?}` and `{}` (where it has `Display`); the
//! canary token must never appear.

use std::path::Path;
use std::sync::Arc;

use contree_auth::{
    AuthHeader, CommandProvider, Credentials, DefaultChain, Env, Error, Fs, MapEnv, MemFs, Profile,
    ProfileStore, ProvideCredentials, SecretToken, StaticProvider,
};

const CANARY: &str = "CANARY-c4n4ry-7f3e9d";

struct Cases {
    n: usize,
}

impl Cases {
    fn debug(&mut self, what: &str, v: &dyn std::fmt::Debug) {
        let s = format!("{v:?}");
        assert!(!s.contains(CANARY), "{what} Debug leaks the token: {s}");
        let s = format!("{v:#?}");
        assert!(
            !s.contains(CANARY),
            "{what} pretty Debug leaks the token: {s}"
        );
        self.n += 2;
    }
    fn display(&mut self, what: &str, v: &dyn std::fmt::Display) {
        let s = format!("{v}");
        assert!(!s.contains(CANARY), "{what} Display leaks the token: {s}");
        self.n += 1;
    }
    fn error(&mut self, what: &str, e: &Error) {
        self.debug(what, e);
        self.display(what, e);
        let mut src = std::error::Error::source(e);
        while let Some(s) = src {
            self.display(&format!("{what} (source)"), s);
            src = s.source();
        }
    }
}

fn home_fs(contents: &str) -> MemFs {
    let fs = MemFs::new();
    fs.insert("/home/me/.config/contree/auth.ini", contents, 0o600);
    fs
}

fn env() -> MapEnv {
    MapEnv::from_iter([
        ("HOME", "/home/me".to_string()),
        ("NEBIUS_API_KEY", CANARY.to_string()),
        ("CONTREE_TOKEN", format!("{CANARY}-2")),
    ])
}

#[test]
fn no_public_auth_type_or_error_shows_the_token() {
    let mut c = Cases { n: 0 };
    let file = format!(
        "[DEFAULT]\nprofile = p\n\n[profile:p]\ntoken = {CANARY}\nproject = pr\nnote = {CANARY}\n  {CANARY} = continued\n"
    );

    // Values.
    let token = SecretToken::new(CANARY);
    c.debug("SecretToken", &token);
    c.display("SecretToken", &token);
    let builder = Credentials::builder(token.clone()).project("p");
    c.debug("CredentialsBuilder", &builder);
    let creds = builder.build().unwrap();
    c.debug("Credentials", &creds);
    for h in creds.headers() {
        c.debug("AuthHeader", &h);
    }
    c.debug(
        "AuthHeader",
        &AuthHeader {
            name: "Authorization",
            value: format!("Bearer {CANARY}"),
            sensitive: true,
        },
    );
    let provider = StaticProvider::new(creds.clone());
    c.debug("StaticProvider", &provider);
    let mut profile = Profile::new("p");
    profile.token = Some(token.clone());
    c.debug("Profile", &profile);

    // Shims holding the token as an env value and as file bytes.
    let env = env();
    c.debug("MapEnv", &env);
    let fs = home_fs(&file);
    c.debug("MemFs", &fs);
    let guard = fs.lock(Path::new("/x")).unwrap();
    c.debug("FsLock", &guard);
    drop(guard);

    // The chain, its builder (explicit token + env + fs), resolved and cached.
    let chain_builder = DefaultChain::builder()
        .token(token.clone())
        .env(Arc::new(env.clone()))
        .fs(Arc::new(fs.clone()));
    c.debug("DefaultChainBuilder", &chain_builder);
    let chain = chain_builder.build();
    c.debug("DefaultChain", &chain);
    let resolved = chain.resolve().unwrap();
    c.debug("resolved Credentials", &resolved);
    let chain = DefaultChain::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(fs.clone()))
        .build();
    let from_file = futures_block_on(chain.provide_credentials()).unwrap();
    assert_eq!(from_file.token().expose_secret(), CANARY);
    c.debug("DefaultChain (cached)", &chain);
    c.debug("Credentials from file", &from_file);
    c.display("Source", from_file.token_source());
    let settings = chain.settings().unwrap();
    c.debug("ClientSettings", &settings);

    // The store over a file full of the token.
    let store = ProfileStore::with_fs("/home/me/.config/contree/auth.ini", Arc::new(fs.clone()));
    c.debug("ProfileStore", &store);
    let p = store.read("p").unwrap().unwrap();
    c.debug("Profile read", &p);
    let cmd = CommandProvider::builder("true").project("p").build();
    c.debug("CommandProvider", &cmd);
    let env_dyn: Arc<dyn Env> = Arc::new(env.clone());
    c.debug("dyn Env", &env_dyn);
    let fs_dyn: Arc<dyn Fs> = Arc::new(fs.clone());
    c.debug("dyn Fs", &fs_dyn);

    // Errors a token can reach.
    let bad_token = Credentials::builder(SecretToken::new(format!("{CANARY}\n")))
        .build()
        .map(|_| ());
    let bad_token = Credentials::builder(SecretToken::new(format!("{CANARY}\nx")))
        .build()
        .err()
        .or(bad_token.err())
        .unwrap();
    c.error("InvalidToken", &bad_token);
    let userinfo = Credentials::builder(SecretToken::new("t"))
        .base_url(format!("https://{CANARY}@api.example.com"))
        .build()
        .unwrap_err();
    c.error("userinfo base URL", &userinfo);
    let userinfo = Credentials::builder(SecretToken::new("t"))
        .base_url(format!("https://user:{CANARY}@api.example.com"))
        .build()
        .unwrap_err();
    c.error("password base URL", &userinfo);
    let mut bad = Profile::new("q");
    bad.token = Some(SecretToken::new(format!("{CANARY}\nline")));
    c.error("InvalidProfileData", &store.write(&bad).unwrap_err());
    let malformed = home_fs(&format!("[profile:p]\ntoken = t\n{CANARY}\n"));
    let store2 = ProfileStore::with_fs(
        "/home/me/.config/contree/auth.ini",
        Arc::new(malformed.clone()),
    );
    c.error("Malformed", &store2.list().unwrap_err());
    let unwritable = home_fs(&format!("[profile:p]\ntoken = t\nNote = {CANARY}\n"));
    let store3 = ProfileStore::with_fs("/home/me/.config/contree/auth.ini", Arc::new(unwritable));
    if let Err(e) = store3.write(&profile) {
        c.error("Unwritable", &e);
    }
    let none = DefaultChain::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(home_fs(&format!(
            "[profile:other]\ntoken = {CANARY}\n"
        ))))
        .build()
        .resolve()
        .unwrap_err();
    c.error("NoToken", &none);
    let missing = DefaultChain::builder()
        .profile("nope")
        .env(Arc::new(env.clone()))
        .fs(Arc::new(fs.clone()))
        .build()
        .resolve()
        .unwrap_err();
    c.error("ProfileNotFound", &missing);
    let blank = Credentials::builder(SecretToken::new("  "))
        .build()
        .unwrap_err();
    c.error("BlankToken", &blank);

    assert!(c.n >= 60, "only {} cases", c.n);
    println!("auth secrets canary: {} formatting cases, 0 leaks", c.n);
}

/// A tiny executor for the async trait (no runtime needed: the futures complete at once).
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}
