//! Policy features end to end against moto: holding unscanned images, the circuit breaker, exceptions
//! in the audit trail, the operator's override, policies read from S3 and SSM, and KEV lookups
//! remembered in the state table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper::bootstrap::config::PolicySource;
use gatekeeper::bootstrap::load_policy;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::time::now;
use gatekeeper::domain::{
    Decision, Finding, FindingStatus, Kev, Mode, Package, Severity, TriggerKind,
};
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::ports::{KevCache, TagChangeBreaker};
use gatekeeper::service::{ReleaseRequest, Status, Trigger};
use gatekeeper_tests::fixtures::{
    Aws, basic_finding, basic_scan_event, inspector_scan_event, push_event, schema_errors, sdk_for,
    text,
};
use gatekeeper_tests::manifest::hex12;
use serde_json::Value;

fn critical(id: &str) -> Finding {
    let mut f = Finding::new(id, Severity::Critical);
    f.packages.push(Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.13".into()),
    });
    f
}

const HOLD: &str =
    "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\nunscanned = \"hold\"\n";

#[tokio::test]
async fn hold_moves_new_tags_aside_until_a_verdict_releases_or_quarantines_them() {
    let (aws, setup) = Aws::with_repo("hold", "held/app").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(HOLD).unwrap());
    let clean = aws.push("held/app", "clean", &["v1"]).await;
    let dirty = aws.push("held/app", "dirty", &["v2"]).await;

    for (id, digest, tag) in [("h-1", &clean, "v1"), ("h-2", &dirty, "v2")] {
        let o = gk
            .handle_push_event(&push_event(id, "held/app", digest, tag))
            .await
            .unwrap();
        assert_eq!(o.decision, Some(Decision::Pending), "{o:?}");
        assert_eq!(
            aws.tags("held/app", digest).await.unwrap(),
            vec![format!("held-{tag}--{}", hex12(digest))]
        );
    }
    let holds = aws.messages(&setup.subscriber_url).await;
    assert_eq!(holds.len(), 2);
    assert!(
        holds
            .iter()
            .all(|(_, b)| b["decision"] == "pending" && schema_errors(b).is_none())
    );

    // The scans come back: a clean image is released, a critical one goes from held to quarantined.
    let scans = [
        ("s-1", &clean, basic_finding("CVE-2026-1", "LOW", "zlib")),
        (
            "s-2",
            &dirty,
            basic_finding("CVE-2026-2", "CRITICAL", "openssl"),
        ),
    ];
    for (_, digest, finding) in &scans {
        aws.seed_basic_scan("held/app", digest, vec![finding.clone()])
            .await;
    }
    let none = FakeFindings::default();
    for (id, digest, _) in &scans {
        gk.handle_scan_event(&none, &basic_scan_event(id, "held/app", digest, &[]))
            .await
            .unwrap();
    }
    assert_eq!(
        aws.tags("held/app", &clean).await.unwrap(),
        vec!["v1".to_string()]
    );
    assert_eq!(
        aws.tags("held/app", &dirty).await.unwrap(),
        vec![format!("quarantined-v2--{}", hex12(&dirty))]
    );
    let verdicts = aws.messages(&setup.subscriber_url).await;
    let decisions: Vec<(&str, &str)> = verdicts
        .iter()
        .map(|(_, b)| {
            (
                b["decision"].as_str().unwrap(),
                b["previous_decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(decisions, [("pass", "pending"), ("block", "pending")]);
}

#[tokio::test]
async fn a_failed_scan_keeps_held_tags_held_and_says_why_once() {
    let (aws, setup) = Aws::with_repo("hold-fail", "hf").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(HOLD).unwrap());
    let digest = aws.push("hf", "unscannable", &["v1"]).await;
    gk.handle_push_event(&push_event("f-1", "hf", &digest, "v1"))
        .await
        .unwrap();
    aws.messages(&setup.subscriber_url).await;
    aws.seed_basic_scan_status("hf", &digest, "FAILED", vec![])
        .await;
    for id in ["f-2", "f-3"] {
        let o = gk
            .handle_scan_event(
                &FakeFindings::default(),
                &basic_scan_event(id, "hf", &digest, &[]),
            )
            .await
            .unwrap();
        assert_eq!(o.decision, Some(Decision::Pending));
    }
    assert_eq!(
        aws.tags("hf", &digest).await.unwrap(),
        vec![format!("held-v1--{}", hex12(&digest))]
    );
    let messages = aws.messages(&setup.subscriber_url).await;
    assert_eq!(messages.len(), 1, "once per reason");
    assert!(
        text(&messages[0].1["reasons"][0]).contains("no usable scan result (FAILED)"),
        "{}",
        messages[0].1
    );
}

#[tokio::test]
async fn the_circuit_breaker_stops_tag_changes_alerts_once_and_resumes_after_a_reset_and_reconcile()
{
    let (aws, setup) = Aws::with_repo("breaker", "cb").await;
    let policy = Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\n[breaker]\nmax_tag_changes = 5\nwindow = \"10m\"\n").unwrap();
    let gk = aws.gatekeeper(&setup, Mode::Enforce, policy);
    let findings = FakeFindings::default();
    let first = aws.push("cb", "breaker-0", &["a0", "b0"]).await;
    let second = aws.push("cb", "breaker-1", &["a1", "b1"]).await;
    for digest in [&first, &second] {
        findings.set(digest, vec![critical("CVE-2026-9")]);
    }
    gk.handle_scan_event(
        &findings,
        &inspector_scan_event("b-0", &aws.account, "cb", &first, &[], 1),
    )
    .await
    .unwrap();
    gk.handle_scan_event(
        &findings,
        &inspector_scan_event("b-1", &aws.account, "cb", &second, &[], 1),
    )
    .await
    .unwrap();
    // A later event for the second image while the breaker is open changes nothing and alerts no more.
    gk.handle_scan_event(
        &findings,
        &inspector_scan_event("b-2", &aws.account, "cb", &second, &[], 1),
    )
    .await
    .unwrap();

    // The first image's 4 tag changes were within the limit; the second's would make 8: nothing changed.
    let q = |d: &str, t: &str| format!("quarantined-{t}--{}", hex12(d));
    assert_eq!(
        aws.tags("cb", &first).await.unwrap(),
        vec![q(&first, "a0"), q(&first, "b0")]
    );
    assert_eq!(
        aws.tags("cb", &second).await.unwrap(),
        vec!["a1".to_string(), "b1".to_string()]
    );
    let messages = aws.messages(&setup.subscriber_url).await;
    let alerts: Vec<&Value> = messages
        .iter()
        .filter(|(_, b)| b["event_type"] == "alert")
        .map(|(_, b)| b)
        .collect();
    assert_eq!(alerts.len(), 1, "one alert");
    assert!(
        text(&alerts[0]["reasons"][0])
            .starts_with("circuit breaker tripped: 8 tag changes within 10 minutes (limit 5)")
    );
    let held_back: Vec<&Value> = messages
        .iter()
        .filter(|(_, b)| b["event_type"] == "verdict")
        .skip(1)
        .map(|(_, b)| b)
        .collect();
    assert!(
        !held_back.is_empty()
            && held_back.iter().all(|b| b["actions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["status"] == "skipped")),
        "{held_back:?}"
    );

    // An operator resets it; reconciling the held-back image applies its block.
    assert!(gk.state.reset_breaker().await.unwrap().is_some());
    let image = gatekeeper::domain::ImageRef {
        place: None,
        repository: "cb".into(),
        digest: second.clone(),
        tags: vec![],
    };
    let o = gk
        .evaluate_image(
            &findings,
            &image,
            gatekeeper::domain::events::Scanner::Enhanced,
            &Trigger::cli(TriggerKind::Reconcile, "r-1".into()),
        )
        .await
        .unwrap();
    assert_eq!(o.status, Status::Changed, "{o:?}");
    assert_eq!(
        aws.tags("cb", &second).await.unwrap(),
        vec![q(&second, "a1"), q(&second, "b1")]
    );
}

#[tokio::test]
async fn exceptions_are_in_the_audit_trail_and_an_override_suspends_a_block_until_it_ends() {
    gatekeeper_tests::test_clock!(NOW, clock, 1_796_000_000);
    let (aws, setup) = Aws::with_repo("override", "ov").await;
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[exception]]\nid = \"CVE-2026-OK\"\nrepositories = [\"ov\"]\ncreated = 2026-01-01\nexpires = 2027-06-01\nreason = \"not reachable\"\nowner = \"team-ov\"\nticket = \"SEC-7\"\n",
    )
    .unwrap();
    let mut gk = aws.gatekeeper(&setup, Mode::Enforce, policy);
    gk.clock = clock;
    let digest = aws.push("ov", "override", &["v1"]).await;
    let findings = FakeFindings::default();
    findings.set(
        &digest,
        vec![critical("CVE-2026-OK"), critical("CVE-2026-BAD")],
    );
    gk.handle_scan_event(
        &findings,
        &inspector_scan_event("o-1", &aws.account, "ov", &digest, &["v1"], 2),
    )
    .await
    .unwrap();
    let first = aws.messages(&setup.subscriber_url).await;
    assert_eq!(first[0].1["exceptions"][0]["ticket"], "SEC-7");
    assert_eq!(first[0].1["decision"], "block", "CVE-2026-BAD still blocks");

    // Break-glass: refused without --force, then a one-hour override.
    let image = gatekeeper::domain::ImageRef {
        place: None,
        repository: "ov".into(),
        digest: digest.clone(),
        tags: vec![],
    };
    let scanner = gatekeeper::domain::events::Scanner::Enhanced;
    let refused = gk
        .release(
            &findings,
            scanner,
            &ReleaseRequest {
                image: &image,
                reason: "hotfix",
                caller: "arn:aws:iam::1:user/ops",
                force_for: None,
            },
        )
        .await
        .unwrap();
    assert!(refused.unwrap_err().contains("still blocks"));
    let released = gk
        .release(
            &findings,
            scanner,
            &ReleaseRequest {
                image: &image,
                reason: "INC-42 hotfix",
                caller: "arn:aws:iam::1:user/ops",
                force_for: Some(3600),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(released.status, Status::Acted);
    assert_eq!(
        aws.tags("ov", &digest).await.unwrap(),
        vec!["v1".to_string()]
    );
    let audit = aws.messages(&setup.subscriber_url).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].1["event_type"].as_str(),
            audit[0].1["actor"].as_str()
        ),
        (Some("release"), Some("arn:aws:iam::1:user/ops"))
    );
    assert_eq!(audit[0].1["override"]["reason"], "INC-42 hotfix");
    assert_eq!(schema_errors(&audit[0].1), None);

    // The next event does not undo the override, and does not notify again.
    NOW.fetch_add(600, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        gk.handle_scan_event(
            &findings,
            &inspector_scan_event("o-2", &aws.account, "ov", &digest, &["v1"], 2)
        )
        .await
        .unwrap()
        .status,
        Status::Unchanged
    );
    assert_eq!(
        aws.tags("ov", &digest).await.unwrap(),
        vec!["v1".to_string()]
    );
    assert!(aws.messages(&setup.subscriber_url).await.is_empty());

    // When it ends, the block applies again.
    NOW.fetch_add(3600, std::sync::atomic::Ordering::SeqCst);
    let o = gk
        .handle_scan_event(
            &findings,
            &inspector_scan_event("o-3", &aws.account, "ov", &digest, &["v1"], 2),
        )
        .await
        .unwrap();
    assert_eq!(o.status, Status::Changed);
    assert_eq!(
        aws.tags("ov", &digest).await.unwrap(),
        vec![format!("quarantined-v1--{}", hex12(&digest))]
    );
    let again = aws.messages(&setup.subscriber_url).await;
    assert!(
        text(&again[0].1["reasons"][0]).contains("override ended"),
        "{}",
        again[0].1
    );
}

