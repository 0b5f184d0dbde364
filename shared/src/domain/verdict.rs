//! The verdict: a pure evaluation of an image's findings and scan state under the policy.
//! No I/O; the time is an input.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::history::Vulnerability;
use crate::domain::policy::{Criterion, ExceptionMatch, Policy, Rule, Suppressed, Whereabouts};
use crate::domain::time::{DAY, Epoch, format_date};
use crate::domain::{Decision, Finding, FindingStatus, ScanState, Severity, SeverityCounts};

/// How many findings a verdict keeps for its message: the blocking ones first, then warning ones.
pub const TOP_FINDINGS: usize = 10;

/// The image being judged, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subject<'a> {
    /// Repository name.
    pub repository: &'a str,
    /// Digest.
    pub digest: &'a str,
    /// When the image was first scanned (or, failing that, pushed): a finding first observed
    /// later than the rule's margin was found by a continuous rescan and gets the rule's grace.
    pub baseline: Option<Epoch>,
    /// Whether the image runs now (Inspector's `inUseCount` > 0).
    pub in_use: bool,
    /// Now.
    pub now: Epoch,
    /// Where it lives (the rules scoped by account and region that apply).
    pub at: Whereabouts<'a>,
}

impl<'a> Subject<'a> {
    /// A subject with no history (a first scan, or an offline evaluation).
    pub fn new(repository: &'a str, digest: &'a str, now: Epoch) -> Subject<'a> {
        Subject {
            repository,
            digest,
            baseline: None,
            in_use: false,
            now,
            at: Whereabouts::default(),
        }
    }
}

/// An exception that exempted findings in this verdict (the audit trail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedException {
    /// Vulnerability id.
    pub id: String,
    /// Who answers for it.
    pub owner: String,
    /// `YYYY-MM-DD` it stops applying.
    pub expires: String,
    /// When it stops applying (the verdict may change then).
    #[serde(skip)]
    pub expires_at: Epoch,
    /// Ticket, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// How many findings it exempted here.
    pub findings: u32,
}

/// The outcome of evaluating one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// pass / warn / block / pending.
    pub decision: Decision,
    /// Active findings by severity (exempt ones included: they exist).
    pub counts: SeverityCounts,
    /// The highest severity among active findings.
    pub max_severity: Option<Severity>,
    /// Why, one line each, most important first.
    pub reasons: Vec<String>,
    /// The findings that decided it (at most [`TOP_FINDINGS`]), blocking ones first.
    pub top: Vec<Finding>,
    /// Findings that block.
    pub blocking: u32,
    /// Findings that warn (including blocking findings demoted by `fixable_only` or a grace period).
    pub warning: u32,
    /// Exceptions applied.
    pub exceptions: Vec<AppliedException>,
    /// The earliest end of a grace period that keeps this image from blocking ("blocks on ...").
    pub deadline: Option<Epoch>,
}

/// What the state table keeps of a verdict, so that later notices (a re-tag of a blocked digest) can
/// say what it was without fetching the findings again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Active findings by severity.
    pub counts: SeverityCounts,
    /// The verdict's reasons.
    pub reasons: Vec<String>,
    /// The grace deadline, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Epoch>,
    /// When time alone may change the verdict: the grace deadline or an applied exception's end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Epoch>,
    /// The vulnerabilities that decided a block (the most severe, at most [`TOP_FINDINGS`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<Vulnerability>,
}

impl Verdict {
    /// The part of the verdict the state table keeps.
    pub fn summary(&self) -> Summary {
        Summary {
            counts: self.counts,
            reasons: self.reasons.iter().take(5).cloned().collect(),
            deadline: self.deadline,
            due: self.due(),
            blocking: self.blocking_vulnerabilities(),
        }
    }

    /// The vulnerabilities that decided a block: its blocking top findings.
    pub fn blocking_vulnerabilities(&self) -> Vec<Vulnerability> {
        (self.top.iter().take(self.blocking as usize))
            .map(|f| Vulnerability {
                id: f.id.clone(),
                severity: f.severity,
            })
            .collect()
    }

