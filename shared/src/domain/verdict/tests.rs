//! Verdict tests, table-driven: every criterion, exceptions, suppression, fixable_only, grace and
//! scan states, each at its boundaries.

use super::*;
use crate::domain::policy::Policy;
use crate::domain::policy::tests::{date, exception_toml};
use crate::domain::{FindingStatus, FixAvailable, Kev, Package};

const NOW: Epoch = 1_795_000_000;
const HOUR: Epoch = 3600;

fn policy(text: &str) -> Policy {
    Policy::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// A version 1 policy whose `[defaults]` table holds `body` (and whatever tables follow it).
fn defaults(body: &str) -> Policy {
    policy(&format!("version = 1\n[defaults]\n{body}"))
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

/// What a finding in the criterion table carries besides its severity.
#[derive(Clone, Copy)]
enum Carries {
    Nothing,
    Exploit(bool),
    Epss(f64),
    Score(f64),
    NoScores,
}

impl Carries {
    fn onto(self, x: &mut Finding) {
        match self {
            Carries::Nothing => {}
            Carries::Exploit(known) => x.exploit_available = Some(known),
            Carries::Epss(epss) => x.epss = Some(epss),
            Carries::Score(score) => x.score = Some(score),
            Carries::NoScores => (x.score, x.epss) = (None, None),
        }
    }
}

#[test]
fn every_criterion_at_its_boundary() {
    let p = defaults(
        r#"block = { severity = "CRITICAL", exploitable = "HIGH", epss = 0.7, score = 9.5 }
warn = { severity = "MEDIUM", epss = 0.1 }
"#,
    );
    use Carries::{Epss, Exploit, NoScores, Nothing, Score};
    use Decision::{Block, Pass, Warn};
    use Severity::{Critical, High, Low, Medium, Untriaged};
    let cases: [(&str, Severity, Carries, Decision); 14] = [
        ("critical by severity", Critical, Nothing, Block),
        ("high warns by severity", High, Nothing, Warn),
        ("high with exploit blocks", High, Exploit(true), Block),
        ("high without exploit warns", High, Exploit(false), Warn),
        (
            "medium with exploit: under exploitable",
            Medium,
            Exploit(true),
            Warn,
        ),
        ("epss exactly at 0.7 blocks", Low, Epss(0.7), Block),
        (
            "epss just under 0.7 warns by epss 0.1",
            Low,
            Epss(0.699),
            Warn,
        ),
        ("epss under every threshold passes", Low, Epss(0.05), Pass),
        ("score exactly 9.5 blocks", Low, Score(9.5), Block),
        ("score 9.4 passes a LOW", Low, Score(9.4), Pass),
        (
            "no scores: a CRITICAL still blocks",
            Critical,
            NoScores,
            Block,
        ),
        ("no scores: a LOW passes", Low, NoScores, Pass),
        (
            "untriaged never meets a severity threshold",
            Untriaged,
            Nothing,
            Pass,
        ),
        (
            "untriaged with a high score blocks",
            Untriaged,
            Score(9.9),
            Block,
        ),
    ];
    for (name, severity, carries, want) in cases {
        let mut finding = f("CVE-1", severity);
        carries.onto(&mut finding);
        assert_eq!(decide(&p, &[finding]).decision, want, "{name}");
    }
}

#[test]
fn reasons_say_why_and_list_blocking_before_warning() {
    let p = defaults("block = { severity = \"CRITICAL\", epss = 0.5 }\nwarn = \"HIGH\"\n");
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
    let p = defaults("block = \"CRITICAL\"\nwarn = \"HIGH\"\nfixable_only = true\n");
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

#[test]
fn exceptions_exempt_until_they_expire_and_the_verdict_says_so() {
    let p = policy(
        &[
            "version = 1\nexpiry_notice = \"7d\"\n[exception_limits]\nCRITICAL = \"30d\"\n",
            "[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n",
            &exception_toml("CVE-1", "team/*", "2026-11-01", "2026-11-25", "team-app"),
            "ticket = \"SEC-9\"\n",
            &exception_toml("CVE-2", "*", "2026-09-01", "2027-01-01", "sec"),
        ]
        .concat(),
    );
    let judged = |now: Epoch, findings: &[Finding]| {
        let subject = Subject::new("team/app", "sha256:aa", now);
        evaluate(&p, &subject, findings, &ScanState::Complete)
    };
    let one = [f("CVE-1", Severity::Critical)];
    let before = judged(date(2026, 11, 10), &one);
    assert_eq!(before.decision, Decision::Pass, "{:?}", before.reasons);
    assert_eq!(
        before.exceptions,
        vec![AppliedException {
            id: "CVE-1".into(),
            owner: "team-app".into(),
            expires: "2026-11-25".into(),
            expires_at: date(2026, 11, 25),
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
    assert_reason(&judged(date(2026, 11, 20), &one), |r| {
        r == "exception CVE-1 (team-app) expires on 2026-11-25 (in 5 day(s))"
    });
    let last_second = judged(date(2026, 11, 25) - 1, &one);
    assert_eq!(last_second.decision, Decision::Pass);
    let after = judged(date(2026, 11, 25), &one);
    assert_eq!(after.decision, Decision::Block);
    assert_reason(&after, |r| {
        r == "exception CVE-1 (team-app) expired on 2026-11-25: it no longer applies"
    });
    // The lifetime limit is checked against the finding's actual severity: fine for a HIGH, not for a CRITICAL.
    let high = judged(date(2026, 11, 10), &[f("CVE-2", Severity::High)]);
    assert_eq!(high.decision, Decision::Pass);
    let critical = judged(date(2026, 11, 10), &[f("CVE-2", Severity::Critical)]);
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
        &defaults("block = \"CRITICAL\"\n"),
        std::slice::from_ref(&s),
    );
    assert_eq!(counting.decision, Decision::Block);
    assert_reason(&counting, |r| {
        r.starts_with("1 Inspector-suppressed finding(s) counted")
    });
    let exempting = decide(
        &defaults("block = \"CRITICAL\"\nsuppressed = \"exempt\"\n"),
        &[s],
    );
    assert_eq!(exempting.decision, Decision::Pass);
    assert_reason(&exempting, |r| {
        r == "1 Inspector-suppressed finding(s) exempt under rule defaults"
    });
    assert_eq!(exempting.counts.total(), 0);
}

/// The image a grace case judges: whether it runs now, and whether its first scan is known.
#[derive(Clone, Copy, PartialEq)]
enum Image {
    Idle,
    InUse,
    NoBaseline,
}

#[test]
fn grace_for_new_cves_on_old_images() {
    let p = defaults(
        r#"block = "CRITICAL"
warn = "HIGH"
grace = { CRITICAL = "7d" }
grace_in_use = { CRITICAL = "2d" }
"#,
    );
    let baseline = date(2026, 11, 1);
    let subject = |now, image: Image| Subject {
        baseline: (image != Image::NoBaseline).then_some(baseline),
        in_use: image == Image::InUse,
        ..Subject::new("team/app", "sha256:aa", now)
    };
    use Decision::{Block, Warn};
    use Image::{Idle, InUse, NoBaseline};
    // (case, first observed after the baseline, now after the baseline, the image, the decision)
    let cases: [(&str, Epoch, Epoch, Image, Decision); 8] = [
        (
            "fresh image: found within the 24 h margin blocks at once",
            2 * HOUR,
            3 * HOUR,
            Idle,
            Block,
        ),
        (
            "margin boundary: exactly 24 h is still the first scan",
            DAY,
            DAY + HOUR,
            Idle,
            Block,
        ),
        (
            "rescan finding, inside grace",
            10 * DAY,
            12 * DAY,
            Idle,
            Warn,
        ),
        (
            "rescan finding, last second of grace",
            10 * DAY,
            17 * DAY - 1,
            Idle,
            Warn,
        ),
        (
            "rescan finding, grace over",
            10 * DAY,
            17 * DAY,
            Idle,
            Block,
        ),
        (
            "in use: shorter grace, over",
            10 * DAY,
            12 * DAY,
            InUse,
            Block,
        ),
        (
            "in use: shorter grace, inside",
            10 * DAY,
            11 * DAY,
            InUse,
            Warn,
        ),
        (
            "no baseline: no grace",
            10 * DAY,
            12 * DAY,
            NoBaseline,
            Block,
        ),
    ];
    for (name, found, now, image, want) in cases {
        let mut finding = f("CVE-1", Severity::Critical);
        finding.first_observed = Some(baseline + found);
        let subject = subject(baseline + now, image);
        let v = evaluate(
            &p,
            &subject,
            std::slice::from_ref(&finding),
            &ScanState::Complete,
        );
        assert_eq!(v.decision, want, "{name}: {:?}", v.reasons);
        if want == Warn {
            let end = baseline + found + if subject.in_use { 2 * DAY } else { 7 * DAY };
            assert_eq!(v.deadline, Some(end), "{name}");
            let blocks_on = format!("blocks on {}", format_date(end));
            let said = v.reasons.iter().any(|r| r.ends_with(&blocks_on));
            assert!(said, "{name}: {:?}", v.reasons);
        }
    }
    // No grace for HIGH configured, and HIGH only warns anyway; a finding without a first-observed time gets none.
    let mut unknown = f("CVE-2", Severity::Critical);
    unknown.first_observed = None;
    let v = evaluate(
        &p,
        &subject(baseline + 12 * DAY, Idle),
        &[unknown],
        &ScanState::Complete,
    );
    assert_eq!(v.decision, Block);
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
    let p = defaults("block = \"CRITICAL\"\ngrace = { CRITICAL = \"7d\" }\n");
    let mut x = f("CVE-1", Severity::Critical);
    x.first_observed = Some(253_402_300_799); // 9999-12-31T23:59:59Z
    let subject = Subject {
        baseline: Some(NOW - 30 * DAY),
        ..Subject::new("team/app", "sha256:aa", NOW)
    };
    let v = evaluate(&p, &subject, &[x], &ScanState::Complete);
    assert_eq!(v.deadline, Some(NOW + 7 * DAY), "{:?}", v.reasons);
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
    let p = defaults("block = \"CRITICAL\"\nwarn = \"HIGH\"\n");
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
    let p = defaults(
        &[
            "block = \"CRITICAL\"\n",
            &exception_toml("CVE-1", "team/*", "2026-11-01", "2026-12-01", "team-app"),
            &exception_toml("CVE-2", "*", "2026-10-01", "2026-11-01", "sec"),
        ]
        .concat(),
    );
    let subject = Subject::new("team/app", "sha256:aa", date(2026, 11, 10));
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
    let p = defaults("block = \"CRITICAL\"\nfixable_only = true\ngrace = { CRITICAL = \"7d\" }\n");
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

#[test]
fn fixable_and_unfixable_thresholds_split_findings_by_their_fix() {
    let p =
        defaults("block = { fixable = \"HIGH\", unfixable = \"CRITICAL\" }\nwarn = \"MEDIUM\"\n");
    use Decision::{Block, Warn};
    use FixAvailable::{No, Partial, Yes};
    use Severity::{Critical, High};
    // (case, severity, fixAvailable, decision, what the reason says)
    let cases = [
        ("HIGH with a fix", High, Some(Yes), Block, "fix available"),
        (
            "PARTIAL counts as a fix",
            High,
            Some(Partial),
            Block,
            "fix available",
        ),
        ("HIGH without a fix", High, Some(No), Warn, "(HIGH)"),
        (
            "CRITICAL without a fix",
            Critical,
            Some(No),
            Block,
            "no fix",
        ),
        ("HIGH, fix not known", High, None, Block, "fix not known"),
    ];
    for (case, severity, fix, decision, says) in cases {
        let mut finding = Finding::new("CVE-1", severity);
        finding.fix_available = fix;
        let v = decide(&p, &[finding]);
        assert_eq!(v.decision, decision, "{case}: {:?}", v.reasons);
        assert_reason(&v, |r| r.contains(says));
    }
    // A fixed version names a fix when Inspector's flag is absent.
    let v = decide(&p, &[f("CVE-6", High)]);
    assert_eq!(v.decision, Block);
}

#[test]
fn a_denied_id_blocks_whatever_its_severity_fix_or_grace_but_an_exception_still_applies() {
    let p = defaults(
        "block = \"CRITICAL\"\nfixable_only = true\ngrace = { LOW = \"30d\" }\ndeny = [\"cve-2024-3094\"]\n",
    );
    let mut low = Finding::new("CVE-2024-3094", Severity::Low);
    low.fix_available = Some(FixAvailable::No);
    // Found by a rescan long after the image's first scan: a grace period would run.
    low.first_observed = Some(NOW - HOUR);
    let subject = Subject {
        baseline: Some(NOW - 30 * DAY),
        ..Subject::new("team/app", "sha256:aa", NOW)
    };
    let v = evaluate(
        &p,
        &subject,
        std::slice::from_ref(&low),
        &ScanState::Complete,
    );
    assert_eq!(v.decision, Decision::Block, "{:?}", v.reasons);
    assert_reason(&v, |r| {
        r.contains("CVE-2024-3094 (LOW, denied by the rule)")
    });
    assert_eq!(v.deadline, None);
    let other = decide(&p, &[Finding::new("CVE-2024-0001", Severity::Low)]);
    assert_eq!(other.decision, Decision::Pass);

    let excepted = policy(&format!(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\ndeny = [\"CVE-2024-3094\"]\n{}",
        exception_toml("CVE-2024-3094", "team/*", "2026-11-01", "2026-12-31", "sec")
    ));
    let v = decide(&excepted, &[low]);
    assert_eq!(v.decision, Decision::Pass, "{:?}", v.reasons);
    assert_eq!(v.exceptions.len(), 1);
}

#[test]
fn a_kev_finding_meets_kev_and_its_interval_shortens_the_grace_but_not_under_a_day() {
    let p = defaults(
        "block = { severity = \"HIGH\" }\nwarn = { kev = true }\ngrace = { HIGH = \"30d\" }\n",
    );
    let in_kev = |interval: Option<Epoch>| Kev {
        added: Some(NOW - 400 * DAY),
        due: interval.map(|i| NOW - 400 * DAY + i),
        ..Kev::default()
    };
    // A LOW finding in KEV warns by kev; out of KEV it meets nothing.
    let mut low = Finding::new("CVE-2024-3094", Severity::Low);
    low.kev = Some(in_kev(None));
    let v = decide(&p, std::slice::from_ref(&low));
    assert_eq!(v.decision, Decision::Warn, "{:?}", v.reasons);
    assert_reason(&v, |r| r.contains("CVE-2024-3094 (LOW, in CISA KEV)"));
    low.kev = None;
    assert_eq!(decide(&p, &[low]).decision, Decision::Pass);

    // A HIGH found by a rescan an hour ago: 30 days of grace, or KEV's interval, at least a day.
    let subject = Subject {
        baseline: Some(NOW - 60 * DAY),
        ..Subject::new("team/app", "sha256:aa", NOW)
    };
    let seen = NOW - HOUR;
    for (case, kev, deadline) in [
        ("not in KEV", None, seen + 30 * DAY),
        (
            "in KEV, 14 days",
            Some(in_kev(Some(14 * DAY))),
            seen + 14 * DAY,
        ),
        ("in KEV, 2 hours", Some(in_kev(Some(2 * HOUR))), seen + DAY),
        ("in KEV, no due date", Some(in_kev(None)), seen + 30 * DAY),
    ] {
        let mut high = Finding::new("CVE-2026-7", Severity::High);
        high.first_observed = Some(seen);
        high.kev = kev;
        let v = evaluate(&p, &subject, &[high], &ScanState::Complete);
        assert_eq!(v.deadline, Some(deadline), "{case}: {:?}", v.reasons);
    }
}

#[test]
fn a_suppression_does_not_exempt_a_denied_id_and_a_rule_adds_to_the_defaults_denials() {
    let p = policy(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nsuppressed = \"exempt\"\ndeny = [\"CVE-2024-3094\"]\n[[rule]]\nname = \"team\"\nrepositories = [\"team/*\"]\ndeny = [\"CVE-2021-44228\"]\n",
    );
    let mut suppressed = Finding::new("CVE-2024-3094", Severity::Low);
    suppressed.status = FindingStatus::Suppressed;
    let v = decide(
        &p,
        &[suppressed, Finding::new("CVE-2021-44228", Severity::Low)],
    );
    assert_eq!(v.decision, Decision::Block, "{:?}", v.reasons);
    assert_eq!(
        v.blocking, 2,
        "the defaults' denial and the rule's: {:?}",
        v.reasons
    );
}

#[test]
fn findings_a_kev_rule_cannot_look_up_are_said_and_unknown_details_meet_kev() {
    let p = defaults("block = { severity = \"CRITICAL\", kev = true }\n");
    // A basic-scan finding (no Inspector ARN): not known, and the verdict says so.
    let v = decide(&p, &[Finding::new("CVE-2024-3094", Severity::Medium)]);
    assert_eq!(v.decision, Decision::Pass);
    assert_reason(&v, |r| r.contains("1 finding(s) have no Inspector details"));
    // Details not found: it may be in KEV, so it meets kev, and the verdict says why.
    let mut unread = Finding::new("CVE-2024-3094", Severity::Medium);
    unread.kev = Some(Kev::UNKNOWN);
    let v = decide(&p, &[unread]);
    assert_eq!(v.decision, Decision::Block);
    assert_reason(&v, |r| r.contains("KEV status not known"));
}
