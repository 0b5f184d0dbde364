//! The gatekeeper's job, generic over its ports: an event in, a verdict, tag changes in ECR, one
//! message per change, and an [`Outcome`] out.
//!
//! Concurrency: the state table holds each image's last decision and version. A delivery that finds
//! a new decision *claims* the change with a conditional write; only the claimant acts and notifies,
//! then finishes the claim. A retry of the same event resumes its own claim; a claim older than the
//! lease is taken over. Tags are always read from ECR right before acting, never from the event.
//!
//! One job per file:
//! - `route`: an event in, parsed and routed (a malformed one rejected, one not ours skipped);
//! - `intake`: an SQS batch, grouped by image: each image evaluated once, failed images' records retried;
//! - `push`: a push onto a known digest (its verdict at once; a verified tag only where it verifies);
//! - `admit`: a new image held where the policy says so and made sure to be scanned;
//! - `lifecycle`: an image deleted or restored from the archive;
//! - `evaluate`: scan results and finding changes, from findings to a decision;
//! - `decide`: the heart: one verdict, one claimed change, acted on and notified once;
//! - `index`: image indexes decided from their platform images;
//! - `tickets`: one ticket per vulnerability, listing the images that have it;
//! - `act`: a decision as a tag plan, behind the circuit breaker;
//! - `archive`: a blocked image archived (`on_block`), restored by a release, archived again;
//! - `execute`: a plan carried out in ECR, with its audit trail;
//! - `members`: the registry an image lives in (the deployment's own, or an Organization member's);
//! - `operator`: the CLI's preview, break-glass release and uninstall;
//! - `sweep`: the scheduled re-evaluation of images time or lost events may have changed.

mod act;
mod admit;
mod archive;
mod decide;
mod evaluate;
mod execute;
mod history;
mod index;
mod intake;
pub mod kev;
mod lifecycle;
mod members;
mod operator;
mod push;
mod route;
mod sweep;
mod tickets;

pub use evaluate::ScanHint;
pub use history::remediation;
pub use intake::{BatchReport, Record};
pub use operator::{Preview, ReleaseRequest};
pub use sweep::{SweepReport, SweepSettings, blocking_severities};

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use tracing::info;

use crate::domain::events::Event;
use crate::domain::plan::Verified;
use crate::domain::policy::{Policy, Rule, Whereabouts};
use crate::domain::tags::{TagKind, TagScheme};
use crate::domain::time::Epoch;
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, ImageRef, Mode, Place, TriggerKind};
use crate::error::{Error, GatekeeperError};
use crate::outbound::notice::{Action, VerdictNotice};
use crate::ports::{ImageDetail, ImageRegistry, Notifier, Ports, Reach};

/// How often a delivery re-reads the state after losing a conditional write before giving up
/// (Lambda retries the invocation).
const MAX_ATTEMPTS: usize = 4;

/// What an invocation came to. Serialised as [`Status::as_str`], the outcome's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// A decision changed (or an override began or ended): acted on and notified.
    Changed,
    /// Nothing to change: the decision stands, or nothing is decided yet.
    Unchanged,
    /// Tags changed or a scan was started without a change of decision (a hold, a re-tag, a release).
    Acted,
    /// Another delivery is applying this same change.
    InProgress,
    /// Nothing done: not this function's event, or the image is no longer in ECR.
    Skipped,
    /// A malformed event, copied to the rejected-events queue.
    Rejected,
    /// The findings list is still incomplete: looked at again later.
    Deferred,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::Changed,
        Status::Unchanged,
        Status::Acted,
        Status::InProgress,
        Status::Skipped,
        Status::Rejected,
        Status::Deferred,
    ];

    /// `changed`, `unchanged`, `acted`, `in_progress`, `skipped`, `rejected` or `deferred`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Changed => "changed",
            Status::Unchanged => "unchanged",
            Status::Acted => "acted",
            Status::InProgress => "in_progress",
            Status::Skipped => "skipped",
            Status::Rejected => "rejected",
            Status::Deferred => "deferred",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one invocation did, returned to Lambda (and logged).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// What it came to.
    pub status: Status,
    /// What caused it: the event's kind (`invalid` for a malformed one), or the CLI's run.
    pub kind: TriggerKind,
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
        status: Status,
        kind: TriggerKind,
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

    /// The outcome for an image that is no longer in ECR (deleted while its event was on the way).
    fn gone(kind: TriggerKind, image: &ImageRef) -> Outcome {
        info!(image = %image.display(), "skipped: image no longer in ECR");
        Outcome::new(Status::Skipped, kind, Some(image), "image no longer in ECR")
    }
}

