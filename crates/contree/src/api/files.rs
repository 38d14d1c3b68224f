//! File calls.

use contree_proto::{requests, types};
use contree_transport::Body;

use crate::client::Contree;
use crate::error::Result;

/// `HEAD /files/{sha256}`: `Ok` when the file exists (a missing one is a not-found error).
pub(crate) async fn check_file(client: &Contree, sha256: &str) -> Result<()> {
    let req = requests::CheckFileExists::new(sha256);
    super::call(client, &req, &format!("checking file {sha256}")).await?;
    Ok(())
}

/// `GET /files/{sha256}`: the file.
pub(crate) async fn get_file(client: &Contree, sha256: &str) -> Result<types::FileResponse> {
    let req = requests::GetFile::new(sha256);
    super::call_json(client, &req, &format!("looking up file {sha256}")).await
}

/// `GET /files`: one page.
pub(crate) async fn list_files(
    client: &Contree,
    req: &requests::ListFiles,
) -> Result<types::FilesListResponse> {
    super::call_json(client, req, "listing files").await
}

/// `POST /files` with a streamed body: the generated request gives the method, path and
/// headers; the body is streamed in constant memory.
pub(crate) async fn upload_file(
    client: &Contree,
    body: Body,
    action: &str,
) -> Result<types::FileResponse> {
    let req = requests::UploadFile::new(bytes::Bytes::new());
    let (parts, _) = super::build(&req, action)?.into_parts();
    let resp = client
        .send_body(
            <requests::UploadFile as contree_proto::Request>::meta(),
            http::Request::from_parts(parts, body),
            action,
        )
        .await?;
    super::decode(action, resp.body())
}
