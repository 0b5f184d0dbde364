//! What a notice says, before it is rendered: the tag actions, the verdict notice's data, the SNS
//! message it becomes, and the stable keys downstream consumers deduplicate on. Pure.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::time::Epoch;
use crate::domain::verdict::Verdict;
use crate::domain::{Decision, ImageRef, Mode, TriggerKind};
use crate::state::Override;

/// The contract version carried in every message.
pub const SCHEMA_VERSION: u32 = 1;
/// Upper bound of a serialised body; SNS allows 256 KB for body and attributes together.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What a message on the JSON topic is about: its `event_type` (a verdict notice is a verdict, an alert or a release).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    /// A decision changed (or an image's disposition did).
    Verdict,
    /// Something needs an operator: the circuit breaker tripped, a repository is not scanned.
    Alert,
    /// An operator's break-glass release.
    Release,
    /// A ticket opened, updated or resolved (outbound/tickets.rs).
    Ticket,
    /// An exception ends soon (outbound/reminder.rs).
    Reminder,
    /// The weekly scanning cost digest (outbound/cost.rs).
    Cost,
    /// The weekly cost summary of an Organization deployment's accounts (outbound/cost_summary.rs).
    CostSummary,
    /// The weekly report: where its page is, and its figures (outbound/report_digest.rs).
    Report,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 8] = [
        EventType::Verdict,
        EventType::Alert,
        EventType::Release,
        EventType::Ticket,
        EventType::Reminder,
        EventType::Cost,
        EventType::CostSummary,
        EventType::Report,
    ];

    /// The `event_type` body field and message attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Verdict => "verdict",
            EventType::Alert => "alert",
            EventType::Release => "release",
            EventType::Ticket => "ticket",
            EventType::Reminder => "reminder",
            EventType::Cost => "cost",
            EventType::CostSummary => "cost_summary",
            EventType::Report => "report",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened, or would happen, to one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A tag was (or would be) added to this image.
    AddTag,
    /// A tag was (or would be) removed from this image.
    RemoveTag,
    /// The image was (or would be) archived: no pull works, by tag or digest (`tag` is empty).
    Archive,
    /// Restoring the image from the archive was asked for; its tags follow once it is active (`tag`
    /// is empty).
    Restore,
}

/// The outcome of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    /// Done in ECR (or found already done).
    Done,
    /// Audit mode: what enforce mode would do.
    Would,
    /// Deliberately not done (the note says why).
    Skipped,
    /// Tried and failed (the note says why).
    Failed,
}

impl ActionStatus {
    /// `done`, `would`, `skipped` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Done => "done",
            ActionStatus::Would => "would",
            ActionStatus::Skipped => "skipped",
            ActionStatus::Failed => "failed",
        }
    }
}

/// One tag change in a verdict message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// add_tag / remove_tag.
    pub action: ActionKind,
    /// The tag.
    pub tag: String,
    /// done / would / skipped / failed.
    pub status: ActionStatus,
    /// Why, for skipped and failed actions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A message ready for SNS Publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The `Subject`: ASCII, no control characters, under 100 characters.
    pub subject: String,
    /// The JSON body.
    pub body: String,
    /// Message attributes (String type) for subscription filter policies.
    pub attributes: Vec<(&'static str, String)>,
    /// The stable key downstream consumers deduplicate on.
    pub dedup_key: String,
    /// The same notice in AWS Chatbot's custom format, for the Slack topic.
    pub chat: Option<String>,
}

/// Everything a verdict message says, gathered by the caller.
#[derive(Debug, Clone)]
pub struct VerdictNotice<'a> {
    /// `verdict` (a decision change), `alert` (circuit breaker, unscanned repository) or `release`
    /// (an operator's break-glass release).
    pub event_type: EventType,
    /// An operator's override in force, if any.
    pub override_: Option<&'a Override>,
    /// Who acted, for operator actions (the caller's ARN).
    pub actor: Option<&'a str>,
    /// Inspector's `inUseCount` for the image (running ECS tasks / EKS pods), when known.
    pub in_use: Option<u64>,
    /// The image, with its tags as read from ECR (or from the event when nothing was read).
    pub image: &'a ImageRef,
    /// AWS region, when known.
    pub region: Option<&'a str>,
    /// Account id, when known.
    pub account: Option<&'a str>,
    /// The verdict.
    pub verdict: &'a Verdict,
    /// The decision notified before, if any.
    pub previous: Option<Decision>,
    /// The effective mode.
    pub mode: Mode,
    /// Tag changes done or planned.
    pub actions: &'a [Action],
    /// Things that went wrong or were left alone, for people to look at.
    pub problems: &'a [String],
    /// Policy hash.
    pub policy_hash: &'a str,
    /// Rule name.
    pub rule: &'a str,
    /// The EventBridge event id that caused it (or `reconcile`, `cli`).
    pub event_id: &'a str,
    /// The kind of trigger (`scan`, `finding`, `push`, ...).
    pub trigger: TriggerKind,
    /// The stable key of this notice (see [`change_key`]): the same across retries of one change.
    pub dedup_key: String,
    /// A subject to use instead of the generated one.
    pub subject: Option<String>,
    /// The tag the generated subject names (the image's first original tag); `None` names the digest.
    pub subject_tag: Option<String>,
    /// When.
    pub now: Epoch,
}

impl<'a> VerdictNotice<'a> {
    /// A verdict message about `image` in `mode`, for the event `event_id` of kind `trigger` at
    /// `now`, saying nothing else yet: no override, actor, usage, region, account, previous decision,
    /// actions, problems, policy hash, rule, dedup key, subject or subject tag. Callers set what they
    /// know with struct update syntax (`VerdictNotice { rule, ..VerdictNotice::new(..) }`).
    pub fn new(
        image: &'a ImageRef,
        verdict: &'a Verdict,
        mode: Mode,
        trigger: TriggerKind,
        event_id: &'a str,
        now: Epoch,
    ) -> VerdictNotice<'a> {
        VerdictNotice {
            event_type: EventType::Verdict,
            override_: None,
            actor: None,
            in_use: None,
            image,
            region: None,
            account: None,
            verdict,
            previous: None,
            mode,
            actions: &[],
            problems: &[],
            policy_hash: "",
            rule: "",
            event_id,
            trigger,
            dedup_key: String::new(),
            subject: None,
            subject_tag: None,
            now,
        }
    }
}

impl VerdictNotice<'_> {
    /// The message's dedup key: `dedup_key`, made distinct per account and region for a member's
    /// image (the deployment's own images keep v1's keys).
    pub fn key(&self) -> String {
        match &self.image.place {
            None => self.dedup_key.clone(),
            Some(p) => dedup_key(&[&self.dedup_key, &p.account, &p.region]),
        }
    }
}

/// The dedup key of an image's decision change number `sequence` (the state table's version).
pub fn change_key(image: &ImageRef, decision: Decision, sequence: u64) -> String {
    dedup_key(&[
        "verdict",
        &image.repository,
        &image.digest,
        decision.as_str(),
        &sequence.to_string(),
    ])
}

/// A stable key: the first 32 hex characters of SHA-256 over the parts.
pub fn dedup_key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_type_serialises_and_displays_as_its_name() {
        for t in EventType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str(), "{t:?}");
            assert_eq!(t.to_string(), t.as_str());
        }
    }
}
