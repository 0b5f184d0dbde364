//! [`Hooked`] forwards every port method to the port inside, after its hooks (see [`Interleave`]).
//! Each operation's name is the method's.

use serde_json::Value;

use super::{Hooked, Interleave};
use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, Finding, ImageRef, Severity};
use crate::error::AwsError;
use crate::outbound::notice::Message;
use crate::ports::{
    BasicScan, FindingsSource, ImageAnnotations, ImageDetail, ImageRecords, ImageRegistry,
    Manifest, Notifier, OnceMarks, PutTag, RejectSink, Removal, ScanCoverage, StartScan,
    SweepSchedule, TagChangeBreaker, TicketLedger,
};
use crate::state::{BreakerCount, Claim, ImageState, Mark, Override, TicketChange, Written};

impl Interleave {
    /// Runs the hooks of `op`, then `call`.
    async fn around<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<T, AwsError> {
        self.enter(op).await?;
        call.await
    }
}

impl<P: ImageRecords + Sync> ImageRecords for Hooked<P> {
    async fn load(&self, image: &ImageRef) -> Result<ImageState, AwsError> {
        self.hooks.around("load", self.inner.load(image)).await
    }
    async fn record_push(&self, image: &ImageRef, now: Epoch) -> Result<ImageState, AwsError> {
        let call = self.inner.record_push(image, now);
        self.hooks.around("record_push", call).await
    }
    async fn claim(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        claim: &Claim,
        summary: &Summary,
        policy_hash: &str,
    ) -> Result<Written, AwsError> {
        let call = self
            .inner
            .claim(image, expected, claim, summary, policy_hash);
        self.hooks.around("claim", call).await
    }
    async fn finish(
        &self,
        image: &ImageRef,
        claim: &Claim,
        applied: bool,
    ) -> Result<Written, AwsError> {
        let call = self.inner.finish(image, claim, applied);
        self.hooks.around("finish", call).await
    }
    async fn set_quietly(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        decision: Decision,
        now: Epoch,
    ) -> Result<Written, AwsError> {
        let call = self.inner.set_quietly(image, expected, decision, now);
        self.hooks.around("set_quietly", call).await
    }
    async fn reset_image(&self, image: &ImageRef) -> Result<(), AwsError> {
        let call = self.inner.reset_image(image);
        self.hooks.around("reset_image", call).await
    }
}

impl<P: ImageAnnotations + Sync> ImageAnnotations for Hooked<P> {
    async fn link_index(
        &self,
        repository: &str,
        index: &str,
        children: &[(String, String)],
    ) -> Result<(), AwsError> {
        let call = self.inner.link_index(repository, index, children);
        self.hooks.around("link_index", call).await
    }
    async fn set_override(&self, image: &ImageRef, value: &Override) -> Result<(), AwsError> {
        let call = self.inner.set_override(image, value);
        self.hooks.around("set_override", call).await
    }
}

impl<P: TicketLedger + Sync> TicketLedger for Hooked<P> {
    async fn set_image_tickets(&self, image: &ImageRef, ids: &[String]) -> Result<(), AwsError> {
        let call = self.inner.set_image_tickets(image, ids);
        self.hooks.around("set_image_tickets", call).await
    }
    async fn ticket_add(
        &self,
        repository: &str,
        vulnerability: &str,
        digest: &str,
        severity: Severity,
        now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let call = self
            .inner
            .ticket_add(repository, vulnerability, digest, severity, now);
        self.hooks.around("ticket_add", call).await
    }
    async fn ticket_remove(
        &self,
        repository: &str,
        vulnerability: &str,
        digest: &str,
        now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let call = self
            .inner
            .ticket_remove(repository, vulnerability, digest, now);
        self.hooks.around("ticket_remove", call).await
    }
}

impl<P: SweepSchedule + Sync> SweepSchedule for Hooked<P> {
    async fn set_due(&self, image: &ImageRef, at: Option<Epoch>) -> Result<(), AwsError> {
        self.hooks
            .around("set_due", self.inner.set_due(image, at))
            .await
    }
    async fn due(&self, until: Epoch) -> Result<Vec<ImageRef>, AwsError> {
        self.hooks.around("due", self.inner.due(until)).await
    }
    async fn last_sweep(&self) -> Result<Option<Epoch>, AwsError> {
        self.hooks
            .around("last_sweep", self.inner.last_sweep())
            .await
    }
    async fn record_sweep(&self, at: Epoch) -> Result<(), AwsError> {
        self.hooks
            .around("record_sweep", self.inner.record_sweep(at))
            .await
    }
}

