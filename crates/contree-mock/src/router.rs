//! Maps a method and a path below `/v1` to one of the 28 operations.

use http::Method;

/// A routed request: the operation and its path parameters (percent-decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    ListImages,
    DeleteImageTag(String),
    UpdateImageTag(String),
    ImportImage,
    UploadFile,
    ListFiles,
    CheckFileExists(String),
    GetFile(String),
    SpawnInstance,
    ListOperations,
    GetOperation(String),
    CancelOperation(String),
    Events(String),
    SubprocessCreate(String),
    Subprocess(String, String),
    SubprocessKill(String, String),
    SubprocessStdin(String, String),
    InspectRedirect,
    InspectImageRedirect(String),
    FindByTag,
    InspectImage(String),
    Download(String),
    CheckFile(String),
    Archive(String),
    CheckArchive(String),
    List(String),
    Grep(String),
    WhoAmI,
}

impl Route {
    /// The spec's `operationId` (`listFiles`/`getFile` for the two without one).
    pub(crate) fn operation_id(&self) -> &'static str {
        match self {
            Route::ListImages => "listImages",
            Route::DeleteImageTag(_) => "deleteImageTag",
            Route::UpdateImageTag(_) => "updateImageTag",
            Route::ImportImage => "importImage",
            Route::UploadFile => "uploadFile",
            Route::ListFiles => "listFiles",
            Route::CheckFileExists(_) => "checkFileExists",
            Route::GetFile(_) => "getFile",
            Route::SpawnInstance => "spawnInstance",
            Route::ListOperations => "listOperations",
            Route::GetOperation(_) => "getOperationStatus",
            Route::CancelOperation(_) => "cancelOperation",
            Route::Events(_) => "getOperationEvents",
            Route::SubprocessCreate(_) => "operationSubprocessCreate",
            Route::Subprocess(..) => "operationSubprocess",
            Route::SubprocessKill(..) => "operationSubprocessKill",
            Route::SubprocessStdin(..) => "operationSubprocessStdin",
            Route::InspectRedirect => "inspectRedirect",
            Route::InspectImageRedirect(_) => "inspectImageRedirect",
            Route::FindByTag => "inspectFindImageByTag",
            Route::InspectImage(_) => "inspectImage",
            Route::Download(_) => "inspectImageDownload",
            Route::CheckFile(_) => "checkImageFile",
            Route::Archive(_) => "inspectImageArchive",
            Route::CheckArchive(_) => "checkImageArchive",
            Route::List(_) => "inspectImageFile",
            Route::Grep(_) => "inspectImageGrep",
            Route::WhoAmI => "whoAmI",
        }
    }
}

/// Why a path did not route.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NoRoute {
    NotFound,
    MethodNotAllowed,
}

fn dec(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The `Allow` header value for a path: every method that routes there (for a 405).
pub(crate) fn allowed_methods(path: &str) -> String {
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ]
    .into_iter()
    .filter(|m| route(m, path).is_ok())
    .map(|m| m.as_str().to_string())
    .collect::<Vec<_>>()
    .join(", ")
}

