//! `import_image`: waited for (the operation as a result, FAILED included), or detached
//! (`wait=false`: the operation id at once, as the official server).

use contree::{ImportImage, OperationKind};

use crate::ops::{ended, succeeded};
use crate::server::ContreeMcp;
use crate::tools::err;
use crate::types::*;

pub(crate) async fn import_image(
    s: &ContreeMcp,
    p: ImportImageParams,
) -> Result<RunResult, String> {
    let host = crate::registry::host_of(&p.registry_url);
    let creds = s.registry.get(&host);
    if creds.is_none() && !p.i_accept_that_anonymous_access_might_be_rate_limited {
        return Err(format!(
            "Not authenticated with '{host}'. Call registry_token_obtain to get a token, then \
             registry_auth; or pass i_accept_that_anonymous_access_might_be_rate_limited=true \
             to import anonymously (anonymous pulls may be rate limited)."
        ));
    }
    let reference = p.registry_url.trim().replacen("oci://", "docker://", 1);
    let mut imp = s.contree.images().import(reference);
    if let Some(tag) = p.tag.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        imp = imp.tag(tag);
    }
    if let Some((user, token)) = creds {
        imp = imp.credentials(user, token);
    }
    if p.wait {
        waited(s, imp).await.map(RunResult::output)
    } else {
        // One request; a failure of the import shows when it is waited for.
        imp.start().await.map(RunResult::started).map_err(err)
    }
}

/// The finished import as the official `OperationOutput`. An import that ends FAILED or
/// CANCELLED is a result too (see [`ended`]).
async fn waited(s: &ContreeMcp, imp: ImportImage) -> Result<OperationOutput, String> {
    let image = match imp.await {
        Ok(image) => image,
        Err(e) => {
            let Some(id) = e.operation_id().map(str::to_string) else {
                return Err(err(e));
            };
            return ended(s, &id, e).await;
        }
    };
    let id = image.operation_id().unwrap_or_default();
    let mut o = succeeded(s, id, OperationKind::ImageImport).await;
    o.result_image_uuid = image.id().map(String::from);
    o.result = Some(ResultImage {
        image: image.id().map(String::from),
        tag: image.tag().map(str::to_string),
    });
    Ok(o)
}
