//! `gatekeeper evaluate`: the verdict for one event, offline (no AWS calls).

use serde::Serialize;
use serde_json::Value;

use gatekeeper::domain::{ImageRef, ScanState, SeverityCounts};
use gatekeeper::events::{self, EventBody};
use gatekeeper::policy::Policy;
use gatekeeper::verdict::{Verdict, evaluate, evaluate_counts};

/// The one JSON object `evaluate` prints.
#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// push, scan, finding, coverage or ignored.
    pub kind: &'static str,
    /// The image, `null` for an ignored event.
    pub image: Option<ImageRef>,
    /// pass, warn, block, pending or skip.
    pub decision: &'static str,
    /// Active findings by severity.
    pub counts: SeverityCounts,
    /// Why.
    pub reasons: Vec<String>,
}

fn from_verdict(kind: &'static str, image: &ImageRef, v: Verdict) -> Evaluation {
    Evaluation {
        kind,
        image: Some(image.clone()),
        decision: v.decision.as_str(),
        counts: v.counts,
        reasons: v.reasons,
    }
}

/// Evaluates an event (and optionally a findings document) under a policy.
pub fn run(event: &Value, findings: Option<&Value>, policy: &Policy) -> Result<Evaluation, String> {
    let event = events::parse(event).map_err(|e| format!("event: {e}"))?;
    let findings = findings
        .map(events::parse_findings_document)
        .transpose()
        .map_err(|e| format!("findings: {e}"))?;
    let kind = event.kind();
    let Some(image) = event.image() else {
        let reason = match &event.body {
            EventBody::Ignored(why) => why.clone(),
            _ => "no image".to_string(),
        };
        return Ok(Evaluation {
            kind,
            image: None,
            decision: "skip",
            counts: SeverityCounts::default(),
            reasons: vec![reason],
        });
    };
    let rule = policy.rule_for(&image.repository);
    let v = match (&event.body, findings) {
        (EventBody::Push(_), None) => gatekeeper::verdict::pending("pushed: no scan result yet"),
        (EventBody::Scan(scan), None) => {
            evaluate_counts(rule, &scan.counts.unwrap_or_default(), &scan.state)
        }
        (EventBody::Finding(f), None) => {
            evaluate(rule, std::slice::from_ref(&f.finding), &ScanState::Unknown)
        }
        (EventBody::Coverage(c), None) => evaluate(rule, &[], &c.state),
        (body, list) => {
            let state = match body {
                EventBody::Scan(scan) => scan.state.clone(),
                EventBody::Coverage(c) => c.state.clone(),
                _ => ScanState::Unknown,
            };
            evaluate(rule, &list.unwrap_or_default(), &state)
        }
    };
    Ok(from_verdict(kind, image, v))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
            let e = run(&event(name), None, &p).unwrap();
            assert_eq!(
                (e.kind, e.decision),
                (kind, decision),
                "{name}: {:?}",
                e.reasons
            );
            assert_eq!(e.image.is_none(), kind == "ignored", "{name}");
        }
    }

    #[test]
    fn findings_file_overrides_the_event_counts() {
        let findings = json!({"findings": [{"findingArn": "arn:1", "severity": "HIGH", "status": "ACTIVE", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-1"}}]});
        let e = run(
            &event("aws.inspector2-inspector2-scan-ecr-docs.json"),
            Some(&findings),
            &Policy::builtin(),
        )
        .unwrap();
        assert_eq!(e.decision, "warn");
        assert_eq!(e.counts.total(), 1);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert!(
            run(
                &json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {}}),
                None,
                &Policy::builtin()
            )
            .unwrap_err()
            .starts_with("event: detail.action-type")
        );
        let e = run(
            &event("aws.ecr-ecr-image-scan-complete-docs.json"),
            Some(&json!({"x": 1})),
            &Policy::builtin(),
        )
        .unwrap_err();
        assert!(e.starts_with("findings: "), "{e}");
    }
}
