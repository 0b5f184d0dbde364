//! One small trait per outside capability. The service is generic over them; AWS adapters implement
//! them in `adapters`, tests may wrap those. No SDK type crosses a port.

use std::future::Future;

use serde_json::Value;

use crate::domain::{Decision, Finding, ImageRef, ScanState, Severity};
use crate::error::AwsError;
use crate::message::Message;
use crate::time::Epoch;
use crate::verdict::Summary;

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
    /// DescribeImageScanFindings, all pages.
    fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<BasicScan>, AwsError>> + Send;
}

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

/// Amazon SNS: one message to the JSON topic.
pub trait Notifier {
    /// Publishes the message with its subject and attributes.
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// An unfinished change of an image's decision: acted on and notified only by the delivery that
/// claimed it (or, after the lease, by whoever comes next).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The event id of the delivery that claimed it (Lambda's retries keep it).
    pub event_id: String,
    /// When it was claimed.
    pub at: Epoch,
    /// The decision being applied.
    pub decision: Decision,
    /// The decision notified before it.
    pub previous: Option<Decision>,
    /// The item's version after the claim: numbers the change (dedup key).
    pub sequence: u64,
    /// Whether the block being applied is suspended by an operator's override (tags released).
    pub overridden: bool,
    /// The Lambda request id of the delivery that claimed it (empty when unknown): its retries may
    /// continue the change, a concurrent duplicate delivery of the same event leaves it alone.
    pub delivery: String,
}

impl Claim {
    /// Whether `event_id`, delivered as `delivery`, is the claimant (or one of its retries).
    pub fn is_by(&self, event_id: &str, delivery: &str) -> bool {
        self.event_id == event_id
            && (self.delivery.is_empty() || delivery.is_empty() || self.delivery == delivery)
    }
}

/// An operator's time-boxed override of a blocking verdict (`gatekeeper release --force`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// Until when the image's tags stay released whatever the verdict.
    pub until: Epoch,
    /// Who asked (the caller's ARN).
    pub by: String,
    /// Why.
    pub reason: String,
}

/// The circuit breaker's state after counting tag changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerCount {
    /// Tag changes counted in the current and the previous window.
    pub count: u64,
    /// When it tripped, if it is open.
    pub tripped_at: Option<Epoch>,
}

/// The state table's record of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageState {
    /// The last decision (claimed or finished); `None` before the first verdict.
    pub decision: Option<Decision>,
    /// Incremented by every write: the condition of the next one.
    pub version: u64,
    /// An unfinished change, if any.
    pub claim: Option<Claim>,
    /// Whether the item exists at all.
    pub exists: bool,
    /// What the last claimed verdict said (counts and reasons).
    pub summary: Option<Summary>,
    /// Whether the last applied block is suspended by an override (its tags were released).
    pub overridden: bool,
    /// When the gatekeeper first decided on the image (about its first completed scan).
    pub first_scan_at: Option<Epoch>,
    /// An operator's override, if one was ever set (check `until`).
    pub override_: Option<Override>,
    /// For a platform image: the image indexes that refer to it (recorded when they are pushed).
    pub parents: Vec<String>,
    /// For an image index: its platform images, `(digest, platform)` (attestations left out).
    pub children: Vec<(String, String)>,
    /// The vulnerabilities this image has open tickets for.
    pub tickets: Vec<String>,
    /// When the sweep looks at it again, if ever.
    pub due_at: Option<Epoch>,
}

impl ImageState {
    /// The override in force at `now`, if any.
    pub fn override_at(&self, now: Epoch) -> Option<&Override> {
        self.override_.as_ref().filter(|o| o.until > now)
    }

    /// The decision that was last notified: the claim's `previous` while a change is unfinished.
    pub fn notified(&self) -> Option<Decision> {
        match &self.claim {
            Some(c) => c.previous,
            None => self.decision,
        }
    }
}

/// The outcome of a conditional write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The write happened.
    Done,
    /// Someone else wrote first: reload and decide again.
    Conflict,
}

