//! The state table in memory ([`FakeState`]), with the conditions `DynamoState` writes with.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::lock;
use crate::domain::history::Change;
use crate::domain::time::Epoch;
use crate::domain::verdict::Summary;
use crate::domain::{Decision, ImageRef, Kev, Severity};
use crate::error::AwsError;
use crate::ports::{
    ImageAnnotations, ImageRecords, KevCache, OnceMarks, SweepSchedule, TagChangeBreaker,
    TicketLedger, VerdictHistory,
};
use crate::state::{
    ArchiveWrite, BreakerCount, Claim, ImageState, Mark, Override, SeenFindings, TicketBefore,
    TicketChange, Written, key_scope, split_scope,
};

/// The state table's key of an image (repository, digest).
fn key(image: &ImageRef) -> (String, String) {
    (
        format!("{}{}", key_scope(image.place.as_ref()), image.repository),
        image.digest.clone(),
    )
}

/// The state table in memory.
#[derive(Debug, Default)]
struct Tables {
    images: BTreeMap<(String, String), ImageState>,
    tickets: BTreeMap<String, Ticket>,
    last_sweep: Option<Epoch>,
    windows: BTreeMap<i64, u64>,
    tripped: Option<(Epoch, String)>,
    marks: HashMap<String, (String, Epoch)>,
    /// Evaluation leases per image: holder and until when.
    leases: HashMap<(String, String), (String, Epoch)>,
    /// What KEV says of each vulnerability id, until when.
    kev: HashMap<String, (Option<Kev>, Epoch)>,
    /// The verdict history by (image key, change number).
    history: BTreeMap<((String, String), u64), Change>,
}

/// One ticket's item.
#[derive(Debug, Default, Clone)]
struct Ticket {
    images: Vec<String>,
    open: bool,
    severity: Option<Severity>,
}

impl Tables {
    /// The image's item, created (empty, version 0) by a write as UpdateItem does.
    fn item(&mut self, image: &ImageRef) -> &mut ImageState {
        let item = self.images.entry(key(image)).or_default();
        item.exists = true;
        item
    }

    /// The condition of a versioned write: the item is still at `expected`, or absent when `None`
    /// (an item that other writes created has no version yet: 0).
    fn expecting(&self, image: &ImageRef, expected: Option<u64>) -> bool {
        let item = self.images.get(&key(image));
        match (expected, item) {
            (None, item) => item.is_none(),
            (Some(0), None) => true,
            (Some(v), Some(item)) => item.version == v,
            (Some(_), None) => false,
        }
    }
}

/// The state table ([`super::StateStore`]) in memory, with DynamoState's conditions: versions, claims
/// that only their claimant finishes, tickets, the breaker's windows and marks that expire.
#[derive(Debug, Clone, Default)]
pub struct FakeState {
    tables: Arc<Mutex<Tables>>,
}

impl FakeState {
    /// The image's record now (what `load` would return), without counting a call.
    pub fn record(&self, image: &ImageRef) -> ImageState {
        lock(&self.tables)
            .images
            .get(&key(image))
            .cloned()
            .unwrap_or_default()
    }

    /// The images of a ticket and whether it is open.
    pub fn ticket(&self, repository: &str, vulnerability: &str) -> Option<(Vec<String>, bool)> {
        lock(&self.tables)
            .tickets
            .get(&ticket_key(&ImageRef::home(repository, ""), vulnerability))
            .map(|t| (t.images.clone(), t.open))
    }

    /// The verdict history recorded, in the order of the images' keys and change numbers.
    pub fn history(&self) -> Vec<Change> {
        lock(&self.tables).history.values().cloned().collect()
    }

    /// When the circuit breaker tripped and why, if it is open.
    pub fn breaker_status(&self) -> Option<(Epoch, String)> {
        lock(&self.tables).tripped.clone()
    }
}

fn ticket_key(image: &ImageRef, vulnerability: &str) -> String {
    format!(
        "{}{}#{}",
        key_scope(image.place.as_ref()),
        image.repository,
        vulnerability.to_ascii_uppercase()
    )
}