    /// When time alone may change this verdict: the earliest of the grace deadline and the ends of
    /// the exceptions it applied.
    pub fn due(&self) -> Option<Epoch> {
        self.exceptions
            .iter()
            .map(|e| e.expires_at)
            .chain(self.deadline)
            .min()
    }

    /// A verdict known from the state table: counts and reasons, no finding list.
    pub fn recalled(decision: Decision, summary: Summary, first_reason: String) -> Verdict {
        let mut reasons = vec![first_reason];
        reasons.extend(summary.reasons);
        Verdict {
            decision,
            counts: summary.counts,
            max_severity: summary.counts.max(),
            reasons,
            top: Vec::new(),
            blocking: 0,
            warning: 0,
            exceptions: Vec::new(),
            deadline: summary.deadline,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Block,
    Warn,
}

fn describe(f: &Finding, why: Criterion) -> String {
    let package = f
        .packages
        .first()
        .map(|p| p.name.as_str())
        .filter(|n| !n.is_empty());
    let mut inner = f.severity.as_str().to_string();
    if let Some(p) = package {
        inner.push(' ');
        inner.push_str(p);
    }
    match why {
        Criterion::Severity => {}
        Criterion::Exploitable => inner.push_str(", exploit available"),
        Criterion::Epss => inner.push_str(&format!(", EPSS {:.2}", f.epss.unwrap_or_default())),
        Criterion::Score => inner.push_str(&format!(", score {:.1}", f.score.unwrap_or_default())),
        Criterion::Fixable => inner.push_str(match f.fix_known() {
            Some(_) => ", fix available",
            None => ", fix not known",
        }),
        Criterion::Unfixable => inner.push_str(match f.fix_known() {
            Some(_) => ", no fix",
            None => ", fix not known",
        }),
        Criterion::Denied => inner.push_str(", denied by the rule"),
        Criterion::Kev => inner.push_str(match f.kev {
            Some(k) if k.unknown => ", KEV status not known: its details could not be read",
            _ => ", in CISA KEV",
        }),
    }
    format!("{} ({inner})", f.id)
}

/// Most severe first, then highest score, then id, so that messages are stable.
fn by_importance(a: &Finding, b: &Finding) -> Ordering {
    b.severity
        .rank()
        .cmp(&a.severity.rank())
        .then_with(|| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal))
        .then_with(|| a.id.cmp(&b.id))
}

/// Applies the scan state: findings that block are evidence whatever the status, but nothing else
/// passes (or warns) without a completed scan: in progress, failed, unsupported or expired is `pending`.
fn settle(decision: Decision, scan: &ScanState, reasons: &mut Vec<String>) -> Decision {
    if decision == Decision::Block {
        return decision;
    }
    match scan {
        ScanState::Complete | ScanState::Unknown => decision,
        ScanState::InProgress => {
            reasons.insert(
                0,
                "scan in progress: no verdict until it completes".to_string(),
            );
            Decision::Pending
        }
        ScanState::Unusable(code) => {
            reasons.insert(
                0,
                format!("no usable scan result ({code}): an unscanned image is never passed"),
            );
            Decision::Pending
        }
    }
}

fn list(hits: &[(&Finding, Level, Criterion)]) -> String {
    let shown: Vec<String> = hits
        .iter()
        .take(3)
        .map(|(f, _, why)| describe(f, *why))
        .collect();
    let more = hits.len().saturating_sub(3);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

#[derive(Default)]
struct Notes {
    expired: BTreeMap<String, String>,
    not_yet: BTreeMap<String, String>,
    too_long: BTreeMap<String, String>,
    unfixable: u32,
    graced: u32,
    grace_over: u32,
    suppressed_counted: u32,
    suppressed_exempt: u32,
    /// Findings a `kev` rule could not look up (no Inspector finding ARN).
    kev_unread: u32,
    /// `CVE-1: severity "CRITICA" is not one AWS documents: ...`, by finding id.
    severities: BTreeMap<String, String>,
}

impl Notes {
    /// Notes, once per id, an exception that matched a finding and does not apply: expired, not
    /// valid yet, or longer than its severity's limit.
    fn unapplied(&mut self, m: &ExceptionMatch<'_>, f: &Finding) {
        let (notes, e, why) = match m {
            ExceptionMatch::Expired(e) => (
                &mut self.expired,
                e,
                format!(
                    "expired on {}: it no longer applies",
                    format_date(e.expires)
                ),
            ),
            ExceptionMatch::NotYet(e) => (
                &mut self.not_yet,
                e,
                format!("applies from {}", format_date(e.created)),
            ),
            ExceptionMatch::TooLong(e, limit) => (
                &mut self.too_long,
                e,
                format!(
                    "lasts {} days, over the {}-day limit for {}: not applied",
                    (e.expires - e.created + DAY - 1) / DAY,
                    limit / DAY,
                    f.severity
                ),
            ),
            ExceptionMatch::Applies(_) => return,
        };
        (notes.entry(e.id.clone()))
            .or_insert_with(|| format!("exception {} ({}) {why}", e.id, e.owner));
    }
}

/// Evaluates an image's findings under the policy.
///
/// Per finding: closed ones are ignored; suppressed ones count unless the rule exempts them; a finding
/// that meets the rule's `block` (else `warn`) criteria is exempted by an applicable exception; a
/// blocking finding without a fix warns under `fixable_only`; a blocking finding that a rescan found
/// after the image's first scan warns until its grace period ends.
pub fn evaluate(
    policy: &Policy,
    subject: &Subject<'_>,
    findings: &[Finding],
    scan: &ScanState,
) -> Verdict {
    let rule = policy.rule_at(subject.repository, subject.at);
    let rule = &*rule;
    let mut tally = Tally::default();
    for f in findings {
        tally.add(policy, rule, subject, f);
    }
    let Tally {
        counts,
        mut hits,
        applied,
        notes,
        deadline,
    } = tally;
    hits.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| by_importance(a.0, b.0)));
    let blocking = hits.iter().filter(|h| h.1 == Level::Block).count();
    let (block_hits, warn_hits) = hits.split_at(blocking);
    let exceptions: Vec<AppliedException> = applied.into_values().collect();
    let mut reasons = hit_reasons(rule, block_hits, warn_hits, deadline, &notes);
    reasons.extend(exception_reasons(policy, subject.now, &exceptions));
    reasons.extend(note_reasons(rule, notes));
    let decision = decide(rule, block_hits, warn_hits, &mut reasons);
    let decision = settle(decision, scan, &mut reasons);
    Verdict {
        decision,
        counts,
        max_severity: counts.max(),
        reasons,
        top: hits
            .iter()
            .take(TOP_FINDINGS)
            .map(|h| h.0.clone())
            .collect(),
        blocking: block_hits.len() as u32,
        warning: warn_hits.len() as u32,
        exceptions,
        deadline,
    }
}

