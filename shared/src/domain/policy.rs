//! The policy: a TOML document of rules, exceptions and limits, validated when loaded. Pure:
//! parsing, validation and lookup, no I/O.
//!
//! An invalid policy is an error that names the line and the field, never a silent "allow
//! everything". The passage of time never makes a valid policy invalid: an expired exception simply
//! stops applying (and the verdict says so).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::domain::escape;
use crate::domain::tags::TagScheme;
use crate::domain::time::{DAY, Epoch, duration, format_date, parse_rfc3339};
use crate::domain::{Finding, Mode, Severity};

mod glob;
mod scope;
pub use glob::{Glob, GlobError, MAX_PATTERN_LEN, REFUSED, glob_match, is_ecr_repository_name};
use scope::{Rank, Scope};
pub use scope::{Whereabouts, is_ou_path};

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

/// What a block does besides moving the image's tags (`on_block`): archiving is the one per-image block
/// of ECR that also stops pulls by digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBlock {
    /// Quarantine the tags only (default).
    #[default]
    Retag,
    /// Quarantine the tags, then archive the image at once.
    Archive,
    /// Quarantine the tags; archive at once an image nothing uses, and one in use at a deadline.
    Runtime,
}

impl OnBlock {
    /// `retag`, `archive` or `runtime`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnBlock::Retag => "retag",
            OnBlock::Archive => "archive",
            OnBlock::Runtime => "runtime",
        }
    }

    /// How strongly it blocks: retag, then runtime, then archive.
    fn strength(self) -> u8 {
        match self {
            OnBlock::Retag => 0,
            OnBlock::Runtime => 1,
            OnBlock::Archive => 2,
        }
    }
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

/// A duration written `30d`, `12h`, `15m`, `90s` or `2w`: never negative, at most
/// [`crate::domain::time::MAX_DURATION`] (10 years), so that adding it to any date cannot overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub i64);

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        duration(&s)
            .map(Duration)
            .map_err(|e| de::Error::custom(format!("invalid duration {s:?}: {e}")))
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
    /// Severity at or above this, for a finding with a fix (`fixAvailable` YES, or PARTIAL: some
    /// package can be upgraded); a finding whose fix is not known meets it too.
    pub fixable: Option<Severity>,
    /// Severity at or above this, for a finding without a fix (`fixAvailable` NO); a finding whose
    /// fix is not known meets it too.
    pub unfixable: Option<Severity>,
    /// `kev = true`: a finding whose vulnerability is in CISA's KEV catalog, whatever its severity.
    pub kev: Option<bool>,
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
    /// Its severity, with a fix available (or not known).
    Fixable,
    /// Its severity, without a fix (or not known).
    Unfixable,
    /// Its id is one the rule denies.
    Denied,
    /// Its vulnerability is in CISA's KEV catalog.
    Kev,
}

impl Criteria {
    /// The criteria a finding meets when it meets `self` or `other`: each threshold the lower.
    fn union(&self, other: &Criteria) -> Criteria {
        fn lower<T: PartialOrd + Copy>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(x), Some(y)) => Some(if y < x { y } else { x }),
                (x, y) => x.or(y),
            }
        }
        Criteria {
            severity: lower(self.severity, other.severity),
            exploitable: lower(self.exploitable, other.exploitable),
            epss: lower(self.epss, other.epss),
            score: lower(self.score, other.score),
            fixable: lower(self.fixable, other.fixable),
            unfixable: lower(self.unfixable, other.unfixable),
            kev: (self.asks_kev() || other.asks_kev()).then_some(true),
        }
    }

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
        if self.asks_kev() && f.kev.is_some() {
            return Some(Criterion::Kev);
        }
        let fix = f.fix_known();
        if fix != Some(false) && self.fixable.is_some_and(|t| f.severity.at_least(t)) {
            return Some(Criterion::Fixable);
        }
        if fix != Some(true) && self.unfixable.is_some_and(|t| f.severity.at_least(t)) {
            return Some(Criterion::Unfixable);
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
            && self.fixable.is_none()
            && self.unfixable.is_none()
            && !self.asks_kev()
    }

    /// Whether `kev = true`: whether a finding's KEV entry must be looked up.
    pub fn asks_kev(&self) -> bool {
        self.kev == Some(true)
    }
}

