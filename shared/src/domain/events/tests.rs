//! Parser tests: every sample in `events/`, then the edges a lenient parser must survive.

use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::domain::{FindingStatus, FixAvailable, Severity, TriggerKind};

mod properties;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn sample(name: &str) -> Event {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap();
    parse_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_sample_event_parses_to_its_expected_kind() {
    let expected = [
        ("aws.ecr-ecr-image-action-push-docs.json", "push"),
        ("aws.ecr-ecr-image-action-push-oci.json", "push"),
        ("aws.ecr-ecr-image-action-push-no-account.json", "push"),
        ("aws.ecr-ecr-image-action-push-untagged.json", "push"),
        ("aws.ecr-ecr-image-action-push-index.json", "push"),
        ("aws.ecr-ecr-image-action-push-own-tag.json", "push"),
        ("aws.ecr-ecr-image-action-delete.json", "delete"),
        ("aws.ecr-ecr-image-action-archive.json", "ignored"),
        ("aws.ecr-ecr-image-action-restore.json", "restore"),
        ("aws.ecr-ecr-image-scan-complete-docs.json", "scan"),
        ("aws.ecr-ecr-image-scan-failed.json", "scan"),
        ("aws.inspector2-inspector2-scan-ecr-docs.json", "scan"),
        ("aws.inspector2-inspector2-scan-ecr-clean.json", "scan"),
        ("aws.inspector2-inspector2-scan-ec2.json", "ignored"),
        ("aws.inspector2-inspector2-finding-ecr-docs.json", "finding"),
        ("aws.inspector2-inspector2-finding-ecr-2021.json", "finding"),
        (
            "aws.inspector2-inspector2-finding-ecr-critical.json",
            "finding",
        ),
        ("aws.inspector2-inspector2-finding-ec2.json", "ignored"),
        ("aws.inspector2-inspector2-finding-lambda.json", "ignored"),
        (
            "aws.inspector2-inspector2-coverage-ec2-docs.json",
            "ignored",
        ),
        (
            "aws.inspector2-inspector2-coverage-ecr-expired.json",
            "coverage",
        ),
        ("aws.ecr-ecr-scan-resource-change-docs.json", "ignored"),
    ];
    let mut on_disk: Vec<String> = std::fs::read_dir(events_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = expected.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every file in events/ needs an expected kind here"
    );
    for (name, kind) in expected {
        let event = sample(name);
        assert_eq!(event.kind().as_str(), kind, "{name}");
        assert!(!event.id.is_empty(), "{name}: id");
        assert!(event.time.is_some(), "{name}: time");
        if let Some(image) = event.image() {
            assert!(
                !image.repository.contains(':'),
                "{name}: repository is a name, not an ARN"
            );
            assert!(image.digest.starts_with("sha256:"), "{name}: digest");
        }
    }
}

#[test]
fn push_sample_from_the_docs_has_a_tag_and_no_media_types() {
    let EventBody::Push(push) = sample("aws.ecr-ecr-image-action-push-docs.json").body else {
        panic!()
    };
    assert_eq!(push.image.repository, "my-repository-name");
    assert_eq!(push.tag(), Some("latest"));
    assert_eq!(push.manifest_media_type, None);
}

#[test]
fn untagged_push_has_no_tags_and_media_types_are_kept() {
    let EventBody::Push(push) = sample("aws.ecr-ecr-image-action-push-untagged.json").body else {
        panic!()
    };
    assert!(push.image.tags.is_empty());
    assert_eq!(push.tag(), None);
    assert_eq!(
        push.artifact_media_type.as_deref(),
        Some("application/vnd.docker.container.image.v1+json")
    );
}

#[test]
fn event_without_account_parses_as_the_deployments_own() {
    let event = sample("aws.ecr-ecr-image-action-push-no-account.json");
    // Its resources name an account, but an event without one is moto's: this deployment's own.
    assert_eq!(event.image().unwrap().place, None);
    assert_eq!(event.image().unwrap().repository, "team-a/payments-api");
}

fn place(account: &str, region: &str) -> Option<Place> {
    Some(Place {
        account: account.into(),
        region: region.into(),
    })
}

#[test]
fn every_image_event_sample_names_the_account_and_region_of_its_image() {
    let samples = [
        (
            "aws.ecr-ecr-image-action-push-docs.json",
            "123456789012",
            "us-west-2",
        ),
        (
            "aws.ecr-ecr-image-scan-complete-docs.json",
            "123456789012",
            "us-east-1",
        ),
        (
            "aws.inspector2-inspector2-scan-ecr-clean.json",
            "111122223333",
            "us-east-1",
        ),
        (
            "aws.inspector2-inspector2-finding-ecr-2021.json",
            "123456789012",
            "us-east-2",
        ),
        (
            "aws.inspector2-inspector2-coverage-ecr-expired.json",
            "123456789012",
            "eu-west-1",
        ),
    ];
    for (name, account, region) in samples {
        let event = sample(name);
        assert_eq!(
            event.image().unwrap().place,
            place(account, region),
            "{name}"
        );
    }
}

/// A member's finding as the delegated administrator's bus receives it: the envelope is the
/// administrator's, the finding and its image ARN are the member's.
fn member_finding(aws_account: &str, arn_account: &str) -> serde_json::Value {
    let arn = format!("arn:aws:ecr:eu-central-1:{arn_account}:repository/team/app/sha256:ab");
    json!({
        "source": "aws.inspector2", "detail-type": "Inspector2 Finding", "id": "f-1",
        "account": "999999999999", "region": "eu-central-1", "resources": [arn],
        "detail": {"awsAccountId": aws_account, "severity": "HIGH", "status": "ACTIVE", "title": "t",
            "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE", "id": arn, "region": "eu-central-1",
                "details": {"awsEcrContainerImage": {"repositoryName": "team/app", "imageHash": "sha256:ab"}}}]}
    })
}

