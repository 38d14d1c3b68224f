//! Inspect calls: an image's files without starting a VM.

use contree_proto::{requests, types};
use contree_transport::ResponseBody;

use crate::client::Contree;
use crate::error::Result;

/// `GET /inspect/{uuid}/list?path=`: a directory listing.
pub(crate) async fn list_dir(
    client: &Contree,
    uuid: &str,
    path: &str,
    action: &str,
) -> Result<types::DirectoryList> {
    let req = requests::InspectImageFile::new(uuid, path);
    super::call_json(client, &req, action).await
}

/// `HEAD /inspect/{uuid}/archive?path=`: `Ok` when the path exists.
pub(crate) async fn check_archive(
    client: &Contree,
    uuid: &str,
    path: &str,
    action: &str,
) -> Result<()> {
    let req = requests::CheckImageArchive::new(uuid, path);
    super::call(client, &req, action).await?;
    Ok(())
}

/// `GET /inspect/{uuid}/download?path=`: a regular file's bytes, streamed.
pub(crate) async fn download(
    client: &Contree,
    uuid: &str,
    path: &str,
    action: &str,
) -> Result<http::Response<ResponseBody>> {
    let req = requests::InspectImageDownload::new(uuid, path);
    super::call_streaming(client, &req, action).await
}

/// `GET /inspect/{uuid}/archive?path=`: a tar archive, streamed.
pub(crate) async fn archive(
    client: &Contree,
    uuid: &str,
    path: &str,
    action: &str,
) -> Result<http::Response<ResponseBody>> {
    let req = requests::InspectImageArchive::new(uuid, path);
    super::call_streaming(client, &req, action).await
}

/// `GET /inspect/{uuid}/grep`: the matches.
pub(crate) async fn grep(
    client: &Contree,
    req: &requests::InspectImageGrep,
    action: &str,
) -> Result<types::GrepResult> {
    super::call_json(client, req, action).await
}
