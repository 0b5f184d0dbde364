//! The findings port (Amazon Inspector): an image's findings and the images that have a finding.

use std::future::Future;

use crate::domain::time::Epoch;
use crate::domain::{Finding, ImageRef, Kev, Severity};
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
    /// The ECR images with an ACTIVE finding at one of the window's severities updated within it
    /// (ListFindings by update time, all pages): where a finding event may have been lost.
    fn images_updated(
        &self,
        window: &Window,
    ) -> impl Future<Output = Result<Vec<ImageRef>, AwsError>> + Send;
    /// The member accounts Inspector scans for this delegated administrator (ListMembers of the
    /// associated members, all pages, those ENABLED): whose registries an Organization deployment
    /// that governs every member lists.
    fn members(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The CISA KEV entry of each finding's vulnerability, by finding ARN (BatchGetFindingDetails, 10
    /// findings a call): `None` for a finding whose details have no `cisaData`. A finding whose details
    /// were not found is left out (its KEV status is not known); one whose details could not be read
    /// for another reason is an error.
    fn kev_of(
        &self,
        arns: &[String],
    ) -> impl Future<Output = Result<Vec<(String, Option<Kev>)>, AwsError>> + Send;
}

/// Which finding updates `images_updated` asks for: those at one of `severities`, in `[since, until]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// The first second of the window (inclusive).
    pub since: Epoch,
    /// The last second of the window (inclusive).
    pub until: Epoch,
    /// The severities that count.
    pub severities: Vec<Severity>,
}

impl Window {
    /// Whether a finding at `severity` updated at `updated` falls in the window.
    pub fn holds(&self, severity: Severity, updated: Epoch) -> bool {
        self.severities.contains(&severity) && (self.since..=self.until).contains(&updated)
    }
}
