//! The `gatekeeper` binary as a CI pipeline runs it: output, exit codes, errors on stderr.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::Value;

mod common;
use common::*;

#[test]
fn evaluate_prints_one_json_object_and_exits_zero() {
    let out = gatekeeper(&[
        "evaluate",
        "--event",
        "events/aws.inspector2-inspector2-scan-ecr-docs.json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "scan");
    assert_eq!(v["decision"], "block");
    assert_eq!(v["image"]["repository"], "amazon/amazon-ecs-sample");
    assert_eq!(v["counts"]["CRITICAL"], 7);
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .contains("7 finding(s) at or above CRITICAL")
    );
    let mut keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["counts", "decision", "image", "kind", "reasons"]);
}

/// `evaluate` of a clean scan event with `findings` (a file) under `policy` (a file): its JSON.
fn verdict(policy: &str, findings: &str) -> Value {
    let out = gatekeeper(&[
        "evaluate",
        "--event",
        "events/aws.inspector2-inspector2-scan-ecr-clean.json",
        "--findings",
        findings,
        "--policy",
        policy,
    ]);
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_policy_and_a_findings_file_change_the_decision() {
    let policy = scratch("strict.toml", "version = 1\n[defaults]\nblock = \"HIGH\"\n");
    let findings = scratch(
        "findings.json",
        r#"{"findings": [{"findingArn": "arn:1", "severity": "HIGH", "status": "ACTIVE", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-1"}}]}"#,
    );
    let v = verdict(&policy, &findings);
    assert_eq!(
        (v["decision"].as_str(), v["counts"]["HIGH"].as_u64()),
        (Some("block"), Some(1))
    );
}

#[test]
fn the_verdict_names_the_criterion_each_finding_met() {
    let policy = scratch(
        "split.toml",
        "version = 1\n[defaults]\nblock = { fixable = \"HIGH\", unfixable = \"CRITICAL\" }\ndeny = [\"CVE-2026-9\"]\n",
    );
    let findings = scratch(
        "split.json",
        r#"{"findings": [
            {"findingArn": "arn:1", "severity": "HIGH", "status": "ACTIVE", "fixAvailable": "YES", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-1"}},
            {"findingArn": "arn:2", "severity": "HIGH", "status": "ACTIVE", "fixAvailable": "NO", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-2"}},
            {"findingArn": "arn:9", "severity": "LOW", "status": "ACTIVE", "fixAvailable": "NO", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-9"}}]}"#,
    );
    let v = verdict(&policy, &findings);
    assert_eq!(v["decision"], "block", "{v}");
    let reasons = v["reasons"].to_string();
    assert!(reasons.contains("2 finding(s) block"), "{reasons}");
    assert!(
        reasons.contains("CVE-2026-9 (LOW, denied by the rule)"),
        "{reasons}"
    );
    assert!(
        reasons.contains("CVE-2026-1 (HIGH, fix available)"),
        "{reasons}"
    );
    assert!(
        !reasons.contains("CVE-2026-2"),
        "HIGH without a fix meets nothing: {reasons}"
    );
}

#[test]
fn ignored_events_are_skip_with_a_null_image() {
    let out = gatekeeper(&[
        "evaluate",
        "--event",
        "events/aws.inspector2-inspector2-finding-lambda.json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            v["kind"].as_str(),
            v["decision"].as_str(),
            v["image"].is_null()
        ),
        (Some("ignored"), Some("skip"), true)
    );
}

#[test]
fn unusable_input_exits_two_with_one_line_on_stderr() {
    let bad_event = scratch(
        "bad.json",
        r#"{"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {"action-type": "PUSH"}}"#,
    );
    let bad_policy = scratch("bad.toml", "version = 1\n[defaults]\nwarn = \"HIGHISH\"\n");
    let not_json = scratch("notjson.json", "{");
    let cases: [(&[&str], &str); 6] = [
        (
            &["evaluate", "--event", &bad_event],
            "detail.repository-name: is missing",
        ),
        (
            &[
                "evaluate",
                "--event",
                "events/aws.ecr-ecr-image-scan-failed.json",
                "--policy",
                &bad_policy,
            ],
            "line 3: warn: unknown severity",
        ),
        (&["evaluate", "--event", &not_json], "not JSON"),
        (
            &["evaluate", "--event", "/nonexistent.json"],
            "No such file",
        ),
        (&["evaluate"], "--event is required"),
        (&["frobnicate"], "unknown command"),
    ];
    for (args, expected) in cases {
        let out = gatekeeper(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn help_and_version() {
    let help = gatekeeper(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
    let version = gatekeeper(&["--version"]);
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("gatekeeper {}", env!("CARGO_PKG_VERSION"))
    );
}