/// `block = "CRITICAL"` is short for `block = { severity = "CRITICAL" }`.
fn criteria<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Criteria>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Criteria;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(
                "a severity (\"CRITICAL\") or a table { severity, exploitable, fixable, unfixable, kev, epss, score }",
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
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    ous: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default, deserialize_with = "criteria")]
    block: Option<Criteria>,
    #[serde(default, deserialize_with = "criteria")]
    warn: Option<Criteria>,
    deny: Option<Vec<String>>,
    fixable_only: Option<bool>,
    suppressed: Option<Suppressed>,
    mode: Option<Mode>,
    unscanned: Option<Unscanned>,
    new_finding_margin: Option<Duration>,
    grace: Option<BTreeMap<Severity, Duration>>,
    grace_in_use: Option<BTreeMap<Severity, Duration>>,
    verified_prefix: Option<String>,
    verify_warn: Option<bool>,
    on_block: Option<OnBlock>,
    not_in_use_for: Option<Duration>,
    min_grace: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExceptionDoc {
    id: Spanned<String>,
    repositories: Option<Spanned<Vec<String>>>,
    package: Option<String>,
    digest: Option<Spanned<String>>,
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
    allow_no_block: Option<bool>,
    expiry_notice: Option<Duration>,
    #[serde(default)]
    defaults: RuleDoc,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleDoc>>,
    #[serde(default, rename = "exception")]
    exceptions: Vec<Spanned<ExceptionDoc>>,
    exception_limits: Option<Spanned<BTreeMap<Severity, Duration>>>,
    breaker: Option<Spanned<BreakerDoc>>,
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
    /// Vulnerability ids that block whatever their severity, fix or grace (upper case): the
    /// defaults' and the rule's own.
    pub deny: BTreeSet<String>,
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
    /// What a block does besides moving the tags.
    pub on_block: OnBlock,
    /// Under `runtime`: how long an image must have been neither running (Inspector) nor pulled (ECR)
    /// to count as unused.
    pub not_in_use_for: i64,
    /// Under `runtime`: the shortest time an image in use gets before it is archived.
    pub min_grace: i64,
}

impl Rule {
    /// The rule as strict as the strictest of `rules` in every setting, for an image that any of
    /// them could govern (its OU path unknown): a finding meets its `block` or `warn` when it meets
    /// any rule's; it enforces if any enforces; holds unscanned images if any holds; counts
    /// suppressed findings and findings without a fix if any does; gives grace only where every
    /// rule gives some (the shortest), and treats as found at once what any would; writes verified
    /// tags with the first rule's prefix that has one, never for a warning unless every rule would.
    pub fn strictest(first: &Rule, rest: &[&Rule]) -> Rule {
        let mut r = first.clone();
        for o in rest {
            r.block = r.block.union(&o.block);
            r.warn = r.warn.union(&o.warn);
            r.deny.extend(o.deny.iter().cloned());
            r.fixable_only &= o.fixable_only;
            if o.suppressed == Suppressed::Count {
                r.suppressed = Suppressed::Count;
            }
            if o.mode == Mode::Enforce {
                r.mode = Mode::Enforce;
            }
            if o.unscanned == Unscanned::Hold {
                r.unscanned = Unscanned::Hold;
            }
            r.new_finding_margin = r.new_finding_margin.max(o.new_finding_margin);
            r.verified_prefix = r.verified_prefix.or_else(|| o.verified_prefix.clone());
            r.verify_warn &= o.verify_warn;
            if o.on_block.strength() > r.on_block.strength() {
                r.on_block = o.on_block;
            }
            r.not_in_use_for = r.not_in_use_for.min(o.not_in_use_for);
            r.min_grace = r.min_grace.min(o.min_grace);
        }
        // Grace: for each severity and use, the shortest any rule gives, and none where one gives none.
        let grace = |in_use: bool| -> BTreeMap<Severity, i64> {
            (Severity::ALL.iter())
                .filter_map(|&s| {
                    let each: Option<Vec<i64>> = (std::iter::once(first)
                        .chain(rest.iter().copied()))
                    .map(|o| o.grace_for(s, in_use))
                    .collect();
                    Some((s, each?.into_iter().min()?))
                })
                .collect()
        };
        (r.grace, r.grace_in_use) = (grace(false), grace(true));
        let names: Vec<&str> = (std::iter::once(first).chain(rest.iter().copied()))
            .map(|o| o.name.as_str())
            .collect();
        r.name = format!("strictest of {}", names.join(", "));
        r
    }

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
    /// `repositories`, compiled once at load.
    globs: Vec<Glob>,
}

impl Exception {
    /// Whether one of its repository patterns matches `repository` (linear in the name).
    pub fn matches_repository(&self, repository: &str) -> bool {
        self.globs.iter().any(|g| g.is_match(repository))
    }

    fn scope_matches(&self, f: &Finding, repository: &str, digest: &str) -> bool {
        self.matches_repository(repository)
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
    patterns: Vec<Glob>,
    scope: Scope,
    rule: Rule,
    line: usize,
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
    warnings: Vec<Problem>,
    /// Whether a rule is scoped by OU (known at load: asked for every image).
    by_ou: bool,
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

/// One line, whatever the document held: a problem quotes keys and values from it (and the TOML
/// parser's own messages), so they are written through [`escape::line`], as every CLI line is.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{}: ", escape::line(field))?;
        }
        f.write_str(&escape::line(&self.message))
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

/// Line numbers of byte offsets in one document, in linear time overall: one pass over the text
/// records the line at the start of every block of [`Lines::BLOCK`] bytes, and each look-up counts
/// the newlines of at most one block. (Rescanning the text per look-up made 100,000 exceptions
/// quadratic.)
struct Lines<'a> {
    text: &'a [u8],
    /// `starts[k]`: the 1-based line of byte `k * BLOCK`.
    starts: Vec<usize>,
    /// Bytes examined so far, building and looking up: the work the unit tests bound.
    scanned: std::cell::Cell<usize>,
}

