//! Tickets: one per (repository, vulnerability) at or above the policy's ticket severity, whatever the
//! number of images and rebuilds that carry it. Pure: which findings deserve a ticket, and the ticket
//! message (`event_type: ticket`, `action: open | update | resolved`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::policy::{ExceptionMatch, Policy, Suppressed};
use crate::domain::time::{Epoch, format_rfc3339};
use crate::domain::verdict::Subject;
use crate::domain::{Finding, FindingStatus, Place, Severity};
use crate::outbound::notice::{EventType, Message, dedup_key};
use crate::outbound::text::{clip, escape_markup, subject_line};

/// What a ticket says about its vulnerability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketFinding {
    /// Vulnerability id.
    pub id: String,
    /// Its highest severity in the repository's images.
    pub severity: Severity,
    /// The vulnerable package.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package: Option<String>,
    /// Installed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed_version: Option<String>,
    /// First fixed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// Inspector score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// EPSS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
}

/// The findings of an image that deserve a ticket, by vulnerability id: at or above the ticket
/// severity, active (or suppressed where suppressions count), and not exempted by an exception.
pub fn ticketable(
    policy: &Policy,
    subject: &Subject<'_>,
    findings: &[Finding],
) -> BTreeMap<String, TicketFinding> {
    let mut out: BTreeMap<String, TicketFinding> = BTreeMap::new();
    let Some(threshold) = policy.ticket_severity() else {
        return out;
    };
    let rule = policy.rule_at(subject.repository, subject.at);
    let rule = &*rule;
    for f in findings {
        let counted = match f.status {
            FindingStatus::Active => true,
            FindingStatus::Suppressed => rule.suppressed == Suppressed::Count,
            FindingStatus::Closed => false,
        };
        if !counted || !f.severity.at_least(threshold) {
            continue;
        }
        if matches!(
            policy.exception_for(f, subject.repository, subject.digest, subject.now),
            Some(ExceptionMatch::Applies(_))
        ) {
            continue;
        }
        let p = f.packages.first();
        let entry = TicketFinding {
            id: f.id.clone(),
            severity: f.severity,
            package: p.map(|p| p.name.clone()).filter(|n| !n.is_empty()),
            installed_version: p.and_then(|p| p.version.clone()),
            fixed_version: p.and_then(|p| p.fixed_in.clone()),
            score: f.score,
            epss: f.epss,
        };
        match out.get(&f.id) {
            Some(existing) if existing.severity.rank() >= f.severity.rank() => {}
            _ => {
                out.insert(f.id.clone(), entry);
            }
        }
    }
    out
}

/// What happened to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketAction {
    /// First image in the repository with the vulnerability.
    Open,
    /// Its severity or fix changed.
    Update,
    /// No image kept in the repository has it active any more.
    Resolved,
}

impl TicketAction {
    /// `open`, `update` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            TicketAction::Open => "open",
            TicketAction::Update => "update",
            TicketAction::Resolved => "resolved",
        }
    }
}

/// The stable key of the ticket for (repository, vulnerability): the same across rebuilds and digests.
pub fn ticket_key(repository: &str, vulnerability: &str) -> String {
    dedup_key(&["ticket", repository, &vulnerability.to_ascii_uppercase()])
}

/// [`ticket_key`] of a member account's repository (`None`: the deployment's own, v1's key).
pub fn member_ticket_key(member: Option<&Place>, repository: &str, vulnerability: &str) -> String {
    let key = ticket_key(repository, vulnerability);
    match member {
        None => key,
        Some(p) => dedup_key(&[&key, &p.account, &p.region]),
    }
}

#[derive(Serialize)]
struct Body<'a> {
    schema_version: u32,
    event_type: EventType,
    action: TicketAction,
    dedup_key: String,
    time: String,
    repository: &'a str,
    vulnerability: &'a TicketFinding,
    images: Vec<&'a str>,
    trigger_image: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
}

/// A ticket message.
#[derive(Debug, Clone)]
pub struct TicketNotice<'a> {
    /// What happened.
    pub action: TicketAction,
    /// Repository.
    pub repository: &'a str,
    /// The vulnerability.
    pub finding: &'a TicketFinding,
    /// Digests of the repository's images that have it now (empty when resolved).
    pub images: &'a [String],
    /// The image whose evaluation caused this.
    pub trigger_image: &'a str,
    /// Region, when known.
    pub region: Option<&'a str>,
    /// Account, when known.
    pub account: Option<&'a str>,
    /// The member account and region of the repository (`None`: the deployment's own).
    pub member: Option<&'a Place>,
    /// When.
    pub now: Epoch,
}

