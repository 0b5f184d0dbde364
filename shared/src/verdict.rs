//! The verdict: a pure evaluation of an image's findings and scan state under one policy rule.
//! No I/O, no clock.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::domain::{Decision, Finding, FindingStatus, ScanState, Severity, SeverityCounts};
use crate::policy::Rule;

/// How many findings a verdict keeps for its message: the top blocking ones, then warning ones.
pub const TOP_FINDINGS: usize = 10;

/// The outcome of evaluating one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// pass / warn / block / pending.
    pub decision: Decision,
    /// Active findings by severity.
    pub counts: SeverityCounts,
    /// The highest severity among active findings.
    pub max_severity: Option<Severity>,
    /// Why, one line each, most important first.
    pub reasons: Vec<String>,
    /// The findings that decided it (at most [`TOP_FINDINGS`]), most severe first.
    pub top: Vec<Finding>,
    /// Findings that met the block threshold.
    pub blocking: u32,
    /// Findings that met the warn threshold but not the block threshold.
    pub warning: u32,
}

/// What the state table keeps of a verdict, so that later notices (a re-tag of a blocked digest) can
/// say what it was without fetching the findings again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Active findings by severity.
    pub counts: SeverityCounts,
    /// The verdict's reasons.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// The part of the verdict the state table keeps.
    pub fn summary(&self) -> Summary {
        Summary {
            counts: self.counts,
            reasons: self.reasons.iter().take(5).cloned().collect(),
        }
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
        }
    }
}

fn describe(f: &Finding) -> String {
    match f.packages.first() {
        Some(p) if !p.name.is_empty() => format!("{} ({} {})", f.id, f.severity, p.name),
        _ => format!("{} ({})", f.id, f.severity),
    }
}

/// Most severe first, then highest score, then id, so that messages are stable.
fn by_importance(a: &Finding, b: &Finding) -> Ordering {
    b.severity
        .rank()
        .cmp(&a.severity.rank())
        .then_with(|| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal))
        .then_with(|| a.id.cmp(&b.id))
}

