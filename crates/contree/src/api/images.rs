//! Image calls.

use crate::api::{Query, request};
use crate::client::Contree;
use crate::error::{Error, Result};

/// Resolves a tag to a UUID through `GET /inspect/?tag=` without following the 302.
pub(crate) async fn find_by_tag(client: &Contree, tag: &str) -> Result<String> {
    let mut q = Query::new();
    q.push("tag", tag);
    let req = request(http::Method::GET, "/inspect/".into(), &q);
    let action = format!("resolving tag {tag}");
    let resp = client
        .send(&contree_proto::ops::INSPECT_FIND_IMAGE_BY_TAG, req, &action)
        .await?;
    let location = resp
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::decode(&action, "the 302 answer has no Location header"))?;
    let uuid = location
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    if uuid.is_empty() {
        return Err(Error::decode(
            action,
            format!("cannot find an image id in Location `{location}`"),
        ));
    }
    Ok(uuid)
}
