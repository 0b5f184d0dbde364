//! The pure core: the vocabulary (severities, findings, images, scan states, decisions) and what is
//! computed from it (events, policy, verdict, tag plan, time). No I/O, no AWS SDK types, no async.

pub mod archive;
pub mod escape;
pub mod events;
pub mod history;
pub mod index;
pub mod plan;
pub mod policy;
pub mod remediation;
pub mod tags;
pub mod time;
pub mod verdict;

mod finding;
mod image;
mod scan;
mod severity;
mod trigger;

pub use finding::{Finding, FindingStatus, FixAvailable, Kev, Package};
pub use image::{ImageRef, MediaKind, Place, digest_hex12, place_from_arn, repository_from_arn};
pub use scan::ScanState;
pub use severity::{Severity, SeverityCounts};
pub use trigger::TriggerKind;

use serde::{Deserialize, Serialize};

/// What the gatekeeper concludes about an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Deployable, nothing to report.
    Pass,
    /// Deployable, with findings someone should look at.
    Warn,
    /// Not deployable: quarantined in enforce mode.
    Block,
    /// No usable scan result yet (in progress, failed, unsupported, expired).
    Pending,
}

impl Decision {
    /// The lowercase name used in messages, attributes and the state table.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Pass => "pass",
            Decision::Warn => "warn",
            Decision::Block => "block",
            Decision::Pending => "pending",
        }
    }

    /// Parses the lowercase name (the state table's form).
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "pass" => Some(Decision::Pass),
            "warn" => Some(Decision::Warn),
            "block" => Some(Decision::Block),
            "pending" => Some(Decision::Pending),
            _ => None,
        }
    }

    /// Whether tags of an image with this decision may stay deployable.
    pub fn is_deployable(self) -> bool {
        matches!(self, Decision::Pass | Decision::Warn)
    }
}

/// Whether the gatekeeper changes tags or only says what it would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Compute and notify everything, touch no tag (the deployed default).
    Audit,
    /// Quarantine and release by tags.
    Enforce,
}

impl Mode {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Audit => "audit",
            Mode::Enforce => "enforce",
        }
    }

    /// Parses `audit` or `enforce`.
    pub fn parse(s: &str) -> Option<Mode> {
        match s.trim() {
            "audit" => Some(Mode::Audit),
            "enforce" => Some(Mode::Enforce),
            _ => None,
        }
    }
}