#[tokio::test]
async fn policies_are_read_from_s3_and_ssm_and_an_invalid_one_is_an_error() {
    let aws = Aws::with(
        gatekeeper_tests::moto::Moto::shared(),
        "123456789012",
        "sa-east-1",
    )
    .await;
    let sdk = sdk_for(&aws.moto.endpoint, &aws.region).await;
    let s3 = aws_sdk_s3_client(&sdk);
    s3.create_bucket()
        .bucket("policies")
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint("sa-east-1".into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut big = String::from("version = 1\n[defaults]\nblock = \"HIGH\"\n");
    for i in 0..500 {
        big.push_str(&format!("[[exception]]\nid = \"CVE-2026-{i:05}\"\nrepositories = [\"*\"]\ncreated = 2026-01-01\nexpires = 2027-01-01\nreason = \"r{i}\"\nowner = \"o\"\n"));
    }
    s3.put_object()
        .bucket("policies")
        .key("gatekeeper/policy.toml")
        .body(big.into_bytes().into())
        .send()
        .await
        .unwrap();
    let from_s3 = policy_at("s3://policies/gatekeeper/policy.toml", &sdk)
        .await
        .unwrap();
    assert_eq!(
        (
            from_s3.exceptions().len(),
            from_s3.rule_for("x").block.severity
        ),
        (500, Some(Severity::High))
    );

    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let warns_on_low = "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"LOW\"\n";
    put_parameter(&ssm, "/gatekeeper/policy", warns_on_low).await;
    let from_ssm = policy_at("ssm:/gatekeeper/policy", &sdk).await.unwrap();
    assert_eq!(from_ssm.rule_for("x").warn.severity, Some(Severity::Low));

    let unknown_severity = "version = 1\n[defaults]\nblock = \"NOPE\"\n";
    put_parameter(&ssm, "/gatekeeper/bad", unknown_severity).await;
    let bad = policy_at("ssm:/gatekeeper/bad", &sdk).await.unwrap_err();
    assert!(
        bad.to_string()
            .contains("ssm:/gatekeeper/bad: line 3: block: unknown severity"),
        "{bad}"
    );
    let missing = policy_at("s3://policies/nope.toml", &sdk)
        .await
        .unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("policy s3://policies/nope.toml:"),
        "{missing}"
    );
}