impl TicketNotice<'_> {
    /// The SNS message: body, subject, and attributes `event_type`, `action`, `severity`, `repository`.
    pub fn to_message(&self) -> Message {
        let key = member_ticket_key(self.member, self.repository, &self.finding.id);
        // Whatever the finding carries, the message stays far below SNS's 256 KB.
        let clipped = |s: &Option<String>, max| s.as_deref().map(|s| clip(s, max));
        let finding = TicketFinding {
            id: clip(&self.finding.id, 256),
            package: clipped(&self.finding.package, 256),
            installed_version: clipped(&self.finding.installed_version, 128),
            fixed_version: clipped(&self.finding.fixed_version, 128),
            ..self.finding.clone()
        };
        let repository = clip(self.repository, 256);
        let body = Body {
            schema_version: crate::outbound::notice::SCHEMA_VERSION,
            event_type: EventType::Ticket,
            action: self.action,
            dedup_key: key.clone(),
            time: format_rfc3339(self.now),
            repository: &repository,
            vulnerability: &finding,
            images: self.images.iter().take(100).map(String::as_str).collect(),
            trigger_image: self.trigger_image,
            region: self.region,
            account: self.account,
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        Message {
            subject: subject_line(&format!(
                "ECR gatekeeper: ticket {} {} in {} ({})",
                self.action.as_str(),
                self.finding.id,
                self.repository,
                self.finding.severity
            )),
            body: escape_markup(&json),
            attributes: [
                ("event_type", Some(EventType::Ticket.as_str())),
                ("action", Some(self.action.as_str())),
                ("severity", Some(self.finding.severity.as_str())),
                ("repository", Some(self.repository)),
                ("account", self.account),
                ("region", self.region),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?.to_string())))
            .collect(),
            dedup_key: key,
            chat: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Package;

    fn f(id: &str, s: Severity, status: FindingStatus) -> Finding {
        let mut f = Finding::new(id, s);
        f.status = status;
        f.packages.push(Package {
            name: "openssl".into(),
            version: Some("1".into()),
            fixed_in: None,
        });
        f
    }

    #[test]
    fn ticketable_findings_are_at_the_threshold_active_and_not_exempt() {
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[tickets]\nseverity = \"HIGH\"\n[[exception]]\nid = \"CVE-X\"\nrepositories = [\"*\"]\ncreated = 2026-01-01\nexpires = 2027-01-01\nreason = \"r\"\nowner = \"o\"\n",
        )
        .unwrap();
        let s = Subject::new("r", "d", 1_790_000_000);
        let findings = [
            f("CVE-1", Severity::Critical, FindingStatus::Active),
            f("CVE-1", Severity::High, FindingStatus::Active),
            f("CVE-2", Severity::Medium, FindingStatus::Active),
            f("CVE-3", Severity::High, FindingStatus::Closed),
            f("CVE-4", Severity::High, FindingStatus::Suppressed),
            f("CVE-X", Severity::Critical, FindingStatus::Active),
        ];
        let t = ticketable(&p, &s, &findings);
        assert_eq!(t.keys().collect::<Vec<_>>(), ["CVE-1", "CVE-4"]);
        assert_eq!(t["CVE-1"].severity, Severity::Critical);
        assert!(
            ticketable(&Policy::builtin(), &s, &findings).is_empty(),
            "no [tickets]: no tickets"
        );
    }

    #[test]
    fn the_key_is_stable_across_digests_and_the_message_carries_filterable_attributes() {
        assert_eq!(
            ticket_key("team/app", "cve-2026-1"),
            ticket_key("team/app", "CVE-2026-1")
        );
        assert_ne!(
            ticket_key("team/app", "CVE-2026-1"),
            ticket_key("team/web", "CVE-2026-1")
        );
        let tf = TicketFinding {
            id: "CVE-2026-1".into(),
            severity: Severity::High,
            package: Some("@here/x".into()),
            installed_version: None,
            fixed_version: None,
            score: None,
            epss: None,
        };
        let images = vec!["sha256:1".to_string()];
        let m = TicketNotice {
            action: TicketAction::Open,
            repository: "team/app",
            finding: &tf,
            images: &images,
            trigger_image: "sha256:1",
            region: None,
            account: None,
            member: None,
            now: 0,
        }
        .to_message();
        assert_eq!(
            m.subject,
            "ECR gatekeeper: ticket open CVE-2026-1 in team/app (HIGH)"
        );
        assert!(
            m.attributes.contains(&("severity", "HIGH".into()))
                && m.attributes.contains(&("action", "open".into()))
        );
        assert!(!m.body.contains('@'));
        let v: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(
            (
                v["event_type"].as_str(),
                v["vulnerability"]["package"].as_str()
            ),
            (Some("ticket"), Some("@here/x"))
        );
    }
}
