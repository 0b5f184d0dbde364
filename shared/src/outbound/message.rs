//! The SNS message contract (schema_version 1): body, subject and attributes. Pure.
//!
//! The body is JSON (documented in README.md and `docs/message.schema.json`). It is bounded well under
//! SNS's 256 KB whatever the number of findings, and written so that strings from events cannot break
//! it or mention anyone when the text is shown somewhere that renders markup: `<`, `>`, `&` and `@` are
//! written as JSON `\u` escapes (the decoded values are unchanged), and so are the characters a
//! terminal or mail reader would act on (see [`escape_markup`]). The subject shows them as visible
//! escapes ([`crate::domain::escape::line`]).

use serde::Serialize;

use super::notice::{Action, EventType, MAX_BODY_BYTES, Message, SCHEMA_VERSION, VerdictNotice};
use super::text::{clip, escape_markup, subject_line};
use crate::domain::time::format_rfc3339;
use crate::domain::verdict::AppliedException;
use crate::domain::{Decision, Finding, Mode, Severity, SeverityCounts, TriggerKind};

const MAX_TAGS: usize = 100;
const MAX_TEXT: usize = 512;

#[derive(Debug, Clone, Serialize)]
struct MessageImage<'a> {
    repository: &'a str,
    digest: &'a str,
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    in_use_count: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
struct MessageFinding {
    id: String,
    severity: Severity,
    #[serde(skip_serializing_if = "Option::is_none")]
    package: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    installed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fixed_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    score: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exploit_available: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
struct PolicyRef<'a> {
    hash: &'a str,
    rule: &'a str,
}

#[derive(Debug, Clone, Serialize)]
struct Trigger<'a> {
    event_id: &'a str,
    kind: TriggerKind,
}

#[derive(Debug, Clone, Serialize)]
struct OverrideRef<'a> {
    until: String,
    by: &'a str,
    reason: &'a str,
}

#[derive(Debug, Clone, Serialize)]
struct Body<'a> {
    schema_version: u32,
    event_type: EventType,
    dedup_key: String,
    time: String,
    mode: Mode,
    image: MessageImage<'a>,
    decision: Decision,
    previous_decision: Option<Decision>,
    max_severity: Option<Severity>,
    counts: SeverityCounts,
    findings_total: u32,
    findings: Vec<MessageFinding>,
    reasons: Vec<String>,
    exceptions: &'a [AppliedException],
    deadline: Option<String>,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    override_: Option<OverrideRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<&'a str>,
    actions: &'a [Action],
    problems: Vec<String>,
    policy: PolicyRef<'a>,
    trigger: Trigger<'a>,
}

fn finding_entry(f: &Finding) -> MessageFinding {
    let package = f.packages.first();
    MessageFinding {
        id: clip(&f.id, 128),
        severity: f.severity,
        package: package
            .map(|p| clip(&p.name, 200))
            .filter(|p| !p.is_empty()),
        installed_version: package
            .and_then(|p| p.version.as_deref())
            .map(|v| clip(v, 100)),
        fixed_version: package
            .and_then(|p| p.fixed_in.as_deref())
            .map(|v| clip(v, 100)),
        score: f.score,
        epss: f.epss,
        exploit_available: f.exploit_available,
    }
}

