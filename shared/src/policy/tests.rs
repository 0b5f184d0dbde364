//! Policy parsing, validation, precedence and exception matching, table-driven.

use super::*;
use crate::domain::{Finding, Package};
use crate::time::{DAY, days_from_civil};

fn date(y: i64, m: u32, d: u32) -> Epoch {
    days_from_civil(y, m, d) * DAY
}

#[test]
fn builtin_policy_blocks_critical_and_warns_high() {
    let p = Policy::parse(DEFAULT_POLICY).unwrap();
    let r = p.rule_for("anything/at/all");
    assert_eq!(
        (r.block.severity, r.warn.severity, r.mode, r.unscanned),
        (
            Some(Severity::Critical),
            Some(Severity::High),
            Mode::Enforce,
            Unscanned::Allow
        )
    );
    assert_eq!(
        (r.fixable_only, r.suppressed, r.new_finding_margin),
        (false, Suppressed::Count, DAY)
    );
    assert_eq!(p.hash().len(), 12);
    assert_eq!(Policy::builtin().hash(), p.hash());
    assert_eq!(
        p.breaker(),
        Breaker {
            max_tag_changes: 100,
            window: 600
        }
    );
}

#[test]
fn most_specific_rule_wins_and_inherits_defaults() {
    let p = Policy::parse(
        r#"
version = 1
[defaults]
block = "CRITICAL"
warn = "MEDIUM"
fixable_only = true
[[rule]]
name = "all-teams"
repositories = ["team-*"]
block = "HIGH"
[[rule]]
name = "team-a"
repositories = ["team-a/*"]
mode = "audit"
[[rule]]
name = "payments"
repositories = ["team-a/payments-api"]
block = { severity = "MEDIUM", epss = 0.5 }
[[rule]]
name = "tie-loses"
repositories = ["team-a/payments-ap?"]
"#,
    )
    .unwrap();
    let cases = [
        ("team-a/payments-api", "payments"),
        ("team-a/web", "team-a"),
        ("team-b/x", "all-teams"),
        ("other", "defaults"),
        ("team-a", "all-teams"),
    ];
    for (repo, rule) in cases {
        assert_eq!(p.rule_for(repo).name, rule, "{repo}");
    }
    let payments = p.rule_for("team-a/payments-api");
    assert_eq!(
        payments.block,
        Criteria {
            severity: Some(Severity::Medium),
            epss: Some(0.5),
            ..Criteria::default()
        }
    );
    assert_eq!(payments.warn.severity, Some(Severity::Medium), "inherited");
    assert!(payments.fixable_only, "inherited");
    assert_eq!(p.rule_for("team-a/web").mode, Mode::Audit);
    assert_eq!(
        p.rule_for("team-a/web").block.severity,
        Some(Severity::Critical)
    );
}

