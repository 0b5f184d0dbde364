//! A block that holds (`on_block`) over the in-memory fakes: archived after the retag, at once or at
//! a deadline; never in audit mode; behind the circuit breaker; restored by a release with its tags
//! back once ECR says it is active (the restore event, or the sweep when that event is lost);
//! archived again when it comes back without a release.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::cell::RefCell;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Container, container, now, set_now};
use crate::domain::events::Scanner;
use crate::domain::policy::Policy;
use crate::domain::time::DAY;
use crate::domain::{Finding, ImageRef, Severity};
use crate::ports::fakes::{FakeFindings, FakeRegistry, FakeState, RecordingNotifier, poll_once};
use crate::ports::{ImageRecords, Storage};
use crate::service::{ReleaseRequest, SweepSettings};

const REPO: &str = "team-a/api";
const DIGEST: &str = "sha256:5b5a96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";
const T0: i64 = 1_800_000_000;

/// An image with one CRITICAL finding, blocked under a policy whose defaults say `settings`.
struct Setup {
    registry: FakeRegistry,
    findings: FakeFindings,
    notifier: RecordingNotifier,
    state: FakeState,
    gk: Container,
    /// The scan event's `finding-severity-counts`, as the findings set say.
    counts: RefCell<Value>,
}

impl Setup {
    /// Sets the image's findings (and what the next scan event counts).
    fn set_findings(&self, findings: Vec<Finding>) {
        let mut counts = json!({"TOTAL": findings.len()});
        for f in &findings {
            let n = counts[f.severity.as_str()].as_u64().unwrap_or(0);
            counts[f.severity.as_str()] = json!(n + 1);
        }
        *self.counts.borrow_mut() = counts;
        self.findings.set(DIGEST, findings);
    }

    fn new(settings: &str, finding: Finding) -> Setup {
        set_now(T0);
        let registry = FakeRegistry::default();
        registry.push(REPO, DIGEST, &["v1"], T0 - 600);
        let findings = FakeFindings::default();
        let (notifier, state) = (RecordingNotifier::default(), FakeState::default());
        let mut gk = container(&registry, &notifier, &state);
        let text = format!("version = 1\n[defaults]\nblock = \"CRITICAL\"\n{settings}\n");
        gk.policy = Policy::parse(&text).unwrap();
        gk.clock = now;
        let s = Setup {
            registry,
            findings,
            notifier,
            state,
            gk,
            counts: RefCell::new(Value::Null),
        };
        s.set_findings(vec![finding]);
        s
    }

    fn scan(&self, id: &str) {
        poll_once(
            self.gk
                .handle_scan_event(&self.findings, &scan_event(self, id)),
        )
        .unwrap()
        .unwrap();
    }

    fn ecr_event(&self, id: &str, detail: Value) {
        let mut d = json!({"result": "SUCCESS", "repository-name": REPO, "image-digest": DIGEST});
        for (k, v) in detail.as_object().unwrap() {
            d[k] = v.clone();
        }
        let event = json!({"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
            "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1",
            "resources": [], "detail": d});
        poll_once(self.gk.handle_push_event(&event))
            .unwrap()
            .unwrap();
    }

    fn restore_event(&self, id: &str) {
        self.ecr_event(
            id,
            json!({"action-type": "UPDATE_STORAGE_CLASS", "target-storage-class": "STANDARD"}),
        );
    }

    fn sweep(&self, run: &str) {
        let settings = SweepSettings::default();
        poll_once(self.gk.sweep(&self.findings, &settings, run))
            .unwrap()
            .unwrap();
    }

    fn release(&self, force_for: Option<i64>) -> Result<(), String> {
        let image = ImageRef::home(REPO, DIGEST);
        let req = ReleaseRequest {
            image: &image,
            reason: "hotfix rollout",
            caller: "arn:aws:iam::123456789012:user/ops",
            force_for,
        };
        poll_once(self.gk.release(&self.findings, Scanner::Enhanced, &req))
            .unwrap()
            .unwrap()
            .map(|_| ())
    }

    fn storage(&self) -> Storage {
        self.registry.storage(REPO, DIGEST).unwrap()
    }

    fn tags(&self) -> Vec<String> {
        self.registry.tags(REPO, DIGEST).unwrap()
    }

    fn record(&self) -> crate::state::ImageState {
        poll_once(self.state.load(&ImageRef::home(REPO, DIGEST)))
            .unwrap()
            .unwrap()
    }

