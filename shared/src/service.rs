//! The gatekeeper's job, generic over its ports: an event in, a verdict, tag changes in ECR, one
//! message per change, and an [`Outcome`] out.
//!
//! Concurrency: the state table holds each image's last decision and version. A delivery that finds
//! a new decision *claims* the change with a conditional write; only the claimant acts and notifies,
//! then finishes the claim. A retry of the same event resumes its own claim; a claim older than the
//! lease is taken over. Tags are always read from ECR right before acting, never from the event.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use crate::domain::{Decision, Finding, ImageRef, MediaKind, Mode, ScanState};
use crate::error::{AwsError, AwsErrorKind};
use crate::events::{self, Event, EventBody, Push, Scanner};
use crate::message::{Action, ActionKind, ActionStatus, VerdictNotice, change_key, dedup_key};
use crate::plan::{Plan, plan, release_candidates};
use crate::policy::{Policy, Rule, Unscanned};
use crate::ports::{
    Claim, FindingsSource, ImageDetail, ImageRegistry, ImageState, Mark, Notifier, PutTag,
    RejectSink, StartScan, StateStore, Written,
};
use crate::tags::{TagKind, TagScheme};
use crate::time::{DAY, Epoch, format_date};
use crate::verdict::{Verdict, evaluate};

/// How often a delivery re-reads the state after losing a conditional write before giving up
/// (Lambda retries the invocation).
const MAX_ATTEMPTS: usize = 4;

/// What one invocation did, returned to Lambda (and logged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `changed`, `unchanged`, `acted`, `in_progress`, `skipped` or `rejected`.
    pub status: &'static str,
    /// The event kind (`push`, `scan`, `finding`, `coverage`, `ignored`, or `invalid`).
    pub kind: &'static str,
    /// `repository@digest`, when the event named an image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The decision, when one was reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// One line for people.
    pub detail: String,
    /// Tag changes done (or, in audit mode, planned).
    pub actions: Vec<Action>,
    /// Whether a message was published.
    pub notified: bool,
}

impl Outcome {
    fn new(
        status: &'static str,
        kind: &'static str,
        image: Option<&ImageRef>,
        detail: impl Into<String>,
    ) -> Outcome {
        Outcome {
            status,
            kind,
            image: image.map(ImageRef::display),
            decision: None,
            detail: detail.into(),
            actions: Vec::new(),
            notified: false,
        }
    }
}

/// Who asked: the event (or the CLI) that caused an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// EventBridge event id (stable across Lambda retries).
    pub event_id: String,
    /// `push`, `scan`, `finding`, `coverage` ...
    pub kind: &'static str,
    /// Region and account from the envelope, for messages.
    pub region: Option<String>,
    /// Account id from the envelope.
    pub account: Option<String>,
}

impl Trigger {
    fn of(event: &Event) -> Trigger {
        Trigger {
            event_id: event.id.clone(),
            kind: event.kind(),
            region: event.region.clone(),
            account: event.account.clone(),
        }
    }
}

/// The gatekeeper: ports, policy and settings, built once per Lambda container.
#[derive(Debug)]
pub struct Gatekeeper<R, N, S, J> {
    /// ECR.
    pub registry: R,
    /// The JSON topic.
    pub notifier: N,
    /// The state table.
    pub state: S,
    /// The rejected-events queue.
    pub rejects: J,
    /// The validated policy.
    pub policy: Policy,
    /// Deployment mode (audit overrides every rule).
    pub mode: Mode,
    /// Reserved tag prefixes.
    pub tags: TagScheme,
    /// Claim lease, seconds.
    pub claim_lease: i64,
    /// The clock (tests fix it).
    pub clock: fn() -> Epoch,
}

fn retry_later(message: String) -> AwsError {
    AwsError {
        operation: "gatekeeper:claim",
        code: Some("Contention".into()),
        message,
        kind: AwsErrorKind::Transient,
    }
}

