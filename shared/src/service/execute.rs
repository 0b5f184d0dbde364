//! A plan carried out in ECR: every new tag added and confirmed, the tags read again, only what still
//! points here removed; and the audit trail of each action.

use std::collections::HashSet;

use tracing::{error, info, warn};

use super::Gatekeeper;
use super::act::Cause;
use crate::domain::ImageRef;
use crate::domain::plan::Plan;
use crate::error::Error;
use crate::outbound::notice::{Action, ActionKind, ActionStatus};
use crate::ports::{ImageRegistry, Manifest, Ports, PutTag, Removal};

impl<P: Ports> Gatekeeper<P> {
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
                    ActionKind::Archive => "archive",
                    ActionKind::Restore => "restore",
                },
                a.status == ActionStatus::Done,
            );
            if done {
                match a.action {
                    ActionKind::AddTag if !after.contains(&a.tag) => after.push(a.tag.clone()),
                    ActionKind::RemoveTag => after.retain(|t| *t != a.tag),
                    ActionKind::AddTag | ActionKind::Archive | ActionKind::Restore => {}
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

    /// Adds every new tag, then removes what the plan drops; the actions, done or not.
    async fn execute_steps(
        &self,
        image: &ImageRef,
        plan: &Plan,
        problems: &mut Vec<String>,
    ) -> Result<Vec<Action>, Error> {
        let mut actions = Vec::new();
        let confirmed = self.add_tags(image, plan, problems, &mut actions).await?;
        self.remove_tags(image, plan, confirmed, problems, &mut actions)
            .await?;
        Ok(actions)
    }

    /// Adds the plan's new tags; the tags confirmed on the image.
    async fn add_tags(
        &self,
        image: &ImageRef,
        plan: &Plan,
        problems: &mut Vec<String>,
        actions: &mut Vec<Action>,
    ) -> Result<HashSet<String>, Error> {
        let mut confirmed: HashSet<String> = HashSet::new();
        let mut manifest = None;
        for tag in plan.adds() {
            if manifest.is_none() {
                manifest = self
                    .registry_of(image)
                    .await?
                    .manifest(&image.repository, &image.digest)
                    .await?;
            }
            let Some(m) = manifest.as_ref() else {
                problems.push("the image disappeared while being tagged".into());
                break;
            };
            match self.put_tag(image, m, tag).await? {
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
        Ok(confirmed)
    }

    /// Puts one tag on the image: `Ok(note)` when it is there now, `Err(why)` when it is not; a
    /// failure a retry may cure is an error.
    async fn put_tag(
        &self,
        image: &ImageRef,
        manifest: &Manifest,
        tag: &str,
    ) -> Result<Result<Option<String>, String>, Error> {
        let (repo, digest) = (image.repository.as_str(), image.digest.as_str());
        Ok(
            match self
                .registry_of(image)
                .await?
                .put_tag(repo, digest, manifest, tag)
                .await
            {
                Ok(PutTag::Created) => Ok(None),
                // The tag exists: fine only if it is on this digest (checked, never assumed).
                Ok(PutTag::AlreadyExists) => match self
                    .registry_of(image)
                    .await?
                    .resolve_tag(repo, tag)
                    .await?
                {
                    Some(d) if d == digest => Ok(Some("already present".to_string())),
                    Some(other) => Err(format!("{tag} already exists on {other}")),
                    None => Err(format!("{tag} could not be created and does not exist")),
                },
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => Err(e.to_string()),
            },
        )
    }

    /// Removes the plan's dropped tags that still point here, each only while the tag that keeps the
    /// image is confirmed on it.
    async fn remove_tags(
        &self,
        image: &ImageRef,
        plan: &Plan,
        mut confirmed: HashSet<String>,
        problems: &mut Vec<String>,
        actions: &mut Vec<Action>,
    ) -> Result<(), Error> {
        let removes: Vec<(&str, &str)> = plan.removes().collect();
        if removes.is_empty() {
            return Ok(());
        }
        // Read the tags again right before removing: BatchDeleteImage removes a tag from whatever image
        // it points to at that moment, so a tag moved by a concurrent push is left alone. The tag that
        // keeps the image must be on it now (added above, or there before).
        let now_tags = match self.detail(image).await? {
            Some(d) => d.tags,
            None => {
                problems.push("the image disappeared while being tagged".into());
                return Ok(());
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
        if !still.is_empty() {
            let removal = self
                .registry_of(image)
                .await?
                .remove_tags(&image.repository, &still)
                .await?;
            record_removal(image, removal, problems, actions);
        }
        Ok(())
    }
}

/// What BatchDeleteImage did, as actions: removed here, removed from an image the tag moved to in the
/// meantime, already absent, or failed.
fn record_removal(
    image: &ImageRef,
    removal: Removal,
    problems: &mut Vec<String>,
    actions: &mut Vec<Action>,
) {
    for r in removal.removed {
        if r.digest == image.digest {
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
}
