//! `cargo xtask package [--no-verify]`: the five publishable crates are ready for crates.io.
//!
//! 1. Metadata, from `cargo metadata`: description, license, repository, homepage,
//!    documentation, a readme file that exists, 1–5 keywords and at least one category,
//!    docs.rs metadata (`all-features`, `rustdoc-args`), and a `rust-version` equal to the
//!    pinned toolchain's (`rust-toolchain.toml`: the only toolchain the project builds with,
//!    so it is the minimum it can honestly declare). Every non-default feature is named in
//!    the crate's root docs (`src/lib.rs`).
//! 2. `cargo package` of all five in one invocation, in dependency order. Cargo packages path
//!    dependencies that are not on crates.io yet against a local overlay of the packages it
//!    just built, so the full verification (each `.crate` unpacked and compiled on its own)
//!    works although none of them is published. `--no-verify` skips that compile (the file
//!    lists and manifests are still produced and checked). `--allow-dirty` because CI and
//!    developers run it in a worktree with uncommitted changes; what is packaged is the
//!    working tree either way. It builds in `<target>/xtask-package`, cleared first: cargo
//!    takes an overlay package of an unchanged version as unchanged, so old artifacts of a
//!    shared target directory would be reused.

use std::path::Path;

use serde_json::Value;

use crate::util::{cargo, root, run, target_dir};

/// The publishable crates, in dependency order.
pub const PUBLISHABLE: [&str; 5] = [
    "contree-auth",
    "contree-proto",
    "contree-transport",
    "contree",
    "contree-mock",
];

