//! A block that holds (a rule's `on_block`): a blocked image is archived after its tags are moved,
//! at once or at a deadline while it is in use, so that no pull works, by tag or digest. A release
//! restores it; its tags follow once ECR says it is active again (the restore event, or the sweep
//! when that event is lost). An image the gatekeeper archived that comes back without a release is
//! archived again.
//!
//! Concurrency: the archive record is written like a claim, conditionally on the image's version,
//! which the write moves on; a lost write reads the record and ECR again and decides again. The
//! record says `archived_at` *before* ECR is asked to archive (a delivery that stops in between
//! leaves an image that the next evaluation archives), so an archived image never lacks its reason.

use tracing::{info, warn};

use super::act::{Cause, Target};
use super::{Gatekeeper, MAX_ATTEMPTS, Trigger, retry_later};
use crate::domain::archive::{Usage, archive_timing};
use crate::domain::policy::{OnBlock, Rule, Unscanned};
use crate::domain::time::{DAY, Epoch, format_date};
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, Finding, ImageRef, MediaKind, Mode, digest_hex12};
use crate::error::Error;
use crate::outbound::notice::{Action, ActionKind, ActionStatus, VerdictNotice, dedup_key};
use crate::ports::{ImageDetail, ImageRecords, ImageRegistry, Notifier, OnceMarks, Ports, Storage};
use crate::state::{Archive, ArchiveWrite, ImageState, Mark, RESTORE_CHECK, Written, key_scope};

/// One image whose storage is made to follow its disposition.
pub(super) struct Storing<'a> {
    /// The image.
    pub image: &'a ImageRef,
    /// ECR's description of it, read for this evaluation (read again after a lost write).
    pub detail: ImageDetail,
    /// Its record as read (read again after a lost write).
    pub state: ImageState,
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
    /// The findings that block it (a new deadline's grace, the image's use).
    pub blocking: &'a [Finding],
    /// When time alone may change the verdict (the sweep looks then too).
    pub verdict_due: Option<Epoch>,
    /// Why the gatekeeper acts (the audit trail).
    pub cause: &'a Cause,
    /// The caller has just moved the tags for this disposition.
    pub tags_done: bool,
    /// A claim has just set the sweep's time for the verdict alone: a deadline must be written again.
    pub rewrite_due: bool,
}

impl<'a> Storing<'a> {
    /// The pass for an image's recorded disposition (a push, a restore: no verdict computed), an
    /// override in force suspending a block as a verdict sees it; its tags not moved by the caller.
    pub(super) fn recorded(
        image: &'a ImageRef,
        (detail, state): (&ImageDetail, &ImageState),
        (rule, mode): (&'a Rule, Mode),
        cause: &'a Cause,
        now: Epoch,
    ) -> Storing<'a> {
        let decision = state.decision.unwrap_or(Decision::Pending);
        Storing {
            image,
            detail: detail.clone(),
            state: state.clone(),
            rule,
            mode,
            decision,
            overridden: decision == Decision::Block && state.override_at(now).is_some(),
            platform_of_index: !state.parents.is_empty(),
            blocking: &[],
            verdict_due: state.summary.as_ref().and_then(|s| s.due),
            cause,
            tags_done: false,
            rewrite_due: false,
        }
    }
}

/// What making an image's storage follow its disposition did.
#[derive(Debug, Default)]
pub(super) struct Stored {
    /// Archive and restore actions, and tag changes made for them.
    pub actions: Vec<Action>,
    /// Things left as they are, and why.
    pub problems: Vec<String>,
    /// What the message says about it ("archives on ... unless fixed or excepted").
    pub reasons: Vec<String>,
    /// Whether ECR changed (archived, restore asked for, tags back).
    pub changed: bool,
    /// The image's version after the last write made here, if any.
    pub version_after: Option<u64>,
}

