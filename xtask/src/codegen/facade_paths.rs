//! The `cargo xtask ci` check that the facade does not format request paths: only
//! `contree-proto` (its generated request builders) knows paths and query encodings.

use std::path::{Path, PathBuf};

/// Fails, listing each place, when `crates/contree/src` formats a request path outside its
/// tests (the `#[cfg(test)]` module that ends a file): a `"/v1` literal, or a `format!` whose
/// text starts with the first segment of an API path (`format!("/operations/{id}")`). Paths
/// inside an image (`format!("/{}", parts.join("/"))`) are not request paths.
pub fn check(root: &Path) -> Result<(), String> {
    let forbidden = forbidden(root)?;
    let mut found = Vec::new();
    let mut files = Vec::new();
    collect(&root.join("crates/contree/src"), &mut files)?;
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        found.extend(
            offences(&text, &forbidden)
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

/// The texts that format a request path: `"/v1` and `format!("/<root>` for the first segment
/// of every path in `contree-proto`'s generated operation table.
fn forbidden(root: &Path) -> Result<Vec<String>, String> {
    let ops = root.join("crates/contree-proto/src/generated/ops.rs");
    let text =
        std::fs::read_to_string(&ops).map_err(|e| format!("cannot read {}: {e}", ops.display()))?;
    let mut out = vec!["\"/v1".to_string()];
    for seg in api_roots(&text) {
        let f = format!("format!(\"/{seg}");
        if !out.contains(&f) {
            out.push(f);
        }
    }
    if out.len() < 2 {
        return Err(format!("{} lists no operation paths", ops.display()));
    }
    Ok(out)
}

/// The first path segment of each `path: "/..."` in the generated operation table.
fn api_roots(ops_rs: &str) -> Vec<&str> {
    ops_rs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("path: \"/"))
        .filter_map(|rest| rest.split(['/', '"', '{']).next())
        .filter(|seg| !seg.is_empty())
        .collect()
}

/// `(line number, line)` of each forbidden text before the file's `#[cfg(test)]` module.
fn offences<'a>(text: &'a str, forbidden: &[String]) -> Vec<(usize, &'a str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| !l.starts_with("#[cfg(test)]"))
        .filter(|(_, l)| forbidden.iter().any(|f| l.contains(f.as_str())))
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
        let ops = "    path: \"/operations/{operationId}\",\n    path: \"/whoami\",\n";
        assert_eq!(api_roots(ops), ["operations", "whoami"]);
        let forbidden = vec!["\"/v1".to_string(), "format!(\"/operations".to_string()];
        let text = "fn a() { let p = format!(\"/operations/{id}\"); }\nlet b = \"/v1/x\";\n\
                    // ok: GET /operations/{id}\nlet c = format!(\"/{}\", parts.join(\"/\"));\n\
                    #[cfg(test)]\nmod tests { format!(\"/operations\"); }\n";
        let found = offences(text, &forbidden);
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
