//! `aws.ecr` events: `ECR Image Action` and `ECR Image Scan`.

use super::fields::{Obj, ParseError};
use super::{EventBody, Push, ScanResult, Scanner};
use crate::domain::{ImageRef, ScanState, Severity, SeverityCounts, repository_from_arn};

/// The storage-class fields an `UPDATE_STORAGE_CLASS` event may carry; AWS prints no sample, so
/// each is tried: `ARCHIVE`/`ARCHIVED` means archived, `STANDARD`/`ACTIVE`/`ACTIVATING` restored.
const STORAGE_CLASS_FIELDS: [&str; 5] = [
    "target-storage-class",
    "storage-class",
    "image-storage-class",
    "image-status",
    "target-image-status",
];

/// `ECR Image Action`: PUSH with SUCCESS is a push; DELETE an image (or tag) deletion; an
/// UPDATE_STORAGE_CLASS back to standard storage a restore (Inspector rescans restored images);
/// archives and failed actions are ignored.
pub(super) fn image_action(detail: &Obj<'_>) -> Result<EventBody, ParseError> {
    let action = detail.str("action-type")?.to_ascii_uppercase();
    if let Some(result) = detail.opt_str("result")?
        && !result.eq_ignore_ascii_case("SUCCESS")
    {
        return Ok(EventBody::Ignored(format!(
            "ECR image action {action} with result {result} is not acted on"
        )));
    }
    if !matches!(action.as_str(), "PUSH" | "DELETE" | "UPDATE_STORAGE_CLASS") {
        return Ok(EventBody::Ignored(format!(
            "ECR image action {action} is not acted on"
        )));
    }
    let repository = repository_from_arn(detail.str("repository-name")?).to_string();
    let digest = detail.str("image-digest")?.to_string();
    let tags = match detail.opt_str("image-tag")?.map(str::trim) {
        Some(tag) if !tag.is_empty() => vec![tag.to_string()],
        _ => Vec::new(),
    };
    let image = ImageRef {
        place: None,
        repository,
        digest,
        tags,
    };
    match action.as_str() {
        "DELETE" => Ok(EventBody::Deleted(image)),
        "UPDATE_STORAGE_CLASS" => {
            let mut class = None;
            for field in STORAGE_CLASS_FIELDS {
                if let Some(v) = detail.opt_str(field)? {
                    class = Some(v.to_ascii_uppercase());
                    break;
                }
            }
            match class.as_deref() {
                Some("STANDARD" | "ACTIVE" | "ACTIVATING") => Ok(EventBody::Restored(image)),
                Some("ARCHIVE" | "ARCHIVED") => Ok(EventBody::Ignored(
                    "ECR image archived: Inspector stops scanning it; its tags stay as they are"
                        .into(),
                )),
                Some(other) => Ok(EventBody::Ignored(format!(
                    "ECR storage class change to {other} is not acted on"
                ))),
                None => Ok(EventBody::Ignored(
                    "ECR storage class change without a target storage class is not acted on"
                        .into(),
                )),
            }
        }
        _ => Ok(EventBody::Push(Push {
            image,
            manifest_media_type: detail.opt_str("manifest-media-type")?.map(str::to_string),
            artifact_media_type: detail.opt_str("artifact-media-type")?.map(str::to_string),
        })),
    }
}

/// `finding-severity-counts`: what a scan event says it found.
pub(super) struct Counts {
    /// Known severities counted (zero severities are omitted by AWS).
    pub counts: Option<SeverityCounts>,
    /// Inspector's `TOTAL`.
    pub total: Option<u32>,
    /// Keys that are not a severity AWS documents, counted as CRITICAL (fail closed).
    pub unrecognised: Vec<String>,
}

/// Reads `finding-severity-counts` strictly: every value a non-negative integer (a `-1`, `0.5`, `null`
/// or `"NaN"` refuses the event instead of counting as 0), `TOTAL` kept apart, and a key that is not a
/// severity AWS documents counted as CRITICAL, the worst it could be.
pub(super) fn severity_counts(detail: &Obj<'_>) -> Result<Counts, ParseError> {
    let mut out = Counts {
        counts: None,
        total: None,
        unrecognised: Vec::new(),
    };
    let Some(obj) = detail.opt_obj("finding-severity-counts")? else {
        return Ok(out);
    };
    let mut counts = SeverityCounts::default();
    for (key, _) in obj.entries() {
        let n = obj
            .opt_count(key, false)?
            .unwrap_or(0)
            .min(u64::from(u32::MAX)) as u32;
        if key == "TOTAL" {
            out.total = Some(n);
        } else if let Some(severity) = Severity::parse_reported(key) {
            counts.add_n(severity, n);
        } else {
            counts.add_n(Severity::Critical, n);
            if n > 0 {
                out.unrecognised.push(key.clone());
            }
        }
    }
    out.counts = Some(counts);
    Ok(out)
}

/// A scan-complete event: `ECR Image Scan` (basic: COMPLETE or FAILED) and `Inspector2 Scan`
/// (enhanced, `repository-name` an ARN) share the detail shape. The repository falls back to the
/// envelope's repository ARN.
pub(super) fn scan(
    detail: &Obj<'_>,
    resources: &[&str],
    scanner: Scanner,
) -> Result<EventBody, ParseError> {
    let repository = match detail.opt_str("repository-name")? {
        Some(name) if !name.trim().is_empty() => repository_from_arn(name).to_string(),
        _ => match resources.iter().find(|r| r.contains(":repository/")) {
            Some(arn) => repository_from_arn(arn).to_string(),
            None => return Err(detail.error("repository-name", "is missing")),
        },
    };
    let digest = detail.str("image-digest")?.to_string();
    let tags = detail
        .opt_str_list("image-tags")?
        .into_iter()
        .map(str::to_string)
        .collect();
    let state = detail
        .opt_str("scan-status")?
        .map_or(ScanState::Unknown, ScanState::from_ecr_status);
    let counts = severity_counts(detail)?;
    Ok(EventBody::Scan(ScanResult {
        image: ImageRef {
            place: None,
            repository,
            digest,
            tags,
        },
        scanner,
        state,
        counts: counts.counts,
        total: counts.total,
        unrecognised: counts.unrecognised,
    }))
}
