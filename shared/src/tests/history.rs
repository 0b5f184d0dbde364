//! The verdict history over the in-memory fakes: one record per applied change (retries and
//! duplicates record it once), releases and deletions with their cause and actor, and the report's
//! figures computed from what was recorded: a fix is the new digest that passes, the old one stays
//! blocked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::json;

use super::{Container, container, now, set_now};
use crate::domain::events::Scanner;
use crate::domain::history::{Cause, Change, Standing};
use crate::domain::policy::Policy;
use crate::domain::remediation::{Settings, Sla};
use crate::domain::time::DAY;
use crate::domain::{Decision, Finding, ImageRef, Severity};
use crate::ports::VerdictHistory;
use crate::ports::fakes::{FakeFindings, FakeRegistry, FakeState, RecordingNotifier, poll_once};
use crate::service::{ReleaseRequest, remediation};

const REPO: &str = "team-a/api";
const OLD: &str = "sha256:5b5a96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";
const NEW: &str = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const T0: i64 = 1_800_000_000;

struct Setup {
    registry: FakeRegistry,
    findings: FakeFindings,
    state: FakeState,
    gk: Container,
}

impl Setup {
    fn new() -> Setup {
        set_now(T0);
        let registry = FakeRegistry::default();
        let (notifier, state) = (RecordingNotifier::default(), FakeState::default());
        let mut gk = container(&registry, &notifier, &state);
        gk.policy = Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\n").unwrap();
        gk.clock = now;
        Setup {
            registry,
            findings: FakeFindings::default(),
            state,
            gk,
        }
    }

    /// The scan event of `digest` (tagged `v1`), delivered as event `id`.
    fn scan(&self, id: &str, digest: &str, findings: Vec<Finding>) {
        let counts = json!({"TOTAL": findings.len(), "CRITICAL": findings.len()});
        self.findings.set(digest, findings);
        let arn = format!("arn:aws:ecr:eu-west-1:123456789012:repository/{REPO}");
        let event = json!({"version": "0", "id": id, "detail-type": "Inspector2 Scan", "source": "aws.inspector2",
            "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "account": "123456789012", "resources": [arn],
            "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn,
                "image-digest": digest, "image-tags": ["v1"], "finding-severity-counts": counts}});
        poll_once(self.gk.handle_scan_event(&self.findings, &event))
            .unwrap()
            .unwrap();
    }

    /// ECR's push event of `digest` tagged `v1`, as it arrives before the scan.
    fn push(&self, id: &str, digest: &str, pushed_at: i64) {
        self.registry.push(REPO, digest, &["v1"], pushed_at);
        let event = json!({"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
            "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"result": "SUCCESS", "action-type": "PUSH", "repository-name": REPO, "image-digest": digest,
                "image-tag": "v1", "manifest-media-type": "application/vnd.docker.distribution.manifest.v2+json",
                "artifact-media-type": "application/vnd.docker.container.image.v1+json"}});
        poll_once(self.gk.handle_push_event(&event))
            .unwrap()
            .unwrap();
    }

    fn delete(&self, id: &str, digest: &str) {
        self.registry.delete_by_user(REPO, digest);
        let event = json!({"version": "0", "id": id, "detail-type": "ECR Image Action", "source": "aws.ecr",
            "account": "123456789012", "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [],
            "detail": {"result": "SUCCESS", "action-type": "DELETE", "repository-name": REPO, "image-digest": digest}});
        poll_once(self.gk.handle_push_event(&event))
            .unwrap()
            .unwrap();
    }

    fn history(&self) -> Vec<Change> {
        self.state.history()
    }
}

fn critical() -> Finding {
    Finding::new("CVE-2026-41234", Severity::Critical)
}

fn standing(decision: Decision, released: bool) -> Option<Standing> {
    Some(Standing::new(decision, released))
}

