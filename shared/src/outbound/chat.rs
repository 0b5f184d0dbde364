//! Slack without code: AWS Chatbot (Amazon Q Developer in chat applications) custom notifications,
//! for the second topic. Pure.
//!
//! The format: `version` "1.0", `source` "custom", `id`, `content` {`textType` "client-markdown",
//! `title`, `description`, `nextSteps`, `keywords`}, `metadata` {`threadId`, `summary`, `eventType`,
//! `additionalContext`}. Every string that comes from an event (tags, repository, package names) is
//! escaped for Slack (`&`, `<`, `>`) and set in code spans, so it can neither mention anyone nor link,
//! and its controls are shown as escapes by the one routine, [`crate::domain::escape::line`].

use serde_json::json;

use crate::outbound::notice::{ActionStatus, EventType, VerdictNotice};
use crate::outbound::text::escape_markup;

/// Chatbot's limits on a custom notification's fields (characters), and the list lengths used here.
pub const TITLE_MAX: usize = 250;
/// `content.description`.
pub const DESCRIPTION_MAX: usize = 8000;
/// `metadata.summary`.
pub const SUMMARY_MAX: usize = 250;
/// `content.nextSteps` and `content.keywords` items.
pub const LIST_MAX: usize = 5;

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Text from an event, safe in Slack markdown: escaped and set as code (no mention, no link).
pub fn code(s: &str) -> String {
    format!("`{}`", clip(&code_text(s), 200))
}

/// Like [`code`], without shortening: for a command people copy.
fn code_full(s: &str) -> String {
    format!("`{}`", code_text(s))
}

