//! `gatekeeper evaluate`: the verdict for one event, offline (no AWS calls).

use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;

use crate::{Fail, Outcome, json_out};
use std::collections::HashMap;

use gatekeeper::bootstrap::config::PolicySource;
use gatekeeper::domain::events::{self, EventBody, Incoming, MAX_EVENT_BYTES};
use gatekeeper::domain::plan::{Verified, plan};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::tags::{TagKind, TagScheme};
use gatekeeper::domain::time::Epoch;
use gatekeeper::domain::verdict::{Subject, Verdict, evaluate, evaluate_counts};
use gatekeeper::domain::{Decision, ImageRef, ScanState, SeverityCounts, TriggerKind};

/// The one JSON object `evaluate` prints.
#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// push, scan, finding, coverage or ignored.
    pub kind: TriggerKind,
    /// The image, `null` for an ignored event.
    pub image: Option<ImageRef>,
    /// pass, warn, block, pending or skip.
    pub decision: &'static str,
    /// Active findings by severity.
    pub counts: SeverityCounts,
    /// Why.
    pub reasons: Vec<String>,
    /// The verified tags this verdict would add to or remove from the tags the event names (only
    /// where the image's rule sets `verified_prefix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_tags: Option<VerifiedTags>,
}

/// Verified tags to add and to remove.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct VerifiedTags {
    /// Tags to add.
    pub add: Vec<String>,
    /// Tags to remove.
    pub remove: Vec<String>,
}

/// The verified tags the plan for this verdict would add or remove, when the rule writes them.
fn verified_tags(policy: &Policy, image: &ImageRef, decision: Decision) -> Option<VerifiedTags> {
    let rule = policy.rule_for(&image.repository);
    let prefix = rule.verified_prefix.as_deref()?;
    let d = TagScheme::default();
    let scheme = TagScheme::new(d.quarantine_prefix(), d.held_prefix(), prefix).ok()?;
    let p = plan(
        &scheme,
        &image.tags,
        &image.digest,
        decision,
        &HashMap::new(),
        true,
        Verified::of(true, rule.verify_warn, decision),
    );
    let verified = |t: &&str| matches!(scheme.classify(t), TagKind::Verified { .. });
    Some(VerifiedTags {
        add: p.adds().filter(verified).map(str::to_string).collect(),
        remove: p
            .removes()
            .map(|(t, _)| t)
            .filter(verified)
            .map(str::to_string)
            .collect(),
    })
}

fn from_verdict(policy: &Policy, kind: TriggerKind, image: &ImageRef, v: Verdict) -> Evaluation {
    Evaluation {
        kind,
        image: Some(image.clone()),
        decision: v.decision.as_str(),
        counts: v.counts,
        verified_tags: verified_tags(policy, image, v.decision),
        reasons: v.reasons,
    }
}

/// Evaluates an event (and optionally a findings document) under a policy at `now`.
pub fn run(
    event: &Value,
    findings: Option<&Value>,
    policy: &Policy,
    now: Epoch,
) -> Result<Evaluation, String> {
    let event = events::parse(event).map_err(|e| format!("event: {e}"))?;
    let findings = findings
        .map(events::parse_findings_document)
        .transpose()
        .map_err(|e| format!("findings: {e}"))?;
    // Deletions and restores matter to the Lambdas (tickets, re-evaluation), not to a verdict.
    let image = match &event.body {
        EventBody::Deleted(_) | EventBody::Restored(_) => None,
        _ => event.image(),
    };
    let kind = if image.is_none() {
        TriggerKind::Ignored
    } else {
        event.kind()
    };
    let Some(image) = image else {
        return Ok(skipped(&event.body, kind));
    };
    let v = decide(&event, image, findings, policy, now);
    Ok(from_verdict(policy, kind, image, v))
}

/// The evaluation of an event that names no image to decide (ignored, deleted, restored).
fn skipped(body: &EventBody, kind: TriggerKind) -> Evaluation {
    let reason = match body {
        EventBody::Ignored(why) => why.clone(),
        EventBody::Deleted(i) => format!("{} was deleted: no verdict", i.display()),
        EventBody::Restored(i) => format!(
            "{} was restored from archive: Inspector rescans it",
            i.display()
        ),
        _ => "no image".to_string(),
    };
    Evaluation {
        kind,
        image: None,
        decision: "skip",
        counts: SeverityCounts::default(),
        reasons: vec![reason],
        verified_tags: None,
    }
}

