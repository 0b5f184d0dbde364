//! The policy: a TOML document of rules, exceptions and limits, validated when loaded. Pure:
//! parsing, validation and lookup, no I/O.
//!
//! An invalid policy is an error that names the line and the field, never a silent "allow
//! everything". The passage of time never makes a valid policy invalid: an expired exception simply
//! stops applying (and the verdict says so).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::domain::{Finding, Mode, Severity};
use crate::time::{DAY, Epoch, format_date, parse_duration, parse_rfc3339};

/// The policy the gatekeeper uses when none is configured: block at CRITICAL, warn at HIGH.
pub const DEFAULT_POLICY: &str = r#"# ecr-gatekeeper default policy: block at CRITICAL, warn at HIGH, in every repository.
version = 1

[defaults]
block = "CRITICAL"
warn = "HIGH"
"#;

/// What to do with an image no scanner has looked at yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unscanned {
    /// Leave its tags deployable (and alert when no scanner covers the repository).
    Allow,
    /// Move its tags to `held-<T>--<hex>` until a scan verdict releases or quarantines them.
    Hold,
}

/// How Inspector-SUPPRESSED findings count. Suppression rules have no owner and no expiry, so they
/// count like active findings unless a rule opts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Suppressed {
    /// Suppressed findings count like active ones (default); the verdict notes them.
    Count,
    /// Suppressed findings are exempt, like an exception; the verdict still lists how many.
    Exempt,
}

/// A duration written `30d`, `12h`, `15m`, `90s` or `2w`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub i64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .filter(|v| *v >= 0)
            .map(Duration)
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "invalid duration {s:?}: expected a number with s, m, h, d or w (\"30d\")"
                ))
            })
    }
}

/// A date or date-time: a TOML date (`2026-12-01`), a TOML date-time, or the same as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(pub Epoch);

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = match toml::Value::deserialize(d)? {
            toml::Value::Datetime(dt) => dt.to_string(),
            toml::Value::String(s) => s,
            other => {
                return Err(de::Error::custom(format!(
                    "expected a date such as 2026-12-01, got {}",
                    other.type_str()
                )));
            }
        };
        parse_rfc3339(&text).map(When).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid date {text:?}: expected 2026-12-01 or 2026-12-01T12:00:00Z"
            ))
        })
    }
}

/// When a finding meets a level (block or warn): any one criterion is enough.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Criteria {
    /// Severity at or above this.
    pub severity: Option<Severity>,
    /// Severity at or above this *and* Inspector says an exploit is available (escalation).
    pub exploitable: Option<Severity>,
    /// EPSS probability at or above this (0..1); a finding without EPSS never meets it.
    pub epss: Option<f64>,
    /// Inspector score at or above this (0..10); a finding without a score never meets it.
    pub score: Option<f64>,
}

/// Why a finding met a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Criterion {
    /// Its severity.
    Severity,
    /// Its severity, with an exploit available.
    Exploitable,
    /// Its EPSS.
    Epss,
    /// Its Inspector score.
    Score,
}

impl Criteria {
    /// The first criterion the finding meets. Missing scores never meet a score criterion, and never
    /// stop a severity criterion from applying.
    pub fn met_by(&self, f: &Finding) -> Option<Criterion> {
        if self.severity.is_some_and(|t| f.severity.at_least(t)) {
            return Some(Criterion::Severity);
        }
        if f.exploit_available == Some(true)
            && self.exploitable.is_some_and(|t| f.severity.at_least(t))
        {
            return Some(Criterion::Exploitable);
        }
        if let (Some(t), Some(v)) = (self.epss, f.epss)
            && v >= t
        {
            return Some(Criterion::Epss);
        }
        if let (Some(t), Some(v)) = (self.score, f.score)
            && v >= t
        {
            return Some(Criterion::Score);
        }
        None
    }

    /// Whether no criterion is set.
    pub fn is_empty(&self) -> bool {
        self.severity.is_none()
            && self.exploitable.is_none()
            && self.epss.is_none()
            && self.score.is_none()
    }
}

