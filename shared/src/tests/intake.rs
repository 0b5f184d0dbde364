//! SQS intake through the real service over the in-memory fakes: a batch is grouped by image, each
//! image evaluated once; exactly the records of an image that could not be finished go back to the
//! queue; malformed records are rejected and done. The Lambda binaries take the same batches through
//! the Runtime API in `functions/*/tests/runtime_api.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::{Value, json};

use crate::domain::events::Incoming;
use crate::domain::time::Epoch;
use crate::domain::{Finding, Severity};
use crate::ports::fakes::{
    FakeFindings, FakeRegistry, FakeState, Hooked, RecordingNotifier, poll_once, transient,
};
use crate::service::{BatchReport, Record};

const REPO: &str = "team-a/payments-api";
const NOW: Epoch = 1_800_000_000;
/// The image of the sample finding event, and a second one.
const A: &str = "sha256:5b5a96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";
const B: &str = "sha256:bbbb96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";

/// Two images with one CRITICAL finding each, and a gatekeeper whose every port counts its calls.
struct Bench {
    registry: FakeRegistry,
    notifier: RecordingNotifier,
    state: FakeState,
    findings: Hooked<FakeFindings>,
    gk: Container,
}

use super::{Container, container};

impl Bench {
    fn new() -> Bench {
        let (registry, findings) = (FakeRegistry::default(), FakeFindings::default());
        for (digest, tag) in [(A, "v1"), (B, "v2")] {
            registry.push(REPO, digest, &[tag], NOW - 60);
            findings.set(
                digest,
                vec![Finding::new("CVE-2026-41234", Severity::Critical)],
            );
        }
        let (notifier, state) = (RecordingNotifier::default(), FakeState::default());
        Bench {
            gk: container(&registry, &notifier, &state),
            registry,
            notifier,
            state,
            findings: Hooked::new(findings),
        }
    }

    /// The image `digest`'s only tag `tag` is quarantined (`quarantined-<tag>--<first 12 hex>`).
    fn assert_quarantined(&self, digest: &str, tag: &str) {
        let wanted = format!("quarantined-{tag}--{}", &digest[7..19]);
        assert_eq!(self.registry.tags(REPO, digest), Some(vec![wanted]));
    }

    /// Image A was read once (ListFindings), announced once and quarantined: one evaluation did it all.
    fn assert_blocked_once(&self) {
        assert_eq!(self.reads(), 1, "one read of the findings");
        assert_eq!(self.notifier.messages().len(), 1);
        self.assert_quarantined(A, "v1");
    }

    /// How many times the gatekeeper has read an image's findings (ListFindings) so far.
    fn reads(&self) -> usize {
        self.findings.hooks.calls("image_findings")
    }

    fn scan_batch(&self, records: &[Record]) -> BatchReport {
        poll_once(self.gk.handle_scan_batch(&self.findings, records, None))
            .expect("the batch ran to its end")
    }
}

/// The batch ended with one outcome, covered by an evaluation that had already read what it says.
fn assert_covered(report: &BatchReport) {
    assert_eq!(report.retry, Vec::<String>::new(), "{:?}", report.outcomes);
    assert_eq!(report.outcomes.len(), 1);
    let detail = &report.outcomes[0].detail;
    assert!(detail.contains("already evaluated"), "{detail}");
}

/// The sample `Inspector2 Finding` event, for image `digest`, with event id `id`.
fn finding(id: &str, digest: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../../events/aws.inspector2-inspector2-finding-ecr-critical.json"
    ))
    .unwrap();
    e["id"] = json!(id);
    let arn = format!("arn:aws:ecr:eu-west-1:123456789012:repository/{REPO}/{digest}");
    e["resources"] = json!([arn]);
    e["detail"]["resources"][0]["id"] = json!(arn);
    e["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] = json!(digest);
    e
}

/// The SQS record `id` whose body is `body`.
fn record(id: &str, body: &str) -> Record {
    Record {
        id: id.to_string(),
        incoming: Incoming::from_text(body, 1 << 20)
            .unwrap_or_else(|e| Incoming::unreadable(body, e.reason())),
    }
}

/// `n` finding records of image `digest`, message ids `<prefix>-0` ...
fn findings_of(prefix: &str, digest: &str, n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            record(&id, &finding(&format!("ev-{id}"), digest).to_string())
        })
        .collect()
}

#[test]
fn a_burst_is_one_evaluation_and_one_message_per_image() {
    let bench = Bench::new();
    let mut records = findings_of("a", A, 40);
    records.extend(findings_of("b", B, 3));
    records.extend(findings_of("a-late", A, 10));

    let report = bench.scan_batch(&records);

    assert_eq!(report.retry, Vec::<String>::new());
    assert_eq!(bench.reads(), 2);
    let statuses: Vec<&str> = report.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(statuses, ["changed", "changed"]);
    assert_eq!(bench.notifier.messages().len(), 2);
    bench.assert_quarantined(A, "v1");
}

