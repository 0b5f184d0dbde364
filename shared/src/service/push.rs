//! ECR pushes: a new image is admitted (see `admit`); a new tag on a digest with a verdict gets that
//! verdict at once; a verified tag pushed by hand stays only on an image that verifies.

use tracing::{info, warn};

use super::act::{Carried, Cause, Target, changed_something};
use super::archive::Storing;
use super::{Gatekeeper, Outcome, Status, Trigger};
use crate::domain::events::{Event, Push};
use crate::domain::plan::{self, Verified};
use crate::domain::tags::TagKind;
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, ImageRef, MediaKind, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{VerdictNotice, dedup_key};
use crate::ports::{ImageDetail, ImageRecords, Notifier, Ports};
use crate::state::ImageState;

impl<P: Ports> Gatekeeper<P> {
    pub(super) async fn on_push(&self, event: &Event, push: &Push) -> Result<Outcome, Error> {
        let image = &push.image;
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let scheme = self.tags_for(rule);
        if let Some(tag) = push.tag()
            && matches!(scheme.classify(tag), TagKind::Verified { .. })
            && Self::verified_for(rule, Decision::Pass) == Verified::Set
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
                Status::Skipped,
                TriggerKind::Push,
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
                    Status::Unchanged,
                    TriggerKind::Push,
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
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        if Self::verified_for(rule, decision) == Verified::Set && !suspended {
            let mut o = Outcome::new(
                Status::Unchanged,
                TriggerKind::Push,
                Some(image),
                format!("{tag} is on an image that verifies ({})", decision.as_str()),
            );
            o.decision = Some(decision);
            return Ok(o);
        }
        let Some(detail) = self.detail(image).await? else {
            return Ok(Outcome::gone(TriggerKind::Push, image));
        };
        let carried = self.clear_verified(image, tag, &detail, trigger).await?;
        warn!(image = %image.display(), tag, decision = decision.as_str(), "verified tag on an image that does not verify");
        self.announce_cleared(image, tag, &detail, &state, &carried, trigger)
            .await?;
        let mut o = Outcome::new(
            Status::Acted,
            TriggerKind::Push,
            Some(image),
            format!("{tag} removed: the image does not verify"),
        );
        o.decision = Some(decision);
        o.notified = true;
        o.actions = carried.actions;
        Ok(o)
    }

    /// Removes the verified tags of an image that does not verify.
    async fn clear_verified(
        &self,
        image: &ImageRef,
        tag: &str,
        detail: &ImageDetail,
        trigger: &Trigger,
    ) -> Result<Carried, Error> {
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let mode = self.effective_mode(rule);
        let plan = plan::plan(
            &self.tags_for(rule),
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
        self.carry_out(image, plan, mode, &cause).await
    }

    /// The message that names a verified tag removed from an image that does not verify.
    async fn announce_cleared(
        &self,
        image: &ImageRef,
        tag: &str,
        detail: &ImageDetail,
        state: &ImageState,
        carried: &Carried,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        let decision = state.decision.unwrap_or(Decision::Pending);
        let recall = Recall {
            decision,
            key: "verified-push",
            tag,
            reason: format!(
                "{tag} was pushed to {} in {}, an image that does not verify ({}): verified tags stay only on images that pass",
                image.digest,
                image.repository,
                decision.as_str()
            ),
            subject: format!(
                "ECR gatekeeper: {tag} removed from {} (the image does not verify)",
                image.repository
            ),
            names_tag: false,
        };
        self.announce_recall(image, &recall, detail, state, carried, trigger)
            .await
    }

    /// Applies a known decision to an image's current tags (a new tag on a blocked digest).
    async fn reapply(
        &self,
        image: &ImageRef,
        decision: Decision,
        state: &ImageState,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let Some(detail) = self.detail(image).await? else {
            return Ok(Outcome::gone(trigger.kind, image));
        };
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let cause = Cause::new(
            trigger,
            format!(
                "a tag was pushed to a digest whose verdict is {}",
                decision.as_str()
            ),
            &detail.tags,
        );
        let target = Target {
            tags: decision,
            verdict: decision,
            platform_of_index: !state.parents.is_empty(),
        };
        let mode = self.effective_mode(rule);
        let mut carried = self.apply(image, &detail, target, mode, &cause).await?;
        if !carried.held_back {
            // A push of an archived digest restores it in ECR: a block that archives holds again.
            let stored = self
                .converge_storage(Storing {
                    tags_done: true,
                    ..Storing::recorded(
                        image,
                        (&detail, state),
                        (rule, mode),
                        &cause,
                        (self.clock)(),
                    )
                })
                .await?;
            carried.actions.extend(stored.actions);
            carried.problems.extend(stored.problems);
        }
        let mut outcome = Outcome::new(
            Status::Unchanged,
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
            outcome.status = Status::Acted;
        } else if changed_something(&carried.actions) || !carried.problems.is_empty() {
            self.announce_retag(image, decision, state, &detail, &carried, trigger)
                .await?;
            outcome.status = Status::Acted;
            outcome.notified = true;
        }
        outcome.actions = carried.actions;
        Ok(outcome)
    }

    /// The message of a re-tag of a blocked image: the new tag's verdict and what was done about it.
    async fn announce_retag(
        &self,
        image: &ImageRef,
        decision: Decision,
        state: &ImageState,
        detail: &ImageDetail,
        carried: &Carried,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        let tag = image.tags.first().map_or("(untagged)", String::as_str);
        let recall = Recall {
            decision,
            key: "retag",
            tag,
            reason: format!(
                "tag {tag} was pushed to a digest whose verdict is {}",
                decision.as_str()
            ),
            subject: format!(
                "ECR gatekeeper: {} {}:{tag} (re-tag of a blocked image)",
                decision.as_str().to_ascii_uppercase(),
                image.repository
            ),
            names_tag: true,
        };
        self.announce_recall(image, &recall, detail, state, carried, trigger)
            .await
    }

    /// Publishes the message of a push onto a digest already decided: its recorded verdict, what the
    /// push's tags became, under a key unique to this tag and record version.
    async fn announce_recall(
        &self,
        image: &ImageRef,
        recall: &Recall<'_>,
        detail: &ImageDetail,
        state: &ImageState,
        carried: &Carried,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let verdict = Verdict::recalled(
            recall.decision,
            state.summary.clone().unwrap_or_default(),
            recall.reason.clone(),
        );
        let seen = ImageRef {
            tags: detail.tags.clone(),
            ..image.clone()
        };
        let mut notice = VerdictNotice {
            previous: Some(recall.decision),
            mode: self.effective_mode(rule),
            actions: &carried.actions,
            problems: &carried.problems,
            dedup_key: dedup_key(&[
                recall.key,
                &image.repository,
                &image.digest,
                recall.tag,
                &state.version.to_string(),
            ]),
            subject: Some(recall.subject.clone()),
            ..self.notice(&seen, &verdict, rule, trigger)
        };
        if recall.names_tag {
            notice.subject_tag = Some(recall.tag.to_string());
        }
        Ok(self.notifier.publish(&notice.to_message()).await?)
    }
}

/// What a push onto an already-decided digest announces.
struct Recall<'a> {
    /// The digest's recorded decision.
    decision: Decision,
    /// The kind of change, first part of the message's dedup key.
    key: &'static str,
    /// The pushed tag.
    tag: &'a str,
    /// The verdict's reason.
    reason: String,
    /// The message's subject.
    subject: String,
    /// Whether the message names `tag` as the image's tag (a re-tag) rather than the image's first.
    names_tag: bool,
}
