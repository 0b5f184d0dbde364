//! Verdict tests, table-driven: every criterion, exceptions, suppression, fixable_only, grace and
//! scan states, each at its boundaries.

use super::*;
use crate::domain::policy::Policy;
use crate::domain::time::date_epoch;
use crate::domain::{FixAvailable, Package};

const NOW: Epoch = 1_795_000_000;
const HOUR: Epoch = 3600;

fn policy(text: &str) -> Policy {
    Policy::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn f(id: &str, s: Severity) -> Finding {
    let mut f = Finding::new(id, s);
    f.packages.push(Package {
        name: "openssl".into(),
        version: Some("3.0.1".into()),
        fixed_in: Some("3.0.2".into()),
    });
    f.fix_available = Some(FixAvailable::Yes);
    f
}

/// Asserts that one of the verdict's reasons is `wanted`, showing them all when none is.
#[track_caller]
fn assert_reason(v: &Verdict, wanted: impl Fn(&str) -> bool) {
    assert!(v.reasons.iter().any(|r| wanted(r)), "{:?}", v.reasons);
}

fn decide(p: &Policy, findings: &[Finding]) -> Verdict {
    evaluate(
        p,
        &Subject::new("team/app", "sha256:aa", NOW),
        findings,
        &ScanState::Complete,
    )
}

#[test]
fn every_criterion_at_its_boundary() {
    let p = policy(
        r#"version = 1
[defaults]
block = { severity = "CRITICAL", exploitable = "HIGH", epss = 0.7, score = 9.5 }
warn = { severity = "MEDIUM", epss = 0.1 }
"#,
    );
    use Decision::{Block, Pass, Warn};
    use Severity::{Critical, High, Low, Medium, Untriaged};
    /// (case, the finding's severity, what else it carries, the decision)
    type Case = (&'static str, Severity, fn(&mut Finding), Decision);
    let cases: [Case; 14] = [
        ("critical by severity", Critical, |_| {}, Block),
        ("high warns by severity", High, |_| {}, Warn),
        (
            "high with exploit blocks",
            High,
            |x| x.exploit_available = Some(true),
            Block,
        ),
        (
            "high without exploit warns",
            High,
            |x| x.exploit_available = Some(false),
            Warn,
        ),
        (
            "medium with exploit: under exploitable",
            Medium,
            |x| x.exploit_available = Some(true),
            Warn,
        ),
        (
            "epss exactly at 0.7 blocks",
            Low,
            |x| x.epss = Some(0.7),
            Block,
        ),
        (
            "epss just under 0.7 warns by epss 0.1",
            Low,
            |x| x.epss = Some(0.699),
            Warn,
        ),
        (
            "epss under every threshold passes",
            Low,
            |x| x.epss = Some(0.05),
            Pass,
        ),
        (
            "score exactly 9.5 blocks",
            Low,
            |x| x.score = Some(9.5),
            Block,
        ),
        ("score 9.4 passes a LOW", Low, |x| x.score = Some(9.4), Pass),
        (
            "no scores: a CRITICAL still blocks",
            Critical,
            |x| (x.score, x.epss) = (None, None),
            Block,
        ),
        (
            "no scores: a LOW passes",
            Low,
            |x| (x.score, x.epss) = (None, None),
            Pass,
        ),
        (
            "untriaged never meets a severity threshold",
            Untriaged,
            |_| {},
            Pass,
        ),
        (
            "untriaged with a high score blocks",
            Untriaged,
            |x| x.score = Some(9.9),
            Block,
        ),
    ];
    for (name, severity, change, want) in cases {
        let mut finding = f("CVE-1", severity);
        change(&mut finding);
        assert_eq!(decide(&p, &[finding]).decision, want, "{name}");
    }
}

#[test]
fn reasons_say_why_and_list_blocking_before_warning() {
    let p = policy(
        "version = 1\n[defaults]\nblock = { severity = \"CRITICAL\", epss = 0.5 }\nwarn = \"HIGH\"\n",
    );
    let mut e = f("CVE-E", Severity::Medium);
    e.epss = Some(0.93);
    let mut findings: Vec<Finding> = (0..5)
        .map(|i| f(&format!("CVE-H{i}"), Severity::High))
        .collect();
    findings.push(f("CVE-C", Severity::Critical));
    findings.push(e);
    let v = decide(&p, &findings);
    assert_eq!((v.decision, v.blocking, v.warning), (Decision::Block, 2, 5));
    assert_eq!(
        v.reasons[0],
        "2 finding(s) block under rule defaults: CVE-C (CRITICAL openssl), CVE-E (MEDIUM openssl, EPSS 0.93)"
    );
    assert_eq!(
        v.reasons[1],
        "5 finding(s) warn under rule defaults: CVE-H0 (HIGH openssl), CVE-H1 (HIGH openssl), CVE-H2 (HIGH openssl) and 2 more"
    );
    assert_eq!(v.top[0].id, "CVE-C");
    assert_eq!(v.top[1].id, "CVE-E");
}

#[test]
fn fixable_only_demotes_unfixed_blocking_findings_to_warn() {
    let p = policy(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\nfixable_only = true\n",
    );
    let mut unfixed = f("CVE-1", Severity::Critical);
    unfixed.fix_available = Some(FixAvailable::No);
    let mut partial = f("CVE-2", Severity::Critical);
    partial.fix_available = Some(FixAvailable::Partial);
    let mut unknown = f("CVE-3", Severity::Critical);
    unknown.fix_available = None;
    unknown.packages[0].fixed_in = None;
    let cases = [
        (unfixed, Decision::Warn),
        (partial, Decision::Block),
        (unknown.clone(), Decision::Warn),
        (f("CVE-4", Severity::Critical), Decision::Block),
    ];
    for (finding, want) in cases {
        let v = decide(&p, std::slice::from_ref(&finding));
        assert_eq!(
            v.decision, want,
            "{} {:?}",
            finding.id, finding.fix_available
        );
    }
    assert_reason(&decide(&p, &[unknown]), |r| {
        r.contains("without a fix warn instead of blocking")
    });
}

fn at(y: i64, m: u32, d: u32) -> Epoch {
    let field = |v: u32| u8::try_from(v).unwrap();
    date_epoch(i32::try_from(y).unwrap(), field(m), field(d)).unwrap()
}

#[test]
fn exceptions_exempt_until_they_expire_and_the_verdict_says_so() {
    let p = policy(
        r#"version = 1
expiry_notice = "7d"
[exception_limits]
CRITICAL = "30d"
[defaults]
block = "CRITICAL"
warn = "HIGH"
[[exception]]
id = "CVE-1"
repositories = ["team/*"]
created = 2026-11-01
expires = 2026-11-25
reason = "vendor fix pending"
owner = "team-app"
ticket = "SEC-9"
[[exception]]
id = "CVE-2"
repositories = ["*"]
created = 2026-09-01
expires = 2027-01-01
reason = "too long for a CRITICAL"
owner = "sec"
"#,
    );
    let judged = |now: Epoch, findings: &[Finding]| {
        let subject = Subject::new("team/app", "sha256:aa", now);
        evaluate(&p, &subject, findings, &ScanState::Complete)
    };
    let one = [f("CVE-1", Severity::Critical)];
    let before = judged(at(2026, 11, 10), &one);
    assert_eq!(before.decision, Decision::Pass, "{:?}", before.reasons);
    assert_eq!(
        before.exceptions,
        vec![AppliedException {
            id: "CVE-1".into(),
            owner: "team-app".into(),
            expires: "2026-11-25".into(),
            expires_at: at(2026, 11, 25),
            ticket: Some("SEC-9".into()),
            findings: 1
        }]
    );
    assert_reason(&before, |r| {
        r.starts_with("1 finding(s) exempt by 1 exception(s): CVE-1 (team-app, until 2026-11-25)")
    });
    assert!(
        !before.reasons.iter().any(|r| r.contains("expires on")),
        "not within the 7-day notice yet"
    );
    assert_reason(&judged(at(2026, 11, 20), &one), |r| {
        r == "exception CVE-1 (team-app) expires on 2026-11-25 (in 5 day(s))"
    });
    let last_second = judged(at(2026, 11, 25) - 1, &one);
    assert_eq!(last_second.decision, Decision::Pass);
    let after = judged(at(2026, 11, 25), &one);
    assert_eq!(after.decision, Decision::Block);
    assert_reason(&after, |r| {
        r == "exception CVE-1 (team-app) expired on 2026-11-25: it no longer applies"
    });
    // The lifetime limit is checked against the finding's actual severity: fine for a HIGH, not for a CRITICAL.
    let high = judged(at(2026, 11, 10), &[f("CVE-2", Severity::High)]);
    assert_eq!(high.decision, Decision::Pass);
    let critical = judged(at(2026, 11, 10), &[f("CVE-2", Severity::Critical)]);
    assert_eq!(critical.decision, Decision::Block);
    assert_reason(&critical, |r| {
        r.contains("lasts 122 days, over the 30-day limit for CRITICAL")
    });
}

#[test]
fn suppressed_findings_count_unless_the_rule_exempts_them_and_are_always_shown() {
    let mut s = f("CVE-1", Severity::Critical);
    s.status = FindingStatus::Suppressed;
    let counting = decide(
        &policy("version = 1\n[defaults]\nblock = \"CRITICAL\"\n"),
        std::slice::from_ref(&s),
    );
    assert_eq!(counting.decision, Decision::Block);
    assert_reason(&counting, |r| {
        r.starts_with("1 Inspector-suppressed finding(s) counted")
    });
    let exempting = decide(
        &policy("version = 1\n[defaults]\nblock = \"CRITICAL\"\nsuppressed = \"exempt\"\n"),
        &[s],
    );
    assert_eq!(exempting.decision, Decision::Pass);
    assert_reason(&exempting, |r| {
        r == "1 Inspector-suppressed finding(s) exempt under rule defaults"
    });
    assert_eq!(exempting.counts.total(), 0);
}

#[test]
fn grace_for_new_cves_on_old_images() {
    let p = policy(
        r#"version = 1
[defaults]
block = "CRITICAL"
warn = "HIGH"
grace = { CRITICAL = "7d" }
grace_in_use = { CRITICAL = "2d" }
"#,
    );
    let baseline = at(2026, 11, 1);
    let found = |offset: Epoch| {
        let mut x = f("CVE-1", Severity::Critical);
        x.first_observed = Some(baseline + offset);
        x
    };
    let subject = |now, in_use, baseline| Subject {
        repository: "team/app",
        digest: "sha256:aa",
        baseline,
        in_use,
        now,
    };
    let cases = [
        (
            "fresh image: found within the 24 h margin blocks at once",
            found(2 * HOUR),
            baseline + 3 * HOUR,
            false,
            Some(baseline),
            Decision::Block,
        ),
        (
            "margin boundary: exactly 24 h is still the first scan",
            found(DAY),
            baseline + DAY + HOUR,
            false,
            Some(baseline),
            Decision::Block,
        ),
        (
            "rescan finding, inside grace",
            found(10 * DAY),
            baseline + 12 * DAY,
            false,
            Some(baseline),
            Decision::Warn,
        ),
        (
            "rescan finding, last second of grace",
            found(10 * DAY),
            baseline + 17 * DAY - 1,
            false,
            Some(baseline),
            Decision::Warn,
        ),
        (
            "rescan finding, grace over",
            found(10 * DAY),
            baseline + 17 * DAY,
            false,
            Some(baseline),
            Decision::Block,
        ),
        (
            "in use: shorter grace, over",
            found(10 * DAY),
            baseline + 12 * DAY,
            true,
            Some(baseline),
            Decision::Block,
        ),
        (
            "in use: shorter grace, inside",
            found(10 * DAY),
            baseline + 11 * DAY,
            true,
            Some(baseline),
            Decision::Warn,
        ),
        (
            "no baseline: no grace",
            found(10 * DAY),
            baseline + 12 * DAY,
            false,
            None,
            Decision::Block,
        ),
    ];
    for (name, finding, now, in_use, base, want) in cases {
        let v = evaluate(
            &p,
            &subject(now, in_use, base),
            std::slice::from_ref(&finding),
            &ScanState::Complete,
        );
        assert_eq!(v.decision, want, "{name}: {:?}", v.reasons);
        if want == Decision::Warn {
            let end = finding.first_observed.unwrap() + if in_use { 2 * DAY } else { 7 * DAY };
            assert_eq!(v.deadline, Some(end), "{name}");
            assert!(
                v.reasons
                    .iter()
                    .any(|r| r.ends_with(&format!("blocks on {}", format_date(end)))),
                "{name}: {:?}",
                v.reasons
            );
        }
    }
    // No grace for HIGH configured, and HIGH only warns anyway; a finding without a first-observed time gets none.
    let mut unknown = f("CVE-2", Severity::Critical);
    unknown.first_observed = None;
    assert_eq!(
        evaluate(
            &p,
            &subject(baseline + 12 * DAY, false, Some(baseline)),
            &[unknown],
            &ScanState::Complete
        )
        .decision,
        Decision::Block
    );
}

#[test]
fn an_unusable_or_running_scan_is_never_pass_but_blocking_findings_still_block() {
    let p = Policy::builtin();
    let s = Subject::new("r", "d", NOW);
    for scan in [
        ScanState::Unusable("SCAN_ELIGIBILITY_EXPIRED".into()),
        ScanState::Unusable("FAILED".into()),
        ScanState::InProgress,
    ] {
        assert_eq!(
            evaluate(&p, &s, &[], &scan).decision,
            Decision::Pending,
            "{scan:?}"
        );
        assert_eq!(
            evaluate(&p, &s, &[f("a", Severity::High)], &scan).decision,
            Decision::Pending,
            "{scan:?}"
        );
        assert_eq!(
            evaluate(&p, &s, &[f("a", Severity::Critical)], &scan).decision,
            Decision::Block,
            "{scan:?}"
        );
        assert_eq!(
            evaluate_counts(p.rule_for("r"), &SeverityCounts::default(), &scan).decision,
            Decision::Pending
        );
    }
    assert_eq!(
        evaluate(&p, &s, &[], &ScanState::Unknown).decision,
        Decision::Pass
    );
}

#[test]
fn closed_findings_do_not_count() {
    let mut closed = f("CVE-1", Severity::Critical);
    closed.status = FindingStatus::Closed;
    let v = decide(&Policy::builtin(), &[closed]);
    assert_eq!((v.decision, v.counts.total()), (Decision::Pass, 0));
}

#[test]
fn counts_only_evaluation() {
    let p = Policy::builtin();
    let mut counts = SeverityCounts::default();
    counts.add_n(Severity::High, 61);
    assert_eq!(
        evaluate_counts(p.rule_for("r"), &counts, &ScanState::Complete).decision,
        Decision::Warn
    );
    counts.add_n(Severity::Critical, 7);
    let v = evaluate_counts(p.rule_for("r"), &counts, &ScanState::Complete);
    assert_eq!(
        (v.decision, v.blocking, v.warning),
        (Decision::Block, 7, 61)
    );
}

#[test]
fn top_findings_are_bounded() {
    let findings: Vec<Finding> = (0..30)
        .map(|i| f(&format!("CVE-{i:02}"), Severity::Critical))
        .collect();
    let v = decide(&Policy::builtin(), &findings);
    assert_eq!(v.top.len(), TOP_FINDINGS);
    assert_eq!(v.blocking, 30);
}

#[test]
fn a_first_observation_in_the_future_is_taken_as_now_and_grace_ends_a_grace_period_later() {
    let p = policy(
        r#"version = 1
[defaults]
block = "CRITICAL"
grace = { CRITICAL = "7d" }
"#,
    );
    let mut x = f("CVE-1", Severity::Critical);
    x.first_observed = Some(253_402_300_799); // 9999-12-31T23:59:59Z
    let now = NOW;
    let subject = Subject {
        repository: "team/app",
        digest: "sha256:aa",
        baseline: Some(now - 30 * DAY),
        in_use: false,
        now,
    };
    let v = evaluate(&p, &subject, &[x], &ScanState::Complete);
    assert_eq!(v.deadline, Some(now + 7 * DAY), "{:?}", v.reasons);
}

#[test]
fn an_unrecognised_severity_is_named_in_the_verdict() {
    let p = Policy::builtin();
    let mut x = f("CVE-9", Severity::Critical);
    x.severity_note =
        Some("severity \"CRITICA\" is not one AWS documents: CRITICAL from its score 9.8".into());
    let v = decide(&p, &[x]);
    assert_eq!(v.decision, Decision::Block);
    assert_reason(&v, |r| {
        r.starts_with("CVE-9: severity \"CRITICA\" is not one AWS documents")
    });
}

#[test]
fn a_finding_is_judged_by_block_before_warn_and_one_meeting_neither_is_no_hit() {
    let p = policy("version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n");
    let rule = p.rule_for("team/app");
    assert_eq!(
        criterion(rule, &f("CVE-1", Severity::Critical)),
        Some((Level::Block, Criterion::Severity))
    );
    assert_eq!(
        criterion(rule, &f("CVE-2", Severity::High)),
        Some((Level::Warn, Criterion::Severity))
    );
    assert_eq!(criterion(rule, &f("CVE-3", Severity::Medium)), None);
}

#[test]
fn an_applying_exception_is_recorded_once_with_its_count_and_an_expired_one_is_noted_once() {
    let p = policy(
        r#"version = 1
[defaults]
block = "CRITICAL"
[[exception]]
id = "CVE-1"
repositories = ["team/*"]
created = 2026-11-01
expires = 2026-12-01
reason = "vendor fix pending"
owner = "team-app"
[[exception]]
id = "CVE-2"
repositories = ["*"]
created = 2026-10-01
expires = 2026-11-01
reason = "was fixed upstream"
owner = "sec"
"#,
    );
    let subject = Subject::new("team/app", "sha256:aa", at(2026, 11, 10));
    let findings = [
        f("CVE-1", Severity::Critical),
        f("CVE-1", Severity::Critical),
        f("CVE-2", Severity::Critical),
        f("CVE-2", Severity::Critical),
        f("CVE-3", Severity::Critical),
    ];
    let mut tally = Tally::default();
    let exempt: Vec<bool> = findings
        .iter()
        .map(|x| tally.exempts(&p, &subject, x))
        .collect();
    assert_eq!(exempt, [true, true, false, false, false]);
    let applied: Vec<(&str, u32)> = tally
        .applied
        .values()
        .map(|a| (a.id.as_str(), a.findings))
        .collect();
    assert_eq!(applied, [("CVE-1", 2)]);
    assert_eq!(
        tally.notes.expired.into_values().collect::<Vec<_>>(),
        ["exception CVE-2 (sec) expired on 2026-11-01: it no longer applies"]
    );
}

#[test]
fn demotion_warns_for_a_missing_fix_or_a_running_grace_and_keeps_the_earliest_deadline() {
    let p = policy(
        r#"version = 1
[defaults]
block = "CRITICAL"
fixable_only = true
grace = { CRITICAL = "7d" }
"#,
    );
    let rule = p.rule_for("team/app");
    let subject = Subject {
        baseline: Some(NOW - 30 * DAY),
        ..Subject::new("team/app", "sha256:aa", NOW)
    };
    let rescanned = |id: &str, days_ago: i64| {
        let mut x = f(id, Severity::Critical);
        x.first_observed = Some(NOW - days_ago * DAY);
        x
    };
    let mut unfixed = f("CVE-0", Severity::Critical);
    unfixed.fix_available = Some(FixAvailable::No);
    let mut tally = Tally::default();
    let levels: Vec<Level> = [
        unfixed,
        rescanned("CVE-1", 2),
        rescanned("CVE-2", 5),
        rescanned("CVE-3", 10),
        f("CVE-4", Severity::Critical),
    ]
    .iter()
    .map(|x| tally.demote(rule, &subject, x, Level::Block))
    .collect();
    assert_eq!(
        levels,
        [
            Level::Warn,
            Level::Warn,
            Level::Warn,
            Level::Block,
            Level::Block
        ]
    );
    assert_eq!(
        (
            tally.notes.unfixable,
            tally.notes.graced,
            tally.notes.grace_over
        ),
        (1, 2, 1)
    );
    assert_eq!(tally.deadline, Some(NOW - 5 * DAY + 7 * DAY));
}
