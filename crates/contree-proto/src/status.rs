//! Rules about operation statuses that the spec states only in prose.

use crate::types::{OperationResponse, OperationStatus};

impl OperationStatus {
    /// Whether the operation has ended (`SUCCESS`, `FAILED` or `CANCELLED`); it will not
    /// change again.
    ///
    /// ```
    /// use contree_proto::types::OperationStatus;
    /// assert!(OperationStatus::from("cancelled").is_terminal());
    /// assert!(!OperationStatus::Executing.is_terminal());
    /// assert!(!OperationStatus::from("LATER").is_terminal());
    /// ```
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Success | Self::Failed | Self::Cancelled)
    }
}

impl OperationResponse {
    /// Whether the operation has ended (a missing status has not).
    pub fn is_terminal(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(OperationStatus::is_terminal)
    }

    /// The image the operation produced: `result_image_uuid`, else `result.image` (imports
    /// report it there).
    ///
    /// ```
    /// let op: contree_proto::types::OperationResponse = serde_json::from_str(
    ///     r#"{"status":"SUCCESS","result":{"image":"12345678-9abc-baba-deda-0123456789ab"}}"#,
    /// ).unwrap();
    /// assert_eq!(op.result_image().unwrap().to_string(), "12345678-9abc-baba-deda-0123456789ab");
    /// ```
    pub fn result_image(&self) -> Option<uuid::Uuid> {
        self.result_image_uuid
            .or_else(|| self.result.as_ref().and_then(|r| r.image))
    }
}
