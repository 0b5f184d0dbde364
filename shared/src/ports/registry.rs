//! The image registry port (Amazon ECR): what it says about images and the tag changes it makes.

use std::future::Future;

use crate::domain::time::Epoch;
use crate::domain::{Finding, Place, ScanState};
use crate::error::AwsError;

/// What ECR says about one image right now.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDetail {
    /// Its digest.
    pub digest: String,
    /// Every tag that points to it now.
    pub tags: Vec<String>,
    /// `imageScanStatus`, mapped.
    pub scan: ScanState,
    /// `imageManifestMediaType`.
    pub manifest_media_type: Option<String>,
    /// `artifactMediaType`.
    pub artifact_media_type: Option<String>,
    /// `imagePushedAt`.
    pub pushed_at: Option<Epoch>,
    /// `lastRecordedPullTime`.
    pub pulled_at: Option<Epoch>,
    /// `imageStatus`: active, archived or being restored.
    pub storage: Storage,
}

/// Which storage class an image is in (DescribeImages' `imageStatus`; absent means active).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Storage {
    /// Standard storage: pullable.
    #[default]
    Active,
    /// Archived: every pull fails with 404, Inspector stops scanning it.
    Archived,
    /// Being restored to standard storage (up to about 20 minutes): not pullable yet.
    Activating,
    /// A status this version does not know: treated as not pullable, never as active.
    Unknown,
}

impl Storage {
    /// ECR's `imageStatus` (`ACTIVE`, `ARCHIVED`, `ACTIVATING`; any other is unknown, never active).
    pub fn parse(status: &str) -> Storage {
        match status {
            "ACTIVE" => Storage::Active,
            "ARCHIVED" => Storage::Archived,
            "ACTIVATING" => Storage::Activating,
            _ => Storage::Unknown,
        }
    }

    /// `active`, `archived` or `activating`.
    pub fn as_str(self) -> &'static str {
        match self {
            Storage::Active => "active",
            Storage::Archived => "archived",
            Storage::Activating => "activating",
            Storage::Unknown => "in an unknown storage state",
        }
    }
}

/// An image manifest exactly as ECR stores it (PutImage needs the same bytes to add a tag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The manifest text.
    pub body: String,
    /// Its media type, when ECR reports one.
    pub media_type: Option<String>,
}

/// The outcome of adding a tag with PutImage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutTag {
    /// The tag now points to the digest (PutImage's answer names it).
    Created,
    /// The tag already exists (`ImageAlreadyExistsException`, or `ImageTagAlreadyExistsException` on an
    /// immutable repository): where it points must be checked before relying on it.
    AlreadyExists,
}

/// A tag that BatchDeleteImage removed, and the digest it pointed to at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedTag {
    /// The tag.
    pub tag: String,
    /// The digest it was removed from (ECR's answer).
    pub digest: String,
}

/// What BatchDeleteImage did with a list of tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Tags removed.
    pub removed: Vec<RemovedTag>,
    /// Tags that were not there (already removed): not an error for an idempotent step.
    pub absent: Vec<String>,
    /// Tags ECR refused, with its reason.
    pub failed: Vec<(String, String)>,
}

/// How a repository is scanned, as ECR applies its registry configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCoverage {
    /// The registry scan type is ENHANCED (Inspector).
    pub enhanced: bool,
    /// The repository's effective frequency: SCAN_ON_PUSH, CONTINUOUS_SCAN or MANUAL.
    pub frequency: String,
    /// Basic scan-on-push is on for the repository.
    pub scan_on_push: bool,
}

impl ScanCoverage {
    /// Whether pushes to the repository are scanned without the gatekeeper asking.
    pub fn covered(&self) -> bool {
        self.scan_on_push || matches!(self.frequency.as_str(), "SCAN_ON_PUSH" | "CONTINUOUS_SCAN")
    }
}

/// The outcome of StartImageScan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartScan {
    /// A basic scan was started.
    Started,
    /// The image was already scanned today (`LimitExceededException`): not an error.
    AlreadyScannedToday,
    /// ECR refused the image (`UnsupportedImageTypeException`), with its message.
    Unsupported(String),
}

/// A basic scan's status and findings (DescribeImageScanFindings, all pages).
#[derive(Debug, Clone, PartialEq)]
pub struct BasicScan {
    /// `imageScanStatus`.
    pub state: ScanState,
    /// The findings.
    pub findings: Vec<Finding>,
}

/// Amazon ECR: reading images and tags, adding and removing tags, scanning.
pub trait ImageRegistry {
    /// DescribeImages for one digest; `None` when the image does not exist (any more).
    fn describe_image(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<ImageDetail>, AwsError>> + Send;
    /// Where a tag points now (DescribeImages by tag), `None` when it does not exist.
    fn resolve_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// BatchGetImage for one digest: the manifest to re-push with a new tag.
    fn manifest(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<Manifest>, AwsError>> + Send;
    /// PutImage of the same manifest with one more tag.
    fn put_tag(
        &self,
        repository: &str,
        digest: &str,
        manifest: &Manifest,
        tag: &str,
    ) -> impl Future<Output = Result<PutTag, AwsError>> + Send;
    /// BatchDeleteImage by tags only (never a digest: that would delete the image).
    fn remove_tags(
        &self,
        repository: &str,
        tags: &[String],
    ) -> impl Future<Output = Result<Removal, AwsError>> + Send;
    /// The effective scanning configuration of a repository.
    fn scan_coverage(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<ScanCoverage, AwsError>> + Send;
    /// StartImageScan (basic).
    fn start_scan(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<StartScan, AwsError>> + Send;
    /// Warnings about where tag changes do not reach: replication destinations of the repository, and
    /// pull-through cache upstreams (a removed tag is fetched again from upstream).
    fn repository_notes(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// The image indexes of a repository pushed since `since`, with their manifests: the bounded
    /// search for the parents of a platform image whose index push was not seen (one DescribeImages
    /// page of 100, one BatchGetImage).
    fn recent_indexes(
        &self,
        repository: &str,
        since: Epoch,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;
    /// DescribeRepositories, all pages: every repository's name.
    fn repositories(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// DescribeImages, all pages (1,000 per call): every image of a repository.
    fn images(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<ImageDetail>, AwsError>> + Send;
    /// UpdateImageStorageClass: to ARCHIVE (`archive`) or back to STANDARD; the image's status after
    /// the call, `None` when the image does not exist.
    fn set_archived(
        &self,
        repository: &str,
        digest: &str,
        archive: bool,
    ) -> impl Future<Output = Result<Option<Storage>, AwsError>> + Send;
    /// The repository's lifecycle rules that expire archived images (GetLifecyclePolicy), one line
    /// each; none when it has no policy.
    fn archive_expiry(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;
    /// DescribeImageScanFindings, all pages.
    fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<BasicScan>, AwsError>> + Send;
}

/// A registry that can also act in the member accounts of an Organization (same API, another account
/// and region, through the role the deployment assumes there).
pub trait Reach: Sized {
    /// The registry of `place`; an error when this deployment cannot reach it (no member role
    /// configured, the role missing or denied).
    fn at(&self, place: &Place) -> impl Future<Output = Result<Self, AwsError>> + Send;
    /// The OU path its member stack wrote for `place`'s account (`None`: it wrote none), read through
    /// the member role; an error as [`Reach::at`].
    fn ou_path(
        &self,
        place: &Place,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
}