impl ImageRecords for FakeState {
    async fn load(&self, image: &ImageRef) -> Result<ImageState, AwsError> {
        Ok(self.record(image))
    }

    async fn record_push(&self, image: &ImageRef, now: Epoch) -> Result<ImageState, AwsError> {
        let mut t = lock(&self.tables);
        let item = t.item(image);
        item.decision = item.decision.or(Some(Decision::Pending));
        item.pushed_seen_at = Some(now);
        item.deleted_at = None;
        item.version += 1;
        Ok(item.clone())
    }

    async fn claim(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        claim: &Claim,
        summary: &Summary,
        _policy_hash: &str,
    ) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        if !t.expecting(image, expected) {
            return Ok(Written::Conflict);
        }
        let item = t.item(image);
        item.decision = Some(claim.decision);
        item.version = claim.sequence;
        item.claim = Some(claim.clone());
        item.overridden = claim.overridden;
        item.summary = Some(summary.clone());
        item.first_scan_at = item.first_scan_at.or(Some(claim.at));
        item.due_at = summary.due;
        Ok(Written::Done)
    }

    async fn finish(
        &self,
        image: &ImageRef,
        claim: &Claim,
        applied: bool,
    ) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        let Some(item) = t.images.get_mut(&key(image)) else {
            return Ok(Written::Conflict);
        };
        match &item.claim {
            Some(c) if c.event_id == claim.event_id && c.sequence == claim.sequence => {}
            _ => return Ok(Written::Conflict),
        }
        item.claim = None;
        item.acted_at = Some(claim.at);
        if !applied {
            item.decision = claim.previous;
            if claim.previous.is_some() {
                item.overridden = false;
            }
        }
        item.version += 1;
        Ok(Written::Done)
    }

    async fn set_quietly(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        decision: Decision,
        _now: Epoch,
    ) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        if !t.expecting(image, expected) {
            return Ok(Written::Conflict);
        }
        let item = t.item(image);
        item.decision = Some(decision);
        item.version += 1;
        Ok(Written::Done)
    }

    async fn lease_evaluation(
        &self,
        image: &ImageRef,
        by: &str,
        now: Epoch,
        until: Epoch,
    ) -> Result<Option<ImageState>, AwsError> {
        let mut t = lock(&self.tables);
        if let Some((holder, end)) = t.leases.get(&key(image))
            && *end > now
            && holder != by
        {
            return Ok(None);
        }
        t.leases.insert(key(image), (by.to_string(), until));
        Ok(Some(t.item(image).clone()))
    }

    async fn release_evaluation(&self, image: &ImageRef, by: &str) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        if t.leases
            .get(&key(image))
            .is_some_and(|(holder, _)| holder == by)
        {
            t.leases.remove(&key(image));
        }
        Ok(())
    }

    async fn record_seen(
        &self,
        image: &ImageRef,
        seen: &SeenFindings,
    ) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        match t.images.get_mut(&key(image)) {
            Some(item) if item.version == seen.version => {
                item.seen = Some(seen.clone());
                t.leases.remove(&key(image));
                Ok(Written::Done)
            }
            _ => Ok(Written::Conflict),
        }
    }

    async fn set_archive(
        &self,
        image: &ImageRef,
        expected: u64,
        write: ArchiveWrite<'_>,
        due: Option<Epoch>,
    ) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        if !t.expecting(image, Some(expected)) {
            return Ok(Written::Conflict);
        }
        let item = t.item(image);
        match write {
            ArchiveWrite::Set(a) => item.archive = Some(a.clone()),
            ArchiveWrite::Drop => item.archive = None,
            ArchiveWrite::Unarchived(at) => {
                item.archive = None;
                item.unarchived_at = Some(at);
            }
        }
        item.due_at = due;
        item.version += 1;
        Ok(Written::Done)
    }

    async fn reset_image(&self, image: &ImageRef) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        let item = t.item(image);
        item.decision = None;
        item.first_scan_at = None;
        item.summary = None;
        item.overridden = false;
        item.version += 1;
        Ok(())
    }
}