impl<P: TagChangeBreaker + Sync> TagChangeBreaker for Hooked<P> {
    async fn count_tag_changes(
        &self,
        changes: u64,
        now: Epoch,
        window: i64,
    ) -> Result<BreakerCount, AwsError> {
        let call = self.inner.count_tag_changes(changes, now, window);
        self.hooks.around("count_tag_changes", call).await
    }
    async fn trip_breaker(&self, now: Epoch, reason: &str) -> Result<Written, AwsError> {
        let call = self.inner.trip_breaker(now, reason);
        self.hooks.around("trip_breaker", call).await
    }
    async fn reset_breaker(&self) -> Result<Option<Epoch>, AwsError> {
        let call = self.inner.reset_breaker();
        self.hooks.around("reset_breaker", call).await
    }
}

impl<P: OnceMarks + Sync> OnceMarks for Hooked<P> {
    async fn mark_once(
        &self,
        key: &str,
        event_id: &str,
        now: Epoch,
        ttl_seconds: i64,
    ) -> Result<Mark, AwsError> {
        let call = self.inner.mark_once(key, event_id, now, ttl_seconds);
        self.hooks.around("mark_once", call).await
    }
}

impl<P: ImageRegistry + Sync> ImageRegistry for Hooked<P> {
    async fn describe_image(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<ImageDetail>, AwsError> {
        let call = self.inner.describe_image(repository, digest);
        self.hooks.around("describe_image", call).await
    }
    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>, AwsError> {
        let call = self.inner.resolve_tag(repository, tag);
        self.hooks.around("resolve_tag", call).await
    }
    async fn manifest(&self, repository: &str, digest: &str) -> Result<Option<Manifest>, AwsError> {
        let call = self.inner.manifest(repository, digest);
        self.hooks.around("manifest", call).await
    }
    async fn put_tag(
        &self,
        repository: &str,
        digest: &str,
        manifest: &Manifest,
        tag: &str,
    ) -> Result<PutTag, AwsError> {
        let call = self.inner.put_tag(repository, digest, manifest, tag);
        self.hooks.around("put_tag", call).await
    }
    async fn remove_tags(&self, repository: &str, tags: &[String]) -> Result<Removal, AwsError> {
        let call = self.inner.remove_tags(repository, tags);
        self.hooks.around("remove_tags", call).await
    }
    async fn scan_coverage(&self, repository: &str) -> Result<ScanCoverage, AwsError> {
        let call = self.inner.scan_coverage(repository);
        self.hooks.around("scan_coverage", call).await
    }
    async fn start_scan(&self, repository: &str, digest: &str) -> Result<StartScan, AwsError> {
        let call = self.inner.start_scan(repository, digest);
        self.hooks.around("start_scan", call).await
    }
    async fn repository_notes(&self, repository: &str) -> Result<Vec<String>, AwsError> {
        let call = self.inner.repository_notes(repository);
        self.hooks.around("repository_notes", call).await
    }
    async fn recent_indexes(
        &self,
        repository: &str,
        since: Epoch,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let call = self.inner.recent_indexes(repository, since);
        self.hooks.around("recent_indexes", call).await
    }
    async fn repositories(&self) -> Result<Vec<String>, AwsError> {
        let call = self.inner.repositories();
        self.hooks.around("repositories", call).await
    }
    async fn images(&self, repository: &str) -> Result<Vec<ImageDetail>, AwsError> {
        let call = self.inner.images(repository);
        self.hooks.around("images", call).await
    }
    async fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<BasicScan>, AwsError> {
        let call = self.inner.basic_findings(repository, digest);
        self.hooks.around("basic_findings", call).await
    }
}

impl<P: Notifier + Sync> Notifier for Hooked<P> {
    async fn publish(&self, message: &Message) -> Result<(), AwsError> {
        self.hooks
            .around("publish", self.inner.publish(message))
            .await
    }
}

impl<P: RejectSink + Sync> RejectSink for Hooked<P> {
    async fn reject(&self, reason: &str, event: &Value) -> Result<(), AwsError> {
        self.hooks
            .around("reject", self.inner.reject(reason, event))
            .await
    }
}

impl<P: FindingsSource + Sync> FindingsSource for Hooked<P> {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        let call = self.inner.image_findings(image);
        self.hooks.around("image_findings", call).await
    }
    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        let call = self.inner.images_with(vulnerability);
        self.hooks.around("images_with", call).await
    }
    async fn images_updated(
        &self,
        since: Epoch,
        until: Epoch,
        severities: &[Severity],
    ) -> Result<Vec<ImageRef>, AwsError> {
        let call = self.inner.images_updated(since, until, severities);
        self.hooks.around("images_updated", call).await
    }
}
