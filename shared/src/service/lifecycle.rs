//! An image deleted (it leaves its tickets) or restored from the archive (decided again as new).

use tracing::info;

use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::Event;
use crate::domain::{ImageRef, MediaKind, TriggerKind};
use crate::error::Error;
use crate::ports::{ImageRecords, Ports, TicketLedger};

impl<P: Ports> Gatekeeper<P> {
    /// An image or tag was deleted. When the image itself is gone, it leaves the tickets it was in
    /// (resolving those it was the last image of); a deleted tag changes nothing.
    pub(super) async fn on_delete(&self, image: &ImageRef) -> Result<Outcome, Error> {
        if self.detail(image).await?.is_some() {
            return Ok(Outcome::new(
                Status::Skipped,
                TriggerKind::Delete,
                Some(image),
                "a tag was deleted; the image is still in ECR",
            ));
        }
        let state = self.state.load(image).await?;
        for id in &state.tickets {
            self.drop_from_ticket(image, id).await?;
        }
        if !state.tickets.is_empty() {
            self.state.set_image_tickets(image, &[]).await?;
        }
        info!(image = %image.display(), tickets = state.tickets.len(), "image deleted");
        Ok(Outcome::new(
            Status::Unchanged,
            TriggerKind::Delete,
            Some(image),
            format!("image deleted; left {} ticket(s)", state.tickets.len()),
        ))
    }

    /// An archived image was restored: what was decided before it was archived no longer holds (its
    /// findings are from then); it is scanned and decided again as a new image.
    pub(super) async fn on_restore(
        &self,
        event: &Event,
        image: &ImageRef,
    ) -> Result<Outcome, Error> {
        let trigger = Trigger::of(event);
        let Some(detail) = self.detail(image).await? else {
            return Ok(Outcome::gone(TriggerKind::Restore, image));
        };
        self.state.reset_image(image).await?;
        let kind = MediaKind::classify(
            detail.manifest_media_type.as_deref(),
            detail.artifact_media_type.as_deref(),
        );
        let mut outcome = self.ensure_scan(image, kind, &trigger).await?;
        outcome.kind = TriggerKind::Restore;
        Ok(outcome)
    }
}