    fn bodies(&self) -> Vec<Value> {
        (self.notifier.messages().iter())
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }

    /// The actions of the last message, as `kind status`.
    fn last_actions(&self) -> Vec<String> {
        let last = self.bodies().pop().unwrap();
        (last["actions"].as_array().unwrap().iter())
            .map(|a| {
                format!(
                    "{} {}",
                    a["action"].as_str().unwrap(),
                    a["status"].as_str().unwrap()
                )
            })
            .collect()
    }
}

/// Another container over the same fakes, as `s.gk` is set up.
fn second(s: &Setup) -> Container {
    let mut gk = container(&s.registry, &s.notifier, &s.state);
    gk.policy = s.gk.policy.clone();
    gk.clock = now;
    gk
}

fn critical() -> Finding {
    Finding::new("CVE-2026-41234", Severity::Critical)
}

/// A finding of an image Inspector says is in use (or not) and last ran `ran_ago` seconds ago.
fn used(count: u64, ran_ago: i64) -> Finding {
    let mut f = critical();
    f.in_use_count = Some(count);
    f.last_in_use_at = Some(T0 - ran_ago);
    f
}

const QUARANTINED: &str = "quarantined-v1--5b5a96370efd";

#[test]
fn archive_moves_the_tags_first_then_archives_once_with_its_reason_recorded() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    assert_eq!(s.tags(), vec![QUARANTINED]);
    assert_eq!(s.storage(), Storage::Archived);
    let acts = s.last_actions();
    assert_eq!(
        acts.last().map(String::as_str),
        Some("archive done"),
        "{acts:?}"
    );
    assert!(
        acts.iter().position(|a| a == "add_tag done")
            < acts.iter().position(|a| a == "archive done")
    );
    let record = s.record().archive.unwrap();
    assert_eq!(record.archived_at, Some(T0));
    assert!(
        record.reason.contains("on_block = \"archive\""),
        "{record:?}"
    );
    let reasons = s.bodies()[0]["reasons"].to_string();
    assert!(
        reasons.contains("archived: rule defaults archives"),
        "{reasons}"
    );
    // The same event again and a later scan change nothing and say nothing.
    let sent = s.notifier.messages().len();
    s.scan("scan-1");
    s.scan("scan-2");
    assert_eq!(s.notifier.messages().len(), sent);
    assert_eq!(s.storage(), Storage::Archived);
    assert!(s.registry.deleted().is_empty());
}

#[test]
fn audit_mode_never_archives_and_says_what_it_would_do() {
    let s = Setup::new("on_block = \"archive\"\nmode = \"audit\"", critical());
    s.scan("scan-1");
    assert_eq!(s.storage(), Storage::Active);
    assert_eq!(s.tags(), vec!["v1"]);
    assert!(s.last_actions().contains(&"archive would".to_string()));
    assert_eq!(s.record().archive, None);
}

#[test]
fn runtime_archives_an_unused_image_at_once_and_one_in_use_at_its_deadline() {
    let s = Setup::new(
        "on_block = \"runtime\"\nnot_in_use_for = \"14d\"",
        used(0, 30 * DAY),
    );
    s.scan("scan-1");
    assert_eq!(s.storage(), Storage::Archived, "unused: at once");

    // A pull ECR recorded last week is use, whatever Inspector says.
    let s = Setup::new("on_block = \"runtime\"", used(0, 30 * DAY));
    s.registry.set_pulled(REPO, DIGEST, Some(T0 - 7 * DAY));
    s.scan("scan-1");
    assert_eq!(s.storage(), Storage::Active);
    let record = s.record().archive.unwrap();
    assert!(record.reason.contains("ECR recorded a pull"), "{record:?}");
    assert_eq!((record.at, record.archived_at), (T0 + DAY, None));

    let s = Setup::new("on_block = \"runtime\"\nmin_grace = \"2d\"", used(3, 0));
    s.scan("scan-1");
    assert_eq!(
        (s.tags(), s.storage()),
        (vec![QUARANTINED.to_string()], Storage::Active)
    );
    let record = s.record();
    let deadline = T0 + 2 * DAY;
    assert_eq!(record.archive.as_ref().map(|a| a.at), Some(deadline));
    assert_eq!(
        record.due_at,
        Some(deadline),
        "the sweep looks at the deadline"
    );
    let reasons = s.bodies()[0]["reasons"].to_string();
    assert!(
        reasons.contains("archives on") && reasons.contains("unless fixed or excepted"),
        "{reasons}"
    );
    // Before the deadline nothing happens; after it, the sweep archives it and says so.
    set_now(deadline - 60);
    s.sweep("run-1");
    assert_eq!(s.storage(), Storage::Active);
    set_now(deadline + 60);
    s.sweep("run-2");
    assert_eq!(s.storage(), Storage::Archived);
    let last = s.notifier.messages().pop().unwrap();
    assert!(last.subject.contains("ARCHIVED"), "{}", last.subject);
    assert_eq!(s.record().archive.unwrap().archived_at, Some(deadline + 60));
}

