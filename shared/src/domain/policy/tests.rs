//! Policy parsing, validation, precedence and exception matching, table-driven.

use super::*;
use crate::domain::time::date_epoch;
use crate::domain::{Finding, Package};

/// Midnight UTC of a calendar date, from plain numbers.
pub(crate) fn date(y: i64, m: u32, d: u32) -> Epoch {
    let field = |v: u32| u8::try_from(v).unwrap();
    date_epoch(i32::try_from(y).unwrap(), field(m), field(d)).unwrap()
}

/// The built-in circuit breaker: 100 tag changes in 10 minutes.
const BUILTIN_BREAKER: Breaker = Breaker {
    max_tag_changes: 100,
    window: 600,
};

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
    assert_eq!(p.breaker(), BUILTIN_BREAKER);
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

/// A rule that puts one account in audit, whatever else scopes the others.
const SANDBOX_ACCOUNT: &str = "[[rule]]\nname = \"sandbox-account\"\naccounts = [\"222222222222\"]\nrepositories = [\"*\"]\nmode = \"audit\"\n";

/// An image's whereabouts.
fn located(
    account: &'static str,
    region: &'static str,
    ou_path: Option<&'static str>,
) -> Whereabouts<'static> {
    Whereabouts {
        account: Some(account),
        region: Some(region),
        ou_path,
    }
}

