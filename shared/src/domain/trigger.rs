//! What caused an evaluation, named as outcomes and messages name it. Pure.

use std::fmt;

use serde::Serialize;

/// What caused an evaluation: an event's kind, or a run of the gatekeeper's own (the CLI, the sweep,
/// the circuit breaker). Serialised as [`TriggerKind::as_str`], the name the JSON contract carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// An ECR push.
    Push,
    /// A scan result (ECR Image Scan, Inspector2 Scan).
    Scan,
    /// An Inspector finding that changed.
    Finding,
    /// An Inspector coverage change.
    Coverage,
    /// An image or tag deleted from ECR.
    Delete,
    /// An image restored from the archive.
    Restore,
    /// An event that is not the gatekeeper's business.
    Ignored,
    /// A malformed event.
    Invalid,
    /// The CLI's reconcile.
    Reconcile,
    /// An operator's break-glass release.
    Release,
    /// The scheduled sweep.
    Sweep,
    /// The circuit breaker tripping.
    Breaker,
    /// A repository that no scanning rule covers.
    Unscanned,
    /// A member account the deployment cannot act in (its role is missing or denies).
    Unreachable,
    /// An account whose OU path is unknown while the policy scopes rules by OU.
    Unlocated,
}

impl TriggerKind {
    /// Every kind.
    pub const ALL: [TriggerKind; 15] = [
        TriggerKind::Push,
        TriggerKind::Scan,
        TriggerKind::Finding,
        TriggerKind::Coverage,
        TriggerKind::Delete,
        TriggerKind::Restore,
        TriggerKind::Ignored,
        TriggerKind::Invalid,
        TriggerKind::Reconcile,
        TriggerKind::Release,
        TriggerKind::Sweep,
        TriggerKind::Breaker,
        TriggerKind::Unscanned,
        TriggerKind::Unreachable,
        TriggerKind::Unlocated,
    ];

    /// The name in outcomes, messages and logs: `push`, `scan`, `finding`, `coverage`, `delete`,
    /// `restore`, `ignored`, `invalid`, `reconcile`, `release`, `sweep`, `breaker`, `unscanned`,
    /// `unreachable` or `unlocated`.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Push => "push",
            TriggerKind::Scan => "scan",
            TriggerKind::Finding => "finding",
            TriggerKind::Coverage => "coverage",
            TriggerKind::Delete => "delete",
            TriggerKind::Restore => "restore",
            TriggerKind::Ignored => "ignored",
            TriggerKind::Invalid => "invalid",
            TriggerKind::Reconcile => "reconcile",
            TriggerKind::Release => "release",
            TriggerKind::Sweep => "sweep",
            TriggerKind::Breaker => "breaker",
            TriggerKind::Unscanned => "unscanned",
            TriggerKind::Unreachable => "unreachable",
            TriggerKind::Unlocated => "unlocated",
        }
    }
}

impl fmt::Display for TriggerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_serialises_and_displays_as_its_name() {
        for k in TriggerKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str(), "{k:?}");
            assert_eq!(k.to_string(), k.as_str());
        }
    }
}