#[test]
fn an_exception_or_a_fix_before_the_deadline_cancels_it() {
    let s = Setup::new("on_block = \"runtime\"", used(1, 0));
    s.scan("scan-1");
    assert!(s.record().archive.is_some());
    s.set_findings(vec![Finding::new("CVE-2026-1", Severity::Low)]);
    s.scan("scan-2");
    assert_eq!(s.record().archive, None);
    set_now(T0 + 3 * DAY);
    s.sweep("run-1");
    assert_eq!(s.storage(), Storage::Active);
    assert_eq!(s.tags(), vec!["v1"]);
}

#[test]
fn a_release_restores_first_and_puts_the_tags_back_once_the_image_is_active() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    assert!(s.release(None).is_err(), "still blocks: --force needed");
    s.release(Some(7 * DAY)).unwrap();
    assert_eq!(s.storage(), Storage::Activating);
    assert_eq!(
        s.tags(),
        vec![QUARANTINED],
        "no tag before the image is active"
    );
    let record = s.record();
    assert_eq!(
        record
            .archive
            .as_ref()
            .and_then(|a| a.restore_by.as_deref()),
        Some("arn:aws:iam::123456789012:user/ops")
    );
    assert!(
        record.due_at.is_some(),
        "the sweep looks again if the restore event is lost"
    );
    // A restore event while ECR still restores changes nothing.
    s.restore_event("restore-1");
    assert_eq!(s.tags(), vec![QUARANTINED]);
    assert!(s.registry.finish_restore(REPO, DIGEST));
    s.restore_event("restore-2");
    assert_eq!(s.tags(), vec!["v1"]);
    assert_eq!(s.storage(), Storage::Active);
    assert_eq!(s.record().archive, None);
    // The override holds: a later scan neither re-tags nor archives.
    s.scan("scan-2");
    assert_eq!(
        (s.tags(), s.storage()),
        (vec!["v1".to_string()], Storage::Active)
    );
}

#[test]
fn the_sweep_puts_the_tags_back_when_the_restore_event_is_lost() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    s.release(Some(7 * DAY)).unwrap();
    assert!(s.registry.finish_restore(REPO, DIGEST));
    set_now(T0 + 3600);
    s.sweep("run-1");
    assert_eq!(s.tags(), vec!["v1"]);
    assert_eq!(s.record().archive, None);
}

#[test]
fn an_archived_blocked_digest_pushed_again_is_archived_again() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    set_now(T0 + DAY);
    // Pushing the same digest again restores it in ECR, with a new tag.
    s.registry.push(REPO, DIGEST, &["v1-again"], T0 + DAY);
    assert_eq!(s.storage(), Storage::Active);
    s.ecr_event(
        "push-2",
        json!({"action-type": "PUSH", "image-tag": "v1-again"}),
    );
    assert_eq!(s.storage(), Storage::Archived);
    assert!(!s.tags().iter().any(|t| t == "v1-again"), "{:?}", s.tags());
    let acts = s.last_actions();
    assert!(acts.contains(&"archive done".to_string()), "{acts:?}");
    // Restored by hand (not a release): the restore event archives it again.
    set_now(T0 + 2 * DAY);
    let image = ImageRef::home(REPO, DIGEST);
    use crate::ports::ImageRegistry;
    poll_once(s.registry.set_archived(REPO, &image.digest, false))
        .unwrap()
        .unwrap();
    s.registry.finish_restore(REPO, DIGEST);
    s.restore_event("restore-1");
    assert_eq!(s.storage(), Storage::Archived);
    assert!(s.registry.deleted().is_empty());
}

#[test]
fn archiving_counts_against_the_circuit_breaker() {
    let s = Setup::new(
        "on_block = \"archive\"\n[breaker]\nmax_tag_changes = 2\nwindow = \"1h\"",
        critical(),
    );
    s.scan("scan-1");
    // Two tag changes (add, remove) fill the window: the archive is held back, the image is not.
    assert_eq!(s.tags(), vec![QUARANTINED]);
    assert_eq!(s.storage(), Storage::Active);
    assert!(s.last_actions().contains(&"archive skipped".to_string()));
}

