//! The claim protocol (DESIGN: one consistent state and one message per change, whatever the
//! interleaving of deliveries) through the real service over the in-memory fakes, in milliseconds.
//! Each test plays an interleaving and compares what is left (the image's tags in ECR, its record
//! in the state table, the messages on the topic) with what one clean delivery leaves. The same
//! scenarios against moto, slower: `tests/tests/enforce.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use crate::domain::events::Incoming;
use crate::domain::time::Epoch;
use crate::domain::{Finding, Package, ScanState, Severity};

fn home(repository: &str, digest: &str) -> crate::domain::ImageRef {
    crate::domain::ImageRef::home(repository, digest)
}
use crate::error::Error;
use crate::outbound::notice::Message;
use crate::ports::fakes::{
    FakeFindings, FakeRegistry, FakeState, Interleave, RecordingNotifier, poll_once, transient,
};
use crate::service::Outcome;
use crate::state::ImageState;

const REPO: &str = "team-a/api";
const DIGEST: &str = "sha256:5e1f0e3c1b2a4d6f8e9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e";
const NOW: Epoch = 1_800_000_000;

/// The gatekeeper of one Lambda container over the shared fakes, with hooks of its own.
type FakeGatekeeper = super::Container;

/// One account: ECR, Inspector, the topic and the state table, shared by every container.
#[derive(Clone, Default)]
struct World {
    registry: FakeRegistry,
    findings: FakeFindings,
    notifier: RecordingNotifier,
    state: FakeState,
}

/// What a scenario leaves behind, compared with a clean delivery's.
#[derive(Debug, PartialEq)]
struct Left {
    tags: Option<Vec<String>>,
    record: ImageState,
    messages: Vec<Message>,
}

fn critical() -> Vec<Finding> {
    let mut f = Finding::new("CVE-2026-0001", Severity::Critical);
    f.packages.push(Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.13".into()),
    });
    vec![f]
}

fn envelope(id: &str, source: &str, detail_type: &str, time: &str, detail: Value) -> Value {
    json!({"version": "0", "id": id, "detail-type": detail_type, "source": source, "time": time,
        "region": "eu-west-1", "account": "123456789012", "resources": [], "detail": detail})
}

/// Inspector's scan-complete event for the image: one CRITICAL finding counted.
fn inspector_scan(id: &str) -> Value {
    let arn = format!("arn:aws:ecr:eu-west-1:123456789012:repository/{REPO}");
    envelope(
        id,
        "aws.inspector2",
        "Inspector2 Scan",
        "2026-11-22T10:00:00Z",
        json!({"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn, "image-digest": DIGEST,
            "image-tags": ["v1", "latest"], "finding-severity-counts": {"CRITICAL": 1, "HIGH": 0, "MEDIUM": 0, "TOTAL": 1}}),
    )
}

/// ECR's basic scan-complete event for the image, sent at `time`.
fn basic_scan(id: &str, time: &str) -> Value {
    envelope(
        id,
        "aws.ecr",
        "ECR Image Scan",
        time,
        json!({"scan-status": "COMPLETE", "repository-name": REPO, "image-digest": DIGEST,
            "image-tags": ["v1", "latest"], "finding-severity-counts": {}}),
    )
}

/// ECR's push event of `tag` onto the image.
fn push(id: &str, tag: &str) -> Value {
    envelope(
        id,
        "aws.ecr",
        "ECR Image Action",
        "2026-11-22T10:00:00Z",
        json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": REPO, "image-digest": DIGEST,
            "image-tag": tag, "manifest-media-type": "application/vnd.docker.distribution.manifest.v2+json",
            "artifact-media-type": "application/vnd.docker.container.image.v1+json"}),
    )
}

impl World {
    /// `team-a/api` with one image tagged `v1` and `latest`, which Inspector finds one fixable
    /// CRITICAL vulnerability in (the default policy blocks it).
    fn new() -> World {
        let world = World::default();
        world
            .registry
            .push(REPO, DIGEST, &["v1", "latest"], NOW - 60);
        world.findings.set(DIGEST, critical());
        world
    }