/// The verdict on the event's image: from the findings document when given, else from what the
/// event itself carries (counts, one finding, a coverage state).
fn decide(
    event: &events::Event,
    image: &ImageRef,
    findings: Option<Vec<gatekeeper::domain::Finding>>,
    policy: &Policy,
    now: Epoch,
) -> Verdict {
    let mut subject = Subject::new(&image.repository, &image.digest, now);
    if let EventBody::Finding(f) = &event.body {
        // A finding event says when the image was pushed and whether it runs: grace needs both.
        subject.baseline = f.pushed_at;
        subject.in_use = f.in_use_count.is_some_and(|n| n > 0);
    }
    match (&event.body, findings) {
        (EventBody::Push(_), None) => {
            gatekeeper::domain::verdict::pending("pushed: no scan result yet")
        }
        // A scan event without counts (scans from before 2020) says nothing about its findings.
        (EventBody::Scan(scan), None) if scan.counts.is_none() => {
            gatekeeper::domain::verdict::pending(
                "the scan event carries no finding-severity-counts: pass --findings to decide",
            )
        }
        (EventBody::Scan(scan), None) => {
            let mut v = evaluate_counts(
                policy.rule_for(&image.repository),
                &scan.counts.unwrap_or_default(),
                &scan.state,
            );
            for key in &scan.unrecognised {
                let key: String = key.chars().take(40).collect();
                v.reasons.push(format!(
                    "finding-severity-counts: {key:?} is not a severity AWS documents: counted as CRITICAL (fail closed)"
                ));
            }
            v
        }
        (EventBody::Finding(f), None) => evaluate(
            policy,
            &subject,
            std::slice::from_ref(&f.finding),
            &ScanState::Unknown,
        ),
        (EventBody::Coverage(c), None) => evaluate(policy, &subject, &[], &c.state),
        (body, list) => {
            let state = match body {
                EventBody::Scan(scan) => scan.state.clone(),
                EventBody::Coverage(c) => c.state.clone(),
                _ => ScanState::Unknown,
            };
            evaluate(policy, &subject, &list.unwrap_or_default(), &state)
        }
    }
}

/// The largest findings document `evaluate` reads (a saved ListFindings or DescribeImageScanFindings
/// answer; Inspector pages hold 100 findings of a few KB each).
pub const MAX_FINDINGS_BYTES: usize = 64 * 1024 * 1024;

/// Reads a file of at most `limit` bytes as text: a larger one is refused before it is read.
fn read_limited(path: &str, what: &str, limit: usize) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{what} {path}: {e}"))?;
    let mut text = String::new();
    let read = file
        .take(limit as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{what} {path}: {e}"))?;
    if read > limit {
        return Err(format!("{what} {path}: larger than the {limit}-byte limit"));
    }
    Ok(text)
}

/// Reads a JSON file of at most `limit` bytes, strictly: a key that appears twice in one object is
/// refused (a second `"CRITICAL": 0` must not hide the first).
pub fn read_json(path: &str, what: &str, limit: usize) -> Result<Value, String> {
    let text = read_limited(path, what, limit)?;
    let incoming = Incoming::from_text(&text, limit).map_err(|e| format!("{what} {path}: {e}"))?;
    match incoming.refusal() {
        Some(why) => Err(format!("{what} {path}: {why}")),
        None => Ok(incoming.value),
    }
}

/// Reads and validates a local policy file, or the built-in policy.
pub fn read_policy(path: Option<&str>) -> Result<Policy, String> {
    match path {
        None => Ok(Policy::builtin()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("policy {path}: {e}"))?;
            Policy::parse(&text).map_err(|e| format!("policy {path}: {e}"))
        }
    }
}

/// `gatekeeper evaluate`'s options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The EventBridge event: a JSON file of at most 1 MiB
    #[arg(long, value_name = "FILE")]
    pub event: String,
    /// A findings document to decide on (a saved ListFindings or DescribeImageScanFindings answer, at
    /// most 64 MiB); without it a scan event is decided on its counts, a finding event on that finding
    #[arg(long, value_name = "FILE")]
    pub findings: Option<String>,
    /// The policy, a local file (evaluate makes no AWS calls); the built-in default otherwise
    #[arg(long, value_name = "FILE", env = "GATEKEEPER_POLICY")]
    pub policy: Option<String>,
    /// Decide as of this time (2026-12-01 or 2026-12-01T10:00:00Z): reproducible expiry and grace
    #[arg(long, value_name = "TIME", value_parser = crate::cli::time)]
    pub now: Option<Epoch>,
}

