//! Benchmark: evaluating 10,000 findings against a policy with 500 exceptions, on one core.
//!
//!     cargo bench -p gatekeeper --bench evaluate
//!
//! Prints findings per second (median of 7 rounds) for the full evaluation: criteria, exception
//! lookup and matching, fixable-only, grace, reasons and the top findings.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark: a panic is a failed run

use std::hint::black_box;
use std::time::Instant;

use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::time::DAY;
use gatekeeper::domain::verdict::{Subject, evaluate};
use gatekeeper::domain::{Finding, FixAvailable, Package, ScanState, Severity};

const FINDINGS: usize = 10_000;
const EXCEPTIONS: usize = 500;

fn policy() -> Policy {
    let mut text = String::from(
        "version = 1\n[exception_limits]\nCRITICAL = \"90d\"\n[defaults]\nblock = { severity = \"CRITICAL\", exploitable = \"HIGH\", epss = 0.7, score = 9.5 }\nwarn = \"MEDIUM\"\nfixable_only = true\ngrace = { CRITICAL = \"7d\" }\n[[rule]]\nname = \"team-a\"\nrepositories = [\"team-a/*\"]\nblock = \"HIGH\"\n",
    );
    for i in 0..EXCEPTIONS {
        // Every tenth exception is scoped to a package, every seventh to another team's repositories.
        let repo = if i % 7 == 0 { "team-b/*" } else { "team-a/*" };
        let package = if i % 10 == 0 {
            "package = \"openssl\"\n"
        } else {
            ""
        };
        text.push_str(&format!(
            "[[exception]]\nid = \"CVE-2025-{:05}\"\nrepositories = [\"{repo}\"]\n{package}created = 2026-10-01\nexpires = 2026-12-15\nreason = \"accepted {i}\"\nowner = \"team-{}\"\n",
            i * 20,
            i % 9
        ));
    }
    Policy::parse(&text).unwrap()
}

fn findings() -> Vec<Finding> {
    // Every severity Inspector assigns (all but UNDEFINED, which only a malformed value becomes).
    let severities = &Severity::ALL[..6];
    let packages = [
        "openssl",
        "glibc",
        "zlib",
        "curl",
        "libxml2",
        "jackson-databind",
        "lodash",
        "urllib3",
    ];
    (0..FINDINGS)
        .map(|i| {
            let mut f = Finding::new(format!("CVE-2025-{i:05}"), severities[i % severities.len()]);
            f.packages.push(Package {
                name: packages[i % packages.len()].into(),
                version: Some("1.2.3".into()),
                fixed_in: (i % 3 != 0).then(|| "1.2.4".into()),
            });
            f.fix_available = Some(if i % 3 == 0 {
                FixAvailable::No
            } else {
                FixAvailable::Yes
            });
            f.exploit_available = Some(i % 11 == 0);
            f.epss = (i % 2 == 0).then_some((i % 100) as f64 / 100.0);
            f.score = (i % 5 != 0).then_some((i % 100) as f64 / 10.0);
            f.first_observed = Some(1_795_000_000 + (i as i64 % 30) * DAY);
            f
        })
        .collect()
}

fn main() {
    let policy = policy();
    let findings = findings();
    let now = gatekeeper::domain::time::parse_rfc3339("2026-11-20T00:00:00Z").unwrap();
    let subject = Subject {
        repository: "team-a/payments-api",
        digest: "sha256:aa",
        baseline: Some(1_794_000_000),
        in_use: true,
        now,
        at: Default::default(),
    };
    let once = evaluate(&policy, &subject, &findings, &ScanState::Complete);
    println!(
        "policy: {} exceptions; findings: {}; verdict: {} ({} blocking, {} warning, {} exception(s) applied)",
        policy.exceptions().len(),
        findings.len(),
        once.decision.as_str(),
        once.blocking,
        once.warning,
        once.exceptions.len()
    );
    let rounds = 7;
    let per_round = 50;
    let mut rates = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..per_round {
            black_box(evaluate(
                black_box(&policy),
                black_box(&subject),
                black_box(&findings),
                &ScanState::Complete,
            ));
        }
        let secs = start.elapsed().as_secs_f64();
        rates.push((per_round * FINDINGS) as f64 / secs);
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rounds / 2];
    println!(
        "evaluate: {:.2} M findings/s (median of {rounds} rounds of {per_round} x {FINDINGS}; min {:.2}, max {:.2}); {:.2} ms per 10,000 findings",
        median / 1e6,
        rates[0] / 1e6,
        rates[rounds - 1] / 1e6,
        FINDINGS as f64 / median * 1e3
    );
}
