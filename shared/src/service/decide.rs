//! Scan results and finding changes: fetch the image's findings, decide under the policy, and act and
//! notify once per change of the image's disposition (its decision, and whether an operator's
//! override suspends a block). Image indexes are decided from their platform images, and every index
//! that refers to a platform image is decided again when the platform image's verdict comes in.

use tracing::{info, warn};

use super::act::{Cause, Target};
use super::{Gatekeeper, MAX_ATTEMPTS, Outcome, Trigger, retry_later};
use crate::domain::events::Scanner;
use crate::domain::index::{Child, PlatformVerdict, aggregate, children};
use crate::domain::tags::TagKind;
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::{Subject, Verdict, evaluate};
use crate::domain::{Decision, Finding, ImageRef, ScanState, Severity, SeverityCounts};
use crate::error::{Error, GatekeeperError};
use crate::outbound::notice::{VerdictNotice, change_key, dedup_key};
use crate::outbound::tickets::{TicketAction, TicketNotice, ticketable};
use crate::ports::{FindingsSource, ImageDetail, ImageRegistry, Notifier, Ports, StateStore};
use crate::state::{Claim, ImageState, Mark, Written};

/// How long after a push a platform image's index is looked for, when its push was not seen.
const INDEX_LOOKBACK: i64 = 2 * DAY;
/// When an incomplete findings list is looked at again.
const LAG_RECHECK: i64 = 600;

/// What an event says about the scan, besides the findings fetched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScanHint {
    /// The scan status the event reports (Inspector2 Scan: complete; Coverage: the new status).
    pub state: Option<ScanState>,
    /// The scan-complete event's severity counts and Inspector's TOTAL: fewer findings listed means the
    /// list is still incomplete.
    pub expected: Option<(SeverityCounts, Option<u32>)>,
}

/// What [`Gatekeeper::decide_with`] found: the outcome, the image's state as read (with the parents
/// found for it), and the scan status the verdict used.
pub(super) struct Decided {
    outcome: Outcome,
    state: ImageState,
    scan: ScanState,
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

/// Whether the listed findings fall short of what the scan-complete event counted.
fn incomplete(findings: &[Finding], expected: &(SeverityCounts, Option<u32>)) -> Option<String> {
    let mut listed = SeverityCounts::default();
    // Suppressed findings are listed too: whether the event's counts include them or not, an
    // incomplete list is then never mistaken for a complete one, nor a complete one deferred forever.
    for f in findings
        .iter()
        .filter(|f| f.status != crate::domain::FindingStatus::Closed)
    {
        listed.add(f.severity);
    }
    let (counts, total) = expected;
    for s in [Severity::Critical, Severity::High, Severity::Medium] {
        if listed.get(s) < counts.get(s) {
            return Some(format!(
                "the scan counted {} {s} finding(s), ListFindings returned {} so far",
                counts.get(s),
                listed.get(s)
            ));
        }
    }
    match total {
        Some(t) if listed.total() < *t => Some(format!(
            "the scan counted {t} finding(s), ListFindings returned {} so far",
            listed.total()
        )),
        _ => None,
    }
}

impl<P: Ports> Gatekeeper<P> {
    /// Fetches an image's findings (basic: DescribeImageScanFindings; enhanced: ListFindings) and
    /// the scan status basic scanning reports with them; `None` when the image no longer exists.
    pub async fn findings_of<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
    ) -> Result<Option<(Vec<Finding>, ScanState)>, Error> {
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

    /// Fetches the image's findings, decides, and acts and notifies if the decision changed; then
    /// keeps its tickets and the indexes that refer to it up to date.
    pub async fn evaluate_image<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        self.evaluate_with(source, image, scanner, &ScanHint::default(), trigger)
            .await
    }

