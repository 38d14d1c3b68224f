//! Images: listing, tags, import.

use contree_proto::types::{
    ImageImportMetadata, ImageImportMetadataRegistry, ImageImportMetadataRegistryCredentials,
    ImageImportRequest, ImageListResponse, ImportImageCreatedBody, OperationMetadata,
    UpdateImageTagBody,
};

use super::{R, bad, in_window, json_body, new_op, page, parse_uuid, time_window};
use crate::instance;
use crate::respond::Resp;
use crate::server::Ctx;
use crate::state::{OpKind, valid_tag};

pub(super) fn list_images(ctx: &Ctx) -> R {
    ctx.shared.require("list")?;
    let q = &ctx.query;
    let (limit, offset) = page(q)?;
    let window = time_window(q)?;
    let prefix = q.get("tag");
    let tagged = q.get("tagged").is_some_and(|v| v != "0") || prefix.is_some();
    let uuid = match q.get("uuid") {
        Some(u) => Some(parse_uuid(u, "uuid", 400)?),
        None => None,
    };
    let st = ctx.shared.state();
    let mut rows = Vec::new();
    for id in &st.image_order {
        let Some(img) = st.images.get(id) else {
            continue;
        };
        if uuid.is_some_and(|u| u != *id) || !in_window(img.created_at, &window) {
            continue;
        }
        let tags = st.tags_of(*id);
        if tags.is_empty() {
            if !tagged {
                rows.push(st.image(img, None));
            }
            continue;
        }
        for t in &tags {
            if prefix.is_none_or(|p| t.starts_with(p)) {
                rows.push(st.image(img, Some(t)));
            }
        }
    }
    let mut list = ImageListResponse::new();
    list.images = Some(rows.into_iter().skip(offset).take(limit).collect());
    Ok(Resp::typed(200, &list))
}

pub(super) fn update_tag(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("set_image_tag")?;
    let uuid = parse_uuid(id, "image UUID", 400)?;
    let body: UpdateImageTagBody = json_body(ctx, &[], &[])?;
    let tag = body
        .tag
        .strip_prefix("tag:")
        .unwrap_or(&body.tag)
        .to_string();
    if !valid_tag(&tag) {
        return Err(bad(format!(
            "{tag:?} is not a valid tag (e.g. `myimage:1.0`)"
        )));
    }
    let mut st = ctx.shared.state();
    let Some(img) = st.images.get(&uuid).cloned() else {
        return Err(Resp::error(404, format!("image {uuid} not found")));
    };
    st.user_tags.insert(tag.clone(), uuid);
    Ok(Resp::typed(200, &st.image(&img, Some(&tag))))
}

pub(super) fn delete_tag(ctx: &Ctx, id: &str) -> R {
    ctx.shared.require("set_image_tag")?;
    let uuid = parse_uuid(id, "image UUID", 404)?;
    let mut st = ctx.shared.state();
    if !st.images.contains_key(&uuid) {
        return Err(Resp::error(404, format!("image {uuid} not found")));
    }
    match ctx.query.get("tag") {
        Some(tag) => {
            if st.user_tags.get(tag) == Some(&uuid) {
                st.user_tags.remove(tag);
            } else if st.public_tags.get(tag) != Some(&uuid) {
                return Err(Resp::error(404, format!("image {uuid} has no tag {tag:?}")));
            }
        }
        None => st.user_tags.retain(|_, u| *u != uuid),
    }
    Ok(Resp::empty(204))
}

pub(super) fn import_image(ctx: &Ctx) -> R {
    ctx.shared.require("import")?;
    let body: ImageImportRequest = json_body(ctx, &["tag"], &[])?;
    let tag = body.tag.clone().into_value();
    if body.registry.url.trim().is_empty() {
        return Err(bad("registry.url must not be empty"));
    }
    if let Some(t) = &tag
        && !valid_tag(t)
    {
        return Err(bad(format!("{t:?} is not a valid tag")));
    }
    let timeout = body.timeout.unwrap_or(300);
    if timeout < 1 {
        return Err(bad("timeout must be a positive number of seconds"));
    }
    let mut registry = ImageImportMetadataRegistry::new();
    registry.url = Some(body.registry.url.clone());
    registry.credentials = body.registry.credentials.as_ref().map(|c| {
        let mut cred = ImageImportMetadataRegistryCredentials::new();
        cred.username = c.username.clone();
        cred.password = c.password.as_ref().map(|_| "<MASKED>".to_string());
        cred
    });
    let mut metadata = ImageImportMetadata::new();
    metadata.registry = Some(registry);
    metadata.tag = tag.clone();
    metadata.timeout = Some(timeout);
    let op = new_op(
        ctx,
        OpKind::ImageImport,
        None,
        OperationMetadata::ImageImport(metadata),
        None,
    );
    instance::start_import(ctx.shared.clone(), op, body.registry.url, tag);
    Ok(Resp::typed(201, &ImportImageCreatedBody::new(op)).location(format!("/v1/operations/{op}")))
}