#[test]
fn a_members_finding_on_the_administrators_bus_is_the_members_image() {
    let event = parse(&member_finding("111111111111", "111111111111")).unwrap();
    assert_eq!(
        event.image().unwrap().place,
        place("111111111111", "eu-central-1")
    );
}

#[test]
fn a_finding_whose_account_and_image_arn_disagree_is_refused() {
    let e = parse(&member_finding("111111111111", "222222222222")).unwrap_err();
    assert!(e.reason().contains("awsAccountId"), "{}", e.reason());
    assert!(e.reason().contains("another account"), "{}", e.reason());
}

#[test]
fn without_an_image_arn_the_finding_then_the_envelope_name_the_place() {
    let mut v = member_finding("111111111111", "111111111111");
    v["resources"] = json!([]);
    v["detail"]["resources"][0]["id"] = json!("not-an-arn");
    assert_eq!(
        parse(&v).unwrap().image().unwrap().place,
        place("111111111111", "eu-central-1")
    );
    let push = json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "id": "p",
        "account": "333333333333", "region": "ap-south-1",
        "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": "a",
            "image-digest": "sha256:ab", "image-tag": "v1"}});
    assert_eq!(
        parse(&push).unwrap().image().unwrap().place,
        place("333333333333", "ap-south-1")
    );
    // Only what AWS writes there: an account id of 12 digits, a region name.
    for (field, value) in [("account", "1234#image#x"), ("region", "eu#west")] {
        let mut odd = push.clone();
        odd[field] = json!(value);
        let e = parse(&odd).unwrap_err();
        assert!(
            e.reason().contains(field) && !e.reason().contains('#'),
            "{}",
            e.reason()
        );
    }
    let mut no_region = push.clone();
    no_region.as_object_mut().unwrap().remove("region");
    let e = parse(&no_region).unwrap_err();
    assert!(e.reason().contains("region"), "{}", e.reason());
}

#[test]
fn inspector_scan_takes_the_repository_name_from_the_arn_and_keeps_total_apart() {
    let EventBody::Scan(scan) = sample("aws.inspector2-inspector2-scan-ecr-docs.json").body else {
        panic!()
    };
    assert_eq!(scan.image.repository, "amazon/amazon-ecs-sample");
    assert_eq!(scan.scanner, Scanner::Enhanced);
    assert_eq!(scan.state, ScanState::Complete);
    let counts = scan.counts.unwrap();
    assert_eq!(
        (
            counts.get(Severity::Critical),
            counts.get(Severity::High),
            counts.get(Severity::Medium)
        ),
        (7, 61, 62)
    );
    assert_eq!(scan.total, Some(158));
    assert_eq!(scan.image.tags, vec!["latest"]);
}

