//! Printing a verdict for people (a table), for programs (JSON) and for code-scanning UIs (SARIF
//! 2.1.0). Colour only on a terminal, and never with NO_COLOR set. Text from the image, its findings
//! and the policy is shown escaped in the table ([`gatekeeper::domain::escape::line`]); the JSON forms are
//! escaped where they are printed.

use std::io::IsTerminal;

use serde_json::{Value, json};

use gatekeeper::domain::escape::line;
use gatekeeper::domain::policy::{ExceptionMatch, Policy};
use gatekeeper::domain::time::format_rfc3339;
use gatekeeper::domain::verdict::{Subject, Verdict};
use gatekeeper::domain::{Decision, Finding, ImageRef, Severity};

/// Everything `check` reports about one image.
pub struct Report<'a> {
    /// The image (tags as ECR has them now).
    pub image: &'a ImageRef,
    /// The verdict.
    pub verdict: &'a Verdict,
    /// Whether its tags are held (no verdict yet under `unscanned = "hold"`).
    pub held: bool,
    /// Every finding fetched.
    pub findings: &'a [Finding],
    /// The policy.
    pub policy: &'a Policy,
    /// The subject the verdict was computed for (exceptions are matched against it).
    pub subject: Subject<'a>,
    /// The scan status, as ECR or Inspector reported it.
    pub scan: String,
}

/// How each finding stands: `error` (blocks), `warning`, `note`, or exempt by an exception.
fn level(report: &Report<'_>, f: &Finding) -> (&'static str, Option<String>) {
    let rule = report
        .policy
        .rule_at(report.subject.repository, report.subject.at);
    let level = if rule.block.met_by(f).is_some() {
        "error"
    } else if rule.warn.met_by(f).is_some() {
        "warning"
    } else {
        "note"
    };
    match report.policy.exception_for(
        f,
        report.subject.repository,
        report.subject.digest,
        report.subject.now,
    ) {
        Some(ExceptionMatch::Applies(e)) if level != "note" => (
            "note",
            Some(format!(
                "exception by {} until {}: {}",
                e.owner,
                gatekeeper::domain::time::format_date(e.expires),
                e.reason
            )),
        ),
        _ => (level, None),
    }
}