impl VerdictNotice<'_> {
    /// Builds the message.
    pub fn to_message(&self) -> Message {
        let v = self.verdict;
        let json = fitted_json(self.body());
        let mut attributes = vec![
            ("event_type", self.event_type.as_str().into()),
            ("decision", v.decision.as_str().into()),
            (
                "max_severity",
                v.max_severity.map_or("NONE", Severity::as_str).into(),
            ),
            ("repository", self.image.repository.clone()),
            ("mode", self.mode.as_str().into()),
        ];
        let place = [("account", self.account), ("region", self.region)];
        attributes.extend(
            place
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?.to_string()))),
        );
        Message {
            subject: subject_line(&self.subject_text()),
            body: escape_markup(&json),
            attributes,
            dedup_key: self.key(),
            chat: Some(crate::outbound::chat::verdict(self)),
        }
    }

    /// The JSON body, every list and text within its bound.
    fn body(&self) -> Body<'_> {
        let v = self.verdict;
        Body {
            schema_version: SCHEMA_VERSION,
            event_type: self.event_type,
            dedup_key: self.key(),
            time: format_rfc3339(self.now),
            mode: self.mode,
            image: MessageImage {
                repository: &self.image.repository,
                digest: &self.image.digest,
                tags: self
                    .image
                    .tags
                    .iter()
                    .take(MAX_TAGS)
                    .map(|t| clip(t, 300))
                    .collect(),
                region: self.region,
                account: self.account,
                in_use_count: self.in_use,
            },
            decision: v.decision,
            previous_decision: self.previous,
            max_severity: v.max_severity,
            counts: v.counts,
            findings_total: v.counts.total(),
            findings: v.top.iter().map(finding_entry).collect(),
            reasons: v
                .reasons
                .iter()
                .take(20)
                .map(|r| clip(r, MAX_TEXT))
                .collect(),
            exceptions: &v.exceptions[..v.exceptions.len().min(20)],
            deadline: v.deadline.map(format_rfc3339),
            override_: self.override_.map(|o| OverrideRef {
                until: format_rfc3339(o.until),
                by: &o.by,
                reason: &o.reason,
            }),
            actor: self.actor,
            actions: self.actions,
            problems: self
                .problems
                .iter()
                .take(20)
                .map(|p| clip(p, MAX_TEXT))
                .collect(),
            policy: PolicyRef {
                hash: self.policy_hash,
                rule: self.rule,
            },
            trigger: Trigger {
                event_id: self.event_id,
                kind: self.trigger,
            },
        }
    }

    /// The subject before SNS's rules apply: the one given, else decision, image and headline.
    fn subject_text(&self) -> String {
        let v = self.verdict;
        let first_tag = self.subject_tag.as_ref().map_or_else(
            || format!("@{}", crate::domain::digest_hex12(&self.image.digest)),
            |t| format!(":{t}"),
        );
        let headline = match v.max_severity {
            Some(s) => format!(" ({} {})", v.counts.get(s), s),
            None => String::new(),
        };
        let audit = if self.mode == Mode::Audit {
            " [audit]"
        } else {
            ""
        };
        match &self.subject {
            Some(s) => s.clone(),
            None => format!(
                "ECR gatekeeper: {} {}{first_tag}{headline}{audit}",
                v.decision.as_str().to_ascii_uppercase(),
                self.image.repository
            ),
        }
    }
}