#[test]
fn basic_scan_failed_has_no_counts() {
    let EventBody::Scan(scan) = sample("aws.ecr-ecr-image-scan-failed.json").body else {
        panic!()
    };
    assert_eq!(scan.scanner, Scanner::Basic);
    assert_eq!(scan.state, ScanState::Unusable("FAILED".into()));
    assert_eq!(scan.counts, None);
}

/// The finding change in the sample event `name`.
fn finding_sample(name: &str) -> FindingChange {
    match sample(name).body {
        EventBody::Finding(f) => f,
        other => panic!("{name}: {other:?}"),
    }
}

#[test]
fn finding_2024_sample_reads_odd_timestamps_packages_and_scores() {
    let f = finding_sample("aws.inspector2-inspector2-finding-ecr-docs.json");
    assert_eq!(f.image.repository, "inspector2");
    assert_eq!(f.image.tags, vec!["ubuntu_latest"]);
    assert_eq!(f.finding.id, "CVE-2024-6119");
    assert_eq!(f.finding.severity, Severity::Medium);
    assert_eq!(f.finding.status, FindingStatus::Active);
    assert_eq!(f.finding.fix_available, Some(FixAvailable::Yes));
    assert_eq!(f.finding.exploit_available, Some(false));
    assert_eq!(f.finding.epss, Some(0.00045));
    assert_eq!(f.finding.score, None);
    assert_eq!(f.finding.packages.len(), 2);
    assert_eq!(
        f.finding.packages[0].version.as_deref(),
        Some("3.0.13-0ubuntu3.2")
    );
    assert_eq!(f.finding.first_observed, Some(1_725_468_938));
    assert_eq!(f.pushed_at, Some(1_725_468_928));
}

#[test]
fn finding_2021_sample_reads_twelve_hour_timestamps_and_in_use() {
    let f = finding_sample("aws.inspector2-inspector2-finding-ecr-2021.json");
    assert_eq!(f.image.repository, "amazon/amazon-ecs-sample");
    assert_eq!(f.finding.score, Some(6.5));
    assert_eq!(f.finding.fix_available, None);
    assert!(!f.finding.has_fix());
    assert_eq!(f.in_use_count, Some(1));
    assert_eq!(f.finding.first_observed, Some(1_638_554_550));
}

#[test]
fn coverage_event_for_an_ecr_image_is_unusable_with_its_reason() {
    let EventBody::Coverage(c) = sample("aws.inspector2-inspector2-coverage-ecr-expired.json").body
    else {
        panic!()
    };
    assert_eq!(c.image.repository, "team-a/payments-api");
    assert_eq!(
        c.state,
        ScanState::Unusable("SCAN_ELIGIBILITY_EXPIRED".into())
    );
}

#[test]
fn ignored_events_say_why() {
    let EventBody::Ignored(why) = sample("aws.ecr-ecr-image-action-archive.json").body else {
        panic!()
    };
    assert!(why.contains("storage class change"), "{why}");
    let EventBody::Restored(image) = sample("aws.ecr-ecr-image-action-restore.json").body else {
        panic!()
    };
    assert_eq!(image.repository, "team-a/payments-api");
    let EventBody::Ignored(why) = sample("aws.inspector2-inspector2-finding-lambda.json").body
    else {
        panic!()
    };
    assert!(why.contains("AWS_LAMBDA_FUNCTION"), "{why}");
}

fn push_with(detail: serde_json::Value) -> serde_json::Value {
    json!({"id": "1", "source": "aws.ecr", "detail-type": "ECR Image Action", "detail": detail})
}

