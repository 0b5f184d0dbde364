//! The heart of it: decide on an image under the policy, and act and notify once per change of the
//! image's disposition (its decision, and whether an operator's override suspends a block).

use std::borrow::Cow;

use tracing::{info, warn};

use super::act::Carried;
use super::act::{Cause, Target};
use super::archive::Storing;
use super::history::{cause_of, deciding, standings};
use super::{Gatekeeper, Outcome, Status, Trigger, retry_later};
use crate::domain::history::Change;
use crate::domain::index::{PlatformVerdict, aggregate};
use crate::domain::policy::{Rule, Whereabouts};
use crate::domain::tags::TagKind;
use crate::domain::time::{DAY, Epoch, format_date};
use crate::domain::verdict::{Subject, Verdict, evaluate};
use crate::domain::{Decision, Finding, ImageRef, Mode, ScanState};
use crate::error::{Error, GatekeeperError};
use crate::outbound::notice::{VerdictNotice, change_key, dedup_key};
use crate::ports::{
    ImageDetail, ImageRecords, ImageRegistry, Notifier, OnceMarks, Ports, Storage, SweepSchedule,
    VerdictHistory,
};
use crate::state::{Claim, ImageState, Mark, Override, Written, key_scope};

/// What [`Gatekeeper::decide_once`] found: the outcome, the image's state as read (with the parents
/// found for it), and the scan status the verdict used.
pub(super) struct Decided {
    /// What the delivery did.
    pub(super) outcome: Outcome,
    /// The image's state as read, with the parents found for it.
    pub(super) state: ImageState,
    /// The scan status the verdict used.
    pub(super) scan: ScanState,
    /// The record's version after this delivery's own writes, when it stands by a verdict it acted
    /// on or kept (what it saw may then be recorded against that version); `None` otherwise.
    pub(super) left_at: Option<u64>,
}

/// What a verdict is computed from.
pub(super) enum Basis<'a> {
    /// The image's own findings and scan status.
    Findings {
        /// The findings.
        findings: &'a [Finding],
        /// The scan status known without asking ECR (basic scans report it; events may).
        scan: ScanState,
    },
    /// An image index: its platform images' verdicts.
    Platforms(Vec<PlatformVerdict>),
}

impl<P: Ports> Gatekeeper<P> {
    /// The heart of it: one verdict, one claimed change, acted on and notified once. `None` when a
    /// conditional write was lost: the caller reads the basis again and decides again
    /// ([`super::until_settled`]).
    pub(super) async fn decide_once(
        &self,
        image: &ImageRef,
        basis: &Basis<'_>,
        trigger: &Trigger,
    ) -> Result<Option<Decided>, Error> {
        let at = self.locate(image).await?;
        Deciding::new(self, image, at, basis, trigger)
            .attempt()
            .await
    }
}

/// One delivery deciding on one image: what it was asked, and the image as ECR describes it (read
/// once, when a step needs it).
struct Deciding<'a, P: Ports> {
    gk: &'a Gatekeeper<P>,
    image: &'a ImageRef,
    basis: &'a Basis<'a>,
    trigger: &'a Trigger,
    /// Where the image lives.
    at: Whereabouts<'a>,
    /// Its rule (the strictest that could apply, where its OU path is unknown).
    rule: Cow<'a, Rule>,
    mode: Mode,
    /// Whether a finding says the image runs (ECS tasks, EKS pods).
    in_use: bool,
    /// Inspector's largest `inUseCount`, when known.
    in_use_known: Option<u64>,
    /// The scan status the basis gives (`Unknown` until ECR says).
    given: ScanState,
    detail: Option<ImageDetail>,
    /// The record's version after this attempt's own writes, once it stands by a verdict.
    left_at: Option<u64>,
}

/// What one attempt read: the time and the image's state.
struct Seen {
    now: Epoch,
    state: ImageState,
}

