//! Fixture-driven tests.
//!
//! `tests/fixtures/resolve/<case>/`: `env.json` (the whole environment), optional
//! `args.json` (explicit `token`, `project`, `base_url`, `kind`, `profile`, `auth_file`), a
//! fake home tree, and `expected.json` (resolved fields and sources, or `error`). `$FIXTURE`
//! in any string stands for the case directory.
//!
//! `tests/fixtures/store/<case>/`: optional `before.ini` (copied to a temp dir), `ops.json`
//! (ProfileStore operations with expectations), and `after.ini` (the exact bytes expected
//! afterwards; when absent, the file must be unchanged).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use contree_auth::{
    AuthKind, DefaultChain, Error, ErrorKind, MapEnv, OsFs, Profile, ProfileStore, SecretToken,
    Source,
};
use serde_json::{Value, json};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(kind);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no fixtures in {}", dir.display());
    cases
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Replaces `$FIXTURE` in every string of a JSON value.
fn subst(v: &Value, dir: &Path) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("$FIXTURE", &dir.display().to_string())),
        Value::Array(a) => Value::Array(a.iter().map(|x| subst(x, dir)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, x)| (k.clone(), subst(x, dir))).collect())
        }
        other => other.clone(),
    }
}

fn kind_name(k: ErrorKind) -> String {
    format!("{k:?}")
}

fn check_error(case: &str, err: &Error, expected: &Value) {
    let msg = err.to_string();
    assert_eq!(
        kind_name(err.kind()),
        expected["kind"].as_str().unwrap(),
        "{case}: wrong error kind; message: {msg}"
    );
    for frag in expected["contains"].as_array().unwrap() {
        let frag = frag.as_str().unwrap();
        assert!(
            msg.contains(frag),
            "{case}: error message lacks {frag:?}: {msg}"
        );
    }
    // Fixture secrets all start with `secret-`: none may leak into a message.
    assert!(!msg.contains("secret-"), "{case}: secret leaked: {msg}");
    assert!(
        !format!("{err:?}").contains("secret-"),
        "{case}: secret leaked in Debug"
    );
}

fn opt_str(v: Option<&str>) -> Value {
    v.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

fn source_str(s: Option<&Source>) -> Value {
    s.map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null)
}

#[test]
fn resolve_fixtures() {
    let cases = fixtures("resolve");
    for dir in &cases {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let env = subst(&read_json(&dir.join("env.json")).unwrap(), dir);
        let args = subst(&read_json(&dir.join("args.json")).unwrap_or(json!({})), dir);
        let expected = subst(&read_json(&dir.join("expected.json")).unwrap(), dir);

        let env: MapEnv = env
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let mut b = DefaultChain::builder()
            .env(Arc::new(env))
            .fs(Arc::new(OsFs));
        if let Some(t) = args["token"].as_str() {
            b = b.token(SecretToken::new(t));
        }
        if let Some(p) = args["project"].as_str() {
            b = b.project(p);
        }
        if let Some(u) = args["base_url"].as_str() {
            b = b.base_url(u);
        }
        if let Some(k) = args["kind"].as_str() {
            b = b.kind(k.parse::<AuthKind>().unwrap());
        }
        if let Some(p) = args["profile"].as_str() {
            b = b.profile(p);
        }
        if let Some(f) = args["auth_file"].as_str() {
            b = b.auth_file(f);
        }
        let chain = b.build();
        let result = chain.resolve();

        if let Some(exp_err) = expected.get("error") {
            match result {
                Ok(c) => panic!("{case}: expected an error, got {c:?}"),
                Err(e) => check_error(&case, &e, exp_err),
            }
            continue;
        }
        let creds = result.unwrap_or_else(|e| panic!("{case}: unexpected error: {e}"));
        let got = json!({
            "token": creds.token().expose_secret(),
            "token_source": creds.token_source().to_string(),
            "project": opt_str(creds.project()),
            "project_source": source_str(creds.project_source()),
            "base_url": creds.base_url(),
            "base_url_source": creds.base_url_source().to_string(),
            "kind": creds.kind().as_str(),
            "kind_source": creds.kind_source().to_string(),
            "profile": opt_str(creds.profile()),
        });
        for key in got.as_object().unwrap().keys() {
            assert_eq!(got[key], expected[key], "{case}: field {key}");
        }
        assert!(
            !format!("{creds:?}").contains(creds.token().expose_secret()),
            "{case}: token in Debug"
        );
        if let Some(names) = expected.get("header_names") {
            let got: Vec<&str> = creds.headers().iter().map(|h| h.name).collect();
            let want: Vec<&str> = names
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(got, want, "{case}: header names");
        }
        if let Some(exp) = expected.get("settings") {
            let s = chain
                .settings()
                .unwrap_or_else(|e| panic!("{case}: settings: {e}"));
            let got = json!({
                "timeout_ms": s.timeout.map(|d| d.as_millis() as u64),
                "timeout_source": source_str(s.source("timeout")),
                "connect_timeout_ms": s.connect_timeout.map(|d| d.as_millis() as u64),
                "connect_timeout_source": source_str(s.source("connect_timeout")),
                "max_retries": s.max_retries,
                "max_retries_source": source_str(s.source("max_retries")),
            });
            assert_eq!(&got, exp, "{case}: settings");
        }
        if let Some(exp) = expected.get("settings_error") {
            match chain.settings() {
                Ok(s) => panic!("{case}: expected a settings error, got {s:?}"),
                Err(e) => check_error(&case, &e, exp),
            }
        }
    }
}

