//! Reminders that an exception ends soon (`event_type: reminder`): one per exception per day, sent by
//! the sweep, with the images it covers; in Slack, threaded with the first image's earlier notices.
//! Pure.

use serde::Serialize;
use serde_json::json;

use crate::domain::ImageRef;
use crate::domain::policy::Exception;
use crate::domain::time::{DAY, Epoch, format_date, format_rfc3339};
use crate::outbound::chat::{Card, code, plain, thread_id};
use crate::outbound::notice::{EventType, Message, SCHEMA_VERSION, dedup_key};
use crate::outbound::text::{escape_markup, subject_line};

/// The images listed in a reminder (the total is given too).
const MAX_IMAGES: usize = 100;

#[derive(Serialize)]
struct ExceptionBody<'a> {
    id: &'a str,
    owner: &'a str,
    reason: &'a str,
    expires: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    repositories: &'a [String],
    line: usize,
}

#[derive(Serialize)]
struct ImageBody<'a> {
    repository: &'a str,
    digest: &'a str,
    tags: &'a [String],
}

#[derive(Serialize)]
struct Body<'a> {
    schema_version: u32,
    event_type: EventType,
    dedup_key: &'a str,
    time: String,
    exception: ExceptionBody<'a>,
    days_left: i64,
    images: Vec<ImageBody<'a>>,
    images_total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
}

/// A reminder about one exception.
#[derive(Debug, Clone)]
pub struct ReminderNotice<'a> {
    /// The exception that ends soon.
    pub exception: &'a Exception,
    /// The images whose findings it covers now (as Inspector lists them; empty when unknown).
    pub images: &'a [ImageRef],
    /// Region, when known.
    pub region: Option<&'a str>,
    /// When.
    pub now: Epoch,
}

impl ReminderNotice<'_> {
    /// The day's key: the same for every sweep of one day, so that retries and reruns send one reminder.
    pub fn key(&self) -> String {
        dedup_key(&[
            "reminder",
            &self.exception.id,
            &self.exception.line.to_string(),
            &format_date(self.now),
        ])
    }

    /// Whole days until it stops applying (0 on its last day).
    pub fn days_left(&self) -> i64 {
        (self.exception.expires - self.now).max(0) / DAY
    }

    /// The SNS message: body, subject, attributes `event_type`, `owner`, and a Chatbot notice.
    pub fn to_message(&self) -> Message {
        let e = self.exception;
        let key = self.key();
        let body = Body {
            schema_version: SCHEMA_VERSION,
            event_type: EventType::Reminder,
            dedup_key: &key,
            time: format_rfc3339(self.now),
            exception: ExceptionBody {
                id: &e.id,
                owner: &e.owner,
                reason: &e.reason,
                expires: format_date(e.expires),
                ticket: e.ticket.as_deref(),
                repositories: &e.repositories,
                line: e.line,
            },
            days_left: self.days_left(),
            images: self
                .images
                .iter()
                .take(MAX_IMAGES)
                .map(|i| ImageBody {
                    repository: &i.repository,
                    digest: &i.digest,
                    tags: &i.tags,
                })
                .collect(),
            images_total: self.images.len(),
            region: self.region,
        };
        let json = serde_json::to_string(&body).unwrap_or_default();
        Message {
            subject: subject_line(&format!(
                "ECR gatekeeper: exception {} ends {} ({} image(s))",
                e.id,
                format_date(e.expires),
                self.images.len()
            )),
            body: escape_markup(&json),
            attributes: vec![
                ("event_type", EventType::Reminder.as_str().into()),
                ("owner", e.owner.clone()),
            ],
            dedup_key: key.clone(),
            chat: Some(self.chat(&key)),
        }
    }

    fn chat(&self, key: &str) -> String {
        let e = self.exception;
        let mut d = vec![
            format!(
                "*Exception:* {} for {} · owner {}{}",
                code(&e.id),
                e.repositories
                    .iter()
                    .map(|r| code(r))
                    .collect::<Vec<_>>()
                    .join(", "),
                code(&e.owner),
                e.ticket
                    .as_deref()
                    .map_or(String::new(), |t| format!(" · ticket {}", code(t)))
            ),
            format!("*Reason:* {}", code(&e.reason)),
            format!(
                "*Ends:* {} ({} day(s) left); the verdicts of these images are decided again then",
                format_date(e.expires),
                self.days_left()
            ),
        ];
        for i in self.images.iter().take(10) {
            d.push(format!("• {}@{}", code(&i.repository), code(&i.digest)));
        }
        if self.images.len() > 10 {
            d.push(format!("… and {} more", self.images.len() - 10));
        }
        let thread = self.images.first().map_or_else(
            || thread_id("exception", &e.id),
            |i| thread_id(&i.repository, &i.digest),
        );
        Card {
            id: key,
            title: format!(
                ":alarm_clock: Exception {} ends {}",
                plain(&e.id),
                format_date(e.expires)
            ),
            description: d.join("\n"),
            next_steps: vec![
                "Rebuild the images without the vulnerability".into(),
                "Or renew the exception in the policy with a new expiry (within the limits)".into(),
            ],
            keywords: vec!["exception".into(), e.id.clone()],
            thread,
            summary: format!(
                "exception {} ends {}",
                plain(&e.id),
                format_date(e.expires)
            ),
            event_type: EventType::Reminder,
            context: json!({"dedup_key": key, "exception": e.id, "expires": format_date(e.expires)}),
        }
        .render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;

    #[test]
    fn one_key_per_exception_per_day_and_the_days_left() {
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[exception]]\nid = \"CVE-2026-1\"\nrepositories = [\"team/*\"]\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"<!channel> not reachable\"\nowner = \"team@example.com\"\n",
        )
        .unwrap();
        let e = &p.exceptions()[0];
        let images = [ImageRef {
            place: None,
            repository: "team/app".into(),
            digest: "sha256:ab".into(),
            tags: vec!["v1".into()],
        }];
        let at = |s: &str| crate::domain::time::parse_rfc3339(s).unwrap();
        let morning = ReminderNotice {
            exception: e,
            images: &images,
            region: None,
            now: at("2026-11-28T01:00:00Z"),
        };
        let evening = ReminderNotice {
            now: at("2026-11-28T23:00:00Z"),
            ..morning.clone()
        };
        let next_day = ReminderNotice {
            now: at("2026-11-29T01:00:00Z"),
            ..morning.clone()
        };
        assert_eq!(morning.key(), evening.key());
        assert_ne!(morning.key(), next_day.key());
        assert_eq!(morning.days_left(), 2);
        let m = morning.to_message();
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["event_type"], "reminder");
        assert_eq!(body["exception"]["expires"], "2026-12-01");
        assert_eq!(body["images"][0]["digest"], "sha256:ab");
        let chat: serde_json::Value = serde_json::from_str(m.chat.as_deref().unwrap()).unwrap();
        assert_eq!(
            chat["metadata"]["threadId"],
            thread_id("team/app", "sha256:ab").as_str()
        );
        assert!(!chat["content"]["description"].to_string().contains("<!"));
    }
}
