//! Deliveries: an event in, parsed (a malformed one rejected, one not ours skipped) and routed to the
//! job it is for.

use serde_json::Value;
use tracing::{info, warn};

use super::evaluate::ScanHint;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::{self, Event, EventBody, Incoming, Scanner};
use crate::domain::{ImageRef, TriggerKind};
use crate::error::Error;
use crate::ports::{FindingsSource, Ports, RejectSink};

impl<P: Ports> Gatekeeper<P> {
    /// Parses an event; a malformed one is logged, copied to the rejected-events queue and answered
    /// `Ok(rejected)` (an error would only make Lambda retry it forever), an ignored one is skipped.
    pub(super) async fn parse(
        &self,
        incoming: &Incoming,
        delivery: &str,
    ) -> Result<Result<Event, Outcome>, Error> {
        let value = &incoming.value;
        match events::parse_incoming(incoming) {
            Ok(event) => {
                if let EventBody::Ignored(why) = &event.body {
                    info!(event_id = %event.id, detail_type = %event.detail_type, reason = %why, "skipped");
                    return Ok(Err(Outcome::new(
                        Status::Skipped,
                        TriggerKind::Ignored,
                        None,
                        why.clone(),
                    )));
                }
                let mut event = Event {
                    delivery: delivery.to_string(),
                    ..event
                };
                if let Err(why) = self.localise(&mut event) {
                    warn!(event_id = %event.id, reason = %why, "skipped: not this deployment's image");
                    return Ok(Err(Outcome::new(
                        Status::Skipped,
                        event.kind(),
                        event.image(),
                        why,
                    )));
                }
                Ok(Ok(event))
            }
            Err(e) => {
                warn!(reason = %e, "rejected event");
                self.rejects.reject(e.reason(), value).await?;
                Ok(Err(Outcome::new(
                    Status::Rejected,
                    TriggerKind::Invalid,
                    None,
                    e.reason().to_string(),
                )))
            }
        }
    }

    /// Makes an image of this deployment's own account and region one of its own (`place` `None`, v1's
    /// identity), keeps a governed member's, and says why any other image is not governed here.
    fn localise(&self, event: &mut Event) -> Result<(), String> {
        match event.body.image_mut() {
            Some(image) => self.govern(image),
            None => Ok(()),
        }
    }

    /// [`Self::localise`] for one image.
    pub(super) fn govern(&self, image: &mut ImageRef) -> Result<(), String> {
        let (Some(place), Some(home)) = (&image.place, &self.home) else {
            return match &image.place {
                None => Ok(()),
                Some(p) => Err(format!(
                    "the image is in {p}, and this deployment's own account is not configured (GATEKEEPER_ACCOUNT_ID)"
                )),
            };
        };
        if place == home {
            image.place = None;
            return Ok(());
        }
        let governed = self.members.as_ref().is_some_and(|listed| {
            place.region == home.region && (listed.is_empty() || listed.contains(&place.account))
        });
        match &self.members {
            _ if governed => Ok(()),
            None => Err(format!(
                "the image is in {place}; this deployment governs {home} only"
            )),
            Some(_) if place.region != home.region => Err(format!(
                "the image is in {place}; this deployment governs {}'s Organization members in {} (the deployment in {} governs that region)",
                home.account, home.region, place.region
            )),
            Some(_) => Err(format!(
                "the image is in {place}, which is not among the accounts this deployment governs (GATEKEEPER_GOVERNED_ACCOUNTS)"
            )),
        }
    }

    /// The on-push function: ECR Image Action events (push, delete, archive restore).
    pub async fn handle_push_event(&self, value: &Value) -> Result<Outcome, Error> {
        self.handle_push_delivery(&Incoming::trusted(value.clone()), "")
            .await
    }

