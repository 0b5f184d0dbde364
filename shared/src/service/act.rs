//! From a decision to tag changes: the plan, then in audit mode only reported, in enforce mode counted
//! against the circuit breaker and carried out (see `execute`) while the breaker is closed.

use std::collections::HashMap;

use tracing::{error, warn};

use super::{Gatekeeper, Trigger};
use crate::domain::plan::{Plan, Step, Verified, plan};
use crate::domain::tags::{TagKind, TagScheme};
use crate::domain::time::format_rfc3339;
use crate::domain::verdict::pending;
use crate::domain::{Decision, ImageRef, MediaKind, Mode, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{
    Action, ActionKind, ActionStatus, EventType, VerdictNotice, dedup_key,
};
use crate::ports::{ImageDetail, ImageRegistry, Notifier, Ports, TagChangeBreaker};
use crate::state::Written;

/// What carrying out a plan did.
#[derive(Debug, Default)]
pub(crate) struct Carried {
    /// The tag changes, done or planned.
    pub actions: Vec<Action>,
    /// Things left alone, and why.
    pub problems: Vec<String>,
    /// The circuit breaker held the plan back: the image's tags do not match the decision yet.
    pub held_back: bool,
    /// The image's version after an archive record written with the change, if one was.
    pub stored_version: Option<u64>,
}

/// What an image's tags should say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Target {
    /// The decision the tags show (a block suspended by an override is applied as a release).
    pub tags: Decision,
    /// The image's actual decision, which alone says whether it verifies.
    pub verdict: Decision,
    /// A platform image of an index (no markers: deployments use the index's tags).
    pub platform_of_index: bool,
}

/// Why the gatekeeper changes an image's tags: what the audit trail records with each ECR action.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cause {
    /// The event (or CLI run) that caused it.
    pub event_id: String,
    /// Why, in one line (the verdict's first reason, or the operator's).
    pub reason: String,
    /// Who, for an operator's action (the caller's ARN); the gatekeeper itself otherwise.
    pub actor: Option<String>,
    /// The image's tags before.
    pub tags_before: Vec<String>,
}

impl Target {
    /// The tags for a decision (a block suspended by an override shows as a release).
    pub(crate) fn of(decision: Decision, overridden: bool, platform_of_index: bool) -> Target {
        Target {
            tags: if overridden { Decision::Warn } else { decision },
            verdict: decision,
            platform_of_index,
        }
    }
}

impl Cause {
    /// The cause of a change to `decision` made for `trigger`, named by the verdict's first reason.
    pub(crate) fn of_verdict(
        trigger: &Trigger,
        decision: Decision,
        verdict: &crate::domain::verdict::Verdict,
        tags: &[String],
    ) -> Cause {
        let first = verdict.reasons.first().map_or("", String::as_str);
        Cause::new(trigger, format!("{}: {first}", decision.as_str()), tags)
    }

    /// The cause of a change made for `trigger`, on an image that had `tags`.
    pub(crate) fn new(trigger: &Trigger, reason: impl Into<String>, tags: &[String]) -> Cause {
        Cause {
            event_id: trigger.event_id.clone(),
            reason: reason.into(),
            actor: None,
            tags_before: tags.to_vec(),
        }
    }
}

/// Whether any action changed ECR (not merely found a tag already there or already gone).
pub(crate) fn changed_something(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| a.status == ActionStatus::Done && a.note.is_none())
}

/// A plan as actions that would be taken (audit mode, dry runs).
pub(super) fn would_of(plan: &Plan) -> Vec<Action> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Add { tag } => Action {
                action: ActionKind::AddTag,
                tag: tag.clone(),
                status: ActionStatus::Would,
                note: None,
            },
            Step::Remove { tag, .. } => Action {
                action: ActionKind::RemoveTag,
                tag: tag.clone(),
                status: ActionStatus::Would,
                note: None,
            },
        })
        .collect()
}

fn skipped(plan: &Plan, why: &str) -> Vec<Action> {
    would_of(plan)
        .into_iter()
        .map(|a| Action {
            status: ActionStatus::Skipped,
            note: Some(why.to_string()),
            ..a
        })
        .collect()
}

impl<P: Ports> Gatekeeper<P> {
    /// Makes the image's tags match `target` (enforce), or says what that would take (audit).
    pub(super) async fn apply(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        target: Target,
        mode: Mode,
        cause: &Cause,
    ) -> Result<Carried, Error> {
        let Target {
            tags: decision,
            verdict,
            platform_of_index,
        } = target;
        let owners = if decision.is_deployable() {
            self.owners(image, detail).await?
        } else {
            HashMap::new()
        };
        let kind = MediaKind::classify(
            detail.manifest_media_type.as_deref(),
            detail.artifact_media_type.as_deref(),
        );
        // Platform images of an index and artifacts get no untagged marker: deployments use the
        // index's tags (and the index is marked).
        let standalone = !platform_of_index
            && matches!(
                kind,
                MediaKind::Image | MediaKind::Index | MediaKind::Unknown
            );
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let scheme = self.tags_for(rule);
        let verified = Self::verified_for(rule, verdict);
        let mut plan = plan(
            &scheme,
            &detail.tags,
            &image.digest,
            decision,
            &owners,
            standalone,
            verified,
        );
        if verified == Verified::Set {
            self.keep_last_tags_elsewhere(image, &scheme, &mut plan)
                .await?;
        }
        self.carry_out(image, plan, mode, cause).await
    }