#[test]
fn errors_name_the_line_and_the_field() {
    let ex = |body: &str| {
        format!(
            "version = 1\n[defaults]\nblock = \"HIGH\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\n{body}"
        )
    };
    let cases: Vec<(String, Option<usize>, Option<&str>, &str)> = vec![
        (
            "version = 1\n[defaults]\nblock = \"SEVERE\"\n".into(),
            Some(3),
            Some("block"),
            "unknown severity",
        ),
        (
            "version = 1\n[defaults]\nblok = \"HIGH\"\n".into(),
            Some(3),
            Some("blok"),
            "unknown field",
        ),
        (
            "version = 2\n".into(),
            Some(1),
            Some("version"),
            "unsupported policy version",
        ),
        (
            "[defaults]\n".into(),
            Some(1),
            None,
            "missing field `version`",
        ),
        (
            "version = 1\n[[rule]]\nblock = \"HIGH\"\n".into(),
            Some(2),
            Some("rule[0].repositories"),
            "at least one",
        ),
        (
            "version = 1\n[defaults]\nmode = \"yolo\"\n".into(),
            Some(3),
            Some("mode"),
            "unknown variant",
        ),
        (
            "version = 1\nversion = 1\n".into(),
            Some(2),
            Some("version"),
            "duplicate",
        ),
        (
            "version = 1\n[defaults]\nblock = { severity = \"HIGH\", epss = 2.0 }\n".into(),
            Some(2),
            Some("defaults.block.epss"),
            "between 0 and 1",
        ),
        (
            "version = 1\n[defaults]\nblock = { level = \"HIGH\" }\n".into(),
            Some(3),
            Some("block"),
            "unknown field `level`",
        ),
        (
            "version = 1\n[defaults]\ngrace = { CRITICAL = \"3x\" }\n".into(),
            Some(3),
            Some("grace"),
            "invalid duration",
        ),
        (
            ex("created = 2026-11-01\nexpires = 2026-12-01\nowner = \"sec\"\n"),
            Some(4),
            None,
            "missing field `reason`",
        ),
        (
            ex("created = 2026-11-01\nexpires = 2026-12-01\nowner = \"sec\"\nreason = \" \"\n"),
            Some(10),
            Some("exception[0].reason"),
            "is required",
        ),
        (
            ex("created = 2026-11-01\nexpires = 2026-10-01\nowner = \"sec\"\nreason = \"r\"\n"),
            Some(8),
            Some("exception[0].expires"),
            "must be after created",
        ),
        (
            ex("created = \"someday\"\nexpires = 2026-12-01\nowner = \"sec\"\nreason = \"r\"\n"),
            Some(7),
            Some("created"),
            "invalid date",
        ),
        (
            format!(
                "version = 1\n[exception_limits]\nCRITICAL = \"30d\"\n{}",
                &ex(
                    "created = 2026-11-01\nexpires = 2026-12-02\nowner = \"sec\"\nreason = \"r\"\nseverity = \"CRITICAL\"\n"
                )[12..]
            ),
            Some(10),
            Some("exception[0].expires"),
            "may last 30 days; this one lasts 31 days",
        ),
    ];
    for (text, line, field, message) in cases {
        let e = Policy::parse(&text).unwrap_err();
        let p = e.first().unwrap();
        assert_eq!(p.line, line, "{text:?}: {e}");
        assert_eq!(p.field.as_deref(), field, "{text:?}: {e}");
        assert!(p.message.contains(message), "{text:?}: {e}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = "version = 1\n[defaults]\nblock = \"HIGH\"\n[[rule]]\nname = \"a\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\ncreated = 2026-11-01\nexpires = 2026-11-01\nowner = \"\"\nreason = \"r\"\n";
    let e = Policy::parse(text).unwrap_err();
    let fields: Vec<&str> = e
        .problems
        .iter()
        .filter_map(|p| p.field.as_deref())
        .collect();
    assert_eq!(
        fields,
        [
            "rule[0].repositories",
            "exception[0].expires",
            "exception[0].owner"
        ]
    );
    assert_eq!(e.to_string().matches("line ").count(), 3);
}

#[test]
fn lifetime_limit_boundary_at_validation() {
    let policy = |expires: &str| {
        format!(
            "version = 1\n[defaults]\nblock = \"HIGH\"\n[exception_limits]\nCRITICAL = \"30d\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\ncreated = 2026-11-01T00:00:00Z\nexpires = {expires}\nowner = \"o\"\nreason = \"r\"\nseverity = \"CRITICAL\"\n"
        )
    };
    assert!(
        Policy::parse(&policy("2026-12-01T00:00:00Z")).is_ok(),
        "exactly 30 days"
    );
    assert!(
        Policy::parse(&policy("2026-12-01T00:00:01Z")).is_err(),
        "one second over"
    );
}

#[test]
fn the_passage_of_time_never_invalidates_a_policy() {
    let text = "version = 1\n[defaults]\nblock = \"HIGH\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\ncreated = 2019-01-01\nexpires = 2019-02-01\nowner = \"o\"\nreason = \"long gone\"\n";
    let p = Policy::parse(text).unwrap();
    assert_eq!(p.exceptions().len(), 1);
}

const AA: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const BB: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn finding(id: &str, severity: Severity, package: &str) -> Finding {
    let mut f = Finding::new(id, severity);
    f.packages.push(Package {
        name: package.into(),
        version: None,
        fixed_in: None,
    });
    f
}

const EXCEPTIONS: &str = r#"
version = 1
[defaults]
block = "HIGH"
[exception_limits]
CRITICAL = "30d"

[[exception]]
id = "CVE-2026-1"
repositories = ["team-a/*"]
created = 2026-11-01
expires = 2026-12-01
reason = "no fix upstream"
owner = "team-a"

[[exception]]
id = "cve-2026-2"
repositories = ["*"]
package = "openssl"
created = 2026-11-01
expires = 2026-11-15
reason = "r"
owner = "sec"

[[exception]]
id = "CVE-2026-3"
repositories = ["*"]
digest = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
created = 2026-11-01
expires = 2027-03-01
reason = "r"
owner = "sec"
ticket = "SEC-1"

[[exception]]
id = "CVE-2026-4"
repositories = ["*"]
created = 2026-12-01
expires = 2026-12-20
reason = "r"
owner = "sec"
"#;

#[test]
fn exceptions_match_by_id_scope_package_and_digest_and_expire_on_time() {
    let p = Policy::parse(EXCEPTIONS).unwrap();
    let now = date(2026, 11, 10);
    let kind = |m: Option<ExceptionMatch<'_>>| match m {
        None => "none",
        Some(ExceptionMatch::Applies(_)) => "applies",
        Some(ExceptionMatch::Expired(_)) => "expired",
        Some(ExceptionMatch::NotYet(_)) => "not-yet",
        Some(ExceptionMatch::TooLong(..)) => "too-long",
    };
    let cases = [
        (
            finding("CVE-2026-1", Severity::High, "x"),
            "team-a/api",
            BB,
            now,
            "applies",
        ),
        (
            finding("CVE-2026-1", Severity::High, "x"),
            "team-b/api",
            BB,
            now,
            "none",
        ),
        (
            finding("CVE-2026-1", Severity::High, "x"),
            "team-a/api",
            BB,
            date(2026, 12, 1) - 1,
            "applies",
        ),
        (
            finding("CVE-2026-1", Severity::High, "x"),
            "team-a/api",
            BB,
            date(2026, 12, 1),
            "expired",
        ),
        (
            finding("CVE-2026-2", Severity::High, "openssl"),
            "any",
            BB,
            now,
            "applies",
        ),
        (
            finding("cve-2026-2", Severity::High, "openssl"),
            "any",
            BB,
            now,
            "applies",
        ),
        (
            finding("CVE-2026-2", Severity::High, "zlib"),
            "any",
            BB,
            now,
            "none",
        ),
        (
            finding("CVE-2026-3", Severity::High, "x"),
            "any",
            AA,
            now,
            "applies",
        ),
        (
            finding("CVE-2026-3", Severity::High, "x"),
            "any",
            BB,
            now,
            "none",
        ),
        (
            finding("CVE-2026-3", Severity::Critical, "x"),
            "any",
            AA,
            now,
            "too-long",
        ),
        (
            finding("CVE-2026-4", Severity::High, "x"),
            "any",
            AA,
            now,
            "not-yet",
        ),
        (
            finding("CVE-2026-9", Severity::High, "x"),
            "any",
            AA,
            now,
            "none",
        ),
    ];
    for (f, repo, digest, at, want) in cases {
        assert_eq!(
            kind(p.exception_for(&f, repo, digest, at)),
            want,
            "{} {repo} {digest} {at}",
            f.id
        );
    }
    let soon: Vec<&str> = p
        .expiring(now, 14 * DAY)
        .iter()
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(soon, ["cve-2026-2"]);
}

#[test]
fn five_hundred_exceptions_parse_and_index() {
    let mut text = String::from("version = 1\n[defaults]\nblock = \"HIGH\"\n");
    for i in 0..500 {
        text.push_str(&format!(
            "[[exception]]\nid = \"CVE-2026-{i:05}\"\nrepositories = [\"team-{}/*\"]\ncreated = 2026-11-01\nexpires = 2027-01-01\nreason = \"accepted risk {i}\"\nowner = \"team-{}\"\n",
            i % 7,
            i % 7
        ));
    }
    assert!(text.len() > 4096, "more than an environment variable holds");
    let p = Policy::parse(&text).unwrap();
    assert_eq!(p.exceptions().len(), 500);
    let f = finding("CVE-2026-00499", Severity::Critical, "x");
    assert!(matches!(
        p.exception_for(&f, "team-2/api", "d", date(2026, 12, 1)),
        Some(ExceptionMatch::Applies(_))
    ));
}

#[test]
fn glob_matching() {
    assert!(glob_match("team-a/*", "team-a/x/y"));
    assert!(glob_match("*", "anything"));
    assert!(glob_match("a?c", "abc"));
    assert!(glob_match("*/api", "team/api"));
    assert!(!glob_match("team-a/*", "team-b/x"));
    assert!(!glob_match("team-a", "team-a/x"));
    assert!(glob_match("**", ""));
}

#[test]
fn the_readme_policy_example_is_valid_and_means_what_it_says() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let after = readme
        .split("<!-- policy-example -->")
        .nth(1)
        .expect("marker in README.md");
    let block = after
        .split("```toml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a toml block after the marker");
    let p = Policy::parse(block).unwrap_or_else(|e| panic!("README policy example: {e}"));
    let payments = p.rule_for("team-a/payments-api");
    assert_eq!(
        (
            payments.name.as_str(),
            payments.unscanned,
            payments.grace.len()
        ),
        ("payments", Unscanned::Hold, 0)
    );
    assert_eq!(
        payments.block,
        Criteria {
            severity: Some(Severity::High),
            epss: Some(0.3),
            ..Criteria::default()
        }
    );
    assert_eq!(p.rule_for("sandbox/x").mode, Mode::Audit);
    assert_eq!(
        p.rule_for("team-b/x").grace_for(Severity::Critical, true),
        Some(2 * DAY)
    );
    assert_eq!(p.exceptions()[0].owner, "team-a@example.com");
    assert_eq!(
        p.breaker(),
        Breaker {
            max_tag_changes: 100,
            window: 600
        }
    );
}
