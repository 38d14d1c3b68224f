//! The default chain as a provider, file-permission warnings, and the in-memory shims.

use std::io::Write;
use std::sync::{Arc, Mutex};

use contree_auth::{
    DefaultChain, ErrorKind, MapEnv, MemFs, OsFs, Profile, ProfileStore, ProvideCredentials,
    SecretToken,
};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs `f` with every tracing event (all levels) written to the returned buffer.
fn capture_logs(f: impl FnOnce()) -> String {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    out.text()
}

#[cfg(unix)]
#[test]
fn warns_when_auth_file_is_group_or_world_readable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.ini");
    std::fs::write(&path, "[profile:default]\ntoken = secret-perm\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let env = MapEnv::from_iter([("CONTREE_HOME", dir.path().to_str().unwrap())]);
    let chain = DefaultChain::builder()
        .env(Arc::new(env))
        .fs(Arc::new(OsFs))
        .build();

    let logs = capture_logs(|| {
        chain.resolve().unwrap();
    });
    assert!(logs.contains("readable by group or others"), "{logs}");
    assert!(logs.contains("0644"), "{logs}");
    assert!(!logs.contains("secret-perm"), "{logs}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let logs = capture_logs(|| {
        chain.resolve().unwrap();
    });
    assert!(!logs.contains("readable by group or others"), "{logs}");

    // The store warns too, and its write makes the file private again.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let store = ProfileStore::new(&path);
    let logs = capture_logs(|| {
        store.set_default("default").unwrap();
    });
    assert!(logs.contains("readable by group or others"), "{logs}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn warns_when_both_token_variables_differ_without_leaking_them() {
    let env = MapEnv::from_iter([
        ("NEBIUS_API_KEY", "secret-a"),
        ("CONTREE_TOKEN", "secret-b"),
    ]);
    let chain = DefaultChain::builder()
        .env(Arc::new(env))
        .fs(Arc::new(MemFs::new()))
        .build();
    let mut token = String::new();
    let logs = capture_logs(|| {
        token = chain.resolve().unwrap().token().expose_secret().to_string();
    });
    assert_eq!(token, "secret-a");
    assert!(logs.contains("using NEBIUS_API_KEY"), "{logs}");
    assert!(!logs.contains("secret-"), "{logs}");
}

/// Polls a future that never waits (the chain reads synchronously).
fn now<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the default chain should not wait"),
    }
}

#[test]
fn provider_caches_and_refresh_rereads_the_file() {
    let fs = MemFs::new();
    let path = "/home/me/.config/contree/auth.ini";
    fs.insert(path, "[profile:default]\ntoken = first\n", 0o600);
    let chain = DefaultChain::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/home/me")])))
        .fs(Arc::new(fs.clone()))
        .build();
    assert_eq!(
        now(chain.provide_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "first"
    );
    // `contree auth` rewrote the token: the cache still serves the old one...
    let store = ProfileStore::with_fs(path, Arc::new(fs.clone()));
    let mut p = Profile::new("default");
    p.token = Some(SecretToken::new("second"));
    store.write(&p).unwrap();
    assert_eq!(
        now(chain.provide_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "first"
    );
    // ...until the client refreshes after a 401.
    assert_eq!(
        now(chain.refresh_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "second"
    );
    assert_eq!(
        now(chain.provide_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "second"
    );
}

#[test]
fn provider_errors_are_not_cached() {
    let fs = MemFs::new();
    let chain = DefaultChain::builder()
        .env(Arc::new(MapEnv::from_iter([("HOME", "/h")])))
        .fs(Arc::new(fs.clone()))
        .build();
    let e = now(chain.provide_credentials()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    fs.insert(
        "/h/.config/contree/auth.ini",
        "[profile:default]\ntoken = t\n",
        0o600,
    );
    assert_eq!(
        now(chain.provide_credentials())
            .unwrap()
            .token()
            .expose_secret(),
        "t"
    );
}

#[test]
fn chain_debug_redacts_explicit_token() {
    let chain = DefaultChain::builder()
        .token(SecretToken::new("secret-explicit"))
        .build();
    assert!(!format!("{chain:?}").contains("secret-explicit"));
}

#[test]
fn store_from_env_uses_the_default_location() {
    let fs = MemFs::new();
    let env = MapEnv::from_iter([("XDG_CONFIG_HOME", "/x")]);
    let store = ProfileStore::from_env(&env, Arc::new(fs.clone())).unwrap();
    assert_eq!(store.path(), std::path::Path::new("/x/contree/auth.ini"));
    let e = ProfileStore::from_env(&MapEnv::new(), Arc::new(fs)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ProfileNotFound);
    assert!(e.to_string().contains("HOME"), "{e}");
}

#[test]
fn the_config_dir_prefers_contree_home_then_xdg_then_home() {
    use contree_auth::{default_auth_file, default_config_dir};
    use std::path::PathBuf;
    let all = [
        ("CONTREE_HOME", "/ct"),
        ("XDG_CONFIG_HOME", "/xdg"),
        ("HOME", "/home/me"),
    ];
    let dir = |vars: &[(&str, &str)]| default_config_dir(&MapEnv::from_iter(vars.iter().copied()));
    assert_eq!(dir(&all), Some(PathBuf::from("/ct")));
    assert_eq!(dir(&all[1..]), Some(PathBuf::from("/xdg/contree")));
    assert_eq!(
        dir(&all[2..]),
        Some(PathBuf::from("/home/me/.config/contree"))
    );
    // Blank counts as unset; `~` expands with HOME.
    assert_eq!(
        dir(&[
            ("CONTREE_HOME", "  "),
            ("XDG_CONFIG_HOME", "~/cfg"),
            ("HOME", "/h")
        ]),
        Some(PathBuf::from("/h/cfg/contree"))
    );
    assert_eq!(dir(&[]), None);
    // auth.ini is in that directory, whatever the rule picked.
    for n in 0..all.len() {
        let env = MapEnv::from_iter(all[n..].iter().copied());
        assert_eq!(
            default_auth_file(&env),
            default_config_dir(&env).map(|d| d.join("auth.ini"))
        );
    }
}

#[cfg(unix)]
#[test]
fn store_writes_through_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles-auth.ini");
    std::fs::write(&real, "[profile:a]\ntoken = old\n").unwrap();
    let link = dir.path().join("auth.ini");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let store = ProfileStore::new(&link);
    let mut p = Profile::new("a");
    p.token = Some(SecretToken::new("new"));
    store.write(&p).unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("token = new"), "{text}");
}
