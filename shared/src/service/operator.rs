//! What operators do through the CLI: preview a verdict without changing anything, the break-glass
//! release (with a time-boxed override), and putting every quarantined or held tag back (uninstall).

use std::collections::HashMap;

use tracing::warn;

use super::act::{Carried, Cause, changed_something};
use super::history::{deciding, standings};
use super::{Gatekeeper, MAX_ATTEMPTS, Outcome, Status, Trigger, retry_later};
use crate::domain::events::Scanner;
use crate::domain::history::{self, Change};
use crate::domain::plan::{Verified, plan, release_candidates};
use crate::domain::time::{Epoch, format_date};
use crate::domain::verdict::{Subject, Verdict, evaluate};
use crate::domain::{Decision, ImageRef, Mode, ScanState, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{
    Action, ActionKind, ActionStatus, EventType, VerdictNotice, dedup_key,
};
use crate::ports::{
    FindingsSource, ImageAnnotations, ImageDetail, ImageRecords, ImageRegistry, Notifier, Ports,
    Storage, VerdictHistory,
};
use crate::state::{Archive, ArchiveWrite, Claim, Override, Written};

/// The verdict for an image now and the tag changes a delivery would make, computed read-only.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The image with its tags as ECR has them now.
    pub image: ImageRef,
    /// The verdict.
    pub verdict: Verdict,
    /// The scan status used.
    pub scan: ScanState,
    /// Tag changes that would be made (`would`).
    pub actions: Vec<Action>,
    /// Things that would be left alone, and why.
    pub problems: Vec<String>,
    /// The rule that applied.
    pub rule: String,
    /// Whether an operator's override suspends a block now.
    pub overridden: bool,
    /// Where ECR stores the image (an archived image is restored before its tags come back).
    pub storage: Storage,
}

/// `gatekeeper release`: who, why, and whether to override a verdict that still blocks.
#[derive(Debug, Clone)]
pub struct ReleaseRequest<'a> {
    /// The image.
    pub image: &'a ImageRef,
    /// Why (recorded and notified).
    pub reason: &'a str,
    /// The caller's ARN (from STS).
    pub caller: &'a str,
    /// `--force --for`: how long the override lasts, seconds. `None`: refuse while the verdict blocks.
    pub force_for: Option<i64>,
}

impl<P: Ports> Gatekeeper<P> {
    /// Which digest each tag a release would restore points at now (`None`: the tag is free).
    pub(super) async fn owners(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
    ) -> Result<HashMap<String, Option<String>>, Error> {
        let mut owners = HashMap::new();
        for original in release_candidates(&self.tags, &detail.tags, &image.digest) {
            let owner = self
                .registry_of(image)
                .await?
                .resolve_tag(&image.repository, &original)
                .await?;
            owners.insert(original, owner);
        }
        Ok(owners)
    }