/// What evaluating an image's findings one at a time gathers for the verdict.
#[derive(Default)]
struct Tally<'f> {
    counts: SeverityCounts,
    hits: Vec<(&'f Finding, Level, Criterion)>,
    applied: BTreeMap<(usize, String), AppliedException>,
    notes: Notes,
    deadline: Option<Epoch>,
}

impl<'f> Tally<'f> {
    /// Takes one finding in: counted if it counts, then matched to the rule, exempted, demoted.
    fn add(&mut self, policy: &Policy, rule: &Rule, subject: &Subject<'_>, f: &'f Finding) {
        // A denied id counts even when an Inspector suppression rule (no owner, no expiry) would
        // exempt it: only an exception lets it through.
        let suppressed = match denies(rule, f) {
            true => Suppressed::Count,
            false => rule.suppressed,
        };
        if !self.counts_status(f, suppressed) {
            return;
        }
        if (rule.block.asks_kev() || rule.warn.asks_kev()) && f.kev.is_none() && f.arn.is_none() {
            self.notes.kev_unread += 1;
        }
        self.counts.add(f.severity);
        if let Some(note) = &f.severity_note {
            self.notes
                .severities
                .entry(f.id.clone())
                .or_insert_with(|| format!("{}: {note}", f.id));
        }
        let Some((level, why)) = criterion(rule, f) else {
            return;
        };
        if self.exempts(policy, subject, f) {
            return;
        }
        // A denied id blocks whatever its fix or grace.
        let level = match why {
            Criterion::Denied => level,
            _ => self.demote(rule, subject, f, level),
        };
        self.hits.push((f, level, why));
    }

