//! Benchmark: the work that hostile input can ask for, which must grow linearly with its size.
//!
//!     cargo bench -p gatekeeper --bench hostile
//!
//! Prints the median of 5 rounds for: parsing a scan event (at the 1 MiB limit) that names 10k and
//! 100k tags, and planning the tags of an image carrying 10k and 100k tags under a rule that writes
//! verified tags (set on a pass, cleared on a block). Linear work shows as ~10x from 10k to 100k.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark: a panic is a failed run

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use gatekeeper::domain::Decision;
use gatekeeper::domain::events::{Incoming, parse_str};
use gatekeeper::domain::plan::{Verified, plan};
use gatekeeper::domain::tags::TagScheme;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn median(mut f: impl FnMut()) -> Duration {
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    runs.sort();
    runs[2]
}

fn scan_event(tags: usize) -> String {
    let tags: Vec<String> = (0..tags).map(|i| format!("\"t{i}\"")).collect();
    format!(
        r#"{{"source": "aws.ecr", "detail-type": "ECR Image Scan", "time": "2026-12-01T10:00:00Z", "detail": {{"scan-status": "COMPLETE", "repository-name": "r", "image-digest": "{DIGEST}", "finding-severity-counts": {{"CRITICAL": 1}}, "image-tags": [{}]}}}}"#,
        tags.join(",")
    )
}

fn main() {
    for n in [10_000, 100_000] {
        let text = scan_event(n);
        let parse = median(|| {
            black_box(parse_str(black_box(&text)).unwrap());
        });
        let incoming = median(|| {
            black_box(Incoming::from_text(black_box(&text), usize::MAX).unwrap());
        });
        println!(
            "parse a scan event with {n:>6} tags ({:>7} bytes): {:>8.2} ms (of which strict JSON {:.2} ms)",
            text.len(),
            parse.as_secs_f64() * 1e3,
            incoming.as_secs_f64() * 1e3
        );
    }
    let scheme = TagScheme::new("quarantined-", "held-", "verified-").unwrap();
    for n in [10_000, 100_000] {
        let plain: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let verified: Vec<String> = plain
            .iter()
            .flat_map(|t| [t.clone(), format!("verified-{t}")])
            .collect();
        // Same image, same in-use state: only the tags, the decision and the verified-tag action vary.
        let planned = |tags: &[String], decision, verified| {
            plan(
                &scheme,
                tags,
                DIGEST,
                decision,
                &HashMap::new(),
                true,
                verified,
            )
        };
        let set = median(|| {
            let p = planned(&plain, Decision::Pass, Verified::Set);
            assert_eq!(p.adds().count(), n);
        });
        let clear = median(|| {
            let p = planned(&verified, Decision::Block, Verified::Clear);
            assert!(p.removes().count() >= n);
        });
        println!(
            "plan the tags of an image with {n:>6} tags: verify {:>8.2} ms, block and clear verified {:>8.2} ms",
            set.as_secs_f64() * 1e3,
            clear.as_secs_f64() * 1e3
        );
    }
}