/// Routes `path` (the part after `/v1`, starting with `/`).
pub(crate) fn route(method: &Method, path: &str) -> Result<Route, NoRoute> {
    use NoRoute::{MethodNotAllowed as M, NotFound as N};
    let segs: Vec<&str> = path.strip_prefix('/').ok_or(N)?.split('/').collect();
    let get = *method == Method::GET;
    let head = *method == Method::HEAD;
    let is = |m: Method| *method == m;
    let r = match segs.as_slice() {
        ["images"] if get => Route::ListImages,
        ["images"] => return Err(M),
        ["images", "import"] if is(Method::POST) => Route::ImportImage,
        ["images", "import"] => return Err(M),
        ["images", id, "tag"] if is(Method::DELETE) => Route::DeleteImageTag(dec(id)),
        ["images", id, "tag"] if is(Method::PATCH) => Route::UpdateImageTag(dec(id)),
        ["images", _, "tag"] => return Err(M),
        ["files"] if get => Route::ListFiles,
        ["files"] if is(Method::POST) => Route::UploadFile,
        ["files"] => return Err(M),
        ["files", sha] if head => Route::CheckFileExists(dec(sha)),
        ["files", sha] if get => Route::GetFile(dec(sha)),
        ["files", _] => return Err(M),
        ["instances"] if is(Method::POST) => Route::SpawnInstance,
        ["instances"] => return Err(M),
        ["operations"] if get => Route::ListOperations,
        ["operations"] => return Err(M),
        ["operations", id] if get => Route::GetOperation(dec(id)),
        ["operations", id] if is(Method::DELETE) => Route::CancelOperation(dec(id)),
        ["operations", _] => return Err(M),
        ["operations", id, "events"] if get => Route::Events(dec(id)),
        ["operations", _, "events"] => return Err(M),
        ["operations", id, "subprocesses"] if is(Method::POST) => Route::SubprocessCreate(dec(id)),
        ["operations", _, "subprocesses"] => return Err(M),
        ["operations", id, "subprocesses", spid] if get => Route::Subprocess(dec(id), dec(spid)),
        ["operations", id, "subprocesses", spid] if is(Method::DELETE) => {
            Route::SubprocessKill(dec(id), dec(spid))
        }
        ["operations", _, "subprocesses", _] => return Err(M),
        ["operations", id, "subprocesses", spid, "stdin"] if is(Method::POST) => {
            Route::SubprocessStdin(dec(id), dec(spid))
        }
        ["operations", _, "subprocesses", _, "stdin"] => return Err(M),
        ["inspect"] if get => Route::InspectRedirect,
        ["inspect", ""] if get => Route::FindByTag,
        ["inspect", id] if get && !id.is_empty() => Route::InspectImageRedirect(dec(id)),
        ["inspect"] | ["inspect", _] => return Err(M),
        ["inspect", id, ""] if get => Route::InspectImage(dec(id)),
        ["inspect", id, "download"] if get => Route::Download(dec(id)),
        ["inspect", id, "download"] if head => Route::CheckFile(dec(id)),
        ["inspect", id, "archive"] if get => Route::Archive(dec(id)),
        ["inspect", id, "archive"] if head => Route::CheckArchive(dec(id)),
        ["inspect", id, "list"] if get => Route::List(dec(id)),
        ["inspect", id, "grep"] if get => Route::Grep(dec(id)),
        ["inspect", _, "" | "download" | "archive" | "list" | "grep"] => return Err(M),
        ["whoami"] if get => Route::WhoAmI,
        ["whoami"] => return Err(M),
        _ => return Err(N),
    };
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_operation_routes_to_its_id() {
        assert_eq!(contree_proto::OPERATIONS.len(), 28);
        let re = regex::Regex::new(r"\{[^}]+\}").expect("valid regex");
        for op in contree_proto::OPERATIONS.iter() {
            let path = re.replace_all(op.path, "x").into_owned();
            let r = route(&op.method, &path)
                .unwrap_or_else(|e| panic!("{} {} {path}: {e:?}", op.method, op.id));
            assert_eq!(r.operation_id(), op.id, "{} {path}", op.method);
        }
    }

    #[test]
    fn trailing_slashes_route_strictly() {
        assert_eq!(route(&Method::GET, "/inspect"), Ok(Route::InspectRedirect));
        assert_eq!(route(&Method::GET, "/inspect/"), Ok(Route::FindByTag));
        assert_eq!(
            route(&Method::GET, "/inspect/abc"),
            Ok(Route::InspectImageRedirect("abc".into()))
        );
        assert_eq!(
            route(&Method::GET, "/inspect/abc/"),
            Ok(Route::InspectImage("abc".into()))
        );
        assert_eq!(
            route(&Method::HEAD, "/files/ab"),
            Ok(Route::CheckFileExists("ab".into()))
        );
        assert_eq!(
            route(&Method::PUT, "/images"),
            Err(NoRoute::MethodNotAllowed)
        );
        assert_eq!(route(&Method::GET, "/nope"), Err(NoRoute::NotFound));
        assert_eq!(allowed_methods("/whoami"), "GET");
        assert_eq!(allowed_methods("/files/ab"), "GET, HEAD");
        assert_eq!(allowed_methods("/images/x/tag"), "PATCH, DELETE");
        assert_eq!(allowed_methods("/operations/x"), "GET, DELETE");
        assert_eq!(
            route(&Method::GET, "/whoami").unwrap().operation_id(),
            "whoAmI"
        );
    }
}
