//! Deliveries: an event in, parsed (a malformed one rejected, one not ours skipped) and routed to the
//! job it is for.

use serde_json::Value;
use tracing::{info, warn};

use super::evaluate::ScanHint;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::TriggerKind;
use crate::domain::events::{self, Event, EventBody, Incoming, Scanner};
use crate::error::Error;
use crate::ports::{FindingsSource, Ports, RejectSink};

impl<P: Ports> Gatekeeper<P> {
    /// Parses an event; a malformed one is logged, copied to the rejected-events queue and answered
    /// `Ok(rejected)` (an error would only make Lambda retry it forever), an ignored one is skipped.
    async fn parse(
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
                Ok(Ok(Event {
                    delivery: delivery.to_string(),
                    ..event
                }))
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
        let event = match self.parse(incoming, delivery).await? {
            Ok(event) => event,
            Err(outcome) => return Ok(outcome),
        };
        match &event.body {
            EventBody::Push(push) => self.on_push(&event, push).await,
            EventBody::Deleted(image) => self.on_delete(&event, image).await,
            EventBody::Restored(image) => self.on_restore(&event, image).await,
            _ => {
                info!(event_id = %event.id, kind = event.kind().as_str(), "skipped: not a push event");
                Ok(Outcome::new(
                    Status::Skipped,
                    event.kind(),
                    event.image(),
                    "not a push event: routed to the wrong function",
                ))
            }
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
        let trigger = Trigger::of(&event);
        match &event.body {
            EventBody::Scan(scan) => {
                // Basic scanning's findings come with the status that lists them in full; Inspector's
                // ListFindings may lag behind the counts of its scan-complete event.
                let hint = match scan.scanner {
                    Scanner::Basic => ScanHint::default(),
                    Scanner::Enhanced => ScanHint {
                        state: Some(scan.state.clone()),
                        expected: scan.counts.map(|c| (c, scan.total)),
                    },
                };
                self.evaluate_with(source, &scan.image, scan.scanner, &hint, &trigger)
                    .await
            }
            EventBody::Finding(f) => {
                self.evaluate_image(source, &f.image, Scanner::Enhanced, &trigger)
                    .await
            }
            EventBody::Coverage(c) => {
                let hint = ScanHint {
                    state: Some(c.state.clone()),
                    expected: None,
                };
                self.evaluate_with(source, &c.image, Scanner::Enhanced, &hint, &trigger)
                    .await
            }
            _ => {
                info!(event_id = %event.id, kind = event.kind().as_str(), "skipped: not a scan event");
                Ok(Outcome::new(
                    Status::Skipped,
                    event.kind(),
                    event.image(),
                    "not a scan event: routed to the wrong function",
                ))
            }
        }
    }
}
