//! The gatekeeper against moto: tags before and after, messages in the subscriber queue, state in
//! DynamoDB. ECR, SNS, SQS and DynamoDB are moto's; findings come from moto's Inspector where it can
//! play the scenario, and from a scripted source where findings must change over time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::sync::Arc;

use gatekeeper::adapters::{DynamoState, Ecr, Inspector, Sns, SqsRejects};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Finding, Mode, Severity};
use gatekeeper::error::Error;
use gatekeeper::ports::fakes::{FakeFindings, Hooked, transient};
use gatekeeper::ports::{ImageRecords, Ports};
use gatekeeper::service::{Gatekeeper, Outcome, Status};
use gatekeeper_tests::fixtures::{
    Aws, Setup, TestGatekeeper, basic_finding, basic_scan_event, inspector_finding,
    inspector_scan_event, push_event, schema_errors, text,
};
use gatekeeper_tests::manifest::{digest_of, hex12};
use serde_json::Value;

fn critical() -> Vec<Finding> {
    let mut f = Finding::new("CVE-2026-0001", Severity::Critical);
    f.packages.push(gatekeeper::domain::Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.13".into()),
    });
    vec![f]
}

fn attribute<'a>(envelope: &'a Value, name: &str) -> &'a str {
    envelope["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_default()
}

/// One image, pushed with `tags` to a repository of its own, in which the scripted Inspector finds one
/// fixable CRITICAL (the default policy blocks it).
struct Critical {
    aws: Arc<Aws>,
    setup: Setup,
    repo: &'static str,
    seed: String,
    digest: String,
    findings: FakeFindings,
}

impl Critical {
    async fn new(name: &str, repo: &'static str, tags: &[&str]) -> Critical {
        let (aws, setup) = Aws::with_repo(name, repo).await;
        let digest = aws.push(repo, name, tags).await;
        let findings = FakeFindings::default();
        findings.set(&digest, critical());
        Critical {
            aws: Arc::new(aws),
            setup,
            repo,
            seed: name.to_string(),
            digest,
            findings,
        }
    }

    /// The gatekeeper of this account in `mode` under the built-in policy.
    fn gatekeeper(&self, mode: Mode) -> TestGatekeeper {
        self.aws.gatekeeper(&self.setup, mode, Policy::builtin())
    }

    /// Inspector's scan event `id` for the image, listing `tags` and counting `count` CRITICALs.
    fn scan_event(&self, id: &str, tags: &[&str], count: u32) -> Value {
        inspector_scan_event(id, &self.aws.account, self.repo, &self.digest, tags, count)
    }

    /// Delivers [`Critical::scan_event`] to `gk`.
    async fn scan<P: Ports>(
        &self,
        gk: &Gatekeeper<P>,
        id: &str,
        tags: &[&str],
        count: u32,
    ) -> Result<Outcome, Error> {
        gk.handle_scan_event(&self.findings, &self.scan_event(id, tags, count))
            .await
    }

    /// The image's tags now.
    async fn tags(&self) -> Vec<String> {
        self.aws.tags(self.repo, &self.digest).await.unwrap()
    }

    /// The quarantine tags of `tags` on this image, sorted.
    fn quarantined(&self, tags: &[&str]) -> Vec<String> {
        let h = hex12(&self.digest);
        let mut q: Vec<String> = tags
            .iter()
            .map(|t| format!("quarantined-{t}--{h}"))
            .collect();
        q.sort();
        q
    }

    /// The verdict messages sent since the last call: (envelope, body).
    async fn messages(&self) -> Vec<(Value, Value)> {
        self.aws.messages(&self.setup.subscriber_url).await
    }
}

