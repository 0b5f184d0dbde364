//! The continuous findings stream against moto (ECR, DynamoDB, SNS to SQS): parallel and duplicated
//! finding events, finding before scan-complete, a lagging findings list, suppress and close with and
//! without lost coverage, multi-architecture images in either order, deletes and restores, tickets
//! across rebuilds, the Chatbot topic, and replication warnings. Findings come from a scripted source
//! (moto's Inspector answers one query with the same list forever); ECR's scan status is wrapped where
//! moto reports none.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Decision, Finding, FindingStatus, Mode, Package, Severity, TriggerKind};
use gatekeeper::outbound::chat::thread_id;
use gatekeeper::outbound::tickets::ticket_key;
use gatekeeper::ports::FindingsSource;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::{Outcome, Status};
use gatekeeper_tests::fixtures::{
    Aws, TestGatekeeper, WithScanStatus, basic_finding, basic_scan_event, coverage_event,
    finding_change, finding_event_of, image_action_event, index_push_event, inspector_scan_counts,
    push_event, text,
};
use gatekeeper_tests::manifest::{OCI_INDEX, hex12, image_index, image_manifest};
use serde_json::Value;

/// A finding in openssl 3.0.1, fixed in 3.0.13.
fn finding(id: &str, severity: Severity, status: FindingStatus) -> Finding {
    let openssl = Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.13".into()),
    };
    Finding {
        status,
        packages: vec![openssl],
        ..Finding::new(id, severity)
    }
}

fn active(id: &str, severity: Severity) -> Finding {
    finding(id, severity, FindingStatus::Active)
}

/// Two string fields of a message body, to assert on together.
fn pair<'a>(body: &'a Value, a: &str, b: &str) -> (Option<&'a str>, Option<&'a str>) {
    (body[a].as_str(), body[b].as_str())
}

/// The outcome has this status and decision.
#[track_caller]
fn assert_verdict(o: &Outcome, status: Status, decision: Decision) {
    assert_eq!((o.status, o.decision), (status, Some(decision)), "{o:?}");
}

/// The bodies of the JSON messages of one `event_type`.
fn bodies_of<'a>(json: &'a [(Value, Value)], event_type: &str) -> Vec<&'a Value> {
    json.iter()
        .map(|(_, body)| body)
        .filter(|body| body["event_type"] == event_type)
        .collect()
}

/// The digests of the images pushed to `repo`.
fn digests_in(images: &[(&str, String)], repo: &str) -> Vec<String> {
    images
        .iter()
        .filter(|(r, _)| *r == repo)
        .map(|(_, digest)| digest.clone())
        .collect()
}

/// Delivers one event as Lambda would: a retryable error is delivered again (up to 5 times).
async fn deliver<F: FindingsSource + Sync>(
    gk: &TestGatekeeper,
    source: &F,
    event: &Value,
) -> Outcome {
    for _ in 0..5 {
        match gk.handle_scan_event(source, event).await {
            Ok(o) => return o,
            Err(e) if e.is_retryable() => continue,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("still contended after 5 deliveries")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_finding_events_in_parallel_make_one_change_and_one_message() {
    let (aws, setup) = Aws::with_repo("finding-storm", "fin/app").await;
    let digest = aws.push("fin/app", "hundred", &["v1"]).await;
    let gk = Arc::new(aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin()));
    let findings = Arc::new(FakeFindings::default());
    let mut listed: Vec<Finding> = (1..100)
        .map(|i| active(&format!("CVE-2026-{i:04}"), Severity::Medium))
        .collect();
    let mut crit = active("CVE-2026-0000", Severity::Critical);
    crit.in_use_count = Some(3);
    listed.push(crit);
    findings.set(&digest, listed);

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let (gk, findings) = (gk.clone(), findings.clone());
        let severity = if i == 0 {
            Severity::Critical
        } else {
            Severity::Medium
        };
        let listed = active(&format!("CVE-2026-{i:04}"), severity);
        let event = finding_event_of(&format!("f-{i}"), "fin/app", &digest, &listed);
        tasks.spawn(async move { deliver(&gk, &*findings, &event).await.status });
    }
    let mut statuses = Vec::new();
    while let Some(r) = tasks.join_next().await {
        statuses.push(r.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == Status::Changed).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, Status::Changed | Status::Unchanged | Status::InProgress)),
        "{statuses:?}"
    );
    assert_eq!(
        aws.tags("fin/app", &digest).await.unwrap(),
        vec![format!("quarantined-v1--{}", hex12(&digest))]
    );
    let (json, chat) = aws.checked_messages(&setup).await;
    assert_eq!(json.len(), 1);
    let body = &json[0].1;
    assert_eq!(body["decision"], "block");
    assert_eq!(body["image"]["in_use_count"], 3);
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0]["id"], body["dedup_key"]);
    assert_eq!(
        chat[0]["metadata"]["threadId"],
        thread_id("fin/app", &digest).as_str()
    );
    assert!(
        text(&chat[0]["content"]["description"]).contains("*In use:* yes, 3 running"),
        "{}",
        chat[0]
    );

    // Duplicates of the same events change nothing and send nothing.
    for i in [0, 1, 50] {
        let listed = active(&format!("CVE-2026-{i:04}"), Severity::Medium);
        let again = finding_event_of(&format!("f-{i}"), "fin/app", &digest, &listed);
        assert_eq!(
            deliver(&gk, &*findings, &again).await.status,
            Status::Unchanged
        );
    }
    let (json, chat) = aws.checked_messages(&setup).await;
    assert!(json.is_empty() && chat.is_empty());
}

