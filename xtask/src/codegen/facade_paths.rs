//! The `cargo xtask ci` check that the facade does not format request paths: only
//! `contree-proto` (its generated request builders) knows paths and query encodings.

use std::path::{Path, PathBuf};

/// Text that formats a path by hand.
const FORBIDDEN: &[&str] = &["\"/v1", "format!(\"/"];

/// Fails, listing each place, when `crates/contree/src` formats a path outside its tests
/// (the `#[cfg(test)]` module that ends a file).
pub fn check(root: &Path) -> Result<(), String> {
    let mut found = Vec::new();
    let mut files = Vec::new();
    collect(&root.join("crates/contree/src"), &mut files)?;
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        found.extend(
            offences(&text)
                .into_iter()
                .map(|(line, l)| format!("{}:{line}: {}", file.display(), l.trim())),
        );
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(format!(
        "crates/contree/src builds request paths by hand; use contree-proto's generated request \
         builders (contree_proto::requests) through crates/contree/src/api instead:\n  {}",
        found.join("\n  ")
    ))
}

/// `(line number, line)` of each forbidden text before the file's `#[cfg(test)]` module.
fn offences(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| !l.starts_with("#[cfg(test)]"))
        .filter(|(_, l)| FORBIDDEN.iter().any(|f| l.contains(f)))
        .map(|(i, l)| (i + 1, l))
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_built_paths_are_found_outside_tests_only() {
        let text = "fn a() { let p = format!(\"/operations/{id}\"); }\nlet b = \"/v1/x\";\n\
                    // ok: GET /operations/{id}\n#[cfg(test)]\nmod tests { format!(\"/x\"); }\n";
        let found = offences(text);
        assert_eq!(found.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn the_facade_builds_no_paths() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root");
        check(root).expect("no hand-built paths in crates/contree/src");
    }
}