    /// A new container in front of this account, enforcing the default policy.
    fn gatekeeper(&self) -> Arc<FakeGatekeeper> {
        Arc::new(super::container(
            &self.registry,
            &self.notifier,
            &self.state,
        ))
    }

    /// One delivery of a scan event (`delivery`: its Lambda request id), run to its end or to a halt.
    fn scan(
        &self,
        gk: &FakeGatekeeper,
        event: &Value,
        delivery: &str,
    ) -> Option<Result<Outcome, Error>> {
        let incoming = Incoming::trusted(event.clone());
        poll_once(gk.handle_scan_delivery(&self.findings, &incoming, delivery))
    }

    /// [`World::scan`] that must complete without an error: its status.
    fn scanned(&self, gk: &FakeGatekeeper, event: &Value, delivery: &str) -> &'static str {
        match self.scan(gk, event, delivery) {
            Some(Ok(outcome)) => outcome.status.as_str(),
            other => panic!("delivery {delivery} of {} ended {other:?}", event["id"]),
        }
    }

    /// One delivery of a push event, to its end.
    fn pushed(&self, gk: &FakeGatekeeper, event: &Value, delivery: &str) -> &'static str {
        let incoming = Incoming::trusted(event.clone());
        match poll_once(gk.handle_push_delivery(&incoming, delivery)) {
            Some(Ok(outcome)) => outcome.status.as_str(),
            other => panic!("push delivery {delivery} ended {other:?}"),
        }
    }

    /// Hooks another delivery of `event` (through `other`) to run just before the `nth` call of `op`
    /// in `hooks`; the slot gets its status.
    fn before(
        &self,
        hooks: &Interleave,
        (op, nth): (&'static str, usize),
        other: Arc<FakeGatekeeper>,
        event: Value,
        delivery: &'static str,
    ) -> Arc<Mutex<Option<&'static str>>> {
        let slot = Arc::new(Mutex::new(None));
        let (out, findings) = (slot.clone(), self.findings.clone());
        hooks.before(op, nth, move || async move {
            let incoming = Incoming::trusted(event);
            let status = match other
                .handle_scan_delivery(&findings, &incoming, delivery)
                .await
            {
                Ok(outcome) => outcome.status.as_str(),
                Err(_) => "error",
            };
            *out.lock().unwrap() = Some(status);
        });
        slot
    }

    fn left(&self) -> Left {
        Left {
            tags: self.registry.tags(REPO, DIGEST),
            record: self.state.record(&home(REPO, DIGEST)),
            messages: self.notifier.messages(),
        }
    }
}

/// What one delivery of Inspector's scan event leaves in a new world: the reference.
fn clean() -> Left {
    let world = World::new();
    assert_eq!(
        world.scanned(&world.gatekeeper(), &inspector_scan("scan-1"), "r-1"),
        "changed"
    );
    let left = world.left();
    assert_eq!(
        left.tags,
        Some(vec![
            "quarantined-latest--5e1f0e3c1b2a".to_string(),
            "quarantined-v1--5e1f0e3c1b2a".to_string()
        ])
    );
    assert_eq!(left.messages.len(), 1);
    assert!(left.record.claim.is_none(), "{:?}", left.record);
    left
}

#[test]
fn the_same_scan_event_delivered_twice_in_sequence_acts_and_notifies_once() {
    let world = World::new();
    let event = inspector_scan("scan-1");

    assert_eq!(world.scanned(&world.gatekeeper(), &event, "r-1"), "changed");
    assert_eq!(
        world.scanned(&world.gatekeeper(), &event, "r-2"),
        "unchanged"
    );

    assert_eq!(world.left(), clean());
    assert!(world.registry.deleted().is_empty());
}