/// The inside of a code span: controls shown as escapes ([`crate::domain::escape::line`]), no backtick,
/// markup escaped.
fn code_text(s: &str) -> String {
    crate::domain::escape::line(s)
        .replace('`', "'")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Markdown prose that quotes event text outside code spans (a verdict's reasons, problems): one
/// line with controls shown as escapes, markup escaped, mentions broken by a zero-width space after
/// `@`, and neither `[text](url)` links nor bare URLs left for Slack or Teams to render.
pub(crate) fn prose(s: &str) -> String {
    crate::domain::escape::line(s)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@\u{200b}")
        .replace("](", "]\u{200b}(")
        .replace("://", ":\u{200b}//")
}

/// Plain text for titles and summaries (which are not markdown): controls shown as escapes, no
/// markup characters, no mentions.
pub(crate) fn plain(s: &str) -> String {
    crate::domain::escape::line(s)
        .chars()
        .map(|c| {
            if matches!(c, '<' | '>' | '&' | '@' | '`' | '*' | '_' | '~') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The thread of an image: every notice about it lands in one Slack thread (when the channel threads).
pub fn thread_id(repository: &str, digest: &str) -> String {
    format!(
        "ecr-gatekeeper-{}",
        &crate::outbound::notice::dedup_key(&["thread", repository, digest])[..24]
    )
}

/// One custom notification, before the limits are applied.
pub(crate) struct Card<'a> {
    /// `id`: the dedup key of the JSON message it mirrors.
    pub id: &'a str,
    /// `content.title` (plain text).
    pub title: String,
    /// `content.description` (Slack markdown, event text already in code spans).
    pub description: String,
    /// `content.nextSteps`.
    pub next_steps: Vec<String>,
    /// `content.keywords`.
    pub keywords: Vec<String>,
    /// `metadata.threadId`.
    pub thread: String,
    /// `metadata.summary` (plain text).
    pub summary: String,
    /// `metadata.eventType`.
    pub event_type: EventType,
    /// `metadata.additionalContext` (string values).
    pub context: serde_json::Value,
}

impl Card<'_> {
    /// The notification's JSON, within Chatbot's limits, markup-escaped like every message body.
    pub(crate) fn render(&self) -> String {
        let body = json!({
            "version": "1.0",
            "source": "custom",
            "id": self.id,
            "content": {
                "textType": "client-markdown",
                "title": clip(&self.title, TITLE_MAX),
                "description": clip(&self.description, DESCRIPTION_MAX),
                "nextSteps": self.next_steps.iter().take(LIST_MAX).map(|s| clip(s, 200)).collect::<Vec<_>>(),
                "keywords": self.keywords.iter().take(LIST_MAX).map(|s| clip(&plain(s), 50)).collect::<Vec<_>>(),
            },
            "metadata": {
                "threadId": self.thread,
                "summary": clip(&self.summary, SUMMARY_MAX),
                "eventType": self.event_type,
                "additionalContext": self.context,
            }
        });
        escape_markup(&body.to_string())
    }
}

fn emoji(decision: &str) -> &'static str {
    match decision {
        "block" => ":no_entry:",
        "warn" => ":warning:",
        "pass" => ":white_check_mark:",
        _ => ":hourglass_flowing_sand:",
    }
}

/// The Chatbot notification of a verdict message.
pub fn verdict(n: &VerdictNotice<'_>) -> String {
    let v = n.verdict;
    let decision = v.decision.as_str();
    let tag = n
        .subject_tag
        .clone()
        .unwrap_or_else(|| crate::domain::digest_hex12(&n.image.digest));
    let headline = match v.max_severity {
        Some(s) => format!(" ({} {s})", v.counts.get(s)),
        None => String::new(),
    };
    let title = format!(
        "{} {} {}:{}{headline}{}",
        emoji(decision),
        decision.to_ascii_uppercase(),
        plain(&n.image.repository),
        plain(&tag),
        if n.mode == crate::domain::Mode::Audit {
            " [audit]"
        } else {
            ""
        }
    );
    let mut d = verdict_facts(n);
    d.extend(top_findings(n));
    d.extend(tag_actions(n));
    d.push(String::new());
    d.extend(reasons_and_problems(n));
    let summary = format!(
        "{} {}:{}{headline}",
        decision.to_ascii_uppercase(),
        plain(&n.image.repository),
        plain(&tag)
    );
    let keywords = [
        decision.to_string(),
        v.max_severity
            .map_or("NONE".into(), |s| s.as_str().to_string()),
        n.image.repository.clone(),
    ];
    let key = n.key();
    Card {
        id: &key,
        title,
        description: d.join("\n"),
        next_steps: next_steps(n),
        keywords: keywords.to_vec(),
        thread: match &n.image.place {
            None => thread_id(&n.image.repository, &n.image.digest),
            Some(p) => thread_id(&format!("{}/{}/{}", p.account, p.region, n.image.repository), &n.image.digest),
        },
        summary,
        event_type: n.event_type,
        context: json!({"dedup_key": key, "repository": n.image.repository, "digest": n.image.digest, "decision": decision}),
    }
    .render()
}

/// The verdict card's opening lines: decision, image, use, counts by severity, grace deadline.
fn verdict_facts(n: &VerdictNotice<'_>) -> Vec<String> {
    let v = n.verdict;
    let mut d = Vec::new();
    d.push(format!(
        "*Decision:* {}{} · mode {} · rule {} · policy {}",
        v.decision.as_str(),
        n.previous
            .map_or(String::new(), |p| format!(" (was {})", p.as_str())),
        n.mode.as_str(),
        code(n.rule),
        n.policy_hash
    ));
    let tags: Vec<String> = n.image.tags.iter().take(10).map(|t| code(t)).collect();
    d.push(format!(
        "*Image:* {}@{} · tags {}",
        code(&n.image.repository),
        code(&n.image.digest),
        if tags.is_empty() {
            "none".into()
        } else {
            tags.join(", ")
        }
    ));
    if let Some(count) = n.in_use {
        d.push(if count > 0 {
            format!("*In use:* yes, {count} running task(s) or pod(s)")
        } else {
            "*In use:* no".to_string()
        });
    }
    let counts: Vec<String> = crate::domain::Severity::ALL
        .iter()
        .filter(|s| v.counts.get(**s) > 0)
        .map(|s| format!("{} {s}", v.counts.get(*s)))
        .collect();
    d.push(format!(
        "*Findings:* {}",
        if counts.is_empty() {
            "none".into()
        } else {
            counts.join(", ")
        }
    ));
    if let Some(deadline) = v.deadline {
        d.push(format!(
            "*Blocks on:* {}",
            crate::domain::time::format_rfc3339(deadline)
        ));
    }
    d
}

/// The verdict card's top findings (at most five), each with its package and fix; none if none.
fn top_findings(n: &VerdictNotice<'_>) -> Vec<String> {
    let v = n.verdict;
    let mut d = Vec::new();
    if !v.top.is_empty() {
        d.push(String::new());
        d.push("*Top findings*".into());
        for f in v.top.iter().take(5) {
            let p = f.packages.first();
            // A finding known only by its id and severity (an image index names what blocks its
            // platform images) says nothing about a fix.
            let fix = match p {
                None => String::new(),
                Some(p) => (p.fixed_in.as_deref())
                    .map_or(" (no fix yet)".to_string(), |x| format!(" → {}", code(x))),
            };
            d.push(format!(
                "• {} {} {} {}{fix}",
                code(&f.id),
                f.severity,
                p.map_or("-".to_string(), |p| code(&p.name)),
                p.and_then(|p| p.version.as_deref())
                    .map_or(String::new(), code)
            ));
        }
    }
    d
}

/// The verdict card's tag changes (at most ten) and how each went; none if nothing was tagged.
fn tag_actions(n: &VerdictNotice<'_>) -> Vec<String> {
    if n.actions.is_empty() {
        return Vec::new();
    }
    let done: Vec<String> = n
        .actions
        .iter()
        .take(10)
        .map(|a| {
            use crate::outbound::notice::ActionKind;
            let what = match a.action {
                ActionKind::AddTag => format!("+ {}", code(&a.tag)),
                ActionKind::RemoveTag => format!("− {}", code(&a.tag)),
                ActionKind::Archive => "archive".to_string(),
                ActionKind::Restore => "restore".to_string(),
            };
            format!(
                "{what} ({})",
                match a.status {
                    ActionStatus::Done => "done",
                    ActionStatus::Would => "would",
                    ActionStatus::Skipped => "skipped",
                    ActionStatus::Failed => "failed",
                }
            )
        })
        .collect();
    vec![String::new(), format!("*Tags:* {}", done.join(", "))]
}

/// The verdict card's quoted reasons (at most six) and the problems met (at most five), as prose.
fn reasons_and_problems(n: &VerdictNotice<'_>) -> Vec<String> {
    let reasons = n
        .verdict
        .reasons
        .iter()
        .take(6)
        .map(|r| format!("> {}", prose(r)));
    let problems = n
        .problems
        .iter()
        .take(5)
        .map(|p| format!(":grey_exclamation: {}", prose(p)));
    reasons.chain(problems).collect()
}

/// What to do about a block: rebuild with the fix, accept the risk, or break the glass.
fn next_steps(n: &VerdictNotice<'_>) -> Vec<String> {
    let v = n.verdict;
    let mut next = Vec::new();
    if v.decision == crate::domain::Decision::Block {
        if let Some(fix) = v
            .top
            .first()
            .and_then(|f| f.packages.first())
            .and_then(|p| p.fixed_in.as_deref().map(|x| (p.name.as_str(), x)))
        {
            next.push(format!(
                "Rebuild with {} {} or later",
                code(fix.0),
                code(fix.1)
            ));
        }
        next.push(
            "Or accept the risk with an exception in the policy (owner, reason, expiry)".into(),
        );
        // One code span: names from the event are never markdown (ECR's own names could not
        // hold markup, but the parser keeps whatever identifier the event carried).
        let command = format!(
            "gatekeeper release --repository {} --digest {} --reason \"…\" --force --for 24h",
            n.image.repository, n.image.digest
        );
        next.push(format!("Break-glass: {}", code_full(&command)));
    }
    next
}
