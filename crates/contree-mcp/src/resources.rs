//! Resource templates, as the official server offers them.

use base64::Engine as _;
use rmcp::ErrorData;
use rmcp::model::{ResourceContents, ResourceTemplate};

use crate::server::ContreeMcp;
use crate::tools::{err, image_ref, normalize_dir};

/// The templates (a trailing `{path}` may contain `/`).
pub(crate) fn templates() -> Vec<ResourceTemplate> {
    [
        (
            "contree://image/{image}/read/{path}",
            "read-file",
            "A file of an image (text, or `base64:` + base64)",
        ),
        (
            "contree://image/{image}/ls/{path}",
            "list-directory",
            "An `ls -l`-like listing of a directory of an image (`.` is `/`)",
        ),
        (
            "contree://image/{image}/lineage",
            "lineage",
            "The ancestors of an image, following the operations that made it",
        ),
        (
            "contree://operations/instance/{operation_id}",
            "instance-operation",
            "A run: state, exit code, output",
        ),
        (
            "contree://operations/import/{operation_id}",
            "import-operation",
            "An import: state, result image and tag",
        ),
        (
            "contree://guide/{section}",
            "guide",
            "A section of the guide",
        ),
    ]
    .into_iter()
    .map(|(t, n, d)| ResourceTemplate::new(t, n).with_description(d))
    .collect()
}

fn decode(s: &str) -> String {
    percent_decode(s)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no resource `{uri}`; see resources/templates/list"),
        None,
    )
}

fn tool_err(e: String) -> ErrorData {
    ErrorData::internal_error(e, None)
}

fn mode_string(kind: contree::EntryKind, mode: u32) -> String {
    let t = match kind {
        contree::EntryKind::Dir => 'd',
        contree::EntryKind::Symlink => 'l',
        _ => '-',
    };
    let mut s = String::from(t);
    for shift in [6u32, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn fmt_time(t: Option<std::time::SystemTime>) -> String {
    let Some(t) = t else { return "-".into() };
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from(t)
        .format(&f)
        .unwrap_or_else(|_| "-".into())
}

/// `resources/read`.
pub(crate) async fn read(s: &ContreeMcp, uri: &str) -> Result<Vec<ResourceContents>, ErrorData> {
    let text = |t: String| Ok(vec![ResourceContents::text(t, uri.to_string())]);
    if let Some(section) = uri.strip_prefix("contree://guide/") {
        let g = crate::guide::guide(&decode(section)).map_err(|_| not_found(uri))?;
        return text(g.content);
    }
    if let Some(id) = uri.strip_prefix("contree://operations/instance/") {
        let o = crate::ops::describe(s, &decode(id))
            .await
            .map_err(tool_err)?;
        if o.kind.as_deref() != Some("instance") {
            return Err(ErrorData::invalid_params(
                format!("operation {id} is not a run (kind {:?})", o.kind),
                None,
            ));
        }
        return text(serde_json::to_string_pretty(&o).unwrap_or_default());
    }
    if let Some(id) = uri.strip_prefix("contree://operations/import/") {
        let o = crate::ops::describe(s, &decode(id))
            .await
            .map_err(tool_err)?;
        if o.kind.as_deref() != Some("image_import") {
            return Err(ErrorData::invalid_params(
                format!("operation {id} is not an import (kind {:?})", o.kind),
                None,
            ));
        }
        let tag = o
            .result
            .as_ref()
            .and_then(|r| r.tag.clone())
            .unwrap_or_default();
        return text(format!(
            "STATE: {}\nRESULT_IMAGE: {}\nRESULT_TAG: {tag}\nERROR:\n{}\n",
            o.status,
            o.result_image_uuid.unwrap_or_default(),
            o.error.unwrap_or_default()
        ));
    }
    let Some(rest) = uri.strip_prefix("contree://image/") else {
        return Err(not_found(uri));
    };
    let (image, tail) = rest.split_once('/').ok_or_else(|| not_found(uri))?;
    let image = decode(image);
    if tail == "lineage" {
        return text(
            serde_json::to_string_pretty(&lineage(s, &image).await.map_err(tool_err)?)
                .unwrap_or_default(),
        );
    }
    if let Some(path) = tail.strip_prefix("read/") {
        let path = normalize_dir(&decode(path));
        let bytes = image_ref(s, &image)
            .map_err(tool_err)?
            .read(&path)
            .await
            .map_err(|e| tool_err(err(e)))?;
        return text(match std::str::from_utf8(&bytes) {
            Ok(t) => t.to_string(),
            Err(_) => format!(
                "base64:{}",
                base64::engine::general_purpose::STANDARD.encode(&bytes)
            ),
        });
    }
    if let Some(path) = tail
        .strip_prefix("ls/")
        .or(if tail == "ls" { Some("") } else { None })
    {
        let path = normalize_dir(&decode(path));
        let entries = image_ref(s, &image)
            .map_err(tool_err)?
            .ls(&path)
            .await
            .map_err(|e| tool_err(err(e)))?;
        let lines: Vec<String> = entries
            .iter()
            .map(|e| {
                let target = e
                    .symlink_target
                    .as_deref()
                    .map(|t| format!(" -> {t}"))
                    .unwrap_or_default();
                format!(
                    "{} {:>10} {} {}{target}",
                    mode_string(e.kind, e.mode),
                    e.size,
                    fmt_time(e.mtime),
                    e.name
                )
            })
            .collect();
        return text(lines.join("\n"));
    }
    Err(not_found(uri))
}

/// Ancestors of an image, following each image's operation to its source image (on the
/// server: no local cache, so it is the same from any machine).
async fn lineage(s: &ContreeMcp, image: &str) -> Result<serde_json::Value, String> {
    let start = image_ref(s, image)?.info().await.map_err(err)?;
    let uuid = start.id().map(String::from).unwrap_or_default();
    let mut ancestors: Vec<String> = Vec::new();
    let mut op = start.operation_id().map(str::to_string);
    let mut current = uuid.clone();
    while let Some(op_id) = op.take() {
        if ancestors.len() >= 50 {
            break;
        }
        let Ok(info) = s.contree.operations().get(&op_id).await else {
            break;
        };
        let Some(parent) = info.image.filter(|p| *p != current) else {
            break;
        };
        ancestors.push(parent.clone());
        current = parent.clone();
        op = match s.contree.images().use_uuid(parent).info().await {
            Ok(img) => img.operation_id().map(str::to_string),
            Err(_) => None,
        };
    }
    Ok(serde_json::json!({
        "image": uuid,
        "parent": ancestors.first(),
        "ancestors": ancestors,
        "root": ancestors.last().cloned().unwrap_or_else(|| uuid.clone()),
        "depth": ancestors.len(),
        "tag": start.tag(),
        "operation_id": start.operation_id(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_escapes() {
        assert_eq!(
            mode_string(contree::EntryKind::File, 0o100644),
            "-rw-r--r--"
        );
        assert_eq!(mode_string(contree::EntryKind::Dir, 0o40755), "drwxr-xr-x");
        assert_eq!(percent_decode("a%2Fb%20c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