/// The body as JSON within SNS's size limit: detail (findings, all tags but one, all actions but
/// one) is dropped, and the drop said in `problems`, until it fits or nothing is left to drop.
fn fitted_json(mut body: Body<'_>) -> String {
    let mut json = serde_json::to_string(&body).unwrap_or_default();
    // Only pathological inputs (hundreds of actions) get here; drop detail until it fits.
    while json.len() > MAX_BODY_BYTES
        && (!body.findings.is_empty() || body.image.tags.len() > 1 || body.actions.len() > 1)
    {
        body.findings.clear();
        body.image.tags.truncate(1);
        body.actions = &body.actions[..body.actions.len().min(1)];
        body.problems
            .push("message shortened to stay within SNS limits".into());
        json = serde_json::to_string(&body).unwrap_or_default();
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ImageRef;
    use crate::domain::policy::Policy;
    use crate::domain::verdict::Verdict;
    use crate::domain::verdict::{Subject, evaluate};
    use crate::domain::{Package, ScanState};
    use crate::outbound::chat;
    use crate::outbound::notice::{ActionKind, ActionStatus, change_key};

    fn image(tags: &[&str]) -> ImageRef {
        ImageRef {
            place: None,
            repository: "team-a/api".into(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    /// A package at `version`, fixed in `fixed_in`.
    fn package(name: &str, version: Option<&str>, fixed_in: Option<&str>) -> Package {
        Package {
            name: name.into(),
            version: version.map(str::to_string),
            fixed_in: fixed_in.map(str::to_string),
        }
    }

    /// The builtin policy's verdict on one image in `repository` with one critical finding in `package`.
    fn critical(repository: &str, id: impl Into<String>, package: Package) -> Verdict {
        let mut f = Finding::new(id, Severity::Critical);
        f.packages.push(package);
        let subject = Subject::new(repository, "sha256:1", 0);
        evaluate(&Policy::builtin(), &subject, &[f], &ScanState::Complete)
    }

    fn notice<'a>(
        image: &'a ImageRef,
        verdict: &'a Verdict,
        actions: &'a [Action],
    ) -> VerdictNotice<'a> {
        VerdictNotice {
            event_type: EventType::Verdict,
            override_: None,
            actor: None,
            in_use: Some(3),
            image,
            region: Some("eu-west-1"),
            account: None,
            verdict,
            previous: Some(Decision::Pending),
            mode: Mode::Enforce,
            actions,
            problems: &[],
            policy_hash: "0123456789ab",
            rule: "defaults",
            event_id: "ev-1",
            trigger: TriggerKind::Scan,
            dedup_key: change_key(image, verdict.decision, 2),
            subject: None,
            subject_tag: image.tags.first().cloned(),
            now: 1_700_000_000,
        }
    }

    #[test]
    fn body_subject_and_attributes() {
        let verdict = critical(
            "team-a/api",
            "CVE-2026-1",
            package("openssl", Some("3.0.1"), Some("3.0.2")),
        );
        let img = image(&["v1"]);
        let actions = [Action {
            action: ActionKind::AddTag,
            tag: "quarantined-v1--abababababab".into(),
            status: ActionStatus::Done,
            note: None,
        }];
        let m = notice(&img, &verdict, &actions).to_message();
        assert_eq!(
            m.subject,
            "ECR gatekeeper: BLOCK team-a/api:v1 (1 CRITICAL)"
        );
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["schema_version"], 1);
        assert_eq!(body["event_type"], "verdict");
        assert_eq!(body["decision"], "block");
        assert_eq!(body["previous_decision"], "pending");
        assert_eq!(body["findings"][0]["fixed_version"], "3.0.2");
        assert_eq!(body["actions"][0]["status"], "done");
        assert_eq!(body["dedup_key"], m.dedup_key);
        assert_eq!(
            m.attributes
                .iter()
                .find(|(k, _)| *k == "max_severity")
                .unwrap()
                .1,
            "CRITICAL"
        );
        // Where the image lives is an attribute too, when known (filter policies by account).
        assert!(!m.attributes.iter().any(|(k, _)| *k == "account"));
        let placed = VerdictNotice {
            account: Some("111111111111"),
            region: Some("eu-central-1"),
            ..notice(&img, &verdict, &actions)
        }
        .to_message();
        assert!(
            placed
                .attributes
                .contains(&("account", "111111111111".into()))
        );
        assert!(
            placed
                .attributes
                .contains(&("region", "eu-central-1".into()))
        );
        let placed: serde_json::Value = serde_json::from_str(&placed.body).unwrap();
        assert_eq!(placed["image"]["account"], "111111111111");
        // Same change, same key; another change number, another key.
        assert_eq!(change_key(&img, Decision::Block, 2), m.dedup_key);
        assert_ne!(change_key(&img, Decision::Block, 3), m.dedup_key);
    }

    #[test]
    fn hostile_strings_cannot_break_json_or_mention_anyone() {
        let verdict = critical(
            "r",
            "CVE-1 <!channel> @here",
            package("@here/<script>&\"\n", None, None),
        );
        let img = image(&["<!everyone>"]);
        let m = notice(&img, &verdict, &[]).to_message();
        for bad in ["<", ">", "@", "&"] {
            assert!(!m.body.contains(bad), "{bad} in {}", m.body);
            assert!(!m.subject.contains(bad), "{bad} in {}", m.subject);
        }
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["findings"][0]["package"], "@here/<script>&\"\n");
        assert_eq!(body["image"]["tags"][0], "<!everyone>");
    }

    #[test]
    fn every_class_of_control_in_an_event_reaches_the_body_escaped_and_decodes_unchanged() {
        use crate::domain::escape::{needs_escape, tests::HOSTILE};
        for (raw, _) in HOSTILE {
            let verdict = critical("r", format!("CVE-1{raw}"), package(raw, Some(raw), None));
            let img = ImageRef {
                place: None,
                repository: format!("team/{raw}"),
                digest: "sha256:1".into(),
                tags: vec![raw.to_string()],
            };
            let m = notice(&img, &verdict, &[]).to_message();
            assert!(!m.body.chars().any(needs_escape), "{raw:?}: {}", m.body);
            let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
            assert_eq!(body["image"]["repository"], format!("team/{raw}").as_str());
            assert_eq!(body["image"]["tags"][0], *raw);
            assert_eq!(body["findings"][0]["package"], *raw);
            assert_eq!(body["findings"][0]["id"], format!("CVE-1{raw}").as_str());
        }
    }

    #[test]
    fn the_subject_shows_each_class_of_control_as_an_escape() {
        use crate::domain::escape::{needs_escape, tests::HOSTILE};
        for (raw, shown) in HOSTILE {
            let s = subject_line(&format!("BLOCK {raw}"));
            assert_eq!(s, format!("BLOCK {shown}"), "{raw:?}");
            assert!(!s.chars().any(needs_escape), "{s}");
        }
        // SNS subjects are ASCII: other non-ASCII letters become `?`.
        assert_eq!(subject_line("caf\u{e9}"), "caf?");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, failure_persistence: None, ..Default::default() })]

        #[test]
        fn escaped_json_decodes_to_the_same_value_and_holds_no_raw_control(
            pairs in proptest::collection::vec(
                (crate::domain::escape::tests::hostile_string(), crate::domain::escape::tests::hostile_string()),
                0..6,
            )
        ) {
            use crate::domain::escape::needs_escape;
            let value = serde_json::json!({
                "map": pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
                    .collect::<serde_json::Map<String, serde_json::Value>>(),
                "list": pairs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
            });
            let compact = escape_markup(&serde_json::to_string(&value).unwrap());
            proptest::prop_assert!(!compact.chars().any(needs_escape), "{}", compact);
            let back: serde_json::Value = serde_json::from_str(&compact).unwrap();
            proptest::prop_assert_eq!(&back, &value);
            // Pretty output keeps its line breaks between tokens, and nothing else raw.
            let pretty = escape_markup(&serde_json::to_string_pretty(&value).unwrap());
            proptest::prop_assert!(!pretty.chars().any(|c| c != '\n' && needs_escape(c)), "{}", pretty);
            let back: serde_json::Value = serde_json::from_str(&pretty).unwrap();
            proptest::prop_assert_eq!(&back, &value);
        }
    }

    #[test]
    fn subject_is_ascii_bounded_and_never_empty() {
        let s = subject_line(&format!("BLOCK {}\u{7}\u{e9}\n", "x".repeat(300)));
        assert!(
            s.len() < 100 && s.is_ascii() && !s.chars().any(|c| c.is_control()),
            "{s}"
        );
        assert_eq!(subject_line("\n\t"), "\\n\\t");
        assert_eq!(subject_line(""), "ecr-gatekeeper");
    }

    #[test]
    fn body_stays_bounded_with_thousands_of_actions_and_long_strings() {
        let findings: Vec<Finding> = (0..5000)
            .map(|i| Finding::new(format!("CVE-{i}-{}", "x".repeat(500)), Severity::Critical))
            .collect();
        let verdict = evaluate(
            &Policy::builtin(),
            &Subject::new("r", "sha256:1", 0),
            &findings,
            &ScanState::Complete,
        );
        let tags: Vec<String> = (0..1000)
            .map(|i| format!("tag-{i}-{}", "y".repeat(100)))
            .collect();
        let img = ImageRef {
            place: None,
            repository: "r".into(),
            digest: "sha256:1".into(),
            tags,
        };
        let actions: Vec<Action> = (0..3000)
            .map(|i| Action {
                action: ActionKind::RemoveTag,
                tag: format!("t{i}{}", "z".repeat(100)),
                status: ActionStatus::Failed,
                note: Some("n".repeat(400)),
            })
            .collect();
        let m = notice(&img, &verdict, &actions).to_message();
        assert!(m.body.len() <= MAX_BODY_BYTES, "{}", m.body.len());
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["findings_total"], 5000);
        // The Chatbot notice of the same verdict keeps to Chatbot's limits.
        let chat: serde_json::Value = serde_json::from_str(m.chat.as_deref().unwrap()).unwrap();
        let len = |v: &serde_json::Value| v.as_str().unwrap().chars().count();
        assert!(len(&chat["content"]["title"]) <= chat::TITLE_MAX);
        assert!(len(&chat["content"]["description"]) <= chat::DESCRIPTION_MAX);
        assert!(len(&chat["metadata"]["summary"]) <= chat::SUMMARY_MAX);
        assert!(chat["content"]["nextSteps"].as_array().unwrap().len() <= chat::LIST_MAX);
    }

    #[test]
    fn the_chat_card_shows_every_class_of_control_from_an_event_as_an_escape() {
        use crate::domain::escape::{needs_escape, tests::HOSTILE};
        for (raw, shown) in HOSTILE {
            let verdict = critical(
                "r",
                format!("CVE-1{raw}"),
                package(raw, Some("1"), Some(raw)),
            );
            let img = ImageRef {
                place: None,
                repository: format!("team/{raw}"),
                digest: "sha256:1".into(),
                tags: vec![raw.to_string()],
            };
            let problems = [format!("could not tag {raw}")];
            let mut n = notice(&img, &verdict, &[]);
            n.problems = &problems;
            let card = n.to_message().chat.unwrap();
            assert!(!card.chars().any(needs_escape), "{raw:?}: {card}");
            let chat: serde_json::Value = serde_json::from_str(&card).unwrap();
            // What a person sees, decoded: escapes, never the raw characters.
            let content = &chat["content"];
            let title = content["title"].as_str().unwrap();
            let description = content["description"].as_str().unwrap();
            let next = content["nextSteps"][0].as_str().unwrap();
            let summary = chat["metadata"]["summary"].as_str().unwrap();
            let keyword = content["keywords"][2].as_str().unwrap();
            for text in [title, description, next, summary, keyword] {
                let outside: String = text.split('\n').collect::<Vec<_>>().join("");
                assert!(!outside.chars().any(needs_escape), "{raw:?}: {text:?}");
            }
            assert!(title.contains(&format!("team/{shown}")), "{title:?}");
            assert!(
                description.contains(&format!("`team/{shown}`")),
                "{description:?}"
            );
            // Prose also breaks bare URLs with a zero-width space.
            let prose = shown.replace("://", ":\u{200b}//");
            assert!(
                description.contains(&format!("could not tag {prose}")),
                "{description:?}"
            );
            assert!(next.contains(&format!("`{shown}`")), "{next:?}");
        }
    }

    #[test]
    fn the_chat_notice_threads_per_image_and_cannot_mention_or_link() {
        let verdict = critical(
            "team-a/api",
            "CVE-1 <!channel>",
            package("<https://evil.example|click> `x`", Some("1"), Some("2")),
        );
        let img = image(&["<@U123>"]);
        let m = notice(&img, &verdict, &[]).to_message();
        let chat: serde_json::Value = serde_json::from_str(m.chat.as_deref().unwrap()).unwrap();
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        assert_eq!(chat["content"]["textType"], "client-markdown");
        assert_eq!(
            chat["metadata"]["threadId"],
            chat::thread_id("team-a/api", &img.digest).as_str()
        );
        let text = format!(
            "{}{}{}{}",
            chat["content"]["title"],
            chat["content"]["description"],
            chat["content"]["nextSteps"],
            chat["metadata"]["summary"]
        );
        // Slack reads `<...>` as mentions and links: none survive, escaped or not.
        for bad in ["<!", "<@", "<http", "|click>"] {
            assert!(!text.contains(bad), "{bad} in {text}");
        }
        assert!(text.contains("`&lt;@U123&gt;`"), "{text}");
        assert!(
            chat["content"]["nextSteps"][0]
                .as_str()
                .unwrap()
                .starts_with("Rebuild with `&lt;https://evil.example|click&gt; 'x'` `2` or later"),
            "{chat}"
        );
    }
}
