//! Telling a missing image apart from other reasons a run could not start.

use crate::error::{Error, ErrorKind, Inner};
use crate::image::Image;

/// A run from `image` failed with `err`; when a missing image would explain it, one cheap
/// look-up of the image decides.
///
/// The spec documents no 404 on `POST /instances`: a service may answer a spawn from a
/// missing image or tag with 400, or accept it and fail the operation. In those two cases
/// the image is looked up once (`GET /inspect/{uuid}/`, or the tag's redirect); if it does
/// not exist the error becomes [`ErrorKind::NotFound`], with the original error as its
/// source (its status, message and operation id stay readable). A 404 is `NotFound`
/// already; any other error, an image that exists, or a look-up that fails otherwise
/// leaves `err` as it is.
pub(crate) async fn explain(image: &Image, err: Error) -> Error {
    let ambiguous = err.status() == Some(http::StatusCode::BAD_REQUEST)
        || err.kind() == ErrorKind::OperationFailed;
    if !ambiguous {
        return err;
    }
    let lookup = match image.id_str() {
        Some(uuid) => crate::api::inspect_image(image.client(), uuid)
            .await
            .map(drop),
        None => image.resolve_uuid().await.map(drop),
    };
    match lookup {
        Err(e) if e.is_not_found() => Error::new(Inner::ImageNotFound {
            image: image.to_string(),
            source: Box::new(err),
        }),
        _ => err,
    }
}