#[tokio::test]
async fn blocked_image_is_quarantined_by_tags_and_one_message_reaches_the_subscriber() {
    let (aws, setup) = Aws::with_repo("quarantine", "team-a/api").await;
    let digest = aws
        .push("team-a/api", "quarantine", &["v1", "latest"])
        .await;
    aws.seed_inspector(vec![
        inspector_finding("team-a/api", &digest, "CVE-2026-0001", "CRITICAL"),
        inspector_finding("team-a/api", &digest, "CVE-2026-0002", "HIGH"),
    ]);
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let inspector = Inspector::new(aws.inspector().await);
    let event = inspector_scan_event(
        "ev-scan-1",
        &aws.account,
        "team-a/api",
        &digest,
        &["v1", "latest"],
        1,
    );

    let outcome = gk.handle_scan_event(&inspector, &event).await.unwrap();

    assert_eq!(outcome.status, Status::Changed, "{outcome:?}");
    let h = hex12(&digest);
    assert_eq!(
        aws.tags("team-a/api", &digest).await.unwrap(),
        vec![
            format!("quarantined-latest--{h}"),
            format!("quarantined-v1--{h}")
        ]
    );
    let messages = aws.messages(&setup.subscriber_url).await;
    assert_eq!(messages.len(), 1);
    let (envelope, body) = &messages[0];
    assert_eq!(body["decision"], "block");
    assert_eq!(body["previous_decision"], Value::Null);
    assert_eq!(body["counts"]["CRITICAL"], 1);
    assert_eq!(body["findings"][0]["id"], "CVE-2026-0001");
    assert_eq!(body["image"]["tags"], serde_json::json!(["v1", "latest"]));
    assert_eq!(body["actions"].as_array().unwrap().len(), 4);
    assert_eq!(
        (
            attribute(envelope, "event_type"),
            attribute(envelope, "decision")
        ),
        ("verdict", "block")
    );
    assert_eq!(
        (
            attribute(envelope, "max_severity"),
            attribute(envelope, "repository")
        ),
        ("CRITICAL", "team-a/api")
    );
    assert!(text(&envelope["Subject"]).starts_with("ECR gatekeeper: BLOCK team-a/api:"));
    assert_eq!(schema_errors(body), None);

    // The same delivery again (a Lambda retry): nothing changes, nothing is sent.
    let again = gk.handle_scan_event(&inspector, &event).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert!(aws.messages(&setup.subscriber_url).await.is_empty());
    assert_eq!(aws.tags("team-a/api", &digest).await.unwrap().len(), 2);
}

#[tokio::test]
async fn release_restores_tags_when_the_verdict_becomes_clean() {
    let c = Critical::new("release", "svc", &["v1", "latest"]).await;
    let gk = c.gatekeeper(Mode::Enforce);
    c.scan(&gk, "ev-1", &["v1"], 1).await.unwrap();
    assert_eq!(c.tags().await, c.quarantined(&["latest", "v1"]));

    // Meanwhile someone pushed a new image as `latest`: release must not take it back.
    let newer = c.aws.push("svc", "release-newer", &["latest"]).await;
    c.findings.set(&c.digest, Vec::new());
    let outcome = c.scan(&gk, "ev-2", &[], 0).await.unwrap();

    assert_eq!(outcome.status, Status::Changed, "{outcome:?}");
    assert_eq!(outcome.decision, Some(gatekeeper::domain::Decision::Pass));
    let h = hex12(&c.digest);
    assert_eq!(
        c.tags().await,
        vec![format!("quarantined-latest--{h}"), "v1".to_string()]
    );
    assert_eq!(
        c.aws.tags("svc", &newer).await.unwrap(),
        vec!["latest".to_string()]
    );
    let messages = c.messages().await;
    assert_eq!(messages.len(), 2);
    let release = &messages[1].1;
    assert_eq!(
        (
            release["decision"].as_str(),
            release["previous_decision"].as_str()
        ),
        (Some("pass"), Some("block"))
    );
    assert!(
        text(&release["problems"][0]).contains("latest now points to"),
        "{release}"
    );
    assert_eq!(schema_errors(release), None);
}

#[tokio::test]
async fn immutable_and_exclusion_repositories_quarantine_and_release() {
    let aws = Aws::new("immutable").await;
    let setup = aws.standard_setup().await;
    aws.create_repo("imm", "IMMUTABLE", &[]).await;
    aws.create_repo("excl", "IMMUTABLE_WITH_EXCLUSION", &["latest"])
        .await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    for (repo, tags) in [("imm", vec!["1.0.0"]), ("excl", vec!["1.0.0", "latest"])] {
        let digest = aws.push(repo, repo, &tags).await;
        let h = hex12(&digest);
        let findings = FakeFindings::default();
        findings.set(&digest, critical());
        gk.handle_scan_event(
            &findings,
            &inspector_scan_event(&format!("{repo}-1"), &aws.account, repo, &digest, &tags, 1),
        )
        .await
        .unwrap();
        let mut quarantined: Vec<String> = tags
            .iter()
            .map(|t| format!("quarantined-{t}--{h}"))
            .collect();
        quarantined.sort();
        assert_eq!(
            aws.tags(repo, &digest).await.unwrap(),
            quarantined,
            "{repo}"
        );

        findings.set(&digest, Vec::new());
        gk.handle_scan_event(
            &findings,
            &inspector_scan_event(&format!("{repo}-2"), &aws.account, repo, &digest, &[], 0),
        )
        .await
        .unwrap();
        let mut restored: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
        restored.sort();
        assert_eq!(aws.tags(repo, &digest).await.unwrap(), restored, "{repo}");
    }
    assert_eq!(aws.messages(&setup.subscriber_url).await.len(), 4);
}

