//! Whether an image has a usable scan result, from ECR's `imageScanStatus` or Inspector's coverage.

use serde::Serialize;

/// The scan status of one image, reduced to what a verdict needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum ScanState {
    /// A scan completed and the image is monitored: its findings are the truth.
    Complete,
    /// A scan is queued or running.
    InProgress,
    /// No usable result: failed, unsupported, expired, archived, findings unavailable (the status code).
    Unusable(String),
    /// Nobody said (an event without a status): decided from findings alone.
    Unknown,
}

impl ScanState {
    /// Maps an ECR `imageScanStatus.status` (basic or enhanced) or an event's `scan-status`.
    /// SCAN_ELIGIBILITY_EXPIRED, IMAGE_ARCHIVED, FINDINGS_UNAVAILABLE and UNSUPPORTED_IMAGE mean
    /// "not scanned", never "clean"; so does any status AWS adds later.
    pub fn from_ecr_status(status: &str) -> ScanState {
        match status.trim().to_ascii_uppercase().as_str() {
            "COMPLETE" | "ACTIVE" | "INITIAL_SCAN_COMPLETE" => ScanState::Complete,
            "IN_PROGRESS" | "PENDING" => ScanState::InProgress,
            "" => ScanState::Unknown,
            other => ScanState::Unusable(other.to_string()),
        }
    }

    /// Maps Inspector coverage: `statusCodeValue` ACTIVE/INACTIVE with a reason code.
    pub fn from_inspector_coverage(code: &str, reason: &str) -> ScanState {
        let reason = reason.trim().to_ascii_uppercase();
        match code.trim().to_ascii_uppercase().as_str() {
            "ACTIVE" if reason == "PENDING_INITIAL_SCAN" || reason.starts_with("PENDING") => {
                ScanState::InProgress
            }
            "ACTIVE" => ScanState::Complete,
            _ if reason.is_empty() => ScanState::Unusable("INACTIVE".to_string()),
            _ => ScanState::Unusable(reason),
        }
    }

    /// A short human phrase for reasons and messages.
    pub fn describe(&self) -> String {
        match self {
            ScanState::Complete => "scan complete".to_string(),
            ScanState::InProgress => "scan in progress".to_string(),
            ScanState::Unusable(code) => format!("no usable scan result ({code})"),
            ScanState::Unknown => "scan status unknown".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_archived_and_unknown_statuses_are_unusable() {
        for s in [
            "SCAN_ELIGIBILITY_EXPIRED",
            "IMAGE_ARCHIVED",
            "FINDINGS_UNAVAILABLE",
            "UNSUPPORTED_IMAGE",
            "FAILED",
            "SOMETHING_NEW",
        ] {
            assert_eq!(
                ScanState::from_ecr_status(s),
                ScanState::Unusable(s.to_string())
            );
        }
        assert_eq!(ScanState::from_ecr_status("COMPLETE"), ScanState::Complete);
        assert_eq!(ScanState::from_ecr_status("ACTIVE"), ScanState::Complete);
        assert_eq!(ScanState::from_ecr_status("PENDING"), ScanState::InProgress);
    }

    #[test]
    fn coverage_inactive_carries_its_reason() {
        assert_eq!(
            ScanState::from_inspector_coverage("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED"),
            ScanState::Unusable("SCAN_ELIGIBILITY_EXPIRED".into())
        );
        assert_eq!(
            ScanState::from_inspector_coverage("ACTIVE", "SUCCESSFUL"),
            ScanState::Complete
        );
        assert_eq!(
            ScanState::from_inspector_coverage("ACTIVE", "PENDING_INITIAL_SCAN"),
            ScanState::InProgress
        );
    }
}
