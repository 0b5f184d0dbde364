//! The state store port (DynamoDB): per image, the last decision and the unfinished change; tickets,
//! the sweep's schedule and the circuit breaker.

use std::future::Future;

use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, ImageRef, Severity};
use crate::error::AwsError;
use crate::state::{BreakerCount, Claim, ImageState, Mark, Override, TicketChange, Written};

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