/// One attempt's verdict, the scan status it used, and whether it was recalled from the state table.
struct Judged {
    verdict: Verdict,
    scan: ScanState,
    recalled: bool,
}

/// A change of disposition: the decision, and whether an operator's override suspends it.
struct Disposition {
    decision: Decision,
    override_: Option<Override>,
    overridden: bool,
}

/// What the delivery does about the verdict.
enum Plan {
    /// Nothing more: the image is gone, or another delivery is applying this change.
    Done(Outcome),
    /// Nothing was ever decided and still nothing is.
    Pending,
    /// The disposition is the one recorded.
    Unchanged,
    /// A change to claim, act on and notify.
    Change(Disposition),
}

impl<'a, P: Ports> Deciding<'a, P> {
    fn new(
        gk: &'a Gatekeeper<P>,
        image: &'a ImageRef,
        at: Whereabouts<'a>,
        basis: &'a Basis<'a>,
        trigger: &'a Trigger,
    ) -> Self {
        let rule = gk.policy.rule_at(&image.repository, at);
        let mode = gk.effective_mode(&rule);
        let (in_use, in_use_known, given) = match basis {
            Basis::Findings { findings, scan } => {
                let counts: Vec<u64> = findings.iter().filter_map(|f| f.in_use_count).collect();
                let in_use = counts.iter().any(|n| *n > 0);
                (in_use, counts.iter().max().copied(), scan.clone())
            }
            Basis::Platforms(_) => (false, None, ScanState::Complete),
        };
        Deciding {
            gk,
            image,
            basis,
            trigger,
            at,
            rule,
            mode,
            in_use,
            in_use_known,
            given,
            detail: None,
            left_at: None,
        }
    }

    /// The steps over a fresh read of the state; `None` when a conditional write was lost.
    async fn attempt(&mut self) -> Result<Option<Decided>, Error> {
        let mut seen = self.gather().await?;
        let Some(mut judged) = self.evaluate(&seen).await? else {
            let outcome = Outcome::gone(self.trigger.kind, self.image);
            return Ok(Some(self.decided(outcome, seen, self.given.clone())));
        };
        let disposition = match self.plan(&seen, &judged).await? {
            Plan::Done(outcome) => return Ok(Some(self.decided(outcome, seen, judged.scan))),
            Plan::Pending => return self.stay_pending(seen, &judged).await,
            Plan::Unchanged => return self.unchanged(seen, judged).await.map(Some),
            Plan::Change(disposition) => disposition,
        };
        let Some(claim) = self.claim(&seen, &judged, &disposition).await? else {
            return Ok(None);
        };
        // The claim set the record's version to its sequence (an archive record is written at it).
        seen.state.version = claim.sequence;
        let Some(detail) = self.detail.take() else {
            return Err(
                GatekeeperError::Invariant("image detail was not read before acting").into(),
            );
        };
        let carried = self
            .act(&mut seen, &detail, &mut judged.verdict, &disposition)
            .await?;
        let outcome = self
            .notify(
                &seen,
                &detail,
                &judged.verdict,
                &disposition,
                &claim,
                carried,
            )
            .await?;
        Ok(Some(self.decided(outcome, seen, judged.scan)))
    }

    /// Reads the time and the image's state.
    async fn gather(&self) -> Result<Seen, Error> {
        Ok(Seen {
            now: (self.gk.clock)(),
            state: self.gk.state.load(self.image).await?,
        })
    }

