//! Tickets: one per vulnerability and repository, listing the images that have it; opened, updated
//! and resolved as images gain and lose the finding.

use super::Gatekeeper;
use crate::domain::time::Epoch;
use crate::domain::verdict::Subject;
use crate::domain::{Finding, ImageRef, Severity};
use crate::error::Error;
use crate::outbound::tickets::{TicketAction, TicketFinding, TicketNotice, ticketable};
use crate::ports::{Notifier, Ports, TicketLedger};
use crate::state::ImageState;

impl<P: Ports> Gatekeeper<P> {
    /// Opens tickets for vulnerabilities new to this image and drops the image from tickets whose
    /// vulnerability it no longer has (only while it is monitored: closed by lost coverage is not fixed).
    pub(super) async fn sync_tickets(
        &self,
        image: &ImageRef,
        findings: &[Finding],
        state: &ImageState,
        monitored: bool,
    ) -> Result<(), Error> {
        if self.policy.ticket_severity().is_none() && state.tickets.is_empty() {
            return Ok(());
        }
        let now = (self.clock)();
        let subject = Subject::new(&image.repository, &image.digest, now);
        let current = ticketable(&self.policy, &subject, findings);
        let mut kept: Vec<String> = Vec::new();
        for (id, tf) in &current {
            kept.push(id.clone());
            if state.tickets.contains(id) {
                continue;
            }
            let change = self.state.ticket_add(image, id, tf.severity, now).await?;
            let action = if change.opened {
                TicketAction::Open
            } else if change.severity_changed {
                TicketAction::Update
            } else {
                continue;
            };
            let notice = self.ticket_notice(image, action, tf, &change.images, now);
            self.notifier.publish(&notice.to_message()).await?;
        }
        for id in state.tickets.iter().filter(|id| !current.contains_key(*id)) {
            if !monitored {
                kept.push(id.clone());
                continue;
            }
            self.drop_from_ticket(image, id).await?;
        }
        kept.sort();
        if kept != state.tickets {
            self.state.set_image_tickets(image, &kept).await?;
        }
        Ok(())
    }

    /// Removes an image from a ticket, and notifies when that resolves it.
    pub(super) async fn drop_from_ticket(&self, image: &ImageRef, id: &str) -> Result<(), Error> {
        let now = (self.clock)();
        let change = self.state.ticket_remove(image, id, now).await?;
        if change.resolved {
            let tf = TicketFinding {
                id: id.to_string(),
                severity: change.severity.unwrap_or(Severity::Untriaged),
                package: None,
                installed_version: None,
                fixed_version: None,
                score: None,
                epss: None,
            };
            let notice = self.ticket_notice(image, TicketAction::Resolved, &tf, &[], now);
            self.notifier.publish(&notice.to_message()).await?;
        }
        Ok(())
    }

    /// The message of a ticket change `image` caused.
    fn ticket_notice<'a>(
        &'a self,
        image: &'a ImageRef,
        action: TicketAction,
        finding: &'a TicketFinding,
        images: &'a [String],
        now: Epoch,
    ) -> TicketNotice<'a> {
        TicketNotice {
            action,
            repository: &image.repository,
            finding,
            images,
            trigger_image: &image.digest,
            region: self.place_of(image).map(|p| p.region.as_str()),
            account: self.place_of(image).map(|p| p.account.as_str()),
            member: image.place.as_ref(),
            now,
        }
    }
}
