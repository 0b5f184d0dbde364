//! The state store ports (DynamoDB), one small trait per capability: per image, the last decision and
//! the unfinished change; index links and overrides; tickets; the sweep's schedule; the circuit
//! breaker; one-off marks; what KEV says of each vulnerability; the verdict history. [`StateStore`]
//! names all of them together.

use std::collections::HashMap;
use std::future::Future;

use crate::domain::history::Change;
use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, ImageRef, Kev, Severity};
use crate::error::AwsError;
use crate::state::{
    ArchiveWrite, BreakerCount, Claim, ImageState, Mark, Override, SeenFindings, TicketChange,
    Written,
};

/// An image's record and the claim protocol on it: read it, record a push, claim, finish or quietly
/// set a decision (every write conditional on or bumping the version), forget a verdict.
pub trait ImageRecords {
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
    /// Takes the image's evaluation lease for `by` until `until`, unless another holder's lease is
    /// still live at `now`: the record after the write when this holder has it (taken, or taken over
    /// after a crash), `None` when another delivery is evaluating the image. The lease does not move
    /// the version.
    fn lease_evaluation(
        &self,
        image: &ImageRef,
        by: &str,
        now: Epoch,
        until: Epoch,
    ) -> impl Future<Output = Result<Option<ImageState>, AwsError>> + Send;
    /// Ends `by`'s evaluation lease without recording anything (its records were covered after all).
    fn release_evaluation(
        &self,
        image: &ImageRef,
        by: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Records what an evaluation saw, if the record is still at `seen.version` (the version the
    /// evaluation left it at; any other write since makes the summary stale, so it is not written),
    /// and ends any evaluation lease: what it saw is there for the next batch to read.
    fn record_seen(
        &self,
        image: &ImageRef,
        seen: &SeenFindings,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Writes the image's archive record and when the sweep looks at it again (`due`), if the record
    /// is still at version `expected`; moves the version on, like a claim, so that every other
    /// writer that read the record before reads it again.
    fn set_archive(
        &self,
        image: &ImageRef,
        expected: u64,
        write: ArchiveWrite<'_>,
        due: Option<Epoch>,
    ) -> impl Future<Output = Result<Written, AwsError>> + Send;
    /// Forgets an image's verdict so that its next scan is judged as a new image's (a restore from archive).
    fn reset_image(&self, image: &ImageRef) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What others attach to an image's record: the indexes that refer to it and an operator's override
/// (each a new version, so that a concurrent claim re-reads).
pub trait ImageAnnotations {
    /// Records that an image index refers to these platform images: the index keeps the list, each
    /// platform image's record gains the index as a parent.
    fn link_index(
        &self,
        index: &ImageRef,
        children: &[(String, String)],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Records an operator's override on the image (a new version, so a concurrent claim re-reads).
    fn set_override(
        &self,
        image: &ImageRef,
        value: &Override,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Tickets per (repository, vulnerability), and which of them each image is in.
pub trait TicketLedger {
    /// Records which vulnerabilities the image has open tickets for.
    fn set_image_tickets(
        &self,
        image: &ImageRef,
        ids: &[String],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Adds an image to the ticket of (its repository, vulnerability), opening it if it is new or
    /// was resolved; says whether this call opened it, and whether the severity changed.
    fn ticket_add(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        severity: Severity,
        now: Epoch,
    ) -> impl Future<Output = Result<TicketChange, AwsError>> + Send;
    /// Removes an image from the ticket of (its repository, vulnerability); resolves it when no image
    /// is left. Says whether this call resolved it.
    fn ticket_remove(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        now: Epoch,
    ) -> impl Future<Output = Result<TicketChange, AwsError>> + Send;
}

/// The sweep's schedule: when each image is due again, and when the sweep last completed.
pub trait SweepSchedule {
    /// When the sweep should look at an image again (a grace deadline, an exception's expiry, an
    /// incomplete findings list), or never (`None`); only while the record is at version `expected`
    /// when one is given (a writer that came first set its own time: nothing is written).
    fn set_due(
        &self,
        image: &ImageRef,
        at: Option<Epoch>,
        expected: Option<u64>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The images due at or before `until`, with when (a query of the sparse `due` index: as many
    /// items as are due).
    fn due(
        &self,
        until: Epoch,
    ) -> impl Future<Output = Result<Vec<(ImageRef, Epoch)>, AwsError>> + Send;
    /// When the sweep last completed.
    fn last_sweep(&self) -> impl Future<Output = Result<Option<Epoch>, AwsError>> + Send;
    /// Records a completed sweep.
    fn record_sweep(&self, at: Epoch) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The circuit breaker on tag changes: counts per window, tripped and reset.
pub trait TagChangeBreaker {
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
}

/// One-off notices (alerts, reminders) marked once per key, with an expiry.
pub trait OnceMarks {
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

/// What CISA's KEV catalog says of each vulnerability, as looked up in Inspector's finding details,
/// remembered for a while so that every image with the vulnerability does not ask again.
pub trait KevCache {
    /// The remembered answers for these vulnerability ids, still valid at `now` (an id is absent when
    /// nothing valid is remembered; `None` when it is known not to be in KEV).
    fn kev_remembered(
        &self,
        ids: &[String],
        now: Epoch,
    ) -> impl Future<Output = Result<HashMap<String, Option<Kev>>, AwsError>> + Send;
    /// Remembers what KEV says of each vulnerability (`None`: not in it) until `until`; one that
    /// could not be written is simply not remembered (it is looked up again).
    fn remember_kev(
        &self,
        answers: &[(String, Option<Kev>)],
        until: Epoch,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// The verdict history, and the image records as the report reads them.
pub trait VerdictHistory {
    /// Records an applied change of an image's disposition, kept for the deployment's retention
    /// (the same image and change number write the same record: a retry records it once).
    fn record_change(&self, change: &Change) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// Marks an image's record deleted from ECR at `at` (it no longer counts among the images now),
    /// a new version; a push of the image again clears the mark. No record: nothing is written.
    fn mark_deleted(
        &self,
        image: &ImageRef,
        at: Epoch,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
    /// The changes recorded from `since` to `until`, in no particular order.
    fn changes(
        &self,
        since: Epoch,
        until: Epoch,
    ) -> impl Future<Output = Result<Vec<Change>, AwsError>> + Send;
    /// Every image with a decision that ECR still has (not marked deleted), except the platform
    /// images of a known index (the index stands for them).
    fn images_now(
        &self,
    ) -> impl Future<Output = Result<Vec<(ImageRef, ImageState)>, AwsError>> + Send;
}

/// The gatekeeper's memory (DynamoDB): every state capability at once, so that the service's bounds
/// read `S: StateStore`. Implemented for anything that has them all.
pub trait StateStore:
    ImageRecords
    + ImageAnnotations
    + TicketLedger
    + SweepSchedule
    + TagChangeBreaker
    + OnceMarks
    + KevCache
    + VerdictHistory
{
}

impl<T> StateStore for T where
    T: ImageRecords
        + ImageAnnotations
        + TicketLedger
        + SweepSchedule
        + TagChangeBreaker
        + OnceMarks
        + KevCache
        + VerdictHistory
{
}
