//! An image deleted (it leaves its tickets) or restored from the archive: one the gatekeeper archived
//! gets its tags back after a release, or is archived again without one; any other is decided again
//! as new.

use tracing::info;

use super::act::Cause;
use super::archive::Storing;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::Event;
use crate::domain::history::{self, Change, Standing};
use crate::domain::time::DAY;
use crate::domain::{Decision, ImageRef, MediaKind, TriggerKind};
use crate::error::Error;
use crate::ports::{ImageDetail, ImageRecords, Ports, TicketLedger, VerdictHistory};
use crate::state::ImageState;

impl<P: Ports> Gatekeeper<P> {
    /// An image or tag was deleted. When the image itself is gone, it leaves the tickets it was in
    /// (resolving those it was the last image of), and its deletion ends its disposition in the
    /// history; a deleted tag changes nothing.
    pub(super) async fn on_delete(
        &self,
        event: &Event,
        image: &ImageRef,
    ) -> Result<Outcome, Error> {
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
        self.record_deletion(event, image, &state).await?;
        info!(image = %image.display(), tickets = state.tickets.len(), "image deleted");
        Ok(Outcome::new(
            Status::Unchanged,
            TriggerKind::Delete,
            Some(image),
            format!("image deleted; left {} ticket(s)", state.tickets.len()),
        ))
    }

    /// Records the deletion of an image with a disposition in the history (once: a retry after the
    /// mark finds it marked; one before writes the same record), and marks its record deleted.
    async fn record_deletion(
        &self,
        event: &Event,
        image: &ImageRef,
        state: &ImageState,
    ) -> Result<(), Error> {
        if !state.exists || state.deleted_at.is_some() {
            return Ok(());
        }
        let now = (self.clock)();
        if let Some(decision) = state.decision.filter(|_| state.parents.is_empty()) {
            let change = Change {
                from: Some(Standing::new(decision, state.overridden)),
                actor: event.id.clone(),
                ..Change::new(image, state.version + 1, now, history::Cause::Deleted)
            };
            self.state.record_change(&change).await?;
        }
        self.state.mark_deleted(image, now).await?;
        Ok(())
    }

    /// An archived image was restored. One the gatekeeper archived follows its disposition (see
    /// `archive`); a late or repeated event of a release's completed restore changes nothing; for any
    /// other, what was decided before it was archived no longer holds (its findings are from then):
    /// it is scanned and decided again as a new image.
    pub(super) async fn on_restore(
        &self,
        event: &Event,
        image: &ImageRef,
    ) -> Result<Outcome, Error> {
        let trigger = Trigger::of(event);
        let Some(detail) = self.detail(image).await? else {
            return Ok(Outcome::gone(TriggerKind::Restore, image));
        };
        let state = self.state.load(image).await?;
        if state.archive.is_some() {
            return self
                .restored_archive(image, &detail, &state, &trigger)
                .await;
        }
        if state
            .unarchived_at
            .is_some_and(|t| (self.clock)() - t < DAY)
        {
            return Ok(Outcome::new(
                Status::Unchanged,
                TriggerKind::Restore,
                Some(image),
                "the release's restore completed already: its tags are back",
            ));
        }
        self.state.reset_image(image).await?;
        let kind = MediaKind::classify(
            detail.manifest_media_type.as_deref(),
            detail.artifact_media_type.as_deref(),
        );
        let mut outcome = self.ensure_scan(image, kind, &trigger).await?;
        outcome.kind = TriggerKind::Restore;
        Ok(outcome)
    }

    /// An image the gatekeeper archived was restored (or is being restored): after a release, its
    /// tags come back once it is active; without one, a block that archives holds again.
    async fn restored_archive(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        state: &ImageState,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let decision = state.decision.unwrap_or(Decision::Pending);
        let now = (self.clock)();
        let cause = Cause::new(
            trigger,
            format!("restored from the archive; verdict {}", decision.as_str()),
            &detail.tags,
        );
        let mode = self.effective_mode(rule);
        let storing = Storing::recorded(image, (detail, state), (rule, mode), &cause, now);
        let stored = self.converge_storage(storing).await?;
        if stored.changed {
            self.announce_storage(image, detail, state, rule, &stored, trigger)
                .await?;
        }
        let status = if stored.changed {
            Status::Acted
        } else {
            Status::Unchanged
        };
        let detail = (stored.reasons.first().cloned())
            .unwrap_or_else(|| format!("storage {}", detail.storage.as_str()));
        let mut outcome = Outcome::new(status, TriggerKind::Restore, Some(image), detail);
        outcome.decision = Some(decision);
        outcome.actions = stored.actions;
        outcome.notified = stored.changed;
        Ok(outcome)
    }
}