    /// The verdict under the policy; `None` when the image turns out to be gone from ECR.
    async fn evaluate(&mut self, seen: &Seen) -> Result<Option<Judged>, Error> {
        let image = self.image;
        let state = &seen.state;
        let subject = Subject {
            repository: &image.repository,
            digest: &image.digest,
            baseline: state
                .first_scan_at
                .or(self.detail.as_ref().and_then(|d| d.pushed_at)),
            in_use: self.in_use,
            now: seen.now,
            at: self.at,
        };
        let mut verdict = self.verdict(&subject, &self.given);
        let mut scan = self.given.clone();
        // Closed is not fixed: before passing with zero findings or releasing a block, the image's
        // own scan status must say it is monitored.
        let releasing = state.notified() == Some(Decision::Block);
        let needs_status = verdict.decision.is_deployable()
            && self.given == ScanState::Unknown
            && (verdict.counts.total() == 0 || releasing);
        if needs_status {
            if !self.read_detail().await? {
                return Ok(None);
            }
            if let Some(d) = &self.detail {
                verdict = self.verdict(&subject, &d.scan);
                scan = d.scan.clone();
            }
        }
        let (verdict, recalled) = recall(verdict, &scan, state);
        Ok(Some(Judged {
            verdict,
            scan,
            recalled,
        }))
    }

    /// What to do about the verdict: nothing (another delivery applies it), keep pending, keep the
    /// recorded disposition, or change it. A change needs the image's tags, read here.
    async fn plan(&mut self, seen: &Seen, judged: &Judged) -> Result<Plan, Error> {
        let (state, now, trigger) = (&seen.state, seen.now, self.trigger);
        let decision = judged.verdict.decision;
        let override_ = state.override_at(now).cloned();
        let overridden = decision == Decision::Block && override_.is_some();
        let changing = state.claim.is_some()
            || state.decision != Some(decision)
            || state.overridden != overridden;
        if changing && !self.read_detail().await? {
            return Ok(Plan::Done(Outcome::gone(trigger.kind, self.image)));
        }
        if let Some(c) = &state.claim
            && !c.is_by(&trigger.event_id, &trigger.deliveries)
            && now - c.at < self.gk.claim_lease
        {
            if c.decision == decision && c.overridden == overridden {
                info!(image = %self.image.display(), decision = decision.as_str(), by = %c.event_id, "change in progress elsewhere");
                let detail = format!("event {} is applying this decision", c.event_id);
                return Ok(Plan::Done(self.outcome(
                    Status::InProgress,
                    decision,
                    detail,
                )));
            }
            return Err(retry_later(format!(
                "{}: event {} is applying {}, this event found {}; retry after it finishes",
                self.image.display(),
                c.event_id,
                c.decision.as_str(),
                decision.as_str()
            )));
        }
        if decision == Decision::Pending
            && matches!(state.notified(), None | Some(Decision::Pending))
        {
            return Ok(Plan::Pending);
        }
        if !changing {
            return Ok(Plan::Unchanged);
        }
        Ok(Plan::Change(Disposition {
            decision,
            override_,
            overridden,
        }))
    }

    /// Nothing was ever decided: waiting for a scan is not news, unless the image is held and its scan
    /// failed (the tags stay held; say why, once per reason). `None` when the quiet write was lost.
    async fn stay_pending(
        &mut self,
        seen: Seen,
        judged: &Judged,
    ) -> Result<Option<Decided>, Error> {
        let state = &seen.state;
        if state.decision != Some(Decision::Pending)
            && self
                .gk
                .state
                .set_quietly(
                    self.image,
                    state.exists.then_some(state.version),
                    Decision::Pending,
                    seen.now,
                )
                .await?
                == Written::Conflict
        {
            return Ok(None);
        }
        let reason = judged.verdict.reasons.first().cloned().unwrap_or_default();
        let mut outcome = self.outcome(Status::Unchanged, Decision::Pending, reason);
        let scan = match &self.detail {
            Some(d) if self.given == ScanState::Unknown => d.scan.clone(),
            _ => self.given.clone(),
        };
        if let ScanState::Unusable(code) = &scan {
            outcome.notified = self.announce_held(&seen, &judged.verdict, code).await?;
        }
        Ok(Some(self.decided(outcome, seen, scan)))
    }