#[tokio::test]
async fn untagged_image_gets_a_marker_that_release_keeps() {
    let c = Critical::new("untagged", "bare", &[]).await;
    let gk = c.gatekeeper(Mode::Enforce);
    c.scan(&gk, "u-1", &[], 1).await.unwrap();
    let marker = vec![format!("quarantined-sha256-{}", hex12(&c.digest))];
    assert_eq!(c.tags().await, marker);

    c.findings.set(&c.digest, Vec::new());
    c.scan(&gk, "u-2", &[], 0).await.unwrap();
    assert_eq!(
        c.tags().await,
        marker,
        "the only tag stays: removing it would delete the image"
    );
    let messages = c.messages().await;
    assert!(text(&messages[1].1["problems"][0]).contains("only tag"));
}

#[tokio::test]
async fn audit_mode_notifies_what_it_would_do_and_touches_no_tag() {
    let c = Critical::new("audit", "aud", &["v1"]).await;
    let gk = c.gatekeeper(Mode::Audit);
    c.scan(&gk, "a-1", &["v1"], 1).await.unwrap();
    assert_eq!(c.tags().await, vec!["v1".to_string()]);
    let messages = c.messages().await;
    assert_eq!(messages.len(), 1);
    let body = &messages[0].1;
    assert_eq!(body["mode"], "audit");
    assert!(
        body["actions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "would"),
        "{body}"
    );
    assert!(text(&messages[0].0["Subject"]).ends_with("[audit]"));
}

#[tokio::test]
async fn basic_scan_findings_are_read_from_ecr() {
    let (aws, setup) = Aws::with_repo("basic", "basic/app").await;
    let digest = aws
        .push_scanned(
            "basic/app",
            "basic",
            &["1.0"],
            vec![basic_finding("CVE-2026-1111", "HIGH", "zlib")],
        )
        .await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let outcome = gk
        .handle_scan_event(
            &FakeFindings::default(),
            &basic_scan_event("b-1", "basic/app", &digest, &["1.0"]),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome.decision,
        Some(gatekeeper::domain::Decision::Warn),
        "{outcome:?}"
    );
    assert_eq!(
        aws.tags("basic/app", &digest).await.unwrap(),
        vec!["1.0".to_string()]
    );
    let body = &aws.messages(&setup.subscriber_url).await[0].1;
    assert_eq!(
        (
            body["decision"].as_str(),
            body["findings"][0]["package"].as_str()
        ),
        (Some("warn"), Some("zlib"))
    );
}

#[tokio::test]
async fn own_tag_pushes_are_not_new_images_and_a_retag_of_a_blocked_digest_is_quarantined_at_once()
{
    let c = Critical::new("retag", "rt", &["v1"]).await;
    let gk = c.gatekeeper(Mode::Enforce);
    c.scan(&gk, "r-1", &["v1"], 1).await.unwrap();
    c.messages().await;

    // ECR's push event for the gatekeeper's own quarantine tag.
    let own_tag = &c.quarantined(&["v1"])[0];
    let own = gk
        .handle_push_event(&push_event("r-2", "rt", &c.digest, own_tag))
        .await
        .unwrap();
    assert_eq!(own.status, Status::Skipped);

    // Someone tags the blocked digest `prod`.
    c.aws.push("rt", &c.seed, &["prod"]).await;
    let outcome = gk
        .handle_push_event(&push_event("r-3", "rt", &c.digest, "prod"))
        .await
        .unwrap();
    assert_eq!(outcome.status, Status::Acted, "{outcome:?}");
    assert_eq!(c.tags().await, c.quarantined(&["prod", "v1"]));
    let messages = c.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1["decision"], "block");
    assert_eq!(schema_errors(&messages[0].1), None);
}

