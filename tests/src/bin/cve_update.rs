//! A CVE-database update, simulated (a benchmark, not part of `make test`, which runs a small one):
//! IMAGES images with FINDINGS findings each, every finding updated at once, one event each, through
//! on-scan's SQS intake with POLLERS pollers (the default concurrency cap) and batches of 100. Prints
//! evaluations per image, AWS calls per event, the peak PutImage rate and the time to drain; exits
//! non-zero when an image ends wrong, a record is lost, or a goal is missed:
//!
//!     cargo run --release -p gatekeeper-tests --bin cve_update -- [IMAGES] [FINDINGS] [POLLERS] [shuffled]

use std::process::ExitCode;
use std::time::Duration;

use gatekeeper_tests::cve_update::{UpdateSettings, run};
use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::moto;

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let arg = |i: usize| std::env::args().nth(i);
    let settings = UpdateSettings {
        images: arg(1).and_then(|a| a.parse().ok()).unwrap_or(200),
        findings: arg(2).and_then(|a| a.parse().ok()).unwrap_or(50),
        pollers: arg(3).and_then(|a| a.parse().ok()).unwrap_or(4),
        batch_size: 100,
        shuffled: arg(4).as_deref() == Some("shuffled"),
        seed: 20261205,
        limit: Duration::from_secs(540),
        // moto's SQS cannot hold 10,000 messages at a usable speed (see MemoryQueue); the run in
        // `make test` reads a moto queue.
        in_memory: true,
    };
    let moto = match moto::start_for("cve_update") {
        Ok(m) => m,
        Err(code) => return code,
    };
    let aws = Aws::with(moto, "333333333333", "eu-west-1").await;
    println!(
        "CVE-database update: {} images x {} findings, {} pollers, batches of {}, events {}",
        settings.images,
        settings.findings,
        settings.pollers,
        settings.batch_size,
        if settings.shuffled {
            "shuffled"
        } else {
            "image by image"
        }
    );
    let report = run(&aws, settings).await;
    moto::finish(moto, &report, report.ok(), "cve_update: a goal is missed")
}