/// The policy at `source` (an `s3://` or `ssm:` address), as a function loads it at start.
async fn policy_at(
    source: &str,
    sdk: &aws_config::SdkConfig,
) -> Result<Policy, gatekeeper::error::ConfigError> {
    load_policy(&PolicySource::parse(source).unwrap(), sdk).await
}

/// Stores `value` as the String parameter `name`.
async fn put_parameter(ssm: &aws_sdk_ssm::Client, name: &str, value: &str) {
    ssm.put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .unwrap();
}

fn aws_sdk_s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(true)
            .build(),
    )
}

/// A finding of `id` at `severity` with an Inspector finding ARN (numbered `n`).
fn with_arn(id: &str, severity: Severity, n: usize) -> Finding {
    let mut f = Finding::new(id, severity);
    f.arn = Some(format!(
        "arn:aws:inspector2:eu-west-1:123456789012:finding/{n:032x}"
    ));
    f
}

#[tokio::test]
async fn a_kev_finding_blocks_and_each_vulnerability_is_looked_up_once_a_day_in_the_state_table() {
    let (aws, setup) = Aws::with_repo("kev", "team/kev").await;
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = { severity = \"CRITICAL\", kev = true }\nwarn = \"HIGH\"\n",
    )
    .unwrap();
    let gk = aws.gatekeeper(&setup, Mode::Enforce, policy);
    let findings = FakeFindings::default();
    let day = 86_400;
    findings.set_kev(
        "CVE-2024-3094",
        Kev {
            added: Some(1_711_756_800),
            due: Some(1_711_756_800 + 21 * day),
            ..Kev::default()
        },
    );
    // Twelve MEDIUM findings KEV could change, one of them in KEV; a CRITICAL that blocks anyway;
    // a closed one.
    let mut listed: Vec<Finding> = (0..11)
        .map(|i| with_arn(&format!("CVE-2026-{i:04}"), Severity::Medium, i))
        .collect();
    listed.push(with_arn("CVE-2024-3094", Severity::Medium, 11));
    listed.push(with_arn("CVE-2026-9999", Severity::Critical, 12));
    let mut closed = with_arn("CVE-2026-8888", Severity::Medium, 13);
    closed.status = FindingStatus::Closed;
    listed.push(closed);
    // One CVE's details are not found: it may be in KEV (it meets kev and is not remembered).
    findings.hide_details("CVE-2026-0007");
    let first = aws.push("team/kev", "kev-1", &["v1"]).await;
    let second = aws.push("team/kev", "kev-2", &["v2"]).await;
    for digest in [&first, &second] {
        findings.set(digest, listed.clone());
    }

    // Decides the image's scan event `id` with `gk`: blocked, for KEV; the verdict's reasons.
    let decide = async |gk: &gatekeeper_tests::fixtures::TestGatekeeper, id: &str, digest: &str| {
        let event = inspector_scan_event(id, &aws.account, "team/kev", digest, &["v"], 1);
        let outcome = gk.handle_scan_event(&findings, &event).await.unwrap();
        assert_eq!(outcome.decision, Some(Decision::Block), "{outcome:?}");
        let messages = aws.messages(&setup.subscriber_url).await;
        let reasons = messages[0].1["reasons"].to_string();
        assert!(
            reasons.contains("CVE-2024-3094 (MEDIUM, in CISA KEV)"),
            "{reasons}"
        );
        reasons
    };
    let reasons = decide(&gk, "kev-scan-1", &first).await;
    assert_eq!(
        findings.kev_asked().len(),
        12,
        "the open findings nothing else blocks"
    );
    assert!(reasons.contains("KEV status not known"), "{reasons}");

    // Another image with the same vulnerabilities, in another container (a gatekeeper with nothing
    // in memory): every answer is remembered in DynamoDB.
    let policy = gk.policy.clone();
    let other = aws.gatekeeper(&setup, Mode::Enforce, policy);
    decide(&other, "kev-scan-2", &second).await;
    let asked = findings.kev_asked().len();
    assert_eq!(
        asked, 13,
        "only the CVE whose details were not found is asked again"
    );
    let fresh = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let remembered = fresh
        .state
        .kev_remembered(&["CVE-2024-3094".into(), "CVE-2026-0001".into()], now())
        .await
        .unwrap();
    assert_eq!(
        remembered["CVE-2024-3094"].and_then(|k| k.interval()),
        Some(21 * day)
    );
    assert_eq!(remembered["CVE-2026-0001"], None, "known not to be in KEV");
    let unread = fresh
        .state
        .kev_remembered(&["CVE-2026-0007".into()], now())
        .await;
    assert!(
        unread.unwrap().is_empty(),
        "details not found are not remembered"
    );
    let tomorrow = fresh
        .state
        .kev_remembered(&["CVE-2024-3094".into()], now() + day + 60)
        .await
        .unwrap();
    assert!(tomorrow.is_empty(), "remembered for a day");
}
