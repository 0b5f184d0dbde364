//! Image indexes: an index is linked to its platform images and decided from their verdicts, and
//! decided again whenever one of theirs changes; a platform image whose index push was not seen
//! looks for its index.

use tracing::warn;

use super::decide::Basis;
use super::{Gatekeeper, Outcome, Status, Trigger, until_settled};
use crate::domain::index::{Child, PlatformVerdict, children};
use crate::domain::time::DAY;
use crate::domain::{ImageRef, TriggerKind};
use crate::error::Error;
use crate::ports::{ImageAnnotations, ImageRecords, ImageRegistry, Ports};
use crate::state::ImageState;

/// How long after a push a platform image's index is looked for, when its push was not seen.
const INDEX_LOOKBACK: i64 = 2 * DAY;

impl<P: Ports> Gatekeeper<P> {
    /// An image index: links it to its platform images and decides it from their verdicts so far
    /// (pending until they are scanned; each platform image's verdict decides it again). Public for
    /// the CLI's reconcile.
    pub async fn evaluate_index(
        &self,
        image: &ImageRef,
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        let Some(manifest) = self
            .registry_of(image)
            .await?
            .manifest(&image.repository, &image.digest)
            .await?
        else {
            return Ok(Outcome::gone(TriggerKind::Push, image));
        };
        let platforms: Vec<(String, String)> = match children(&manifest.body) {
            Ok(kids) => kids
                .into_iter()
                .filter(|k| !k.attestation)
                .map(|k| (k.digest, k.platform))
                .collect(),
            Err(why) => {
                warn!(image = %image.display(), reason = %why, "image index not readable");
                return Ok(Outcome::new(
                    Status::Skipped,
                    TriggerKind::Push,
                    Some(image),
                    format!("image index not readable: {why}"),
                ));
            }
        };
        self.state.link_index(image, &platforms).await?;
        self.judge_index(image, &platforms, trigger).await
    }

    /// Decides an image index from the verdicts of its platform images.
    pub(super) async fn judge_index(
        &self,
        index: &ImageRef,
        platforms: &[(String, String)],
        trigger: &Trigger,
    ) -> Result<Outcome, Error> {
        until_settled(index, move || {
            self.judge_index_once(index, platforms, trigger)
        })
        .await
    }

    /// One reading of the platform images' verdicts and one decision on them; `None` when a
    /// conditional write was lost (a platform image may have been decided since).
    async fn judge_index_once(
        &self,
        index: &ImageRef,
        platforms: &[(String, String)],
        trigger: &Trigger,
    ) -> Result<Option<Outcome>, Error> {
        let mut verdicts = Vec::with_capacity(platforms.len());
        for (digest, platform) in platforms {
            let child = index.sibling(digest.clone());
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
        let decided = self
            .decide_once(index, &Basis::Platforms(verdicts), trigger)
            .await?;
        Ok(decided.map(|d| d.outcome))
    }

    /// Decides again every image index that refers to this platform image.
    pub(super) async fn judge_parents(
        &self,
        image: &ImageRef,
        state: &ImageState,
        trigger: &Trigger,
    ) -> Result<(), Error> {
        for parent in &state.parents {
            let index = image.sibling(parent.clone());
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
    pub(super) async fn find_parents(&self, image: &ImageRef) -> Result<Vec<String>, Error> {
        let since = (self.clock)() - INDEX_LOOKBACK;
        let mut parents = Vec::new();
        for (digest, manifest) in self
            .registry_of(image)
            .await?
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
                    .link_index(&image.sibling(digest.clone()), &linked)
                    .await?;
                parents.push(digest);
            }
        }
        Ok(parents)
    }
}
