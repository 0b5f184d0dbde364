//! The sweep against moto (ECR, DynamoDB with the `due` index, SNS to SQS) with the clock driven by
//! each test: grace deadlines and exception ends act when they pass, reminders go once a day, lost
//! pushes, scan results and finding events are caught, holds that outlive the timeout are said once,
//! and a second sweep changes nothing. Inspector's cross-image queries come from a fake that filters
//! as Inspector does (moto's ListFindings ignores filters; the adapter's filters are tested with
//! aws-smithy-mocks in `inspector_mock.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::sync::atomic::{AtomicI64, Ordering};

use aws_sdk_ecr::types::ScanFrequency;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::time::{DAY, format_date, now};
use gatekeeper::domain::{Decision, Finding, Mode, Package, Severity};
use gatekeeper::outbound::chat::thread_id;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::{Status, SweepReport, SweepSettings};
use gatekeeper_tests::fixtures::{
    Aws, Setup, TestGatekeeper, WithScanStatus, basic_finding, clean_scan, finding_event_of,
    inspector_scan_counts, push_event, text,
};
use gatekeeper_tests::manifest::hex12;
use gatekeeper_tests::test_clock;
use serde_json::Value;

const HOUR: i64 = 3600;

fn critical(id: &str, first_observed: i64) -> Finding {
    let mut f = Finding::new(id, Severity::Critical);
    f.first_observed = Some(first_observed);
    f.packages.push(Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.13".into()),
    });
    f
}

/// Continuous enhanced scanning of every repository.
async fn enhanced(aws: &Aws) {
    aws.enhanced_scanning("*", ScanFrequency::ContinuousScan)
        .await
        .unwrap();
}