#[test]
fn a_duplicate_delivery_that_claims_first_leaves_the_other_nothing_to_do() {
    let world = World::new();
    let event = inspector_scan("scan-1");
    let (first, second) = (world.gatekeeper(), world.gatekeeper());
    let duplicate = world.before(
        &first.state.hooks,
        ("claim", 1),
        second,
        event.clone(),
        "r-2",
    );

    let status = world.scanned(&first, &event, "r-1");

    assert_eq!(*duplicate.lock().unwrap(), Some("changed"));
    assert_eq!(status, "unchanged", "its claim lost, and it read again");
    assert_eq!(first.state.hooks.unfired(), Vec::<String>::new());
    assert_eq!(world.left(), clean());
}

#[test]
fn a_push_between_the_first_read_and_the_claim_fails_the_claim_and_its_tag_is_quarantined_too() {
    // The reference: the push (and on-push's record of it) came before the scan event.
    let reference = World::new();
    reference.registry.push(REPO, DIGEST, &["hotfix"], NOW);
    reference.pushed(&reference.gatekeeper(), &push("push-1", "hotfix"), "p-1");
    reference.scanned(&reference.gatekeeper(), &inspector_scan("scan-1"), "r-1");
    // The race: the push lands after the scan delivery read the image's tags, before it claims.
    let world = World::new();
    let (scanner, on_push) = (world.gatekeeper(), world.gatekeeper());
    let w = world.clone();
    scanner.state.hooks.before("claim", 1, move || async move {
        w.registry.push(REPO, DIGEST, &["hotfix"], NOW);
        let incoming = Incoming::trusted(push("push-1", "hotfix"));
        let pushed = on_push.handle_push_delivery(&incoming, "p-1").await;
        assert!(pushed.is_ok(), "{pushed:?}");
    });

    let status = world.scanned(&scanner, &inspector_scan("scan-1"), "r-1");

    assert_eq!(status, "changed");
    assert_eq!(scanner.state.hooks.unfired(), Vec::<String>::new());
    assert_eq!(
        scanner.state.hooks.calls("claim"),
        2,
        "the first claim must fail"
    );
    let left = world.left();
    assert_eq!(
        left.tags,
        Some(vec![
            "quarantined-hotfix--5e1f0e3c1b2a".to_string(),
            "quarantined-latest--5e1f0e3c1b2a".to_string(),
            "quarantined-v1--5e1f0e3c1b2a".to_string()
        ])
    );
    assert_eq!(left, reference.left());
}

/// A new world and Inspector's scan event, whose first delivery (`r-1`) dies where `halt` stops it.
fn died(halt: impl FnOnce(&FakeGatekeeper)) -> (World, Value) {
    let world = World::new();
    let event = inspector_scan("scan-1");
    let dying = world.gatekeeper();
    halt(&dying);
    assert!(world.scan(&dying, &event, "r-1").is_none(), "it dies");
    (world, event)
}

#[test]
fn a_delivery_that_died_between_two_tag_changes_is_repaired_by_its_retry_with_one_message() {
    let (world, event) = died(|dying| dying.registry.hooks.halt("put_tag", 2));
    let half = world.left();
    assert_eq!(half.tags.as_ref().map(Vec::len), Some(3), "{half:?}");
    assert!(half.messages.is_empty());
    // Another event about the image while the claim is fresh: the claimant is on it.
    let other = world.scanned(&world.gatekeeper(), &inspector_scan("scan-2"), "r-9");
    assert_eq!(other, "in_progress");
    // Lambda retries the event (same request id) in another container.
    assert_eq!(world.scanned(&world.gatekeeper(), &event, "r-1"), "changed");

    let (left, clean) = (world.left(), clean());
    assert_eq!(left.tags, clean.tags);
    assert_eq!(left.record, clean.record);
    assert_eq!(same_change(&left.messages), same_change(&clean.messages));
    assert!(world.registry.deleted().is_empty());
}

