//! The verdict history: what a change is recorded with (one record per applied change of an image's
//! disposition, written once it is applied, before it is announced and marked done, so that a retry
//! writes the same record again), and the report's figures read back from it.

use super::Trigger;
use crate::domain::history::{Cause, Change, Standing, scope};
use crate::domain::remediation::{Current, Remediation, Settings, analyze};
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, TriggerKind};
use crate::error::AwsError;
use crate::ports::VerdictHistory;
use crate::state::Claim;

/// Why a claimed change happened, from what caused the evaluation and what the verdict says.
pub(super) fn cause_of(trigger: &Trigger, claim: &Claim, verdict: &Verdict) -> Cause {
    if claim.overridden != claim.previous_overridden {
        return Cause::Release;
    }
    match trigger.kind {
        TriggerKind::Release => Cause::Release,
        TriggerKind::Sweep => Cause::Deadline,
        TriggerKind::Reconcile => Cause::Reconcile,
        _ if claim.decision != Decision::Block && !verdict.exceptions.is_empty() => {
            Cause::Exception
        }
        _ => Cause::Scan,
    }
}

/// `change`, naming what of `verdict` decided it: the vulnerabilities of a block, and those an
/// exception kept from deciding.
pub(super) fn deciding(change: Change, verdict: &Verdict) -> Change {
    Change {
        blocking: match change.to {
            Some(t) if t.decision == Decision::Block => verdict.blocking_vulnerabilities(),
            _ => Vec::new(),
        },
        excepted: verdict.exceptions.iter().map(|e| e.id.clone()).collect(),
        ..change
    }
}

/// The dispositions a claim changes from and to.
pub(super) fn standings(claim: &Claim) -> (Option<Standing>, Option<Standing>) {
    (
        claim
            .previous
            .map(|d| Standing::new(d, claim.previous_overridden)),
        Some(Standing::new(claim.decision, claim.overridden)),
    )
}

/// The report's figures from a state table: its verdict history from `settings.since` (the whole
/// history kept, so that tickets opened before the windows count) and its image records now.
pub async fn remediation<S: VerdictHistory>(
    state: &S,
    settings: &Settings,
) -> Result<Remediation, AwsError> {
    let changes = state.changes(settings.since, settings.now).await?;
    let current: Vec<Current> = (state.images_now().await?.into_iter())
        .filter_map(|(image, record)| {
            let place = image.place.as_ref();
            Some(Current {
                scope: scope(
                    place.map(|p| p.account.as_str()),
                    place.map(|p| p.region.as_str()),
                    &image.repository,
                ),
                standing: Standing::new(record.decision?, record.overridden),
                blocking: record.summary.map(|s| s.blocking).unwrap_or_default(),
                digest: image.digest,
            })
        })
        .collect();
    Ok(analyze(&changes, &current, settings))
}
