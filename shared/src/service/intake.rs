//! SQS intake: a batch of records from a function's queue, grouped by image so that each image is
//! evaluated once whatever the number of its events; the records of an image that could not be
//! finished go back to the queue, and only those.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::{info, warn};

use super::evaluate::ScanHint;
use super::route::ScanAsk;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::{Event, EventBody, Incoming};
use crate::domain::{Finding, ImageRef, Place};
use crate::error::Error;
use crate::ports::{FindingsSource, ImageRecords, Ports};
use crate::state::{ImageState, Written};

/// How long an evaluation lease lasts (seconds): longer than an evaluation takes, far shorter than the
/// intake queue's visibility timeout, so that a lease left by a crash is over long before its records
/// come back.
pub const EVALUATION_LEASE: i64 = 60;

/// How long a batch waits at most, after its other images, for another delivery's evaluation of an
/// image before sending that image's records back to the queue.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(20);

/// One record of a batch: an SQS message of the function's intake queue.
#[derive(Debug, Clone)]
pub struct Record {
    /// The SQS message id: the same on every redelivery of the message.
    pub id: String,
    /// Its body, read as an EventBridge event (an unreadable body is refused when parsed).
    pub incoming: Incoming,
}

/// What a batch came to.
#[derive(Debug, Default, Serialize)]
pub struct BatchReport {
    /// One outcome per image evaluated, and per record rejected, skipped or handled alone.
    pub outcomes: Vec<Outcome>,
    /// The message ids to deliver again: every record of an image whose evaluation failed, or whose
    /// change another delivery is applying right now. A record is acted on, rejected with a reason,
    /// skipped, or listed here; after the queue's maxReceiveCount it lands in the DLQ.
    pub retry: Vec<String>,
    /// Whether the invocation ran out of time before the end of the batch.
    pub out_of_time: bool,
}

/// Whether `until` has passed.
fn out_of_time(until: Option<Instant>) -> bool {
    until.is_some_and(|u| Instant::now() >= u)
}

/// The events of one image in a batch (same account, region, repository and digest).
struct Group<'a> {
    /// The event the evaluation answers to (its trigger, scanner and hint).
    lead: &'a Event,
    /// The message ids of every record of the image.
    ids: Vec<String>,
    /// The findings its Inspector2 Finding events carry.
    findings: Vec<Finding>,
    /// Whether every record is a finding event (and so may be covered by the last evaluation).
    only_findings: bool,
}

impl<'a> Group<'a> {
    /// A group of one event.
    fn of(event: &'a Event, id: &str) -> Group<'a> {
        let mut group = Group {
            lead: event,
            ids: Vec::new(),
            findings: Vec::new(),
            only_findings: true,
        };
        group.add(event, id);
        group
    }

    /// Adds an event of the same image.
    fn add(&mut self, event: &'a Event, id: &str) {
        self.ids.push(id.to_string());
        match &event.body {
            EventBody::Finding(change) => self.findings.push(change.finding.clone()),
            _ => self.only_findings = false,
        }
        if leads(event, self.lead) {
            self.lead = event;
        }
    }
}

/// Where an event's image lives: account and region (`None`: this deployment's), repository, digest.
type ImageKey = (Option<Place>, String, String);

fn image_key(event: &Event) -> Option<ImageKey> {
    let image = event.image()?;
    Some((
        image.place.clone(),
        image.repository.clone(),
        image.digest.clone(),
    ))
}

/// Whether `next` should lead its image's evaluation instead of `lead`: a scan or coverage event
/// (it says what became of the scan) over a finding event, then the later event.
fn leads(next: &Event, lead: &Event) -> bool {
    let says_scan = |e: &Event| matches!(e.body, EventBody::Scan(_) | EventBody::Coverage(_));
    match (says_scan(next), says_scan(lead)) {
        (true, false) => true,
        (false, true) => false,
        _ => next.time.unwrap_or(i64::MIN) >= lead.time.unwrap_or(i64::MIN),
    }
}

/// The answer to a group of finding records that the image's last evaluation, as `state` records it,
/// already saw: acknowledged without reading the findings again; `None` when it did not see them all.
fn covered(
    state: &ImageState,
    group: &Group<'_>,
    image: &ImageRef,
    trigger: &Trigger,
) -> Option<Outcome> {
    let seen = state.seen_now()?;
    if !group.findings.iter().all(|f| seen.covers(f)) {
        return None;
    }
    info!(image = %image.display(), records = group.ids.len(), "already evaluated: the last evaluation saw these finding updates");
    let mut outcome = Outcome::new(
        Status::Unchanged,
        trigger.kind,
        Some(image),
        format!(
            "already evaluated: the image's last evaluation saw these {} finding update(s)",
            group.findings.len()
        ),
    );
    outcome.decision = state.decision;
    Some(outcome)
}

impl BatchReport {
    /// Records the outcome of the records `ids`; an `in_progress` one sends them back to the queue
    /// (another delivery is applying the change: they are looked at again after it).
    fn settled(&mut self, outcome: Outcome, ids: &[String]) {
        info!(
            status = %outcome.status,
            image = outcome.image.as_deref(),
            decision = outcome.decision.map(|d| d.as_str()),
            records = ids.len(),
            detail = %outcome.detail,
            "outcome"
        );
        if outcome.status == Status::InProgress {
            self.retry.extend_from_slice(ids);
        }
        self.outcomes.push(outcome);
    }

