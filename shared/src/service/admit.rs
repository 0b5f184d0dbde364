//! New images: held where the policy says `unscanned = "hold"`, and made sure to be scanned (an index
//! is decided from its platform images instead).

use tracing::{info, warn};

use super::act::Cause;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::plan;
use crate::domain::policy::Unscanned;
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::pending;
use crate::domain::{Decision, ImageRef, MediaKind, Mode, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{EventType, VerdictNotice, dedup_key};
use crate::ports::{ImageRegistry, Notifier, OnceMarks, Ports, StartScan};
use crate::state::{Mark, key_scope};

impl<P: Ports> Gatekeeper<P> {
    /// A new image: held where the policy says so, and made sure to be scanned (an index is decided
    /// from its platform images instead). The sweep admits images whose push event was lost the same way.
    pub(super) async fn admit(
        &self,
        image: &ImageRef,
        kind: MediaKind,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let held = if matches!(
            kind,
            MediaKind::Image | MediaKind::Index | MediaKind::Unknown
        ) && self.rule_of(image).await?.unscanned == Unscanned::Hold
        {
            Some(self.hold(image, trigger).await?)
        } else {
            None
        };
        let mut outcome = if kind == MediaKind::Index {
            self.evaluate_index(image, trigger).await?
        } else {
            self.ensure_scan(image, kind, trigger).await?
        };
        if let Some(held) = held {
            outcome.detail = format!("{}; {}", held.detail, outcome.detail);
            outcome.decision = held.decision;
            outcome.notified |= held.notified;
            if !held.actions.is_empty() {
                outcome.status = Status::Acted;
            }
            outcome.actions = held.actions;
        }
        Ok(outcome)
    }

    /// `unscanned = "hold"`: moves the image's tags to held tags until a verdict releases them.
    async fn hold(&self, image: &ImageRef, trigger: &Trigger) -> Result<Outcome, Error> {
        let Some(detail) = self.detail(image).await? else {
            return Ok(Outcome::gone(TriggerKind::Push, image));
        };
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let mode = self.effective_mode(rule);
        let plan = plan::hold(&self.tags, &detail.tags, &image.digest);
        let cause = Cause::new(
            trigger,
            "unscanned = \"hold\": held until a scan verdict",
            &detail.tags,
        );
        let carried = self.carry_out(image, plan, mode, &cause).await?;
        let (actions, problems) = (carried.actions, carried.problems);
        let mut outcome = Outcome::new(
            Status::Unchanged,
            TriggerKind::Push,
            Some(image),
            "held until a scan verdict",
        );
        outcome.decision = Some(Decision::Pending);
        if super::act::changed_something(&actions) || !problems.is_empty() {
            let verdict = pending(
                "unscanned = \"hold\": the image's tags are held until a scan verdict releases or quarantines them",
            );
            let seen = ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            };
            let tag = image.tags.first().map_or("(untagged)", String::as_str);
            let notice = VerdictNotice {
                mode,
                actions: &actions,
                problems: &problems,
                dedup_key: dedup_key(&["hold", &image.repository, &image.digest, tag]),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            outcome.notified = true;
            outcome.status = Status::Acted;
        }
        if mode == Mode::Audit {
            outcome.detail = "would hold until a scan verdict (audit)".into();
        }
        outcome.actions = actions;
        Ok(outcome)
    }

    /// Makes sure a new image will be scanned, using the repository's effective scanning configuration.
    pub(super) async fn ensure_scan(
        &self,
        image: &ImageRef,
        kind: MediaKind,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        if !kind.is_scannable() {
            info!(image = %image.display(), ?kind, "not scanned itself");
            return Ok(Outcome::new(
                Status::Skipped,
                TriggerKind::Push,
                Some(image),
                format!("{kind:?} manifest: scanners look at the images it refers to"),
            ));
        }
        let coverage = self
            .registry_of(image)
            .await?
            .scan_coverage(&image.repository)
            .await?;
        if coverage.covered() {
            info!(image = %image.display(), frequency = %coverage.frequency, enhanced = coverage.enhanced, "scan will happen");
            return Ok(Outcome::new(
                Status::Unchanged,
                TriggerKind::Push,
                Some(image),
                format!("covered by {} scanning", coverage.frequency),
            ));
        }
        if !coverage.enhanced {
            let detail = match self
                .registry_of(image)
                .await?
                .start_scan(&image.repository, &image.digest)
                .await?
            {
                StartScan::Started => "basic scan started".to_string(),
                StartScan::AlreadyScannedToday => {
                    "basic scan already ran today (one per image per day)".to_string()
                }
                StartScan::Unsupported(why) => format!("ECR cannot scan this image: {why}"),
            };
            info!(image = %image.display(), %detail, "ensure scan");
            return Ok(Outcome::new(
                Status::Acted,
                TriggerKind::Push,
                Some(image),
                detail,
            ));
        }
        // ENHANCED registry, repository matching no rule: nobody will scan this image.
        self.unscanned(image, trigger).await
    }

    /// An image of a repository nothing scans: it stays pending, and an alert says so once a day.
    async fn unscanned(&self, image: &ImageRef, trigger: &Trigger) -> Result<Outcome, Error> {
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let reason = format!(
            "repository {} matches no enhanced scanning rule: its images are not scanned (add it to the registry scanning configuration)",
            image.repository
        );
        warn!(image = %image.display(), "unscanned repository");
        let now = (self.clock)();
        let key = format!(
            "{}alert#unscanned#{}#{}",
            key_scope(image.place.as_ref()),
            image.repository,
            format_date(now)
        );
        let mark = self
            .state
            .mark_once(&key, &trigger.event_id, now, 2 * DAY)
            .await?;
        let mut outcome = Outcome::new(
            Status::Unchanged,
            TriggerKind::Push,
            Some(image),
            reason.clone(),
        );
        if mark != Mark::Taken {
            let verdict = pending(reason);
            let notice = VerdictNotice {
                event_type: EventType::Alert,
                trigger: TriggerKind::Unscanned,
                dedup_key: dedup_key(&["unscanned", &image.repository, &format_date(now)]),
                subject: Some(format!(
                    "ECR gatekeeper: UNSCANNED repository {}",
                    image.repository
                )),
                ..self.notice(image, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            outcome.notified = true;
        }
        outcome.decision = Some(Decision::Pending);
        Ok(outcome)
    }
}