#[test]
fn a_delivery_that_died_after_notifying_sends_the_same_message_again_under_the_same_key() {
    // At least once: the message went out, the claim was not finished; the retry cannot know.
    let (world, event) = died(|dying| dying.state.hooks.halt("finish", 1));
    assert_eq!(world.scanned(&world.gatekeeper(), &event, "r-1"), "changed");
    let left = world.left();
    assert_eq!(left.record, clean().record);
    assert_one_change_sent_twice(&left);
}

/// What one clean delivery leaves, with its message sent twice under its one key (subscribers drop
/// the repeat).
fn assert_one_change_sent_twice(left: &Left) {
    let clean = clean();
    assert_eq!(left.tags, clean.tags);
    assert_eq!(left.messages.len(), 2);
    for m in &left.messages {
        assert_eq!(
            m.dedup_key, clean.messages[0].dedup_key,
            "one change, one key"
        );
    }
}

#[test]
fn another_event_that_finds_the_died_claim_expired_finishes_that_change_under_its_key() {
    // The claimant published, then died before finishing; its lease runs out, and the next event
    // about the image (not a retry of the first) finds the same verdict.
    let (world, _) = died(|dying| dying.state.hooks.halt("finish", 1));
    let mut later = super::container(&world.registry, &world.notifier, &world.state);
    later.clock = || NOW + 301;
    assert_eq!(
        world.scanned(&later, &inspector_scan("scan-2"), "r-9"),
        "changed"
    );

    assert_one_change_sent_twice(&world.left());
    assert_eq!(
        world.state.record(&home(REPO, DIGEST)).claim,
        None,
        "finished"
    );
}

#[test]
fn a_transient_failure_of_put_tag_is_retried_to_the_clean_outcome() {
    let world = World::new();
    let event = inspector_scan("scan-1");
    let failing = world.gatekeeper();
    failing
        .registry
        .hooks
        .fail("put_tag", 1, transient("ecr:PutImage"));

    let err = world.scan(&failing, &event, "r-1").unwrap().unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(world.notifier.messages().is_empty());
    assert_eq!(world.scanned(&world.gatekeeper(), &event, "r-1"), "changed");

    assert_eq!(failing.registry.hooks.unfired(), Vec::<String>::new());
    assert_eq!(world.left(), clean());
}

/// Basic scanning: the older scan found the CRITICAL finding, the newer one (a rescan after the
/// vulnerability was withdrawn) finds nothing. The reference: the newer scan's delivery alone.
fn withdrawn() -> (World, Left) {
    let reference = World::new();
    reference
        .registry
        .set_scan(REPO, DIGEST, ScanState::Complete, Vec::new());
    let newer = basic_scan("scan-new", "2026-11-22T11:00:00Z");
    assert_eq!(
        reference.scanned(&reference.gatekeeper(), &newer, "r-new"),
        "changed"
    );
    let world = World::new();
    world
        .registry
        .set_scan(REPO, DIGEST, ScanState::Complete, critical());
    (world, reference.left())
}

#[test]
fn an_older_scan_delivered_after_a_newer_one_changes_nothing() {
    let (world, reference) = withdrawn();
    world
        .registry
        .set_scan(REPO, DIGEST, ScanState::Complete, Vec::new());

    let newer = basic_scan("scan-new", "2026-11-22T11:00:00Z");
    let older = basic_scan("scan-old", "2026-11-22T10:00:00Z");
    assert_eq!(
        world.scanned(&world.gatekeeper(), &newer, "r-new"),
        "changed"
    );
    assert_eq!(
        world.scanned(&world.gatekeeper(), &older, "r-old"),
        "unchanged"
    );

    assert_eq!(world.left(), reference);
}