/// Asserts which rule decides for each (repository, whereabouts).
fn assert_rules(p: &Policy, cases: &[(&str, Whereabouts<'_>, &str)]) {
    for (repository, where_, rule) in cases {
        assert_eq!(
            p.rule_in(repository, *where_).name,
            *rule,
            "{repository} {where_:?}"
        );
    }
}

#[test]
fn rules_scoped_by_account_outrank_those_by_region_which_outrank_repository_alone() {
    let p = Policy::parse(&format!(
        r#"version = 1
[defaults]
block = "CRITICAL"
[[rule]]
name = "payments-anywhere"
repositories = ["payments/api"]
block = "HIGH"
[[rule]]
name = "eu"
regions = ["eu-west-1", "eu-central-1"]
repositories = ["payments/*"]
block = "MEDIUM"
{SANDBOX_ACCOUNT}"#
    ))
    .unwrap();
    let at = |account: &'static str, region: &'static str| located(account, region, None);
    let cases = [
        // Repository alone: the most literal pattern.
        ("payments/api", Whereabouts::default(), "payments-anywhere"),
        (
            "payments/api",
            at("111111111111", "us-east-1"),
            "payments-anywhere",
        ),
        // A region-scoped rule outranks a more literal unscoped one.
        ("payments/api", at("111111111111", "eu-west-1"), "eu"),
        ("payments/web", at("111111111111", "eu-central-1"), "eu"),
        ("other/web", at("111111111111", "eu-west-1"), "defaults"),
        // An account-scoped rule outranks both, even with a less literal pattern.
        (
            "payments/api",
            at("222222222222", "eu-west-1"),
            "sandbox-account",
        ),
    ];
    assert_rules(&p, &cases);
    assert_eq!(p.rule_for("payments/api").name, "payments-anywhere");
}

#[test]
fn rules_scoped_by_ou_rank_between_account_and_region_the_deeper_ou_first() {
    let rule = |name: &str, scope: &str, repository: &str, block: &str| {
        format!(
            "[[rule]]\nname = {name:?}\n{scope}\nrepositories = [{repository:?}]\nblock = {block:?}\n"
        )
    };
    let rules = [
        rule(
            "eu",
            r#"regions = ["eu-west-1"]"#,
            "payments/api",
            "CRITICAL",
        ),
        rule("workloads", r#"ous = ["ou-ab12-11111111"]"#, "*", "HIGH"),
        rule("prod", r#"ous = ["ou-ab12-22222222"]"#, "*", "MEDIUM"),
    ];
    let doc = "version = 1\n[defaults]\nblock = \"CRITICAL\"\n";
    let p = Policy::parse(&format!("{doc}{}{SANDBOX_ACCOUNT}", rules.concat())).unwrap();
    assert!(p.scopes_by_ou());
    let at = |account: &'static str, ou_path| located(account, "eu-west-1", ou_path);
    let cases = [
        // Under workloads/prod: the deeper OU, over a more literal region rule.
        (
            "111111111111",
            Some("r-ab12/ou-ab12-11111111/ou-ab12-22222222"),
            "prod",
        ),
        ("111111111111", Some("r-ab12/ou-ab12-11111111"), "workloads"),
        // Outside both OUs, or the path unknown: the region rule.
        ("111111111111", Some("r-ab12/ou-ab12-33333333"), "eu"),
        ("111111111111", None, "eu"),
        // The account outranks every OU.
        (
            "222222222222",
            Some("r-ab12/ou-ab12-11111111/ou-ab12-22222222"),
            "sandbox-account",
        ),
    ];
    let cases = cases.map(|(account, ou_path, rule)| ("payments/api", at(account, ou_path), rule));
    assert_rules(&p, &cases);
    assert!(
        !Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\n")
            .unwrap()
            .scopes_by_ou()
    );
}

#[test]
fn two_rules_one_image_could_fall_under_at_the_same_precedence_are_refused() {
    let doc = |second_scope: &str| {
        format!(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"a\"\naccounts = [\"111111111111\"]\nrepositories = [\"team/*\", \"x\"]\n[[rule]]\nname = \"b\"\n{second_scope}\nrepositories = [\"team/*\"]\n"
        )
    };
    let err = Policy::parse(&doc("accounts = [\"111111111111\", \"222222222222\"]")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("line 8: b.repositories")
            && text.contains("\"team/*\" is also a pattern of rule \"a\" (line 4)"),
        "{text}"
    );
    // Other accounts, or another rank: no tie.
    assert!(Policy::parse(&doc("accounts = [\"222222222222\"]")).is_ok());
    assert!(Policy::parse(&doc("regions = [\"eu-west-1\"]")).is_ok());
    // Unscoped duplicates tie too, and two rules that name one OU.
    let twice = |scope: &str| {
        format!(
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"a\"\n{scope}\nrepositories = [\"a/*\"]\n[[rule]]\nname = \"b\"\n{scope}\nrepositories = [\"a/*\"]\n"
        )
    };
    assert!(Policy::parse(&twice("")).is_err());
    let text = (Policy::parse(&twice("ous = [\"ou-ab12-11111111\"]")).unwrap_err()).to_string();
    assert!(
        text.contains("for the same accounts, OUs and regions"),
        "{text}"
    );
    // Malformed scopes and scopes on the defaults are refused.
    let bad = "version = 1\n[defaults]\nblock = \"CRITICAL\"\nous = [\"r-ab12\"]\n[[rule]]\naccounts = [\"1234\"]\nous = [\"Security\"]\nregions = [\"Europe\"]\nrepositories = [\"a\"]\n";
    let text = Policy::parse(bad).unwrap_err().to_string();
    assert!(
        text.contains("defaults: the default rule applies in every account and region; put accounts, ous and regions in a [[rule]]"),
        "{text}"
    );
    assert!(
        [
            "rule[0].accounts",
            "rule[0].ous",
            "is not an OU id",
            "rule[0].regions"
        ]
        .iter()
        .all(|wanted| text.contains(wanted)),
        "{text}"
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
fn a_refusal_is_one_line_whatever_the_document_quotes() {
    // A quoted key and a value holding a newline and an escape character, and a TOML syntax error.
    for text in [
        "version = 1\n\"a\\nb\\u001b[31m\" = 1\n",
        "version = 1\n[defaults]\nblock = \"HIGH\\nCRITICAL\"\n",
        "version = 1\n[defaults\nblock = \"HIGH\"\n",
    ] {
        let e = Policy::parse(text).unwrap_err();
        let said = e.to_string();
        assert!(!said.chars().any(char::is_control), "{text:?}: {said:?}");
        assert!(!said.is_empty());
    }
    let e = Policy::parse("version = 1\n\"a\\nb\" = 1\n").unwrap_err();
    assert!(e.to_string().contains("a\\nb"), "{e}");
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

/// An `[[exception]]` table (reason "r") for `id` in `repositories`, valid from `created` until
/// `expires` (TOML dates); lines appended after it (`ticket = ..`) belong to it.
pub(crate) fn exception_toml(
    id: &str,
    repositories: &str,
    created: &str,
    expires: &str,
    owner: &str,
) -> String {
    format!(
        "[[exception]]\nid = \"{id}\"\nrepositories = [\"{repositories}\"]\ncreated = {created}\nexpires = {expires}\nreason = \"r\"\nowner = \"{owner}\"\n"
    )
}

/// An `[[exception]]` table for November 2026 (reason "r", owner "o").
fn november_exception(id: &str, repositories: &str) -> String {
    exception_toml(id, repositories, "2026-11-01", "2026-12-01", "o")
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

/// Four exceptions: by id in a scope, by package (its id in another case), by digest (too long
/// for a CRITICAL), and one not valid yet.
fn exceptions() -> String {
    let head =
        "version = 1\n[defaults]\nblock = \"HIGH\"\n[exception_limits]\nCRITICAL = \"30d\"\n";
    [
        head.to_string(),
        exception_toml("CVE-2026-1", "team-a/*", "2026-11-01", "2026-12-01", "o"),
        exception_toml("cve-2026-2", "*", "2026-11-01", "2026-11-15", "sec"),
        "package = \"openssl\"\n".to_string(),
        exception_toml("CVE-2026-3", "*", "2026-11-01", "2027-03-01", "sec"),
        format!("digest = \"{AA}\"\nticket = \"SEC-1\"\n"),
        exception_toml("CVE-2026-4", "*", "2026-12-01", "2026-12-20", "sec"),
    ]
    .concat()
}

#[test]
fn exceptions_match_by_id_scope_package_and_digest_and_expire_on_time() {
    let p = Policy::parse(&exceptions()).unwrap();
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
            fixable: Some(Severity::High),
            unfixable: Some(Severity::Critical),
            epss: Some(0.3),
            ..Criteria::default()
        }
    );
    assert!(
        payments.deny.contains("CVE-2024-3094"),
        "the default's deny"
    );
    assert_eq!(p.rule_for("sandbox/x").mode, Mode::Audit);
    assert_eq!(
        p.rule_for("team-b/x").grace_for(Severity::Critical, true),
        Some(2 * DAY)
    );
    let acquired = Whereabouts {
        account: Some("444455556666"),
        region: Some("eu-west-1"),
        ou_path: None,
    };
    assert_eq!(
        p.rule_in("team-a/payments-api", acquired).name,
        "new-acquisition"
    );
    assert_eq!(p.rule_for("team-a/payments-api").name, "payments");
    assert_eq!(p.exceptions()[0].owner, "team-a@example.com");
    assert_eq!(p.breaker(), BUILTIN_BREAKER);
}

#[test]
fn a_policy_that_can_never_block_is_refused_unless_it_says_so() {
    let cases = [
        ("version = 1\n", false),
        ("version = 1\n[defaults]\nblock = {}\n", false),
        ("version = 1\n[defaults]\nwarn = \"LOW\"\n", false),
        (
            "version = 1\n[defaults]\nmode = \"audit\"\n[[rule]]\nrepositories = [\"a/*\"]\nmode = \"enforce\"\n",
            false,
        ),
        ("version = 1\nallow_no_block = false\n", false),
        ("version = 1\nallow_no_block = true\n", true),
        ("version = 1\n[defaults]\nmode = \"audit\"\n", true),
        (
            "version = 1\n[defaults]\nmode = \"audit\"\n[[rule]]\nrepositories = [\"a/*\"]\n",
            true,
        ),
        (
            "version = 1\n[[rule]]\nrepositories = [\"a/*\"]\nblock = { epss = 0.9 }\n",
            true,
        ),
        ("version = 1\n[defaults]\nblock = \"UNTRIAGED\"\n", true),
    ];
    for (text, valid) in cases {
        match Policy::parse(text) {
            Ok(_) => assert!(valid, "accepted: {text:?}"),
            Err(e) => {
                assert!(!valid, "refused: {text:?}: {e}");
                let p = e.first().unwrap();
                assert_eq!(p.field.as_deref(), Some("defaults.block"), "{text:?}: {e}");
                assert!(p.message.contains("can ever block"), "{e}");
                assert!(p.line.is_some());
            }
        }
    }
}

#[test]
fn hostile_values_are_refused_with_their_line_and_field() {
    let rule = |body: &str| format!("version = 1\n[defaults]\nblock = \"HIGH\"\n{body}");
    let exception = |body: &str| {
        rule(&format!(
            "[[exception]]\nid = \"CVE-1\"\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"o\"\n{body}"
        ))
    };
    let hex = "a".repeat(64);
    let cases: Vec<(String, usize, &str, &str)> = vec![
        (
            rule("verified_prefix = \"quarantined-\"\n"),
            2,
            "defaults.verified_prefix",
            "collides with the reserved prefixes",
        ),
        (
            rule("verified_prefix = \"held-\"\n"),
            2,
            "defaults.verified_prefix",
            "collides",
        ),
        (
            rule("verified_prefix = \"held-ok-\"\n"),
            2,
            "defaults.verified_prefix",
            "collides",
        ),
        (
            rule("verified_prefix = \"q\"\n"),
            2,
            "defaults.verified_prefix",
            "quarantine prefix \"quarantined-\"",
        ),
        (
            rule("verified_prefix = \"-x\"\n"),
            2,
            "defaults.verified_prefix",
            "must start with",
        ),
        (
            rule("[[rule]]\nrepositories = [\"a/*\"]\nverified_prefix = \"held-\"\n"),
            4,
            "rule[0].verified_prefix",
            "collides",
        ),
        (
            rule("grace = { CRITICAL = \"9223372036854775807s\" }\n"),
            4,
            "grace",
            "longer than the 10-year limit",
        ),
        (
            rule("grace_in_use = { HIGH = \"3651d\" }\n"),
            4,
            "grace_in_use",
            "longer than the 10-year limit",
        ),
        (
            rule("new_finding_margin = \"99999999999999999999999w\"\n"),
            4,
            "new_finding_margin",
            "10-year",
        ),
        (
            rule("grace = { HIGH = \"-1d\" }\n"),
            4,
            "grace",
            "expected a duration",
        ),
        (
            rule("[exception_limits]\nHIGH = \"0s\"\n"),
            4,
            "exception_limits.HIGH",
            "longer than 0s",
        ),
        (
            rule("[breaker]\nmax_tag_changes = 5\nwindow = \"0s\"\n"),
            4,
            "breaker",
            "must be positive",
        ),
        (
            exception("repositories = [\"*\"]\ndigest = \"sha256:aa\"\n"),
            11,
            "exception[0].digest",
            "64 lowercase hex",
        ),
        (
            exception(&format!(
                "repositories = [\"*\"]\ndigest = \"sha256:{}\"\n",
                hex.to_uppercase()
            )),
            11,
            "exception[0].digest",
            "sha256:",
        ),
        (
            exception(&format!(
                "repositories = [\"*\"]\ndigest = \"sha512:{hex}\"\n"
            )),
            11,
            "exception[0].digest",
            "sha256:",
        ),
        (
            exception("repositories = [\"team-[ab]/*\"]\n"),
            10,
            "exception[0].repositories",
            "'[' is not supported",
        ),
        (
            rule("[[rule]]\nrepositories = [\"{a,b}/*\"]\n"),
            4,
            "rule[0].repositories",
            "'{' is not supported",
        ),
        (
            rule("[[rule]]\nrepositories = [\"a\\\\*\"]\n"),
            4,
            "rule[0].repositories",
            "'\\\\' is not supported",
        ),
        (
            rule("[[rule]]\nrepositories = [\"!team-a/*\"]\n"),
            4,
            "rule[0].repositories",
            "does not negate",
        ),
        (
            rule(&format!(
                "[[rule]]\nrepositories = [\"{}\"]\n",
                "a".repeat(257)
            )),
            4,
            "rule[0].repositories",
            "257 characters",
        ),
        (
            rule(
                "[[rule]]\nname = \"x\"\nrepositories = [\"a\"]\n[[rule]]\nname = \"x\"\nrepositories = [\"b\"]\n",
            ),
            7,
            "rule[1].name",
            "duplicate rule name \"x\" (first used on line 4)",
        ),
        (
            rule("[[rule]]\nname = \"defaults\"\nrepositories = [\"a\"]\n"),
            4,
            "rule[0].name",
            "duplicate rule name",
        ),
    ];
    for (text, line, field, message) in cases {
        let e = match Policy::parse(&text) {
            Ok(_) => panic!("accepted: {text:?}"),
            Err(e) => e,
        };
        assert_eq!(e.problems.len(), 1, "{text:?}: {e}");
        let p = &e.problems[0];
        assert_eq!(p.line, Some(line), "{text:?}: {e}");
        assert_eq!(p.field.as_deref(), Some(field), "{text:?}: {e}");
        assert!(p.message.contains(message), "{text:?}: {e}");
    }
    let limits = rule(&format!(
        "grace = {{ CRITICAL = \"3650d\" }}\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\ndigest = \"sha256:{hex}\"\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"o\"\n"
    ));
    assert!(
        Policy::parse(&limits).is_ok(),
        "the largest grace and a real digest are fine"
    );
}

#[test]
fn inverted_levels_and_patterns_that_can_never_match_are_warnings_with_their_line() {
    let text = "version = 1\n[defaults]\nblock = \"LOW\"\nwarn = \"CRITICAL\"\n[[rule]]\nname = \"a\"\nrepositories = [\"team-a/*\", \"Team-B/*\"]\n[[rule]]\nname = \"b\"\nrepositories = [\"team-c/\"]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"team a/*\"]\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"o\"\n";
    let p = Policy::parse(text).unwrap();
    let got: Vec<(Option<usize>, Option<&str>)> = p
        .warnings()
        .iter()
        .map(|w| (w.line, w.field.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(2), Some("defaults.warn")),
            (Some(5), Some("rule[0].repositories")),
            (Some(8), Some("rule[1].repositories")),
            (Some(15), Some("exception[0].repositories")),
        ],
        "{:?}",
        p.warnings()
    );
    assert!(
        p.warnings()[0]
            .message
            .contains("warn (CRITICAL) is above block (LOW)")
    );
    assert!(
        p.warnings()[1]
            .message
            .contains("\"Team-B/*\" can never match")
    );
    assert_eq!(
        Policy::parse(DEFAULT_POLICY).unwrap().warnings(),
        [],
        "the default policy is clean"
    );
}

#[test]
fn glob_semantics_are_kept_and_every_refused_pattern_is_named() {
    let g = |p: &str| Glob::new(p).unwrap();
    assert!(g("team-a/*").is_match("team-a/x/y"), "* crosses /");
    assert!(g("a?c").is_match("abc"));
    assert!(!g("a?c").is_match("ac"));
    assert!(g("a.c").is_match("a.c"));
    assert!(!g("a.c").is_match("abc"), ". is literal");
    assert!(
        g("a+b(c)|$^").is_match("a+b(c)|$^"),
        "regex syntax is literal"
    );
    assert!(g("é*").is_match("éa"));
    assert!(g("**").is_match(""));
    assert!(!g("team-a").is_match("team-a/x"), "anchored at the end");
    assert!(!g("team-a").is_match("x/team-a"), "anchored at the start");
    // What backtracking matchers take exponential or quadratic time on.
    let name = "a".repeat(256);
    assert!(!g(&format!("{}b", "a*".repeat(60))).is_match(&name));
    assert!(g(&format!("{}a", "*a".repeat(60))).is_match(&name));
    assert_eq!(g("team-a/*?x").specificity(), 8);
    for p in ["[", "]", "{", "}", "\\"] {
        assert_eq!(
            Glob::new(&format!("a{p}")).unwrap_err(),
            GlobError::Unsupported(p.chars().next().unwrap())
        );
    }
    assert_eq!(Glob::new("!a").unwrap_err(), GlobError::Negation);
    assert!(g("a!").is_match("a!"), "! is literal after the start");
    assert_eq!(Glob::new(" ").unwrap_err(), GlobError::Empty);
    assert_eq!(
        Glob::new(&"a".repeat(257)).unwrap_err(),
        GlobError::TooLong(257)
    );
    assert!(Glob::new(&"a".repeat(256)).is_ok());
    // `*a` then n `?`: the DFA must remember the last n+1 characters, 2^n states.
    assert!(matches!(
        Glob::new(&format!("*a{}", "?".repeat(40))),
        Err(GlobError::TooComplex(_))
    ));
    assert!(glob_match("team-*", "team-b"));
    assert!(
        !glob_match("team-[ab]", "team-[ab]"),
        "a refused pattern matches nothing"
    );
}

#[test]
fn ecr_repository_names_are_recognised() {
    for ok in ["ab", "team-a/api", "a.b_c-d/e", "x/y/z"] {
        assert!(is_ecr_repository_name(ok), "{ok}");
    }
    for bad in ["a", "Team", "a//b", "/a", "a/", "a--b", "a-", ".a", "a b"] {
        assert!(!is_ecr_repository_name(bad), "{bad}");
    }
}

fn many_exceptions(n: usize) -> String {
    let mut text = String::from("version = 1\n[defaults]\nblock = \"HIGH\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[exception]]\nid = \"CVE-2026-{i:06}\"\nrepositories = [\"team-{}/*\"]\ncreated = 2026-11-01\nexpires = 2027-01-01\nreason = \"r\"\nowner = \"o\"\n",
            i % 7
        ));
    }
    text
}

#[test]
fn line_numbers_cost_one_pass_over_the_text_whatever_the_number_of_exceptions() {
    for n in [10, 1_000, 5_000] {
        let text = many_exceptions(n);
        let (result, work) = Policy::parse_counted(&text);
        let p = result.unwrap();
        assert_eq!(p.exceptions()[n - 1].line, 4 + 7 * (n - 1));
        // One pass to build the table, then at most one block per look-up (two per exception).
        assert!(
            work <= text.len() + Lines::BLOCK * (2 * n + 4),
            "n = {n}: {work} bytes examined for {} bytes of text",
            text.len()
        );
        // A rescan per exception would examine about n/2 texts.
        assert!(work < 2 * text.len(), "n = {n}");
    }
}

#[test]
fn line_numbers_are_right_at_every_offset() {
    let text = "a\n\nbb\n".repeat(50);
    let lines = Lines::new(&text);
    for offset in 0..=text.len() + 3 {
        let want = text.as_bytes()[..offset.min(text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        assert_eq!(lines.line(offset), want, "offset {offset}");
    }
}

mod properties {
    //! Invariants of loading and of exceptions, over generated policies and findings.

    use super::*;
    use crate::domain::verdict::{Subject, Verdict, evaluate};
    use crate::domain::{Decision, FindingStatus, FixAvailable, ScanState};
    use proptest::prelude::*;
    use proptest::test_runner::Config as ProptestConfig;

    const NOW: Epoch = 1_795_000_000; // 2026-11-18
    const IDS: [&str; 4] = ["CVE-1", "CVE-2", "GHSA-3", "cve-4"];
    const PACKAGES: [&str; 3] = ["openssl", "zlib", "glibc"];
    const REPOS: [&str; 3] = ["team/app", "team/api", "other/x"];

    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    fn severity() -> impl Strategy<Value = Severity> {
        proptest::sample::select(Severity::ALL.to_vec())
    }

    fn finding() -> impl Strategy<Value = Finding> {
        (
            0..IDS.len(),
            severity(),
            0..3u8,
            0..PACKAGES.len(),
            proptest::option::of(any::<bool>()),
            proptest::option::of(0.0..=1.0f64),
            proptest::option::of(0.0..=10.0f64),
            any::<bool>(),
        )
            .prop_map(
                |(id, severity, status, package, exploit, epss, score, fix)| {
                    let mut f = Finding::new(IDS[id], severity);
                    f.status = match status {
                        0 => FindingStatus::Active,
                        1 => FindingStatus::Suppressed,
                        _ => FindingStatus::Closed,
                    };
                    f.packages.push(crate::domain::Package {
                        name: PACKAGES[package].into(),
                        version: None,
                        fixed_in: None,
                    });
                    f.exploit_available = exploit;
                    f.epss = epss;
                    f.score = score;
                    f.fix_available = Some(if fix {
                        FixAvailable::Yes
                    } else {
                        FixAvailable::No
                    });
                    f
                },
            )
    }

    /// One `[[exception]]` table: id, pattern, optional package, and its validity window around NOW.
    fn exception() -> impl Strategy<Value = String> {
        (
            0..IDS.len(),
            proptest::sample::select(vec!["*", "team/*", "team/a??", "other/*", "x"]),
            proptest::option::of(0..PACKAGES.len()),
            -40i64..40,
            1i64..60,
        )
            .prop_map(|(id, pattern, package, start, days)| {
                let created = NOW + start * DAY;
                format!(
                    "[[exception]]\nid = \"{}\"\nrepositories = [\"{pattern}\"]\n{}created = \"{}\"\nexpires = \"{}\"\nreason = \"r\"\nowner = \"o\"\n",
                    IDS[id].to_ascii_uppercase(),
                    package.map_or(String::new(), |p| format!("package = \"{}\"\n", PACKAGES[p])),
                    crate::domain::time::format_rfc3339(created),
                    crate::domain::time::format_rfc3339(created + days * DAY),
                )
            })
    }

    fn head() -> impl Strategy<Value = String> {
        (severity(), severity(), any::<bool>(), proptest::option::of(0.0..=1.0f64)).prop_map(
            |(block, warn, fixable_only, epss)| {
                format!(
                    "version = 1\n[defaults]\nblock = {{ severity = \"{}\"{} }}\nwarn = \"{}\"\nfixable_only = {fixable_only}\n",
                    block.as_str(),
                    epss.map_or(String::new(), |e| format!(", epss = {e}")),
                    warn.as_str()
                )
            },
        )
    }

    /// A generated policy with its exceptions (at least `min`) and the same policy without them,
    /// findings to judge, and the repository to judge them in.
    fn with_and_without(
        min: usize,
    ) -> impl Strategy<Value = (Policy, Policy, Vec<Finding>, &'static str)> {
        (
            head(),
            proptest::collection::vec(exception(), min..8),
            proptest::collection::vec(finding(), 0..12),
            proptest::sample::select(REPOS.to_vec()),
        )
            .prop_map(|(head, exceptions, findings, repo)| {
                let with = Policy::parse(&format!("{head}{}", exceptions.concat())).unwrap();
                (with, Policy::parse(&head).unwrap(), findings, repo)
            })
    }

    fn rank(d: Decision) -> u8 {
        match d {
            Decision::Pass => 0,
            Decision::Warn => 1,
            Decision::Block | Decision::Pending => 2,
        }
    }

    fn judge(p: &Policy, repo: &str, findings: &[Finding]) -> Verdict {
        evaluate(
            p,
            &Subject::new(repo, AA, NOW),
            findings,
            &ScanState::Complete,
        )
    }

    proptest! {
        #![proptest_config(config(64))]

        #[test]
        fn loading_examines_a_bounded_number_of_bytes_per_exception(
            head in head(),
            exceptions in proptest::collection::vec(exception(), 0..200),
            broken in proptest::collection::vec(any::<bool>(), 200),
        ) {
            // Some exceptions broken (no owner, expires before created): problems cost look-ups too.
            let mut text = head;
            for (e, broken) in exceptions.iter().zip(&broken) {
                if *broken {
                    text.push_str(&e.replace("owner = \"o\"", "owner = \"\"").replace("created", "x_created"));
                } else {
                    text.push_str(e);
                }
            }
            let (_, work) = Policy::parse_counted(&text);
            let n = exceptions.len();
            prop_assert!(work <= text.len() + Lines::BLOCK * (8 * n + 8), "{work} for {} bytes, {n} exceptions", text.len());
        }

        #[test]
        fn exceptions_only_ever_lower_a_decision((with, without, findings, repo) in with_and_without(0)) {
            let (a, b) = (judge(&without, repo, &findings), judge(&with, repo, &findings));
            prop_assert!(rank(b.decision) <= rank(a.decision), "{:?} became {:?}", a.decision, b.decision);
            prop_assert!(b.blocking <= a.blocking);
            prop_assert_eq!(a.counts, b.counts, "exempt findings still count");
        }

        #[test]
        fn an_expired_exception_never_applies((with, without, findings, repo) in with_and_without(1)) {
            // Judged once every exception has expired (the longest ends before NOW + 100 days).
            let later = NOW + 100 * DAY;
            let v = evaluate(&with, &Subject::new(repo, AA, later), &findings, &ScanState::Complete);
            let w = evaluate(&without, &Subject::new(repo, AA, later), &findings, &ScanState::Complete);
            prop_assert!(v.exceptions.is_empty(), "{:?}", v.exceptions);
            prop_assert_eq!((v.decision, v.blocking, v.warning, v.counts), (w.decision, w.blocking, w.warning, w.counts));
        }

        #[test]
        fn evaluation_does_not_depend_on_the_order_of_findings(
            head in head(),
            exceptions in proptest::collection::vec(exception(), 0..6),
            findings in proptest::collection::vec(finding(), 0..16),
            seed in any::<u64>(),
            repo in 0..REPOS.len(),
        ) {
            let p = Policy::parse(&format!("{head}{}", exceptions.concat())).unwrap();
            let mut shuffled = findings.clone();
            // Fisher-Yates with a small LCG: the permutation is part of the generated case.
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                shuffled.swap(i, (s >> 33) as usize % (i + 1));
            }
            let (a, b) = (judge(&p, REPOS[repo], &findings), judge(&p, REPOS[repo], &shuffled));
            prop_assert_eq!((a.decision, a.blocking, a.warning, a.counts, a.max_severity), (b.decision, b.blocking, b.warning, b.counts, b.max_severity));
        }
    }
}

#[test]
fn a_rule_keeps_what_it_sets_and_takes_every_other_setting_from_the_defaults() {
    let defaults: RuleDoc = toml::from_str(
        r#"block = "HIGH"
warn = "LOW"
fixable_only = true
mode = "audit"
grace = { CRITICAL = "7d" }
verified_prefix = "ok-"
"#,
    )
    .unwrap();
    let default = default_rule(&defaults);
    let written: RuleDoc = toml::from_str(
        r#"repositories = ["team-a/*"]
block = "CRITICAL"
suppressed = "exempt"
"#,
    )
    .unwrap();
    let rule = overlay(&default, &written, "team-a".into());
    assert_eq!(
        rule,
        Rule {
            name: "team-a".into(),
            block: written.block.unwrap(),
            suppressed: Suppressed::Exempt,
            ..default.clone()
        }
    );
    assert_eq!(
        (
            default.name.as_str(),
            default.unscanned,
            default.new_finding_margin
        ),
        ("defaults", Unscanned::Allow, DAY),
        "what the defaults leave out is built in"
    );
}

#[test]
fn exceptions_are_indexed_by_id_whatever_its_case_each_id_keeping_every_position() {
    let text = [("cve-1", "a/*"), ("GHSA-x", "*"), ("CVE-1", "b/*")]
        .iter()
        .map(|(id, repositories)| november_exception(id, repositories))
        .collect::<String>();
    let p = Policy::parse(&format!(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n{text}"
    ))
    .unwrap();
    let index = index_by_id(p.exceptions());
    assert_eq!(
        index,
        HashMap::from([
            ("CVE-1".to_string(), vec![0, 2]),
            ("GHSA-X".to_string(), vec![1])
        ])
    );
}

#[test]
fn an_unknown_ou_path_gets_the_strictest_of_the_rules_that_could_apply() {
    // The defaults, a sandbox OU's rule laxer in some settings and stricter in others, and an OU
    // rule of another region that cannot apply here.
    let sandbox = [
        r#"name = "sandbox""#,
        r#"ous = ["ou-ab12-22222222"]"#,
        r#"repositories = ["*"]"#,
        r#"block = { severity = "HIGH", epss = 0.5 }"#,
        r#"warn = "LOW""#,
        r#"mode = "audit""#,
        r#"unscanned = "hold""#,
        "fixable_only = true",
        r#"grace = { HIGH = "3d" }"#,
    ];
    let elsewhere = r#"name = "other-region-ou"
ous = ["ou-ab12-33333333"]
regions = ["us-east-1"]
repositories = ["*"]
block = "LOW""#;
    let defaults = r#"block = "CRITICAL"
grace = { HIGH = "7d", MEDIUM = "30d" }"#;
    let p = Policy::parse(&format!(
        "version = 1\n[defaults]\n{defaults}\n[[rule]]\n{}\n[[rule]]\n{elsewhere}\n{SANDBOX_ACCOUNT}",
        sandbox.join("\n")
    ))
    .unwrap();
    let unknown = located("111111111111", "eu-west-1", None);
    let rule = p.rule_at("team/app", unknown);
    assert_eq!(rule.name, "strictest of defaults, sandbox");
    assert_eq!(
        (rule.block.severity, rule.block.epss),
        (Some(Severity::High), Some(0.5))
    );
    assert_eq!(rule.warn.severity, Some(Severity::Low));
    assert_eq!(
        (rule.mode, rule.unscanned, rule.fixable_only),
        (Mode::Enforce, Unscanned::Hold, false)
    );
    // Grace only where both give some, the shorter.
    assert_eq!(rule.grace, BTreeMap::from([(Severity::High, 3 * DAY)]));
    // Known, the path chooses one rule; an account rule outranks every OU rule; and a policy
    // without OU rules never merges.
    let known = located("111111111111", "eu-west-1", Some("r-ab12/ou-ab12-11111111"));
    assert_eq!(p.rule_at("team/app", known).name, "defaults");
    let account = located("222222222222", "eu-west-1", None);
    assert_eq!(p.rule_at("team/app", account).name, "sandbox-account");
    let plain = Policy::parse("version = 1\n[defaults]\nblock = \"CRITICAL\"\n").unwrap();
    assert_eq!(plain.rule_at("team/app", unknown).name, "defaults");
}

#[test]
fn deny_lists_vulnerability_ids_and_fix_thresholds_that_never_decide_are_warnings() {
    let bad = "version = 1\n[defaults]\nblock = \"HIGH\"\ndeny = [\"CVE-2024-3094\", \"not an id\", \"\"]\n";
    let e = Policy::parse(bad).unwrap_err();
    let fields: Vec<(Option<&str>, bool)> = (e.problems.iter())
        .map(|p| {
            (
                p.field.as_deref(),
                p.message.contains("is not a vulnerability id"),
            )
        })
        .collect();
    assert_eq!(
        fields,
        [(Some("defaults.deny"), true), (Some("defaults.deny"), true)],
        "{e}"
    );

    let text = "version = 1\n[defaults]\nblock = { severity = \"HIGH\", fixable = \"CRITICAL\" }\ndeny = [\"CVE-1\", \"cve-1\", \"RHSA-2024:1234\"]\n[[rule]]\nname = \"lenient\"\nrepositories = [\"sandbox/*\"]\nfixable_only = true\nblock = { unfixable = \"CRITICAL\", fixable = \"HIGH\" }\n";
    let p = Policy::parse(text).unwrap();
    let got: Vec<(Option<&str>, &str)> = (p.warnings().iter())
        .map(|w| (w.field.as_deref(), w.message.as_str()))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0].0, Some("defaults.block.fixable"));
    assert!(
        got[0]
            .1
            .contains("CRITICAL is at or above block.severity (HIGH)")
    );
    assert_eq!(got[1], (Some("defaults.deny"), "cve-1 is listed twice"));
    assert_eq!(got[2].0, Some("rule[0].block.unfixable"));
    assert!(got[2].1.contains("fixable_only"));
    assert_eq!(
        p.rule_for("a/b").deny.len(),
        2,
        "ids are compared in upper case"
    );
}

#[test]
fn the_strictest_rule_denies_every_id_either_denies_and_takes_each_fix_threshold_at_its_lowest() {
    let p = Policy::parse("version = 1\n[defaults]\nblock = { fixable = \"HIGH\", unfixable = \"CRITICAL\" }\ndeny = [\"CVE-1\"]\n[[rule]]\nname = \"b\"\nrepositories = [\"b/*\"]\nblock = { unfixable = \"HIGH\" }\ndeny = [\"CVE-2\"]\n").unwrap();
    let (a, b) = (p.rule_for("a/x"), p.rule_for("b/x"));
    let s = Rule::strictest(a, &[b]);
    assert_eq!(
        (s.block.fixable, s.block.unfixable),
        (Some(Severity::High), Some(Severity::High))
    );
    assert_eq!(s.deny.iter().collect::<Vec<_>>(), ["CVE-1", "CVE-2"]);
}

#[test]
fn on_block_is_per_rule_with_its_settings_and_the_strictest_archives() {
    let text = "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"prod\"\nrepositories = [\"prod/*\"]\non_block = \"runtime\"\nnot_in_use_for = \"30d\"\nmin_grace = \"2d\"\n[[rule]]\nname = \"lab\"\nrepositories = [\"lab/*\"]\non_block = \"archive\"\n";
    let p = Policy::parse(text).unwrap();
    assert_eq!(p.warnings(), [], "{:?}", p.warnings());
    let rule = |repo| p.rule_in(repo, Whereabouts::default()).clone();
    let (d, prod, lab) = (rule("x/y"), rule("prod/api"), rule("lab/x"));
    assert_eq!(
        (d.on_block, d.not_in_use_for, d.min_grace),
        (OnBlock::Retag, 14 * DAY, DAY),
        "defaults: retag, 14d, 24h"
    );
    assert_eq!(
        (prod.on_block, prod.not_in_use_for, prod.min_grace),
        (OnBlock::Runtime, 30 * DAY, 2 * DAY)
    );
    assert_eq!(lab.on_block, OnBlock::Archive);
    let strictest = Rule::strictest(&prod, &[&lab, &d]);
    assert_eq!(
        (
            strictest.on_block,
            strictest.not_in_use_for,
            strictest.min_grace
        ),
        (OnBlock::Archive, 14 * DAY, DAY)
    );
    let bad = "version = 1\n[defaults]\nblock = \"CRITICAL\"\non_block = \"delete\"\n";
    let e = Policy::parse(bad).unwrap_err();
    assert!(
        format!("{e:?}").contains("unknown variant `delete`"),
        "{e:?}"
    );
}

#[test]
fn archive_settings_that_do_nothing_or_misread_ecr_are_warnings() {
    let text = "version = 1\n[defaults]\nblock = \"CRITICAL\"\nnot_in_use_for = \"7d\"\n[[rule]]\nname = \"a\"\nrepositories = [\"a/*\"]\non_block = \"runtime\"\nnot_in_use_for = \"6h\"\n[[rule]]\nname = \"b\"\nrepositories = [\"b/*\"]\non_block = \"archive\"\nmode = \"audit\"\nmin_grace = \"1d\"\n";
    let p = Policy::parse(text).unwrap();
    let got: Vec<(Option<&str>, &str)> = (p.warnings().iter())
        .map(|w| (w.field.as_deref(), w.message.as_str()))
        .collect();
    let has = |field: &str, text: &str| {
        got.iter()
            .any(|(f, m)| *f == Some(field) && m.contains(text))
    };
    assert!(
        has("defaults.not_in_use_for", "only on_block = \"runtime\""),
        "{got:?}"
    );
    assert!(has("rule[0].not_in_use_for", "about once a day"), "{got:?}");
    assert!(
        has("rule[1].min_grace", "only on_block = \"runtime\""),
        "{got:?}"
    );
    assert!(has("rule[1].on_block", "never archives"), "{got:?}");
}