/// A test clock: the function the gatekeeper reads and the value it returns.
type Clock = (fn() -> i64, &'static AtomicI64);

/// `aws`'s gatekeeper enforcing `policy`, reading `clock`, which is set to `t0`.
fn enforcing_at(
    aws: &Aws,
    setup: &Setup,
    policy: Policy,
    (read, value): Clock,
    t0: i64,
) -> TestGatekeeper {
    value.store(t0, Ordering::SeqCst);
    let mut gk = aws.gatekeeper(setup, Mode::Enforce, policy);
    gk.clock = read;
    gk
}

fn quiet(r: &SweepReport) {
    assert_eq!(
        (r.changed, r.reminders, r.held_too_long, r.lost_pushes),
        (0, 0, 0, 0),
        "{r:?}"
    );
    assert!(r.failures.is_empty(), "{r:?}");
}

/// Asserts that the image's only tag, `tag`, gave way to its quarantine marker, and returns the
/// messages sent since the last look (JSON bodies, chat).
async fn quarantined(
    aws: &Aws,
    setup: &Setup,
    repo: &str,
    digest: &str,
    tag: &str,
) -> (Vec<Value>, Vec<Value>) {
    assert_eq!(
        aws.tags(repo, digest).await.unwrap(),
        vec![format!("quarantined-{tag}--{}", hex12(digest))]
    );
    aws.checked_bodies(setup).await
}

test_clock!(GRACE_NOW, grace_now, 0);

#[tokio::test]
async fn a_grace_deadline_blocks_when_it_passes_and_a_second_sweep_changes_nothing() {
    let (aws, setup) = Aws::with_repo("sweep-grace", "grace/api").await;
    enhanced(&aws).await;
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nnew_finding_margin = \"24h\"\ngrace = { CRITICAL = \"7d\" }\n",
    )
    .unwrap();
    let t0 = now();
    let gk = enforcing_at(&aws, &setup, policy, (grace_now, &GRACE_NOW), t0);
    let digest = aws.push("grace/api", "grace", &["v1"]).await;
    let inspector = FakeFindings::default();
    let settings = SweepSettings::default();

    // First scan clean; three days later a rescan finds a CRITICAL: it warns for 7 days.
    assert_eq!(
        clean_scan(&gk, &inspector, "g-1", "grace/api", &digest).await,
        Some(Decision::Pass)
    );
    let t1 = t0 + 3 * DAY;
    GRACE_NOW.store(t1, Ordering::SeqCst);
    let cve = critical("CVE-2026-5000", t1);
    let found = finding_event_of("g-2", "grace/api", &digest, &cve);
    inspector.set_for("grace/api", &digest, vec![cve], t1);
    let o = gk.handle_scan_event(&inspector, &found).await.unwrap();
    assert_eq!(o.decision, Some(Decision::Warn), "{o:?}");
    let (json, _) = aws.checked_bodies(&setup).await;
    let deadline = t1 + 7 * DAY;
    assert_eq!(
        json.last().unwrap()["deadline"],
        gatekeeper::domain::time::format_rfc3339(deadline).as_str()
    );

    // The day before: nothing is due.
    GRACE_NOW.store(deadline - DAY, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-1").await.unwrap();
    quiet(&r);
    assert_eq!(r.due, 0, "{r:?}");

    // Five minutes after the deadline: blocked, once.
    GRACE_NOW.store(deadline + 300, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-2").await.unwrap();
    assert_eq!((r.due, r.evaluated, r.changed), (1, 1, 1), "{r:?}");
    let (json, chat) = quarantined(&aws, &setup, "grace/api", &digest, "v1").await;
    assert_eq!(json.len(), 1);
    assert_eq!(
        (
            json[0]["decision"].as_str(),
            json[0]["previous_decision"].as_str()
        ),
        (Some("block"), Some("warn"))
    );
    assert_eq!(json[0]["trigger"]["kind"], "sweep");
    assert_eq!(
        chat[0]["metadata"]["threadId"],
        thread_id("grace/api", &digest).as_str()
    );

    // Again: nothing is due any more, nothing changes, nothing is sent.
    GRACE_NOW.store(deadline + 600, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-3").await.unwrap();
    quiet(&r);
    assert_eq!(r.due, 0, "{r:?}");
    assert!(aws.checked_bodies(&setup).await.0.is_empty());
}

test_clock!(EXCEPTION_NOW, exception_now, 0);

#[tokio::test]
async fn an_exception_is_reminded_once_a_day_and_its_end_blocks_lost_findings_and_lags_are_caught()
{
    let (aws, setup) = Aws::with_repo("sweep-exception", "ex/api").await;
    enhanced(&aws).await;
    // Reminders go out once per UTC day: the scenario's first hours must stay within one day, so it
    // starts at most 4 hours ago and before 20:00 UTC (a run at 22:10 failed when the +2 h step
    // crossed midnight and took the next day's reminder).
    let t0 = {
        let n = now();
        n - (n.rem_euclid(DAY) - 18 * HOUR).clamp(0, 4 * HOUR)
    };
    // Exceptions end at 00:00 UTC of their date: this one in 5 days.
    let expires_day = format_date(t0 + 5 * DAY);
    let expires =
        gatekeeper::domain::time::parse_rfc3339(&format!("{expires_day}T00:00:00Z")).unwrap();
    let policy = Policy::parse(&format!(
        "version = 1\nexpiry_notice = \"14d\"\n[defaults]\nblock = \"CRITICAL\"\n[[exception]]\nid = \"CVE-2026-6000\"\nrepositories = [\"ex/*\"]\ncreated = {}\nexpires = {expires_day}\nreason = \"not reachable\"\nowner = \"team-ex@example.com\"\n",
        format_date(t0 - 10 * DAY)
    ))
    .unwrap();
    let gk = enforcing_at(&aws, &setup, policy, (exception_now, &EXCEPTION_NOW), t0);
    let settings = SweepSettings::default();
    let inspector = FakeFindings::default();

    let excepted = aws.push("ex/api", "excepted", &["v1"]).await;
    let later = aws.push("ex/api", "later", &["v2"]).await;
    let lagging = aws.push("ex/api", "lagging", &["v3"]).await;
    let cve = critical("CVE-2026-6000", t0);
    let e = finding_event_of("e-1", "ex/api", &excepted, &cve);
    inspector.set_for("ex/api", &excepted, vec![cve], t0);
    assert_eq!(
        gk.handle_scan_event(&inspector, &e).await.unwrap().decision,
        Some(Decision::Pass)
    );
    inspector.set_for("ex/api", &later, vec![], t0);
    assert_eq!(
        clean_scan(&gk, &inspector, "e-2", "ex/api", &later).await,
        Some(Decision::Pass)
    );
    // Inspector counted a CRITICAL its list does not show yet: deferred, due in 10 minutes.
    inspector.set_for("ex/api", &lagging, vec![], t0);
    let lag = inspector_scan_counts("e-3", "ex/api", &lagging, &[("CRITICAL", 1)]);
    assert_eq!(
        gk.handle_scan_event(&inspector, &lag).await.unwrap().status,
        Status::Deferred
    );
    aws.checked_bodies(&setup).await;

    // The first sweep: one reminder (the exception ends within expiry_notice), threaded with the image.
    let r = gk.sweep(&inspector, &settings, "run-4").await.unwrap();
    assert_eq!((r.reminders, r.changed), (1, 0), "{r:?}");
    let (json, chat) = aws.checked_bodies(&setup).await;
    assert_eq!(json.len(), 1, "{json:?}");
    assert_eq!(json[0]["event_type"], "reminder");
    assert_eq!(json[0]["exception"]["id"], "CVE-2026-6000");
    assert_eq!(json[0]["images"][0]["digest"], excepted.as_str());
    assert_eq!(json[0]["days_left"], (expires - t0) / DAY);
    assert_eq!(
        chat[0]["metadata"]["threadId"],
        thread_id("ex/api", &excepted).as_str()
    );

    // Fifteen minutes later: the lagging list is complete and due; no second reminder today.
    EXCEPTION_NOW.store(t0 + 900, Ordering::SeqCst);
    inspector.set_for("ex/api", &lagging, vec![critical("CVE-2026-6001", t0)], t0);
    let r = gk.sweep(&inspector, &settings, "run-5").await.unwrap();
    assert_eq!((r.due, r.changed, r.reminders), (1, 1, 0), "{r:?}");
    let (json, _) = quarantined(&aws, &setup, "ex/api", &lagging, "v3").await;
    assert_eq!(json.len(), 1);

    // Two hours later a CRITICAL appears on `later`, and its finding event is lost.
    let t2 = t0 + 2 * HOUR;
    EXCEPTION_NOW.store(t2, Ordering::SeqCst);
    inspector.set_for(
        "ex/api",
        &later,
        vec![critical("CVE-2026-6002", t2)],
        t2 - 60,
    );
    let r = gk.sweep(&inspector, &settings, "run-6").await.unwrap();
    assert_eq!((r.updated_findings, r.changed), (1, 1), "{r:?}");
    quarantined(&aws, &setup, "ex/api", &later, "v2").await;

    // The next day: one more reminder.
    EXCEPTION_NOW.store(t0 + DAY, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-7").await.unwrap();
    assert_eq!((r.reminders, r.changed), (1, 0), "{r:?}");
    aws.checked_bodies(&setup).await;

    // Thirty minutes after the exception ends, the image it covered blocks; evaluated once although
    // both the exception's end and the image's due time point at it.
    EXCEPTION_NOW.store(expires + 1800, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-8").await.unwrap();
    assert_eq!((r.exceptions, r.due), (1, 1), "{r:?}");
    assert_eq!((r.evaluated, r.changed), (1, 1), "{r:?}");
    let (json, _) = quarantined(&aws, &setup, "ex/api", &excepted, "v1").await;
    assert_eq!(json.len(), 1);
    assert!(
        json[0]["reasons"].to_string().contains("expired"),
        "{}",
        json[0]
    );

    // A second sweep right after changes nothing.
    EXCEPTION_NOW.store(expires + 2400, Ordering::SeqCst);
    let r = gk.sweep(&inspector, &settings, "run-9").await.unwrap();
    quiet(&r);
    assert!(aws.checked_bodies(&setup).await.0.is_empty());
}

test_clock!(LOST_NOW, lost_now, 0);

#[tokio::test]
async fn a_lost_push_is_admitted_and_a_lost_scan_result_is_decided() {
    let (aws, setup) = Aws::with_repo("sweep-lost", "lost").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let mut gk = gk.with_registry(WithScanStatus::new(&aws));
    gk.clock = lost_now;
    let pushed = now();
    let digest = aws.push("lost", "never-seen", &["v1"]).await;
    let settings = SweepSettings::default();
    let none = FakeFindings::default();

    // Its push event never arrived: the sweep admits it (a basic scan is started).
    LOST_NOW.store(pushed + 300, Ordering::SeqCst);
    let r = gk.sweep(&none, &settings, "run-10").await.unwrap();
    assert_eq!((r.lost_pushes, r.evaluated), (1, 0), "{r:?}");

    // The scan completed with a CRITICAL and its event was lost too: decided by the next sweep.
    aws.seed_basic_scan(
        "lost",
        &digest,
        vec![basic_finding("CVE-2026-7000", "CRITICAL", "zlib")],
    )
    .await;
    gk.registry.report(Some("COMPLETE"));
    LOST_NOW.store(pushed + 600, Ordering::SeqCst);
    let r = gk.sweep(&none, &settings, "run-11").await.unwrap();
    assert_eq!((r.undecided, r.changed), (1, 1), "{r:?}");
    let (json, _) = quarantined(&aws, &setup, "lost", &digest, "v1").await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["decision"], "block");

    LOST_NOW.store(pushed + 900, Ordering::SeqCst);
    quiet(&gk.sweep(&none, &settings, "run-12").await.unwrap());
    assert!(aws.checked_bodies(&setup).await.0.is_empty());
}

test_clock!(HELD_NOW, held_now, 0);

#[tokio::test]
async fn a_hold_that_outlives_the_timeout_is_said_once_and_released_when_the_policy_no_longer_holds()
 {
    let (aws, setup) = Aws::with_repo("sweep-held", "held/app").await;
    let hold =
        Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\nunscanned = \"hold\"\n")
            .unwrap();
    let t0 = now();
    let gk = enforcing_at(&aws, &setup, hold, (held_now, &HELD_NOW), t0);
    let digest = aws.push("held/app", "held", &["v1"]).await;
    gk.handle_push_event(&push_event("h-1", "held/app", &digest, "v1"))
        .await
        .unwrap();
    let held = vec![format!("held-v1--{}", hex12(&digest))];
    assert_eq!(aws.tags("held/app", &digest).await.unwrap(), held);
    aws.checked_bodies(&setup).await;
    let settings = SweepSettings {
        interval: HOUR,
        held_timeout: 6 * HOUR,
    };
    let none = FakeFindings::default();

    HELD_NOW.store(t0 + 5 * HOUR, Ordering::SeqCst);
    quiet(&gk.sweep(&none, &settings, "run-13").await.unwrap());

    HELD_NOW.store(t0 + 7 * HOUR, Ordering::SeqCst);
    let r = gk.sweep(&none, &settings, "run-14").await.unwrap();
    assert_eq!(r.held_too_long, 1, "{r:?}");
    let (json, _) = aws.checked_bodies(&setup).await;
    assert_eq!(json.len(), 1);
    assert_eq!(json[0]["decision"], "pending");
    assert!(
        text(&json[0]["reasons"][0]).starts_with("still unscanned after 7 h: its tags stay held"),
        "{}",
        json[0]
    );
    assert_eq!(aws.tags("held/app", &digest).await.unwrap(), held);

    HELD_NOW.store(t0 + 8 * HOUR, Ordering::SeqCst);
    quiet(&gk.sweep(&none, &settings, "run-15").await.unwrap());
    assert!(aws.checked_bodies(&setup).await.0.is_empty());

    // Another image, held under the old policy, after a policy that no longer holds is deployed.
    let other = aws.push("held/app", "held-2", &["v2"]).await;
    HELD_NOW.store(t0, Ordering::SeqCst);
    gk.handle_push_event(&push_event("h-2", "held/app", &other, "v2"))
        .await
        .unwrap();
    aws.checked_bodies(&setup).await;
    let allow = enforcing_at(
        &aws,
        &setup,
        Policy::builtin(),
        (held_now, &HELD_NOW),
        t0 + 9 * HOUR,
    );
    let r = allow.sweep(&none, &settings, "run-16").await.unwrap();
    assert_eq!(r.held_too_long, 1, "{r:?}");
    assert_eq!(
        aws.tags("held/app", &other).await.unwrap(),
        vec!["v2".to_string()]
    );
    let (json, _) = aws.checked_bodies(&setup).await;
    assert_eq!(json.len(), 1);
    assert!(
        text(&json[0]["reasons"][0]).contains("no longer holds unscanned images"),
        "{}",
        json[0]
    );
}