impl ImageAnnotations for FakeState {
    async fn link_index(
        &self,
        index_image: &ImageRef,
        children: &[(String, String)],
    ) -> Result<(), AwsError> {
        if children.is_empty() {
            return Ok(());
        }
        let index = index_image.digest.as_str();
        let image = |digest: &str| index_image.sibling(digest);
        let mut t = lock(&self.tables);
        let item = t.item(&image(index));
        for c in children {
            if !item.children.contains(c) {
                item.children.push(c.clone());
            }
        }
        item.children.sort_by_key(|(d, p)| format!("{d} {p}"));
        item.version += 1;
        for (child, _) in children {
            let item = t.item(&image(child));
            if !item.parents.iter().any(|p| p == index) {
                item.parents.push(index.to_string());
                item.parents.sort();
            }
            item.version += 1;
        }
        Ok(())
    }

    async fn set_override(&self, image: &ImageRef, value: &Override) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        let item = t.item(image);
        item.override_ = Some(value.clone());
        item.version += 1;
        Ok(())
    }
}

impl TicketLedger for FakeState {
    async fn set_image_tickets(&self, image: &ImageRef, ids: &[String]) -> Result<(), AwsError> {
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        lock(&self.tables).item(image).tickets = ids;
        Ok(())
    }

    async fn ticket_add(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        severity: Severity,
        _now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let mut t = lock(&self.tables);
        let ticket = t
            .tickets
            .entry(ticket_key(image, vulnerability))
            .or_default();
        let before = TicketBefore {
            images: ticket.images.clone(),
            open: ticket.open,
            severity: ticket.severity,
        };
        let change = TicketChange::added(before, &image.digest, severity);
        ticket.images = change.images.clone();
        ticket.open = true;
        ticket.severity = Some(severity);
        Ok(change)
    }

    async fn ticket_remove(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        _now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let mut t = lock(&self.tables);
        let Some(ticket) = t.tickets.get_mut(&ticket_key(image, vulnerability)) else {
            return Ok(TicketChange::default());
        };
        ticket.images.retain(|i| *i != image.digest);
        let severity = ticket.severity;
        if !ticket.images.is_empty() {
            return Ok(TicketChange {
                images: ticket.images.clone(),
                severity,
                ..TicketChange::default()
            });
        }
        // Resolved already (a retry of the resolving removal) or resolved now: either way, say so.
        ticket.open = false;
        Ok(TicketChange {
            resolved: true,
            severity,
            ..TicketChange::default()
        })
    }
}

impl SweepSchedule for FakeState {
    async fn set_due(
        &self,
        image: &ImageRef,
        at: Option<Epoch>,
        expected: Option<u64>,
    ) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        if expected.is_none_or(|v| t.expecting(image, Some(v))) {
            t.item(image).due_at = at;
        }
        Ok(())
    }

    async fn due(&self, until: Epoch) -> Result<Vec<(ImageRef, Epoch)>, AwsError> {
        let t = lock(&self.tables);
        let mut due: Vec<(Epoch, ImageRef)> = t
            .images
            .iter()
            .filter_map(|((scoped, digest), item)| {
                item.due_at.filter(|at| *at <= until).map(|at| {
                    let (place, repository) = split_scope(scoped);
                    let image = ImageRef {
                        place,
                        ..ImageRef::home(repository, digest.clone())
                    };
                    (at, image)
                })
            })
            .collect();
        // The index's sort key: earliest first.
        due.sort_by_key(|(at, _)| *at);
        Ok(due.into_iter().map(|(at, image)| (image, at)).collect())
    }

    async fn last_sweep(&self) -> Result<Option<Epoch>, AwsError> {
        Ok(lock(&self.tables).last_sweep)
    }

    async fn record_sweep(&self, at: Epoch) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        if t.last_sweep.is_none_or(|last| last < at) {
            t.last_sweep = Some(at);
        }
        Ok(())
    }
}

