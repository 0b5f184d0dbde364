//! A block that holds (a rule's `on_block`): a blocked image is archived after its tags are moved,
//! at once or at a deadline while it is in use, so that no pull works, by tag or digest. A release,
//! or a verdict that no longer blocks, restores it; its tags follow once ECR says it is active again
//! (the restore event, or the sweep when that event is lost). An image the gatekeeper archived that
//! comes back without either (a push of the same digest, a restore by hand) is archived again.

use tracing::{info, warn};

use super::act::{Cause, Target};
use super::{Gatekeeper, Trigger};
use crate::domain::archive::{Usage, archive_timing};
use crate::domain::policy::{OnBlock, Rule};
use crate::domain::time::{Epoch, format_date};
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, Finding, ImageRef, MediaKind, Mode};
use crate::error::Error;
use crate::outbound::notice::{Action, ActionKind, ActionStatus, VerdictNotice, dedup_key};
use crate::ports::{ImageDetail, ImageRecords, ImageRegistry, Notifier, Ports, Storage};
use crate::state::{Archive, ImageState, RESTORE_CHECK};

/// One image whose storage is made to follow its disposition.
pub(super) struct Storing<'a> {
    /// The image.
    pub image: &'a ImageRef,
    /// ECR's description of it, read for this evaluation.
    pub detail: &'a ImageDetail,
    /// Its record as read.
    pub state: &'a ImageState,
    /// Its rule.
    pub rule: &'a Rule,
    /// The mode the rule runs in.
    pub mode: Mode,
    /// Its decision.
    pub decision: Decision,
    /// Whether an operator's override suspends the block.
    pub overridden: bool,
    /// A platform image of an index (never archived: the index would stop working on that platform).
    pub platform_of_index: bool,
    /// The findings that block it (a new deadline's grace), with its use.
    pub blocking: &'a [Finding],
    /// When time alone may change the verdict (the sweep looks then too).
    pub verdict_due: Option<Epoch>,
    /// Why the gatekeeper acts (the audit trail).
    pub cause: &'a Cause,
    /// The sweep's time was just rewritten for the verdict alone (a claim): write it again.
    pub rewrite_due: bool,
}

/// What making an image's storage follow its disposition did.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// Archive and restore actions, and the tags put back after a restore.
    pub actions: Vec<Action>,
    /// Things left as they are, and why.
    pub problems: Vec<String>,
    /// What the message says about it ("archives on ... unless fixed or excepted").
    pub reasons: Vec<String>,
    /// Whether ECR changed (archived, restore asked for, tags back).
    pub changed: bool,
    /// The image is on its way back without a release: the sweep looks again soon.
    pub recheck: bool,
}

/// An archive or restore action.
fn storage_action(action: ActionKind, status: ActionStatus, note: Option<String>) -> Action {
    Action {
        action,
        tag: String::new(),
        status,
        note,
    }
}

impl<P: Ports> Gatekeeper<P> {
    /// Whether an evaluation that changes nothing must still look at the image's storage: a deadline
    /// passed, a restore is under way, an archived image may have come back, or a block under an
    /// archiving rule has no record yet (the policy changed, or a delivery stopped half-way).
    pub(super) fn storage_pending(
        state: &ImageState,
        rule: &Rule,
        blocks: bool,
        now: Epoch,
    ) -> bool {
        match &state.archive {
            Some(a) => a.restore_by.is_some() || a.archived_at.is_some() || a.at <= now || !blocks,
            None => blocks && rule.on_block != OnBlock::Retag,
        }
    }

    /// Makes the image's storage follow its disposition and records what it did (the state table
    /// keeps every archived image's reason).
    pub(super) async fn converge_storage(&self, s: &Storing<'_>) -> Result<Stored, Error> {
        let now = (self.clock)();
        let blocks = s.decision == Decision::Block && !s.overridden;
        let mut out = Stored::default();
        let mut record = s.state.archive.clone();
        let archived_by_us = record.as_ref().is_some_and(|a| a.archived_at.is_some());
        if blocks && (s.rule.on_block != OnBlock::Retag || archived_by_us) {
            self.hold_archived(s, &mut record, &mut out, now).await?;
        } else if blocks {
            // The rule no longer archives: a deadline still running is dropped.
            record = None;
        } else if let Some(mut a) = record.take() {
            record = self.unblocked(s, &mut a, &mut out).await?.then_some(a);
        }
        if record != s.state.archive || out.recheck || s.rewrite_due {
            let due = (record.as_ref().and_then(|a| a.due(now)))
                .into_iter()
                .chain(s.verdict_due)
                .chain(out.recheck.then_some(now + RESTORE_CHECK))
                .min();
            self.state
                .set_archive(s.image, record.as_ref(), due)
                .await?;
        }
        Ok(out)
    }