#[test]
fn a_transient_failure_returns_exactly_the_failed_images_records_and_their_redelivery_finishes() {
    let bench = Bench::new();
    let mut records = findings_of("a", A, 3);
    records.extend(findings_of("b", B, 2));
    // A claims first (the batch's first image), B's claim fails.
    bench
        .gk
        .state
        .hooks
        .fail("claim", 2, transient("dynamodb:UpdateItem"));

    let report = bench.scan_batch(&records);

    assert_eq!(report.retry, ["b-0", "b-1"]);
    assert_eq!(bench.notifier.messages().len(), 1);
    let again = bench.scan_batch(&records[3..]);
    assert_eq!(again.retry, Vec::<String>::new());
    assert_eq!(bench.notifier.messages().len(), 2);
    bench.assert_quarantined(B, "v2");
}

#[test]
fn malformed_ignored_and_misrouted_records_are_done_and_only_the_malformed_one_is_rejected() {
    let bench = Bench::new();
    let ignored = include_str!("../../../events/aws.inspector2-inspector2-finding-ec2.json");
    let push = json!({"version": "0", "id": "ev-push", "detail-type": "ECR Image Action", "source": "aws.ecr",
        "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "account": "123456789012", "resources": [],
        "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": REPO, "image-digest": A, "image-tag": "v1"}});
    let mut records = vec![
        record("broken", "{\"detail-type\": "),
        record("ec2", ignored),
        record("push", &push.to_string()),
    ];
    records.extend(findings_of("a", A, 1));

    let report = bench.scan_batch(&records);

    assert_eq!(report.retry, Vec::<String>::new());
    let statuses: Vec<&str> = report.outcomes.iter().map(|o| o.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["rejected", "skipped", "skipped", "changed"],
        "{:?}",
        report.outcomes
    );
    let rejected = bench.gk.rejects.rejected();
    assert_eq!(rejected.len(), 1);
    assert!(rejected[0].0.contains("JSON"), "{:?}", rejected[0]);
}

#[test]
fn records_of_an_image_whose_change_another_delivery_is_applying_go_back_to_the_queue() {
    let bench = Bench::new();
    let records = findings_of("a", A, 2);
    // Another delivery of the same events (other SQS messages) runs while this one is between its
    // claim and its tag change: it finds the change in progress.
    let twin = container(&bench.registry, &bench.notifier, &bench.state);
    let findings = bench.findings.clone();
    let copies = findings_of("copy", A, 2);
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = seen.clone();
    bench
        .gk
        .registry
        .hooks
        .before("put_tag", 1, move || async move {
            let report = twin.handle_scan_batch(&findings, &copies, None).await;
            *out.lock().unwrap() = Some(report.retry);
        });

    let report = bench.scan_batch(&records);

    assert_eq!(report.retry, Vec::<String>::new());
    assert_eq!(
        seen.lock().unwrap().clone(),
        Some(vec!["copy-0".to_string(), "copy-1".to_string()])
    );
    assert_eq!(bench.notifier.messages().len(), 1);
}

#[test]
fn a_redelivery_led_by_another_of_the_claimed_records_continues_the_change_at_once() {
    let bench = Bench::new();
    let records = findings_of("a", A, 3);
    // The batch claims the change for its three records, then fails before the tags change (a
    // crash would leave the same claim behind).
    bench
        .gk
        .registry
        .hooks
        .fail("put_tag", 1, transient("ecr:PutImage"));

    let report = bench.scan_batch(&records);

    assert_eq!(report.retry, ["a-0", "a-1", "a-2"]);
    assert!(bench.notifier.messages().is_empty());
    // SQS hands two of them back in another batch, led by a record that did not lead the first:
    // within the claim's lease, the change continues at once instead of waiting for the lease.
    let again = bench.scan_batch(&records[..2]);

    assert_eq!(again.retry, Vec::<String>::new(), "{:?}", again.outcomes);
    assert_eq!(bench.notifier.messages().len(), 1);
    bench.assert_quarantined(A, "v1");
    // A delivery of other messages (a duplicate of the events) still finds the change in progress
    // elsewhere: the claim covers its own records only.
    let dup = Bench::new();
    dup.gk
        .registry
        .hooks
        .fail("put_tag", 1, transient("ecr:PutImage"));
    assert_eq!(dup.scan_batch(&records).retry.len(), 3);
    let others = dup.scan_batch(&findings_of("copy", A, 2));
    assert_eq!(others.retry, ["copy-0", "copy-1"], "{:?}", others.outcomes);
}

