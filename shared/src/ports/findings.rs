//! The findings port (Amazon Inspector): an image's findings and the images that have a finding.

use std::future::Future;

use crate::domain::time::Epoch;
use crate::domain::{Finding, ImageRef, Severity};
use crate::error::AwsError;

/// Amazon Inspector: the findings of one image, and the images behind findings.
pub trait FindingsSource {
    /// ListFindings filtered by repository, digest and ACTIVE or SUPPRESSED status, all pages.
    fn image_findings(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<Vec<Finding>, AwsError>> + Send;
    /// The ECR images with an ACTIVE or SUPPRESSED finding of this vulnerability (ListFindings by
    /// vulnerability id, all pages): whom an exception's start or end concerns.
    fn images_with(
        &self,
        vulnerability: &str,
    ) -> impl Future<Output = Result<Vec<ImageRef>, AwsError>> + Send;
    /// The ECR images with an ACTIVE finding at one of `severities` updated in `[since, until]`
    /// (ListFindings by update time, all pages): where a finding event may have been lost.
    fn images_updated(
        &self,
        since: Epoch,
        until: Epoch,
        severities: &[Severity],
    ) -> impl Future<Output = Result<Vec<ImageRef>, AwsError>> + Send;
}
