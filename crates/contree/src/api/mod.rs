//! The request layer: one small function per API operation. Each builds `contree-proto`'s
//! generated request, sends it through the client's transport and decodes `contree-proto`'s
//! generated response type. Handle types call these; these depend only on the client and
//! `contree-proto`, which alone knows paths, query encodings, body shapes and payload
//! encodings.

mod files;
mod images;
mod inspect;
mod instances;
mod operations;

pub(crate) use files::{check_file, get_file, list_files, upload_file};
pub(crate) use images::{delete_tag, find_by_tag, import_image, inspect_image, list_images, tag};
pub(crate) use inspect::{archive, check_archive, download, grep, list_dir};
pub(crate) use instances::{
    create_subprocess, get_subprocess, kill_subprocess, spawn, subprocess_stdin, whoami,
};
pub(crate) use operations::{cancel_operation, get_operation, list_operations};

use bytes::Bytes;
use contree_proto::Request;
use serde::de::DeserializeOwned;

use crate::client::Contree;
use crate::error::{Error, Result};

/// Builds a generated request. A request that cannot be built is an error naming the action,
/// never a fallback request.
pub(crate) fn build<R: Request>(req: &R, action: &str) -> Result<http::Request<Bytes>> {
    req.to_http()
        .map_err(|e| Error::invalid(format!("{action}: {e}")))
}

/// Builds and sends a generated request; the buffered response.
pub(crate) async fn call<R: Request>(
    client: &Contree,
    req: &R,
    action: &str,
) -> Result<http::Response<Bytes>> {
    let http = build(req, action)?;
    client.send(R::meta(), http, action).await
}

/// Builds and sends a generated request and decodes its JSON answer as `T` (a type of
/// `contree_proto::types`).
pub(crate) async fn call_json<R: Request, T: DeserializeOwned>(
    client: &Contree,
    req: &R,
    action: &str,
) -> Result<T> {
    let resp = call(client, req, action).await?;
    decode(action, resp.body())
}

/// Builds and sends a generated request whose response body is streamed.
pub(crate) async fn call_streaming<R: Request>(
    client: &Contree,
    req: &R,
    action: &str,
) -> Result<http::Response<contree_transport::ResponseBody>> {
    let http = build(req, action)?;
    client.send_streaming(R::meta(), http, action).await
}

/// Decodes JSON, naming the action in the error (with the type name, JSON path and the start
/// of the body, as [`contree_proto::json::decode`] reports them).
pub(crate) fn decode<T: DeserializeOwned>(action: &str, body: &[u8]) -> Result<T> {
    contree_proto::json::decode(body).map_err(|e| Error::decode(action, e.to_string()))
}

#[cfg(test)]
mod tests {
    use contree_proto::requests;

    #[test]
    fn requests_are_built_by_contree_proto() {
        let mut q = requests::InspectImageFile::new("u", "/etc/a b");
        q.text = false;
        let req = super::build(&q, "listing").expect("a request");
        assert_eq!(req.uri(), "/inspect/u/list?path=/etc/a%20b");
        let mut ls = requests::ListImages::new();
        ls.tag = Some("ubuntu:latest+1".into());
        let req = super::build(&ls, "listing").expect("a request");
        assert_eq!(req.uri(), "/images?tag=ubuntu%3Alatest%2B1");
        let req = super::build(&requests::InspectImage::new("a/b"), "x").expect("a request");
        assert_eq!(req.uri(), "/inspect/a%2Fb/");
    }
}