#[test]
fn a_lifecycle_rule_that_expires_archived_images_is_named() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.registry.set_archive_expiry(
        REPO,
        vec!["lifecycle rule 3 expires archived images (90 days after archiving)".into()],
    );
    s.scan("scan-1");
    let problems = s.bodies()[0]["problems"].to_string();
    assert!(
        problems.contains("lifecycle rule 3 expires archived images"),
        "{problems}"
    );
}

#[test]
fn an_archived_image_that_passes_later_stays_archived_until_a_release() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    s.set_findings(vec![Finding::new("CVE-2026-1", Severity::Low)]);
    s.scan("scan-2");
    assert_eq!(s.storage(), Storage::Archived);
    let record = s.record();
    assert_eq!(record.decision, Some(crate::domain::Decision::Pass));
    assert!(record.archive.unwrap().archived_at.is_some());
    let reasons = s.bodies().last().unwrap()["reasons"].to_string();
    assert!(reasons.contains("stays archived"), "{reasons}");
    // It passes now: release needs no --force, and brings it back.
    s.release(None).unwrap();
    assert!(s.registry.finish_restore(REPO, DIGEST));
    s.restore_event("restore-1");
    assert_eq!(s.tags(), vec!["v1"]);
}

#[test]
fn uninstalling_restores_what_the_gatekeeper_archived_then_puts_the_tags_back() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    let image = ImageRef::home(REPO, DIGEST);
    let dry = poll_once(s.gk.restore_all(&image, true, "ops"))
        .unwrap()
        .unwrap();
    assert_eq!(
        dry.0[0].status,
        crate::outbound::notice::ActionStatus::Would
    );
    assert_eq!(s.storage(), Storage::Archived, "a dry run changes nothing");
    poll_once(s.gk.restore_all(&image, false, "ops"))
        .unwrap()
        .unwrap();
    assert_eq!(s.storage(), Storage::Activating);
    assert_eq!(
        s.record().archive,
        None,
        "no longer the gatekeeper's to archive again"
    );
    assert!(s.registry.finish_restore(REPO, DIGEST));
    poll_once(s.gk.restore_all(&image, false, "ops"))
        .unwrap()
        .unwrap();
    assert_eq!(s.tags(), vec!["v1"]);
    assert!(s.registry.deleted().is_empty());
}

#[test]
fn an_exception_before_the_deadline_cancels_it() {
    let mut s = Setup::new("on_block = \"runtime\"", used(1, 0));
    s.scan("scan-1");
    assert!(s.record().archive.is_some());
    let text = "version = 1\n[defaults]\nblock = \"CRITICAL\"\non_block = \"runtime\"\n[[exception]]\nid = \"CVE-2026-41234\"\nrepositories = [\"*\"]\ncreated = 2027-01-01\nexpires = 2027-12-31\nreason = \"no fix yet, mitigated\"\nowner = \"team-a\"\n";
    s.gk.policy = Policy::parse(text).unwrap();
    s.scan("scan-2");
    assert_eq!(s.record().archive, None);
    set_now(T0 + 3 * DAY);
    s.sweep("run-1");
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Active, vec!["v1".to_string()])
    );
}

#[test]
fn platform_images_of_an_index_are_only_retagged() {
    let s = Setup::new("on_block = \"archive\"", critical());
    let index = ImageRef::home(
        REPO,
        "sha256:1111111111111111111111111111111111111111111111111111111111111111",
    );
    poll_once(crate::ports::ImageAnnotations::link_index(
        &s.state,
        &index,
        &[(DIGEST.to_string(), "linux/amd64".to_string())],
    ))
    .unwrap()
    .unwrap();
    s.scan("scan-1");
    assert_eq!(s.storage(), Storage::Active);
    assert_eq!(s.record().archive, None);
}

#[test]
fn a_repeated_restore_event_after_the_tags_came_back_changes_nothing() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    s.release(Some(7 * DAY)).unwrap();
    assert!(s.registry.finish_restore(REPO, DIGEST));
    s.restore_event("restore-1");
    assert_eq!(s.tags(), vec!["v1"]);
    let (before, sent) = (s.record(), s.notifier.messages().len());
    s.restore_event("restore-1");
    let after = s.record();
    assert_eq!(
        (after.decision, after.overridden, after.first_scan_at),
        (before.decision, before.overridden, before.first_scan_at)
    );
    assert_eq!(s.notifier.messages().len(), sent);
    assert_eq!(s.tags(), vec!["v1"]);
}

