//! Writing `auth.ini` keeps what the reader accepts readable (continuation lines) and
//! serialises concurrent writers (the cross-process lock). The refusal of what cannot
//! round-trip is tested in `inifile`'s unit tests (the reader never produces such a value).

use std::path::Path;
use std::sync::Arc;

use contree_auth::{MemFs, OsFs, Profile, ProfileStore, SecretToken};

const PATH: &str = "/home/me/.config/contree/auth.ini";

fn store_with(text: &str) -> (ProfileStore, MemFs) {
    let fs = MemFs::new();
    fs.insert(PATH, text, 0o600);
    (ProfileStore::with_fs(PATH, Arc::new(fs.clone())), fs)
}

fn profile(name: &str, token: &str) -> Profile {
    let mut p = Profile::new(name);
    p.token = Some(SecretToken::new(token));
    p
}

#[test]
fn an_indented_continuation_survives_a_write_and_the_file_stays_readable() {
    // configparser (and our reader) accept indented continuation lines; the old writer put
    // them back unindented, after which every list()/read() failed.
    let (store, fs) = store_with(
        "[DEFAULT]\nprofile = a\n\n[profile:a]\ntoken = t\nnotes = first line\n    second line\n\n[cli]\neditor = vim\n",
    );
    store.write(&profile("b", "u")).unwrap();
    assert_eq!(
        store.list().unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(
        store
            .read("a")
            .unwrap()
            .unwrap()
            .token
            .unwrap()
            .expose_secret(),
        "t"
    );
    let text = String::from_utf8(fs.get(Path::new(PATH)).unwrap()).unwrap();
    assert!(
        text.contains("notes = first line\n\tsecond line\n"),
        "{text}"
    );
    // And again: stable.
    store.write(&profile("b", "v")).unwrap();
    let again = String::from_utf8(fs.get(Path::new(PATH)).unwrap()).unwrap();
    assert_eq!(again, text.replace("token = u", "token = v"));
}

#[test]
fn a_continuation_holding_an_equals_sign_never_becomes_a_new_key() {
    let (store, fs) = store_with("[profile:a]\ntoken = t\nproject = p\n  extra = 1\n");
    assert_eq!(
        store.read("a").unwrap().unwrap().project.as_deref(),
        Some("p\nextra = 1")
    );
    store.set_default("a").unwrap();
    let text = String::from_utf8(fs.get(Path::new(PATH)).unwrap()).unwrap();
    assert!(text.contains("project = p\n\textra = 1\n"), "{text}");
    assert!(!text.contains("\nextra = 1"), "became a key: {text}");
    assert_eq!(
        store.read("a").unwrap().unwrap().project.as_deref(),
        Some("p\nextra = 1")
    );
}

#[test]
fn concurrent_writers_do_not_lose_each_others_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.ini");
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                // Each thread has its own store (like another process: its own lock file
                // descriptor).
                let store = ProfileStore::with_fs(&path, Arc::new(OsFs));
                for i in 0..8 {
                    store.write(&profile(&format!("t{t}-{i}"), "tok")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = ProfileStore::with_fs(&path, Arc::new(OsFs));
    let names = store.list().unwrap();
    assert_eq!(names.len(), 48, "lost updates: {names:?}");
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(
        entries, 1,
        "only auth.ini: no temporary or lock file left behind"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn memfs_writers_are_serialised_too() {
    let fs = MemFs::new();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let fs = fs.clone();
            std::thread::spawn(move || {
                let store = ProfileStore::with_fs(PATH, Arc::new(fs));
                for i in 0..10 {
                    store.write(&profile(&format!("m{t}-{i}"), "tok")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let store = ProfileStore::with_fs(PATH, Arc::new(fs));
    assert_eq!(store.list().unwrap().len(), 40);
}
