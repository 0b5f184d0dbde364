//! Scan results and finding changes: fetch the image's findings, wait for a complete list, decide,
//! then keep the image's tickets and the indexes that refer to it up to date.

use tracing::info;

use super::decide::{Basis, Decided};
use super::{Gatekeeper, Outcome, Status, Trigger, until_settled};
use crate::domain::events::Scanner;
use crate::domain::time::Epoch;
use crate::domain::{Decision, Finding, ImageRef, ScanState, Severity, SeverityCounts};
use crate::error::Error;
use crate::ports::{FindingsSource, ImageRecords, ImageRegistry, Ports, SweepSchedule};
use crate::state::SeenFindings;

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
    /// The findings the events carry (Inspector2 Finding): ListFindings may not list them yet, or
    /// list an older update of them.
    pub findings: Vec<Finding>,
}

/// The listed findings with the events' findings merged in: an event's finding replaces the listed
/// one with its ARN when it was updated later, and is added when it is not listed and was updated
/// within [`LAG_RECHECK`] of `now` (ListFindings lists open findings only: an older event's finding
/// that is not listed was closed since, and a redelivered event must not bring it back).
fn merged(mut listed: Vec<Finding>, events: &[Finding], now: Epoch) -> Vec<Finding> {
    for event in events {
        let Some(arn) = event.arn.as_deref() else {
            continue;
        };
        match listed.iter_mut().find(|f| f.arn.as_deref() == Some(arn)) {
            Some(f) if f.updated_at >= event.updated_at => {}
            Some(f) => *f = event.clone(),
            None if event.updated_at.is_some_and(|t| now - t <= LAG_RECHECK) => {
                listed.push(event.clone())
            }
            None => {}
        }
    }
    listed
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
                .registry_of(image)
                .await?
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
        let hint = ScanHint::default();
        let (outcome, _) = self
            .evaluate_with(source, image, scanner, &hint, trigger)
            .await?;
        Ok(outcome)
    }

    /// [`Self::evaluate_image`] with what the events say about the scan; also what the evaluation saw
    /// when it stands by a verdict (the Inspector findings it read, against the record's version it
    /// left): `None` when it deferred, skipped, found the image gone or another delivery applying
    /// the change.
    pub(super) async fn evaluate_with<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        scanner: Scanner,
        hint: &ScanHint,
        trigger: &Trigger,
    ) -> Result<(Outcome, Option<SeenFindings>), Error> {
        // Each attempt reads the findings again: after a lost write they may have changed.
        until_settled(image, move || async move {
            let Some((listed, reported)) = self.findings_of(source, image, scanner).await? else {
                return Ok(Some((Outcome::gone(trigger.kind, image), None)));
            };
            let mut findings = merged(listed, &hint.findings, (self.clock)());
            let scan = match (&reported, &hint.state) {
                (ScanState::Unknown, Some(h)) => h.clone(),
                _ => reported,
            };
            if let Some(why) = hint
                .expected
                .as_ref()
                .and_then(|e| incomplete(&findings, e))
            {
                return Ok(Some((self.defer(image, &why, trigger).await?, None)));
            }
            self.with_kev(source, image, &mut findings).await?;
            let basis = Basis::Findings {
                findings: &findings,
                scan,
            };
            let Some(Decided {
                outcome,
                state,
                scan,
                left_at,
            }) = self.decide_once(image, &basis, trigger).await?
            else {
                return Ok(None);
            };
            if outcome.status == Status::Skipped {
                return Ok(Some((outcome, None)));
            }
            // Findings that disappear from an image that is no longer monitored are not fixed: the
            // image stays in its tickets until it is scanned again or deleted.
            let monitored = matches!(scan, ScanState::Complete | ScanState::Unknown)
                && outcome.decision != Some(Decision::Pending);
            self.sync_tickets(image, &findings, &state, monitored)
                .await?;
            self.judge_parents(image, &state, trigger).await?;
            // Recorded unless the record already says it (an unchanged verdict evaluated again).
            let seen = match (scanner, left_at) {
                (Scanner::Enhanced, Some(v)) => {
                    SeenFindings::of(v, &findings).filter(|seen| state.seen.as_ref() != Some(seen))
                }
                _ => None,
            };
            Ok(Some((outcome, seen)))
        })
        .await
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
        self.state
            .set_due(image, Some(now + LAG_RECHECK), None)
            .await?;
        let mut o = Outcome::new(
            Status::Deferred,
            trigger.kind,
            Some(image),
            format!("findings list incomplete: {why}; checked again later"),
        );
        o.decision = state.decision.or(Some(Decision::Pending));
        Ok(o)
    }
}