    /// A held image whose scan is unusable: one message per reason; whether it was sent.
    async fn announce_held(
        &mut self,
        seen: &Seen,
        verdict: &Verdict,
        code: &str,
    ) -> Result<bool, Error> {
        let image = self.image;
        self.read_detail().await?;
        let Some(d) = &self.detail else {
            return Ok(false);
        };
        let held = d
            .tags
            .iter()
            .any(|t| matches!(self.gk.tags.classify(t), TagKind::Held { .. }));
        if !held {
            return Ok(false);
        }
        let scope = key_scope(image.place.as_ref());
        let key = format!("{scope}held#{}#{}#{code}", image.repository, image.digest);
        let mark = self
            .gk
            .state
            .mark_once(&key, &self.trigger.event_id, seen.now, 30 * DAY)
            .await?;
        if mark == Mark::Taken {
            return Ok(false);
        }
        let tagged = ImageRef {
            tags: d.tags.clone(),
            ..image.clone()
        };
        let notice = VerdictNotice {
            previous: Some(Decision::Pending),
            mode: self.mode,
            in_use: self.in_use_known,
            dedup_key: dedup_key(&["held", &image.repository, &image.digest, code]),
            ..self.gk.notice(&tagged, verdict, &self.rule, self.trigger)
        };
        self.gk.notifier.publish(&notice.to_message()).await?;
        Ok(true)
    }

    /// The disposition stands. Time alone may change it later (a grace deadline, an exception's end):
    /// the sweep's schedule is kept in step with the verdict (a verdict recalled from the state table
    /// knows no exception ends, so it leaves the schedule alone).
    async fn unchanged(&mut self, seen: Seen, judged: Judged) -> Result<Decided, Error> {
        let verdict = &judged.verdict;
        let archive = seen.state.archive.as_ref();
        let restoring = archive.is_some_and(|a| a.restore_by.is_some());
        let now = seen.now;
        let wanted = (verdict.due().into_iter())
            .chain(archive.and_then(|a| a.deadline()).filter(|d| *d > now))
            .min();
        if !judged.recalled && !restoring && seen.state.due_at != wanted {
            // Conditional: a claim or an archive record written since carries its own time.
            let expected = Some(seen.state.version);
            self.gk.state.set_due(self.image, wanted, expected).await?;
        }
        let after = self.keep_storage(&seen, verdict).await?;
        let decision = verdict.decision;
        let detail = format!("decision {} unchanged", decision.as_str());
        info!(image = %self.image.display(), decision = decision.as_str(), counts = ?verdict.counts, "unchanged");
        let outcome = self.outcome(Status::Unchanged, decision, detail);
        self.left_at = Some(after.unwrap_or(seen.state.version));
        Ok(self.decided(outcome, seen, judged.scan))
    }

    /// The disposition stands, but the image's storage may not follow it yet: a deadline passed, a
    /// restore finished (or its event was lost), an archived image came back without a release.
    /// Announced when it changes ECR; the record's version after its writes, if it wrote.
    async fn keep_storage(&mut self, seen: &Seen, verdict: &Verdict) -> Result<Option<u64>, Error> {
        let state = &seen.state;
        let decision = verdict.decision;
        let blocks = decision == Decision::Block && !state.overridden;
        if !Gatekeeper::<P>::storage_pending(state, &self.rule, blocks, seen.now)
            || !self.read_detail().await?
        {
            return Ok(None);
        }
        let Some(detail) = self.detail.clone() else {
            return Ok(None);
        };
        let cause = Cause::of_verdict(self.trigger, decision, verdict, &detail.tags);
        let blocking = blocking_of(verdict);
        let to = (decision, state.overridden);
        let storing = self.storing((&detail, state), to, verdict, &cause, &blocking);
        let stored = self.gk.converge_storage(storing).await?;
        if stored.changed {
            self.gk
                .announce_storage(
                    self.image,
                    &detail,
                    state,
                    &self.rule,
                    &stored,
                    self.trigger,
                )
                .await?;
        }
        Ok(stored.version_after)
    }