#[tokio::test]
async fn a_finding_before_its_scan_result_and_a_lagging_list_decide_once() {
    let (aws, setup) = Aws::with_repo("out-of-order", "ooo").await;
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n[[exception]]\nid = \"CVE-2026-7777\"\nrepositories = [\"ooo\"]\ncreated = 2026-11-01\nexpires = 2027-01-31\nreason = \"not reachable: the parser is not used\"\nowner = \"platform-team\"\n",
    )
    .unwrap();
    let gk = aws.gatekeeper(&setup, Mode::Enforce, policy);
    let findings = FakeFindings::default();

    // The finding event comes first and decides; the scan-complete event after it changes nothing.
    let first = aws.push("ooo", "finding-first", &["v1"]).await;
    let critical = active("CVE-2026-0001", Severity::Critical);
    let f = finding_change(&findings, "o-1", "ooo", &first, critical);
    assert_eq!(deliver(&gk, &findings, &f).await.status, Status::Changed);
    let scan = inspector_scan_counts("o-2", "ooo", &first, &[("CRITICAL", 1)]);
    let o = deliver(&gk, &findings, &scan).await;
    assert_verdict(&o, Status::Unchanged, Decision::Block);
    assert_eq!(aws.checked_messages(&setup).await.0.len(), 1);

    // The scan counted 1 CRITICAL and 2 HIGH, ListFindings has only the HIGHs so far: nothing is
    // decided from the incomplete list, and the sweep is told to look again.
    let lagging = aws.push("ooo", "lagging", &["v2"]).await;
    findings.set(
        &lagging,
        vec![
            active("CVE-2026-0002", Severity::High),
            active("CVE-2026-0003", Severity::High),
        ],
    );
    let scan = inspector_scan_counts("o-3", "ooo", &lagging, &[("CRITICAL", 1), ("HIGH", 2)]);
    let o = deliver(&gk, &findings, &scan).await;
    assert_verdict(&o, Status::Deferred, Decision::Pending);
    assert_eq!(
        aws.tags("ooo", &lagging).await.unwrap(),
        vec!["v2".to_string()]
    );
    let item = aws
        .dynamodb
        .get_item()
        .table_name(&setup.table)
        .key("pk", AttributeValue::S(format!("image#ooo#{lagging}")))
        .send()
        .await
        .unwrap();
    let item = item.item().unwrap();
    assert!(item.contains_key("due_at"), "{item:?}");
    assert_eq!(item["decision"], AttributeValue::S("pending".into()));
    assert!(aws.checked_messages(&setup).await.0.is_empty());
    // The CRITICAL's own finding event completes the list.
    findings.set(
        &lagging,
        vec![
            active("CVE-2026-0002", Severity::High),
            active("CVE-2026-0003", Severity::High),
            active("CVE-2026-0004", Severity::Critical),
        ],
    );
    let critical = active("CVE-2026-0004", Severity::Critical);
    let f = finding_event_of("o-4", "ooo", &lagging, &critical);
    assert_eq!(
        deliver(&gk, &findings, &f).await.decision,
        Some(Decision::Block)
    );
    let (json, _) = aws.checked_messages(&setup).await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].1["previous_decision"], "pending");

    // A complete list decides under the policy: the counts never override an exception.
    let excepted = aws.push("ooo", "excepted", &["v3"]).await;
    findings.set(&excepted, vec![active("CVE-2026-7777", Severity::Critical)]);
    let scan = inspector_scan_counts("o-5", "ooo", &excepted, &[("CRITICAL", 1)]);
    let o = deliver(&gk, &findings, &scan).await;
    assert_eq!(o.decision, Some(Decision::Pass), "{o:?}");
    assert_eq!(
        aws.tags("ooo", &excepted).await.unwrap(),
        vec!["v3".to_string()]
    );
    let (json, _) = aws.checked_messages(&setup).await;
    assert_eq!(json[0].1["exceptions"][0]["id"], "CVE-2026-7777");
}

