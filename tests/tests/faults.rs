//! Faults injected for real: the gatekeeper's clients talk to moto through a fault-injecting proxy
//! (throttling, 5xx, dropped connections, slow and lost answers). Retries absorb what they can; what
//! they cannot ends as a retryable error; a crash at any step of quarantine or release is completed
//! by the next delivery of the same event, leaving the tags one clean delivery leaves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::collections::BTreeMap;

use gatekeeper::adapters::Pace;
use gatekeeper::domain::events::Incoming;
use gatekeeper::domain::{Finding, Mode, Severity};
use gatekeeper::error::Error;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::{Outcome, Status};
use gatekeeper_tests::faults::{Fault, FaultProxy, Rule, test_resilience};
use gatekeeper_tests::fixtures::{Aws, Setup, TestGatekeeper, inspector_scan_event};
use gatekeeper_tests::manifest::hex12;
// Block on CRITICAL with the circuit breaker out of the way: these tests make hundreds of tag changes.
use gatekeeper_tests::storm::storm_policy;
use serde_json::{Value, json};

fn critical() -> Vec<Finding> {
    vec![Finding::new("CVE-2026-0001", Severity::Critical)]
}

fn quarantined(digest: &str) -> Vec<String> {
    let h = hex12(digest);
    vec![
        format!("quarantined-latest--{h}"),
        format!("quarantined-v1--{h}"),
    ]
}

fn plain() -> Vec<String> {
    vec!["latest".to_string(), "v1".to_string()]
}

/// The gatekeeper of `aws` with the clients of `sdk` (the proxy's), PutImage paced at 100/s: these
/// tests are about faults, and the 1/s default would make them wait, not test more.
fn through(aws: &Aws, setup: &Setup, sdk: &aws_config::SdkConfig) -> TestGatekeeper {
    let mut gk = aws.gatekeeper_via(setup, Mode::Enforce, storm_policy(), sdk);
    gk.registry = gk.registry.paced(Pace::per_second(100.0));
    gk
}

async fn world(name: &str, seed: u64) -> (Aws, Setup, FaultProxy) {
    let aws = Aws::new(name).await;
    let setup = aws.standard_setup().await;
    let proxy = FaultProxy::start(&aws.moto.endpoint, seed).unwrap();
    (aws, setup, proxy)
}

/// A world where `team/api` holds one image (`v1`, `latest`) with a CRITICAL finding, a gatekeeper
/// whose clients make up to `attempts` attempts through the proxy, and the scan event that blocks it.
struct Blocked {
    aws: Aws,
    setup: Setup,
    proxy: FaultProxy,
    gk: TestGatekeeper,
    findings: FakeFindings,
    digest: String,
    event: Value,
}

async fn blocked(name: &str, seed: u64, attempts: u32) -> Blocked {
    let (aws, setup, proxy) = world(name, seed).await;
    aws.create_repo("team/api", "MUTABLE", &[]).await;
    let digest = aws.push("team/api", name, &["v1", "latest"]).await;
    let sdk = proxy.sdk(&aws.region, test_resilience(attempts)).await;
    let gk = through(&aws, &setup, &sdk);
    let findings = FakeFindings::default();
    findings.set(&digest, critical());
    let event = inspector_scan_event(
        &format!("ev-{name}"),
        &aws.account,
        "team/api",
        &digest,
        &[],
        1,
    );
    Blocked {
        aws,
        setup,
        proxy,
        gk,
        findings,
        digest,
        event,
    }
}

impl Blocked {
    /// Delivers the scan event with this Lambda request id.
    async fn deliver(&self, request_id: &str) -> Result<Outcome, Error> {
        let incoming = Incoming::trusted(self.event.clone());
        self.gk
            .handle_scan_delivery(&self.findings, &incoming, request_id)
            .await
    }

    /// The block went through once: the image carries the quarantine tags and `team/api` got one
    /// verdict message.
    async fn assert_quarantined_once(&self) {
        assert_eq!(
            self.aws.tags("team/api", &self.digest).await.unwrap(),
            quarantined(&self.digest)
        );
        let messages = keys_by_repository(&self.aws, &self.setup).await;
        assert_eq!(messages["team/api"].len(), 1, "{messages:?}");
    }
}

/// Verdict messages per repository: their dedup keys, in order of arrival.
async fn keys_by_repository(aws: &Aws, setup: &Setup) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (_, body) in aws.messages(&setup.subscriber_url).await {
        out.entry(body["image"]["repository"].as_str().unwrap().to_string())
            .or_default()
            .push((
                body["dedup_key"].as_str().unwrap().to_string(),
                body["decision"].as_str().unwrap().to_string(),
            ));
    }
    out
}