#[test]
fn malformed_events_are_errors_that_name_the_field() {
    let cases = [
        (json!([]), "expected a JSON object"),
        (json!({}), "no source"),
        (
            json!({"source": "aws.ecr", "detail-type": "ECR Image Action"}),
            "detail: is missing",
        ),
        (
            json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "detail": "x"}),
            "detail: expected an object",
        ),
        (
            push_with(json!({"action-type": "PUSH", "repository-name": "r"})),
            "detail.image-digest: is missing",
        ),
        (
            push_with(json!({"action-type": "PUSH", "image-digest": "sha256:1"})),
            "detail.repository-name: is missing",
        ),
        (
            push_with(
                json!({"action-type": "PUSH", "repository-name": 7, "image-digest": "sha256:1"}),
            ),
            "detail.repository-name: expected a string, got a number",
        ),
        (
            push_with(
                json!({"action-type": "PUSH", "repository-name": "", "image-digest": "sha256:1"}),
            ),
            "detail.repository-name: is empty",
        ),
        (
            push_with(json!({"repository-name": "r", "image-digest": "sha256:1"})),
            "detail.action-type: is missing",
        ),
        (
            json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "time": "noon", "detail": {}}),
            "time: is not an RFC 3339",
        ),
        (
            json!({"source": "aws.inspector2", "detail-type": "Inspector2 Scan", "detail": {"image-digest": "sha256:1", "image-tags": [1]}}),
            "detail.repository-name: is missing",
        ),
        (
            json!({"source": "aws.inspector2", "detail-type": "Inspector2 Finding", "detail": {"resources": [{"details": {"awsEcrContainerImage": {"repositoryName": "r", "imageHash": "sha256:1"}}}]}}),
            "detail.severity: is missing",
        ),
    ];
    for (value, expected) in cases {
        let err = parse(&value).expect_err(&value.to_string());
        assert!(
            err.reason().contains(expected),
            "{value}: got {err:?}, want {expected:?}"
        );
    }
    assert!(
        parse_str("{not json")
            .unwrap_err()
            .reason()
            .starts_with("not JSON")
    );
}

#[test]
fn unknown_enum_values_fall_to_the_cautious_side() {
    let v = json!({
        "source": "aws.inspector2", "detail-type": "Inspector2 Finding",
        "resources": ["arn:aws:ecr:eu-west-1:1:repository/a/b/sha256:ab"],
        "detail": {"severity": "APOCALYPTIC", "status": "REOPENED", "title": "t", "fixAvailable": "MAYBE", "exploitAvailable": "UNKNOWN"}
    });
    let EventBody::Finding(f) = parse(&v).unwrap().body else {
        panic!()
    };
    assert_eq!(f.image.repository, "a/b");
    assert_eq!(f.image.digest, "sha256:ab");
    // Nothing to fall back on: the worst severity, named; any status but AWS's own is active; any
    // fix or exploit value but AWS's NO counts as yes (the side that keeps a block a block).
    assert_eq!(f.finding.severity, Severity::Critical);
    assert!(
        f.finding
            .severity_note
            .as_deref()
            .unwrap()
            .contains("\"APOCALYPTIC\" is not one AWS documents")
    );
    assert_eq!(f.finding.status, FindingStatus::Active);
    assert_eq!(f.finding.fix_available, Some(FixAvailable::Yes));
    assert_eq!(f.finding.exploit_available, Some(true));
}

#[test]
fn failed_pushes_and_other_actions_are_ignored_not_rejected() {
    let v = push_with(
        json!({"action-type": "PUSH", "result": "FAILURE", "repository-name": "r", "image-digest": "sha256:1"}),
    );
    assert_eq!(parse(&v).unwrap().kind(), TriggerKind::Ignored);
    let v = push_with(json!({"action-type": "REPLICATE"}));
    assert_eq!(parse(&v).unwrap().kind(), TriggerKind::Ignored);
    let v = push_with(
        json!({"action-type": "UPDATE_STORAGE_CLASS", "repository-name": "r", "image-digest": "sha256:1", "image-status": "ARCHIVED"}),
    );
    assert_eq!(parse(&v).unwrap().kind(), TriggerKind::Ignored);
}