#[tokio::test]
async fn suppressed_and_closed_findings_release_only_a_monitored_image() {
    let (aws, setup) = Aws::with_repo("suppress-close", "sc").await;
    let gk = aws
        .gatekeeper(&setup, Mode::Enforce, Policy::builtin())
        .with_registry(WithScanStatus::new(&aws));
    let findings = FakeFindings::default();
    // The image's CVE-2026-0100 (CRITICAL) is now `status`: Inspector lists it so and says so.
    let cve_change = |id: &str, digest: &str, status| {
        let cve = finding("CVE-2026-0100", Severity::Critical, status);
        finding_change(&findings, id, "sc", digest, cve)
    };
    let mut blocked = Vec::new();
    for (i, seed) in ["suppressed", "expired", "coverage", "fixed"]
        .iter()
        .enumerate()
    {
        let digest = aws.push("sc", seed, &[seed]).await;
        let e = cve_change(&format!("a-{i}"), &digest, FindingStatus::Active);
        let o = gk.handle_scan_event(&findings, &e).await.unwrap();
        assert_eq!(o.decision, Some(Decision::Block));
        blocked.push(digest);
    }
    assert_eq!(aws.checked_messages(&setup).await.0.len(), 4);
    let quarantined =
        |seed: &str, digest: &str| vec![format!("quarantined-{seed}--{}", hex12(digest))];

    // Suppressed in Inspector: under the default policy (suppressions count) the block stays.
    let e = cve_change("s-0", &blocked[0], FindingStatus::Suppressed);
    assert_eq!(
        gk.handle_scan_event(&findings, &e).await.unwrap().status,
        Status::Unchanged
    );

    // Closed because the image's scan eligibility expired (ECR's imageScanStatus says so): not fixed.
    gk.registry.report(Some("SCAN_ELIGIBILITY_EXPIRED"));
    let e = cve_change("c-1", &blocked[1], FindingStatus::Closed);
    let o = gk.handle_scan_event(&findings, &e).await.unwrap();
    assert_verdict(&o, Status::Unchanged, Decision::Block);
    gk.registry.report(None);

    // Inspector's coverage event says the image is archived, its findings closed: not fixed either.
    let closed = finding("CVE-2026-0100", Severity::Critical, FindingStatus::Closed);
    findings.set(&blocked[2], vec![closed]);
    let e = coverage_event("v-2", "sc", &blocked[2], "INACTIVE", "IMAGE_ARCHIVED");
    let o = gk.handle_scan_event(&findings, &e).await.unwrap();
    assert_verdict(&o, Status::Unchanged, Decision::Block);

    // Closed by a rescan of a monitored image: fixed, released.
    let e = cve_change("c-3", &blocked[3], FindingStatus::Closed);
    let o = gk.handle_scan_event(&findings, &e).await.unwrap();
    assert_verdict(&o, Status::Changed, Decision::Pass);

    for (seed, digest) in ["suppressed", "expired", "coverage"].iter().zip(&blocked) {
        assert_eq!(
            aws.tags("sc", digest).await.unwrap(),
            quarantined(seed, digest)
        );
    }
    assert_eq!(
        aws.tags("sc", &blocked[3]).await.unwrap(),
        vec!["fixed".to_string()]
    );
    let (json, _) = aws.checked_messages(&setup).await;
    assert_eq!(json.len(), 1, "only the release is news");
    assert_eq!(
        pair(&json[0].1, "decision", "previous_decision"),
        (Some("pass"), Some("block"))
    );

    // Where the policy exempts suppressed findings, the suppression releases the image.
    let exempt = aws.gatekeeper(
        &setup,
        Mode::Enforce,
        Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\nsuppressed = \"exempt\"\n")
            .unwrap(),
    );
    let e = cve_change("s-4", &blocked[0], FindingStatus::Suppressed);
    let o = exempt.handle_scan_event(&findings, &e).await.unwrap();
    assert_eq!(o.decision, Some(Decision::Pass), "{o:?}");
    assert_eq!(
        aws.tags("sc", &blocked[0]).await.unwrap(),
        vec!["suppressed".to_string()]
    );
}