#[tokio::test]
async fn a_batch_waits_for_another_pollers_evaluation_of_the_image_and_acknowledges_what_it_saw() {
    let bench = Bench::new();
    bench.findings.inner.set(A, vec![listed_as_in_the_event()]);
    // A second poller takes other records of the same image while the first is evaluating it (between
    // its findings read and its tag change): it must not read the findings a second time.
    let twin = std::sync::Arc::new(container(&bench.registry, &bench.notifier, &bench.state));
    let (tried, findings) = (twin.state.hooks.clone(), bench.findings.clone());
    let answer = std::sync::Arc::new(std::sync::Mutex::new(None));
    let out = answer.clone();
    bench
        .gk
        .registry
        .hooks
        .before("put_tag", 1, move || async move {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let task = tokio::spawn(async move {
                let records = findings_of("other", A, 3);
                twin.handle_scan_batch(&findings, &records, Some(until))
                    .await
            });
            *out.lock().unwrap() = Some(task);
            // Go on only once the second poller has found the image being evaluated.
            while tried.calls("lease_evaluation") == 0 {
                tokio::task::yield_now().await;
            }
        });

    let first = bench
        .gk
        .handle_scan_batch(&bench.findings, &findings_of("a", A, 2), None)
        .await;
    let task = answer
        .lock()
        .unwrap()
        .take()
        .expect("the second poller ran");
    let second = task.await.unwrap();

    assert_eq!(first.retry, Vec::<String>::new());
    assert_covered(&second);
    bench.assert_blocked_once();
}

#[test]
fn an_evaluation_that_ends_between_the_read_and_the_lease_covers_the_records() {
    let bench = Bench::new();
    bench.findings.inner.set(A, vec![listed_as_in_the_event()]);
    // Another poller evaluates the image, and records what it saw, after this batch read the record
    // and before it takes the lease: the record the lease returns says the updates were seen.
    let twin = container(&bench.registry, &bench.notifier, &bench.state);
    let findings = bench.findings.clone();
    bench
        .gk
        .state
        .hooks
        .before("lease_evaluation", 1, move || async move {
            let report = twin
                .handle_scan_batch(&findings, &findings_of("other", A, 2), None)
                .await;
            assert_eq!(report.retry, Vec::<String>::new());
        });

    let report = bench.scan_batch(&findings_of("a", A, 2));

    assert!(
        report.outcomes[0].detail.contains("already evaluated"),
        "{:?}",
        report.outcomes
    );
    assert_eq!(bench.reads(), 1);
    assert_eq!(bench.gk.state.hooks.calls("release_evaluation"), 1);
    // The lease was given back: a newer update is evaluated at once, not sent back.
    let newer = updated_findings_of("new", A, 1, "2026-11-21T12:00:00Z", "2026-11-21T12:00:01Z");
    assert_eq!(bench.scan_batch(&newer).retry, Vec::<String>::new());
    assert_eq!(bench.reads(), 2);
    assert!(bench.gk.state.hooks.unfired().is_empty());
}

#[test]
fn without_a_deadline_records_of_an_image_another_poller_is_evaluating_go_back_at_once() {
    let bench = Bench::new();
    // The first poller crashed after taking the evaluation lease (it records nothing).
    bench.gk.state.hooks.halt("load", 2);
    let first = findings_of("a", A, 2);
    assert!(poll_once(bench.gk.handle_scan_batch(&bench.findings, &first, None)).is_none());
    let reads = bench.reads();

    let report = bench.scan_batch(&findings_of("other", A, 2));

    assert_eq!(
        report.retry,
        ["other-0", "other-1"],
        "{:?}",
        report.outcomes
    );
    assert_eq!(bench.reads(), reads);
    // Redelivered after the visibility timeout, the first poller's own records take the lease over.
    let again = bench.scan_batch(&first);
    assert_eq!(again.retry, Vec::<String>::new(), "{:?}", again.outcomes);
    assert_eq!(bench.notifier.messages().len(), 1);
}

/// The finding the sample event carries, as ListFindings lists it (same ARN, same update).
fn listed_as_in_the_event() -> Finding {
    let e = finding("ev", A);
    crate::domain::events::parse_inspector_finding(&e["detail"]).unwrap()
}

/// `n` finding records of image `digest` whose finding Inspector updated at `updated` (RFC 3339),
/// the event sent at `sent`.
fn updated_findings_of(
    prefix: &str,
    digest: &str,
    n: usize,
    updated: &str,
    sent: &str,
) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let mut e = finding(&format!("ev-{id}"), digest);
            e["time"] = json!(sent);
            e["detail"]["updatedAt"] = json!(updated);
            record(&id, &e.to_string())
        })
        .collect()
}