    /// The verdict and planned tag changes for an image, without writing anything; `None` when the
    /// image does not exist.
    pub async fn preview<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
    ) -> Result<Option<Preview>, Error> {
        let Some(detail) = self.detail(image).await? else {
            return Ok(None);
        };
        let Some((findings, reported)) = self.findings_of(source, image, scanner).await? else {
            return Ok(None);
        };
        let now = (self.clock)();
        let state = self.state.load(image).await?;
        let in_use = findings
            .iter()
            .any(|f| f.in_use_count.is_some_and(|n| n > 0));
        let at = self.locate(image).await?;
        let rule = self.policy.rule_at(&image.repository, at);
        let rule = &*rule;
        let subject = Subject {
            repository: &image.repository,
            digest: &image.digest,
            baseline: state.first_scan_at.or(detail.pushed_at),
            in_use,
            now,
            at,
        };
        let scan = if reported == ScanState::Unknown {
            detail.scan.clone()
        } else {
            reported
        };
        let verdict = evaluate(&self.policy, &subject, &findings, &scan);
        let overridden = verdict.decision == Decision::Block && state.override_at(now).is_some();
        let for_tags = if overridden {
            Decision::Warn
        } else {
            verdict.decision
        };
        let owners = if for_tags.is_deployable() {
            self.owners(image, &detail).await?
        } else {
            HashMap::new()
        };
        let p = plan(
            &self.tags_for(rule),
            &detail.tags,
            &image.digest,
            for_tags,
            &owners,
            true,
            Self::verified_for(rule, verdict.decision),
        );
        let rule = rule.name.clone();
        let actions = super::act::would_of(&p);
        Ok(Some(Preview {
            image: ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            },
            verdict,
            scan,
            actions,
            problems: p.notes,
            rule,
            overridden,
            storage: detail.storage,
        }))
    }

    /// Break-glass: puts an image's quarantined (and held) tags back. While its verdict still blocks
    /// this is refused unless `force_for` is given, which records a time-boxed override so that the
    /// next event does not quarantine it again. Publishes a `release` message naming the caller.
    /// `Ok(Err(why))` is a refusal.
    pub async fn release<F: FindingsSource + Sync>(
        &self,
        source: &F,
        scanner: Scanner,
        req: &ReleaseRequest<'_>,
    ) -> Result<Result<Outcome, String>, Error> {
        let image = req.image;
        let Some(mut preview) = self.preview(source, image, scanner).await? else {
            return Ok(Err(format!("{} does not exist", image.display())));
        };
        // Lost coverage never improves a decision (an archived image is not scanned): a recorded
        // block stands until a scan says otherwise.
        if preview.verdict.decision == Decision::Pending
            && self.state.load(image).await?.decision == Some(Decision::Block)
        {
            preview.verdict.decision = Decision::Block;
        }
        let blocked = preview.verdict.decision == Decision::Block;
        if blocked && req.force_for.is_none() {
            return Ok(Err(format!(
                "{} still blocks ({}); an exception in the policy is the lasting fix, or use --force --for DURATION for a time-boxed override",
                image.display(),
                preview.verdict.reasons.first().map_or("", String::as_str)
            )));
        }
        let now = (self.clock)();
        let override_ = match req.force_for {
            Some(secs) if blocked => {
                let o = Override {
                    until: now + secs,
                    by: req.caller.to_string(),
                    reason: req.reason.to_string(),
                };
                self.state.set_override(image, &o).await?;
                Some(o)
            }
            _ => None,
        };
        let (carried, mut restoring) = if preview.storage == Storage::Active {
            (self.put_back(req, &preview).await?, false)
        } else {
            self.restore_released(req, &preview).await?
        };
        // An archive may be under way (its record written, ECR not yet asked): the release is
        // recorded so that it restores the image once archived.
        let archiving = self.state.load(image).await?.archive;
        restoring |= archiving.is_some_and(|a| a.archived_at.is_some());
        let previous = self
            .record_release(req, &preview, override_.is_some(), now)
            .await?;
        if restoring {
            // After the release's own record (which sets the sweep's time for the verdict alone).
            self.record_restore(image, preview.storage, req.caller)
                .await?;
        }
        let detail = self
            .announce_release(req, &preview, previous, override_.as_ref(), &carried, now)
            .await?;
        let status = if changed_something(&carried.actions) {
            Status::Acted
        } else {
            Status::Unchanged
        };
        let mut outcome = Outcome::new(status, TriggerKind::Release, Some(image), detail);
        outcome.decision = Some(preview.verdict.decision);
        outcome.actions = carried.actions;
        outcome.notified = true;
        Ok(Ok(outcome))
    }

    /// Puts the image's quarantined and held tags back. An operator's explicit release is carried out
    /// whatever the mode, and past an open breaker.
    async fn put_back(
        &self,
        req: &ReleaseRequest<'_>,
        preview: &Preview,
    ) -> Result<Carried, Error> {
        let image = req.image;
        let detail = ImageDetail {
            digest: image.digest.clone(),
            tags: preview.image.tags.clone(),
            scan: preview.scan.clone(),
            manifest_media_type: None,
            artifact_media_type: None,
            pushed_at: None,
            pulled_at: None,
            storage: Storage::Active,
        };
        let owners = self.owners(image, &detail).await?;
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let p = plan(
            &self.tags_for(rule),
            &detail.tags,
            &image.digest,
            Decision::Warn,
            &owners,
            true,
            Self::verified_for(rule, preview.verdict.decision),
        );
        let mut problems = p.notes.clone();
        let actions = if p.is_empty() {
            Vec::new()
        } else {
            let cause = Cause {
                event_id: format!("release-{}", (self.clock)()),
                reason: format!("release: {}", req.reason),
                actor: Some(req.caller.to_string()),
                tags_before: detail.tags.clone(),
            };
            self.execute(image, &p, &mut problems, &cause).await?
        };
        Ok(Carried {
            actions,
            problems,
            held_back: false,
            stored_version: None,
        })
    }

    /// An archived (or restoring) image is released: ECR is asked to restore it; its tags come back
    /// once ECR reports it active (the restore event, or the sweep). Whether its record must say so.
    async fn restore_released(
        &self,
        req: &ReleaseRequest<'_>,
        preview: &Preview,
    ) -> Result<(Carried, bool), Error> {
        let image = req.image;
        let mut carried = Carried::default();
        if preview.storage == Storage::Archived {
            let registry = self.registry_of(image).await?;
            match registry
                .set_archived(&image.repository, &image.digest, false)
                .await
            {
                Ok(_) => carried.actions.push(Action {
                    action: ActionKind::Restore,
                    tag: String::new(),
                    status: ActionStatus::Done,
                    note: Some("its tags come back once ECR reports it active".into()),
                }),
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(e) => {
                    carried.problems.push(format!("not restored: {e}"));
                    return Ok((carried, false));
                }
            }
        }
        carried.problems.push(
            "restoring from the archive: its tags come back once ECR reports it active (the restore event, or the next sweep)"
                .into(),
        );
        Ok((carried, true))
    }

    /// Records who released an archived image (conditionally, read again when another writer came
    /// first), so that its tags follow once it is active and the sweep looks again meanwhile.
    async fn record_restore(
        &self,
        image: &ImageRef,
        storage: Storage,
        caller: &str,
    ) -> Result<(), Error> {
        for _ in 0..MAX_ATTEMPTS {
            let now = (self.clock)();
            let state = self.state.load(image).await?;
            let mut a = state.archive.unwrap_or_else(|| Archive {
                at: now,
                reason: format!("{} outside the gatekeeper", storage.as_str()),
                archived_at: Some(now),
                restore_by: None,
            });
            a.restore_by = Some(caller.to_string());
            let write = ArchiveWrite::Set(&a);
            let written = self
                .state
                .set_archive(image, state.version, write, a.due(now))
                .await?;
            if written == Written::Done {
                return Ok(());
            }
        }
        Err(retry_later(format!(
            "{}: its record kept changing while the release was recorded; run the release again",
            image.display()
        )))
    }

    /// Records the released disposition, so that the next event for this image finds nothing
    /// changed; the decision notified before.
    async fn record_release(
        &self,
        req: &ReleaseRequest<'_>,
        preview: &Preview,
        overridden: bool,
        now: Epoch,
    ) -> Result<Option<Decision>, Error> {
        let (image, verdict) = (req.image, &preview.verdict);
        let state = self.state.load(image).await?;
        if verdict.decision == Decision::Pending {
            return Ok(state.notified());
        }
        let claim = Claim {
            event_id: format!("release-{now}"),
            at: now,
            decision: verdict.decision,
            previous: state.notified(),
            previous_overridden: state.notified_overridden(),
            sequence: state.version + 1,
            change: state.version + 1,
            overridden,
            deliveries: Vec::new(),
        };
        let written = self
            .state
            .claim(
                image,
                state.exists.then_some(state.version),
                &claim,
                &verdict.summary(),
                self.policy.hash(),
            )
            .await?;
        if written == Written::Done {
            let (from, to) = standings(&claim);
            let change = Change {
                from,
                to,
                actor: req.caller.to_string(),
                rule: preview.rule.clone(),
                tags: self.original_tags(&preview.image.tags),
                ..Change::new(image, claim.change, now, history::Cause::Release)
            };
            self.state.record_change(&deciding(change, verdict)).await?;
            self.state.finish(image, &claim, true).await?;
        } else {
            warn!(image = %image.display(), "state changed during the release; the next event re-decides");
        }
        Ok(state.notified())
    }

    /// The `release` message, naming the caller and any override; its first reason.
    async fn announce_release(
        &self,
        req: &ReleaseRequest<'_>,
        preview: &Preview,
        previous: Option<Decision>,
        override_: Option<&Override>,
        carried: &Carried,
        now: Epoch,
    ) -> Result<String, Error> {
        let image = req.image;
        let rule = self.rule_of(image).await?;
        let rule = &*rule;
        let mut verdict = preview.verdict.clone();
        verdict
            .reasons
            .insert(0, format!("released by {}: {}", req.caller, req.reason));
        if let Some(o) = override_ {
            verdict.reasons.insert(
                1,
                format!("the block is overridden until {}", format_date(o.until)),
            );
        }
        let trigger = Trigger::cli(TriggerKind::Release, format!("release-{now}"));
        let notice = VerdictNotice {
            event_type: EventType::Release,
            override_,
            actor: Some(req.caller),
            previous,
            mode: Mode::Enforce,
            actions: &carried.actions,
            problems: &carried.problems,
            dedup_key: dedup_key(&[
                "release",
                &image.repository,
                &image.digest,
                &now.to_string(),
            ]),
            subject: Some(format!(
                "ECR gatekeeper: RELEASE {} by operator",
                image.display()
            )),
            ..self.notice(&preview.image, &verdict, rule, &trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(verdict.reasons.swap_remove(0))
    }

    /// Uninstall path: puts every quarantined and held tag of an image back where the original tag is
    /// free or already on the image, whatever the verdict. `dry_run` only reports.
    /// `actor` names the caller in the audit trail.
    pub async fn restore_all(
        &self,
        image: &ImageRef,
        dry_run: bool,
        actor: &str,
    ) -> Result<(Vec<Action>, Vec<String>), Error> {
        let Some(detail) = self.detail(image).await? else {
            return Ok((
                Vec::new(),
                vec![format!("{} does not exist", image.display())],
            ));
        };
        if detail.storage != Storage::Active {
            return self.unarchive_for_uninstall(image, &detail, dry_run).await;
        }
        let owners = self.owners(image, &detail).await?;
        // Uninstalling puts quarantined and held tags back and leaves verified tags as they are.
        let p = plan(
            &self.tags,
            &detail.tags,
            &image.digest,
            Decision::Warn,
            &owners,
            true,
            Verified::Off,
        );
        let mut problems = p.notes.clone();
        if dry_run || p.is_empty() {
            return Ok((super::act::would_of(&p), problems));
        }
        let cause = Cause {
            event_id: format!("release-all-{}", (self.clock)()),
            reason: "release --all: uninstalling".into(),
            actor: Some(actor.to_string()),
            tags_before: detail.tags.clone(),
        };
        let actions = self.execute(image, &p, &mut problems, &cause).await?;
        Ok((actions, problems))
    }

    /// Uninstall path for an archived image: the gatekeeper's own archive is undone (restored) and its
    /// record dropped (a deployment still enforcing would archive a block again: uninstall in audit
    /// mode); its tags can only come back once ECR reports it active, by running `release --all`
    /// again. An image archived by something else (a lifecycle rule) is left alone.
    async fn unarchive_for_uninstall(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        dry_run: bool,
    ) -> Result<(Vec<Action>, Vec<String>), Error> {
        let state = self.state.load(image).await?;
        if state
            .archive
            .as_ref()
            .is_none_or(|a| a.archived_at.is_none())
        {
            let why = format!(
                "{} is {}, not by the gatekeeper: left as it is",
                image.display(),
                detail.storage.as_str()
            );
            return Ok((Vec::new(), vec![why]));
        }
        let again = "its tags come back by running release --all again once ECR reports it active";
        let mut action = Action {
            action: ActionKind::Restore,
            tag: String::new(),
            status: ActionStatus::Would,
            note: Some(again.into()),
        };
        if !dry_run && detail.storage == Storage::Archived {
            let restored = self
                .registry_of(image)
                .await?
                .set_archived(&image.repository, &image.digest, false)
                .await;
            if let Err(e) = restored {
                action.status = ActionStatus::Failed;
                action.note = Some(e.to_string());
                return Ok((
                    vec![action],
                    vec![format!("{}: not restored: {e}", image.display())],
                ));
            }
            let dropped = self
                .state
                .set_archive(image, state.version, ArchiveWrite::Drop, state.due_at)
                .await?;
            if dropped == Written::Conflict {
                warn!(image = %image.display(), "archive record changed during the uninstall; run it again");
            }
            action.status = ActionStatus::Done;
        } else if !dry_run {
            action.status = ActionStatus::Skipped;
            action.note = Some(format!("already being restored: {again}"));
        }
        Ok((vec![action], vec![format!("{}: {again}", image.display())]))
    }
}