#[test]
fn a_passing_image_restored_by_hand_gets_its_tags_back() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    s.set_findings(vec![Finding::new("CVE-2026-1", Severity::Low)]);
    s.scan("scan-2");
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Archived, vec![QUARANTINED.to_string()])
    );
    set_now(T0 + DAY);
    use crate::ports::ImageRegistry;
    poll_once(s.registry.set_archived(REPO, DIGEST, false))
        .unwrap()
        .unwrap();
    s.registry.finish_restore(REPO, DIGEST);
    s.restore_event("restore-1");
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Active, vec!["v1".to_string()])
    );
    assert_eq!(s.record().archive, None);
}

#[test]
fn tags_held_back_by_the_breaker_after_a_restore_come_back_once_it_is_reset() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.scan("scan-1");
    s.release(Some(7 * DAY)).unwrap();
    assert!(s.registry.finish_restore(REPO, DIGEST));
    use crate::ports::TagChangeBreaker;
    poll_once(s.state.trip_breaker(T0, "test"))
        .unwrap()
        .unwrap();
    s.restore_event("restore-1");
    assert_eq!(s.tags(), vec![QUARANTINED]);
    let record = s.record();
    assert!(
        record.archive.is_some() && record.due_at.is_some(),
        "{record:?}"
    );
    poll_once(s.state.reset_breaker()).unwrap().unwrap();
    set_now(T0 + 3600);
    s.sweep("run-1");
    assert_eq!(s.tags(), vec!["v1"]);
    assert_eq!(s.record().archive, None);
}

#[test]
fn a_delivery_that_dies_between_its_record_and_the_archive_is_completed_by_the_next() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.gk.registry.hooks.halt("set_archived", 1);
    assert!(
        poll_once(s.gk.handle_scan_event(&s.findings, &scan_event(&s, "scan-1"))).is_none(),
        "died"
    );
    assert_eq!(s.storage(), Storage::Active);
    let record = s.record().archive.unwrap();
    assert!(
        record.archived_at.is_some() && !record.reason.is_empty(),
        "the intent is recorded first"
    );
    let next = second(&s);
    poll_once(next.handle_scan_event(&s.findings, &scan_event(&s, "scan-1")))
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Archived, vec![QUARANTINED.to_string()])
    );
    assert!(s.record().archive.unwrap().archived_at.is_some());
}

#[test]
fn a_fix_racing_the_deadlines_archive_leaves_what_the_block_then_the_fix_leave() {
    let s = Setup::new("on_block = \"runtime\"", used(1, 0));
    s.scan("scan-1");
    set_now(T0 + 2 * DAY);
    // The sweep archives at the deadline; just before ECR archives, a scan finds the image fixed.
    let fixer = Arc::new(second(&s));
    let findings = s.findings.clone();
    let event = {
        s.set_findings(vec![Finding::new("CVE-2026-1", Severity::Low)]);
        scan_event(&s, "scan-2")
    };
    s.findings.set(DIGEST, vec![critical()]);
    let (f, e, fx) = (findings.clone(), event.clone(), Arc::clone(&fixer));
    s.gk.registry
        .hooks
        .before("set_archived", 1, move || async move {
            f.set(DIGEST, vec![Finding::new("CVE-2026-1", Severity::Low)]);
            fx.handle_scan_event(&f, &e).await.unwrap();
        });
    s.sweep("run-1");
    assert!(s.gk.registry.hooks.unfired().is_empty());
    // As if the block's archive came first and the fix after: archived, tags blocked, the record
    // says why; only a release brings it back.
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Archived, vec![QUARANTINED.to_string()])
    );
    let record = s.record();
    assert_eq!(record.decision, Some(crate::domain::Decision::Pass));
    assert!(record.archive.unwrap().archived_at.is_some());
    assert!(s.registry.deleted().is_empty());
}

/// The scan event of the image with the counts its findings have now.
fn scan_event(s: &Setup, id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Inspector2 Scan", "source": "aws.inspector2",
        "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "account": "123456789012",
        "resources": [format!("arn:aws:ecr:eu-west-1:123456789012:repository/{REPO}")],
        "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": format!("arn:aws:ecr:eu-west-1:123456789012:repository/{REPO}"),
            "image-digest": DIGEST, "image-tags": ["v1"], "finding-severity-counts": s.counts.borrow().clone()}})
}