fn profile_json(p: &Profile) -> Value {
    json!({
        "url": p.url,
        "token": p.token.as_ref().map(|t| t.expose_secret().to_string()),
        "type": p.kind.map(|k| k.as_str()),
        "project": p.project,
    })
}

fn profile_from_json(v: &Value) -> Profile {
    let mut p = Profile::new(v["name"].as_str().unwrap());
    p.url = v["url"].as_str().map(str::to_string);
    p.token = v["token"].as_str().map(SecretToken::new);
    p.kind = v["type"].as_str().map(|t| t.parse().unwrap());
    p.project = v["project"].as_str().map(str::to_string);
    p
}

#[test]
fn store_fixtures() {
    for dir in fixtures("store") {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("contree").join("auth.ini");
        let before = std::fs::read(dir.join("before.ini")).ok();
        if let Some(b) = &before {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b).unwrap();
        }
        let store = ProfileStore::new(&path);
        let ops = read_json(&dir.join("ops.json")).unwrap();
        let mut wrote = false;
        for (i, op) in ops.as_array().unwrap().iter().enumerate() {
            let what = format!("{case} op #{i} {}", op["op"]);
            let result: Result<Value, Error> = match op["op"].as_str().unwrap() {
                "list" => store.list().map(|l| json!(l)),
                "default_profile" => store.default_profile().map(|d| json!(d)),
                "read" => store
                    .read(op["name"].as_str().unwrap())
                    .map(|p| p.as_ref().map(profile_json).unwrap_or(Value::Null)),
                "rewrite" => {
                    let name = op["name"].as_str().unwrap();
                    let p = store.read(name).unwrap().expect("profile to rewrite");
                    store.write(&p).map(|_| Value::Null)
                }
                "write" => store
                    .write(&profile_from_json(&op["profile"]))
                    .map(|_| Value::Null),
                "remove" => store.remove(op["name"].as_str().unwrap()).map(|b| json!(b)),
                "set_default" => store
                    .set_default(op["name"].as_str().unwrap())
                    .map(|_| Value::Null),
                other => panic!("{what}: unknown op {other}"),
            };
            match (result, op.get("error")) {
                (Ok(v), None) => {
                    let op_name = op["op"].as_str().unwrap();
                    wrote |= matches!(op_name, "write" | "rewrite" | "set_default")
                        || (op_name == "remove" && v == json!(true));
                    if let Some(exp) = op.get("expect") {
                        assert_eq!(&v, exp, "{what}");
                    }
                }
                (Err(e), Some(exp)) => check_error(&what, &e, exp),
                (Ok(v), Some(_)) => panic!("{what}: expected an error, got {v}"),
                (Err(e), None) => panic!("{what}: unexpected error: {e}"),
            }
        }
        let after = std::fs::read(&path).ok();
        match std::fs::read(dir.join("after.ini")) {
            Ok(expected) => {
                let after = after.unwrap_or_else(|| panic!("{case}: no file written"));
                assert_eq!(
                    String::from_utf8_lossy(&after),
                    String::from_utf8_lossy(&expected),
                    "{case}: file contents"
                );
                assert_eq!(after, expected, "{case}: file bytes");
                #[cfg(unix)]
                if wrote {
                    use std::os::unix::fs::PermissionsExt;
                    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
                    assert_eq!(mode, 0o600, "{case}: mode after a write");
                }
            }
            Err(_) => assert_eq!(after, before, "{case}: file must be unchanged"),
        }
        // No temporary files are left behind.
        if let Some(parent) = path.parent().filter(|p| p.exists()) {
            let names: Vec<String> = std::fs::read_dir(parent)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert!(
                names.iter().all(|n| n == "auth.ini"),
                "{case}: stray files {names:?}"
            );
        }
    }
}
