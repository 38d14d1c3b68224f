//! What an operation is: its status, kind and [`OperationInfo`].

use std::time::Duration;

use contree_proto::types;

/// An operation's status: `contree-proto`'s enum (decoded case-insensitively; values this
/// version does not know are kept as `Unknown`). [`is_terminal`](OperationStatus::is_terminal)
/// says whether it has ended.
///
/// ```
/// use contree::OperationStatus;
/// assert!(OperationStatus::Success.is_terminal());
/// assert_eq!(OperationStatus::from("failed"), OperationStatus::Failed);
/// ```
pub use contree_proto::types::OperationStatus;

/// An operation's kind: `contree-proto`'s enum.
///
/// ```
/// assert_eq!(contree::OperationKind::Instance.as_str(), "instance");
/// ```
pub use contree_proto::types::OperationKind;

/// The state of an operation, as `GET /operations/{id}` (or the list) reports it.
///
/// ```no_run
/// # async fn demo(contree: contree::Contree, id: &str) -> contree::Result<()> {
/// let op = contree.operations().get(id).await?;
/// println!("{} is {} (from image {:?} to {:?})", op.id, op.status, op.image, op.result_image);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The operation id.
    pub id: String,
    /// What it does.
    pub kind: Option<OperationKind>,
    /// Where it is in its lifecycle.
    pub status: OperationStatus,
    /// The VM-level error of a failed operation.
    pub error: Option<String>,
    /// When it was created (ISO 8601, as sent).
    pub created_at: Option<String>,
    /// How long it took, once finished.
    pub duration: Option<Duration>,
    /// Bytes written for the produced image.
    pub image_size: Option<i64>,
    /// The source image (runs).
    pub image: Option<String>,
    /// The produced image (successful, kept runs and imports).
    pub result_image: Option<String>,
}

impl OperationInfo {
    pub(crate) fn from_response(fallback_id: &str, op: &types::OperationResponse) -> Self {
        OperationInfo {
            id: op
                .uuid
                .map_or_else(|| fallback_id.to_string(), |u| u.to_string()),
            kind: op.kind.clone(),
            status: status_of(op.status.as_ref()),
            error: op.error.clone(),
            created_at: op.created_at.clone(),
            duration: secs(op.duration),
            image_size: op.image_size,
            image: op.image_uuid.map(|u| u.to_string()),
            result_image: op.result_image().map(|u| u.to_string()),
        }
    }

    pub(crate) fn from_summary(op: types::OperationSummary) -> Self {
        OperationInfo {
            id: op.uuid.map(|u| u.to_string()).unwrap_or_default(),
            kind: op.kind,
            status: status_of(op.status.as_ref()),
            error: op.error,
            created_at: op.created_at,
            duration: secs(op.duration),
            image_size: op.image_size,
            image: op.image_uuid.map(|u| u.to_string()),
            result_image: op.result_image_uuid.map(|u| u.to_string()),
        }
    }
}

/// A missing status is `Unknown("")`.
fn status_of(s: Option<&OperationStatus>) -> OperationStatus {
    s.cloned()
        .unwrap_or_else(|| OperationStatus::Unknown(String::new()))
}

fn secs(d: Option<f64>) -> Option<Duration> {
    d.filter(|d| d.is_finite() && *d >= 0.0)
        .map(Duration::from_secs_f64)
}