    /// Sends the records `ids` back to the queue untouched: the invocation has no time left for them.
    fn later(&mut self, ids: &[String]) {
        if !self.out_of_time {
            info!("out of time: the rest of the batch goes back to the queue");
        }
        self.out_of_time = true;
        self.retry.extend_from_slice(ids);
    }

    /// Sends the records `ids` back to the queue after `error`.
    fn failed(&mut self, error: &Error, ids: &[String]) {
        warn!(error = %error, error_type = %error.error_type(), records = ids.len(), "records go back to the queue");
        self.retry.extend_from_slice(ids);
    }
}

impl<P: Ports> Gatekeeper<P> {
    /// The records of a batch parsed in order: the events to act on, with their message ids; a
    /// malformed record is rejected (copied to the rejected-events queue) and an ignored one skipped,
    /// both done; one whose rejection could not be written goes back to the queue.
    async fn read_batch(
        &self,
        records: &[Record],
        report: &mut BatchReport,
    ) -> Vec<(Event, String)> {
        let mut events = Vec::with_capacity(records.len());
        for record in records {
            match self.parse(&record.incoming, &record.id).await {
                Ok(Ok(event)) => events.push((event, record.id.clone())),
                Ok(Err(outcome)) => report.outcomes.push(outcome),
                Err(e) => report.failed(&e, std::slice::from_ref(&record.id)),
            }
        }
        events
    }

    /// The on-scan function's SQS batch: each image evaluated once, with what its lead event says
    /// (a scan-complete event's counts are still the hint that ListFindings may lag). No image is
    /// begun after `until` (the invocation's time is running out) but the first: the records of the
    /// images left go back to the queue.
    pub async fn handle_scan_batch<F: FindingsSource + Sync>(
        &self,
        source: &F,
        records: &[Record],
        until: Option<Instant>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let events = self.read_batch(records, &mut report).await;
        let mut order: Vec<ImageKey> = Vec::new();
        let mut groups: HashMap<ImageKey, Group<'_>> = HashMap::new();
        for (event, id) in &events {
            let key = match (ScanAsk::of(event), image_key(event)) {
                (Some(_), Some(key)) => key,
                _ => {
                    report.outcomes.push(super::route::misrouted(event, "scan"));
                    continue;
                }
            };
            match groups.get_mut(&key) {
                Some(group) => group.add(event, id),
                None => {
                    order.push(key.clone());
                    groups.insert(key, Group::of(event, id));
                }
            }
        }
        let mut contended = Vec::new();
        for (n, key) in order.iter().enumerate() {
            let Some(group) = groups.get(key) else {
                continue;
            };
            if n > 0 && out_of_time(until) {
                report.later(&group.ids);
                continue;
            }
            match self.settle_group(source, group).await {
                Ok(Some(outcome)) => report.settled(outcome, &group.ids),
                Ok(None) => contended.push(group),
                Err(e) => report.failed(&e, &group.ids),
            }
        }
        self.settle_contended(source, contended, until, &mut report)
            .await;
        report
    }

    /// The images another delivery was evaluating, looked at again once the rest of the batch is done
    /// (at growing intervals, for at most [`WAIT_FOR_OTHERS`] and never past `until`; not at all
    /// without `until`): usually that
    /// evaluation has recorded what it saw by then and the records are acknowledged without a read.
    /// The records of an image still being evaluated go back to the queue.
    async fn settle_contended<F: FindingsSource + Sync>(
        &self,
        source: &F,
        mut waiting: Vec<&Group<'_>>,
        until: Option<Instant>,
        report: &mut BatchReport,
    ) {
        // Without a deadline (a caller that is not a Lambda invocation) nothing waits.
        let give_up = until.map_or_else(Instant::now, |u| u.min(Instant::now() + WAIT_FOR_OTHERS));
        let mut pause = Duration::from_millis(250);
        while !waiting.is_empty() && Instant::now() + pause < give_up {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(4));
            let mut still = Vec::new();
            for group in waiting {
                match self.settle_group(source, group).await {
                    Ok(Some(outcome)) => report.settled(outcome, &group.ids),
                    Ok(None) => still.push(group),
                    Err(e) => report.failed(&e, &group.ids),
                }
            }
            waiting = still;
        }
        for group in waiting {
            let outcome = Outcome::new(
                Status::InProgress,
                Trigger::of(group.lead).kind,
                group.lead.image(),
                "another delivery is still evaluating the image: its records go back to the queue"
                    .to_string(),
            );
            report.settled(outcome, &group.ids);
        }
    }