/// `cargo xtask package`.
pub fn run_package(args: &[String]) -> Result<(), String> {
    let no_verify = args.iter().any(|a| a == "--no-verify");
    if let Some(other) = args.iter().find(|a| *a != "--no-verify") {
        return Err(format!(
            "package: unknown argument `{other}` (only --no-verify)"
        ));
    }
    let root = root();
    let toolchain = toolchain_version(&root)?;
    let meta = metadata()?;
    let mut problems = Vec::new();
    for name in PUBLISHABLE {
        let pkg = meta["packages"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .ok_or_else(|| format!("package: `{name}` is not a workspace member"))?;
        problems.extend(
            check_package(pkg, &toolchain)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
    }
    if !problems.is_empty() {
        return Err(format!(
            "package: {} metadata problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
    }
    eprintln!(
        "xtask: package metadata of {} crates is complete (rust-version {toolchain} = the pinned toolchain)",
        PUBLISHABLE.len()
    );
    // Cargo treats the overlay's packages like published ones: a `.crate` of the same name and
    // version is taken as unchanged, so artifacts of an earlier run (of other sources) in a
    // shared target directory would be reused and the verification would compile against
    // stale code. Package into a target directory of its own, cleared first.
    let staging = target_dir().join("xtask-package");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| format!("package: cannot clear {}: {e}", staging.display()))?;
    }
    clear_unpacked_overlay()?;
    let mut cmd = cargo();
    cmd.arg("package")
        .arg("--allow-dirty")
        .arg("--target-dir")
        .arg(&staging);
    if no_verify {
        cmd.arg("--no-verify");
    }
    for name in PUBLISHABLE {
        cmd.args(["-p", name]);
    }
    run(cmd)?;
    eprintln!(
        "xtask: cargo package{} succeeded for {}",
        if no_verify { " --no-verify" } else { "" },
        PUBLISHABLE.join(", ")
    );
    Ok(())
}

/// Removes what earlier `cargo package` runs unpacked of our crates from the overlay registry
/// (`$CARGO_HOME/registry/src/-<hash>/<crate>-<version>`): cargo never unpacks a version it
/// finds there again, so the verification would compile the previous run's sources. Sources of
/// real registries (`index.*` folders) are left alone.
fn clear_unpacked_overlay() -> Result<(), String> {
    let home = match std::env::var_os("CARGO_HOME") {
        Some(h) if !h.is_empty() => std::path::PathBuf::from(h),
        _ => match std::env::var_os("HOME") {
            Some(h) => Path::new(&h).join(".cargo"),
            None => return Ok(()),
        },
    };
    let Ok(sources) = std::fs::read_dir(home.join("registry").join("src")) else {
        return Ok(());
    };
    for source in sources.flatten() {
        if source.file_name().to_string_lossy().starts_with("index.") {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(source.path()) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let ours = PUBLISHABLE
                .iter()
                .any(|c| name.strip_prefix(c).is_some_and(|v| v.starts_with('-')));
            if ours {
                std::fs::remove_dir_all(entry.path()).map_err(|e| {
                    format!("package: cannot clear {}: {e}", entry.path().display())
                })?;
            }
        }
    }
    Ok(())
}

/// `major.minor` of the channel pinned in `rust-toolchain.toml`.
fn toolchain_version(root: &Path) -> Result<String, String> {
    let path = root.join("rust-toolchain.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("package: cannot read {}: {e}", path.display()))?;
    let channel = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("channel"))
        .filter_map(|rest| rest.trim().strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').to_string())
        .next()
        .ok_or_else(|| format!("package: no `channel = ...` in {}", path.display()))?;
    major_minor(&channel).ok_or_else(|| {
        format!("package: the pinned channel `{channel}` is not a version (e.g. 1.95.0)")
    })
}

fn major_minor(v: &str) -> Option<String> {
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    (major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok())
        .then(|| format!("{major}.{minor}"))
}

fn metadata() -> Result<Value, String> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("package: cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "package: cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("package: cargo metadata: {e}"))
}

/// What is missing or wrong in one package's manifest (empty: ready).
pub fn check_package(pkg: &Value, toolchain: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for key in [
        "description",
        "license",
        "repository",
        "homepage",
        "documentation",
    ] {
        if pkg[key].as_str().is_none_or(|s| s.trim().is_empty()) {
            problems.push(format!("`{key}` is missing"));
        }
    }
    let dir = pkg["manifest_path"]
        .as_str()
        .and_then(|m| Path::new(m).parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match pkg["readme"].as_str() {
        None => problems.push("`readme` is missing".into()),
        Some(r) if !dir.join(r).is_file() => {
            problems.push(format!("the readme `{r}` does not exist"));
        }
        Some(_) => {}
    }
    let keywords = pkg["keywords"].as_array().map_or(0, Vec::len);
    if !(1..=5).contains(&keywords) {
        problems.push(format!("{keywords} keywords (crates.io takes 1 to 5)"));
    }
    for k in pkg["keywords"].as_array().into_iter().flatten() {
        let k = k.as_str().unwrap_or("");
        let ok = k.len() <= 20
            && k.starts_with(|c: char| c.is_ascii_alphabetic())
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            problems.push(format!("keyword `{k}` is not a valid crates.io keyword"));
        }
    }
    if pkg["categories"].as_array().is_none_or(Vec::is_empty) {
        problems.push("no `categories`".into());
    }
    let docs_rs = &pkg["metadata"]["docs"]["rs"];
    if docs_rs["all-features"] != Value::Bool(true) {
        problems.push("`[package.metadata.docs.rs] all-features = true` is missing".into());
    }
    if docs_rs["rustdoc-args"].as_array().is_none_or(Vec::is_empty) {
        problems.push("`[package.metadata.docs.rs] rustdoc-args` is missing".into());
    }
    match pkg["rust_version"].as_str() {
        None => problems.push("`rust-version` is missing".into()),
        Some(v) if major_minor(v).as_deref() != Some(toolchain) => problems.push(format!(
            "rust-version {v} is not the pinned toolchain's {toolchain} (the only one it is built and tested with)"
        )),
        Some(_) => {}
    }
    if pkg["publish"].as_array().is_some_and(Vec::is_empty) {
        problems.push("`publish = false`".into());
    }
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap_or_default();
    for (feature, _) in pkg["features"].as_object().into_iter().flatten() {
        if feature != "default" && !lib.contains(&format!("`{feature}`")) {
            problems.push(format!(
                "feature `{feature}` is not documented in src/lib.rs (name it as `{feature}`)"
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn complete(dir: &Path) -> Value {
        std::fs::write(dir.join("README.md"), "# x\n").unwrap();
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), "//! - `tls-extra`: more roots\n").unwrap();
        json!({
            "name": "x", "description": "d", "license": "Apache-2.0",
            "repository": "https://r", "homepage": "https://h", "documentation": "https://docs.rs/x",
            "readme": "README.md", "keywords": ["contree", "sandbox"], "categories": ["api-bindings"],
            "rust_version": "1.95", "publish": null,
            "manifest_path": dir.join("Cargo.toml").to_str().unwrap(),
            "metadata": {"docs": {"rs": {"all-features": true, "rustdoc-args": ["--cfg", "docsrs"]}}},
            "features": {"default": [], "tls-extra": []},
        })
    }

    #[test]
    fn a_complete_manifest_passes_and_each_gap_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = complete(dir.path());
        assert_eq!(check_package(&pkg, "1.95"), Vec::<String>::new());
        let cases: [(&str, Value, &str); 8] = [
            ("license", Value::Null, "`license` is missing"),
            ("readme", json!("NOPE.md"), "does not exist"),
            ("keywords", json!([]), "0 keywords"),
            (
                "keywords",
                json!(["has space"]),
                "not a valid crates.io keyword",
            ),
            ("categories", json!([]), "no `categories`"),
            (
                "rust_version",
                json!("1.90"),
                "not the pinned toolchain's 1.95",
            ),
            ("metadata", json!({}), "all-features = true"),
            (
                "features",
                json!({"secret-feature": []}),
                "feature `secret-feature`",
            ),
        ];
        for (key, value, expected) in cases {
            let mut broken = pkg.clone();
            broken[key] = value;
            let problems = check_package(&broken, "1.95");
            assert!(
                problems.iter().any(|p| p.contains(expected)),
                "{key}: {problems:?}"
            );
        }
    }

    #[test]
    fn the_pinned_toolchain_is_read_as_major_minor() {
        assert_eq!(major_minor("1.95.0").as_deref(), Some("1.95"));
        assert_eq!(major_minor("stable"), None);
        assert_eq!(toolchain_version(&root()).unwrap().split('.').count(), 2);
    }
}