#[test]
fn the_day_before_the_deadline_the_sweep_reminds_once() {
    let s = Setup::new("on_block = \"runtime\"\nmin_grace = \"3d\"", used(1, 0));
    s.scan("scan-1");
    let reminders = |s: &Setup| {
        (s.notifier.messages().iter())
            .filter(|m| m.subject.contains("archives on"))
            .count()
    };
    set_now(T0 + DAY);
    s.sweep("run-1");
    assert_eq!(reminders(&s), 0, "two days before: not yet");
    set_now(T0 + 2 * DAY + 3600);
    s.sweep("run-2");
    s.sweep("run-3");
    assert_eq!(reminders(&s), 1, "once a day");
    assert_eq!(s.storage(), Storage::Active);
    set_now(T0 + 3 * DAY + 60);
    s.sweep("run-4");
    assert_eq!(s.storage(), Storage::Archived);
}

#[test]
fn a_deadline_held_back_by_a_lifecycle_rule_is_tried_again_a_day_later() {
    let s = Setup::new("on_block = \"runtime\"", used(1, 0));
    s.scan("scan-1");
    s.registry.set_archive_expiry(
        REPO,
        vec!["lifecycle rule 1 expires archived images".into()],
    );
    set_now(T0 + DAY + 60);
    s.sweep("run-1");
    assert_eq!(s.storage(), Storage::Active);
    assert_eq!(
        s.record().due_at,
        Some(T0 + 2 * DAY + 60),
        "not cleared by the sweep"
    );
    s.registry.set_archive_expiry(REPO, Vec::new());
    set_now(T0 + 2 * DAY + 120);
    s.sweep("run-2");
    assert_eq!(s.storage(), Storage::Archived);
}

#[test]
fn a_fix_after_an_archive_that_never_reached_ecr_gets_its_tags_back() {
    let s = Setup::new("on_block = \"archive\"", critical());
    s.gk.registry.hooks.halt("set_archived", 1);
    assert!(poll_once(s.gk.handle_scan_event(&s.findings, &scan_event(&s, "scan-1"))).is_none());
    assert!(s.record().archive.unwrap().archived_at.is_some());
    set_now(T0 + 3600);
    s.set_findings(vec![Finding::new("CVE-2026-1", Severity::Low)]);
    let next = second(&s);
    poll_once(next.handle_scan_event(&s.findings, &scan_event(&s, "scan-2")))
        .unwrap()
        .unwrap();
    // As if the fix came first: deployable, active, nothing recorded as archived.
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Active, vec!["v1".to_string()])
    );
    assert_eq!(s.record().archive, None);
}

#[test]
fn a_release_racing_an_archive_restores_the_image_once_archived() {
    let s = Setup::new("on_block = \"archive\"", critical());
    let operator = Arc::new(second(&s));
    let released = Arc::new(std::sync::Mutex::new(None));
    let (op, done) = (Arc::clone(&operator), Arc::clone(&released));
    let findings = s.findings.clone();
    s.gk.registry
        .hooks
        .before("set_archived", 1, move || async move {
            let image = ImageRef::home(REPO, DIGEST);
            let req = ReleaseRequest {
                image: &image,
                reason: "hotfix rollout",
                caller: "arn:aws:iam::123456789012:user/ops",
                force_for: Some(7 * DAY),
            };
            let r = op.release(&findings, Scanner::Enhanced, &req).await;
            *done.lock().unwrap() = Some(r.is_ok_and(|r| r.is_ok()));
        });
    s.scan("scan-1");
    assert_eq!(*released.lock().unwrap(), Some(true));
    assert_eq!(s.storage(), Storage::Archived, "the archive went through");
    let record = s.record().archive.unwrap();
    assert!(
        record.restore_by.is_some(),
        "the release is recorded: {record:?}"
    );
    // The sweep restores it, and once it is active its tags come back.
    set_now(T0 + 3600);
    s.sweep("run-1");
    assert_eq!(s.storage(), Storage::Activating);
    assert!(s.registry.finish_restore(REPO, DIGEST));
    s.restore_event("restore-1");
    assert_eq!(
        (s.storage(), s.tags()),
        (Storage::Active, vec!["v1".to_string()])
    );
    assert_eq!(s.record().archive, None);
}