fn thresholds(rule: &Rule, severity: Severity) -> (bool, bool) {
    let block = rule.block.is_some_and(|t| severity.at_least(t));
    let warn = !block && rule.warn.is_some_and(|t| severity.at_least(t));
    (block, warn)
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

/// Evaluates a list of findings (closed ones are ignored; suppressed ones are counted apart).
pub fn evaluate(rule: &Rule, findings: &[Finding], scan: &ScanState) -> Verdict {
    let mut counts = SeverityCounts::default();
    let mut hits: Vec<&Finding> = Vec::new();
    let (mut blocking, mut warning, mut suppressed) = (0u32, 0u32, 0u32);
    for f in findings {
        match f.status {
            FindingStatus::Closed => continue,
            FindingStatus::Suppressed => {
                suppressed += 1;
                continue;
            }
            FindingStatus::Active => {}
        }
        counts.add(f.severity);
        let (b, w) = thresholds(rule, f.severity);
        blocking += u32::from(b);
        warning += u32::from(w);
        if b || w {
            hits.push(f);
        }
    }
    // Thresholds are monotonic in severity, so the blocking findings sort before the warning ones.
    hits.sort_by(|a, b| by_importance(a, b));
    let list = |skip: usize, take: usize| -> String {
        let shown: Vec<String> = hits
            .iter()
            .skip(skip)
            .take(take.min(3))
            .map(|f| describe(f))
            .collect();
        let more = take.saturating_sub(3);
        if more > 0 {
            format!("{} and {more} more", shown.join(", "))
        } else {
            shown.join(", ")
        }
    };
    let mut reasons = Vec::new();
    if blocking > 0 {
        reasons.push(format!(
            "{blocking} finding(s) at or above {} (rule {}): {}",
            rule.block.map_or("-", Severity::as_str),
            rule.name,
            list(0, blocking as usize)
        ));
    }
    if warning > 0 {
        reasons.push(format!(
            "{warning} finding(s) at or above {} (rule {}): {}",
            rule.warn.map_or("-", Severity::as_str),
            rule.name,
            list(blocking as usize, warning as usize)
        ));
    }
    let decision = if blocking > 0 {
        Decision::Block
    } else if warning > 0 {
        Decision::Warn
    } else {
        reasons.push(format!(
            "no active finding at or above the rule's thresholds (rule {})",
            rule.name
        ));
        Decision::Pass
    };
    if suppressed > 0 {
        reasons.push(format!(
            "{suppressed} finding(s) suppressed by Inspector rules (not counted)"
        ));
    }
    let decision = settle(decision, scan, &mut reasons);
    Verdict {
        decision,
        counts,
        max_severity: counts.max(),
        reasons,
        top: hits.into_iter().take(TOP_FINDINGS).cloned().collect(),
        blocking,
        warning,
    }
}

/// Evaluates severity counts alone (a scan event's `finding-severity-counts`, without the list).
pub fn evaluate_counts(rule: &Rule, counts: &SeverityCounts, scan: &ScanState) -> Verdict {
    let (mut blocking, mut warning) = (0u32, 0u32);
    for s in Severity::ALL {
        let (b, w) = thresholds(rule, s);
        if b {
            blocking += counts.get(s);
        } else if w {
            warning += counts.get(s);
        }
    }
    let mut reasons = Vec::new();
    let decision = if blocking > 0 {
        reasons.push(format!(
            "{blocking} finding(s) at or above {} by the scan's counts (rule {})",
            rule.block.map_or("-", Severity::as_str),
            rule.name
        ));
        Decision::Block
    } else if warning > 0 {
        reasons.push(format!(
            "{warning} finding(s) at or above {} by the scan's counts (rule {})",
            rule.warn.map_or("-", Severity::as_str),
            rule.name
        ));
        Decision::Warn
    } else {
        reasons.push(format!(
            "no finding at or above the rule's thresholds by the scan's counts (rule {})",
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Mode;
    use crate::policy::Unscanned;

    fn rule() -> Rule {
        Rule {
            name: "defaults".into(),
            block: Some(Severity::Critical),
            warn: Some(Severity::High),
            mode: Mode::Enforce,
            unscanned: Unscanned::Allow,
        }
    }

    fn f(id: &str, s: Severity) -> Finding {
        Finding::new(id, s)
    }

    #[test]
    fn decisions_by_threshold() {
        let r = rule();
        let cases: [(&[Severity], Decision); 6] = [
            (&[], Decision::Pass),
            (&[Severity::Low, Severity::Medium], Decision::Pass),
            (&[Severity::High], Decision::Warn),
            (&[Severity::High, Severity::Critical], Decision::Block),
            (&[Severity::Untriaged, Severity::Undefined], Decision::Pass),
            (&[Severity::Informational; 3], Decision::Pass),
        ];
        for (severities, want) in cases {
            let findings: Vec<Finding> = severities
                .iter()
                .enumerate()
                .map(|(i, s)| f(&format!("CVE-{i}"), *s))
                .collect();
            assert_eq!(
                evaluate(&r, &findings, &ScanState::Complete).decision,
                want,
                "{severities:?}"
            );
        }
    }

    #[test]
    fn closed_findings_do_not_count_and_suppressed_are_reported() {
        let mut closed = f("CVE-1", Severity::Critical);
        closed.status = FindingStatus::Closed;
        let mut suppressed = f("CVE-2", Severity::Critical);
        suppressed.status = FindingStatus::Suppressed;
        let v = evaluate(&rule(), &[closed, suppressed], &ScanState::Complete);
        assert_eq!(v.decision, Decision::Pass);
        assert_eq!(v.counts.total(), 0);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.contains("1 finding(s) suppressed")),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn an_unusable_or_running_scan_is_never_pass_but_blocking_findings_still_block() {
        for scan in [
            ScanState::Unusable("SCAN_ELIGIBILITY_EXPIRED".into()),
            ScanState::Unusable("FAILED".into()),
            ScanState::InProgress,
        ] {
            assert_eq!(
                evaluate(&rule(), &[], &scan).decision,
                Decision::Pending,
                "{scan:?}"
            );
            assert_eq!(
                evaluate(&rule(), &[f("a", Severity::High)], &scan).decision,
                Decision::Pending,
                "{scan:?}"
            );
            assert_eq!(
                evaluate(&rule(), &[f("a", Severity::Critical)], &scan).decision,
                Decision::Block,
                "{scan:?}"
            );
            assert_eq!(
                evaluate_counts(&rule(), &SeverityCounts::default(), &scan).decision,
                Decision::Pending
            );
        }
        assert_eq!(
            evaluate(&rule(), &[], &ScanState::Unknown).decision,
            Decision::Pass
        );
    }

    #[test]
    fn top_findings_are_ordered_and_bounded() {
        let mut findings: Vec<Finding> = (0..30)
            .map(|i| f(&format!("CVE-H{i:02}"), Severity::High))
            .collect();
        let mut c = f("CVE-C", Severity::Critical);
        c.score = Some(9.8);
        findings.push(c);
        findings.push(f("CVE-L", Severity::Low));
        let v = evaluate(&rule(), &findings, &ScanState::Complete);
        assert_eq!(v.decision, Decision::Block);
        assert_eq!((v.blocking, v.warning), (1, 30));
        assert_eq!(v.top.len(), TOP_FINDINGS);
        assert_eq!(v.top[0].id, "CVE-C");
        assert_eq!(v.top[1].id, "CVE-H00");
        assert_eq!(v.max_severity, Some(Severity::Critical));
        assert!(
            v.reasons[0].starts_with("1 finding(s) at or above CRITICAL"),
            "{:?}",
            v.reasons
        );
    }

    #[test]
    fn counts_only_evaluation() {
        let mut counts = SeverityCounts::default();
        counts.add_n(Severity::High, 61);
        assert_eq!(
            evaluate_counts(&rule(), &counts, &ScanState::Complete).decision,
            Decision::Warn
        );
        counts.add_n(Severity::Critical, 7);
        let v = evaluate_counts(&rule(), &counts, &ScanState::Complete);
        assert_eq!(
            (v.decision, v.blocking, v.warning),
            (Decision::Block, 7, 61)
        );
    }

    #[test]
    fn a_rule_without_thresholds_passes_everything_scanned() {
        let r = Rule {
            block: None,
            warn: None,
            ..rule()
        };
        assert_eq!(
            evaluate(&r, &[f("a", Severity::Critical)], &ScanState::Complete).decision,
            Decision::Pass
        );
    }
}
