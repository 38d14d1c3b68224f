//! Image calls.

use contree_proto::{requests, types};

use crate::client::Contree;
use crate::error::{Error, Result};

/// `GET /images`: one page.
pub(crate) async fn list_images(
    client: &Contree,
    req: &requests::ListImages,
) -> Result<types::ImageListResponse> {
    super::call_json(client, req, "listing images").await
}

/// `GET /inspect/{uuid}/`: the image.
pub(crate) async fn inspect_image(client: &Contree, uuid: &str) -> Result<types::Image> {
    let req = requests::InspectImage::new(uuid);
    super::call_json(client, &req, &format!("inspecting image {uuid}")).await
}

/// `PATCH /images/{uuid}/tag`: the tagged image (`None` when the answer has no body).
pub(crate) async fn tag(client: &Contree, uuid: &str, tag: &str) -> Result<Option<types::Image>> {
    let body = types::UpdateImageTagBody::new(tag);
    let req = requests::UpdateImageTag::new(uuid, body);
    let action = format!("tagging image {uuid} as {tag}");
    let resp = super::call(client, &req, &action).await?;
    if resp.body().is_empty() {
        return Ok(None);
    }
    super::decode(&action, resp.body()).map(Some)
}

/// `DELETE /images/{uuid}/tag[?tag=]`: removes one tag, or all of them.
pub(crate) async fn delete_tag(client: &Contree, uuid: &str, tag: Option<&str>) -> Result<()> {
    let mut req = requests::DeleteImageTag::new(uuid);
    req.tag = tag.map(str::to_string);
    super::call(client, &req, &format!("untagging image {uuid}")).await?;
    Ok(())
}

/// `POST /images/import`: the import operation's id.
pub(crate) async fn import_image(
    client: &Contree,
    body: types::ImageImportRequest,
    action: &str,
) -> Result<String> {
    let req = requests::ImportImage::new(body);
    let op: types::ImportImageCreatedBody = super::call_json(client, &req, action).await?;
    Ok(op.uuid.to_string())
}

/// Resolves a tag to a UUID through `GET /inspect/?tag=` without following the 302.
pub(crate) async fn find_by_tag(client: &Contree, tag: &str) -> Result<String> {
    let req = requests::InspectFindImageByTag::new(tag);
    let action = format!("resolving tag {tag}");
    let resp = super::call(client, &req, &action).await?;
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
