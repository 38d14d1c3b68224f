//! What an operation is: its status, kind and [`OperationInfo`].

use std::fmt;
use std::time::Duration;

use crate::wire;

/// The lifecycle state of an operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationStatus {
    /// Queued.
    Pending,
    /// A worker holds it; the VM is starting.
    Assigned,
    /// Running.
    Executing,
    /// The VM ran to completion (this does not mean exit code 0).
    Success,
    /// A VM-level failure (image missing, OOM, scheduler, ...).
    Failed,
    /// Cancelled on request.
    Cancelled,
    /// A status this SDK does not know yet.
    Unknown(String),
}

impl OperationStatus {
    pub(crate) fn parse(s: &str) -> Self {
        match s.to_ascii_uppercase().as_str() {
            "PENDING" => Self::Pending,
            "ASSIGNED" => Self::Assigned,
            "EXECUTING" => Self::Executing,
            "SUCCESS" => Self::Success,
            "FAILED" => Self::Failed,
            "CANCELLED" => Self::Cancelled,
            _ => Self::Unknown(s.to_string()),
        }
    }

    /// The wire name (`PENDING`, `SUCCESS`, ...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Assigned => "ASSIGNED",
            Self::Executing => "EXECUTING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Unknown(s) => s,
        }
    }

    /// Whether the operation is over (`Success`, `Failed` or `Cancelled`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for OperationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an operation does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OperationKind {
    /// A run (`POST /instances`).
    Instance,
    /// An image import.
    ImageImport,
    /// A kind this SDK does not know yet.
    Unknown(String),
}

impl OperationKind {
    fn parse(s: &str) -> Self {
        match s {
            "instance" => Self::Instance,
            "image_import" => Self::ImageImport,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The wire name (`instance`, `image_import`).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Instance => "instance",
            Self::ImageImport => "image_import",
            Self::Unknown(s) => s,
        }
    }
}

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
    pub(crate) fn from_wire(fallback_id: &str, op: &wire::WireOperation) -> Self {
        OperationInfo {
            id: op.uuid.clone().unwrap_or_else(|| fallback_id.to_string()),
            kind: op.kind.as_deref().map(OperationKind::parse),
            status: OperationStatus::parse(op.status.as_deref().unwrap_or("")),
            error: op.error.clone(),
            created_at: op.created_at.clone(),
            duration: op
                .duration
                .filter(|d| d.is_finite() && *d >= 0.0)
                .map(Duration::from_secs_f64),
            image_size: op.image_size,
            image: op.image_uuid.clone(),
            result_image: op.result_image(),
        }
    }
}