/// `block = "CRITICAL"` is short for `block = { severity = "CRITICAL" }`.
fn criteria<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Criteria>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Criteria;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "a severity (\"CRITICAL\") or a table { severity, exploitable, epss, score }",
            )
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Criteria, E> {
            let severity = Severity::deserialize(de::value::StrDeserializer::<E>::new(v))?;
            Ok(Criteria {
                severity: Some(severity),
                ..Criteria::default()
            })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Criteria, A::Error> {
            Criteria::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(V).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    name: Option<String>,
    #[serde(default)]
    repositories: Vec<String>,
    #[serde(default, deserialize_with = "criteria")]
    block: Option<Criteria>,
    #[serde(default, deserialize_with = "criteria")]
    warn: Option<Criteria>,
    fixable_only: Option<bool>,
    suppressed: Option<Suppressed>,
    mode: Option<Mode>,
    unscanned: Option<Unscanned>,
    new_finding_margin: Option<Duration>,
    grace: Option<BTreeMap<Severity, Duration>>,
    grace_in_use: Option<BTreeMap<Severity, Duration>>,
    verified_prefix: Option<String>,
    verify_warn: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionDoc {
    id: Spanned<String>,
    repositories: Option<Spanned<Vec<String>>>,
    package: Option<String>,
    digest: Option<String>,
    created: Spanned<When>,
    expires: Spanned<When>,
    reason: Spanned<String>,
    owner: Spanned<String>,
    ticket: Option<String>,
    severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TicketsDoc {
    severity: Severity,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerDoc {
    max_tag_changes: u32,
    window: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    version: Spanned<u32>,
    expiry_notice: Option<Duration>,
    #[serde(default)]
    defaults: RuleDoc,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleDoc>>,
    #[serde(default, rename = "exception")]
    exceptions: Vec<Spanned<ExceptionDoc>>,
    #[serde(default)]
    exception_limits: BTreeMap<Severity, Duration>,
    breaker: Option<BreakerDoc>,
    tickets: Option<TicketsDoc>,
}

/// The settings that apply to one repository: the defaults overlaid by the matching rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `defaults`, the rule's `name`, or `rule[<n>]`.
    pub name: String,
    /// When a finding blocks.
    pub block: Criteria,
    /// When a finding warns.
    pub warn: Criteria,
    /// A finding without a fix warns instead of blocking.
    pub fixable_only: bool,
    /// How SUPPRESSED findings count.
    pub suppressed: Suppressed,
    /// `enforce` (default) or `audit`; the deployment's GATEKEEPER_MODE=audit overrides every rule.
    pub mode: Mode,
    /// Images without a scan result yet.
    pub unscanned: Unscanned,
    /// A finding first observed this long after the image's first scan was found by a rescan.
    pub new_finding_margin: i64,
    /// Grace per severity for findings found by a rescan, for images not in use.
    pub grace: BTreeMap<Severity, i64>,
    /// Grace per severity for images in use (Inspector's `inUseCount` > 0); falls back to `grace`.
    pub grace_in_use: BTreeMap<Severity, i64>,
    /// Prefix of the tags the gatekeeper writes on images that verify (`verified-`), if any.
    pub verified_prefix: Option<String>,
    /// Whether `warn` verifies too.
    pub verify_warn: bool,
}

impl Rule {
    /// The grace period for a finding of `severity` on an image in use or not, if any.
    pub fn grace_for(&self, severity: Severity, in_use: bool) -> Option<i64> {
        if in_use && let Some(g) = self.grace_in_use.get(&severity) {
            return Some(*g);
        }
        self.grace.get(&severity).copied()
    }
}

/// An exception: one vulnerability, accepted for a scope, until a date, by someone, for a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// Vulnerability id (CVE-..., GHSA-...), matched case-insensitively.
    pub id: String,
    /// Repository globs.
    pub repositories: Vec<String>,
    /// Only this package, if set.
    pub package: Option<String>,
    /// Only this digest, if set.
    pub digest: Option<String>,
    /// When it was granted.
    pub created: Epoch,
    /// When it stops applying.
    pub expires: Epoch,
    /// Why (required).
    pub reason: String,
    /// Who answers for it (required).
    pub owner: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// The severity it was granted for (checked against the lifetime limits).
    pub severity: Option<Severity>,
    /// Line of its `[[exception]]` table.
    pub line: usize,
}

impl Exception {
    fn scope_matches(&self, f: &Finding, repository: &str, digest: &str) -> bool {
        self.repositories.iter().any(|p| glob_match(p, repository))
            && self.digest.as_deref().is_none_or(|d| d == digest)
            && self
                .package
                .as_deref()
                .is_none_or(|p| f.packages.iter().any(|fp| fp.name == p))
    }
}

/// Whether and how an exception applies to a finding now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExceptionMatch<'a> {
    /// It applies.
    Applies(&'a Exception),
    /// It matched, but expired.
    Expired(&'a Exception),
    /// It matched, but is not valid yet (`created` is in the future).
    NotYet(&'a Exception),
    /// It matched, but its lifetime exceeds the limit for the finding's actual severity.
    TooLong(&'a Exception, i64),
}

/// The circuit breaker: more than `max_tag_changes` in `window` seconds stops all tag changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Breaker {
    /// Tag changes allowed per window.
    pub max_tag_changes: u32,
    /// Window, seconds.
    pub window: i64,
}

#[derive(Debug, Clone)]
struct Scoped {
    patterns: Vec<String>,
    rule: Rule,
}

/// A validated policy.
#[derive(Debug, Clone)]
pub struct Policy {
    default: Rule,
    rules: Vec<Scoped>,
    exceptions: Vec<Exception>,
    by_id: HashMap<String, Vec<usize>>,
    limits: BTreeMap<Severity, i64>,
    expiry_notice: i64,
    breaker: Breaker,
    ticket_severity: Option<Severity>,
    hash: String,
}

/// One problem in a policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The field concerned (`rule[1].repositories`, `exception[3].expires`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.message)
    }
}

/// A policy that cannot be used: every problem found, each with its line and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The problems, in document order.
    pub problems: Vec<Problem>,
}

impl PolicyError {
    fn one(line: Option<usize>, field: Option<String>, message: impl Into<String>) -> PolicyError {
        PolicyError {
            problems: vec![Problem {
                line,
                field,
                message: message.into(),
            }],
        }
    }

    /// The first problem.
    pub fn first(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The key on the line of `offset` (`block` in `block = "X"`), for error messages.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

/// Whether `name` matches `pattern`: `*` is any run of characters (`/` included), `?` one character.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// How specific a pattern is: its literal characters (an exact name beats `team-a/*`, which beats `*`).
fn specificity(pattern: &str) -> usize {
    pattern.bytes().filter(|c| *c != b'*' && *c != b'?').count()
}

const DEFAULT_MARGIN: i64 = DAY;
const DEFAULT_EXPIRY_NOTICE: i64 = 14 * DAY;
const DEFAULT_BREAKER: Breaker = Breaker {
    max_tag_changes: 100,
    window: 600,
};

fn secs(map: &Option<BTreeMap<Severity, Duration>>) -> Option<BTreeMap<Severity, i64>> {
    map.as_ref()
        .map(|m| m.iter().map(|(k, v)| (*k, v.0)).collect())
}

impl Policy {
    /// Parses and validates a policy document; every problem is reported with its line and field.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let doc: PolicyDoc = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            PolicyError::one(
                offset.map(|o| line_of(text, o)),
                offset.and_then(|o| key_at(text, o)),
                e.message().trim(),
            )
        })?;
        let hash = Sha256::digest(text.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Policy::from_doc(doc, text, hash)
    }

    fn from_doc(doc: PolicyDoc, text: &str, hash: String) -> Result<Policy, PolicyError> {
        let mut problems = Vec::new();
        let mut problem = |span: std::ops::Range<usize>, field: String, message: String| {
            problems.push(Problem {
                line: Some(line_of(text, span.start)),
                field: Some(field),
                message,
            });
        };
        if *doc.version.get_ref() != 1 {
            problem(
                doc.version.span(),
                "version".into(),
                format!(
                    "unsupported policy version {}: this gatekeeper reads version 1",
                    doc.version.get_ref()
                ),
            );
        }
        let defaults_at = text.find("[defaults]").unwrap_or(0);
        let defaults_span = defaults_at..defaults_at;
        let d = doc.defaults;
        if !d.repositories.is_empty() {
            problem(defaults_span.clone(), "defaults.repositories".into(), "the default rule applies to every repository; put repository patterns in a [[rule]]".into());
        }
        let default = Rule {
            name: d.name.clone().unwrap_or_else(|| "defaults".into()),
            block: d.block.unwrap_or_default(),
            warn: d.warn.unwrap_or_default(),
            fixable_only: d.fixable_only.unwrap_or(false),
            suppressed: d.suppressed.unwrap_or(Suppressed::Count),
            mode: d.mode.unwrap_or(Mode::Enforce),
            unscanned: d.unscanned.unwrap_or(Unscanned::Allow),
            new_finding_margin: d.new_finding_margin.map_or(DEFAULT_MARGIN, |m| m.0),
            grace: secs(&d.grace).unwrap_or_default(),
            grace_in_use: secs(&d.grace_in_use).unwrap_or_default(),
            verified_prefix: d.verified_prefix.clone(),
            verify_warn: d.verify_warn.unwrap_or(false),
        };
        let check_rule = |field: &str,
                          span: std::ops::Range<usize>,
                          r: &RuleDoc,
                          problems: &mut Vec<Problem>| {
            for (level, c) in [("block", &r.block), ("warn", &r.warn)] {
                if let Some(c) = c {
                    if c.epss.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                        problems.push(Problem {
                            line: Some(line_of(text, span.start)),
                            field: Some(format!("{field}.{level}.epss")),
                            message: "must be between 0 and 1".into(),
                        });
                    }
                    if c.score.is_some_and(|v| !(0.0..=10.0).contains(&v)) {
                        problems.push(Problem {
                            line: Some(line_of(text, span.start)),
                            field: Some(format!("{field}.{level}.score")),
                            message: "must be between 0 and 10".into(),
                        });
                    }
                }
            }
            if let Some(p) = &r.verified_prefix
                && !crate::tags::is_valid_oci_tag(p)
            {
                problems.push(Problem {
                    line: Some(line_of(text, span.start)),
                    field: Some(format!("{field}.verified_prefix")),
                    message: "must start with [A-Za-z0-9_] and contain only [A-Za-z0-9_.-]".into(),
                });
            }
        };
        check_rule("defaults", defaults_span, &d, &mut problems);
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, spanned) in doc.rules.into_iter().enumerate() {
            let span = spanned.span();
            let r = spanned.into_inner();
            let name = r.name.clone().unwrap_or_else(|| format!("rule[{i}]"));
            check_rule(&format!("rule[{i}]"), span.clone(), &r, &mut problems);
            if r.repositories.is_empty() || r.repositories.iter().any(|p| p.trim().is_empty()) {
                problems.push(Problem {
                    line: Some(line_of(text, span.start)),
                    field: Some(format!("rule[{i}].repositories")),
                    message:
                        "a rule needs at least one non-empty repository pattern (\"team-a/*\")"
                            .into(),
                });
            }
            rules.push(Scoped {
                patterns: r.repositories,
                rule: Rule {
                    name,
                    block: r.block.unwrap_or(default.block),
                    warn: r.warn.unwrap_or(default.warn),
                    fixable_only: r.fixable_only.unwrap_or(default.fixable_only),
                    suppressed: r.suppressed.unwrap_or(default.suppressed),
                    mode: r.mode.unwrap_or(default.mode),
                    unscanned: r.unscanned.unwrap_or(default.unscanned),
                    new_finding_margin: r
                        .new_finding_margin
                        .map_or(default.new_finding_margin, |m| m.0),
                    grace: secs(&r.grace).unwrap_or_else(|| default.grace.clone()),
                    grace_in_use: secs(&r.grace_in_use)
                        .unwrap_or_else(|| default.grace_in_use.clone()),
                    verified_prefix: r
                        .verified_prefix
                        .clone()
                        .or_else(|| default.verified_prefix.clone()),
                    verify_warn: r.verify_warn.unwrap_or(default.verify_warn),
                },
            });
        }
        let limits: BTreeMap<Severity, i64> = doc
            .exception_limits
            .iter()
            .map(|(k, v)| (*k, v.0))
            .collect();
        let mut exceptions = Vec::with_capacity(doc.exceptions.len());
        for (i, spanned) in doc.exceptions.into_iter().enumerate() {
            let line = line_of(text, spanned.span().start);
            let e = spanned.into_inner();
            let field = |k: &str| format!("exception[{i}].{k}");
            let mut bad = |span: std::ops::Range<usize>, k: &str, m: String| {
                problems.push(Problem {
                    line: Some(line_of(text, span.start)),
                    field: Some(field(k)),
                    message: m,
                })
            };
            if e.id.get_ref().trim().is_empty() {
                bad(e.id.span(), "id", "must not be empty".into());
            }
            if e.reason.get_ref().trim().is_empty() {
                bad(
                    e.reason.span(),
                    "reason",
                    "is required: say why the risk is accepted".into(),
                );
            }
            if e.owner.get_ref().trim().is_empty() {
                bad(
                    e.owner.span(),
                    "owner",
                    "is required: say who answers for it".into(),
                );
            }
            let repositories = e
                .repositories
                .as_ref()
                .map(|r| r.get_ref().clone())
                .unwrap_or_default();
            if repositories.is_empty() || repositories.iter().any(|p| p.trim().is_empty()) {
                let span = e
                    .repositories
                    .as_ref()
                    .map_or_else(|| e.id.span(), Spanned::span);
                bad(
                    span,
                    "repositories",
                    "needs at least one repository pattern (\"*\" for all)".into(),
                );
            }
            let (created, expires) = (e.created.get_ref().0, e.expires.get_ref().0);
            if expires <= created {
                bad(
                    e.expires.span(),
                    "expires",
                    format!("must be after created ({})", format_date(created)),
                );
            } else if let Some(limit) = e.severity.and_then(|s| limits.get(&s))
                && expires - created > *limit
            {
                bad(
                    e.expires.span(),
                    "expires",
                    format!(
                        "a {} exception may last {} days; this one lasts {} days",
                        e.severity.map_or("", Severity::as_str),
                        limit / DAY,
                        (expires - created + DAY - 1) / DAY
                    ),
                );
            }
            exceptions.push(Exception {
                id: e.id.get_ref().trim().to_string(),
                repositories,
                package: e.package,
                digest: e.digest,
                created,
                expires,
                reason: e.reason.into_inner(),
                owner: e.owner.into_inner(),
                ticket: e.ticket,
                severity: e.severity,
                line,
            });
        }
        if let Some(b) = &doc.breaker
            && (b.max_tag_changes == 0 || b.window.0 <= 0)
        {
            problems.push(Problem {
                line: None,
                field: Some("breaker".into()),
                message: "max_tag_changes and window must be positive".into(),
            });
        }
        if !problems.is_empty() {
            problems.sort_by_key(|p| p.line);
            return Err(PolicyError { problems });
        }
        let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, e) in exceptions.iter().enumerate() {
            by_id.entry(e.id.to_ascii_uppercase()).or_default().push(i);
        }
        Ok(Policy {
            default,
            rules,
            exceptions,
            by_id,
            limits,
            expiry_notice: doc.expiry_notice.map_or(DEFAULT_EXPIRY_NOTICE, |d| d.0),
            breaker: doc.breaker.map_or(DEFAULT_BREAKER, |b| Breaker {
                max_tag_changes: b.max_tag_changes,
                window: b.window.0,
            }),
            ticket_severity: doc.tickets.map(|t| t.severity),
            hash,
        })
    }

    /// The built-in default policy.
    pub fn builtin() -> Policy {
        Policy::parse(DEFAULT_POLICY).unwrap_or_else(|_| {
            // DEFAULT_POLICY is a constant checked by a unit test; this keeps the function infallible.
            let rule = Rule {
                name: "defaults".into(),
                block: Criteria {
                    severity: Some(Severity::Critical),
                    ..Criteria::default()
                },
                warn: Criteria {
                    severity: Some(Severity::High),
                    ..Criteria::default()
                },
                fixable_only: false,
                suppressed: Suppressed::Count,
                mode: Mode::Enforce,
                unscanned: Unscanned::Allow,
                new_finding_margin: DEFAULT_MARGIN,
                grace: BTreeMap::new(),
                grace_in_use: BTreeMap::new(),
                verified_prefix: None,
                verify_warn: false,
            };
            Policy {
                default: rule,
                rules: Vec::new(),
                exceptions: Vec::new(),
                by_id: HashMap::new(),
                limits: BTreeMap::new(),
                expiry_notice: DEFAULT_EXPIRY_NOTICE,
                breaker: DEFAULT_BREAKER,
                ticket_severity: None,
                hash: "builtin".into(),
            }
        })
    }

    /// The rule for a repository: the most specific matching pattern wins (most literal characters;
    /// on a tie, the rule written first); no match gives the defaults.
    pub fn rule_for(&self, repository: &str) -> &Rule {
        let mut best: Option<(usize, &Rule)> = None;
        for scoped in &self.rules {
            for pattern in &scoped.patterns {
                if glob_match(pattern, repository) {
                    let s = specificity(pattern);
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, &scoped.rule));
                    }
                }
            }
        }
        best.map_or(&self.default, |(_, r)| r)
    }

    /// Every distinct rule (defaults first), for listing.
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        std::iter::once(&self.default).chain(self.rules.iter().map(|s| &s.rule))
    }

    /// The exception that decides for this finding of this image at `now`, if any matches its scope:
    /// an applicable one wins over expired or invalid ones.
    pub fn exception_for(
        &self,
        f: &Finding,
        repository: &str,
        digest: &str,
        now: Epoch,
    ) -> Option<ExceptionMatch<'_>> {
        let ids = self.by_id.get(f.id.as_str()).or_else(|| {
            // Ids are indexed upper-cased; most ids already are, so the allocation is rare.
            if f.id.bytes().any(|b| b.is_ascii_lowercase()) {
                self.by_id.get(&f.id.to_ascii_uppercase())
            } else {
                None
            }
        })?;
        let mut fallback = None;
        for &i in ids {
            let e = &self.exceptions[i];
            if !e.scope_matches(f, repository, digest) {
                continue;
            }
            let m = if now >= e.expires {
                ExceptionMatch::Expired(e)
            } else if now < e.created {
                ExceptionMatch::NotYet(e)
            } else if let Some(limit) = self
                .limits
                .get(&f.severity)
                .filter(|l| e.expires - e.created > **l)
            {
                ExceptionMatch::TooLong(e, *limit)
            } else {
                return Some(ExceptionMatch::Applies(e));
            };
            fallback.get_or_insert(m);
        }
        fallback
    }

    /// Every exception, in document order.
    pub fn exceptions(&self) -> &[Exception] {
        &self.exceptions
    }

    /// Exceptions still valid at `now` that expire within `within` seconds, soonest first.
    pub fn expiring(&self, now: Epoch, within: i64) -> Vec<&Exception> {
        let mut v: Vec<&Exception> = self
            .exceptions
            .iter()
            .filter(|e| e.expires > now && e.expires <= now + within)
            .collect();
        v.sort_by_key(|e| e.expires);
        v
    }

    /// How far ahead verdicts report expiring exceptions.
    pub fn expiry_notice(&self) -> i64 {
        self.expiry_notice
    }

    /// The circuit breaker's settings.
    pub fn breaker(&self) -> Breaker {
        self.breaker
    }

    /// The severity at or above which a vulnerability gets a ticket message (`[tickets] severity`);
    /// `None`: no tickets.
    pub fn ticket_severity(&self) -> Option<Severity> {
        self.ticket_severity
    }

    /// First 12 hex characters of the SHA-256 of the policy text: names the policy in every verdict.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

#[cfg(test)]
mod tests;
