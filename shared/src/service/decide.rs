//! Scan results and finding changes: fetch the image's findings, decide under the policy, and act and
//! notify once per change of the image's disposition (its decision, and whether an operator's
//! override suspends a block).

use tracing::{info, warn};

use super::{Gatekeeper, MAX_ATTEMPTS, Outcome, Trigger, retry_later};
use crate::domain::{Decision, Finding, ImageRef, ScanState};
use crate::error::AwsError;
use crate::events::Scanner;
use crate::message::{VerdictNotice, change_key, dedup_key};
use crate::ports::{
    Claim, FindingsSource, ImageDetail, ImageRegistry, Mark, Notifier, RejectSink, StateStore,
    Written,
};
use crate::tags::TagKind;
use crate::time::{DAY, format_date};
use crate::verdict::{Subject, evaluate};

impl<R, N, S, J> Gatekeeper<R, N, S, J>
where
    R: ImageRegistry + Sync,
    N: Notifier + Sync,
    S: StateStore + Sync,
    J: RejectSink + Sync,
{
    /// Fetches an image's findings (basic: DescribeImageScanFindings; enhanced: ListFindings) and
    /// the scan status basic scanning reports with them; `None` when the image no longer exists.
    pub async fn findings_of<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
    ) -> Result<Option<(Vec<Finding>, ScanState)>, AwsError> {
        match scanner {
            Scanner::Basic => Ok(self
                .registry
                .basic_findings(&image.repository, &image.digest)
                .await?
                .map(|b| (b.findings, b.state))),
            Scanner::Enhanced => Ok(Some((
                source.image_findings(image).await?,
                ScanState::Unknown,
            ))),
        }
    }

    /// Fetches the image's findings, decides, and acts and notifies if the decision changed.
    pub async fn evaluate_image<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        trigger: &Trigger,
    ) -> Result<Outcome, AwsError> {
        match self.findings_of(source, image, scanner).await? {
            Some((findings, scan)) => self.decide(image, &findings, scan, trigger).await,
            None => Ok(Outcome::new(
                "skipped",
                trigger.kind,
                Some(image),
                "image no longer in ECR",
            )),
        }
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
        let in_use = findings
            .iter()
            .any(|f| f.in_use_count.is_some_and(|n| n > 0));
        let mut detail: Option<ImageDetail> = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = (self.clock)();
            let state = self.state.load(image).await?;
            let baseline = state
                .first_scan_at
                .or(detail.as_ref().and_then(|d| d.pushed_at));
            let subject = Subject {
                repository: &image.repository,
                digest: &image.digest,
                baseline,
                in_use,
                now,
            };
            let mut verdict = evaluate(&self.policy, &subject, findings, &scan);
            // Closed is not fixed: before passing with zero findings or releasing a block, the image's
            // own scan status must say it is monitored.
            let releasing = state.notified() == Some(Decision::Block);
            let needs_status = verdict.decision.is_deployable()
                && scan == ScanState::Unknown
                && (verdict.counts.total() == 0 || releasing);
            if needs_status {
                if detail.is_none() {
                    detail = self
                        .registry
                        .describe_image(&image.repository, &image.digest)
                        .await?;
                    if detail.is_none() {
                        return Ok(gone(image, trigger));
                    }
                }
                if let Some(d) = &detail {
                    verdict = evaluate(&self.policy, &subject, findings, &d.scan);
                }
            }
            let decision = verdict.decision;
            let override_ = state.override_at(now).cloned();
            let overridden = decision == Decision::Block && override_.is_some();
            let changing = state.claim.is_some()
                || state.decision != Some(decision)
                || state.overridden != overridden;
            if changing && detail.is_none() {
                detail = self
                    .registry
                    .describe_image(&image.repository, &image.digest)
                    .await?;
                if detail.is_none() {
                    return Ok(gone(image, trigger));
                }
            }
            if let Some(c) = &state.claim
                && c.event_id != trigger.event_id
                && now - c.at < self.claim_lease
            {
                if c.decision == decision && c.overridden == overridden {
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
            if decision == Decision::Pending
                && matches!(state.notified(), None | Some(Decision::Pending))
            {
                // Nothing was ever decided: waiting for a scan is not news, unless the image is held and
                // its scan failed (the tags stay held; say why, once per reason).
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
                let used = match &detail {
                    Some(d) if scan == ScanState::Unknown => d.scan.clone(),
                    _ => scan.clone(),
                };
                if matches!(used, ScanState::Unusable(_)) && detail.is_none() {
                    detail = self
                        .registry
                        .describe_image(&image.repository, &image.digest)
                        .await?;
                }
                if let (ScanState::Unusable(code), Some(d)) = (&used, &detail)
                    && d.tags
                        .iter()
                        .any(|t| matches!(self.tags.classify(t), TagKind::Held { .. }))
                {
                    let key = format!("held#{}#{}#{code}", image.repository, image.digest);
                    if self
                        .state
                        .mark_once(&key, &trigger.event_id, now, 30 * DAY)
                        .await?
                        != Mark::Taken
                    {
                        let seen = ImageRef {
                            tags: d.tags.clone(),
                            ..image.clone()
                        };
                        let notice = VerdictNotice {
                            previous: Some(Decision::Pending),
                            mode,
                            dedup_key: dedup_key(&["held", &image.repository, &image.digest, code]),
                            ..self.notice(&seen, &verdict, rule, trigger)
                        };
                        self.notifier.publish(&notice.to_message()).await?;
                        outcome.notified = true;
                    }
                }
                return Ok(outcome);
            }
            if !changing {
                outcome.detail = format!("decision {} unchanged", decision.as_str());
                info!(image = %image.display(), decision = decision.as_str(), counts = ?verdict.counts, "unchanged");
                return Ok(outcome);
            }
            let claim = match &state.claim {
                Some(c)
                    if c.event_id == trigger.event_id
                        && c.decision == decision
                        && c.overridden == overridden =>
                {
                    c.clone()
                }
                _ => {
                    let claim = Claim {
                        event_id: trigger.event_id.clone(),
                        at: now,
                        decision,
                        previous: state.notified(),
                        sequence: state.version + 1,
                        overridden,
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
                        // Someone wrote first (a push of a new tag bumps the version): read the image's
                        // tags again before deciding what to change.
                        detail = None;
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
            if let Some(o) = &override_
                && overridden
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
            } else if state.overridden && decision == Decision::Block {
                verdict.reasons.insert(
                    0,
                    "the operator's override ended: the block applies again".into(),
                );
            }
            // A suspended block is applied as a release: its tags stay deployable until the override ends.
            let for_tags = if overridden { Decision::Warn } else { decision };
            let carried = self.apply(image, detail, for_tags, mode).await?;
            let (actions, problems) = (carried.actions, carried.problems);
            let seen = ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            };
            let notice = VerdictNotice {
                override_: override_.as_ref().filter(|_| overridden),
                previous: claim.previous,
                mode,
                actions: &actions,
                problems: &problems,
                dedup_key: change_key(image, decision, claim.sequence),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            self.notifier.publish(&notice.to_message()).await?;
            // Held back by the circuit breaker, the change is not recorded as applied: the next
            // evaluation after a reset (reconcile) finds it again.
            if self.state.finish(image, &claim, !carried.held_back).await? == Written::Conflict {
                warn!(image = %image.display(), "claim was taken over before it finished");
            }
            info!(
                image = %image.display(),
                decision = decision.as_str(),
                previous = claim.previous.map_or("none", Decision::as_str),
                overridden,
                mode = mode.as_str(),
                counts = ?verdict.counts,
                exceptions = verdict.exceptions.len(),
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
}

fn gone(image: &ImageRef, trigger: &Trigger) -> Outcome {
    info!(image = %image.display(), "skipped: image no longer in ECR");
    Outcome::new(
        "skipped",
        trigger.kind,
        Some(image),
        "image no longer in ECR",
    )
}