#[tokio::test]
async fn a_multi_arch_index_takes_its_worst_platform_verdict_whichever_arrives_first() {
    for index_first in [true, false] {
        let name = if index_first {
            "index-first"
        } else {
            "platform-first"
        };
        let (aws, setup) = Aws::with_repo(name, "multi").await;
        let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
        let findings = FakeFindings::default();
        // buildx pushes the platform images and the attestation untagged, then the tagged index.
        let mut untagged = Vec::new();
        for part in ["amd64", "arm64", "att"] {
            let manifest = image_manifest(&format!("{name}-{part}"));
            untagged.push(aws.push_manifest("multi", &manifest, OCI_IMAGE, &[]).await);
        }
        let [amd, arm, att] = <[String; 3]>::try_from(untagged).unwrap();
        let index_manifest = image_index(
            &[(amd.clone(), "amd64"), (arm.clone(), "arm64")],
            Some(&att),
        );
        let index = aws
            .push_manifest("multi", &index_manifest, OCI_INDEX, &["v1"])
            .await;
        findings.set(&amd, vec![active("CVE-2026-0200", Severity::Medium)]);
        findings.set(&arm, vec![active("CVE-2026-0201", Severity::Critical)]);
        let index_push = index_push_event("p-index", "multi", &index, "v1");

        if index_first {
            let o = gk.handle_push_event(&index_push).await.unwrap();
            assert_eq!(o.decision, Some(Decision::Pending), "{o:?}");
        }
        let amd_scan = inspector_scan_counts("s-amd", "multi", &amd, &[("MEDIUM", 1)]);
        gk.handle_scan_event(&findings, &amd_scan).await.unwrap();
        let arm_scan = inspector_scan_counts("s-arm", "multi", &arm, &[("CRITICAL", 1)]);
        gk.handle_scan_event(&findings, &arm_scan).await.unwrap();
        if !index_first {
            let o = gk.handle_push_event(&index_push).await.unwrap();
            assert_eq!(o.decision, Some(Decision::Block), "{o:?}");
        }

        // The index carries the block; platform images and the attestation get no markers.
        assert_eq!(
            aws.tags("multi", &index).await.unwrap(),
            vec![format!("quarantined-v1--{}", hex12(&index))],
            "{name}"
        );
        for d in [&amd, &arm, &att] {
            assert_eq!(
                aws.tags("multi", d).await.unwrap(),
                Vec::<String>::new(),
                "{name}"
            );
        }
        let (json, chat) = aws.checked_messages(&setup).await;
        let about: Vec<(&str, &str)> = json
            .iter()
            .map(|(_, b)| {
                (
                    b["image"]["digest"].as_str().unwrap(),
                    b["decision"].as_str().unwrap(),
                )
            })
            .collect();
        // Whichever came first, the index's block is announced once; its reasons name each platform.
        assert_eq!(
            about
                .iter()
                .filter(|(d, _)| *d == index.as_str())
                .collect::<Vec<_>>(),
            vec![&(index.as_str(), "block")],
            "{name}: {about:?}"
        );
        let block = &json
            .iter()
            .find(|(_, b)| b["image"]["digest"] == index.as_str())
            .unwrap()
            .1;
        let reasons = block["reasons"].to_string();
        assert!(
            reasons.contains("linux/arm64") && reasons.contains("linux/amd64"),
            "{reasons}"
        );
        assert_eq!(chat.len(), json.len());

        // The arm64 image is rebuilt without the CRITICAL: its fix releases the index.
        let closed = finding("CVE-2026-0201", Severity::Critical, FindingStatus::Closed);
        let fixed = finding_change(&findings, "f-arm", "multi", &arm, closed);
        gk.handle_scan_event(&findings, &fixed).await.unwrap();
        assert_eq!(
            aws.tags("multi", &index).await.unwrap(),
            vec!["v1".to_string()],
            "{name}"
        );
        let (json, _) = aws.checked_messages(&setup).await;
        assert_eq!(json.len(), 1, "{name}: {json:?}");
        assert_eq!(json[0].1["image"]["digest"], index.as_str());
        assert_eq!(json[0].1["decision"], "pass");
    }
}

const OCI_IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";