#[tokio::test]
async fn a_tag_moved_by_a_concurrent_push_is_left_alone_and_reported() {
    let c = Critical::new("moved", "mv", &["v1", "latest"]).await;
    let gk = c
        .gatekeeper(Mode::Enforce)
        .with_registry(Hooked::new(Ecr::new(c.aws.ecr.clone())));
    // A push moves `latest` to another image after the gatekeeper read the tags, before it tags.
    let pusher = c.aws.clone();
    gk.registry.hooks.before("manifest", 1, move || async move {
        pusher.push("mv", "moved-here", &["latest"]).await;
    });
    c.scan(&gk, "m-1", &["v1", "latest"], 1).await.unwrap();
    assert_eq!(gk.registry.hooks.unfired(), Vec::<String>::new());

    let moved_to = digest_of(&gatekeeper_tests::manifest::image_manifest("moved-here"));
    assert_eq!(
        c.aws.tags("mv", &moved_to).await.unwrap(),
        vec!["latest".to_string()],
        "the new image keeps its tag"
    );
    assert_eq!(c.tags().await, c.quarantined(&["latest", "v1"]));
    let body = &c.messages().await[0].1;
    assert!(
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("latest left alone")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_deliveries_for_one_image_give_one_state_and_one_message() {
    let c = Arc::new(Critical::new("parallel", "par", &["v1", "v2", "latest"]).await);
    let gk = Arc::new(c.gatekeeper(Mode::Enforce));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (gk, c) = (gk.clone(), c.clone());
        tasks.spawn(async move { c.scan(&*gk, &format!("p-{i}"), &["v1"], 1).await });
    }
    let mut statuses = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Ok(o) => statuses.push(Ok(o.status)),
            // A delivery that lost every race is retried by Lambda: an error, never a second message.
            Err(e) => statuses.push(Err(e.is_retryable())),
        }
    }
    assert!(!statuses.contains(&Err(false)), "{statuses:?}");
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == Ok(Status::Changed))
            .count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(c.tags().await, c.quarantined(&["latest", "v1", "v2"]));
    assert_eq!(c.messages().await.len(), 1);
}