    /// Whether a finding counts by its status: closed ones never, suppressed ones unless the rule
    /// exempts them (either way, the suppression is noted).
    fn counts_status(&mut self, f: &Finding, suppressed: Suppressed) -> bool {
        match (f.status, suppressed) {
            (FindingStatus::Closed, _) => false,
            (FindingStatus::Suppressed, Suppressed::Exempt) => {
                self.notes.suppressed_exempt += 1;
                false
            }
            (FindingStatus::Suppressed, Suppressed::Count) => {
                self.notes.suppressed_counted += 1;
                true
            }
            (FindingStatus::Active, _) => true,
        }
    }

    /// Whether an exception exempts the finding (recorded as applied); one that matches and does
    /// not apply is noted.
    fn exempts(&mut self, policy: &Policy, subject: &Subject<'_>, f: &Finding) -> bool {
        match policy.exception_for(f, subject.repository, subject.digest, subject.now) {
            Some(ExceptionMatch::Applies(e)) => {
                self.applied
                    .entry((e.line, e.id.clone()))
                    .or_insert_with(|| AppliedException {
                        id: e.id.clone(),
                        owner: e.owner.clone(),
                        expires: format_date(e.expires),
                        expires_at: e.expires,
                        ticket: e.ticket.clone(),
                        findings: 0,
                    })
                    .findings += 1;
                true
            }
            Some(unapplied) => {
                self.notes.unapplied(&unapplied, f);
                false
            }
            None => false,
        }
    }

    /// The level a finding ends at: a blocking one warns without a fix under `fixable_only`, or
    /// while a rescan's grace period runs (the earliest end is the verdict's deadline).
    fn demote(&mut self, rule: &Rule, subject: &Subject<'_>, f: &Finding, level: Level) -> Level {
        let now = subject.now;
        let mut level = level;
        if level == Level::Block && rule.fixable_only && !f.has_fix() {
            level = Level::Warn;
            self.notes.unfixable += 1;
        }
        if level == Level::Block
            // A first observation "after now" is not evidence of a rescan: clamped to now.
            && let (Some(baseline), Some(seen)) = (subject.baseline, f.first_observed.map(|t| t.min(now)))
            && seen.saturating_sub(baseline) > rule.new_finding_margin
            && let Some(grace) = rule.grace_for(f.severity, subject.in_use)
        {
            let ends = seen.saturating_add(kev_grace(rule, f, grace));
            if now < ends {
                level = Level::Warn;
                self.notes.graced += 1;
                self.deadline = Some(self.deadline.map_or(ends, |d: Epoch| d.min(ends)));
            } else {
                self.notes.grace_over += 1;
            }
        }
        level
    }
}