#[test]
fn findings_documents_in_every_saved_shape() {
    let inspector = json!({"findingArn": "arn:f", "severity": "HIGH", "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-1", "vulnerablePackages": [{"name": "p", "version": "1", "fixedInVersion": "2"}]}, "firstObservedAt": 1_700_000_000.5});
    let basic = json!({"name": "CVE-2", "severity": "CRITICAL", "attributes": [{"key": "package_name", "value": "zlib"}, {"key": "package_version", "value": "1.2"}, {"key": "CVSS2_SCORE", "value": "9.3"}]});
    let a = parse_findings_document(&json!({"findings": [inspector.clone()]})).unwrap();
    assert_eq!(a[0].id, "CVE-1");
    assert_eq!(a[0].first_observed, Some(1_700_000_000));
    assert!(a[0].has_fix());
    let b = parse_findings_document(&json!({"imageScanFindings": {"findings": [basic.clone()]}}))
        .unwrap();
    assert_eq!(
        (
            b[0].id.as_str(),
            b[0].severity,
            b[0].packages[0].name.as_str(),
            b[0].score
        ),
        ("CVE-2", Severity::Critical, "zlib", Some(9.3))
    );
    let c =
        parse_findings_document(&json!({"imageScanFindings": {"enhancedFindings": [inspector]}}))
            .unwrap();
    assert_eq!(c.len(), 1);
    let d = parse_findings_document(&json!([basic])).unwrap();
    assert_eq!(d.len(), 1);
    let err = parse_findings_document(&json!({"findings": [{"name": "CVE-3"}]})).unwrap_err();
    assert_eq!(err.reason(), "findings[0]: severity: is missing");
    assert!(parse_findings_document(&json!({"items": []})).is_err());
}

fn basic_scan_with_counts(counts: &str) -> String {
    format!(
        r#"{{"source": "aws.ecr", "detail-type": "ECR Image Scan", "time": "2026-12-01T10:00:00Z",
            "detail": {{"scan-status": "COMPLETE", "repository-name": "r", "image-digest": "sha256:1",
                        "finding-severity-counts": {counts}}}}}"#
    )
}