    /// A block that archives: the record's deadline (made now for a new block), then ECR archives
    /// the image once the deadline is reached (counted against the circuit breaker).
    async fn hold_archived(
        &self,
        s: &Storing<'_>,
        record: &mut Option<Archive>,
        out: &mut Stored,
        now: Epoch,
    ) -> Result<(), Error> {
        let kind = MediaKind::classify(
            s.detail.manifest_media_type.as_deref(),
            s.detail.artifact_media_type.as_deref(),
        );
        if s.platform_of_index || !matches!(kind, MediaKind::Image | MediaKind::Unknown) {
            out.problems.push(
                "not archived: image indexes, their platform images and artifacts are only re-tagged"
                    .into(),
            );
            return Ok(());
        }
        if record.is_none() {
            let usage = Usage::of(s.blocking, s.detail.pulled_at, &s.state.own_pulls());
            let blocking: Vec<&Finding> = s.blocking.iter().collect();
            *record = archive_timing(s.rule, &blocking, &usage, now).map(|t| Archive {
                at: t.at,
                reason: t.why,
                archived_at: None,
                restore_by: None,
            });
        }
        let Some(a) = record.as_mut() else {
            return Ok(());
        };
        if s.mode == Mode::Audit {
            // Audit mode never archives: it says what would happen, and keeps no record.
            out.actions.push(storage_action(
                ActionKind::Archive,
                ActionStatus::Would,
                Some(a.reason.clone()),
            ));
            out.reasons.push(format!("audit mode: {}", a.reason));
            *record = s.state.archive.clone();
            return Ok(());
        }
        // A release's restore that the block outlived (its override ended) is over.
        a.restore_by = None;
        match s.detail.storage {
            Storage::Archived => {
                a.archived_at.get_or_insert(now);
                out.reasons.push(format!("archived: {}", a.reason));
            }
            Storage::Activating => {
                out.recheck = true;
                out.problems.push(
                    "being restored from the archive without a release: archived again once active"
                        .into(),
                );
            }
            Storage::Active if a.at > now => out.reasons.push(a.reason.clone()),
            Storage::Active => self.archive_now(s, a, out, now).await?,
        }
        Ok(())
    }