#[tokio::test]
async fn sdk_retries_absorb_throttling_5xx_dropped_connections_and_hung_answers() {
    let w = blocked("faults-absorbed", 7, 4).await;
    w.proxy.set_rules(vec![
        // ECR's PutImage limit is 10 requests/s: three throttles in a row, the fourth attempt passes.
        Rule::first(3, Fault::Throttle, "ecr:PutImage"),
        Rule::first(1, Fault::Unavailable, "sns:Publish"),
        Rule::first(2, Fault::Drop, "dynamodb:*"),
        Rule::first(1, Fault::Slow(3_000), "ecr:BatchGetImage"),
        Rule::first(1, Fault::LoseResponse, "ecr:BatchDeleteImage"),
    ]);

    let outcome = w.gk.handle_scan_event(&w.findings, &w.event).await.unwrap();

    assert_eq!(outcome.status, Status::Changed, "{outcome:?}");
    let faults = w.proxy.faults();
    assert_eq!(faults.get("Throttle"), Some(&3), "{faults:?}");
    assert_eq!(faults.get("Unavailable"), Some(&1), "{faults:?}");
    assert_eq!(faults.get("Drop"), Some(&2), "{faults:?}");
    assert_eq!(faults.get("Slow"), Some(&1), "{faults:?}");
    assert_eq!(faults.get("LoseResponse"), Some(&1), "{faults:?}");
    w.assert_quarantined_once().await;
}

#[tokio::test]
async fn what_retries_cannot_cure_is_a_retryable_error_and_the_next_delivery_completes_it() {
    let w = blocked("faults-exhausted", 11, 3).await;
    w.proxy.set_rules(vec![
        Rule::at_rate(Fault::Throttle, 1.0).only(&["ecr:PutImage"]),
    ]);
    let err =
        w.gk.handle_scan_event(&w.findings, &w.event)
            .await
            .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.operation(), "ecr:PutImage");
    assert_eq!(w.proxy.faults().get("Throttle"), Some(&3), "three attempts");
    assert_eq!(w.aws.tags("team/api", &w.digest).await.unwrap(), plain());

    // Lambda's asynchronous retry: the same event, later, the throttling over.
    w.proxy.set_rules(Vec::new());
    let outcome = w.gk.handle_scan_event(&w.findings, &w.event).await.unwrap();
    assert_eq!(outcome.status, Status::Changed, "{outcome:?}");
    w.assert_quarantined_once().await;
}

#[tokio::test]
async fn an_unusable_event_reaches_the_rejected_queue_through_throttling_not_a_retry_loop() {
    let (aws, setup, proxy) = world("faults-rejected", 13).await;
    let sdk = proxy.sdk(&aws.region, test_resilience(4)).await;
    let gk = through(&aws, &setup, &sdk);
    proxy.set_rules(vec![Rule::first(2, Fault::Throttle, "sqs:SendMessage")]);
    let bad = json!({"source": "aws.ecr", "detail-type": "ECR Image Action", "id": "ev-bad", "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": 42}});

    let outcome = gk.handle_push_event(&bad).await.unwrap();

    assert_eq!(outcome.status, Status::Rejected, "{outcome:?}");
    assert_eq!(proxy.faults().get("Throttle"), Some(&2));
    let rejected = aws.drain(&setup.rejected_url).await;
    assert_eq!(rejected.len(), 1);
}

/// One scenario step under a crash: `event` delivered with the `k`-th AWS request failing (`fault`),
/// then delivered again with no faults. Returns whether the crash happened (k within the run) and
/// whether a Publish reached SNS before the crash (the redelivery then publishes the change again,
/// with the same dedup key: at-least-once).
async fn crash_then_redeliver(
    proxy: &FaultProxy,
    gk: &TestGatekeeper,
    findings: &FakeFindings,
    event: &Value,
    k: usize,
    fault: Fault,
) -> (bool, bool) {
    proxy.reset_counts();
    proxy.set_rules(vec![Rule::once_after(k, fault)]);
    // Lambda's retry of a failed invocation keeps its request id.
    let first = gk
        .handle_scan_delivery(findings, &Incoming::trusted(event.clone()), "req-1")
        .await;
    let crashed = !proxy.faults().is_empty();
    // The redelivery publishes again when a Publish reached SNS and the closing write (which
    // marks the change notified) did not reach DynamoDB.
    let history = proxy.history();
    let published = history
        .iter()
        .any(|(op, f)| op == "sns:Publish" && matches!(f, None | Some(Fault::LoseResponse)));
    let finished = history
        .last()
        .is_some_and(|(op, f)| op == "dynamodb:UpdateItem" && *f == Some(Fault::LoseResponse))
        && history.iter().any(|(op, _)| op == "sns:Publish");
    proxy.set_rules(Vec::new());
    if let Err(e) = &first {
        assert!(e.is_retryable(), "a crash must end retryable: {e}");
    }
    let second = gk
        .handle_scan_delivery(findings, &Incoming::trusted(event.clone()), "req-1")
        .await;
    assert!(
        second.is_ok(),
        "redelivery after a crash at {k}: {second:?}"
    );
    (crashed, crashed && published && !finished)
}

