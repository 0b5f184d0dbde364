//! From a decision to tag changes in ECR: plan, then (in enforce mode, with the circuit breaker
//! closed) add every new tag, confirm it, read the tags again and remove only what still points here.

use std::collections::{HashMap, HashSet};

use tracing::{error, info, warn};

use super::{Gatekeeper, Trigger};
use crate::domain::plan::{Plan, Step, Verified, plan, release_candidates};
use crate::domain::tags::{TagKind, TagScheme};
use crate::domain::time::format_rfc3339;
use crate::domain::verdict::pending;
use crate::domain::{Decision, ImageRef, MediaKind, Mode};
use crate::error::Error;
use crate::outbound::notice::{Action, ActionKind, ActionStatus, VerdictNotice, dedup_key};
use crate::ports::{ImageDetail, ImageRegistry, Notifier, Ports, PutTag, StateStore};
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

impl Cause {
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
        let mut owners = HashMap::new();
        if decision.is_deployable() {
            for original in release_candidates(&self.tags, &detail.tags, &image.digest) {
                let owner = self
                    .registry
                    .resolve_tag(&image.repository, &original)
                    .await?;
                owners.insert(original, owner);
            }
        }
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
        let scheme = self.tags_for(&image.repository);
        let verified = self.verified_for(&image.repository, verdict);
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
            let Some(owner) = self.registry.resolve_tag(&image.repository, &tag).await? else {
                continue;
            };
            if owner == image.digest {
                continue;
            }
            let only = self
                .registry
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
        match self.registry.repository_notes(&image.repository).await {
            Ok(notes) => problems.extend(notes),
            Err(e) => warn!(error = %e, "repository replication and pull-through rules unknown"),
        }
        if mode == Mode::Audit {
            return Ok(Carried {
                actions: would_of(&plan),
                problems,
                held_back: false,
            });
        }
        let breaker = self.policy.breaker();
        let now = (self.clock)();
        let counted = self
            .state
            .count_tag_changes(plan.steps.len() as u64, now, breaker.window)
            .await?;
        if let Some(at) = counted.tripped_at {
            let why = format!(
                "circuit breaker open since {}: no tag changes until an operator resets it (gatekeeper breaker reset)",
                format_rfc3339(at)
            );
            warn!(image = %image.display(), "circuit breaker open");
            problems.push(why.clone());
            return Ok(Carried {
                actions: skipped(&plan, &why),
                problems,
                held_back: true,
            });
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
            problems.push(why.clone());
            return Ok(Carried {
                actions: skipped(&plan, &why),
                problems,
                held_back: true,
            });
        }
        let actions = self.execute(image, &plan, &mut problems, cause).await?;
        Ok(Carried {
            actions,
            problems,
            held_back: false,
        })
    }

    async fn alert_breaker(&self, image: &ImageRef, why: &str) -> Result<(), Error> {
        let verdict = pending(why.to_string());
        let rule = self.policy.rule_for(&image.repository);
        let trigger = Trigger::cli("breaker", format!("breaker-{}", (self.clock)()));
        let notice = VerdictNotice {
            event_type: "alert",
            dedup_key: dedup_key(&["breaker", &trigger.event_id]),
            subject: Some("ECR gatekeeper: CIRCUIT BREAKER OPEN, tag changes stopped".into()),
            ..self.notice(image, &verdict, rule, &trigger)
        };
        Ok(self.notifier.publish(&notice.to_message()).await?)
    }

    /// Executes a plan and writes the audit trail: one structured line per ECR action (what, the
    /// outcome, why, the event that caused it, the policy, the caller for CLI actions, the tags
    /// before), and one with the tags after.
    pub(super) async fn execute(
        &self,
        image: &ImageRef,
        plan: &Plan,
        problems: &mut Vec<String>,
        cause: &Cause,
    ) -> Result<Vec<Action>, Error> {
        let actions = self.execute_steps(image, plan, problems).await?;
        let before = cause.tags_before.join(",");
        let mut after: Vec<String> = cause.tags_before.clone();
        for a in &actions {
            let (action, done) = (
                match a.action {
                    ActionKind::AddTag => "add_tag",
                    ActionKind::RemoveTag => "remove_tag",
                },
                a.status == ActionStatus::Done,
            );
            if done {
                match a.action {
                    ActionKind::AddTag if !after.contains(&a.tag) => after.push(a.tag.clone()),
                    ActionKind::RemoveTag => after.retain(|t| *t != a.tag),
                    ActionKind::AddTag => {}
                }
            }
            info!(
                target: "audit",
                audit = "ecr",
                action,
                status = a.status.as_str(),
                repository = %image.repository,
                digest = %image.digest,
                tag = %a.tag,
                note = a.note.as_deref().unwrap_or(""),
                reason = %cause.reason,
                event_id = %cause.event_id,
                policy = self.policy.hash(),
                actor = cause.actor.as_deref().unwrap_or("gatekeeper"),
                tags_before = %before,
                "ecr tag change"
            );
        }
        after.sort();
        info!(
            target: "audit",
            audit = "ecr",
            action = "tags",
            repository = %image.repository,
            digest = %image.digest,
            reason = %cause.reason,
            event_id = %cause.event_id,
            policy = self.policy.hash(),
            actor = cause.actor.as_deref().unwrap_or("gatekeeper"),
            tags_before = %before,
            tags_after = %after.join(","),
            "ecr tags after"
        );
        Ok(actions)
    }

    async fn execute_steps(
        &self,
        image: &ImageRef,
        plan: &Plan,
        problems: &mut Vec<String>,
    ) -> Result<Vec<Action>, Error> {
        let repo = image.repository.as_str();
        let digest = image.digest.as_str();
        let mut actions = Vec::new();
        let mut confirmed: HashSet<String> = HashSet::new();
        let mut manifest = None;
        for tag in plan.adds() {
            if manifest.is_none() {
                manifest = self.registry.manifest(repo, digest).await?;
            }
            let Some(m) = manifest.as_ref() else {
                problems.push("the image disappeared while being tagged".into());
                break;
            };
            let outcome = match self.registry.put_tag(repo, digest, m, tag).await {
                Ok(PutTag::Created) => Ok(None),
                // The tag exists: fine only if it is on this digest (checked, never assumed).
                Ok(PutTag::AlreadyExists) => match self.registry.resolve_tag(repo, tag).await? {
                    Some(d) if d == digest => Ok(Some("already present".to_string())),
                    Some(other) => Err(format!("{tag} already exists on {other}")),
                    None => Err(format!("{tag} could not be created and does not exist")),
                },
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => Err(e.to_string()),
            };
            match outcome {
                Ok(note) => {
                    confirmed.insert(tag.to_string());
                    info!(image = %image.display(), tag, "tag added");
                    actions.push(Action {
                        action: ActionKind::AddTag,
                        tag: tag.to_string(),
                        status: ActionStatus::Done,
                        note,
                    });
                }
                Err(why) => {
                    error!(image = %image.display(), tag, %why, "tag not added");
                    problems.push(why.clone());
                    actions.push(Action {
                        action: ActionKind::AddTag,
                        tag: tag.to_string(),
                        status: ActionStatus::Failed,
                        note: Some(why),
                    });
                }
            }
        }
        let removes: Vec<(&str, &str)> = plan.removes().collect();
        if removes.is_empty() {
            return Ok(actions);
        }
        // Read the tags again right before removing: BatchDeleteImage removes a tag from whatever image
        // it points to at that moment, so a tag moved by a concurrent push is left alone. The tag that
        // keeps the image must be on it now (added above, or there before).
        let now_tags = match self.registry.describe_image(repo, digest).await? {
            Some(d) => d.tags,
            None => {
                problems.push("the image disappeared while being tagged".into());
                return Ok(actions);
            }
        };
        confirmed.extend(now_tags.iter().cloned());
        let mut still = Vec::new();
        for (tag, keep) in removes {
            let why = if !confirmed.contains(keep) || !now_tags.iter().any(|t| t == keep) {
                format!("{tag} kept: {keep} is not confirmed on this image")
            } else if !now_tags.iter().any(|t| t == tag) {
                warn!(image = %image.display(), tag, "tag moved before removal");
                format!(
                    "{tag} left alone: it no longer points to this image (moved by a concurrent push?)"
                )
            } else {
                still.push(tag.to_string());
                continue;
            };
            problems.push(why.clone());
            actions.push(Action {
                action: ActionKind::RemoveTag,
                tag: tag.to_string(),
                status: ActionStatus::Skipped,
                note: Some(why),
            });
        }
        if still.is_empty() {
            return Ok(actions);
        }
        let removal = self.registry.remove_tags(repo, &still).await?;
        for r in removal.removed {
            if r.digest == digest {
                info!(image = %image.display(), tag = %r.tag, "tag removed");
                actions.push(Action {
                    action: ActionKind::RemoveTag,
                    tag: r.tag,
                    status: ActionStatus::Done,
                    note: None,
                });
            } else {
                let why = format!(
                    "{} moved to {} between the check and the removal and was removed from it: push it again to that image if it was meant to stay",
                    r.tag, r.digest
                );
                error!(image = %image.display(), tag = %r.tag, other = %r.digest, "tag removed from another image");
                problems.push(why.clone());
                actions.push(Action {
                    action: ActionKind::RemoveTag,
                    tag: r.tag,
                    status: ActionStatus::Failed,
                    note: Some(why),
                });
            }
        }
        for tag in removal.absent {
            actions.push(Action {
                action: ActionKind::RemoveTag,
                tag,
                status: ActionStatus::Done,
                note: Some("already absent".into()),
            });
        }
        for (tag, why) in removal.failed {
            error!(image = %image.display(), %tag, %why, "tag not removed");
            problems.push(format!("{tag} not removed: {why}"));
            actions.push(Action {
                action: ActionKind::RemoveTag,
                tag,
                status: ActionStatus::Failed,
                note: Some(why),
            });
        }
        Ok(actions)
    }
}