#[test]
fn a_count_that_is_not_a_non_negative_integer_refuses_the_scan_event() {
    for bad in [
        "-1",
        "0.5",
        "null",
        "\"NaN\"",
        "\"Infinity\"",
        "\"1\"",
        "1e400",
        "true",
    ] {
        let err = parse_str(&basic_scan_with_counts(&format!(
            r#"{{"CRITICAL": {bad}}}"#
        )))
        .unwrap_err();
        assert!(
            err.reason()
                .contains("finding-severity-counts.CRITICAL: expected a non-negative integer")
                || err.reason().contains("number out of range"),
            "{bad}: {err}"
        );
    }
    // Zero severities omitted by AWS, and scans from before 2020 without counts, stay valid.
    let EventBody::Scan(s) = parse_str(&basic_scan_with_counts(r#"{"HIGH": 2}"#))
        .unwrap()
        .body
    else {
        panic!()
    };
    assert_eq!(s.counts.unwrap().get(Severity::Critical), 0);
    let no_counts = basic_scan_with_counts("null");
    let EventBody::Scan(s) = parse_str(&no_counts).unwrap().body else {
        panic!()
    };
    assert_eq!(s.counts, None);
}

#[test]
fn a_count_under_a_name_aws_does_not_document_counts_as_critical() {
    let EventBody::Scan(s) = parse_str(&basic_scan_with_counts(r#"{"SEVERE": 3, "LOW": 1}"#))
        .unwrap()
        .body
    else {
        panic!()
    };
    assert_eq!(s.counts.unwrap().get(Severity::Critical), 3);
    assert_eq!(s.unrecognised, vec!["SEVERE".to_string()]);
}

#[test]
fn a_key_written_twice_refuses_the_event_whatever_the_values() {
    let err = parse_str(&basic_scan_with_counts(
        r#"{"CRITICAL": 10, "CRITICAL": 0}"#,
    ))
    .unwrap_err();
    assert_eq!(
        err.reason(),
        "detail.finding-severity-counts.CRITICAL: the key appears more than once"
    );
    let text = std::fs::read_to_string(
        events_dir().join("aws.inspector2-inspector2-finding-ecr-critical.json"),
    )
    .unwrap()
    .replacen(
        r#""status": "ACTIVE","#,
        r#""status": "ACTIVE", "status": "CLOSED","#,
        1,
    );
    assert!(
        parse_str(&text)
            .unwrap_err()
            .reason()
            .ends_with("status: the key appears more than once")
    );
}

/// The sample CRITICAL finding event (score 9.8), changed by `edit`.
fn critical_event_with(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
    let text = std::fs::read_to_string(
        events_dir().join("aws.inspector2-inspector2-finding-ecr-critical.json"),
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut v);
    v
}

fn critical_finding_with(edit: impl FnOnce(&mut serde_json::Value)) -> Finding {
    match parse(&critical_event_with(edit)).unwrap().body {
        EventBody::Finding(f) => f.finding,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_severity_aws_does_not_spell_falls_back_to_the_score_then_the_vendor_then_critical() {
    for lookalike in [
        "CRITICA",
        "CRIT\u{0399}CAL",
        "CRITICAL\u{200b}",
        "critical",
        "\u{202e}LACITIRC",
    ] {
        let f = critical_finding_with(|v| v["detail"]["severity"] = json!(lookalike));
        assert_eq!(f.severity, Severity::Critical, "{lookalike:?}");
        assert!(f.severity_note.unwrap().contains("from its score 9.8"));
    }
    // Without a score: the vendor's severity, and when that is no severity either, CRITICAL.
    for (severity, vendor, want, note) in [
        (
            "CRITICA",
            "HIGH",
            Severity::High,
            "from its vendor severity \"HIGH\"",
        ),
        ("LOWISH", "?", Severity::Critical, "fail closed"),
    ] {
        let f = critical_finding_with(|v| {
            v["detail"]["severity"] = json!(severity);
            let detail = v["detail"].as_object_mut().unwrap();
            detail.remove("inspectorScore");
            v["detail"]["packageVulnerabilityDetails"]["vendorSeverity"] = json!(vendor);
        });
        assert_eq!(f.severity, want, "{severity} {vendor}");
        assert!(
            f.severity_note.unwrap().contains(note),
            "{severity} {vendor}"
        );
    }
}

#[test]
fn a_status_aws_does_not_spell_counts_as_active_and_scores_out_of_range_refuse() {
    for status in ["closed", "Closed", "CLOSED ", "RESOLVED"] {
        let f = critical_finding_with(|v| v["detail"]["status"] = json!(status));
        assert_eq!(f.status, FindingStatus::Active, "{status:?}");
    }
    for (field, bad) in [
        ("inspectorScore", json!(11)),
        ("inspectorScore", json!("9.8")),
        ("inspectorScore", json!(-0.1)),
    ] {
        let v = critical_event_with(|v| v["detail"][field] = bad.clone());
        let err = parse(&v).unwrap_err();
        assert!(
            err.reason()
                .starts_with("detail.inspectorScore: expected a number"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn times_after_the_event_are_clamped_to_the_event() {
    let f = critical_finding_with(|v| {
        v["detail"]["firstObservedAt"] = json!("Fri Dec 31 23:59:59.000 UTC 9999");
    });
    // The sample's envelope time.
    assert_eq!(f.first_observed, parse_rfc3339("2026-11-21T11:42:07Z"));
}

#[test]
fn a_refusal_naming_a_hostile_key_stays_one_line_with_its_controls_shown() {
    // Found by the hostile-input property test: the key is the event's, the path quotes it.
    let event = json!({
        "source": "aws.ecr", "detail-type": "ECR Image Scan", "id": "e", "account": "1",
        "detail": {"scan-status": "COMPLETE", "repository-name": "r", "image-digest": "sha256:1",
                   "finding-severity-counts": {"\u{0}\u{7}\u{1b}[31m\r\n": []}}
    });
    let reason = parse(&event).unwrap_err().reason().to_string();
    assert_eq!(
        reason,
        "detail.finding-severity-counts.\\x00\\x07\\x1b[31m\\r\\n: expected a non-negative integer, got an array"
    );
}
