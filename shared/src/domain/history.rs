//! The verdict history: each applied change of an image's disposition (when, from, to, cause, actor),
//! which the state table keeps for a configurable time, and the one record of it that the report
//! reads. Pure. What the history tells (time to fix, SLA breaches, the trend) is [`super::remediation`].

use serde::{Deserialize, Serialize};

use super::time::Epoch;
use super::{Decision, ImageRef, Severity};

/// A repository and its place as one key, what tickets and tags are counted within: the repository
/// alone for the deployment's own images, `account/region/repository` for a member's.
pub fn scope(account: Option<&str>, region: Option<&str>, repository: &str) -> String {
    match (account, region) {
        (Some(a), Some(r)) => format!("{a}/{r}/{repository}"),
        _ => repository.to_string(),
    }
}

/// An image's disposition: its decision, and whether an operator's release suspends a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The decision.
    pub decision: Decision,
    /// Whether an operator's release suspends it (a block whose tags stay deployable).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

impl Standing {
    /// The disposition `decision`, suspended by a release when `released`.
    pub fn new(decision: Decision, released: bool) -> Standing {
        Standing { decision, released }
    }

    /// Whether the image is kept from deployment (a block no release suspends).
    pub fn blocks(&self) -> bool {
        self.decision == Decision::Block && !self.released
    }

    /// Whether the image is deployable with a warning.
    pub fn warns(&self) -> bool {
        self.decision == Decision::Warn
    }
}

/// Why a disposition changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cause {
    /// The image's scan or its findings (a new image's first verdict, a rescan, a fixed finding).
    Scan,
    /// An exception in the policy keeps a finding from deciding.
    Exception,
    /// An operator's release (`gatekeeper release`), or its end.
    Release,
    /// Time alone: a grace period, an exception or an override ended (the sweep).
    Deadline,
    /// An operator's reconcile (a changed policy, lost events).
    Reconcile,
    /// The image was deleted from ECR.
    Deleted,
}

impl Cause {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Scan => "scan",
            Cause::Exception => "exception",
            Cause::Release => "release",
            Cause::Deadline => "deadline",
            Cause::Reconcile => "reconcile",
            Cause::Deleted => "deleted",
        }
    }
}

/// A vulnerability that decided a block, with its severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerability {
    /// Its id (`CVE-2026-41234`).
    pub id: String,
    /// Its severity.
    pub severity: Severity,
}

/// One applied change of an image's disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The image's account, for a member's image (`None`: the deployment's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The member image's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The repository.
    pub repository: String,
    /// The image's digest.
    pub digest: String,
    /// The change's number (its claim's: a retry or a takeover records the same change again).
    pub number: u64,
    /// When the image was pushed, when ECR said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pushed_at: Option<Epoch>,
    /// When it was decided.
    pub at: Epoch,
    /// The disposition before (`None`: the image's first).
    pub from: Option<Standing>,
    /// The disposition after (`None`: the image was deleted).
    pub to: Option<Standing>,
    /// Why.
    pub cause: Cause,
    /// Who: the event's id, or the operator's ARN.
    pub actor: String,
    /// The policy rule that applied.
    pub rule: String,
    /// The image's tags as people deploy them (a quarantined tag under its original name).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The vulnerabilities that decided a block (the verdict's most severe, at most ten).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<Vulnerability>,
    /// The vulnerabilities an exception kept from deciding.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excepted: Vec<String>,
}

impl Change {
    /// Change `number` of `image` at `at`, from `from` to `to`, for `cause`, by `actor` under `rule`
    /// (no tags or vulnerabilities yet).
    pub fn new(image: &ImageRef, number: u64, at: Epoch, cause: Cause) -> Change {
        Change {
            account: image.place.as_ref().map(|p| p.account.clone()),
            region: image.place.as_ref().map(|p| p.region.clone()),
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            number,
            pushed_at: None,
            at,
            from: None,
            to: None,
            cause,
            actor: String::new(),
            rule: String::new(),
            tags: Vec::new(),
            blocking: Vec::new(),
            excepted: Vec::new(),
        }
    }

    /// The image's place and repository, as one key (see [`scope`]).
    pub fn scope(&self) -> String {
        scope(
            self.account.as_deref(),
            self.region.as_deref(),
            &self.repository,
        )
    }

    /// Whether this change took the image out of a block (a fix, an exception, a release, a deletion).
    pub fn unblocks(&self) -> bool {
        self.from.is_some_and(|f| f.blocks()) && !self.to.is_some_and(|t| t.blocks())
    }

    /// Whether this change blocked the image.
    pub fn blocks(&self) -> bool {
        !self.from.is_some_and(|f| f.blocks()) && self.to.is_some_and(|t| t.blocks())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_round_trips_through_its_stored_json_and_omits_what_is_empty() {
        let c = Change {
            account: None,
            region: None,
            repository: "team-a/api".into(),
            digest: "sha256:ab".into(),
            number: 3,
            pushed_at: None,
            at: 1_800_000_000,
            from: Some(Standing::new(Decision::Pass, false)),
            to: Some(Standing::new(Decision::Block, false)),
            cause: Cause::Scan,
            actor: "evt-1".into(),
            rule: "defaults".into(),
            tags: vec!["v1".into()],
            blocking: vec![Vulnerability {
                id: "CVE-2026-1".into(),
                severity: Severity::Critical,
            }],
            excepted: vec![],
        };
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert!(
            !text.contains("excepted") && !text.contains("released"),
            "{text}"
        );
        assert!(text.contains("\"severity\":\"CRITICAL\""), "{text}");
        let back: Change = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(back, c);
        assert!(c.blocks() && !c.unblocks());
        let released = Change {
            from: c.to,
            to: Some(Standing::new(Decision::Block, true)),
            ..c.clone()
        };
        assert!(released.unblocks() && !released.blocks());
    }
}
