//! Measures what `kev = true` adds to a scan's burst: one image of FINDINGS findings (5 CRITICAL,
//! the rest MEDIUM, one in ten of them in KEV) evaluated as its burst evaluates it (EVALUATIONS
//! times), then a second image with the same vulnerabilities; against moto through the fault proxy
//! (no faults), which counts every call, and a scripted Inspector that counts its lookups:
//!
//!     cargo run --release -p gatekeeper-tests --bin kev_calls -- [FINDINGS] [EVALUATIONS]
//!
//! Prints the calls of each evaluation by operation, with and without `kev` in the policy.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: a panic is a failed run

use std::collections::BTreeMap;

use gatekeeper::domain::events::Scanner;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Finding, ImageRef, Kev, Mode, Severity, TriggerKind};
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::Trigger;
use gatekeeper_tests::arg;
use gatekeeper_tests::faults::{FaultProxy, test_resilience};
use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::moto::Moto;

/// `n` findings with ARNs: 5 CRITICAL, the rest MEDIUM.
fn findings(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| {
            let severity = if i < 5 {
                Severity::Critical
            } else {
                Severity::Medium
            };
            let mut f = Finding::new(format!("CVE-2026-{i:05}"), severity);
            f.arn = Some(format!(
                "arn:aws:inspector2:eu-west-1:123456789012:finding/{i:032x}"
            ));
            f
        })
        .collect()
}

/// The calls of one evaluation of `digest`, by operation (the proxy's and the scripted Inspector's).
async fn evaluate(
    gk: &gatekeeper_tests::fixtures::TestGatekeeper,
    inspector: &FakeFindings,
    proxy: &FaultProxy,
    repo: &str,
    digest: &str,
) -> BTreeMap<String, usize> {
    proxy.reset_counts();
    let asked = inspector.kev_asked().len();
    let image = ImageRef {
        place: None,
        repository: repo.to_string(),
        digest: digest.to_string(),
        tags: Vec::new(),
    };
    let trigger = Trigger::cli(TriggerKind::Reconcile, "kev-calls".to_string());
    gk.evaluate_image(inspector, &image, Scanner::Enhanced, &trigger)
        .await
        .unwrap();
    let mut calls = proxy.requests();
    let looked_up = inspector.kev_asked().len() - asked;
    if looked_up > 0 {
        calls.insert(
            "inspector2:BatchGetFindingDetails".into(),
            looked_up.div_ceil(10),
        );
    }
    calls
}

/// The calls KEV adds: the lookups and the state table's memory of them.
const KEV_OPERATIONS: [&str; 3] = [
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "inspector2:BatchGetFindingDetails",
];

fn print(title: &str, calls: &BTreeMap<String, usize>) {
    let total: usize = calls.values().sum();
    let kev: usize = KEV_OPERATIONS.iter().filter_map(|op| calls.get(*op)).sum();
    println!("{title}: {total} calls, {kev} of them KEV's");
    for (op, n) in calls {
        println!("    {op:<44} {n:>4}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (n, evaluations) = (arg(1, 250), arg(2, 3));
    let moto: &'static Moto = Box::leak(Box::new(Moto::start()?));
    let proxy = FaultProxy::start(&moto.endpoint, 1)?;
    for (label, policy) in [
        (
            "without kev",
            "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n",
        ),
        (
            "with kev = true",
            "version = 1\n[defaults]\nblock = { severity = \"CRITICAL\", kev = true }\nwarn = \"HIGH\"\n",
        ),
    ] {
        let aws = Aws::with(
            moto,
            "123456789012",
            if label == "without kev" {
                "eu-west-1"
            } else {
                "eu-central-1"
            },
        )
        .await;
        let sdk = proxy.sdk(&aws.region, test_resilience(3)).await;
        let setup = aws.standard_setup().await;
        aws.create_repo("burst/app", "MUTABLE", &[]).await;
        let gk = aws.gatekeeper_via(&setup, Mode::Enforce, Policy::parse(policy)?, &sdk);
        let inspector = FakeFindings::default();
        let listed = findings(n);
        for f in listed.iter().skip(5).step_by(10) {
            inspector.set_kev(
                &f.id,
                Kev {
                    added: Some(1_700_000_000),
                    due: Some(1_700_000_000 + 21 * 86_400),
                    ..Kev::default()
                },
            );
        }
        println!(
            "\n{label}: {n} findings, {} in KEV",
            listed.iter().skip(5).step_by(10).count()
        );
        for image in ["first", "second"] {
            let digest = aws
                .push("burst/app", &format!("{label}-{image}"), &[image])
                .await;
            inspector.set(&digest, listed.clone());
            for k in 1..=evaluations {
                let calls = evaluate(&gk, &inspector, &proxy, "burst/app", &digest).await;
                print(&format!("  {image} image, evaluation {k}"), &calls);
            }
        }
    }
    moto.stop();
    Ok(())
}
