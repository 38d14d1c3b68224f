//! Fuzzes `auth.ini` through the public store: whatever the reader accepts, a profile write
//! succeeds (the writer round-trips it), the file stays readable, and every profile that
//! could be read before reads back the same afterwards. Nothing may panic.
#![no_main]

use std::path::Path;
use std::sync::Arc;

use contree_auth::{MemFs, Profile, ProfileStore, SecretToken};
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/h/.config/contree/auth.ini";

fuzz_target!(|data: &[u8]| {
    let fs = MemFs::new();
    fs.insert(PATH, data.to_vec(), 0o600);
    let store = ProfileStore::with_fs(PATH, Arc::new(fs.clone()));
    let _ = format!("{store:?}");
    let Ok(names) = store.list() else {
        return;
    };
    let before: Vec<_> = names.iter().map(|n| store.read(n).ok().flatten()).collect();
    let mut p = Profile::new("fuzz-new");
    p.token = Some(SecretToken::new("t"));
    store
        .write(&p)
        .expect("a file the reader accepts must be writable");
    let after = store.list().expect("the written file must read back");
    assert!(after.iter().any(|n| n == "fuzz-new"));
    for (name, was) in names.iter().zip(before) {
        if name == "fuzz-new" {
            continue;
        }
        assert_eq!(store.read(name).ok().flatten(), was, "profile {name} changed");
    }
    // Writing again is stable.
    let bytes = fs.get(Path::new(PATH)).unwrap();
    store.write(&p).unwrap();
    assert_eq!(fs.get(Path::new(PATH)).unwrap(), bytes);
});