    /// One image of a batch: acknowledged when its last evaluation already saw every finding update
    /// its records carry, evaluated once otherwise (with those findings merged into what ListFindings
    /// returns), and what that evaluation saw recorded for the next batch. Records of finding updates
    /// are evaluated under the image's evaluation lease: `None` when another delivery holds it (that
    /// evaluation is likely to cover them; the caller looks again later).
    async fn settle_group<F: FindingsSource + Sync>(
        &self,
        source: &F,
        group: &Group<'_>,
    ) -> Result<Option<Outcome>, Error> {
        let Some(ask) = ScanAsk::of(group.lead) else {
            return Ok(Some(super::route::misrouted(group.lead, "scan")));
        };
        // The claim covers every record of the image in the batch: a redelivery of any of them
        // continues the change, whichever record leads it then.
        let trigger = Trigger {
            deliveries: group.ids.clone(),
            ..Trigger::of(group.lead)
        };
        if group.only_findings {
            let state = self.state.load(ask.image).await?;
            if let Some(outcome) = covered(&state, group, ask.image, &trigger) {
                return Ok(Some(outcome));
            }
            let now = (self.clock)();
            let holder = group.ids.first().map_or("", String::as_str);
            let Some(fresh) = self
                .state
                .lease_evaluation(ask.image, holder, now, now + EVALUATION_LEASE)
                .await?
            else {
                info!(image = %ask.image.display(), records = group.ids.len(), "another delivery is evaluating the image: looked at again after the rest of the batch");
                return Ok(None);
            };
            // Another delivery may have finished its evaluation between the read and the lease.
            if let Some(outcome) = covered(&fresh, group, ask.image, &trigger) {
                self.state.release_evaluation(ask.image, holder).await?;
                return Ok(Some(outcome));
            }
        }
        info!(image = %ask.image.display(), records = group.ids.len(), event_id = %trigger.event_id, "evaluating once for the batch");
        let hint = ScanHint {
            findings: group.findings.clone(),
            ..ask.hint
        };
        let (outcome, seen) = self
            .evaluate_with(source, ask.image, ask.scanner, &hint, &trigger)
            .await?;
        if let Some(seen) = seen {
            // Only a shortcut for the next batch: when it is not written, that batch reads again.
            match self.state.record_seen(ask.image, &seen).await {
                Ok(Written::Done) => {}
                Ok(Written::Conflict) => {
                    info!(image = %ask.image.display(), "record changed since the evaluation: what it saw is not recorded")
                }
                Err(e) => {
                    warn!(image = %ask.image.display(), error = %e, "what the evaluation saw is not recorded: the next batch reads the findings again")
                }
            }
        }
        Ok(Some(outcome))
    }

    /// The on-push function's SQS batch: each record in turn (pushes, deletions and restores are
    /// cheap and their order matters); after an image's record fails, that image's later records go
    /// back to the queue with it, so that they are not applied out of order. No record is begun after
    /// `until` but the first: the rest go back to the queue.
    pub async fn handle_push_batch(
        &self,
        records: &[Record],
        until: Option<Instant>,
    ) -> BatchReport {
        let mut report = BatchReport::default();
        let events = self.read_batch(records, &mut report).await;
        let mut stopped: Vec<ImageKey> = Vec::new();
        for (n, (event, id)) in events.iter().enumerate() {
            let key = image_key(event);
            if key.as_ref().is_some_and(|k| stopped.contains(k)) {
                report.retry.push(id.clone());
                continue;
            }
            if n > 0 && out_of_time(until) {
                report.later(std::slice::from_ref(id));
                continue;
            }
            let ids = std::slice::from_ref(id);
            match self.route_push(event).await {
                Ok(outcome) => {
                    if outcome.status == Status::InProgress {
                        stopped.extend(key);
                    }
                    report.settled(outcome, ids);
                }
                Err(e) => {
                    stopped.extend(key);
                    report.failed(&e, ids);
                }
            }
        }
        report
    }
}