impl<R, N, S, J> Gatekeeper<R, N, S, J> {
    /// The same gatekeeper with another registry (a test wraps the real one to inject a race).
    pub fn with_registry<R2>(self, registry: R2) -> Gatekeeper<R2, N, S, J> {
        Gatekeeper {
            registry,
            notifier: self.notifier,
            state: self.state,
            rejects: self.rejects,
            policy: self.policy,
            mode: self.mode,
            tags: self.tags,
            claim_lease: self.claim_lease,
            clock: self.clock,
        }
    }

    /// The same gatekeeper with another notifier.
    pub fn with_notifier<N2>(self, notifier: N2) -> Gatekeeper<R, N2, S, J> {
        Gatekeeper {
            registry: self.registry,
            notifier,
            state: self.state,
            rejects: self.rejects,
            policy: self.policy,
            mode: self.mode,
            tags: self.tags,
            claim_lease: self.claim_lease,
            clock: self.clock,
        }
    }
}

impl<R, N, S, J> Gatekeeper<R, N, S, J>
where
    R: ImageRegistry + Sync,
    N: Notifier + Sync,
    S: StateStore + Sync,
    J: RejectSink + Sync,
{
    fn effective_mode(&self, rule: &Rule) -> Mode {
        if self.mode == Mode::Audit {
            Mode::Audit
        } else {
            rule.mode
        }
    }

    /// Parses an event; a malformed one is logged, copied to the rejected-events queue and answered
    /// `Ok(rejected)` (an error would only make Lambda retry it forever), an ignored one is skipped.
    async fn parse(&self, value: &Value) -> Result<Result<Event, Outcome>, AwsError> {
        match events::parse(value) {
            Ok(event) => {
                if let EventBody::Ignored(why) = &event.body {
                    info!(event_id = %event.id, detail_type = %event.detail_type, reason = %why, "skipped");
                    return Ok(Err(Outcome::new("skipped", "ignored", None, why.clone())));
                }
                Ok(Ok(event))
            }
            Err(e) => {
                warn!(reason = %e, "rejected event");
                self.rejects.reject(e.reason(), value).await?;
                Ok(Err(Outcome::new(
                    "rejected",
                    "invalid",
                    None,
                    e.reason().to_string(),
                )))
            }
        }
    }

    /// The on-push function: ECR Image Action events.
    pub async fn handle_push_event(&self, value: &Value) -> Result<Outcome, AwsError> {
        let event = match self.parse(value).await? {
            Ok(event) => event,
            Err(outcome) => return Ok(outcome),
        };
        match &event.body {
            EventBody::Push(push) => self.on_push(&event, push).await,
            _ => {
                info!(event_id = %event.id, kind = event.kind(), "skipped: not a push event");
                Ok(Outcome::new(
                    "skipped",
                    event.kind(),
                    event.image(),
                    "not a push event: routed to the wrong function",
                ))
            }
        }
    }

    /// The on-scan function: ECR Image Scan, Inspector2 Scan, Finding and Coverage events.
    pub async fn handle_scan_event<F: FindingsSource + Sync>(
        &self,
        source: &F,
        value: &Value,
    ) -> Result<Outcome, AwsError> {
        let event = match self.parse(value).await? {
            Ok(event) => event,
            Err(outcome) => return Ok(outcome),
        };
        let trigger = Trigger::of(&event);
        match &event.body {
            EventBody::Scan(scan) => {
                self.evaluate_image(source, &scan.image, scan.scanner, &trigger)
                    .await
            }
            EventBody::Finding(f) => {
                self.evaluate_image(source, &f.image, Scanner::Enhanced, &trigger)
                    .await
            }
            EventBody::Coverage(c) => {
                self.evaluate_image(source, &c.image, Scanner::Enhanced, &trigger)
                    .await
            }
            _ => {
                info!(event_id = %event.id, kind = event.kind(), "skipped: not a scan event");
                Ok(Outcome::new(
                    "skipped",
                    event.kind(),
                    event.image(),
                    "not a scan event: routed to the wrong function",
                ))
            }
        }
    }

    async fn on_push(&self, event: &Event, push: &Push) -> Result<Outcome, AwsError> {
        let image = &push.image;
        if let Some(tag) = push.tag()
            && self.tags.is_reserved(tag)
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
            Some(Decision::Block) => {
                // Re-tagging a blocked digest must not produce a deployable tag: apply the verdict now.
                self.reapply(image, Decision::Block, &state, &trigger).await
            }
            Some(d @ (Decision::Pass | Decision::Warn)) => {
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
            Some(Decision::Pending) | None => self.ensure_scan(image, push, &trigger).await,
        }
    }

    /// Makes sure a new image will be scanned, using the repository's effective scanning configuration.
    async fn ensure_scan(
        &self,
        image: &ImageRef,
        push: &Push,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let kind = MediaKind::classify(
            push.manifest_media_type.as_deref(),
            push.artifact_media_type.as_deref(),
        );
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
        if rule.unscanned == Unscanned::Hold {
            warn!(image = %image.display(), "policy says hold, but holding unscanned images comes with the policy issue; alerting only");
        }
        let now = (self.clock)();
        let key = format!("alert#unscanned#{}#{}", image.repository, format_date(now));
        let mark = self
            .state
            .mark_once(&key, &trigger.event_id, now, 2 * DAY)
            .await?;
        let mut outcome = Outcome::new("unchanged", "push", Some(image), reason.clone());
        if mark != Mark::Taken {
            let verdict = crate::verdict::pending(reason);
            let notice = VerdictNotice {
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
    ) -> Result<Outcome, AwsError> {
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
        let (actions, problems) = self.apply(image, &detail, decision, mode).await?;
        let mut outcome = Outcome::new(
            "unchanged",
            trigger.kind,
            Some(image),
            format!("digest already has verdict {}", decision.as_str()),
        );
        outcome.decision = Some(decision);
        if !actions.is_empty() || !problems.is_empty() {
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
                    image.repository,
                )),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            outcome.status = "acted";
            outcome.notified = true;
        }
        outcome.actions = actions;
        Ok(outcome)
    }

    /// Fetches the image's findings, decides, and acts and notifies if the decision changed.
    pub async fn evaluate_image<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let (findings, scan) = match scanner {
            Scanner::Basic => match self
                .registry
                .basic_findings(&image.repository, &image.digest)
                .await?
            {
                Some(basic) => (basic.findings, basic.state),
                None => {
                    return Ok(Outcome::new(
                        "skipped",
                        trigger.kind,
                        Some(image),
                        "image no longer in ECR",
                    ));
                }
            },
            Scanner::Enhanced => (source.image_findings(image).await?, ScanState::Unknown),
        };
        self.decide(image, &findings, scan, trigger).await
    }

    /// Decides on an image from its findings and acts on a change. Public for the CLI's reconcile.
    pub async fn decide(
        &self,
        image: &ImageRef,
        findings: &[Finding],
        scan: ScanState,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        let rule = self.policy.rule_for(&image.repository);
        let mode = self.effective_mode(rule);
        let mut verdict = evaluate(rule, findings, &scan);
        let mut detail: Option<ImageDetail> = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = (self.clock)();
            let state = self.state.load(image).await?;
            let releasing = state.notified() == Some(Decision::Block);
            // Closed is not fixed: before passing with zero findings or releasing, the image's own scan
            // status must say it is monitored.
            let needs_status = verdict.decision.is_deployable()
                && scan == ScanState::Unknown
                && (verdict.counts.total() == 0 || releasing);
            let changing = state.claim.is_some() || state.decision != Some(verdict.decision);
            if (needs_status || changing) && detail.is_none() {
                let Some(d) = self
                    .registry
                    .describe_image(&image.repository, &image.digest)
                    .await?
                else {
                    info!(image = %image.display(), "skipped: image no longer in ECR");
                    return Ok(Outcome::new(
                        "skipped",
                        trigger.kind,
                        Some(image),
                        "image no longer in ECR",
                    ));
                };
                if needs_status {
                    verdict = evaluate(rule, findings, &d.scan);
                }
                detail = Some(d);
            }
            let decision = verdict.decision;
            if let Some(c) = &state.claim
                && c.event_id != trigger.event_id
                && now - c.at < self.claim_lease
            {
                if c.decision == decision {
                    info!(image = %image.display(), decision = decision.as_str(), by = %c.event_id, "change in progress elsewhere");
                    let mut o = Outcome::new(
                        "in_progress",
                        trigger.kind,
                        Some(image),
                        format!("event {} is applying this decision", c.event_id),
                    );
                    o.decision = Some(decision);
                    return Ok(o);
                }
                return Err(retry_later(format!(
                    "{}: event {} is applying {}, this event found {}; retry after it finishes",
                    image.display(),
                    c.event_id,
                    c.decision.as_str(),
                    decision.as_str()
                )));
            }
            let mut outcome = Outcome::new("unchanged", trigger.kind, Some(image), String::new());
            outcome.decision = Some(decision);
            if state.claim.is_none() && state.decision == Some(decision) {
                outcome.detail = format!("decision {} unchanged", decision.as_str());
                info!(image = %image.display(), decision = decision.as_str(), counts = ?verdict.counts, "unchanged");
                return Ok(outcome);
            }
            if decision == Decision::Pending
                && matches!(state.notified(), None | Some(Decision::Pending))
            {
                // Nothing was ever decided: waiting for a scan is not news.
                if state.decision != Some(Decision::Pending)
                    && self
                        .state
                        .set_quietly(
                            image,
                            state.exists.then_some(state.version),
                            Decision::Pending,
                            now,
                        )
                        .await?
                        == Written::Conflict
                {
                    continue;
                }
                outcome.detail = verdict.reasons.first().cloned().unwrap_or_default();
                return Ok(outcome);
            }
            let claim = match &state.claim {
                Some(c) if c.event_id == trigger.event_id && c.decision == decision => c.clone(),
                _ => {
                    let claim = Claim {
                        event_id: trigger.event_id.clone(),
                        at: now,
                        decision,
                        previous: state.notified(),
                        sequence: state.version + 1,
                    };
                    if self
                        .state
                        .claim(
                            image,
                            state.exists.then_some(state.version),
                            &claim,
                            &verdict.summary(),
                            self.policy.hash(),
                        )
                        .await?
                        == Written::Conflict
                    {
                        // Someone wrote first (a push of a new tag bumps the version): read the
                        // image's tags again before deciding what to change.
                        detail = None;
                        verdict = evaluate(rule, findings, &scan);
                        continue;
                    }
                    claim
                }
            };
            let Some(detail) = detail.as_ref() else {
                return Err(AwsError::invalid(
                    "gatekeeper:decide",
                    "image detail was not read before acting",
                ));
            };
            let (actions, problems) = self.apply(image, detail, decision, mode).await?;
            let seen = ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            };
            let notice = VerdictNotice {
                previous: claim.previous,
                mode,
                actions: &actions,
                problems: &problems,
                dedup_key: change_key(image, decision, claim.sequence),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            if self.state.finish(image, &claim).await? == Written::Conflict {
                warn!(image = %image.display(), "claim was taken over before it finished");
            }
            info!(
                image = %image.display(),
                decision = decision.as_str(),
                previous = claim.previous.map_or("none", Decision::as_str),
                mode = mode.as_str(),
                counts = ?verdict.counts,
                actions = actions.len(),
                problems = problems.len(),
                policy = self.policy.hash(),
                event_id = %trigger.event_id,
                "verdict changed"
            );
            outcome.status = "changed";
            outcome.detail = verdict.reasons.first().cloned().unwrap_or_default();
            outcome.actions = actions;
            outcome.notified = true;
            return Ok(outcome);
        }
        Err(retry_later(format!(
            "{}: state kept changing under this delivery",
            image.display()
        )))
    }

    /// A notice about `image` with this gatekeeper's policy, clock and the trigger's origin; callers
    /// fill in what differs.
    fn notice<'a>(
        &'a self,
        image: &'a ImageRef,
        verdict: &'a Verdict,
        rule: &'a Rule,
        trigger: &'a Trigger,
    ) -> VerdictNotice<'a> {
        VerdictNotice {
            image,
            region: trigger.region.as_deref(),
            account: trigger.account.as_deref(),
            verdict,
            previous: None,
            mode: self.effective_mode(rule),
            actions: &[],
            problems: &[],
            policy_hash: self.policy.hash(),
            rule: &rule.name,
            event_id: &trigger.event_id,
            trigger: trigger.kind,
            dedup_key: String::new(),
            subject: None,
            subject_tag: self.original_tags(&image.tags).into_iter().next(),
            now: (self.clock)(),
        }
    }

    /// The tags people know an image by: plain tags, and the tags its quarantine and held tags keep.
    fn original_tags(&self, tags: &[String]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for t in tags {
            let original = match self.tags.classify(t) {
                TagKind::Plain => Some(t.clone()),
                TagKind::Quarantined { original, .. } => original,
                TagKind::Held { original, .. } => Some(original),
                TagKind::Verified { .. } => None,
            };
            if let Some(o) = original.filter(|o| !out.contains(o)) {
                out.push(o);
            }
        }
        out
    }

    /// Makes the image's tags match `decision` (enforce), or says what that would take (audit).
    async fn apply(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        decision: Decision,
        mode: Mode,
    ) -> Result<(Vec<Action>, Vec<String>), AwsError> {
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
        let standalone = matches!(kind, MediaKind::Image | MediaKind::Unknown);
        let plan = plan(
            &self.tags,
            &detail.tags,
            &image.digest,
            decision,
            &owners,
            standalone,
        );
        let mut problems = plan.notes.clone();
        if plan.is_empty() {
            return Ok((Vec::new(), problems));
        }
        if mode == Mode::Audit {
            let actions = plan
                .steps
                .iter()
                .map(|s| match s {
                    crate::plan::Step::Add { tag } => Action {
                        action: ActionKind::AddTag,
                        tag: tag.clone(),
                        status: ActionStatus::Would,
                        note: None,
                    },
                    crate::plan::Step::Remove { tag, .. } => Action {
                        action: ActionKind::RemoveTag,
                        tag: tag.clone(),
                        status: ActionStatus::Would,
                        note: None,
                    },
                })
                .collect();
            return Ok((actions, problems));
        }
        let actions = self.execute(image, detail, &plan, &mut problems).await?;
        Ok((actions, problems))
    }

    async fn execute(
        &self,
        image: &ImageRef,
        detail: &ImageDetail,
        plan: &Plan,
        problems: &mut Vec<String>,
    ) -> Result<Vec<Action>, AwsError> {
        let repo = image.repository.as_str();
        let digest = image.digest.as_str();
        let mut actions = Vec::new();
        let mut confirmed: HashSet<String> = detail.tags.iter().cloned().collect();
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
                Err(e) if e.is_retryable() => return Err(e),
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
        let mut removable = Vec::new();
        for (tag, keep) in plan.removes() {
            if confirmed.contains(keep) {
                removable.push(tag.to_string());
            } else {
                let why = format!("{tag} kept: {keep} is not confirmed on this image");
                problems.push(why.clone());
                actions.push(Action {
                    action: ActionKind::RemoveTag,
                    tag: tag.to_string(),
                    status: ActionStatus::Skipped,
                    note: Some(why),
                });
            }
        }
        if removable.is_empty() {
            return Ok(actions);
        }
        // Read the tags again right before removing: BatchDeleteImage removes a tag from whatever image it
        // points to at that moment, so a tag moved by a concurrent push is left alone.
        let now_tags = match self.registry.describe_image(repo, digest).await? {
            Some(d) => d.tags,
            None => {
                problems.push("the image disappeared while being tagged".into());
                return Ok(actions);
            }
        };
        let (still, moved): (Vec<String>, Vec<String>) =
            removable.into_iter().partition(|t| now_tags.contains(t));
        for tag in moved {
            let why = format!(
                "{tag} left alone: it no longer points to this image (moved by a concurrent push?)"
            );
            warn!(image = %image.display(), tag, "tag moved before removal");
            problems.push(why.clone());
            actions.push(Action {
                action: ActionKind::RemoveTag,
                tag,
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
