//! Static facts about one API operation, used by the transport for retry decisions.

/// One operation of the ConTree API, as the spec declares it.
///
/// The generated table `OPERATIONS` lists all 28. Operations the spec leaves without an
/// `operationId` (`GET /files`, `GET /files/{sha256}`) get the ids `listFiles` and `getFile`.
///
/// ```
/// use contree_proto::OperationMeta;
/// let op = OperationMeta {
///     id: "whoAmI",
///     method: http::Method::GET,
///     path: "/whoami",
///     success: &[200],
///     idempotent: true,
///     streaming: false,
/// };
/// assert!(op.is_success(200));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMeta {
    /// The spec's `operationId` (or a synthesised one, see above).
    pub id: &'static str,
    /// The HTTP method.
    pub method: http::Method,
    /// The path template relative to `{base}/v1`, e.g. `/operations/{operationId}`.
    pub path: &'static str,
    /// The status codes that mean success (e.g. `[201]`, or `[302]` for find-by-tag).
    pub success: &'static [u16],
    /// Whether replaying the request after it may have reached the server is safe.
    pub idempotent: bool,
    /// Whether the response body is a stream (SSE, download, archive) rather than a buffered body.
    pub streaming: bool,
}

impl OperationMeta {
    /// Whether `status` is one of this operation's success codes.
    pub fn is_success(&self, status: u16) -> bool {
        self.success.contains(&status)
    }
}