const TICKETS: &str = "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n[tickets]\nseverity = \"HIGH\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cve_storm_opens_one_ticket_per_repository_that_survives_rebuilds_and_resolves_once() {
    let aws = Aws::new("cve-storm").await;
    let setup = aws.standard_setup().await;
    let gk = Arc::new(aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(TICKETS).unwrap()));
    let findings = Arc::new(FakeFindings::default());
    let cve = "CVE-2026-4444";
    let mut images: Vec<(&str, String)> = Vec::new();
    for repo in ["storm/a", "storm/b"] {
        aws.create_repo(repo, "MUTABLE", &[]).await;
        for i in 0..6 {
            let digest = aws
                .push(repo, &format!("{repo}-{i}"), &[&format!("v{i}")])
                .await;
            findings.set(&digest, vec![active(cve, Severity::Critical)]);
            images.push((repo, digest));
        }
    }
    // The new CVE's finding events for every image, in parallel, each delivered twice.
    let mut tasks = tokio::task::JoinSet::new();
    for round in 0..2 {
        for (n, (repo, digest)) in images.iter().enumerate() {
            let (gk, findings) = (gk.clone(), findings.clone());
            let critical = active(cve, Severity::Critical);
            let event = finding_event_of(&format!("storm-{n}-{round}"), repo, digest, &critical);
            tasks.spawn(async move { deliver(&gk, &*findings, &event).await });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let (json, chat) = aws.checked_messages(&setup).await;
    let verdicts = bodies_of(&json, "verdict");
    let tickets: Vec<(&Value, &Value)> = json
        .iter()
        .filter(|(_, b)| b["event_type"] == "ticket")
        .map(|(e, b)| (e, b))
        .collect();
    assert_eq!(verdicts.len(), 12);
    assert_eq!(chat.len(), 12, "tickets are not chat notifications");
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    for (envelope, body) in &tickets {
        let repo = body["repository"].as_str().unwrap();
        assert_eq!(body["action"], "open");
        assert_eq!(body["vulnerability"]["id"], cve);
        assert_eq!(body["dedup_key"], ticket_key(repo, cve).as_str());
        assert_eq!(
            envelope["MessageAttributes"]["event_type"]["Value"],
            "ticket"
        );
        assert_eq!(
            envelope["MessageAttributes"]["severity"]["Value"],
            "CRITICAL"
        );
        assert_eq!(envelope["MessageAttributes"]["repository"]["Value"], repo);
    }

    // A rebuild of storm/a still has the CVE: the same ticket, no new message.
    let rebuilt = aws.push("storm/a", "storm/a-rebuilt", &["v6"]).await;
    let critical = active(cve, Severity::Critical);
    let e = finding_change(&findings, "rebuilt", "storm/a", &rebuilt, critical);
    deliver(&gk, &*findings, &e).await;
    let (json, _) = aws.checked_messages(&setup).await;
    assert!(
        json.iter().all(|(_, b)| b["event_type"] == "verdict"),
        "{json:?}"
    );
    images.push(("storm/a", rebuilt));

    // storm/a: every image is fixed; the ticket resolves once, when the last one is.
    let in_a = digests_in(&images, "storm/a");
    for (n, digest) in in_a.iter().enumerate() {
        let closed = finding(cve, Severity::Critical, FindingStatus::Closed);
        let e = finding_change(&findings, &format!("fix-{n}"), "storm/a", digest, closed);
        deliver(&gk, &*findings, &e).await;
        let again = deliver(&gk, &*findings, &e).await;
        assert_eq!(again.status, Status::Unchanged);
        let (json, _) = aws.checked_messages(&setup).await;
        let resolved = bodies_of(&json, "ticket");
        if n + 1 < in_a.len() {
            assert!(resolved.is_empty(), "{resolved:?}");
        } else {
            assert_eq!(resolved.len(), 1);
            assert_eq!(resolved[0]["action"], "resolved");
            assert_eq!(
                resolved[0]["dedup_key"],
                ticket_key("storm/a", cve).as_str()
            );
            assert_eq!(resolved[0]["vulnerability"]["severity"], "CRITICAL");
        }
    }

    // storm/b: one image loses coverage (its findings closed, not fixed), the others are deleted.
    // The ticket stays open while the unmonitored image keeps the CVE, and resolves when it is deleted.
    let in_b = digests_in(&images, "storm/b");
    findings.set(
        &in_b[0],
        vec![finding(cve, Severity::Critical, FindingStatus::Closed)],
    );
    let e = coverage_event(
        "lost",
        "storm/b",
        &in_b[0],
        "INACTIVE",
        "SCAN_ELIGIBILITY_EXPIRED",
    );
    deliver(&gk, &*findings, &e).await;
    for (n, digest) in in_b.iter().enumerate().skip(1) {
        aws.delete_image("storm/b", digest).await;
        let o = gk
            .handle_push_event(&image_action_event(
                &format!("del-{n}"),
                "storm/b",
                digest,
                "DELETE",
                None,
            ))
            .await
            .unwrap();
        assert_eq!(o.kind, TriggerKind::Delete);
    }
    let (json, _) = aws.checked_messages(&setup).await;
    assert!(json.is_empty(), "{json:?}");
    aws.delete_image("storm/b", &in_b[0]).await;
    gk.handle_push_event(&image_action_event(
        "del-0", "storm/b", &in_b[0], "DELETE", None,
    ))
    .await
    .unwrap();
    let (json, _) = aws.checked_messages(&setup).await;
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(
        pair(&json[0].1, "event_type", "action"),
        (Some("ticket"), Some("resolved"))
    );
}

#[tokio::test]
async fn a_deleted_tag_changes_nothing_and_a_restored_image_is_scanned_and_decided_again() {
    let (aws, setup) = Aws::with_repo("restore", "rs").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let critical = || vec![basic_finding("CVE-2026-0300", "CRITICAL", "zlib")];
    let digest = aws
        .push_scanned("rs", "restored", &["v1", "old"], critical())
        .await;
    let none = FakeFindings::default();
    gk.handle_scan_event(&none, &basic_scan_event("b-1", "rs", &digest, &["v1"]))
        .await
        .unwrap();
    assert_eq!(aws.checked_messages(&setup).await.0.len(), 1);

    let o = gk
        .handle_push_event(&image_action_event("d-1", "rs", &digest, "DELETE", None))
        .await
        .unwrap();
    assert_eq!(o.status, Status::Skipped, "{o:?}");

    let o = gk
        .handle_push_event(&image_action_event(
            "r-1",
            "rs",
            &digest,
            "UPDATE_STORAGE_CLASS",
            Some("STANDARD"),
        ))
        .await
        .unwrap();
    assert_eq!(o.kind, TriggerKind::Restore, "{o:?}");
    // Decided again as a new image: the message has no previous decision.
    aws.seed_basic_scan("rs", &digest, critical()).await;
    let o = gk
        .handle_scan_event(&none, &basic_scan_event("b-2", "rs", &digest, &[]))
        .await
        .unwrap();
    assert_verdict(&o, Status::Changed, Decision::Block);
    let (json, _) = aws.checked_messages(&setup).await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0].1["previous_decision"], Value::Null);
}