/// Who asked: the event (or the CLI) that caused an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger {
    /// EventBridge event id (stable across Lambda retries), or the CLI's own id.
    pub event_id: String,
    /// What kind of event or run it is.
    pub kind: TriggerKind,
    /// The deliveries it answers: the SQS message ids of an image's records in a batch, or the Lambda
    /// request id of a direct delivery (none outside Lambda).
    pub deliveries: Vec<String>,
}

impl Trigger {
    fn of(event: &Event) -> Trigger {
        Trigger {
            event_id: event.id.clone(),
            kind: event.kind(),
            deliveries: Some(event.delivery.clone())
                .filter(|d| !d.is_empty())
                .into_iter()
                .collect(),
        }
    }

    /// A trigger of the CLI's (`reconcile`, `release`).
    pub fn cli(kind: TriggerKind, id: String) -> Trigger {
        Trigger {
            event_id: id,
            kind,
            deliveries: Vec::new(),
        }
    }
}

/// The gatekeeper: ports, policy and settings, built once per Lambda container.
#[derive(Debug)]
pub struct Gatekeeper<P: Ports> {
    /// ECR.
    pub registry: P::Registry,
    /// The JSON topic.
    pub notifier: P::Notifier,
    /// The state table.
    pub state: P::State,
    /// The rejected-events queue.
    pub rejects: P::Rejects,
    /// The validated policy.
    pub policy: Policy,
    /// Deployment mode (audit overrides every rule).
    pub mode: Mode,
    /// Reserved tag prefixes.
    pub tags: TagScheme,
    /// Claim lease, seconds.
    pub claim_lease: i64,
    /// Its own account and region: the images it governs (`None`: unknown, so only events that name
    /// no account are acted on).
    pub home: Option<Place>,
    /// An Organization deployment also governs its members' images in its own region: every member
    /// (empty) or those listed; `None`: its own account only.
    pub members: Option<Vec<String>>,
    /// Its own account's OU path, for the rules scoped by OU (members' are read from their stacks).
    pub ou_path: Option<String>,
    /// The clock (tests fix it).
    pub clock: fn() -> Epoch,
}

/// `P`'s ports with registry `R`.
type NewRegistry<P, R> = (
    R,
    <P as Ports>::Notifier,
    <P as Ports>::State,
    <P as Ports>::Rejects,
);
/// `P`'s ports with notifier `N`.
type NewNotifier<P, N> = (
    <P as Ports>::Registry,
    N,
    <P as Ports>::State,
    <P as Ports>::Rejects,
);
/// `P`'s four ports, as [`Gatekeeper::rewire`] hands them over.
type PortsOf<P> = (
    <P as Ports>::Registry,
    <P as Ports>::Notifier,
    <P as Ports>::State,
    <P as Ports>::Rejects,
);

fn retry_later(message: String) -> Error {
    GatekeeperError::Contention(message).into()
}

/// Runs `attempt` until it settles (`Some`): each `None` means a conditional write on `image` was lost
/// to another writer, so the attempt reads everything again (the state, the tags, and what the verdict
/// is computed from: a newer scan may have changed the findings). Gives up after [`MAX_ATTEMPTS`].
async fn until_settled<T, F>(image: &ImageRef, mut attempt: impl FnMut() -> F) -> Result<T, Error>
where
    F: Future<Output = Result<Option<T>, Error>>,
{
    for _ in 0..MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(retry_later(format!(
        "{}: state kept changing under this delivery",
        image.display()
    )))
}

impl<P: Ports> Gatekeeper<P> {
    /// The same gatekeeper with other ports: `rewire` takes today's four and returns the new four
    /// (a test wraps one of them to inject a race or a fault).
    pub fn rewire<Q: Ports>(
        self,
        rewire: impl FnOnce(PortsOf<P>) -> (Q::Registry, Q::Notifier, Q::State, Q::Rejects),
    ) -> Gatekeeper<Q> {
        let (registry, notifier, state, rejects) =
            rewire((self.registry, self.notifier, self.state, self.rejects));
        Gatekeeper {
            registry,
            notifier,
            state,
            rejects,
            policy: self.policy,
            mode: self.mode,
            tags: self.tags,
            claim_lease: self.claim_lease,
            home: self.home,
            members: self.members,
            ou_path: self.ou_path,
            clock: self.clock,
        }
    }

    /// The same gatekeeper with another registry.
    pub fn with_registry<R: ImageRegistry + Reach + Sync>(
        self,
        registry: R,
    ) -> Gatekeeper<NewRegistry<P, R>> {
        self.rewire(|(_, n, s, j)| (registry, n, s, j))
    }

