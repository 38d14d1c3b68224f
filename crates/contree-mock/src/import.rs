//! Image imports: PENDING → ASSIGNED → EXECUTING → SUCCESS when the normalised registry
//! reference is in the built-in catalogue (`crate::images`), else FAILED.

use std::sync::Arc;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::instance::{finish, finish_cancelled, op_parts, pause, set_status};
use crate::server::Shared;
use crate::state::{ImageRec, Status, image_uuid_for};

/// The key an import's registry reference is looked up by: proto's OCI normalisation
/// (`contree_proto::image_ref::OciReference`, the rule every crate shares) without the
/// `docker://` scheme, e.g. `index.docker.io/ubuntu` → `docker.io/library/ubuntu:latest`. A
/// reference proto refuses is kept as given (it matches nothing, so the import fails as the
/// service's does for an unknown manifest).
pub(crate) fn normalize_ref(r: &str) -> String {
    match contree_proto::image_ref::OciReference::parse(r) {
        Ok(oci) => oci.url().trim_start_matches("docker://").to_owned(),
        Err(_) => r.trim().to_owned(),
    }
}

/// Starts an image import operation in the background.
pub(crate) fn start_import(shared: Arc<Shared>, op: Uuid, url: String, tag: Option<String>) {
    let delays = shared.timings().created(op, "image_import");
    tokio::spawn(async move {
        let Some((_, token, _)) = op_parts(&shared, op) else {
            return;
        };
        for (s, d) in [
            (Status::Assigned, delays.pending),
            (Status::Executing, delays.boot),
        ] {
            if pause(&shared, &token, d).await {
                finish_cancelled(&shared, op);
                return;
            }
            set_status(&shared, op, s);
        }
        if pause(&shared, &token, delays.work).await {
            finish_cancelled(&shared, op);
            return;
        }
        let key = normalize_ref(&url);
        let found = crate::images::registry_catalogue()
            .into_iter()
            .chain(crate::images::preloaded())
            .find(|(r, _)| normalize_ref(r) == key);
        let Some((_, fs)) = found else {
            finish(
                &shared,
                op,
                Status::Failed,
                Some(format!(
                    "cannot import {url}: manifest unknown ({key} is not in the contree-mock registry catalogue)"
                )),
                None,
                None,
            );
            return;
        };
        let env = crate::state::base_image_env();
        let uuid = image_uuid_for(&fs, &env, "/");
        let size = crate::state::image_size(&fs);
        {
            let mut st = shared.state();
            st.add_image(ImageRec {
                uuid,
                fs: Arc::new(fs),
                env,
                cwd: "/".to_string(),
                created_at: OffsetDateTime::now_utc(),
                operation_uuid: Some(op),
            });
            if let Some(t) = &tag {
                st.user_tags.insert(t.clone(), uuid);
            }
            if let Some(o) = st.ops.get_mut(&op) {
                o.result_tag = tag.clone();
            }
        }
        finish(&shared, op, Status::Success, None, Some(uuid), Some(size));
    });
}

#[cfg(test)]
mod tests {
    use super::normalize_ref;

    #[test]
    fn refs_normalise_like_docker() {
        assert_eq!(
            normalize_ref("docker://docker.io/busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize_ref("ubuntu"), "docker.io/library/ubuntu:latest");
        assert_eq!(normalize_ref("ghcr.io/org/img:1"), "ghcr.io/org/img:1");
        assert_eq!(
            normalize_ref("docker.io/library/alpine:3.20"),
            "docker.io/library/alpine:3.20"
        );
        assert_eq!(normalize_ref("nebius/foo:1"), "docker.io/nebius/foo:1");
        assert_eq!(
            normalize_ref("index.docker.io/ubuntu"),
            "docker.io/library/ubuntu:latest"
        );
        assert_eq!(normalize_ref("oci://x/y"), "oci://x/y");
    }
}
