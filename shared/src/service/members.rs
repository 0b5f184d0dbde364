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
use crate::error::{Error, GatekeeperError};
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
            Err(e) => Err(self.unreachable(image, place, e.into(), ROLE_HINT).await),
        }
    }

    /// The OU path `place`'s member stack wrote, for the rules scoped by OU; none, or one that is not
    /// an OU path, is an error for this image (fail closed) and an alert, as an unreachable member.
    pub(super) async fn member_ou_path(
        &self,
        image: &ImageRef,
        place: &Place,
    ) -> Result<&'static str, Error> {
        let unlocated = |problem: String| -> Error {
            GatekeeperError::Unlocated(format!(
                "{place}: {problem}; the policy scopes rules by OU, so its images are not decided"
            ))
            .into()
        };
        let e = match self.registry.ou_path(place).await {
            Ok(Some(path)) if is_ou_path(&path) => return Ok(interned(path)),
            Ok(Some(path)) => unlocated(format!(
                "its member stack's OU path {path:?} is not one (r-ab12/ou-ab12-11111111)"
            )),
            Ok(None) => unlocated("its member stack wrote no OU path".into()),
            Err(e) => e.into(),
        };
        Err(self.unreachable(image, place, e, OU_PATH_HINT).await)
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
    async fn unreachable(&self, image: &ImageRef, place: &Place, e: Error, hint: &str) -> Error {
        if e.is_retryable() {
            return e;
        }
        if let Err(alert) = self.alert_unreachable(image, place, &e, hint).await {
            warn!(error = %alert, "the alert about an unreachable member was not sent");
        }
        e
    }

    /// The once-a-day alert of [`Self::unreachable`].
    async fn alert_unreachable(
        &self,
        image: &ImageRef,
        place: &Place,
        e: &Error,
        hint: &str,
    ) -> Result<(), Error> {
        error!(member = %place, error = %e, "cannot act in a member account: its images are not governed");
        let now = (self.clock)();
        let day = format_date(now);
        let key = format!("{}alert#unreachable#{day}", key_scope(Some(place)));
        // Only the first: the records retried until the dead-letter queue would repeat it.
        let by = format!("unreachable-{}", image.display());
        if self.state.mark_once(&key, &by, now, 2 * DAY).await? != Mark::First {
            return Ok(());
        }
        let reason = format!(
            "cannot act in {place}: {e}. Its images are not governed until {hint} (records go to the dead-letter queue after their retries)"
        );
        let verdict = pending(reason);
        let trigger = Trigger::cli(TriggerKind::Unreachable, format!("unreachable-{day}"));
        let notice = VerdictNotice {
            event_type: EventType::Alert,
            dedup_key: dedup_key(&["unreachable", &place.account, &place.region, &day]),
            subject: Some(format!(
                "ECR gatekeeper: CANNOT ACT in account {} ({})",
                place.account, place.region
            )),
            ..self.notice(
                image,
                &verdict,
                self.policy.rule_in(&image.repository, self.placed(image)),
                &trigger,
            )
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(())
    }
}

/// What makes a member reachable again.
const ROLE_HINT: &str = "the member role is there and trusts this deployment";

/// What locates a member again.
const OU_PATH_HINT: &str = "its member stack writes its OU path (the OuPath parameter)";

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