/// `gatekeeper evaluate --event FILE [--findings FILE] [--policy FILE] [--now TIME]`.
pub fn command(args: Args) -> Outcome {
    // GATEKEEPER_POLICY may name S3 or SSM for the commands that call AWS: evaluate says so rather
    // than deciding under another policy than the one asked for.
    if let Some(p) = &args.policy
        && !matches!(PolicySource::parse(p), Ok(PolicySource::File(_)))
    {
        return Err(Fail::error(format!(
            "policy {p}: evaluate makes no AWS calls: give --policy a local file"
        )));
    }
    let event = read_json(&args.event, "event", MAX_EVENT_BYTES)?;
    let findings = args
        .findings
        .as_deref()
        .map(|p| read_json(p, "findings", MAX_FINDINGS_BYTES))
        .transpose()?;
    let policy = read_policy(args.policy.as_deref())?;
    let now = args.now.unwrap_or_else(gatekeeper::domain::time::now);
    let out = run(&event, findings.as_ref(), &policy, now)?;
    println!("{}", json_out(&out)?);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: Epoch = 1_795_000_000;

    fn event(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn decides_each_kind_without_findings() {
        let p = Policy::builtin();
        let cases = [
            (
                "aws.inspector2-inspector2-scan-ecr-docs.json",
                "scan",
                "block",
            ),
            (
                "aws.inspector2-inspector2-scan-ecr-clean.json",
                "scan",
                "pass",
            ),
            ("aws.ecr-ecr-image-scan-failed.json", "scan", "pending"),
            (
                "aws.inspector2-inspector2-finding-ecr-critical.json",
                "finding",
                "block",
            ),
            (
                "aws.inspector2-inspector2-finding-ecr-docs.json",
                "finding",
                "pass",
            ),
            (
                "aws.inspector2-inspector2-coverage-ecr-expired.json",
                "coverage",
                "pending",
            ),
            ("aws.ecr-ecr-image-action-push-oci.json", "push", "pending"),
            ("aws.ecr-ecr-image-action-delete.json", "ignored", "skip"),
        ];
        for (name, kind, decision) in cases {
            let e = run(&event(name), None, &p, NOW).unwrap();
            assert_eq!(
                (e.kind.as_str(), e.decision),
                (kind, decision),
                "{name}: {:?}",
                e.reasons
            );
            assert_eq!(e.image.is_none(), kind == "ignored", "{name}");
        }
    }

    #[test]
    fn now_decides_grace_and_expiry() {
        // The sample CRITICAL was first observed on 2026-11-21 11:42, the image pushed on 2026-11-20 09:15:
        // a rescan finding on an image in use. With 3 days of grace for running images it warns until
        // 2026-11-24 11:42, and blocks from then on.
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\ngrace_in_use = { CRITICAL = \"3d\" }\n",
        )
        .unwrap();
        let e = event("aws.inspector2-inspector2-finding-ecr-critical.json");
        let at = |t: &str| gatekeeper::domain::time::parse_rfc3339(t).unwrap();
        let during = run(&e, None, &p, at("2026-11-22T00:00:00Z")).unwrap();
        assert_eq!(during.decision, "warn", "{:?}", during.reasons);
        assert!(
            during
                .reasons
                .iter()
                .any(|r| r.ends_with("blocks on 2026-11-24")),
            "{:?}",
            during.reasons
        );
        assert_eq!(
            run(&e, None, &p, at("2026-11-24T11:42:07Z"))
                .unwrap()
                .decision,
            "block"
        );
    }

    #[test]
    fn findings_file_overrides_the_event_counts() {
        let findings = json!({"findings": [{"findingArn": "arn:1", "severity": "HIGH", "status": "ACTIVE", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-1"}}]});
        let e = run(
            &event("aws.inspector2-inspector2-scan-ecr-docs.json"),
            Some(&findings),
            &Policy::builtin(),
            NOW,
        )
        .unwrap();
        assert_eq!(e.decision, "warn");
        assert_eq!(e.counts.total(), 1);
    }

    #[test]
    fn reports_the_verified_tags_it_would_add_or_remove_where_the_rule_writes_them() {
        let p = Policy::parse(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\nverified_prefix = \"verified-\"\n",
        )
        .unwrap();
        let clean = run(
            &event("aws.inspector2-inspector2-scan-ecr-clean.json"),
            None,
            &p,
            NOW,
        )
        .unwrap();
        assert_eq!(
            clean.verified_tags,
            Some(VerifiedTags {
                add: vec!["verified-ubuntu22".into()],
                remove: vec![]
            })
        );
        let mut blocked = event("aws.inspector2-inspector2-scan-ecr-docs.json");
        blocked["detail"]["image-tags"] = json!(["latest", "verified-latest"]);
        let e = run(&blocked, None, &p, NOW).unwrap();
        assert_eq!(e.decision, "block");
        assert_eq!(
            e.verified_tags,
            Some(VerifiedTags {
                add: vec![],
                remove: vec!["verified-latest".into()]
            })
        );
        let without = run(&blocked, None, &Policy::builtin(), NOW).unwrap();
        assert_eq!(without.verified_tags, None);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        let bad = json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {}});
        assert!(
            run(&bad, None, &Policy::builtin(), NOW)
                .unwrap_err()
                .starts_with("event: detail.action-type")
        );
        let e = run(
            &event("aws.ecr-ecr-image-scan-complete-docs.json"),
            Some(&json!({"x": 1})),
            &Policy::builtin(),
            NOW,
        )
        .unwrap_err();
        assert!(e.starts_with("findings: "), "{e}");
    }
}