    /// Archives the image now (its tags were moved first), behind the circuit breaker.
    async fn archive_now(
        &self,
        s: &Storing<'_>,
        a: &mut Archive,
        out: &mut Stored,
        now: Epoch,
    ) -> Result<(), Error> {
        let again = a.archived_at.is_some();
        if let Some(why) = self.breaker_holds(s.image, 1).await? {
            out.problems.push(why.clone());
            out.actions.push(storage_action(
                ActionKind::Archive,
                ActionStatus::Skipped,
                Some(why),
            ));
            return Ok(());
        }
        let registry = self.registry_of(s.image).await?;
        match registry
            .set_archived(&s.image.repository, &s.image.digest, true)
            .await
        {
            Ok(Some(_)) => {
                a.archived_at = Some(now);
                out.changed = true;
                let note = again.then(|| "archived again: it came back without a release".into());
                info!(target: "audit", audit = "ecr", action = "archive", repository = %s.image.repository, digest = %s.image.digest, reason = %a.reason, event_id = %s.cause.event_id, "ecr archive");
                out.actions.push(storage_action(
                    ActionKind::Archive,
                    ActionStatus::Done,
                    note,
                ));
                out.reasons.push(format!("archived: {}", a.reason));
                match registry.archive_expiry(&s.image.repository).await {
                    Ok(rules) => out.problems.extend(rules),
                    Err(e) => warn!(error = %e, "lifecycle rules of an archived image unknown"),
                }
            }
            Ok(None) => out.problems.push("not archived: the image is gone".into()),
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                warn!(image = %s.image.display(), error = %e, "not archived");
                out.problems.push(format!("not archived: {e}"));
                out.actions.push(storage_action(
                    ActionKind::Archive,
                    ActionStatus::Failed,
                    Some(e.to_string()),
                ));
            }
        }
        Ok(())
    }

    /// The block no longer holds: a deadline still running is dropped; an image the gatekeeper
    /// archived stays archived until a release restores it (findings that go away while it is archived
    /// are not a fix), unless it is active again anyway; a release's restore goes on. Whether the
    /// record stays.
    async fn unblocked(
        &self,
        s: &Storing<'_>,
        a: &mut Archive,
        out: &mut Stored,
    ) -> Result<bool, Error> {
        if a.restore_by.is_some() {
            return self.bring_back(s, a, out).await;
        }
        if a.archived_at.is_none() || s.detail.storage == Storage::Active {
            return Ok(false);
        }
        out.reasons.push(format!(
            "stays archived ({}): gatekeeper release restores it",
            a.reason
        ));
        Ok(true)
    }

    /// A release's restore: asks ECR to restore the image, and once ECR says it is active, puts its
    /// tags back for the disposition. Whether the record stays (the restore still under way).
    async fn bring_back(
        &self,
        s: &Storing<'_>,
        a: &mut Archive,
        out: &mut Stored,
    ) -> Result<bool, Error> {
        let by = s
            .cause
            .actor
            .clone()
            .unwrap_or_else(|| format!("the verdict ({})", s.decision.as_str()));
        match s.detail.storage {
            Storage::Archived => {
                let registry = self.registry_of(s.image).await?;
                let restored = registry
                    .set_archived(&s.image.repository, &s.image.digest, false)
                    .await;
                match restored {
                    Ok(_) => {
                        a.restore_by.get_or_insert(by);
                        out.changed = true;
                        info!(target: "audit", audit = "ecr", action = "restore", repository = %s.image.repository, digest = %s.image.digest, reason = %s.cause.reason, event_id = %s.cause.event_id, "ecr restore");
                        out.actions.push(storage_action(
                            ActionKind::Restore,
                            ActionStatus::Done,
                            Some("its tags come back once ECR reports it active".into()),
                        ));
                        out.reasons.push(
                            "restoring from the archive: its tags come back once it is active"
                                .into(),
                        );
                    }
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    Err(e) => out.problems.push(format!("not restored: {e}")),
                }
                Ok(true)
            }
            Storage::Activating => {
                a.restore_by.get_or_insert(by);
                out.recheck = true;
                out.reasons.push(
                    "restoring from the archive: its tags come back once it is active".into(),
                );
                Ok(true)
            }
            Storage::Active => {
                let target = Target::of(s.decision, s.overridden, s.platform_of_index);
                let carried = self
                    .apply(s.image, s.detail, target, Mode::Enforce, s.cause)
                    .await?;
                out.changed = true;
                out.actions.extend(carried.actions);
                out.problems.extend(carried.problems);
                out.reasons
                    .push("restored from the archive: its tags are back".into());
                Ok(false)
            }
        }
    }

    /// The message of a storage change outside a change of decision (a deadline passed, a restore
    /// completed, an image archived again): the recorded verdict, what was done, why.
    pub(super) async fn announce_storage(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        state: &ImageState,
        rule: &Rule,
        stored: &Stored,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        let decision = state.decision.unwrap_or(Decision::Pending);
        let first = stored.reasons.first().cloned().unwrap_or_default();
        let mut verdict =
            Verdict::recalled(decision, state.summary.clone().unwrap_or_default(), first);
        verdict
            .reasons
            .extend(stored.reasons.iter().skip(1).cloned());
        let seen = ImageRef {
            tags: detail.tags.clone(),
            ..image.clone()
        };
        let what = if stored
            .actions
            .iter()
            .any(|a| a.action == ActionKind::Archive)
        {
            "ARCHIVED"
        } else {
            "RESTORED"
        };
        let now = (self.clock)();
        let notice = VerdictNotice {
            previous: Some(decision),
            mode: self.effective_mode(rule),
            actions: &stored.actions,
            problems: &stored.problems,
            dedup_key: dedup_key(&[
                "storage",
                &image.repository,
                &image.digest,
                what,
                &now.to_string(),
            ]),
            subject: Some(format!(
                "ECR gatekeeper: {what} {} ({})",
                image.display(),
                format_date(now)
            )),
            ..self.notice(&seen, &verdict, rule, trigger)
        };
        Ok(self.notifier.publish(&notice.to_message()).await?)
    }
}