#[tokio::test]
async fn a_malformed_event_is_rejected_to_the_queue_and_answered_ok() {
    let aws = Aws::new("rejected").await;
    let setup = aws.standard_setup().await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let bad = serde_json::json!({"id": "bad-1", "source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {"action-type": "PUSH", "repository-name": 42}});
    let outcome = gk.handle_push_event(&bad).await.unwrap();
    assert_eq!(outcome.status, Status::Rejected);
    let rejected = aws.drain(&setup.rejected_url).await;
    assert_eq!(rejected.len(), 1);
    assert_eq!(
        rejected[0]["reason"],
        "detail.repository-name: expected a string, got a number"
    );
    assert_eq!(rejected[0]["event"], bad);
    let ignored = gk.handle_push_event(&serde_json::json!({"id": "x", "source": "aws.ecr", "detail-type": "ECR Image Action", "detail": {"action-type": "REPLICATE"}})).await.unwrap();
    assert_eq!(ignored.status, Status::Skipped);
    assert!(aws.drain(&setup.rejected_url).await.is_empty());
}

gatekeeper_tests::test_clock!(NOW, test_clock, 1_800_000_000);

#[tokio::test]
async fn a_delivery_that_failed_after_acting_is_completed_by_its_retry_or_after_the_lease_by_another()
 {
    let c = Critical::new("resume", "res", &["v1"]).await;
    let mut base = c.gatekeeper(Mode::Enforce);
    base.clock = test_clock;
    let sns = Sns::new(c.aws.sns.clone(), c.setup.topic_arn.clone());
    let gk = base.with_notifier(Hooked::new(sns));
    // A crash after acting, before notifying, twice.
    for nth in [1, 2] {
        gk.notifier
            .hooks
            .fail("publish", nth, transient("sns:Publish"));
    }
    let quarantined = c.quarantined(&["v1"]);
    let findings = &c.findings;

    // Event A acts, then fails to notify: Lambda would retry it.
    let a = c.scan_event("res-a", &["v1"], 1);
    let err = gk.handle_scan_event(findings, &a).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(c.tags().await, quarantined);
    assert!(c.messages().await.is_empty());

    // Another event for the same image while A's claim is fresh: A is on it.
    let b = c.scan_event("res-b", &["v1"], 1);
    assert_eq!(
        gk.handle_scan_event(findings, &b).await.unwrap().status,
        Status::InProgress
    );

    // A's retry fails to notify again; after the lease, B's next delivery takes the change over.
    assert!(gk.handle_scan_event(findings, &a).await.is_err());
    assert_eq!(gk.notifier.hooks.unfired(), Vec::<String>::new());
    NOW.fetch_add(301, std::sync::atomic::Ordering::SeqCst);
    let outcome = gk.handle_scan_event(findings, &b).await.unwrap();
    assert_eq!(outcome.status, Status::Changed, "{outcome:?}");
    let messages = c.messages().await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1["decision"], "block");
    assert_eq!(messages[0].1["previous_decision"], Value::Null);
    assert_eq!(c.tags().await, quarantined);

    // Everything settled: A's late retry changes nothing and sends nothing.
    assert_eq!(
        gk.handle_scan_event(findings, &a).await.unwrap().status,
        Status::Unchanged
    );
    assert!(c.messages().await.is_empty());
}

#[tokio::test]
async fn in_an_enhanced_registry_an_uncovered_repository_is_alerted_once_a_day() {
    use aws_sdk_ecr::types::ScanFrequency;
    let (aws, setup) = Aws::with_repo("unscanned", "covered/app").await;
    aws.create_repo("stray", "MUTABLE", &[]).await;
    aws.enhanced_scanning("covered/*", ScanFrequency::ScanOnPush)
        .await
        .unwrap();
    let covered = aws.push("covered/app", "cov", &["v1"]).await;
    let stray = aws.push("stray", "stray", &["v1"]).await;
    let stray2 = aws.push("stray", "stray2", &["v2"]).await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());

    let ok = gk
        .handle_push_event(&push_event("u-1", "covered/app", &covered, "v1"))
        .await
        .unwrap();
    assert_eq!(ok.detail, "covered by SCAN_ON_PUSH scanning");
    let first = gk
        .handle_push_event(&push_event("u-2", "stray", &stray, "v1"))
        .await
        .unwrap();
    assert!(
        first.notified && first.detail.contains("matches no enhanced scanning rule"),
        "{first:?}"
    );
    let second = gk
        .handle_push_event(&push_event("u-3", "stray", &stray2, "v2"))
        .await
        .unwrap();
    assert!(!second.notified, "{second:?}");

    let messages = aws.messages(&setup.subscriber_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].0["Subject"],
        "ECR gatekeeper: UNSCANNED repository stray"
    );
    assert_eq!(messages[0].1["decision"], "pending");
    assert_eq!(schema_errors(&messages[0].1), None);
    assert_eq!(
        aws.tags("stray", &stray).await.unwrap(),
        vec!["v1".to_string()],
        "allow: tags stay"
    );
}

#[tokio::test]
async fn a_tag_pushed_while_a_block_is_being_decided_is_quarantined_too() {
    let c = Critical::new("race-push", "rp", &["v1"]).await;
    let base = c.gatekeeper(Mode::Enforce);
    let state = base.state.clone();
    let gk: Gatekeeper<(Ecr, Sns, Hooked<DynamoState>, SqsRejects)> =
        base.rewire(|(registry, notifier, state, rejects)| {
            (registry, notifier, Hooked::new(state), rejects)
        });
    // `hotfix` is pushed onto the image after the gatekeeper read its tags, before it claims the
    // change; on-push records the push (it saw no verdict yet).
    let (pusher, seed) = (c.aws.clone(), c.seed.clone());
    gk.state.hooks.before("claim", 1, move || async move {
        let pushed = pusher.push("rp", &seed, &["hotfix"]).await;
        let image = gatekeeper::domain::ImageRef {
            place: None,
            repository: "rp".into(),
            digest: pushed,
            tags: vec!["hotfix".into()],
        };
        state.record_push(&image, 0).await.unwrap();
    });
    c.scan(&gk, "rp-1", &["v1"], 1).await.unwrap();
    assert_eq!(gk.state.hooks.calls("claim"), 2, "the first claim failed");
    // on-push saw no verdict yet when it recorded `hotfix`; its write made the claim fail, and the
    // retry read the tags again.
    assert_eq!(c.tags().await, c.quarantined(&["hotfix", "v1"]));
    assert_eq!(c.messages().await.len(), 1);
}