fn colour(enabled: bool, code: &str, text: &str) -> String {
    if enabled {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// Whether stdout may carry colour.
pub fn colour_enabled() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The decision as `check` reports it: `held` when the tags are held.
pub fn shown_decision(report: &Report<'_>) -> &'static str {
    if report.held && report.verdict.decision == Decision::Pending {
        "held"
    } else {
        report.verdict.decision.as_str()
    }
}

/// A table a person can read.
pub fn text(report: &Report<'_>, colours: bool) -> String {
    let v = report.verdict;
    let decision = shown_decision(report);
    let code = match decision {
        "block" | "held" => "1;31",
        "warn" => "1;33",
        "pass" => "1;32",
        _ => "1",
    };
    let mut out = String::new();
    let tags = if report.image.tags.is_empty() {
        "untagged".to_string()
    } else {
        line(&report.image.tags.join(", ")).into_owned()
    };
    out.push_str(&format!(
        "image     {}@{} ({tags})\n",
        line(&report.image.repository),
        line(&report.image.digest)
    ));
    out.push_str(&format!(
        "decision  {}   scan {}   rule {}   policy {}\n",
        colour(colours, code, &decision.to_ascii_uppercase()),
        line(&report.scan),
        line(
            &report
                .policy
                .rule_at(report.subject.repository, report.subject.at)
                .name
        ),
        report.policy.hash()
    ));
    let counts: Vec<String> = Severity::ALL
        .iter()
        .filter(|s| v.counts.get(**s) > 0)
        .map(|s| format!("{s} {}", v.counts.get(*s)))
        .collect();
    out.push_str(&format!(
        "findings  {}\n",
        if counts.is_empty() {
            "none".to_string()
        } else {
            counts.join("  ")
        }
    ));
    if let Some(d) = v.deadline {
        out.push_str(&format!("deadline  {}\n", format_rfc3339(d)));
    }
    out.push_str("reasons\n");
    for r in &v.reasons {
        out.push_str(&format!("  - {}\n", line(r)));
    }
    out.push_str(&findings_table(report));
    out.push_str(&exceptions_applied(v));
    out
}

/// The findings that block or warn, worst first, at most 50 rows (empty when there are none).
fn findings_table(report: &Report<'_>) -> String {
    let mut out = String::new();
    let mut listed: Vec<(&Finding, &'static str, Option<String>)> = report
        .findings
        .iter()
        .map(|f| {
            let (l, why) = level(report, f);
            (f, l, why)
        })
        .filter(|(_, l, _)| *l != "note")
        .collect();
    listed.sort_by(|a, b| {
        a.1.cmp(b.1)
            .then(b.0.severity.rank().cmp(&a.0.severity.rank()))
            .then(a.0.id.cmp(&b.0.id))
    });
    if !listed.is_empty() {
        out.push_str(&format!(
            "\n  {:<9} {:<8} {:<20} {:<28} {:<16} {:<16} {:>5} {:>6}\n",
            "LEVEL", "SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED", "SCORE", "EPSS"
        ));
        for (f, l, _) in listed.iter().take(50) {
            let p = f.packages.first();
            // Escaped first, so the columns count what a person sees.
            let cut = |s: &str, n: usize| {
                let s = line(s);
                if s.chars().count() > n {
                    format!("{}~", s.chars().take(n - 1).collect::<String>())
                } else {
                    s.to_string()
                }
            };
            out.push_str(&format!(
                "  {:<9} {:<8} {:<20} {:<28} {:<16} {:<16} {:>5} {:>6}\n",
                l,
                f.severity.as_str(),
                cut(&f.id, 20),
                cut(p.map_or("-", |p| p.name.as_str()), 28),
                cut(p.and_then(|p| p.version.as_deref()).unwrap_or("-"), 16),
                cut(p.and_then(|p| p.fixed_in.as_deref()).unwrap_or("-"), 16),
                f.score.map_or("-".into(), |s| format!("{s:.1}")),
                f.epss.map_or("-".into(), |s| format!("{s:.3}")),
            ));
        }
        if listed.len() > 50 {
            out.push_str(&format!("  ... and {} more\n", listed.len() - 50));
        }
    }
    out
}

/// The exceptions the verdict applied (empty when none did).
fn exceptions_applied(v: &Verdict) -> String {
    let mut out = String::new();
    if !v.exceptions.is_empty() {
        out.push_str("\nexceptions applied\n");
        for e in &v.exceptions {
            out.push_str(&format!(
                "  {} ({} finding(s)) owner {} until {}{}\n",
                line(&e.id),
                e.findings,
                line(&e.owner),
                e.expires,
                e.ticket
                    .as_ref()
                    .map_or(String::new(), |t| format!(" ticket {}", line(t)))
            ));
        }
    }
    out
}

fn finding_json(f: &Finding, level: &str, exempt: Option<String>) -> Value {
    let p = f.packages.first();
    json!({
        "id": f.id, "severity": f.severity, "level": level, "status": f.status,
        "package": p.map(|p| &p.name), "installed_version": p.and_then(|p| p.version.as_ref()), "fixed_version": p.and_then(|p| p.fixed_in.as_ref()),
        "fix_available": f.has_fix(), "exploit_available": f.exploit_available, "score": f.score, "epss": f.epss, "exception": exempt
    })
}

/// One JSON object for programs.
pub fn json(report: &Report<'_>) -> Value {
    let v = report.verdict;
    let findings: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let (l, why) = level(report, f);
            finding_json(f, l, why)
        })
        .collect();
    json!({
        "image": report.image, "decision": shown_decision(report), "scan": report.scan,
        "counts": v.counts, "reasons": v.reasons, "exceptions": v.exceptions,
        "deadline": v.deadline.map(format_rfc3339), "policy": {"hash": report.policy.hash(), "rule": report.policy.rule_at(report.subject.repository, report.subject.at).name},
        "findings": findings
    })
}

/// SARIF 2.1.0: one rule per vulnerability, one result per finding; exempt findings carry a suppression.
pub fn sarif(report: &Report<'_>) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut results = Vec::new();
    let location = format!("{}@{}", report.image.repository, report.image.digest);
    for f in report.findings {
        let (level, exempt) = level(report, f);
        let p = f.packages.first();
        if seen.insert(f.id.clone()) {
            let help = if f.id.starts_with("CVE-") {
                format!("https://nvd.nist.gov/vuln/detail/{}", f.id)
            } else if f.id.starts_with("GHSA-") {
                format!("https://github.com/advisories/{}", f.id)
            } else {
                String::new()
            };
            let mut rule = json!({
                "id": f.id,
                "shortDescription": {"text": format!("{} in {}", f.id, p.map_or("a package", |p| p.name.as_str()))},
                "properties": {"tags": ["security", "vulnerability"], "severity": f.severity}
            });
            if let Some(score) = f.score {
                rule["properties"]["security-severity"] = json!(format!("{score:.1}"));
            }
            if !help.is_empty() {
                rule["helpUri"] = json!(help);
            }
            rules.push(rule);
        }
        let text = format!(
            "{} ({}) in {} {}{}",
            f.id,
            f.severity,
            p.map_or("-", |p| p.name.as_str()),
            p.and_then(|p| p.version.as_deref()).unwrap_or(""),
            p.and_then(|p| p.fixed_in.as_deref())
                .map_or(String::new(), |v| format!("; fixed in {v}"))
        );
        let mut result = json!({
            "ruleId": f.id,
            "level": level,
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": location}}}],
        });
        if let Some(why) = exempt {
            result["suppressions"] = json!([{"kind": "external", "justification": why}]);
        }
        results.push(result);
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "ecr-gatekeeper", "version": env!("CARGO_PKG_VERSION"), "informationUri": "https://github.com/ecr-gatekeeper/ecr-gatekeeper", "rules": rules}},
            "results": results,
            "properties": {"decision": shown_decision(report), "image": location, "policy": report.policy.hash()}
        }]
    })
}