    /// A verified tag moves to this image from an older one (PutImage moves a tag): not when it is
    /// that image's only tag, which would leave it untagged.
    async fn keep_last_tags_elsewhere(
        &self,
        image: &ImageRef,
        scheme: &TagScheme,
        plan: &mut Plan,
    ) -> Result<(), Error> {
        let moving: Vec<String> = plan
            .adds()
            .filter(|t| matches!(scheme.classify(t), TagKind::Verified { .. }))
            .map(str::to_string)
            .collect();
        for tag in moving {
            let Some(owner) = self
                .registry_of(image)
                .await?
                .resolve_tag(&image.repository, &tag)
                .await?
            else {
                continue;
            };
            if owner == image.digest {
                continue;
            }
            let only = self
                .registry_of(image)
                .await?
                .describe_image(&image.repository, &owner)
                .await?
                .is_some_and(|d| d.tags == [tag.clone()]);
            if only {
                plan.steps
                    .retain(|s| !matches!(s, Step::Add { tag: t } if *t == tag));
                plan.notes.push(format!(
                    "{tag} left on {owner}: it is that image's only tag, and moving it would leave the image untagged; tag or delete that image to let {tag} move"
                ));
            }
        }
        Ok(())
    }

    /// Carries a plan out: audit mode only reports it; enforce mode counts it against the circuit
    /// breaker first and stops every tag change while the breaker is open.
    pub(super) async fn carry_out(
        &self,
        image: &ImageRef,
        plan: Plan,
        mode: Mode,
        cause: &Cause,
    ) -> Result<Carried, Error> {
        let mut problems = plan.notes.clone();
        if plan.is_empty() {
            return Ok(Carried {
                problems,
                ..Carried::default()
            });
        }
        // Where tag changes do not reach (replicas, pull-through upstreams) is said with the plan; not
        // knowing it is no reason to withhold a verdict.
        match self
            .registry_of(image)
            .await?
            .repository_notes(&image.repository)
            .await
        {
            Ok(notes) => problems.extend(notes),
            Err(e) => warn!(error = %e, "repository replication and pull-through rules unknown"),
        }
        if mode == Mode::Audit {
            return Ok(Carried {
                actions: would_of(&plan),
                problems,
                held_back: false,
                stored_version: None,
            });
        }
        if let Some(why) = self.breaker_holds(image, plan.steps.len() as u64).await? {
            problems.push(why.clone());
            return Ok(Carried {
                actions: skipped(&plan, &why),
                problems,
                held_back: true,
                stored_version: None,
            });
        }
        let actions = self.execute(image, &plan, &mut problems, cause).await?;
        Ok(Carried {
            actions,
            problems,
            held_back: false,
            stored_version: None,
        })
    }

    /// Counts `changes` ECR changes (tags, archiving) against the circuit breaker: why they must not
    /// be made, when it is open or this count trips it (alerting once); `None` when they may.
    pub(super) async fn breaker_holds(
        &self,
        image: &ImageRef,
        changes: u64,
    ) -> Result<Option<String>, Error> {
        let breaker = self.policy.breaker();
        let now = (self.clock)();
        let counted = self
            .state
            .count_tag_changes(changes, now, breaker.window)
            .await?;
        if let Some(at) = counted.tripped_at {
            warn!(image = %image.display(), "circuit breaker open");
            return Ok(Some(format!(
                "circuit breaker open since {}: no tag changes until an operator resets it (gatekeeper breaker reset)",
                format_rfc3339(at)
            )));
        }
        if counted.count > u64::from(breaker.max_tag_changes) {
            let why = format!(
                "circuit breaker tripped: {} tag changes within {} minutes (limit {}); all tag changes stop until an operator resets it (gatekeeper breaker reset)",
                counted.count,
                breaker.window / 60,
                breaker.max_tag_changes
            );
            error!(image = %image.display(), count = counted.count, "circuit breaker tripped");
            if self.state.trip_breaker(now, &why).await? == Written::Done {
                self.alert_breaker(image, &why).await?;
            }
            return Ok(Some(why));
        }
        Ok(None)
    }

    async fn alert_breaker(&self, image: &ImageRef, why: &str) -> Result<(), Error> {
        let verdict = pending(why.to_string());
        let rule = self.policy.rule_in(&image.repository, self.placed(image));
        let trigger = Trigger::cli(TriggerKind::Breaker, format!("breaker-{}", (self.clock)()));
        let notice = VerdictNotice {
            event_type: EventType::Alert,
            dedup_key: dedup_key(&["breaker", &trigger.event_id]),
            subject: Some("ECR gatekeeper: CIRCUIT BREAKER OPEN, tag changes stopped".into()),
            ..self.notice(image, &verdict, rule, &trigger)
        };
        Ok(self.notifier.publish(&notice.to_message()).await?)
    }
}