/// The grace a rescan finding gets: the rule's, shortened to CISA's interval for a vulnerability in
/// KEV (dateDue - dateAdded, counted from when the image was found affected) where the rule asks about
/// KEV, but never under [`MIN_KEV_GRACE`] (nor over the rule's own).
pub fn kev_grace(rule: &Rule, f: &Finding, grace: Epoch) -> Epoch {
    let asks = rule.block.asks_kev() || rule.warn.asks_kev();
    match f.kev.and_then(|k| k.interval()) {
        Some(interval) if asks => grace.min(interval.max(MIN_KEV_GRACE)),
        _ => grace,
    }
}

/// The shortest grace a KEV interval leaves: a day to ship the fix.
pub const MIN_KEV_GRACE: Epoch = crate::domain::time::DAY;

/// Whether the rule denies the finding's id.
fn denies(rule: &Rule, f: &Finding) -> bool {
    !rule.deny.is_empty() && rule.deny.contains(&f.id.trim().to_ascii_uppercase())
}

/// The level a finding meets under the rule, and by which criterion: a denied id blocks, then
/// `block`, then `warn`.
fn criterion(rule: &Rule, f: &Finding) -> Option<(Level, Criterion)> {
    if denies(rule, f) {
        return Some((Level::Block, Criterion::Denied));
    }
    match (rule.block.met_by(f), rule.warn.met_by(f)) {
        (Some(why), _) => Some((Level::Block, why)),
        (None, Some(why)) => Some((Level::Warn, why)),
        (None, None) => None,
    }
}

/// The reasons about the findings that decided: what blocks, what warns, grace and `fixable_only`.
fn hit_reasons(
    rule: &Rule,
    block_hits: &[(&Finding, Level, Criterion)],
    warn_hits: &[(&Finding, Level, Criterion)],
    deadline: Option<Epoch>,
    notes: &Notes,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if !block_hits.is_empty() {
        reasons.push(format!(
            "{} finding(s) block under rule {}: {}",
            block_hits.len(),
            rule.name,
            list(block_hits)
        ));
    }
    if !warn_hits.is_empty() {
        reasons.push(format!(
            "{} finding(s) warn under rule {}: {}",
            warn_hits.len(),
            rule.name,
            list(warn_hits)
        ));
    }
    if let Some(d) = deadline {
        reasons.push(format!(
            "{} finding(s) found by a rescan are in their grace period: blocks on {}",
            notes.graced,
            format_date(d)
        ));
    }
    if notes.grace_over > 0 {
        reasons.push(format!(
            "{} finding(s) found by a rescan are past their grace period",
            notes.grace_over
        ));
    }
    if notes.unfixable > 0 {
        reasons.push(format!(
            "{} finding(s) without a fix warn instead of blocking (fixable_only)",
            notes.unfixable
        ));
    }
    reasons
}

/// The reasons about applied exceptions: which exempted what, and which of them expire soon.
fn exception_reasons(policy: &Policy, now: Epoch, exceptions: &[AppliedException]) -> Vec<String> {
    let mut reasons = Vec::new();
    if !exceptions.is_empty() {
        let ids: Vec<String> = exceptions
            .iter()
            .take(5)
            .map(|e| format!("{} ({}, until {})", e.id, e.owner, e.expires))
            .collect();
        let exempted: u32 = exceptions.iter().map(|e| e.findings).sum();
        reasons.push(format!(
            "{exempted} finding(s) exempt by {} exception(s): {}",
            exceptions.len(),
            ids.join(", ")
        ));
    }
    for e in policy.expiring(now, policy.expiry_notice()) {
        if exceptions
            .iter()
            .any(|a| a.id == e.id && a.owner == e.owner)
        {
            let days = (e.expires - now + DAY - 1) / DAY;
            reasons.push(format!(
                "exception {} ({}) expires on {} (in {days} day(s))",
                e.id,
                e.owner,
                format_date(e.expires)
            ));
        }
    }
    reasons
}