    /// The same gatekeeper with another notifier.
    pub fn with_notifier<N: Notifier + Sync>(self, notifier: N) -> Gatekeeper<NewNotifier<P, N>> {
        self.rewire(|(r, _, s, j)| (r, notifier, s, j))
    }

    /// The image's details in ECR, `None` when it is gone.
    async fn detail(&self, image: &ImageRef) -> Result<Option<ImageDetail>, Error> {
        let detail = self
            .registry_of(image)
            .await?
            .describe_image(&image.repository, &image.digest)
            .await?;
        Ok(detail)
    }

    /// The mode that applies to a rule: the deployment's `audit` overrides every rule.
    pub fn effective_mode(&self, rule: &Rule) -> Mode {
        if self.mode == Mode::Audit {
            Mode::Audit
        } else {
            rule.mode
        }
    }

    /// The tag scheme of an image under `rule`: the deployment's prefixes, with the rule's
    /// `verified_prefix` when the rule writes verified tags (validated against the others at cold
    /// start).
    pub fn tags_for(&self, rule: &Rule) -> TagScheme {
        match &rule.verified_prefix {
            Some(v) => TagScheme::new(self.tags.quarantine_prefix(), self.tags.held_prefix(), v)
                .unwrap_or_else(|_| self.tags.clone()),
            None => self.tags.clone(),
        }
    }

    /// What becomes of an image's verified tags under `rule`, for its actual decision.
    pub fn verified_for(rule: &Rule, verdict: Decision) -> Verified {
        Verified::of(rule.verified_prefix.is_some(), rule.verify_warn, verdict)
    }

    /// The tags people know an image by: plain tags, and the tags its quarantine and held tags keep.
    pub fn original_tags(&self, tags: &[String]) -> Vec<String> {
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

    /// The rule for `image`, where it lives (see [`Self::locate`]): where its OU path is not known
    /// and a rule scoped by OU could apply, the strictest that could ([`Policy::rule_at`]).
    pub async fn rule_of(&self, image: &ImageRef) -> Result<Cow<'_, Rule>, Error> {
        let at = self.locate(image).await?;
        Ok(self.policy.rule_at(&image.repository, at))
    }

    /// Where `image` lives, for the rules scoped by account, OU and region. Its account's OU path
    /// is read only when a rule is scoped by OU: the deployment's own from its configuration, a
    /// member's from its stack (kept with the member session). Not known (no parameter, a malformed
    /// one, the own one unset): `None`, so that the strictest rule that could apply decides
    /// (fail closed), and an alert says so once a day. A failed read is an error (retried).
    pub async fn locate<'a>(&'a self, image: &'a ImageRef) -> Result<Whereabouts<'a>, Error> {
        let at = self.placed(image);
        if !self.policy.scopes_by_ou() {
            return Ok(at);
        }
        let ou_path = match (&image.place, self.ou_path.as_deref()) {
            (None, Some(own)) => Some(own),
            (None, None) => {
                let problem = "the deployment's own OU path is not configured (GATEKEEPER_OU_PATH, the stack's OuPath)";
                self.unlocated(image, problem).await;
                None
            }
            (Some(place), _) => self.member_ou_path(image, place).await?,
        };
        Ok(Whereabouts { ou_path, ..at })
    }

    /// Where `image` lives as far as its account and region tell.
    fn placed<'a>(&'a self, image: &'a ImageRef) -> Whereabouts<'a> {
        let place = self.place_of(image);
        Whereabouts {
            account: place.map(|p| p.account.as_str()),
            region: place.map(|p| p.region.as_str()),
            ou_path: None,
        }
    }

    /// Where `image` lives, when known: its own place, or this deployment's.
    fn place_of<'a>(&'a self, image: &'a ImageRef) -> Option<&'a Place> {
        image.place.as_ref().or(self.home.as_ref())
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
            region: self.place_of(image).map(|p| p.region.as_str()),
            account: self.place_of(image).map(|p| p.account.as_str()),
            policy_hash: self.policy.hash(),
            rule: &rule.name,
            subject_tag: self.original_tags(&image.tags).into_iter().next(),
            ..VerdictNotice::new(
                image,
                verdict,
                self.effective_mode(rule),
                trigger.kind,
                &trigger.event_id,
                (self.clock)(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_serialises_and_displays_as_its_name() {
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str(), "{s:?}");
            assert_eq!(s.to_string(), s.as_str());
        }
    }
}