#[test]
fn each_applied_change_is_recorded_once_with_its_cause_actor_and_what_decided_it() {
    let s = Setup::new();
    // Pushed first (the push leaves the image's record `pending`: no change in the history), then
    // scanned.
    s.push("push-old", OLD, T0 - 600);
    s.scan("scan-old", OLD, vec![critical()]);
    // The same event again (a retry), and a duplicate delivery: nothing new happened.
    s.scan("scan-old", OLD, vec![critical()]);
    s.scan("scan-old-dup", OLD, vec![critical()]);
    let h = s.history();
    assert_eq!(h.len(), 1, "{h:#?}");
    let block = &h[0];
    assert_eq!(
        (block.from, block.to, block.pushed_at),
        (
            standing(Decision::Pending, false),
            standing(Decision::Block, false),
            Some(T0 - 600)
        )
    );
    assert_eq!(
        (block.cause, block.actor.as_str(), block.rule.as_str()),
        (Cause::Scan, "scan-old", "defaults")
    );
    assert_eq!(block.tags, vec!["v1"]);
    assert_eq!(block.blocking.len(), 1);
    assert_eq!(block.blocking[0].id, "CVE-2026-41234");

    // The fix ships as a new digest under the same tag, three days later; the old one stays blocked.
    set_now(T0 + 3 * DAY);
    s.push("push-new", NEW, T0 + 3 * DAY - 60);
    s.scan("scan-new", NEW, vec![]);
    // An operator releases the old digest for a day, then it is deleted (twice: a retried event).
    set_now(T0 + 4 * DAY);
    let old = ImageRef::home(REPO, OLD);
    let req = ReleaseRequest {
        image: &old,
        reason: "rollback",
        caller: "arn:aws:iam::123456789012:user/ops",
        force_for: Some(DAY),
    };
    poll_once(s.gk.release(&s.findings, Scanner::Enhanced, &req))
        .unwrap()
        .unwrap()
        .unwrap();
    set_now(T0 + 5 * DAY);
    s.delete("delete-old", OLD);
    s.delete("delete-old", OLD);

    let h = s.history();
    let of = |digest: &str| -> Vec<&Change> { h.iter().filter(|c| c.digest == digest).collect() };
    let new = of(NEW);
    assert_eq!(new.len(), 1, "{h:#?}");
    assert_eq!(
        (new[0].from, new[0].to, new[0].tags.clone()),
        (
            standing(Decision::Pending, false),
            standing(Decision::Pass, false),
            vec!["v1".to_string()]
        )
    );
    let old_changes = of(OLD);
    assert_eq!(old_changes.len(), 3, "{h:#?}");
    let release = old_changes
        .iter()
        .find(|c| c.cause == Cause::Release)
        .unwrap();
    assert_eq!(
        (release.from, release.to, release.actor.as_str()),
        (
            standing(Decision::Block, false),
            standing(Decision::Block, true),
            "arn:aws:iam::123456789012:user/ops"
        )
    );
    let deleted = old_changes
        .iter()
        .find(|c| c.cause == Cause::Deleted)
        .unwrap();
    assert_eq!(
        (deleted.from, deleted.to, deleted.actor.as_str()),
        (standing(Decision::Block, true), None, "delete-old")
    );

    // The images now: the deleted one is gone, the new one passes.
    let now_images = poll_once(s.state.images_now()).unwrap().unwrap();
    assert_eq!(now_images.len(), 1);
    assert_eq!(now_images[0].0.digest, NEW);

    // What the report makes of it: the ticket fixed in three days by the new digest (not by the
    // release or the deletion, which came later), the tag v1 fixed in three days, nothing open.
    let settings = Settings {
        now: T0 + 6 * DAY,
        since: T0 - 400 * DAY,
        windows: vec![30],
        sla: Sla::default(),
    };
    let r = poll_once(remediation(&s.state, &settings))
        .unwrap()
        .unwrap();
    let w = &r.windows[0];
    assert_eq!(
        (
            w.opened,
            w.fixed.count,
            w.fixed.mean_days,
            w.released,
            w.deleted
        ),
        (1, 1, Some(3.0), 0, 0)
    );
    assert_eq!((w.tags_fixed.count, w.tags_fixed.mean_days), (1, Some(3.0)));
    assert_eq!((r.now.blocked, r.now.open_tickets), (0, 0));
    // The old image's block ended with its release, after four days.
    assert_eq!(
        (w.blocks_ended.count, w.blocks_ended.mean_days),
        (1, Some(4.0))
    );
}