#[test]
fn an_older_scan_whose_claim_lands_after_a_newer_scan_does_not_bring_back_its_verdict() {
    let (world, reference) = withdrawn();
    let (older_gk, newer_gk) = (world.gatekeeper(), world.gatekeeper());
    // The older scan's delivery has read its findings (CRITICAL); before it claims, the rescan finds
    // nothing and the newer scan's delivery runs to its end.
    let w = world.clone();
    older_gk.state.hooks.before("claim", 1, move || async move {
        w.registry
            .set_scan(REPO, DIGEST, ScanState::Complete, Vec::new());
        let incoming = Incoming::trusted(basic_scan("scan-new", "2026-11-22T11:00:00Z"));
        let newer = newer_gk
            .handle_scan_delivery(&w.findings, &incoming, "r-new")
            .await;
        assert_eq!(newer.map(|o| o.status.as_str()), Ok("changed"));
    });

    let older = basic_scan("scan-old", "2026-11-22T10:00:00Z");
    world.scanned(&older_gk, &older, "r-old");

    assert_eq!(older_gk.state.hooks.unfired(), Vec::<String>::new());
    assert_eq!(world.left(), reference);
}

/// What identifies a verdict message: its subject, dedup key and attributes, and the decision and
/// previous decision it reports. (A repaired delivery's body also lists what *it* did to the tags.)
fn same_change(messages: &[Message]) -> Vec<Value> {
    messages
        .iter()
        .map(|m| {
            let body: Value = serde_json::from_str(&m.body).unwrap();
            json!({
                "subject": m.subject, "dedup_key": m.dedup_key, "attributes": m.attributes,
                "decision": body["decision"], "previous": body["previous_decision"], "counts": body["counts"],
            })
        })
        .collect()
}

#[test]
fn an_event_for_an_image_of_another_account_or_region_leaves_the_same_named_image_here_alone() {
    let world = World::new();
    let gk = world.gatekeeper();
    let before = world.left();
    let home = inspector_scan("scan-home");
    let arn = |account: &str, region: &str| {
        json!(format!("arn:aws:ecr:{region}:{account}:repository/{REPO}"))
    };
    let mut member = inspector_scan("scan-member");
    member["account"] = json!("111111111111");
    member["detail"]["repository-name"] = arn("111111111111", "eu-west-1");
    let mut elsewhere = inspector_scan("scan-elsewhere");
    elsewhere["region"] = json!("us-east-1");
    elsewhere["detail"]["repository-name"] = arn("123456789012", "us-east-1");
    let mut forwarded_push = push("push-member", "v2");
    forwarded_push["account"] = json!("111111111111");
    for (event, place) in [
        (&member, "account 111111111111 in eu-west-1"),
        (&elsewhere, "account 123456789012 in us-east-1"),
    ] {
        let incoming = Incoming::trusted(event.clone());
        let outcome = poll_once(gk.handle_scan_delivery(&world.findings, &incoming, "r"))
            .unwrap()
            .unwrap();
        assert_eq!(outcome.status.as_str(), "skipped");
        let named = outcome.image.unwrap_or_default();
        assert!(
            named.ends_with(&format!("/{REPO}@{DIGEST}"))
                && named.len() > REPO.len() + DIGEST.len() + 1,
            "{named}"
        );
        assert!(outcome.detail.contains(place), "{}", outcome.detail);
        assert!(
            outcome
                .detail
                .contains("governs account 123456789012 in eu-west-1 only"),
            "{}",
            outcome.detail
        );
    }
    assert_eq!(world.pushed(&gk, &forwarded_push, "r-push"), "skipped");
    assert_eq!(world.left(), before, "nothing changed here");
    // The same event from this account acts on the image: the skips above are not a no-op world.
    assert_eq!(world.scanned(&gk, &home, "r-home"), "changed");
    let message: Value = serde_json::from_str(&world.notifier.messages()[0].body).unwrap();
    assert_eq!(message["image"]["account"], "123456789012");
    assert_eq!(message["image"]["region"], "eu-west-1");
}