impl<'a> Lines<'a> {
    const BLOCK: usize = 64;

    fn new(text: &'a str) -> Lines<'a> {
        let text = text.as_bytes();
        let mut starts = Vec::with_capacity(text.len() / Self::BLOCK + 1);
        let mut line = 1;
        for block in text.chunks(Self::BLOCK) {
            starts.push(line);
            line += block.iter().filter(|b| **b == b'\n').count();
        }
        starts.push(line);
        Lines {
            text,
            starts,
            scanned: std::cell::Cell::new(text.len()),
        }
    }

    /// The 1-based line of `offset` (clamped to the text).
    fn line(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        let block = offset / Self::BLOCK;
        let from = block * Self::BLOCK;
        self.scanned.set(self.scanned.get() + (offset - from));
        self.starts[block]
            + self.text[from..offset]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
    }

    fn work(&self) -> usize {
        self.scanned.get()
    }
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

const DEFAULT_MARGIN: i64 = DAY;
/// `not_in_use_for` when a `runtime` rule does not say.
pub const DEFAULT_NOT_IN_USE_FOR: i64 = 14 * DAY;
/// `min_grace` when a `runtime` rule does not say.
pub const DEFAULT_MIN_GRACE: i64 = DAY;
const DEFAULT_EXPIRY_NOTICE: i64 = 14 * DAY;
const DEFAULT_BREAKER: Breaker = Breaker {
    max_tag_changes: 100,
    window: 600,
};

fn secs(map: &Option<BTreeMap<Severity, Duration>>) -> Option<BTreeMap<Severity, i64>> {
    map.as_ref()
        .map(|m| m.iter().map(|(k, v)| (*k, v.0)).collect())
}

fn note(line: usize, field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        line: Some(line),
        field: Some(field.into()),
        message: message.into(),
    }
}

/// `sha256:` and 64 lowercase hex digits, as ECR reports an image digest.
fn is_image_digest(s: &str) -> bool {
    s.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Compiled patterns by text: thousands of exceptions share a handful of patterns, and building a
/// DFA costs far more than looking one up.
type GlobCache = HashMap<String, Result<Glob, GlobError>>;

/// Compiles the repository patterns of one rule or exception: a refused pattern is a problem, one
/// that no ECR repository name can match is a warning.
fn compile(
    patterns: &[String],
    cache: &mut GlobCache,
    line: usize,
    field: &str,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Vec<Glob> {
    let mut globs = Vec::with_capacity(patterns.len());
    for p in patterns.iter().filter(|p| !p.trim().is_empty()) {
        let compiled = match cache.get(p) {
            Some(c) => c.clone(),
            None => {
                let c = Glob::new(p);
                cache.insert(p.clone(), c.clone());
                c
            }
        };
        match compiled {
            Ok(g) => {
                if !g.can_match_an_ecr_name() {
                    warnings.push(note(line, field, format!("pattern {p:?} can never match: ECR repository names are 2 to 256 of a-z 0-9 . _ - / (lowercase, no leading, trailing or doubled separator)")));
                }
                globs.push(g);
            }
            Err(e) => problems.push(note(line, field, format!("pattern {p:?}: {e}"))),
        }
    }
    globs
}

/// Checks one rule (or the defaults) as written (`r`) and as it applies (`rule`, defaults included).
fn check_rule(
    field: &str,
    line: usize,
    r: &RuleDoc,
    rule: &Rule,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) {
    for (level, c) in [("block", &r.block), ("warn", &r.warn)] {
        if let Some(c) = c {
            if c.epss.is_some_and(|v| !(0.0..=1.0).contains(&v)) {
                problems.push(note(
                    line,
                    format!("{field}.{level}.epss"),
                    "must be between 0 and 1",
                ));
            }
            if c.score.is_some_and(|v| !(0.0..=10.0).contains(&v)) {
                problems.push(note(
                    line,
                    format!("{field}.{level}.score"),
                    "must be between 0 and 10",
                ));
            }
        }
    }
    if let Some(p) = &r.verified_prefix {
        let reserved = TagScheme::default();
        if let Err(e) = TagScheme::new(reserved.quarantine_prefix(), reserved.held_prefix(), p) {
            let message = if e.name == "verified"
                && e.value == *p
                && !e.problem.contains("reserved")
            {
                e.problem.to_string()
            } else {
                format!(
                    "{p:?} collides with the reserved prefixes {:?} and {:?} ({} prefix {:?} {}): the gatekeeper would misread its own tags",
                    reserved.quarantine_prefix(),
                    reserved.held_prefix(),
                    e.name,
                    e.value,
                    e.problem
                )
            };
            problems.push(note(line, format!("{field}.verified_prefix"), message));
        }
    }
    if (r.block.is_some() || r.warn.is_some())
        && let (Some(block), Some(warn)) = (rule.block.severity, rule.warn.severity)
        && warn.rank() > block.rank()
    {
        warnings.push(note(
            line,
            format!("{field}.warn"),
            format!(
                "warn ({}) is above block ({}): every finding at {} already blocks, so this warn level never applies",
                warn.as_str(),
                block.as_str(),
                warn.as_str()
            ),
        ));
    }
    check_fix_criteria(field, line, r, rule, warnings);
    check_deny(field, line, r, problems, warnings);
    check_on_block(field, line, r, rule, warnings);
}

/// Warns about archive settings that do nothing (`not_in_use_for` and `min_grace` outside
/// `runtime`, archiving in audit mode) or that ECR cannot tell apart (`not_in_use_for` under a day:
/// ECR refreshes an image's last pull time about once a day).
fn check_on_block(field: &str, line: usize, r: &RuleDoc, rule: &Rule, warnings: &mut Vec<Problem>) {
    let runtime = rule.on_block == OnBlock::Runtime;
    for (name, set) in [
        ("not_in_use_for", r.not_in_use_for.is_some()),
        ("min_grace", r.min_grace.is_some()),
    ] {
        if set && !runtime {
            warnings.push(note(
                line,
                format!("{field}.{name}"),
                format!(
                    "only on_block = \"runtime\" uses {name}; on_block is \"{}\" here",
                    rule.on_block.as_str()
                ),
            ));
        }
    }
    if runtime && rule.not_in_use_for < DAY {
        warnings.push(note(
            line,
            format!("{field}.not_in_use_for"),
            "ECR refreshes an image's last pull time about once a day: under 1d, an image pulled today may look unused and be archived",
        ));
    }
    if rule.on_block != OnBlock::Retag && rule.mode == Mode::Audit {
        warnings.push(note(
            line,
            format!("{field}.on_block"),
            "mode = \"audit\" never archives: messages say what would be archived",
        ));
    }
}

/// Warns about `fixable` and `unfixable` thresholds that can never decide: at or above the same
/// level's `severity` (every such finding meets that already), or `unfixable` in `block` while
/// `fixable_only` turns every blocking finding without a fix into a warning.
fn check_fix_criteria(
    field: &str,
    line: usize,
    r: &RuleDoc,
    rule: &Rule,
    warnings: &mut Vec<Problem>,
) {
    for (level, c) in [("block", &r.block), ("warn", &r.warn)] {
        let Some(c) = c else { continue };
        for (name, t) in [("fixable", c.fixable), ("unfixable", c.unfixable)] {
            if let (Some(t), Some(s)) = (t, c.severity)
                && t.at_least(s)
            {
                warnings.push(note(
                    line,
                    format!("{field}.{level}.{name}"),
                    format!(
                        "{} is at or above {level}.severity ({}): every such finding meets severity already, so {name} never decides",
                        t.as_str(),
                        s.as_str()
                    ),
                ));
            }
        }
    }
    if rule.fixable_only && rule.block.unfixable.is_some() {
        warnings.push(note(
            line,
            format!("{field}.block.unfixable"),
            "fixable_only = true turns every blocking finding without a fix into a warning: block.unfixable never blocks",
        ));
    }
}

/// Checks `deny`: vulnerability ids (letters, digits and `-_.:`, at most 128), each once.
fn check_deny(
    field: &str,
    line: usize,
    r: &RuleDoc,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) {
    let mut seen = BTreeSet::new();
    for id in r.deny.as_deref().unwrap_or_default() {
        let id = id.trim();
        let ok = |c: char| c.is_ascii_alphanumeric() || "-_.:".contains(c);
        if id.is_empty() || id.len() > 128 || !id.chars().all(ok) {
            problems.push(note(
                line,
                format!("{field}.deny"),
                format!(
                    "{:?} is not a vulnerability id (CVE-2024-3094, GHSA-..., ALAS2-...: letters, digits and -_.:)",
                    id
                ),
            ));
        } else if !seen.insert(id.to_ascii_uppercase()) {
            warnings.push(note(
                line,
                format!("{field}.deny"),
                format!("{id} is listed twice"),
            ));
        }
    }
}

/// The defaults as written, each setting left out taking its built-in value.
fn default_rule(d: &RuleDoc) -> Rule {
    Rule {
        name: d.name.clone().unwrap_or_else(|| "defaults".into()),
        block: d.block.unwrap_or_default(),
        warn: d.warn.unwrap_or_default(),
        deny: denied(d.deny.as_deref().unwrap_or_default()),
        fixable_only: d.fixable_only.unwrap_or(false),
        suppressed: d.suppressed.unwrap_or(Suppressed::Count),
        mode: d.mode.unwrap_or(Mode::Enforce),
        unscanned: d.unscanned.unwrap_or(Unscanned::Allow),
        new_finding_margin: d.new_finding_margin.map_or(DEFAULT_MARGIN, |m| m.0),
        grace: secs(&d.grace).unwrap_or_default(),
        grace_in_use: secs(&d.grace_in_use).unwrap_or_default(),
        verified_prefix: d.verified_prefix.clone(),
        verify_warn: d.verify_warn.unwrap_or(false),
        on_block: d.on_block.unwrap_or_default(),
        not_in_use_for: d.not_in_use_for.map_or(DEFAULT_NOT_IN_USE_FOR, |x| x.0),
        min_grace: d.min_grace.map_or(DEFAULT_MIN_GRACE, |x| x.0),
    }
}

/// A rule's `deny` list as the evaluation looks ids up: upper case, trimmed.
fn denied(ids: &[String]) -> BTreeSet<String> {
    ids.iter()
        .map(|id| id.trim().to_ascii_uppercase())
        .collect()
}

/// A rule as written laid over the defaults: each setting it leaves out is the default's.
fn overlay(default: &Rule, r: &RuleDoc, name: String) -> Rule {
    Rule {
        name,
        block: r.block.unwrap_or(default.block),
        warn: r.warn.unwrap_or(default.warn),
        // A rule adds to the defaults' deny list: an organisation-wide denial is never dropped.
        deny: (default.deny.iter().cloned())
            .chain(denied(r.deny.as_deref().unwrap_or_default()))
            .collect(),
        fixable_only: r.fixable_only.unwrap_or(default.fixable_only),
        suppressed: r.suppressed.unwrap_or(default.suppressed),
        mode: r.mode.unwrap_or(default.mode),
        unscanned: r.unscanned.unwrap_or(default.unscanned),
        new_finding_margin: r
            .new_finding_margin
            .map_or(default.new_finding_margin, |m| m.0),
        grace: secs(&r.grace).unwrap_or_else(|| default.grace.clone()),
        grace_in_use: secs(&r.grace_in_use).unwrap_or_else(|| default.grace_in_use.clone()),
        verified_prefix: r
            .verified_prefix
            .clone()
            .or_else(|| default.verified_prefix.clone()),
        verify_warn: r.verify_warn.unwrap_or(default.verify_warn),
        on_block: r.on_block.unwrap_or(default.on_block),
        not_in_use_for: r.not_in_use_for.map_or(default.not_in_use_for, |x| x.0),
        min_grace: r.min_grace.map_or(default.min_grace, |x| x.0),
    }
}

/// Exception positions by upper-cased id, so that a finding finds its exceptions in one lookup.
fn index_by_id(exceptions: &[Exception]) -> HashMap<String, Vec<usize>> {
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, e) in exceptions.iter().enumerate() {
        by_id.entry(e.id.to_ascii_uppercase()).or_default().push(i);
    }
    by_id
}

/// One pass of reading a policy document: the problems and warnings found so far, and the
/// repository patterns compiled so far (shared by every rule and exception).
struct Reading<'r, 't> {
    lines: &'r Lines<'t>,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
    cache: GlobCache,
}

impl<'r, 't> Reading<'r, 't> {
    /// A reading that has found nothing yet.
    fn new(lines: &'r Lines<'t>) -> Self {
        Reading {
            lines,
            problems: Vec::new(),
            warnings: Vec::new(),
            cache: GlobCache::new(),
        }
    }

    /// Compiles repository patterns with [`compile`], keeping what it finds.
    fn compile(&mut self, patterns: &[String], line: usize, field: &str) -> Vec<Glob> {
        compile(
            patterns,
            &mut self.cache,
            line,
            field,
            &mut self.problems,
            &mut self.warnings,
        )
    }

    /// Checks a rule (or the defaults) with [`check_rule`], keeping what it finds.
    fn check_rule(&mut self, field: &str, line: usize, r: &RuleDoc, rule: &Rule) {
        check_rule(field, line, r, rule, &mut self.problems, &mut self.warnings);
    }

    /// Refuses every version but 1.
    fn check_version(&mut self, version: &Spanned<u32>) {
        if *version.get_ref() != 1 {
            self.problems.push(note(
                self.lines.line(version.span().start),
                "version",
                format!(
                    "unsupported policy version {}: this gatekeeper reads version 1",
                    version.get_ref()
                ),
            ));
        }
    }

    /// Reads `[defaults]` (written at `line`): the rule of every repository that no rule matches.
    fn defaults(&mut self, d: &RuleDoc, line: usize) -> Rule {
        if !d.repositories.is_empty() {
            self.problems.push(note(line, "defaults.repositories", "the default rule applies to every repository; put repository patterns in a [[rule]]"));
        }
        if !d.accounts.is_empty() || !d.ous.is_empty() || !d.regions.is_empty() {
            self.problems.push(note(line, "defaults", "the default rule applies in every account and region; put accounts, ous and regions in a [[rule]]"));
        }
        let default = default_rule(d);
        self.check_rule("defaults", line, d, &default);
        default
    }

    /// Reads every `[[rule]]` over the defaults; no two rules (nor the defaults) share a name.
    fn rules(
        &mut self,
        docs: Vec<Spanned<RuleDoc>>,
        default: &Rule,
        defaults_line: usize,
    ) -> Vec<Scoped> {
        let mut names: HashMap<String, usize> = HashMap::new();
        names.insert(default.name.clone(), defaults_line);
        docs.into_iter()
            .enumerate()
            .map(|(i, spanned)| self.rule(i, spanned, default, &mut names))
            .collect()
    }

    /// Reads `[[rule]]` number `i`: its name (first use kept in `names`), patterns and settings.
    fn rule(
        &mut self,
        i: usize,
        spanned: Spanned<RuleDoc>,
        default: &Rule,
        names: &mut HashMap<String, usize>,
    ) -> Scoped {
        let line = self.lines.line(spanned.span().start);
        let r = spanned.into_inner();
        let field = format!("rule[{i}]");
        let name = r.name.clone().unwrap_or_else(|| field.clone());
        if let Some(first) = names.get(&name) {
            self.problems.push(note(
                line,
                format!("{field}.name"),
                format!("duplicate rule name {name:?} (first used on line {first}): verdicts name the rule, so each name must say which one decided"),
            ));
        } else {
            names.insert(name.clone(), line);
        }
        if r.repositories.is_empty() || r.repositories.iter().any(|p| p.trim().is_empty()) {
            self.problems.push(note(
                line,
                format!("{field}.repositories"),
                "a rule needs at least one non-empty repository pattern (\"team-a/*\")",
            ));
        }
        let patterns = self.compile(&r.repositories, line, &format!("{field}.repositories"));
        let scope = Scope {
            accounts: r.accounts.clone(),
            ous: r.ous.clone(),
            regions: r.regions.clone(),
        };
        for (key, problem) in scope.problems() {
            self.problems
                .push(note(line, format!("{field}.{key}"), problem));
        }
        let rule = overlay(default, &r, name);
        self.check_rule(&field, line, &r, &rule);
        Scoped {
            patterns,
            scope,
            rule,
            line,
        }
    }

    /// Refuses two rules with the same repository pattern that one image can fall under at the same
    /// rank: which one decides would hang on the order they are written in.
    fn check_ties(&mut self, rules: &[Scoped]) {
        let mut by_pattern: HashMap<&str, Vec<&Scoped>> = HashMap::new();
        for rule in rules {
            for pattern in &rule.patterns {
                let same = by_pattern.entry(pattern.as_str()).or_default();
                let other = |r: &&&Scoped| !std::ptr::eq(**r, rule) && r.scope.ties(&rule.scope);
                if let Some(first) = same.iter().find(other) {
                    self.problems.push(note(
                        rule.line,
                        format!("{}.repositories", rule.rule.name),
                        format!(
                            "{:?} is also a pattern of rule {:?} (line {}) for the same accounts, OUs and regions: one image would fall under both at the same precedence; scope one of them, or merge them",
                            pattern.as_str(), first.rule.name, first.line
                        ),
                    ));
                }
                same.push(rule);
            }
        }
    }

    /// Refuses a policy that can never block anything, unless it says that is meant.
    fn check_something_blocks(
        &mut self,
        allow_no_block: Option<bool>,
        default: &Rule,
        rules: &[Scoped],
        defaults_line: usize,
    ) {
        let all_rules = || std::iter::once(default).chain(rules.iter().map(|s| &s.rule));
        if allow_no_block != Some(true)
            && all_rules().all(|r| r.block.is_empty())
            && all_rules().any(|r| r.mode == Mode::Enforce)
        {
            self.problems.push(note(
                defaults_line,
                "defaults.block",
                "nothing in this policy can ever block: neither [defaults] nor any [[rule]] has a block criterion. Set one (block = \"CRITICAL\"), or say it is meant: mode = \"audit\" on [defaults] and every rule, or allow_no_block = true at the top",
            ));
        }
    }

    /// Reads `exception_limits`: the longest an exception may last, per severity.
    fn exception_limits(
        &mut self,
        doc: Option<&Spanned<BTreeMap<Severity, Duration>>>,
    ) -> BTreeMap<Severity, i64> {
        let mut limits: BTreeMap<Severity, i64> = BTreeMap::new();
        if let Some(spanned) = doc {
            let line = self.lines.line(spanned.span().start);
            for (severity, limit) in spanned.get_ref() {
                if limit.0 == 0 {
                    self.problems.push(note(
                        line,
                        format!("exception_limits.{}", severity.as_str()),
                        "must be longer than 0s: leave the severity out to set no limit",
                    ));
                }
                limits.insert(*severity, limit.0);
            }
        }
        limits
    }

    /// Reads every `[[exception]]`, each held to the lifetime limits.
    fn exceptions(
        &mut self,
        docs: Vec<Spanned<ExceptionDoc>>,
        limits: &BTreeMap<Severity, i64>,
    ) -> Vec<Exception> {
        docs.into_iter()
            .enumerate()
            .map(|(i, spanned)| self.exception(i, spanned, limits))
            .collect()
    }

    /// Reads `[[exception]]` number `i`: who, why, where, and for how long.
    fn exception(
        &mut self,
        i: usize,
        spanned: Spanned<ExceptionDoc>,
        limits: &BTreeMap<Severity, i64>,
    ) -> Exception {
        let line = self.lines.line(spanned.span().start);
        let e = spanned.into_inner();
        self.check_exception_text(i, &e);
        let repositories = e
            .repositories
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let repositories_span = e
            .repositories
            .as_ref()
            .map_or_else(|| e.id.span(), Spanned::span);
        if repositories.is_empty() || repositories.iter().any(|p| p.trim().is_empty()) {
            self.bad(
                i,
                repositories_span.clone(),
                "repositories",
                "needs at least one repository pattern (\"*\" for all)",
            );
        }
        self.check_expiry(i, &e, limits);
        let repositories_line = self.lines.line(repositories_span.start);
        let field = format!("exception[{i}].repositories");
        let globs = self.compile(&repositories, repositories_line, &field);
        Exception {
            id: e.id.get_ref().trim().to_string(),
            repositories,
            package: e.package,
            digest: e.digest.map(Spanned::into_inner),
            created: e.created.get_ref().0,
            expires: e.expires.get_ref().0,
            reason: e.reason.into_inner(),
            owner: e.owner.into_inner(),
            ticket: e.ticket,
            severity: e.severity,
            line,
            globs,
        }
    }

    /// An exception names its finding, says why and who answers for it; a digest is a digest.
    fn check_exception_text(&mut self, i: usize, e: &ExceptionDoc) {
        if e.id.get_ref().trim().is_empty() {
            self.bad(i, e.id.span(), "id", "must not be empty");
        }
        if e.reason.get_ref().trim().is_empty() {
            self.bad(
                i,
                e.reason.span(),
                "reason",
                "is required: say why the risk is accepted",
            );
        }
        if e.owner.get_ref().trim().is_empty() {
            self.bad(
                i,
                e.owner.span(),
                "owner",
                "is required: say who answers for it",
            );
        }
        if let Some(digest) = &e.digest
            && !is_image_digest(digest.get_ref())
        {
            self.bad(
                i,
                digest.span(),
                "digest",
                "must be an image digest: sha256: and 64 lowercase hex digits",
            );
        }
    }

    /// An exception ends after it starts, and lasts no longer than its severity's limit.
    fn check_expiry(&mut self, i: usize, e: &ExceptionDoc, limits: &BTreeMap<Severity, i64>) {
        let (created, expires) = (e.created.get_ref().0, e.expires.get_ref().0);
        if expires <= created {
            self.bad(
                i,
                e.expires.span(),
                "expires",
                format!("must be after created ({})", format_date(created)),
            );
        } else if let Some(limit) = e.severity.and_then(|s| limits.get(&s))
            && expires - created > *limit
        {
            self.bad(
                i,
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
    }

    /// Notes a problem in field `key` of `[[exception]]` number `i`, at the line of `span`.
    fn bad(
        &mut self,
        i: usize,
        span: std::ops::Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(note(
            self.lines.line(span.start),
            format!("exception[{i}].{key}"),
            message,
        ));
    }

    /// Refuses a breaker that could never trip or never reset.
    fn check_breaker(&mut self, breaker: Option<&Spanned<BreakerDoc>>) {
        if let Some(b) = breaker
            && (b.get_ref().max_tag_changes == 0 || b.get_ref().window.0 == 0)
        {
            self.problems.push(note(
                self.lines.line(b.span().start),
                "breaker",
                "max_tag_changes and window must be positive",
            ));
        }
    }

    /// The warnings sorted by line, or, if anything is wrong, every problem sorted by line.
    fn finish(mut self) -> Result<Vec<Problem>, PolicyError> {
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| p.line);
            return Err(PolicyError {
                problems: self.problems,
            });
        }
        self.warnings.sort_by_key(|p| p.line);
        Ok(self.warnings)
    }
}

impl Policy {
    /// Parses and validates a policy document; every problem is reported with its line and field,
    /// and every warning is kept for [`Policy::warnings`]. `verified_prefix` is checked against the
    /// default reserved prefixes (`quarantined-`, `held-`); a deployment that configures others
    /// checks them as well with `bootstrap::config::check_verified_prefixes`.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        Policy::parse_counted(text).0
    }

    /// [`Policy::parse`], and the bytes examined to find line numbers (the unit tests bound it).
    fn parse_counted(text: &str) -> (Result<Policy, PolicyError>, usize) {
        let lines = Lines::new(text);
        let result = Policy::parse_lines(text, &lines);
        (result, lines.work())
    }

    fn parse_lines(text: &str, lines: &Lines<'_>) -> Result<Policy, PolicyError> {
        let doc: PolicyDoc = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            PolicyError::one(
                offset.map(|o| lines.line(o)),
                offset.and_then(|o| key_at(text, o)),
                e.message().trim(),
            )
        })?;
        let hash = Sha256::digest(text.as_bytes())
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        Policy::from_doc(doc, text, lines, hash)
    }

    fn from_doc(
        doc: PolicyDoc,
        text: &str,
        lines: &Lines<'_>,
        hash: String,
    ) -> Result<Policy, PolicyError> {
        let mut read = Reading::new(lines);
        read.check_version(&doc.version);
        let defaults_line = lines.line(text.find("[defaults]").unwrap_or(0));
        let default = read.defaults(&doc.defaults, defaults_line);
        let rules = read.rules(doc.rules, &default, defaults_line);
        read.check_ties(&rules);
        read.check_something_blocks(doc.allow_no_block, &default, &rules, defaults_line);
        let limits = read.exception_limits(doc.exception_limits.as_ref());
        let exceptions = read.exceptions(doc.exceptions, &limits);
        read.check_breaker(doc.breaker.as_ref());
        let warnings = read.finish()?;
        let by_id = index_by_id(&exceptions);
        Ok(Policy {
            default,
            by_ou: rules.iter().any(|r| r.scope.by_ou()),
            rules,
            exceptions,
            by_id,
            limits,
            expiry_notice: doc.expiry_notice.map_or(DEFAULT_EXPIRY_NOTICE, |d| d.0),
            breaker: doc
                .breaker
                .map(Spanned::into_inner)
                .map_or(DEFAULT_BREAKER, |b| Breaker {
                    max_tag_changes: b.max_tag_changes,
                    window: b.window.0,
                }),
            ticket_severity: doc.tickets.map(|t| t.severity),
            hash,
            warnings,
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
                deny: BTreeSet::new(),
                fixable_only: false,
                suppressed: Suppressed::Count,
                mode: Mode::Enforce,
                unscanned: Unscanned::Allow,
                new_finding_margin: DEFAULT_MARGIN,
                grace: BTreeMap::new(),
                grace_in_use: BTreeMap::new(),
                verified_prefix: None,
                verify_warn: false,
                on_block: OnBlock::Retag,
                not_in_use_for: DEFAULT_NOT_IN_USE_FOR,
                min_grace: DEFAULT_MIN_GRACE,
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
                warnings: Vec::new(),
                by_ou: false,
            }
        })
    }

    /// The rule for a repository where the image's account and region are not known: only rules
    /// scoped by repository alone apply (see [`Policy::rule_in`]).
    pub fn rule_for(&self, repository: &str) -> &Rule {
        self.rule_in(repository, Whereabouts::default())
    }

    /// Whether a rule is scoped by OU: then an image's rule depends on its account's OU path, which
    /// must be known (see [`Whereabouts::ou_path`]).
    pub fn scopes_by_ou(&self) -> bool {
        self.by_ou
    }

    /// The rule for a repository of an image in `at`: a rule scoped by account outranks one scoped by
    /// OU (the deeper OU first), which outranks one scoped by region, which outranks an unscoped one; within a rank, the most specific matching pattern
    /// wins (most literal characters; between different patterns as specific, the rule written
    /// first; the same pattern in two rules that could meet at one rank is refused at load); no match
    /// gives the defaults.
    pub fn rule_in(&self, repository: &str, at: Whereabouts<'_>) -> &Rule {
        self.best(repository, at).map_or(&self.default, |(_, r)| r)
    }

    /// The rule for an image in `at` as [`Policy::rule_in`] chooses it; where the image's OU path
    /// is not known and a rule scoped by OU could outrank that choice, the strictest of them all
    /// ([`Rule::strictest`]): never a laxer rule than the one the path would choose.
    pub fn rule_at(&self, repository: &str, at: Whereabouts<'_>) -> Cow<'_, Rule> {
        let best = self.best(repository, at);
        let chosen = best.map_or(&self.default, |(_, r)| r);
        if at.ou_path.is_some() || !self.by_ou {
            return Cow::Borrowed(chosen);
        }
        let floor = best.map_or(0, |((rank, _), _)| rank.0);
        let mut candidates = vec![chosen];
        for scoped in &self.rules {
            let could = scoped
                .scope
                .tier_if_in_some_ou(at)
                .is_some_and(|t| t >= floor)
                && scoped.patterns.iter().any(|p| p.is_match(repository));
            if could && !candidates.iter().any(|c| std::ptr::eq(*c, &scoped.rule)) {
                candidates.push(&scoped.rule);
            }
        }
        match candidates.split_first() {
            Some((first, rest)) if !rest.is_empty() => Cow::Owned(Rule::strictest(first, rest)),
            _ => Cow::Borrowed(chosen),
        }
    }

    /// The best rule for an image in `at`, with its rank and pattern specificity.
    fn best(&self, repository: &str, at: Whereabouts<'_>) -> Option<((Rank, usize), &Rule)> {
        let mut best: Option<((Rank, usize), &Rule)> = None;
        for scoped in &self.rules {
            let Some(rank) = scoped.scope.rank(at) else {
                continue;
            };
            for pattern in scoped.patterns.iter().filter(|p| p.is_match(repository)) {
                let key = (rank, pattern.specificity());
                if best.is_none_or(|(b, _)| key > b) {
                    best = Some((key, &scoped.rule));
                }
            }
        }
        best
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

    /// What is suspicious but valid (inverted levels, patterns that can never match), one line each
    /// with its line number, in document order: `policy check` prints them, cold start logs them.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
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
            .filter(|e| e.expires > now && e.expires <= now.saturating_add(within))
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
pub(crate) mod tests;
