//! Strict JSON request bodies: `null` and arrays only where the spec declares them.

use serde::Deserialize;
use serde_json::Value;

use super::bad;
use crate::respond::Resp;
use crate::server::Ctx;

/// Parses a JSON request body into its proto type, as strictly as the spec reads:
/// `null` only at the keys it marks nullable (`nullable`, dotted paths, `*` for any key) and
/// arrays only where it declares them (`arrays`). The generated types read `null` as absent and
/// accept a JSON array for a struct (serde's positional form), which would hide a client that
/// sends either. Unknown keys stay allowed (the schemas allow additional properties).
pub(crate) fn json_body<T: for<'de> Deserialize<'de>>(
    ctx: &Ctx,
    nullable: &[&str],
    arrays: &[&str],
) -> Result<T, Resp> {
    if ctx.body.is_empty() {
        return Err(bad("the request body is empty; send a JSON object"));
    }
    let v: Value =
        serde_json::from_slice(&ctx.body).map_err(|e| bad(format!("invalid request body: {e}")))?;
    let parsed =
        serde_json::from_value::<T>(v.clone()).map_err(|e| match wide_integer(&v, "") {
            Some((path, n)) => bad(format!(
                "`{path}` is {n}, beyond the 64-bit integers this service accepts"
            )),
            None => bad(format!("invalid request body: {e}")),
        })?;
    let declared = |path: &str| {
        // A key is declared when a value of no JSON type but float makes the body unparsable.
        let mut probe = v.clone();
        set_path(&mut probe, path, serde_json::json!(0.5));
        serde_json::from_value::<T>(probe).is_err()
    };
    let mut odd = Vec::new();
    odd_members(&v, "", &mut odd);
    for (path, is_null) in odd {
        let allowed = if is_null { nullable } else { arrays };
        if allowed.iter().any(|n| path_matches(n, &path)) || !declared(&path) {
            continue;
        }
        let what = if is_null {
            "must not be null; omit it to use the default"
        } else {
            "must not be an array"
        };
        return Err(bad(format!("`{path}` {what}")));
    }
    Ok(parsed)
}

/// Every object member (at any depth, not inside arrays) that is `null` (true) or an array.
fn odd_members(v: &Value, at: &str, out: &mut Vec<(String, bool)>) {
    let Value::Object(map) = v else { return };
    for (k, child) in map {
        let path = if at.is_empty() {
            k.clone()
        } else {
            format!("{at}.{k}")
        };
        match child {
            Value::Null => out.push((path, true)),
            Value::Array(_) => out.push((path, false)),
            other => odd_members(other, &path, out),
        }
    }
}

/// The first integer-valued number outside `i64` (clients and fuzzers send them as floats).
fn wide_integer(v: &Value, at: &str) -> Option<(String, String)> {
    match v {
        Value::Number(n) => {
            let beyond_i64 = n.is_u64() && n.as_i64().is_none();
            let integral_float = n.is_f64()
                && n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() >= 9.2e18);
            let wide = beyond_i64 || integral_float;
            wide.then(|| (at.to_string(), n.to_string()))
        }
        Value::Object(map) => map.iter().find_map(|(k, c)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            wide_integer(c, &path)
        }),
        _ => None,
    }
}

fn set_path(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    let mut keys = path.split('.').peekable();
    while let Some(k) = keys.next() {
        let Some(next) = cur.as_object_mut().and_then(|m| m.get_mut(k)) else {
            return;
        };
        if keys.peek().is_none() {
            *next = new;
            return;
        }
        cur = next;
    }
}

fn path_matches(pattern: &str, path: &str) -> bool {
    let (mut p, mut q) = (pattern.split('.'), path.split('.'));
    loop {
        match (p.next(), q.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a == "*" || a == b => {}
            _ => return false,
        }
    }
}