    /// What [`Gatekeeper::converge_storage`] needs for the disposition `to` (decision, overridden):
    /// the image as read, the verdict's blocking findings; its tags not moved by the caller.
    fn storing<'b>(
        &'b self,
        (detail, state): (&ImageDetail, &ImageState),
        (decision, overridden): (Decision, bool),
        verdict: &Verdict,
        cause: &'b Cause,
        blocking: &'b [Finding],
    ) -> Storing<'b> {
        Storing {
            image: self.image,
            detail: detail.clone(),
            state: state.clone(),
            rule: &self.rule,
            mode: self.mode,
            decision,
            overridden,
            platform_of_index: !state.parents.is_empty(),
            blocking,
            verdict_due: verdict.due(),
            cause,
            tags_done: false,
            rewrite_due: false,
        }
    }

    /// Claims the change with a conditional write (a retry of this delivery resumes its own claim);
    /// `None` when someone wrote first.
    async fn claim(
        &self,
        seen: &Seen,
        judged: &Judged,
        to: &Disposition,
    ) -> Result<Option<Claim>, Error> {
        let (state, trigger) = (&seen.state, self.trigger);
        if let Some(c) = &state.claim
            && c.is_by(&trigger.event_id, &trigger.deliveries)
            && c.decision == to.decision
            && c.overridden == to.overridden
        {
            return Ok(Some(c.clone()));
        }
        // An expired claim of the same change (its delivery stopped before finishing it, perhaps after
        // its message went out) is completed under its number, so that its message keeps its key.
        let (change, previous, previous_overridden) = match &state.claim {
            Some(c) if c.decision == to.decision && c.overridden == to.overridden => {
                (c.change, c.previous, c.previous_overridden)
            }
            _ => (
                state.version + 1,
                state.notified(),
                state.notified_overridden(),
            ),
        };
        let claim = Claim {
            event_id: trigger.event_id.clone(),
            at: seen.now,
            decision: to.decision,
            previous,
            previous_overridden,
            sequence: state.version + 1,
            change,
            overridden: to.overridden,
            deliveries: trigger.deliveries.clone(),
        };
        let written = self
            .gk
            .state
            .claim(
                self.image,
                state.exists.then_some(state.version),
                &claim,
                &judged.verdict.summary(),
                self.gk.policy.hash(),
            )
            .await?;
        if written == Written::Conflict {
            // Someone wrote first (a push of a new tag bumps the version, a newer scan claims): the
            // caller reads the findings, the state and the tags again before deciding what to change.
            return Ok(None);
        }
        Ok(Some(claim))
    }

    /// Makes the image's tags say the new disposition (a suspended block is applied as a release:
    /// its tags stay deployable until the override ends).
    async fn act(
        &self,
        seen: &mut Seen,
        detail: &ImageDetail,
        verdict: &mut Verdict,
        to: &Disposition,
    ) -> Result<Carried, Error> {
        explain_override(verdict, to, seen.state.overridden);
        let state = &mut seen.state;
        // An untagged image whose index push was not seen may be a platform image: look before
        // marking it (platform images get no markers) or announcing it (the index is announced).
        if state.parents.is_empty()
            && state.children.is_empty()
            && detail.tags.is_empty()
            && matches!(self.basis, Basis::Findings { .. })
        {
            state.parents = self.gk.find_parents(self.image).await?;
        }
        let cause = Cause::of_verdict(self.trigger, to.decision, verdict, &detail.tags);
        let target = Target::of(to.decision, to.overridden, !state.parents.is_empty());
        // An archived image cannot be tagged (its manifest cannot be read): its tags follow a restore.
        // One the gatekeeper archived (or is archiving) keeps its tags blocked until a release.
        let archived_here = (state.archive.as_ref())
            .is_some_and(|a| a.archived_at.is_some() && a.restore_by.is_none());
        // Deployable tags need an active image the gatekeeper is not archiving; blocking tags are
        // tried on any image ECR has not archived (an unknown or restoring one too: fail closed).
        let deployable = target.tags.is_deployable();
        let tag_now = match detail.storage {
            Storage::Active => !(archived_here && deployable),
            Storage::Activating | Storage::Unknown => !deployable,
            Storage::Archived => false,
        };
        let mut carried = if tag_now {
            self.gk
                .apply(self.image, detail, target, self.mode, &cause)
                .await?
        } else {
            Carried {
                problems: vec![format!(
                    "the image is {}: its tags change once it is restored (gatekeeper release)",
                    if detail.storage == Storage::Active {
                        "being archived"
                    } else {
                        detail.storage.as_str()
                    }
                )],
                ..Carried::default()
            }
        };
        if carried.held_back {
            return Ok(carried);
        }
        let blocking = blocking_of(verdict);
        let to_pair = (to.decision, to.overridden);
        let storing = Storing {
            tags_done: tag_now,
            rewrite_due: true,
            ..self.storing((detail, state), to_pair, verdict, &cause, &blocking)
        };
        let stored = self.gk.converge_storage(storing).await?;
        carried.stored_version = stored.version_after;
        carried.actions.extend(stored.actions);
        carried.problems.extend(stored.problems);
        let at = verdict.reasons.len().min(1);
        verdict.reasons.splice(at..at, stored.reasons);
        Ok(carried)
    }

    /// Announces the change (a platform image of a known index is announced by the index's message,
    /// which names every platform image's verdict: one message per thing people deploy), then
    /// finishes the claim.
    async fn notify(
        &mut self,
        seen: &Seen,
        detail: &ImageDetail,
        verdict: &Verdict,
        to: &Disposition,
        claim: &Claim,
        carried: Carried,
    ) -> Result<Outcome, Error> {
        let image = self.image;
        let tagged = ImageRef {
            tags: detail.tags.clone(),
            ..image.clone()
        };
        let notice = VerdictNotice {
            override_: to.override_.as_ref().filter(|_| to.overridden),
            previous: claim.previous,
            mode: self.mode,
            in_use: self.in_use_known,
            actions: &carried.actions,
            problems: &carried.problems,
            dedup_key: change_key(image, to.decision, claim.change),
            ..self.gk.notice(&tagged, verdict, &self.rule, self.trigger)
        };
        let announce = seen.state.parents.is_empty();
        // The history follows what people deploy, as the messages do; a change held back is not one.
        if announce && !carried.held_back {
            self.record_history(detail, verdict, claim).await?;
        }
        if announce {
            self.gk.notifier.publish(&notice.to_message()).await?;
        }
        // Held back by the circuit breaker, the change is not recorded as applied: the next
        // evaluation after a reset (reconcile) finds it again.
        match self
            .gk
            .state
            .finish(image, claim, !carried.held_back)
            .await?
        {
            // The claim set the version to its sequence; finishing moved it once more.
            Written::Done if !carried.held_back => {
                let before = carried.stored_version.unwrap_or(claim.sequence);
                self.left_at = Some(before + 1);
            }
            Written::Done => {}
            Written::Conflict => {
                warn!(image = %image.display(), "claim was taken over before it finished")
            }
        }
        self.log_change(verdict, to, claim, &carried);
        let reason = verdict.reasons.first().cloned().unwrap_or_default();
        let mut outcome = self.outcome(Status::Changed, to.decision, reason);
        outcome.actions = carried.actions;
        outcome.notified = announce;
        Ok(outcome)
    }

    /// Records the applied change in the verdict history (before it is announced and the claim
    /// finished: a retry records it again under the same number).
    async fn record_history(
        &self,
        detail: &ImageDetail,
        verdict: &Verdict,
        claim: &Claim,
    ) -> Result<(), Error> {
        let (from, to) = standings(claim);
        let cause = cause_of(self.trigger, claim, verdict);
        let change = Change {
            from,
            to,
            actor: self.trigger.event_id.clone(),
            rule: self.rule.name.clone(),
            tags: self.gk.original_tags(&detail.tags),
            pushed_at: detail.pushed_at,
            ..Change::new(self.image, claim.change, claim.at, cause)
        };
        self.gk
            .state
            .record_change(&deciding(change, verdict))
            .await?;
        Ok(())
    }

    /// The one `info` line of a changed decision.
    fn log_change(&self, verdict: &Verdict, to: &Disposition, claim: &Claim, carried: &Carried) {
        info!(
            image = %self.image.display(),
            decision = to.decision.as_str(),
            previous = claim.previous.map_or("none", Decision::as_str),
            overridden = to.overridden,
            mode = self.mode.as_str(),
            counts = ?verdict.counts,
            exceptions = verdict.exceptions.len(),
            actions = carried.actions.len(),
            problems = carried.problems.len(),
            policy = self.gk.policy.hash(),
            event_id = %self.trigger.event_id,
            "verdict changed"
        );
    }

    /// Reads the image from ECR unless it was read already; whether it exists.
    async fn read_detail(&mut self) -> Result<bool, Error> {
        if self.detail.is_none() {
            self.detail = self
                .gk
                .registry_of(self.image)
                .await?
                .describe_image(&self.image.repository, &self.image.digest)
                .await?;
        }
        Ok(self.detail.is_some())
    }

    /// The verdict from the basis, with `scan` as the image's scan status.
    fn verdict(&self, subject: &Subject<'_>, scan: &ScanState) -> Verdict {
        match self.basis {
            Basis::Findings { findings, .. } => evaluate(&self.gk.policy, subject, findings, scan),
            Basis::Platforms(p) => aggregate(p),
        }
    }

    /// What the delivery decided, with the state it read.
    fn decided(&self, outcome: Outcome, seen: Seen, scan: ScanState) -> Decided {
        Decided {
            outcome,
            state: seen.state,
            scan,
            left_at: self.left_at,
        }
    }

    /// An outcome of this delivery with its decision.
    fn outcome(&self, status: Status, decision: Decision, detail: String) -> Outcome {
        let mut o = Outcome::new(status, self.trigger.kind, Some(self.image), detail);
        o.decision = Some(decision);
        o
    }
}