/// The gatekeeper's memory (DynamoDB): per image, the last decision and the unfinished change.
pub trait StateStore {
    /// Reads an image's record (strongly consistent); a default record when there is none.
    fn load(&self, image: &ImageRef) -> impl Future<Output = Result<ImageState, AwsError>> + Send;
    /// Records a push: creates the record as `pending` if new, bumps its version (so that a verdict being
    /// claimed concurrently re-reads the image's tags), and returns the record after the write.
    fn record_push(
        &self,
        image: &ImageRef,
        now: Epoch,
    ) -> impl Future<Output = Result<ImageState, AwsError>> + Send;
    /// Writes `claim`, with the verdict's summary, if the record's version is still `expected` (or
    /// absent, when `expected` is `None`).
    fn claim(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        claim: &Claim,
        summary: &Summary,
        policy_hash: &str,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Marks the claimed change as done (acted on and notified), if the claim is still this one. When
    /// it was not `applied` (the circuit breaker held it back), the previous decision is restored so
    /// that the next evaluation applies the change.
    fn finish(
        &self,
        image: &ImageRef,
        claim: &Claim,
        applied: bool,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Sets the decision without a notification (an image still waiting for a scan), if the record is
    /// still at version `expected` (or absent, when `None`).
    fn set_quietly(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        decision: Decision,
        now: Epoch,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Records that an image index refers to these platform images: the index keeps the list, each
    /// platform image's record gains the index as a parent.
    fn link_index(
        &self,
        repository: &str,
        index: &str,
        children: &[(String, String)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Forgets an image's verdict so that its next scan is judged as a new image's (a restore from archive).
    fn reset_image(&self, image: &ImageRef) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// When the sweep should look at an image again (a grace deadline, an exception's expiry, an
    /// incomplete findings list), or never (`None`).
    fn set_due(
        &self,
        image: &ImageRef,
        at: Option<Epoch>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The images due at or before `until` (a query of the sparse `due` index: as many items as are due).
    fn due(&self, until: Epoch) -> impl Future<Output = Result<Vec<ImageRef>, AwsError>> + Send;
    /// When the sweep last completed.
    fn last_sweep(&self) -> impl Future<Output = Result<Option<Epoch>, AwsError>> + Send;
    /// Records a completed sweep.
    fn record_sweep(&self, at: Epoch) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Records which vulnerabilities the image has open tickets for.
    fn set_image_tickets(
        &self,
        image: &ImageRef,
        ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Adds an image to the ticket of (repository, vulnerability), opening it if it is new or was
    /// resolved; says whether this call opened it, and whether the severity changed.
    fn ticket_add(
        &self,
        repository: &str,
        vulnerability: &str,
        digest: &str,
        severity: Severity,
        now: Epoch,
    ) -> impl Future<Output = Result<TicketChange, AwsError>> + Send;
    /// Removes an image from a ticket; resolves it when no image is left. Says whether this call resolved it.
    fn ticket_remove(
        &self,
        repository: &str,
        vulnerability: &str,
        digest: &str,
        now: Epoch,
    ) -> impl Future<Output = Result<TicketChange, AwsError>> + Send;
    /// Records an operator's override on the image (a new version, so a concurrent claim re-reads).
    fn set_override(
        &self,
        image: &ImageRef,
        value: &Override,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Counts `changes` tag changes at `now` in windows of `window` seconds (the circuit breaker).
    fn count_tag_changes(
        &self,
        changes: u64,
        now: Epoch,
        window: i64,
    ) -> impl Future<Output = Result<BreakerCount, AwsError>> + Send;
    /// Opens the circuit breaker; `Done` for the caller that opened it, `Conflict` if it was open.
    fn trip_breaker(
        &self,
        now: Epoch,
        reason: &str,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Closes the circuit breaker and clears its counts (an operator's reset); returns when it had
    /// tripped, if it had.
    fn reset_breaker(&self) -> impl Future<Output = Result<Option<Epoch>, AwsError>> + Send;
    /// Records a one-off notice under `key` (an alert, a reminder): the first event wins, retries of
    /// that same event see [`Mark::Repeat`] (so a crash before publishing is repaired), others [`Mark::Taken`].
    fn mark_once(
        &self,
        key: &str,
        event_id: &str,
        now: Epoch,
        ttl_seconds: i64,
    ) -> impl Future<Output = Result<Mark, AwsError>> + Send;
}

/// What a ticket update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketChange {
    /// This call opened the ticket (it was new, or resolved before; or this image alone opened it and
    /// the message may not have gone out: a retry sends it again under the same key).
    pub opened: bool,
    /// The vulnerability's severity changed.
    pub severity_changed: bool,
    /// This call resolved the ticket (no image left; repeated for a retry of the resolving removal).
    pub resolved: bool,
    /// The images that have it now.
    pub images: Vec<String>,
    /// The severity the ticket was opened or last updated with.
    pub severity: Option<Severity>,
}

/// The outcome of [`StateStore::mark_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// This event is the first: send the notice.
    First,
    /// This event marked it before (a retry): send it again.
    Repeat,
    /// Another event marked it: do not send.
    Taken,
}

/// The rejected-events queue (SQS): unusable events, kept for people.
pub trait RejectSink {
    /// Sends the event and the reason it was rejected.
    fn reject(
        &self,
        reason: &str,
        event: &Value,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
