//! ECR pushes: a new image is made sure to be scanned (and held, where the policy says `unscanned =
//! "hold"`); a new tag on a digest with a verdict gets that verdict at once.

use tracing::{info, warn};

use super::act::{Cause, Target};
use super::{Gatekeeper, Outcome, Trigger};
use crate::domain::events::{Event, Push};
use crate::domain::index::children;
use crate::domain::plan::{self, Verified};
use crate::domain::policy::Unscanned;
use crate::domain::tags::TagKind;
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::{Verdict, pending};
use crate::domain::{Decision, ImageRef, MediaKind, Mode};
use crate::error::Error;
use crate::outbound::notice::{VerdictNotice, dedup_key};
use crate::ports::{ImageRegistry, Notifier, Ports, StartScan, StateStore};
use crate::state::{ImageState, Mark};

impl<P: Ports> Gatekeeper<P> {
    pub(super) async fn on_push(&self, event: &Event, push: &Push) -> Result<Outcome, Error> {
        let image = &push.image;
        let scheme = self.tags_for(&image.repository);
        if let Some(tag) = push.tag()
            && matches!(scheme.classify(tag), TagKind::Verified { .. })
            && self.verified_for(&image.repository, Decision::Pass) == Verified::Set
        {
            return self
                .check_verified_push(image, tag, &Trigger::of(event))
                .await;
        }
        if let Some(tag) = push.tag()
            && scheme.is_reserved(tag)
        {
            info!(image = %image.display(), tag, "skipped: the gatekeeper's own tag");
            return Ok(Outcome::new(
                "skipped",
                "push",
                Some(image),
                format!("{tag} carries a reserved prefix: not a new image"),
            ));
        }
        let now = (self.clock)();
        let state = self.state.record_push(image, now).await?;
        let trigger = Trigger::of(event);
        match state.decision {
            Some(Decision::Block) if state.override_at(now).is_none() => {
                // Re-tagging a blocked digest must not produce a deployable tag: apply the verdict now.
                self.reapply(image, Decision::Block, &state, &trigger).await
            }
            Some(d @ (Decision::Block | Decision::Pass | Decision::Warn)) => {
                info!(image = %image.display(), decision = d.as_str(), "push of a digest with a verdict");
                let mut o = Outcome::new(
                    "unchanged",
                    "push",
                    Some(image),
                    format!("digest already has verdict {}", d.as_str()),
                );
                o.decision = Some(d);
                Ok(o)
            }
            Some(Decision::Pending) | None => {
                let kind = MediaKind::classify(
                    push.manifest_media_type.as_deref(),
                    push.artifact_media_type.as_deref(),
                );
                self.admit(image, kind, &trigger).await
            }
        }
    }

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
        ) && self.policy.rule_for(&image.repository).unscanned == Unscanned::Hold
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
                outcome.status = "acted";
            }
            outcome.actions = held.actions;
        }
        Ok(outcome)
    }

    /// A verified tag pushed by someone (or by the gatekeeper itself): it stays only on an image that
    /// verifies; anywhere else it is removed at once and the message names it.
    async fn check_verified_push(
        &self,
        image: &ImageRef,
        tag: &str,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let now = (self.clock)();
        let state = self.state.load(image).await?;
        let decision = state.decision.unwrap_or(Decision::Pending);
        let suspended = decision == Decision::Block && state.override_at(now).is_some();
        if self.verified_for(&image.repository, decision) == Verified::Set && !suspended {
            let mut o = Outcome::new(
                "unchanged",
                "push",
                Some(image),
                format!("{tag} is on an image that verifies ({})", decision.as_str()),
            );
            o.decision = Some(decision);
            return Ok(o);
        }
        let Some(detail) = self
            .registry
            .describe_image(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::new(
                "skipped",
                "push",
                Some(image),
                "image no longer in ECR",
            ));
        };
        let rule = self.policy.rule_for(&image.repository);
        let mode = self.effective_mode(rule);
        let plan = plan::plan(
            &self.tags_for(&image.repository),
            &detail.tags,
            &image.digest,
            Decision::Pending,
            &std::collections::HashMap::new(),
            true,
            Verified::Clear,
        );
        let cause = Cause::new(
            trigger,
            format!("{tag} pushed onto an image that does not verify"),
            &detail.tags,
        );
        let carried = self.carry_out(image, plan, mode, &cause).await?;
        warn!(image = %image.display(), tag, decision = decision.as_str(), "verified tag on an image that does not verify");
        let verdict = Verdict::recalled(
            decision,
            state.summary.clone().unwrap_or_default(),
            format!(
                "{tag} was pushed to {} in {}, an image that does not verify ({}): verified tags stay only on images that pass",
                image.digest,
                image.repository,
                decision.as_str()
            ),
        );
        let seen = ImageRef {
            tags: detail.tags.clone(),
            ..image.clone()
        };
        let notice = VerdictNotice {
            previous: Some(decision),
            mode,
            actions: &carried.actions,
            problems: &carried.problems,
            dedup_key: dedup_key(&[
                "verified-push",
                &image.repository,
                &image.digest,
                tag,
                &state.version.to_string(),
            ]),
            subject: Some(format!(
                "ECR gatekeeper: {tag} removed from {} (the image does not verify)",
                image.repository
            )),
            ..self.notice(&seen, &verdict, rule, trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        let mut o = Outcome::new(
            "acted",
            "push",
            Some(image),
            format!("{tag} removed: the image does not verify"),
        );
        o.decision = Some(decision);
        o.notified = true;
        o.actions = carried.actions;
        Ok(o)
    }

    /// An image index: links it to its platform images and decides it from their verdicts so far
    /// (pending until they are scanned; each platform image's verdict decides it again). Public for
    /// the CLI's reconcile.
    pub async fn evaluate_index(
        &self,
        image: &ImageRef,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let Some(manifest) = self
            .registry
            .manifest(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::new(
                "skipped",
                "push",
                Some(image),
                "image no longer in ECR",
            ));
        };
        let platforms: Vec<(String, String)> = match children(&manifest.body) {
            Ok(kids) => kids
                .into_iter()
                .filter(|k| !k.attestation)
                .map(|k| (k.digest, k.platform))
                .collect(),
            Err(why) => {
                warn!(image = %image.display(), reason = %why, "image index not readable");
                return Ok(Outcome::new(
                    "skipped",
                    "push",
                    Some(image),
                    format!("image index not readable: {why}"),
                ));
            }
        };
        self.state
            .link_index(&image.repository, &image.digest, &platforms)
            .await?;
        self.judge_index(image, &platforms, trigger).await
    }

    /// An image or tag was deleted. When the image itself is gone, it leaves the tickets it was in
    /// (resolving those it was the last image of); a deleted tag changes nothing.
    pub(super) async fn on_delete(
        &self,
        event: &Event,
        image: &ImageRef,
    ) -> Result<Outcome, Error> {
        let trigger = Trigger::of(event);
        if self
            .registry
            .describe_image(&image.repository, &image.digest)
            .await?
            .is_some()
        {
            return Ok(Outcome::new(
                "skipped",
                "delete",
                Some(image),
                "a tag was deleted; the image is still in ECR",
            ));
        }
        let state = self.state.load(image).await?;
        for id in &state.tickets {
            self.drop_from_ticket(image, id, &trigger).await?;
        }
        if !state.tickets.is_empty() {
            self.state.set_image_tickets(image, &[]).await?;
        }
        info!(image = %image.display(), tickets = state.tickets.len(), "image deleted");
        Ok(Outcome::new(
            "unchanged",
            "delete",
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
        let Some(detail) = self
            .registry
            .describe_image(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::new(
                "skipped",
                "restore",
                Some(image),
                "image no longer in ECR",
            ));
        };
        self.state.reset_image(image).await?;
        let kind = MediaKind::classify(
            detail.manifest_media_type.as_deref(),
            detail.artifact_media_type.as_deref(),
        );
        let mut outcome = self.ensure_scan(image, kind, &trigger).await?;
        outcome.kind = "restore";
        Ok(outcome)
    }

    /// `unscanned = "hold"`: moves the image's tags to held tags until a verdict releases them.
    async fn hold(&self, image: &ImageRef, trigger: &Trigger) -> Result<Outcome, Error> {
        let Some(detail) = self
            .registry
            .describe_image(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::new(
                "skipped",
                "push",
                Some(image),
                "image no longer in ECR",
            ));
        };
        let rule = self.policy.rule_for(&image.repository);
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
            "unchanged",
            "push",
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
            outcome.status = "acted";
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
                "skipped",
                "push",
                Some(image),
                format!("{kind:?} manifest: scanners look at the images it refers to"),
            ));
        }
        let coverage = self.registry.scan_coverage(&image.repository).await?;
        if coverage.covered() {
            info!(image = %image.display(), frequency = %coverage.frequency, enhanced = coverage.enhanced, "scan will happen");
            return Ok(Outcome::new(
                "unchanged",
                "push",
                Some(image),
                format!("covered by {} scanning", coverage.frequency),
            ));
        }
        if !coverage.enhanced {
            let detail = match self
                .registry
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
            return Ok(Outcome::new("acted", "push", Some(image), detail));
        }
        // ENHANCED registry, repository matching no rule: nobody will scan this image.
        let rule = self.policy.rule_for(&image.repository);
        let reason = format!(
            "repository {} matches no enhanced scanning rule: its images are not scanned (add it to the registry scanning configuration)",
            image.repository
        );
        warn!(image = %image.display(), "unscanned repository");
        let now = (self.clock)();
        let key = format!("alert#unscanned#{}#{}", image.repository, format_date(now));
        let mark = self
            .state
            .mark_once(&key, &trigger.event_id, now, 2 * DAY)
            .await?;
        let mut outcome = Outcome::new("unchanged", "push", Some(image), reason.clone());
        if mark != Mark::Taken {
            let verdict = pending(reason);
            let notice = VerdictNotice {
                event_type: "alert",
                trigger: "unscanned",
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

    /// Applies a known decision to an image's current tags (a new tag on a blocked digest).
    async fn reapply(
        &self,
        image: &ImageRef,
        decision: Decision,
        state: &ImageState,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let Some(detail) = self
            .registry
            .describe_image(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::new(
                "skipped",
                trigger.kind,
                Some(image),
                "image no longer in ECR",
            ));
        };
        let rule = self.policy.rule_for(&image.repository);
        let mode = self.effective_mode(rule);
        let cause = Cause::new(
            trigger,
            format!(
                "a tag was pushed to a digest whose verdict is {}",
                decision.as_str()
            ),
            &detail.tags,
        );
        let carried = self
            .apply(
                image,
                &detail,
                Target {
                    tags: decision,
                    verdict: decision,
                    platform_of_index: !state.parents.is_empty(),
                },
                mode,
                &cause,
            )
            .await?;
        let (actions, problems) = (carried.actions, carried.problems);
        let mut outcome = Outcome::new(
            "unchanged",
            trigger.kind,
            Some(image),
            format!("digest already has verdict {}", decision.as_str()),
        );
        outcome.decision = Some(decision);
        // While the change to this decision is still being applied (its claim is open), the tags this
        // push changed are part of that change, which announces it: a second message would report one
        // block twice (a push delivered late, or racing the scan's event); racing it, this push may also
        // find tags already moved (problems that are not news).
        let announced_elsewhere = state.claim.as_ref().is_some_and(|c| c.decision == decision);
        if announced_elsewhere {
            info!(image = %image.display(), by = ?state.claim.as_ref().map(|c| &c.event_id), "tags applied; the change in progress announces them");
            outcome.status = "acted";
        } else if super::act::changed_something(&actions) || !problems.is_empty() {
            let tag = image.tags.first().map_or("(untagged)", String::as_str);
            let verdict = Verdict::recalled(
                decision,
                state.summary.clone().unwrap_or_default(),
                format!(
                    "tag {tag} was pushed to a digest whose verdict is {}",
                    decision.as_str()
                ),
            );
            let seen = ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            };
            let notice = VerdictNotice {
                previous: Some(decision),
                mode,
                actions: &actions,
                problems: &problems,
                dedup_key: dedup_key(&[
                    "retag",
                    &image.repository,
                    &image.digest,
                    tag,
                    &state.version.to_string(),
                ]),
                subject: Some(format!(
                    "ECR gatekeeper: {} {}:{tag} (re-tag of a blocked image)",
                    decision.as_str().to_ascii_uppercase(),
                    image.repository
                )),
                subject_tag: Some(tag.to_string()),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            outcome.status = "acted";
            outcome.notified = true;
        }
        outcome.actions = actions;
        Ok(outcome)
    }
}
