//! The weekly report's message (`event_type: report`): where its page and figures were written
//! (bucket and keys: SNS cannot attach a file, and a presigned URL made with the function's session
//! would expire with that session) and the headline figures; and its Slack card. Pure.

use serde_json::json;

use super::chat::{Card, code};
use super::cost::week_of;
use super::notice::{EventType, Message, SCHEMA_VERSION, dedup_key};
use super::text::{escape_markup, subject_line};
use crate::domain::remediation::Remediation;

/// The Chatbot thread of every weekly report.
const REPORT_THREAD: &str = "ecr-gatekeeper-report";

/// Where a report is written in the bucket: `reports/<date>/report.html` and `report.json` under the
/// day it was made (a second run that day writes the same keys).
pub fn keys(report: &Remediation) -> (String, String) {
    let day = week_of(&report.generated_at);
    (
        format!("reports/{day}/report.html"),
        format!("reports/{day}/report.json"),
    )
}

/// A report written to the bucket, to announce.
#[derive(Debug, Clone, Copy)]
pub struct ReportDigest<'a> {
    /// The report.
    pub report: &'a Remediation,
    /// The bucket.
    pub bucket: &'a str,
    /// The page's key.
    pub page: &'a str,
    /// The JSON figures' key.
    pub data: &'a str,
}

impl ReportDigest<'_> {
    /// The message on the JSON topic, with its Slack card.
    pub fn to_message(&self) -> Message {
        let r = self.report;
        // One key per bucket (so per deployment: bucket names are global) and day, as the objects'
        // keys: a retried weekly run sends it again under the same key.
        let key = dedup_key(&["report", self.bucket, &week_of(&r.generated_at)]);
        let windows: Vec<serde_json::Value> = (r.windows.iter())
            .map(|w| {
                json!({"days": w.days, "opened": w.opened, "fixed": w.fixed.count,
                    "mttr_days": w.fixed.mean_days, "fixed_late": w.fixed_late, "excepted": w.excepted,
                    "released": w.released, "deleted": w.deleted, "reassessed": w.reassessed})
            })
            .collect();
        let top: Vec<serde_json::Value> = (r.now.top_vulnerabilities.iter().take(5))
            .map(|v| json!({"id": v.id, "severity": v.severity, "images": v.images}))
            .collect();
        let body = json!({
            "schema_version": SCHEMA_VERSION,
            "event_type": EventType::Report,
            "dedup_key": key,
            "time": r.generated_at,
            "report": {
                "bucket": self.bucket, "page": self.page, "data": self.data,
                "read_from": r.read_from, "blocked": r.now.blocked, "warned": r.now.warned,
                "released": r.now.released, "open_tickets": r.now.open_tickets,
                "open_past_sla": r.now.open_past_sla, "windows": windows, "top_vulnerabilities": top,
            },
        });
        Message {
            subject: subject_line(&format!(
                "ECR gatekeeper: {} image(s) blocked, {} ticket(s) open, {} past SLA",
                r.now.blocked, r.now.open_tickets, r.now.open_past_sla
            )),
            body: escape_markup(&body.to_string()),
            attributes: vec![("event_type", EventType::Report.as_str().into())],
            chat: Some(self.card(&key)),
            dedup_key: key,
        }
    }

    /// The Slack notice: the figures, where the page is, the vulnerabilities blocking the most.
    fn card(&self, key: &str) -> String {
        let r = self.report;
        let mut d = vec![
            format!(
                "*Now:* {} blocked · {} warned · {} released by an operator",
                r.now.blocked, r.now.warned, r.now.released
            ),
            format!(
                "*Tickets:* {} open, {} past SLA",
                r.now.open_tickets, r.now.open_past_sla
            ),
        ];
        for w in &r.windows {
            d.push(format!(
                "*{} days:* {} fixed, MTTR {} day(s), {} past SLA · excepted {}, released {}",
                w.days,
                w.fixed.count,
                w.fixed.mean_days.map_or("–".into(), |m| format!("{m:.1}")),
                w.fixed_late,
                w.excepted,
                w.released
            ));
        }
        d.push(format!(
            "*Page:* {}",
            code(&format!("s3://{}/{}", self.bucket, self.page))
        ));
        Card {
            id: key,
            title: format!(
                ":bar_chart: ECR gatekeeper weekly report: {} blocked, {} past SLA",
                r.now.blocked, r.now.open_past_sla
            ),
            description: d.join("\n"),
            next_steps: (r.now.top_vulnerabilities.iter().take(5))
                .map(|v| {
                    format!(
                        "{} ({}) blocks {} image(s)",
                        code(&v.id),
                        v.severity,
                        v.images
                    )
                })
                .collect(),
            keywords: vec!["report".into(), "mttr".into()],
            thread: REPORT_THREAD.into(),
            summary: format!(
                "ECR gatekeeper: {} blocked, {} ticket(s) open, {} past SLA",
                r.now.blocked, r.now.open_tickets, r.now.open_past_sla
            ),
            event_type: EventType::Report,
            context: json!({"dedup_key": key, "week_of": week_of(&r.generated_at)}),
        }
        .render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::remediation::{Settings, Sla, analyze};

    #[test]
    fn the_message_names_the_day_s_keys_and_the_figures_and_a_retry_keeps_its_key() {
        let settings = Settings {
            now: 1_800_000_000,
            since: 1_800_000_000 - 400 * 86_400,
            windows: vec![30, 90],
            sla: Sla::default(),
        };
        let report = analyze(&[], &[], &settings);
        let (page, data) = keys(&report);
        assert_eq!(
            (page.as_str(), data.as_str()),
            (
                "reports/2027-01-15/report.html",
                "reports/2027-01-15/report.json"
            )
        );
        let digest = ReportDigest {
            report: &report,
            bucket: "gk-reports",
            page: &page,
            data: &data,
        };
        let message = digest.to_message();
        let body: serde_json::Value = serde_json::from_str(&message.body).unwrap_or_default();
        assert_eq!(body["event_type"], "report");
        assert_eq!(body["report"]["page"], page.as_str());
        assert_eq!(body["report"]["windows"][1]["days"], 90);
        assert_eq!(
            message.attributes,
            vec![("event_type", "report".to_string())]
        );
        assert!(
            message
                .subject
                .starts_with("ECR gatekeeper: 0 image(s) blocked")
        );
        // A retry later the same day (Lambda's retries of the weekly run) carries the same key.
        let later = analyze(
            &[],
            &[],
            &Settings {
                now: settings.now + 3600,
                ..settings.clone()
            },
        );
        let again = ReportDigest {
            report: &later,
            ..digest
        }
        .to_message();
        assert_eq!(message.dedup_key, again.dedup_key);
        assert!(
            message
                .chat
                .is_some_and(|c| c.contains("s3://gk-reports/reports/2027-01-15/report.html"))
        );
    }
}