#[tokio::test]
async fn a_crash_at_every_step_of_quarantine_and_release_is_completed_by_the_next_delivery() {
    let (aws, setup, proxy) = world("faults-crash", 17).await;
    // No SDK retries: every injected fault is a crash of the invocation at that step.
    let sdk = proxy.sdk(&aws.region, test_resilience(1)).await;
    let gk = through(&aws, &setup, &sdk);
    let findings = FakeFindings::default();
    let mut cases = 0;
    let mut expected_messages: BTreeMap<String, usize> = BTreeMap::new();
    for fault in [Fault::Drop, Fault::LoseResponse] {
        for k in 0.. {
            let repo = format!("crash/{fault:?}-{k}").to_lowercase();
            aws.create_repo(&repo, "MUTABLE", &[]).await;
            let digest = aws.push(&repo, &repo, &["v1", "latest"]).await;
            // Block (one CRITICAL), then release (none), each crashed at request k and redelivered.
            let (mut crashed, mut duplicates) = (false, 0);
            for (step, found, tags) in [
                ("quarantine", critical(), quarantined(&digest)),
                ("release", Vec::new(), plain()),
            ] {
                let criticals = u32::try_from(found.len()).unwrap();
                findings.set(&digest, found);
                let id = format!("{repo}-{step}");
                let event = inspector_scan_event(&id, &aws.account, &repo, &digest, &[], criticals);
                let (crashed_step, duplicated) =
                    crash_then_redeliver(&proxy, &gk, &findings, &event, k, fault).await;
                assert_eq!(
                    aws.tags(&repo, &digest).await.unwrap(),
                    tags,
                    "{step}, {fault:?} at request {k}"
                );
                cases += usize::from(crashed_step);
                crashed |= crashed_step;
                duplicates += usize::from(duplicated);
            }
            expected_messages.insert(repo.clone(), 2 + duplicates);
            if !crashed {
                break; // k is past the last request of both deliveries: every step was crashed
            }
        }
    }
    eprintln!("crashed at {cases} steps (two faults, quarantine and release)");
    assert!(cases >= 20, "crashed at {cases} steps only");

    // Each change notified: block, then pass. A crash after a Publish reached SNS makes the
    // redelivery publish again, with the same dedup key; no other duplicate, nothing missing.
    let received = keys_by_repository(&aws, &setup).await;
    assert_eq!(received.len(), expected_messages.len());
    for (repo, messages) in received {
        let mut changes: Vec<(String, String)> = messages.clone();
        changes.dedup();
        let decisions: Vec<&str> = changes.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(decisions, ["block", "pass"], "{repo}: {messages:?}");
        assert_eq!(
            messages.len(),
            expected_messages[&repo],
            "{repo}: {messages:?}"
        );
    }
}

#[tokio::test]
async fn a_duplicate_delivery_during_an_open_change_leaves_it_to_the_delivery_that_claimed_it() {
    let w = blocked("faults-duplicate", 19, 1).await;

    // The first delivery claims the change and crashes at its first PutImage.
    w.proxy
        .set_rules(vec![Rule::first(1, Fault::Drop, "ecr:PutImage")]);
    assert!(w.deliver("req-a").await.unwrap_err().is_retryable());
    w.proxy.set_rules(Vec::new());

    // EventBridge delivers the same event again (another request id): the change is the claimant's.
    let duplicate = w.deliver("req-b").await.unwrap();
    assert_eq!(duplicate.status, Status::InProgress, "{duplicate:?}");
    assert!(keys_by_repository(&w.aws, &w.setup).await.is_empty());

    // Lambda retries the first invocation (same request id): it completes the change, once.
    let retry = w.deliver("req-a").await.unwrap();
    assert_eq!(retry.status, Status::Changed, "{retry:?}");
    w.assert_quarantined_once().await;
}