    /// [`Self::evaluate_image`] with what the event says about the scan.
    pub async fn evaluate_with<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        hint: &ScanHint,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let Some((findings, reported)) = self.findings_of(source, image, scanner).await? else {
            return Ok(Outcome::new(
                "skipped",
                trigger.kind,
                Some(image),
                "image no longer in ECR",
            ));
        };
        let scan = match (&reported, &hint.state) {
            (ScanState::Unknown, Some(h)) => h.clone(),
            _ => reported,
        };
        if let Some(why) = hint
            .expected
            .as_ref()
            .and_then(|e| incomplete(&findings, e))
        {
            return self.defer(image, &why, trigger).await;
        }
        let Decided {
            outcome,
            state,
            scan,
        } = self
            .decide_with(
                image,
                &Basis::Findings {
                    findings: &findings,
                    scan,
                },
                trigger,
            )
            .await?;
        if outcome.status == "skipped" {
            return Ok(outcome);
        }
        // Findings that disappear from an image that is no longer monitored are not fixed: the image
        // stays in its tickets until it is scanned again or deleted.
        let monitored = matches!(scan, ScanState::Complete | ScanState::Unknown)
            && outcome.decision != Some(Decision::Pending);
        self.sync_tickets(image, &findings, &state, monitored, trigger)
            .await?;
        self.judge_parents(image, &state, trigger).await?;
        Ok(outcome)
    }

    /// Decides on an image from its findings and acts on a change. Public for the CLI's reconcile.
    pub async fn decide(
        &self,
        image: &ImageRef,
        findings: &[Finding],
        scan: ScanState,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        Ok(self
            .decide_with(image, &Basis::Findings { findings, scan }, trigger)
            .await?
            .outcome)
    }

    /// An incomplete findings list decides nothing: a decision made before stays, a new image stays
    /// pending, and the sweep looks again later.
    async fn defer(
        &self,
        image: &ImageRef,
        why: &str,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let now = (self.clock)();
        let state = self.state.load(image).await?;
        info!(image = %image.display(), reason = why, "findings list incomplete");
        if state.decision.is_none() {
            self.state
                .set_quietly(
                    image,
                    state.exists.then_some(state.version),
                    Decision::Pending,
                    now,
                )
                .await?;
        }
        self.state.set_due(image, Some(now + LAG_RECHECK)).await?;
        let mut o = Outcome::new(
            "deferred",
            trigger.kind,
            Some(image),
            format!("findings list incomplete: {why}; checked again later"),
        );
        o.decision = state.decision.or(Some(Decision::Pending));
        Ok(o)
    }

    /// Decides an image index from the verdicts of its platform images.
    pub(super) async fn judge_index(
        &self,
        index: &ImageRef,
        platforms: &[(String, String)],
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let mut verdicts = Vec::with_capacity(platforms.len());
        for (digest, platform) in platforms {
            let child = ImageRef {
                repository: index.repository.clone(),
                digest: digest.clone(),
                tags: Vec::new(),
            };
            let st = self.state.load(&child).await?;
            verdicts.push(PlatformVerdict {
                child: Child {
                    digest: digest.clone(),
                    platform: platform.clone(),
                    attestation: false,
                },
                decision: st.decision,
                summary: st.summary,
            });
        }
        Ok(self
            .decide_with(index, &Basis::Platforms(verdicts), trigger)
            .await?
            .outcome)
    }

    /// Decides again every image index that refers to this platform image.
    async fn judge_parents(
        &self,
        image: &ImageRef,
        state: &ImageState,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        for parent in &state.parents {
            let index = ImageRef {
                repository: image.repository.clone(),
                digest: parent.clone(),
                tags: Vec::new(),
            };
            let st = self.state.load(&index).await?;
            if !st.children.is_empty() {
                self.judge_index(&index, &st.children, trigger).await?;
            }
        }
        Ok(())
    }

    /// The image indexes that refer to an image whose index push was not seen, linked as its parents:
    /// a bounded search of the repository's recent indexes (one DescribeImages page of 100, one
    /// BatchGetImage), made only when an untagged image's decision changes.
    async fn find_parents(&self, image: &ImageRef) -> Result<Vec<String>, Error> {
        let since = (self.clock)() - INDEX_LOOKBACK;
        let mut parents = Vec::new();
        for (digest, manifest) in self
            .registry
            .recent_indexes(&image.repository, since)
            .await?
        {
            let Ok(kids) = children(&manifest) else {
                continue;
            };
            if kids
                .iter()
                .any(|k| k.digest == image.digest && !k.attestation)
            {
                let linked: Vec<(String, String)> = kids
                    .iter()
                    .filter(|k| !k.attestation)
                    .map(|k| (k.digest.clone(), k.platform.clone()))
                    .collect();
                self.state
                    .link_index(&image.repository, &digest, &linked)
                    .await?;
                parents.push(digest);
            }
        }
        Ok(parents)
    }

    /// Opens tickets for vulnerabilities new to this image and drops the image from tickets whose
    /// vulnerability it no longer has (only while it is monitored: closed by lost coverage is not fixed).
    async fn sync_tickets(
        &self,
        image: &ImageRef,
        findings: &[Finding],
        state: &ImageState,
        monitored: bool,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        if self.policy.ticket_severity().is_none() && state.tickets.is_empty() {
            return Ok(());
        }
        let now = (self.clock)();
        let subject = Subject::new(&image.repository, &image.digest, now);
        let current = ticketable(&self.policy, &subject, findings);
        let mut kept: Vec<String> = Vec::new();
        for (id, tf) in &current {
            kept.push(id.clone());
            if state.tickets.contains(id) {
                continue;
            }
            let change = self
                .state
                .ticket_add(&image.repository, id, &image.digest, tf.severity, now)
                .await?;
            let action = if change.opened {
                TicketAction::Open
            } else if change.severity_changed {
                TicketAction::Update
            } else {
                continue;
            };
            let notice = TicketNotice {
                action,
                repository: &image.repository,
                finding: tf,
                images: &change.images,
                trigger_image: &image.digest,
                region: trigger.region.as_deref(),
                now,
            };
            self.notifier.publish(&notice.to_message()).await?;
        }
        for id in state.tickets.iter().filter(|id| !current.contains_key(*id)) {
            if !monitored {
                kept.push(id.clone());
                continue;
            }
            self.drop_from_ticket(image, id, trigger).await?;
        }
        kept.sort();
        if kept != state.tickets {
            self.state.set_image_tickets(image, &kept).await?;
        }
        Ok(())
    }

    /// Removes an image from a ticket, and notifies when that resolves it.
    pub(super) async fn drop_from_ticket(
        &self,
        image: &ImageRef,
        id: &str,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        let now = (self.clock)();
        let change = self
            .state
            .ticket_remove(&image.repository, id, &image.digest, now)
            .await?;
        if change.resolved {
            let tf = crate::outbound::tickets::TicketFinding {
                id: id.to_string(),
                severity: change.severity.unwrap_or(Severity::Untriaged),
                package: None,
                installed_version: None,
                fixed_version: None,
                score: None,
                epss: None,
            };
            let notice = TicketNotice {
                action: TicketAction::Resolved,
                repository: &image.repository,
                finding: &tf,
                images: &[],
                trigger_image: &image.digest,
                region: trigger.region.as_deref(),
                now,
            };
            self.notifier.publish(&notice.to_message()).await?;
        }
        Ok(())
    }

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
