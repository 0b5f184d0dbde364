//! [`Hooked`] forwards every port method to the port inside, after its hooks (see [`Interleave`]).
//! Each operation's name is the method's.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::{Hooked, Interleave};
use crate::domain::history::Change;
use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, Finding, ImageRef, Kev, Place, Severity};
use crate::error::AwsError;
use crate::outbound::notice::Message;
use crate::ports::{
    BasicScan, FindingsSource, ImageAnnotations, ImageDetail, ImageRecords, ImageRegistry,
    KevCache, Manifest, Notifier, OnceMarks, PutTag, Reach, RejectSink, Removal, ScanCoverage,
    StartScan, Storage, SweepSchedule, TagChangeBreaker, TicketLedger, VerdictHistory, Window,
};
use crate::state::{
    ArchiveWrite, BreakerCount, Claim, ImageState, Mark, Override, SeenFindings, TicketChange,
    Written,
};

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

impl<P: Reach + Sync> Reach for Hooked<P> {
    /// The inner port's registry of `place`, behind the same hooks (after the hooks of `at`).
    async fn at(&self, place: &Place) -> Result<Hooked<P>, AwsError> {
        let inner = self.hooks.around("at", self.inner.at(place)).await?;
        Ok(Hooked {
            inner,
            hooks: Arc::clone(&self.hooks),
        })
    }

    async fn ou_path(&self, place: &Place) -> Result<Option<String>, AwsError> {
        (self.hooks)
            .around("ou_path", self.inner.ou_path(place))
            .await
    }
}

/// Implements each listed port trait for [`Hooked`]: every method runs the hooks named after it, then
/// the inner port's method with the same arguments.
macro_rules! forward {
    ($($port:ident { $(fn $op:ident($($arg:ident: $ty:ty),*) -> $out:ty;)* })*) => {$(
        impl<P: $port + Sync> $port for Hooked<P> {
            $(async fn $op(&self, $($arg: $ty),*) -> Result<$out, AwsError> {
                self.hooks.around(stringify!($op), self.inner.$op($($arg),*)).await
            })*
        }
    )*};
}

forward! {
    ImageRecords {
        fn load(image: &ImageRef) -> ImageState;
        fn record_push(image: &ImageRef, now: Epoch) -> ImageState;
        fn claim(image: &ImageRef, expected: Option<u64>, claim: &Claim, summary: &Summary, policy_hash: &str) -> Written;
        fn finish(image: &ImageRef, claim: &Claim, applied: bool) -> Written;
        fn set_quietly(image: &ImageRef, expected: Option<u64>, decision: Decision, now: Epoch) -> Written;
        fn lease_evaluation(image: &ImageRef, by: &str, now: Epoch, until: Epoch) -> Option<ImageState>;
        fn release_evaluation(image: &ImageRef, by: &str) -> ();
        fn record_seen(image: &ImageRef, seen: &SeenFindings) -> Written;
        fn set_archive(image: &ImageRef, expected: u64, write: ArchiveWrite<'_>, due: Option<Epoch>) -> Written;
        fn reset_image(image: &ImageRef) -> ();
    }
    ImageAnnotations {
        fn link_index(index: &ImageRef, children: &[(String, String)]) -> ();
        fn set_override(image: &ImageRef, value: &Override) -> ();
    }
    TicketLedger {
        fn set_image_tickets(image: &ImageRef, ids: &[String]) -> ();
        fn ticket_add(image: &ImageRef, vulnerability: &str, severity: Severity, now: Epoch) -> TicketChange;
        fn ticket_remove(image: &ImageRef, vulnerability: &str, now: Epoch) -> TicketChange;
    }
    SweepSchedule {
        fn set_due(image: &ImageRef, at: Option<Epoch>, expected: Option<u64>) -> ();
        fn due(until: Epoch) -> Vec<(ImageRef, Epoch)>;
        fn last_sweep() -> Option<Epoch>;
        fn record_sweep(at: Epoch) -> ();
    }
    TagChangeBreaker {
        fn count_tag_changes(changes: u64, now: Epoch, window: i64) -> BreakerCount;
        fn trip_breaker(now: Epoch, reason: &str) -> Written;
        fn reset_breaker() -> Option<Epoch>;
    }
    OnceMarks {
        fn mark_once(key: &str, event_id: &str, now: Epoch, ttl_seconds: i64) -> Mark;
    }
    KevCache {
        fn kev_remembered(ids: &[String], now: Epoch) -> HashMap<String, Option<Kev>>;
        fn remember_kev(answers: &[(String, Option<Kev>)], until: Epoch) -> ();
    }
    VerdictHistory {
        fn record_change(change: &Change) -> ();
        fn mark_deleted(image: &ImageRef, at: Epoch) -> ();
        fn changes(since: Epoch, until: Epoch) -> Vec<Change>;
        fn images_now() -> Vec<(ImageRef, ImageState)>;
    }
    ImageRegistry {
        fn describe_image(repository: &str, digest: &str) -> Option<ImageDetail>;
        fn resolve_tag(repository: &str, tag: &str) -> Option<String>;
        fn manifest(repository: &str, digest: &str) -> Option<Manifest>;
        fn put_tag(repository: &str, digest: &str, manifest: &Manifest, tag: &str) -> PutTag;
        fn remove_tags(repository: &str, tags: &[String]) -> Removal;
        fn scan_coverage(repository: &str) -> ScanCoverage;
        fn start_scan(repository: &str, digest: &str) -> StartScan;
        fn repository_notes(repository: &str) -> Vec<String>;
        fn recent_indexes(repository: &str, since: Epoch) -> Vec<(String, String)>;
        fn repositories() -> Vec<String>;
        fn images(repository: &str) -> Vec<ImageDetail>;
        fn basic_findings(repository: &str, digest: &str) -> Option<BasicScan>;
        fn set_archived(repository: &str, digest: &str, archive: bool) -> Option<Storage>;
        fn archive_expiry(repository: &str) -> Vec<String>;
    }
    Notifier {
        fn publish(message: &Message) -> ();
    }
    RejectSink {
        fn reject(reason: &str, event: &Value) -> ();
    }
    FindingsSource {
        fn image_findings(image: &ImageRef) -> Vec<Finding>;
        fn images_with(vulnerability: &str) -> Vec<ImageRef>;
        fn images_updated(window: &Window) -> Vec<ImageRef>;
        fn members() -> Vec<String>;
        fn kev_of(arns: &[String]) -> Vec<(String, Option<Kev>)>;
    }
}