impl TagChangeBreaker for FakeState {
    async fn count_tag_changes(
        &self,
        changes: u64,
        now: Epoch,
        window: i64,
    ) -> Result<BreakerCount, AwsError> {
        let bucket = now.div_euclid(window.max(1));
        let mut t = lock(&self.tables);
        *t.windows.entry(bucket).or_insert(0) += changes;
        t.windows.remove(&(bucket - 2));
        let count = [bucket, bucket - 1]
            .iter()
            .filter_map(|b| t.windows.get(b))
            .sum();
        Ok(BreakerCount {
            count,
            tripped_at: t.tripped.as_ref().map(|(at, _)| *at),
        })
    }

    async fn trip_breaker(&self, now: Epoch, reason: &str) -> Result<Written, AwsError> {
        let mut t = lock(&self.tables);
        if t.tripped.is_some() {
            return Ok(Written::Conflict);
        }
        t.tripped = Some((now, reason.to_string()));
        Ok(Written::Done)
    }

    async fn reset_breaker(&self) -> Result<Option<Epoch>, AwsError> {
        let mut t = lock(&self.tables);
        t.windows.clear();
        Ok(t.tripped.take().map(|(at, _)| at))
    }
}

impl OnceMarks for FakeState {
    async fn mark_once(
        &self,
        key: &str,
        event_id: &str,
        now: Epoch,
        ttl_seconds: i64,
    ) -> Result<Mark, AwsError> {
        let mut t = lock(&self.tables);
        let mark = match t.marks.get(key) {
            Some((by, _)) if by == event_id => Mark::Repeat,
            Some((_, expires)) if *expires >= now => return Ok(Mark::Taken),
            _ => Mark::First,
        };
        t.marks
            .insert(key.to_string(), (event_id.to_string(), now + ttl_seconds));
        Ok(mark)
    }
}

impl KevCache for FakeState {
    async fn kev_remembered(
        &self,
        ids: &[String],
        now: Epoch,
    ) -> Result<HashMap<String, Option<Kev>>, AwsError> {
        let t = lock(&self.tables);
        Ok((ids.iter())
            .filter_map(|id| match t.kev.get(id) {
                Some((kev, until)) if *until > now => Some((id.clone(), *kev)),
                _ => None,
            })
            .collect())
    }

    async fn remember_kev(
        &self,
        answers: &[(String, Option<Kev>)],
        until: Epoch,
    ) -> Result<(), AwsError> {
        let mut t = lock(&self.tables);
        for (id, kev) in answers {
            t.kev.insert(id.clone(), (*kev, until));
        }
        Ok(())
    }
}

impl VerdictHistory for FakeState {
    async fn record_change(&self, change: &Change) -> Result<(), AwsError> {
        let place = (change.account.clone().zip(change.region.clone()))
            .map(|(account, region)| crate::domain::Place { account, region });
        let image = ImageRef {
            place,
            ..ImageRef::home(&change.repository, &change.digest)
        };
        (lock(&self.tables).history).insert((key(&image), change.number), change.clone());
        Ok(())
    }

    async fn mark_deleted(&self, image: &ImageRef, at: Epoch) -> Result<(), AwsError> {
        if let Some(item) = lock(&self.tables).images.get_mut(&key(image)) {
            item.deleted_at = Some(at);
            item.version += 1;
        }
        Ok(())
    }

    async fn changes(&self, since: Epoch, until: Epoch) -> Result<Vec<Change>, AwsError> {
        Ok((lock(&self.tables).history.values())
            .filter(|c| (since..=until).contains(&c.at))
            .cloned()
            .collect())
    }

    async fn images_now(&self) -> Result<Vec<(ImageRef, ImageState)>, AwsError> {
        Ok((lock(&self.tables).images.iter())
            .filter(|(_, s)| s.decision.is_some() && s.deleted_at.is_none() && s.parents.is_empty())
            .map(|((scoped, digest), s)| {
                let (place, repository) = split_scope(scoped);
                let image = ImageRef {
                    place,
                    ..ImageRef::home(repository, digest)
                };
                (image, s.clone())
            })
            .collect())
    }
}
