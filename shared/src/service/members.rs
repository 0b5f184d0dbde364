//! Organization members: the registry an image lives in (the deployment's own, or a member's through
//! its role), and the alert when a member cannot be reached.

use tracing::{error, warn};

use super::{Gatekeeper, Trigger};
use crate::domain::time::{DAY, format_date};
use crate::domain::verdict::pending;
use crate::domain::{ImageRef, Place, TriggerKind};
use crate::error::{AwsError, Error};
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
            Err(e) => {
                if let Err(alert) = self.unreachable(image, place, &e).await {
                    warn!(error = %alert, "the alert about an unreachable member was not sent");
                }
                Err(e.into())
            }
        }
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

    /// Says once a day that the deployment cannot act in a member account.
    async fn unreachable(
        &self,
        image: &ImageRef,
        place: &Place,
        e: &AwsError,
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
            "cannot act in {place}: {e}. Its images are not governed until the member role is there and trusts this deployment (records go to the dead-letter queue after their retries)"
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
            ..self.notice(image, &verdict, self.rule_of(image), &trigger)
        };
        self.notifier.publish(&notice.to_message()).await?;
        Ok(())
    }
}
