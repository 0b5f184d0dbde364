//! Organization members: the registry an image lives in (the deployment's own, or a member's through
//! its role), its account's OU path, and the alert when a member cannot be reached or located.

use std::collections::BTreeSet;
use std::sync::Mutex;

use tracing::{error, warn};

use super::{Gatekeeper, Trigger};
use crate::domain::policy::is_ou_path;
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::pending;
use crate::domain::{ImageRef, Place, TriggerKind};
use crate::error::Error;
use crate::outbound::notice::{EventType, VerdictNotice, dedup_key};
use crate::ports::{Notifier, OnceMarks, Ports, Reach};
use crate::state::{Mark, key_scope};

/// The registry an image lives in (see [`Gatekeeper::registry_of`]).
pub(super) enum Registry<'a, R> {
    /// The deployment's own.
    Own(&'a R),
    /// A member account's.
    Member(R),
}

impl<R> std::ops::Deref for Registry<'_, R> {
    type Target = R;

    fn deref(&self) -> &R {
        match self {
            Registry::Own(r) => r,
            Registry::Member(r) => r,
        }
    }
}

impl<P: Ports> Gatekeeper<P> {
    /// The registry `image` lives in: this deployment's own, or a member's (through its role). A member
    /// the deployment cannot reach is an error for this image (its records go back to the queue, to
    /// the dead-letter queue in the end) and an alert once a day per member.
    pub(super) async fn registry_of(
        &self,
        image: &ImageRef,
    ) -> Result<Registry<'_, P::Registry>, Error> {
        let Some(place) = &image.place else {
            return Ok(Registry::Own(&self.registry));
        };
        match self.registry.at(place).await {
            Ok(registry) => Ok(Registry::Member(registry)),
            Err(e) => Err(self.unreachable(image, place, e.into()).await),
        }
    }

    /// The OU path `place`'s member stack wrote, for the rules scoped by OU; none, or one that is not
    /// an OU path, is `None` and an alert (the strictest rule that could apply then decides). A
    /// member that cannot be reached is unreachable, not unlocated.
    pub(super) async fn member_ou_path(
        &self,
        image: &ImageRef,
        place: &Place,
    ) -> Result<Option<&'static str>, Error> {
        self.registry_of(image).await?;
        let problem = match self.registry.ou_path(place).await? {
            Some(path) if is_ou_path(&path) => return Ok(Some(interned(path))),
            Some(path) => format!(
                "its member stack's OU path {path:?} is not one (r-ab12/ou-ab12-11111111/...)"
            ),
            None => "its member stack wrote no OU path (its OuPath parameter)".into(),
        };
        self.unlocated(image, &problem).await;
        Ok(None)
    }

    /// The registry of `place` (`None`: the deployment's own), as [`Self::registry_of`].
    pub(super) async fn registry_at(
        &self,
        place: Option<&Place>,
    ) -> Result<Registry<'_, P::Registry>, Error> {
        let anywhere = ImageRef {
            place: place.cloned(),
            ..ImageRef::home("*", "*")
        };
        self.registry_of(&anywhere).await
    }

    /// Says once a day that the deployment cannot act in a member account, and gives back the error.
    /// A retryable error (throttled, a dropped connection) is not announced: its retry likely cures it.
    async fn unreachable(&self, image: &ImageRef, place: &Place, e: Error) -> Error {
        if e.is_retryable() {
            return e;
        }
        error!(member = %place, error = %e, "cannot act in a member account: its images are not governed");
        let alert = Alert {
            kind: TriggerKind::Unreachable,
            subject: format!("CANNOT ACT in account {} ({})", place.account, place.region),
            reason: format!(
                "cannot act in {place}: {e}. Its images are not governed until the member role is there and trusts this deployment (records go to the dead-letter queue after their retries)"
            ),
        };
        self.alert_once(image, Some(place), alert).await;
        e
    }

    /// Says once a day that an account's OU path is not known, so that its images are judged by the
    /// strictest rule that could apply to them.
    pub(super) async fn unlocated(&self, image: &ImageRef, problem: &str) {
        let place = image.place.as_ref().or(self.home.as_ref());
        let whose = place.map_or("this deployment's account".to_string(), |p| p.to_string());
        warn!(account = %whose, problem, "OU path unknown: judged by the strictest rule that could apply");
        let subject = match place {
            Some(p) => format!("OU PATH UNKNOWN for account {} ({})", p.account, p.region),
            None => "OU PATH UNKNOWN for this deployment's account".into(),
        };
        let alert = Alert {
            kind: TriggerKind::Unlocated,
            subject,
            reason: format!(
                "{whose}: {problem}. The policy scopes rules by OU: until the OU path is known, its images are judged by the strictest rule that could apply to them"
            ),
        };
        self.alert_once(image, place, alert).await;
    }

    /// Publishes `alert` about `place` once a day (the records retried until the dead-letter queue,
    /// or every image of a burst, would repeat it); a failure to send it is logged.
    async fn alert_once(&self, image: &ImageRef, place: Option<&Place>, alert: Alert) {
        if let Err(e) = self.try_alert_once(image, place, &alert).await {
            warn!(error = %e, kind = %alert.kind, "an alert was not sent");
        }
    }

    async fn try_alert_once(
        &self,
        image: &ImageRef,
        place: Option<&Place>,
        alert: &Alert,
    ) -> Result<(), Error> {
        let now = (self.clock)();
        let day = format_date(now);
        let kind = alert.kind.as_str();
        let key = format!("{}alert#{kind}#{day}", key_scope(place));
        let by = format!("{kind}-{}", image.display());
        if self.state.mark_once(&key, &by, now, 2 * DAY).await? != Mark::First {
            return Ok(());
        }
        let verdict = pending(alert.reason.clone());
        let trigger = Trigger::cli(alert.kind, format!("{kind}-{day}"));
        let (account, region) = place.map_or(("", ""), |p| (p.account.as_str(), p.region.as_str()));
        let rule = self.policy.rule_in(&image.repository, self.placed(image));
        let notice = VerdictNotice {
            event_type: EventType::Alert,
            dedup_key: dedup_key(&[kind, account, region, &day]),
            subject: Some(format!("ECR gatekeeper: {}", alert.subject)),
            ..self.notice(image, &verdict, rule, &trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(())
    }
}

/// An alert about an account: its kind, subject line and reason.
struct Alert {
    kind: TriggerKind,
    subject: String,
    reason: String,
}

/// `path` as a string that lives as long as the process: OU paths are few (one per OU an account of
/// the Organization is in), and rules borrow them while an image is decided.
fn interned(path: String) -> &'static str {
    static PATHS: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let mut paths = PATHS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = paths.get(path.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(path.into_boxed_str());
    paths.insert(leaked);
    leaked
}