#[cfg(test)]
mod tests {
    use gatekeeper::domain::verdict::evaluate;
    use gatekeeper::domain::{Package, ScanState};

    use super::*;

    const HOSTILE: &str = "\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}x\u{1b}]8;;\u{7}\r\u{8}\nFORGED\u{7f}\u{9b}2J\u{202e}\u{2066}\u{2028}";

    fn table(s: &str) -> String {
        let policy = Policy::builtin();
        let image = ImageRef {
            place: None,
            repository: format!("team/{s}"),
            digest: format!("sha256:{s}"),
            tags: vec![format!("v1{s}")],
        };
        let mut f = Finding::new(format!("CVE-1{s}"), Severity::Critical);
        f.packages.push(Package {
            name: format!("pkg{s}"),
            version: Some(s.to_string()),
            fixed_in: Some(s.to_string()),
        });
        let findings = [f];
        let subject = Subject::new(&image.repository, &image.digest, 0);
        let verdict = evaluate(&policy, &subject, &findings, &ScanState::Complete);
        let report = Report {
            image: &image,
            verdict: &verdict,
            held: false,
            findings: &findings,
            policy: &policy,
            subject,
            scan: format!("complete{s}"),
        };
        text(&report, false)
    }

    #[test]
    fn the_table_shows_controls_from_the_image_and_its_findings_escaped_on_the_same_lines() {
        let clean = table("");
        let hostile = table(HOSTILE);
        for c in hostile.chars().filter(|c| *c != '\n') {
            assert!(
                !gatekeeper::domain::escape::needs_escape(c),
                "{c:?} in {hostile}"
            );
        }
        assert_eq!(hostile.lines().count(), clean.lines().count(), "{hostile}");
        let shown = gatekeeper::domain::escape::line(HOSTILE);
        assert!(
            hostile.starts_with(&format!(
                "image     team/{shown}@sha256:{shown} (v1{shown})\n"
            )),
            "{hostile}"
        );
        assert!(
            hostile.contains(&format!("scan complete{shown}")),
            "{hostile}"
        );
        assert!(hostile.contains("CVE-1\\x1b[2J\\x1b]8;~ "), "{hostile}");
    }
}
