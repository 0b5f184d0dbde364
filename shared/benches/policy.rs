//! Benchmark: the policy's size limits in practice, on one core (issue 20, "quadratic work").
//!
//!     cargo bench -p gatekeeper --bench policy
//!
//! Prints, each as the median of a few rounds: policy load time (parse, validate, compile the globs)
//! for 1k, 10k and 100k exceptions; rule selection with 10,000 rules; the longest patterns ECR
//! allows (256 characters) against long names; and the tag plan for an image with up to 100,000
//! tags under a rule with `verified_prefix`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark: a panic is a failed run

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gatekeeper::domain::Decision;
use gatekeeper::domain::plan::{Verified, plan};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::tags::TagScheme;

/// Median wall time of `rounds` runs of `f`.
fn median(rounds: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn exceptions(n: usize) -> String {
    let mut text = String::from("version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[exception]]\nid = \"CVE-2026-{i:06}\"\nrepositories = [\"team-{}/*\", \"shared/base-?\"]\ncreated = 2026-11-01\nexpires = 2027-01-01\nreason = \"accepted risk {i}\"\nowner = \"team-{}@example.com\"\nticket = \"SEC-{i}\"\n",
            i % 97,
            i % 97
        ));
    }
    text
}

fn rules(n: usize, pattern: impl Fn(usize) -> String) -> String {
    let mut text = String::from("version = 1\n[defaults]\nblock = \"CRITICAL\"\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[rule]]\nname = \"r{i}\"\nrepositories = [\"{}\"]\nblock = \"HIGH\"\n",
            pattern(i)
        ));
    }
    text
}

fn load() {
    for n in [1_000, 10_000, 100_000] {
        let text = exceptions(n);
        let rounds = if n == 100_000 { 3 } else { 7 };
        let t = median(rounds, || {
            black_box(Policy::parse(black_box(&text)).unwrap());
        });
        println!(
            "load: {n:>7} exceptions ({:.1} MB): {:>8.1} ms, {:.2} us per exception (median of {rounds})",
            text.len() as f64 / 1e6,
            ms(t),
            ms(t) * 1e3 / n as f64
        );
    }
}

fn selection() {
    let text = rules(10_000, |i| format!("team-{i}/svc-*-v?"));
    let t = median(3, || {
        black_box(Policy::parse(black_box(&text)).unwrap());
    });
    let policy = Policy::parse(&text).unwrap();
    let names = ["team-9999/svc-api-v2", "team-5000/other", "nomatch"];
    let calls = 200;
    let s = median(5, || {
        for _ in 0..calls {
            for name in names {
                black_box(policy.rule_for(black_box(name)));
            }
        }
    });
    assert_eq!(policy.rule_for("team-9999/svc-api-v2").name, "r9999");
    println!(
        "rules: 10,000 rules load in {:.1} ms; rule_for: {:.1} us per repository (median of 5 x {calls} x {} names)",
        ms(t),
        ms(s) * 1e3 / (calls * names.len()) as f64,
        names.len()
    );
}

fn long_patterns() {
    // What made the backtracking matcher take seconds: many stars, a near miss at the very end.
    let stars = format!("{}b", "a*".repeat(127));
    let mixed = format!("{}?", "ab?*".repeat(63))
        .chars()
        .take(256)
        .collect::<String>();
    for (label, pattern, unit) in [("a*a*...a*b", stars, "a"), ("ab?*ab?*...", mixed, "abc")] {
        assert_eq!(pattern.len().min(256), pattern.len());
        let text = rules(1, |_| pattern.clone());
        let policy = Policy::parse(&text).unwrap();
        for len in [256, 100_000] {
            let name: String = unit.repeat(len).chars().take(len).collect();
            let calls = if len > 1_000 { 20 } else { 2_000 };
            let t = median(5, || {
                for _ in 0..calls {
                    black_box(policy.rule_for(black_box(&name)));
                }
            });
            println!(
                "long pattern {label} ({} chars) vs a {len}-character name: {:.2} us per match, {:.1} ns per byte",
                pattern.len(),
                ms(t) * 1e3 / calls as f64,
                t.as_secs_f64() * 1e9 / (calls * len) as f64
            );
        }
    }
}

fn tags() {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let owners = HashMap::new();
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nverified_prefix = \"signed-\"\n",
    )
    .unwrap();
    let rule = policy.rule_for("team/app");
    // As the service forms it: the deployment's prefixes with the rule's verified prefix.
    let prefix = rule.verified_prefix.as_deref().unwrap();
    let scheme = TagScheme::new("quarantined-", "held-", prefix).unwrap();
    let mut last = Duration::ZERO;
    for n in [1_000, 10_000, 100_000] {
        // Too slow to wait for: a quadratic plan at 10k extrapolates to 100x at 100k.
        if last > Duration::from_secs(2) {
            println!(
                "tag plan: {n:>7} tags: skipped ({:.0} ms at a tenth of the size)",
                ms(last)
            );
            continue;
        }
        let tags: Vec<String> = (0..n)
            .map(|i| match i % 3 {
                0 => format!("v{i}"),
                1 => format!("signed-v{}", i - 1),
                _ => format!("build-{i}"),
            })
            .collect();
        for (decision, verified) in [
            (
                Decision::Pass,
                Verified::of(true, rule.verify_warn, Decision::Pass),
            ),
            (
                Decision::Block,
                Verified::of(true, rule.verify_warn, Decision::Block),
            ),
        ] {
            let t = median(3, || {
                black_box(plan(
                    &scheme, &tags, &digest, decision, &owners, true, verified,
                ));
            });
            last = last.max(t);
            println!(
                "tag plan: {n:>7} tags, {}: {:>9.1} ms",
                decision.as_str(),
                ms(t)
            );
        }
    }
}

fn main() {
    load();
    selection();
    long_patterns();
    tags();
}