/// The reasons noted on the way: unknown severities, exceptions that did not apply, suppressions.
fn note_reasons(rule: &Rule, notes: Notes) -> Vec<String> {
    let mut reasons = Vec::new();
    let unknown = notes.severities.len();
    if unknown > 0 {
        let shown: Vec<String> = notes.severities.into_values().take(3).collect();
        let more = unknown.saturating_sub(shown.len());
        reasons.push(if more > 0 {
            format!("{} and {more} more", shown.join("; "))
        } else {
            shown.join("; ")
        });
    }
    reasons.extend(notes.expired.into_values());
    reasons.extend(notes.too_long.into_values());
    reasons.extend(notes.not_yet.into_values());
    if notes.suppressed_counted > 0 {
        reasons.push(format!(
            "{} Inspector-suppressed finding(s) counted: suppression rules have no owner or expiry, and rule {} does not exempt them",
            notes.suppressed_counted, rule.name
        ));
    }
    if notes.suppressed_exempt > 0 {
        reasons.push(format!(
            "{} Inspector-suppressed finding(s) exempt under rule {}",
            notes.suppressed_exempt, rule.name
        ));
    }
    if notes.kev_unread > 0 {
        reasons.push(format!(
            "rule {} asks about CISA KEV, but {} finding(s) have no Inspector details (basic scanning, or findings given offline): whether they are in KEV is not known",
            rule.name, notes.kev_unread
        ));
    }
    reasons
}

/// The decision the findings make: any blocking one blocks, else any warning one warns, else pass
/// (which says first that nothing met the rule's criteria).
fn decide(
    rule: &Rule,
    block_hits: &[(&Finding, Level, Criterion)],
    warn_hits: &[(&Finding, Level, Criterion)],
    reasons: &mut Vec<String>,
) -> Decision {
    if !block_hits.is_empty() {
        Decision::Block
    } else if !warn_hits.is_empty() {
        Decision::Warn
    } else {
        reasons.insert(
            0,
            format!(
                "no active finding meets the block or warn criteria of rule {}",
                rule.name
            ),
        );
        Decision::Pass
    }
}

/// Evaluates severity counts alone (a scan event's `finding-severity-counts`, without the list):
/// only the rules' severity criteria can apply.
pub fn evaluate_counts(rule: &Rule, counts: &SeverityCounts, scan: &ScanState) -> Verdict {
    let (mut blocking, mut warning) = (0u32, 0u32);
    for s in Severity::ALL {
        if rule.block.severity.is_some_and(|t| s.at_least(t)) {
            blocking += counts.get(s);
        } else if rule.warn.severity.is_some_and(|t| s.at_least(t)) {
            warning += counts.get(s);
        }
    }
    let mut reasons = Vec::new();
    let decision = if blocking > 0 {
        reasons.push(format!(
            "{blocking} finding(s) at or above {} by the scan's counts (rule {})",
            rule.block.severity.map_or("-", Severity::as_str),
            rule.name
        ));
        Decision::Block
    } else if warning > 0 {
        reasons.push(format!(
            "{warning} finding(s) at or above {} by the scan's counts (rule {})",
            rule.warn.severity.map_or("-", Severity::as_str),
            rule.name
        ));
        Decision::Warn
    } else {
        reasons.push(format!(
            "no finding at or above the rule's severity thresholds by the scan's counts (rule {})",
            rule.name
        ));
        Decision::Pass
    };
    let decision = settle(decision, scan, &mut reasons);
    Verdict {
        decision,
        counts: *counts,
        max_severity: counts.max(),
        reasons,
        top: Vec::new(),
        blocking,
        warning,
        exceptions: Vec::new(),
        deadline: None,
    }
}

/// The verdict for an image with no scan result yet (a push, or a scan that has not reported).
pub fn pending(reason: impl Into<String>) -> Verdict {
    Verdict {
        decision: Decision::Pending,
        counts: SeverityCounts::default(),
        max_severity: None,
        reasons: vec![reason.into()],
        top: Vec::new(),
        blocking: 0,
        warning: 0,
        exceptions: Vec::new(),
        deadline: None,
    }
}

#[cfg(test)]
mod tests;