/// What one pass decided: the record to keep, when the sweep must look again (sooner than the
/// record says), and the record as this pass already wrote it (an archive's intent), if it did.
#[derive(Default)]
struct Pass {
    record: Option<Archive>,
    recheck: Option<Epoch>,
    written: Option<Option<Archive>>,
    /// A restore completed (its tags are back): the record goes, and when is remembered.
    unarchived: bool,
}

impl Pass {
    /// Keeps `record`, the sweep looking again at `recheck` if given.
    fn keep(record: Option<Archive>, recheck: Option<Epoch>) -> Pass {
        Pass {
            record,
            recheck,
            ..Pass::default()
        }
    }
}

/// `out` with each reason and problem once (a pass read again after a lost write says them again).
fn tidy(mut out: Stored) -> Stored {
    for texts in [&mut out.reasons, &mut out.problems] {
        let mut seen = std::collections::HashSet::new();
        texts.retain(|t| seen.insert(t.clone()));
    }
    out
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

    /// Makes the image's storage follow its disposition and records what it did. Nothing to do (no
    /// record, a rule that only re-tags) costs nothing.
    pub(super) async fn converge_storage(&self, mut s: Storing<'_>) -> Result<Stored, Error> {
        let mut out = Stored::default();
        let blocks = s.decision == Decision::Block && !s.overridden;
        if s.state.archive.is_none() && (!blocks || s.rule.on_block == OnBlock::Retag) {
            return Ok(out);
        }
        for _ in 0..MAX_ATTEMPTS {
            if self.converge_once(&s, &mut out).await? == Written::Done {
                return Ok(tidy(out));
            }
            // Another writer came first: read the record and ECR again, and decide again; when the
            // disposition itself changed (a new verdict, a release), its writer takes it from here.
            s.state = self.state.load(s.image).await?;
            let now = (self.clock)();
            let overridden =
                s.state.decision == Some(Decision::Block) && s.state.override_at(now).is_some();
            if s.state.decision != Some(s.decision) || overridden != s.overridden {
                return Ok(tidy(out));
            }
            match self.detail(s.image).await? {
                Some(d) => s.detail = d,
                None => return Ok(tidy(out)),
            }
        }
        Err(retry_later(format!(
            "{}: its archive record kept changing; retry",
            s.image.display()
        )))
    }

    /// One pass over a fresh read: the ECR action, then the record (conditionally).
    async fn converge_once(&self, s: &Storing<'_>, out: &mut Stored) -> Result<Written, Error> {
        let now = (self.clock)();
        let blocks = s.decision == Decision::Block && !s.overridden;
        let ours = (s.state.archive.as_ref()).is_some_and(|a| a.archived_at.is_some());
        let mut version = s.state.version;
        let pass = if blocks && (s.rule.on_block != OnBlock::Retag || ours) {
            match self.hold_archived(s, out, now, &mut version).await? {
                Some(pass) => pass,
                None => return Ok(Written::Conflict),
            }
        } else if blocks {
            // The rule no longer archives: a deadline still running is dropped.
            Pass::default()
        } else {
            match s.state.archive.clone() {
                Some(a) => self.unblocked(s, a, out, now).await?,
                None => Pass::default(),
            }
        };
        let written = pass
            .written
            .clone()
            .unwrap_or_else(|| s.state.archive.clone());
        let pending = pass.record.as_ref().is_some_and(|a| a.deadline().is_some());
        if pass.record == written && pass.recheck.is_none() && !(s.rewrite_due && pending) {
            return Ok(Written::Done);
        }
        // A deadline that passed without an archive gives way to the time to try again.
        let record_due = (pass.record.as_ref().and_then(|a| a.due(now)))
            .filter(|d| *d > now || pass.recheck.is_none());
        let due = (record_due.into_iter())
            .chain(s.verdict_due)
            .chain(pass.recheck)
            .min();
        let write = match &pass.record {
            Some(a) => ArchiveWrite::Set(a),
            None if pass.unarchived => ArchiveWrite::Unarchived(now),
            None => ArchiveWrite::Drop,
        };
        let result = self.state.set_archive(s.image, version, write, due).await?;
        if result == Written::Done {
            out.version_after = Some(version + 1);
        }
        Ok(result)
    }

    /// A block that archives: the record's deadline (made now for a new block), then ECR archives
    /// the image once the deadline is reached. `None` when the record changed under it.
    async fn hold_archived(
        &self,
        s: &Storing<'_>,
        out: &mut Stored,
        now: Epoch,
        version: &mut u64,
    ) -> Result<Option<Pass>, Error> {
        let kind = MediaKind::classify(
            s.detail.manifest_media_type.as_deref(),
            s.detail.artifact_media_type.as_deref(),
        );
        let keep = |record: Option<Archive>| Pass::keep(record, None);
        if s.platform_of_index || !matches!(kind, MediaKind::Image | MediaKind::Unknown) {
            out.problems.push(
                "not archived: image indexes, their platform images and artifacts are only re-tagged"
                    .into(),
            );
            return Ok(Some(keep(s.state.archive.clone())));
        }
        let mut record = s.state.archive.clone().or_else(|| {
            let holds = s.rule.unscanned == Unscanned::Hold;
            let usage = Usage::of(s.blocking, s.detail.pulled_at, &s.state.own_pulls(holds));
            let blocking: Vec<&Finding> = s.blocking.iter().collect();
            archive_timing(s.rule, &blocking, &usage, now).map(|t| Archive {
                at: t.at,
                reason: t.why,
                archived_at: None,
                restore_by: None,
            })
        });
        let Some(a) = record.as_mut() else {
            return Ok(Some(keep(None)));
        };
        if s.mode == Mode::Audit {
            // Audit mode never archives: it says what would happen, and keeps no record.
            out.actions.push(storage_action(
                ActionKind::Archive,
                ActionStatus::Would,
                Some(a.reason.clone()),
            ));
            out.reasons.push(format!("audit mode: {}", a.reason));
            return Ok(Some(keep(s.state.archive.clone())));
        }
        // A release's restore that the block outlived (its override ended) is over.
        a.restore_by = None;
        let recheck = match s.detail.storage {
            Storage::Archived => {
                // Archived by the gatekeeper (a delivery stopped before recording it), or by
                // something else while it was blocked: it stays archived, for this reason.
                a.archived_at.get_or_insert(now);
                out.reasons.push(format!("archived: {}", a.reason));
                None
            }
            Storage::Activating | Storage::Unknown => {
                out.problems.push(format!(
                    "the image is {} without a release: archived again once ECR reports it active",
                    s.detail.storage.as_str()
                ));
                Some(now + RESTORE_CHECK)
            }
            Storage::Active if a.at > now => {
                out.reasons.push(a.reason.clone());
                None
            }
            Storage::Active => return self.archive_now(s, record, out, now, version).await,
        };
        Ok(Some(Pass::keep(record, recheck)))
    }

    /// Archives the image now: never where a lifecycle rule would then delete it, behind the circuit
    /// breaker; the record says so before anything changes, then its tags are moved (when the caller
    /// has not), then ECR archives it. `None` when the record changed under it.
    async fn archive_now(
        &self,
        s: &Storing<'_>,
        mut record: Option<Archive>,
        out: &mut Stored,
        now: Epoch,
        version: &mut u64,
    ) -> Result<Option<Pass>, Error> {
        let Some(a) = record.as_mut() else {
            return Ok(Some(Pass::keep(record, None)));
        };
        let skipped = |out: &mut Stored, why: String| {
            out.problems.push(why.clone());
            out.actions.push(storage_action(
                ActionKind::Archive,
                ActionStatus::Skipped,
                Some(why),
            ));
        };
        if let Some(why) = self.archive_refused(s).await? {
            skipped(out, why);
            return Ok(Some(Pass::keep(record, Some(now + RETRY_ARCHIVE))));
        }
        // Came back without a release (archived earlier, longer ago than a delivery takes).
        let again = a.archived_at.is_some_and(|t| now - t > self.claim_lease);
        a.archived_at = Some(now);
        let intent = ArchiveWrite::Set(a);
        let due = Some(now + RESTORE_CHECK);
        if self
            .state
            .set_archive(s.image, *version, intent, due)
            .await?
            == Written::Conflict
        {
            return Ok(None);
        }
        *version += 1;
        out.version_after = Some(*version);
        let written = Some(Some(a.clone()));
        if !s.tags_done && !self.block_tags(s).await? {
            skipped(
                out,
                "not archived: its tags are not all moved yet (archived once they are)".into(),
            );
            a.archived_at = None;
            let recheck = Some(now + RESTORE_CHECK);
            return Ok(Some(Pass {
                record,
                recheck,
                written,
                ..Pass::default()
            }));
        }
        let (recheck, gone) = self.ask_ecr_to_archive(s, a, again, out, now).await?;
        if gone {
            record = None;
        }
        Ok(Some(Pass {
            record,
            recheck,
            written,
            ..Pass::default()
        }))
    }

    /// UpdateImageStorageClass to ARCHIVE, and what it came to: when to try again (a refusal), and
    /// whether the image is gone. A refusal after another delivery archived it first is no failure.
    async fn ask_ecr_to_archive(
        &self,
        s: &Storing<'_>,
        a: &mut Archive,
        again: bool,
        out: &mut Stored,
        now: Epoch,
    ) -> Result<(Option<Epoch>, bool), Error> {
        let registry = self.registry_of(s.image).await?;
        let archived = registry
            .set_archived(&s.image.repository, &s.image.digest, true)
            .await;
        match archived {
            Ok(Some(_)) => {
                self.archived(s, a, again, out);
                Ok((None, false))
            }
            Ok(None) => {
                out.problems.push("not archived: the image is gone".into());
                Ok((None, true))
            }
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => {
                let now_stored = self.detail(s.image).await?.map(|d| d.storage);
                if now_stored == Some(Storage::Archived) {
                    return Ok((None, false));
                }
                warn!(image = %s.image.display(), error = %e, "not archived");
                out.problems.push(format!("not archived: {e}"));
                out.actions.push(storage_action(
                    ActionKind::Archive,
                    ActionStatus::Failed,
                    Some(e.to_string()),
                ));
                a.archived_at = None;
                Ok((Some(now + RETRY_ARCHIVE), false))
            }
        }
    }

    /// What an archive that went through says: the audit line, the action, the reason.
    fn archived(&self, s: &Storing<'_>, a: &Archive, again: bool, out: &mut Stored) {
        out.changed = true;
        let note = again.then(|| "archived again: it came back without a release".into());
        info!(target: "audit", audit = "ecr", action = "archive", repository = %s.image.repository, digest = %s.image.digest, reason = %a.reason, event_id = %s.cause.event_id, policy = self.policy.hash(), actor = s.cause.actor.as_deref().unwrap_or("gatekeeper"), "ecr archive");
        out.actions.push(storage_action(
            ActionKind::Archive,
            ActionStatus::Done,
            note,
        ));
        out.reasons.push(format!("archived: {}", a.reason));
    }

    /// Why the image must not be archived now, if it must not: a lifecycle rule that would delete it
    /// once archived (or a policy that cannot be read), or the circuit breaker.
    async fn archive_refused(&self, s: &Storing<'_>) -> Result<Option<String>, Error> {
        let registry = self.registry_of(s.image).await?;
        match registry.archive_expiry(&s.image.repository).await {
            Ok(rules) if rules.is_empty() => {}
            Ok(rules) => {
                return Ok(Some(format!(
                    "not archived, re-tagged only: {} (never a deletion the gatekeeper causes)",
                    rules.join("; ")
                )));
            }
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                return Ok(Some(format!(
                    "not archived, re-tagged only: the repository's lifecycle policy could not be read ({e}); it could delete archived images"
                )));
            }
        }
        self.breaker_holds(s.image, 1).await
    }

    /// Moves the image's tags for its block (an image the caller did not re-tag: it came back, the
    /// deadline passed, the mode changed); whether every change went through.
    async fn block_tags(&self, s: &Storing<'_>) -> Result<bool, Error> {
        let target = Target::of(Decision::Block, false, s.platform_of_index);
        let carried = self
            .apply(s.image, &s.detail, target, s.mode, s.cause)
            .await?;
        Ok(!carried.held_back && (carried.actions.iter()).all(|a| a.status == ActionStatus::Done))
    }

    /// The block no longer holds (or is suspended): a deadline still running is dropped; a release's
    /// restore goes on; an image the gatekeeper archived stays archived until a release restores it
    /// (findings that go away while it is not scanned are not a fix), unless it came back anyway,
    /// when its tags follow its disposition.
    async fn unblocked(
        &self,
        s: &Storing<'_>,
        mut a: Archive,
        out: &mut Stored,
        now: Epoch,
    ) -> Result<Pass, Error> {
        let soon = Some(now + RESTORE_CHECK);
        if a.restore_by.is_some() {
            return self.bring_back(s, a, out, (now, true)).await;
        }
        let Some(archived_at) = a.archived_at else {
            return Ok(Pass::default());
        };
        match s.detail.storage {
            // Archived just now by a delivery that may still be finishing: left to it.
            Storage::Active if now - archived_at <= self.claim_lease => {
                Ok(Pass::keep(Some(a), soon))
            }
            Storage::Active => {
                a.restore_by = Some("a restore outside the gatekeeper".into());
                self.bring_back(s, a, out, (now, false)).await
            }
            Storage::Activating | Storage::Unknown => {
                out.reasons.push(format!(
                    "the image is {}: its tags follow once ECR reports it active",
                    s.detail.storage.as_str()
                ));
                Ok(Pass::keep(Some(a), soon))
            }
            Storage::Archived => {
                out.reasons.push(format!(
                    "stays archived ({}): gatekeeper release restores it",
                    a.reason
                ));
                Ok(Pass::keep(Some(a), None))
            }
        }
    }

    /// A restore: asks ECR to restore the image, and once ECR says it is active, puts its tags back
    /// for the disposition; the record stays (and the sweep looks again) until every tag change is
    /// done. A release's tags are put back whatever the mode (an operator's explicit act); others
    /// follow the rule's mode.
    async fn bring_back(
        &self,
        s: &Storing<'_>,
        mut a: Archive,
        out: &mut Stored,
        (now, by_release): (Epoch, bool),
    ) -> Result<Pass, Error> {
        let soon = Some(now + RESTORE_CHECK);
        let restoring = "restoring from the archive: its tags come back once it is active";
        match s.detail.storage {
            Storage::Archived => {
                let registry = self.registry_of(s.image).await?;
                let restored = registry
                    .set_archived(&s.image.repository, &s.image.digest, false)
                    .await;
                match restored {
                    Ok(_) => {
                        out.changed = true;
                        info!(target: "audit", audit = "ecr", action = "restore", repository = %s.image.repository, digest = %s.image.digest, reason = %s.cause.reason, event_id = %s.cause.event_id, policy = self.policy.hash(), actor = a.restore_by.as_deref().unwrap_or("gatekeeper"), "ecr restore");
                        out.actions.push(storage_action(
                            ActionKind::Restore,
                            ActionStatus::Done,
                            Some("its tags come back once ECR reports it active".into()),
                        ));
                        out.reasons.push(restoring.into());
                    }
                    Err(e) if e.is_retryable() => return Err(e.into()),
                    Err(e) => out.problems.push(format!("not restored: {e}")),
                }
                Ok(Pass::keep(Some(a), soon))
            }
            Storage::Activating | Storage::Unknown => {
                out.reasons.push(restoring.into());
                Ok(Pass::keep(Some(a), soon))
            }
            Storage::Active => {
                let target = Target::of(s.decision, s.overridden, s.platform_of_index);
                let mode = if by_release { Mode::Enforce } else { s.mode };
                let carried = if s.tags_done {
                    super::act::Carried::default()
                } else {
                    (self.apply(s.image, &s.detail, target, mode, s.cause)).await?
                };
                let complete = !carried.held_back
                    && (carried.actions.iter())
                        .all(|x| matches!(x.status, ActionStatus::Done | ActionStatus::Would));
                out.changed |= !carried.actions.is_empty();
                out.actions.extend(carried.actions);
                out.problems.extend(carried.problems);
                if !complete {
                    a.restore_by.get_or_insert_with(|| "the gatekeeper".into());
                    return Ok(Pass::keep(Some(a), soon));
                }
                out.changed = true;
                out.reasons
                    .push("restored from the archive: its tags are back".into());
                Ok(Pass {
                    unarchived: true,
                    ..Pass::default()
                })
            }
        }
    }

    /// `repository:tag` by the image's first original tag, else `repository@<12 hex>`: short
    /// enough for a subject.
    fn short_name(&self, image: &ImageRef) -> String {
        match self.original_tags(&image.tags).into_iter().next() {
            Some(tag) => format!("{}:{tag}", image.repository),
            None => format!("{}@{}", image.repository, digest_hex12(&image.digest)),
        }
    }

    /// The day's reminder of an archive deadline still running (within the next day): the recorded
    /// verdict and when it archives, once per image per day. Whether it was sent.
    pub(super) async fn remind_archive(
        &self,
        image: &ImageRef,
        trigger: &Trigger,
    ) -> Result<bool, Error> {
        let now = (self.clock)();
        let state = self.state.load(image).await?;
        let Some(at) = state.archive.as_ref().and_then(Archive::deadline) else {
            return Ok(false);
        };
        if at <= now || state.decision != Some(Decision::Block) || state.override_at(now).is_some()
        {
            return Ok(false);
        }
        let key = format!(
            "{}archive-reminder#{}#{}#{}",
            key_scope(image.place.as_ref()),
            image.repository,
            image.digest,
            format_date(now)
        );
        if self
            .state
            .mark_once(&key, &trigger.event_id, now, 2 * DAY)
            .await?
            == Mark::Taken
        {
            return Ok(false);
        }
        let Some(detail) = self.detail(image).await? else {
            return Ok(false);
        };
        let rule = self.rule_of(image).await?;
        let reason = (state.archive.as_ref()).map_or(String::new(), |a| a.reason.clone());
        let verdict = Verdict::recalled(
            Decision::Block,
            state.summary.clone().unwrap_or_default(),
            format!("reminder: {reason}"),
        );
        let seen = ImageRef {
            tags: detail.tags,
            ..image.clone()
        };
        let notice = VerdictNotice {
            previous: Some(Decision::Block),
            mode: self.effective_mode(&rule),
            dedup_key: dedup_key(&[
                "archive-reminder",
                &image.repository,
                &image.digest,
                &format_date(now),
            ]),
            subject: Some(format!(
                "ECR gatekeeper: BLOCK {} archives on {}",
                self.short_name(&seen),
                format_date(at)
            )),
            ..self.notice(&seen, &verdict, &rule, trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(true)
    }

    /// The message of a storage change outside a change of decision (a deadline passed, a restore
    /// completed, an image archived again): the recorded verdict, what was done, why. Its key is the
    /// record's version, so a retry after a crash repeats it under the same key.
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
        let what = if (stored.actions.iter()).any(|a| a.action == ActionKind::Archive) {
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
                &state.version.to_string(),
            ]),
            subject: Some(format!(
                "ECR gatekeeper: {what} {} ({})",
                self.short_name(&seen),
                format_date(now)
            )),
            ..self.notice(&seen, &verdict, rule, trigger)
        };
        Ok(self.notifier.publish(&notice.to_message()).await?)
    }
}

/// How long a lifecycle rule's refusal or an open breaker holds an archive back before it is tried
/// again by the sweep (any event about the image tries sooner).
pub(super) const RETRY_ARCHIVE: Epoch = DAY;