#[tokio::test]
async fn verdicts_on_a_replicated_repository_warn_that_tag_changes_do_not_reach_the_replicas() {
    let (aws, setup) = Aws::with_repo("replicated", "prod/api").await;
    aws.ecr
        .put_replication_configuration()
        .replication_configuration(
            aws_sdk_ecr::types::ReplicationConfiguration::builder()
                .rules(
                    aws_sdk_ecr::types::ReplicationRule::builder()
                        .destinations(
                            aws_sdk_ecr::types::ReplicationDestination::builder()
                                .region("us-east-1")
                                .registry_id(&aws.account)
                                .build()
                                .unwrap(),
                        )
                        .repository_filters(
                            aws_sdk_ecr::types::RepositoryFilter::builder()
                                .filter("prod/")
                                .filter_type(aws_sdk_ecr::types::RepositoryFilterType::PrefixMatch)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let digest = aws.push("prod/api", "replicated", &["v1"]).await;
    let findings = FakeFindings::default();
    findings.set(&digest, vec![active("CVE-2026-0400", Severity::Critical)]);
    let e = push_event("p-1", "prod/api", &digest, "v1");
    gk.handle_push_event(&e).await.unwrap();
    let critical = active("CVE-2026-0400", Severity::Critical);
    let e = finding_event_of("f-1", "prod/api", &digest, &critical);
    gk.handle_scan_event(&findings, &e).await.unwrap();
    let (json, chat) = aws.checked_messages(&setup).await;
    let verdict = json.iter().find(|(_, b)| b["decision"] == "block").unwrap();
    let problems = verdict.1["problems"].to_string();
    assert!(
        problems.contains(&format!(
            "prod/api is replicated to us-east-1/{}",
            aws.account
        )),
        "{problems}"
    );
    assert!(
        chat.iter()
            .any(|c| text(&c["content"]["description"]).contains("is replicated to")),
        "{chat:?}"
    );
}
