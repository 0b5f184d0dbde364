//! The heart of it: decide on an image under the policy, and act and notify once per change of the
//! image's disposition (its decision, and whether an operator's override suspends a block).

use tracing::{info, warn};

use super::act::{Cause, Target};
use super::{Gatekeeper, MAX_ATTEMPTS, Outcome, Trigger, retry_later};
use crate::domain::index::{PlatformVerdict, aggregate};
use crate::domain::tags::TagKind;
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::{Subject, Verdict, evaluate};
use crate::domain::{Decision, Finding, ImageRef, ScanState};
use crate::error::{Error, GatekeeperError};
use crate::outbound::notice::{VerdictNotice, change_key, dedup_key};
use crate::ports::{ImageDetail, ImageRegistry, Notifier, Ports, StateStore};
use crate::state::{Claim, ImageState, Mark, Written};

/// What [`Gatekeeper::decide_with`] found: the outcome, the image's state as read (with the parents
/// found for it), and the scan status the verdict used.
pub(super) struct Decided {
    /// What the delivery did.
    pub(super) outcome: Outcome,
    /// The image's state as read, with the parents found for it.
    pub(super) state: ImageState,
    /// The scan status the verdict used.
    pub(super) scan: ScanState,
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
    /// The heart of it: one verdict, one claimed change, acted on and notified once.
    pub(super) async fn decide_with(
        &self,
        image: &ImageRef,
        basis: &Basis<'_>,
        trigger: &Trigger,
    ) -> Result<Decided, Error> {
        let rule = self.policy.rule_for(&image.repository);
        let mode = self.effective_mode(rule);
        let (in_use, in_use_known) = match basis {
            Basis::Findings { findings, .. } => {
                let counts: Vec<u64> = findings.iter().filter_map(|f| f.in_use_count).collect();
                (counts.iter().any(|n| *n > 0), counts.iter().max().copied())
            }
            Basis::Platforms(_) => (false, None),
        };
        let given = match basis {
            Basis::Findings { scan, .. } => scan.clone(),
            Basis::Platforms(_) => ScanState::Complete,
        };
        let compute = |subject: &Subject<'_>, scan: &ScanState| -> Verdict {
            match basis {
                Basis::Findings { findings, .. } => evaluate(&self.policy, subject, findings, scan),
                Basis::Platforms(p) => aggregate(p),
            }
        };
        let mut detail: Option<ImageDetail> = None;
        for _ in 0..MAX_ATTEMPTS {
            let now = (self.clock)();
            let mut state = self.state.load(image).await?;
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
            let mut verdict = compute(&subject, &given);
            let mut used = given.clone();
            // Closed is not fixed: before passing with zero findings or releasing a block, the image's
            // own scan status must say it is monitored.
            let releasing = state.notified() == Some(Decision::Block);
            let needs_status = verdict.decision.is_deployable()
                && given == ScanState::Unknown
                && (verdict.counts.total() == 0 || releasing);
            if needs_status {
                if detail.is_none() {
                    detail = self
                        .registry
                        .describe_image(&image.repository, &image.digest)
                        .await?;
                    if detail.is_none() {
                        return Ok(Decided {
                            outcome: gone(image, trigger),
                            state,
                            scan: used,
                        });
                    }
                }
                if let Some(d) = &detail {
                    verdict = compute(&subject, &d.scan);
                    used = d.scan.clone();
                }
            }
            // Lost coverage never improves a decision: findings closed because the image is no longer
            // monitored are not fixed, so a block or warning stays until the image is scanned again.
            let mut recalled = false;
            if let (Decision::Pending, ScanState::Unusable(code)) = (verdict.decision, &used)
                && let Some(last @ (Decision::Block | Decision::Warn)) = state.decision
            {
                recalled = true;
                verdict = Verdict::recalled(
                    last,
                    state.summary.clone().unwrap_or_default(),
                    format!(
                        "no usable scan result ({code}): the last scan's {} stays until the image is scanned again",
                        last.as_str()
                    ),
                );
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
                    return Ok(Decided {
                        outcome: gone(image, trigger),
                        state,
                        scan: used,
                    });
                }
            }
            if let Some(c) = &state.claim
                && !c.is_by(&trigger.event_id, &trigger.delivery)
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
                    return Ok(Decided {
                        outcome: o,
                        state,
                        scan: used,
                    });
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
                    Some(d) if given == ScanState::Unknown => d.scan.clone(),
                    _ => given.clone(),
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
                            in_use: in_use_known,
                            dedup_key: dedup_key(&["held", &image.repository, &image.digest, code]),
                            ..self.notice(&seen, &verdict, rule, trigger)
                        };
                        self.notifier.publish(&notice.to_message()).await?;
                        outcome.notified = true;
                    }
                }
                return Ok(Decided {
                    outcome,
                    state,
                    scan: used,
                });
            }
            if !changing {
                // Time alone may change it later (a grace deadline, an exception's end): keep the
                // sweep's schedule in step with the verdict (a verdict recalled from the state table
                // knows no exception ends, so it leaves the schedule alone).
                if !recalled && state.due_at != verdict.due() {
                    self.state.set_due(image, verdict.due()).await?;
                }
                outcome.detail = format!("decision {} unchanged", decision.as_str());
                info!(image = %image.display(), decision = decision.as_str(), counts = ?verdict.counts, "unchanged");
                return Ok(Decided {
                    outcome,
                    state,
                    scan: used,
                });
            }
            let claim = match &state.claim {
                Some(c)
                    if c.is_by(&trigger.event_id, &trigger.delivery)
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
                        delivery: trigger.delivery.clone(),
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
                return Err(
                    GatekeeperError::Invariant("image detail was not read before acting").into(),
                );
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
            // An untagged image whose index push was not seen may be a platform image: look before
            // marking it (platform images get no markers) or announcing it (the index is announced).
            if state.parents.is_empty()
                && state.children.is_empty()
                && detail.tags.is_empty()
                && matches!(basis, Basis::Findings { .. })
            {
                state.parents = self.find_parents(image).await?;
            }
            let cause = Cause::new(
                trigger,
                format!(
                    "{}: {}",
                    decision.as_str(),
                    verdict.reasons.first().map_or("", String::as_str)
                ),
                &detail.tags,
            );
            let carried = self
                .apply(
                    image,
                    detail,
                    Target {
                        tags: for_tags,
                        verdict: decision,
                        platform_of_index: !state.parents.is_empty(),
                    },
                    mode,
                    &cause,
                )
                .await?;
            let (actions, problems) = (carried.actions, carried.problems);
            let seen = ImageRef {
                tags: detail.tags.clone(),
                ..image.clone()
            };
            let notice = VerdictNotice {
                override_: override_.as_ref().filter(|_| overridden),
                previous: claim.previous,
                mode,
                in_use: in_use_known,
                actions: &actions,
                problems: &problems,
                dedup_key: change_key(image, decision, claim.sequence),
                ..self.notice(&seen, &verdict, rule, trigger)
            };
            // A platform image of a known index is announced by the index's message, which names
            // every platform image's verdict: one message per thing people deploy.
            let announce = state.parents.is_empty();
            if announce {
                self.notifier.publish(&notice.to_message()).await?;
            }
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
            outcome.notified = announce;
            return Ok(Decided {
                outcome,
                state,
                scan: used,
            });
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