/// The findings that block under a verdict (the first of its top findings).
fn blocking_of(verdict: &Verdict) -> Vec<Finding> {
    (verdict.top.iter())
        .take(verdict.blocking as usize)
        .cloned()
        .collect()
}

/// Lost coverage never improves a decision: findings closed because the image is no longer monitored
/// are not fixed, so a block or warning stays until the image is scanned again. Says whether the
/// verdict was recalled.
fn recall(verdict: Verdict, scan: &ScanState, state: &ImageState) -> (Verdict, bool) {
    if let (Decision::Pending, ScanState::Unusable(code)) = (verdict.decision, scan)
        && let Some(last @ (Decision::Block | Decision::Warn)) = state.decision
    {
        let recalled = Verdict::recalled(
            last,
            state.summary.clone().unwrap_or_default(),
            format!(
                "no usable scan result ({code}): the last scan's {} stays until the image is scanned again",
                last.as_str()
            ),
        );
        return (recalled, true);
    }
    (verdict, false)
}

/// The verdict's first reason says why a block is suspended, or that its suspension ended.
fn explain_override(verdict: &mut Verdict, to: &Disposition, was_overridden: bool) {
    if let Some(o) = &to.override_
        && to.overridden
    {
        verdict.reasons.insert(
            0,
            format!(
                "enforcement suspended by {} until {}: {}",
                o.by,
                format_date(o.until),
                o.reason
            ),
        );
    } else if was_overridden && to.decision == Decision::Block {
        verdict.reasons.insert(
            0,
            "the operator's override ended: the block applies again".into(),
        );
    }
}