    /// [`Self::handle_push_event`] for one Lambda invocation (`delivery`: its request id).
    pub async fn handle_push_delivery(
        &self,
        incoming: &Incoming,
        delivery: &str,
    ) -> Result<Outcome, Error> {
        match self.parse(incoming, delivery).await? {
            Ok(event) => self.route_push(&event).await,
            Err(outcome) => Ok(outcome),
        }
    }

    /// A parsed event at the on-push function: a push, a deletion or a restore.
    pub(super) async fn route_push(&self, event: &Event) -> Result<Outcome, Error> {
        match &event.body {
            EventBody::Push(push) => self.on_push(event, push).await,
            EventBody::Deleted(image) => self.on_delete(event, image).await,
            EventBody::Restored(image) => self.on_restore(event, image).await,
            _ => Ok(misrouted(event, "push")),
        }
    }

    /// The on-scan function: ECR Image Scan, Inspector2 Scan, Finding and Coverage events.
    pub async fn handle_scan_event<F: FindingsSource + Sync>(
        &self,
        source: &F,
        value: &Value,
    ) -> Result<Outcome, Error> {
        self.handle_scan_delivery(source, &Incoming::trusted(value.clone()), "")
            .await
    }

    /// [`Self::handle_scan_event`] for one Lambda invocation (`delivery`: its request id).
    pub async fn handle_scan_delivery<F: FindingsSource + Sync>(
        &self,
        source: &F,
        incoming: &Incoming,
        delivery: &str,
    ) -> Result<Outcome, Error> {
        let event = match self.parse(incoming, delivery).await? {
            Ok(event) => event,
            Err(outcome) => return Ok(outcome),
        };
        let Some(ask) = ScanAsk::of(&event) else {
            return Ok(misrouted(&event, "scan"));
        };
        let trigger = Trigger::of(&event);
        let (outcome, _) = self
            .evaluate_with(source, ask.image, ask.scanner, &ask.hint, &trigger)
            .await?;
        Ok(outcome)
    }
}

/// What a scan event asks for: this image evaluated, with what the event says about its scan.
pub(super) struct ScanAsk<'a> {
    /// The image.
    pub(super) image: &'a ImageRef,
    /// Whose findings to read.
    pub(super) scanner: Scanner,
    /// What the event says about the scan besides the findings.
    pub(super) hint: ScanHint,
}

impl<'a> ScanAsk<'a> {
    /// The ask of a scan, finding or coverage event; `None` for any other event.
    pub(super) fn of(event: &'a Event) -> Option<ScanAsk<'a>> {
        Some(match &event.body {
            EventBody::Scan(scan) => ScanAsk {
                image: &scan.image,
                scanner: scan.scanner,
                // Basic scanning's findings come with the status that lists them in full;
                // Inspector's ListFindings may lag behind the counts of its scan-complete event.
                hint: match scan.scanner {
                    Scanner::Basic => ScanHint::default(),
                    Scanner::Enhanced => ScanHint {
                        state: Some(scan.state.clone()),
                        expected: scan.counts.map(|c| (c, scan.total)),
                        findings: Vec::new(),
                    },
                },
            },
            EventBody::Finding(f) => ScanAsk {
                image: &f.image,
                scanner: Scanner::Enhanced,
                hint: ScanHint {
                    findings: vec![f.finding.clone()],
                    ..ScanHint::default()
                },
            },
            EventBody::Coverage(c) => ScanAsk {
                image: &c.image,
                scanner: Scanner::Enhanced,
                hint: ScanHint {
                    state: Some(c.state.clone()),
                    ..ScanHint::default()
                },
            },
            _ => return None,
        })
    }
}

/// An event that reached the function for `job` events (a rule that routes wrongly): skipped.
pub(super) fn misrouted(event: &Event, job: &str) -> Outcome {
    info!(event_id = %event.id, kind = event.kind().as_str(), "skipped: not a {job} event");
    Outcome::new(
        Status::Skipped,
        event.kind(),
        event.image(),
        format!("not a {job} event: routed to the wrong function"),
    )
}
