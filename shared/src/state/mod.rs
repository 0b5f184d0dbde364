//! The records the gatekeeper keeps per image in its state table (decision, claim, override, tickets,
//! breaker) and what a write to them reports. Pure data.

use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, Place, Severity};

mod seen;
pub use seen::SeenFindings;

/// What the keys of a member image's items begin with (`member#<account>#<region>#`); nothing for
/// the deployment's own images, whose keys stay those of v1 (which ignores the new items).
pub fn key_scope(place: Option<&Place>) -> String {
    place.map_or_else(String::new, |p| {
        format!("member#{}#{}#", p.account, p.region)
    })
}

/// Splits a key made with [`key_scope`] into its place and the rest.
pub fn split_scope(key: &str) -> (Option<Place>, &str) {
    let scoped = key.strip_prefix("member#").and_then(|rest| {
        let (account, rest) = rest.split_once('#')?;
        let (region, rest) = rest.split_once('#')?;
        let place = Place {
            account: account.to_string(),
            region: region.to_string(),
        };
        Some((Some(place), rest))
    });
    scoped.unwrap_or((None, key))
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
    /// Whether an operator's override suspended that decision (a released block).
    pub previous_overridden: bool,
    /// The item's version after the claim.
    pub sequence: u64,
    /// The number of the change it applies (its messages' dedup key): its own `sequence`, or that of
    /// the abandoned claim of the same change it took over (that claim's message may be out already).
    pub change: u64,
    /// Whether the block being applied is suspended by an operator's override (tags released).
    pub overridden: bool,
    /// The deliveries the claim covers: the SQS message ids of every record of the image in the batch
    /// that claimed it, or the Lambda request id of a direct delivery (none when unknown). A
    /// redelivery of any of them may continue the change, whichever record leads it now; a concurrent
    /// duplicate delivery of the same event leaves it alone.
    pub deliveries: Vec<String>,
}

impl Claim {
    /// Whether an evaluation of `event_id`, delivered as `deliveries`, is the claimant (or one of its
    /// redeliveries): it carries a delivery the claim covers, or it is the claim's event and one side
    /// does not know its deliveries.
    pub fn is_by(&self, event_id: &str, deliveries: &[String]) -> bool {
        deliveries.iter().any(|d| self.deliveries.contains(d))
            || (self.event_id == event_id && (self.deliveries.is_empty() || deliveries.is_empty()))
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
    /// What the last evaluation saw, if recorded (stale unless its version is the record's).
    pub seen: Option<SeenFindings>,
    /// Archiving under the rule's `on_block`: due, done, or being undone by a release.
    pub archive: Option<Archive>,
    /// When the gatekeeper last changed the image's tags (its BatchGetImage counts as a pull).
    pub acted_at: Option<Epoch>,
    /// When a push of the image was last recorded (a hold or re-tag may have read it then).
    pub pushed_seen_at: Option<Epoch>,
    /// When a release's restore of an image the gatekeeper archived completed (its tags back).
    pub unarchived_at: Option<Epoch>,
    /// When ECR's deletion of the image was seen (cleared by a push of it again).
    pub deleted_at: Option<Epoch>,
}

/// What a write of the archive record does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveWrite<'a> {
    /// Writes this record.
    Set(&'a Archive),
    /// Removes the record (a deadline dropped, an uninstall).
    Drop,
    /// Removes the record of an image whose release's restore completed at this time (its tags are
    /// back), remembering when.
    Unarchived(Epoch),
}

/// What the gatekeeper decided about archiving a blocked image: every image it archives has its
/// reason here, a deadline waits here for the sweep, and a release's restore is remembered until the
/// image is active again and its tags are back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// When it archives (or archived) the image.
    pub at: Epoch,
    /// Why, and why then.
    pub reason: String,
    /// When the gatekeeper archived it (`None` while the deadline runs).
    pub archived_at: Option<Epoch>,
    /// Who released it: a restore was asked for, and its tags come back once it is active.
    pub restore_by: Option<String>,
}

impl Archive {
    /// When the sweep must look at the image for this record: at the deadline while it runs, soon
    /// again while a restore is under way (a lost restore event), never once archived.
    pub fn due(&self, now: Epoch) -> Option<Epoch> {
        match (&self.restore_by, self.archived_at) {
            (Some(_), _) => Some(now + RESTORE_CHECK),
            (None, None) => Some(self.at),
            (None, Some(_)) => None,
        }
    }
}

impl Archive {
    /// The deadline still running, if any (not archived yet, no restore under way).
    pub fn deadline(&self) -> Option<Epoch> {
        (self.archived_at.is_none() && self.restore_by.is_none()).then_some(self.at)
    }
}

/// How soon the sweep looks again at an image being restored (ECR restores within about 20 minutes).
pub const RESTORE_CHECK: Epoch = 1800;

impl ImageState {
    /// The override in force at `now`, if any.
    pub fn override_at(&self, now: Epoch) -> Option<&Override> {
        self.override_.as_ref().filter(|o| o.until > now)
    }

    /// The times the gatekeeper itself may have pulled the image (a pull ECR records then is its own):
    /// its last tag change, an unfinished change's claim, and the last push when pushes are held
    /// (`holds`: a hold re-tags right after the push).
    pub fn own_pulls(&self, holds: bool) -> Vec<Epoch> {
        (self.acted_at.into_iter())
            .chain(self.claim.as_ref().map(|c| c.at))
            .chain(self.pushed_seen_at.filter(|_| holds))
            .collect()
    }

    /// What the last evaluation saw, when nothing was written to the record since.
    pub fn seen_now(&self) -> Option<&SeenFindings> {
        self.seen.as_ref().filter(|s| s.version == self.version)
    }

    /// The decision that was last notified: the claim's `previous` while a change is unfinished.
    pub fn notified(&self) -> Option<Decision> {
        match &self.claim {
            Some(c) => c.previous,
            None => self.decision,
        }
    }

    /// Whether an override suspended the decision last notified (see [`ImageState::notified`]).
    pub fn notified_overridden(&self) -> bool {
        match &self.claim {
            Some(c) => c.previous_overridden,
            None => self.overridden,
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

/// A ticket's item as it was before an image was added to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketBefore {
    /// The images it listed.
    pub images: Vec<String>,
    /// Whether it was open.
    pub open: bool,
    /// The severity it was opened or last updated with.
    pub severity: Option<Severity>,
}

impl TicketChange {
    /// What adding the image `digest` with `severity` to a ticket that was `before` did (the one rule
    /// every [`crate::ports::TicketLedger`] answers `ticket_add` with).
    pub fn added(before: TicketBefore, digest: &str, severity: Severity) -> TicketChange {
        let mut images = before.images;
        if !images.iter().any(|i| i == digest) {
            images.push(digest.to_string());
            images.sort();
        }
        let alone = images.iter().all(|i| i == digest);
        TicketChange {
            opened: !before.open || alone,
            severity_changed: before.open && before.severity != Some(severity),
            resolved: false,
            images,
            severity: Some(severity),
        }
    }
}

/// The outcome of [`crate::ports::OnceMarks::mark_once`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// This event is the first: send the notice.
    First,
    /// This event marked it before (a retry): send it again.
    Repeat,
    /// Another event marked it: do not send.
    Taken,
}