#[test]
fn later_batches_of_the_same_finding_updates_are_acknowledged_without_reading_the_findings_again() {
    let bench = Bench::new();
    bench.findings.inner.set(A, vec![listed_as_in_the_event()]);

    let first = bench.scan_batch(&findings_of("a", A, 5));
    let second = bench.scan_batch(&findings_of("a2", A, 5));

    assert_eq!(first.outcomes[0].status.as_str(), "changed");
    assert_covered(&second);
    assert_eq!(second.outcomes[0].status.as_str(), "unchanged");
    assert_eq!(
        second.outcomes[0].decision.map(|d| d.as_str()),
        Some("block")
    );
    bench.assert_blocked_once();
}

#[test]
fn a_newer_update_or_a_write_to_the_record_since_the_evaluation_means_reading_again() {
    let bench = Bench::new();
    bench.findings.inner.set(A, vec![listed_as_in_the_event()]);
    bench.scan_batch(&findings_of("a", A, 2));
    assert_eq!(bench.reads(), 1);

    // Inspector updated the finding after the evaluation read it.
    let newer = updated_findings_of("new", A, 1, "2026-11-21T12:00:00Z", "2026-11-21T12:00:01Z");
    bench.scan_batch(&newer);
    assert_eq!(bench.reads(), 2);

    // The evaluation of that update recorded it: the same update again is covered ...
    bench.scan_batch(&updated_findings_of(
        "again",
        A,
        1,
        "2026-11-21T12:00:00Z",
        "2026-11-21T12:00:01Z",
    ));
    assert_eq!(bench.reads(), 2);

    // ... until something else writes to the image's record (a push of a new tag).
    let pushed = poll_once(crate::ports::ImageRecords::record_push(
        &bench.state,
        &crate::domain::ImageRef {
            place: None,
            repository: REPO.into(),
            digest: A.into(),
            tags: Vec::new(),
        },
        NOW,
    ));
    assert!(pushed.is_some_and(|r| r.is_ok()));
    bench.scan_batch(&findings_of("after-push", A, 1));
    assert_eq!(bench.reads(), 3);
}

#[test]
fn a_fresh_finding_listfindings_does_not_list_yet_counts_and_a_stale_one_does_not() {
    // Image B: ListFindings lists nothing (it lags, or the finding was closed since). Updated 3 h
    // before now (NOW is 08:00), the event is old news; 30 s before, ListFindings is behind.
    let bench = Bench::new();
    bench.findings.inner.set(B, Vec::new());
    let quarantined = format!("quarantined-v2--{}", &B[7..19]);
    let q = quarantined.as_str();
    for (case, updated, sent, decision, tags) in [
        ("stale", "05:00:00", "05:00:01", "pass", "v2"),
        ("fresh", "07:59:30", "07:59:31", "block", q),
    ] {
        let at = |t: &str| format!("2027-01-15T{t}Z");
        let records = updated_findings_of(case, B, 1, &at(updated), &at(sent));

        let report = bench.scan_batch(&records);

        assert_eq!(
            report.outcomes[0].decision.map(|d| d.as_str()),
            Some(decision),
            "{case}: {:?}",
            report.outcomes
        );
        assert_eq!(
            bench.registry.tags(REPO, B),
            Some(vec![tags.to_string()]),
            "{case}"
        );
    }
}

#[test]
fn out_of_time_the_batch_finishes_its_first_image_and_sends_the_others_back_untouched() {
    let bench = Bench::new();
    let mut records = findings_of("a", A, 2);
    records.extend(findings_of("b", B, 2));

    let past = Some(std::time::Instant::now());
    let report = poll_once(bench.gk.handle_scan_batch(&bench.findings, &records, past)).unwrap();

    assert!(report.out_of_time);
    assert_eq!(report.retry, ["b-0", "b-1"]);
    assert_eq!(report.outcomes.len(), 1);
    bench.assert_quarantined(A, "v1");
    assert_eq!(bench.registry.tags(REPO, B), Some(vec!["v2".to_string()]));
    assert_eq!(bench.reads(), 1, "B was not read");
}

#[test]
fn out_of_time_a_push_batch_applies_its_first_record_and_sends_the_rest_back_in_order() {
    let bench = Bench::new();
    let push = |id: &str, digest: &str, tag: &str| {
        let e = json!({"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
            "time": "2027-01-15T07:59:00Z", "region": "eu-west-1", "account": "123456789012", "resources": [],
            "detail": {"action-type": "PUSH", "result": "SUCCESS", "repository-name": REPO,
                "image-digest": digest, "image-tag": tag}});
        record(id, &e.to_string())
    };
    let records = [
        push("p-a", A, "v1"),
        push("p-b", B, "v2"),
        push("p-c", A, "v1"),
    ];

    let past = Some(std::time::Instant::now());
    let report = poll_once(bench.gk.handle_push_batch(&records, past)).unwrap();

    assert!(report.out_of_time);
    assert_eq!(report.retry, ["p-b", "p-c"]);
    assert_eq!(report.outcomes.len(), 1, "{:?}", report.outcomes);
}
