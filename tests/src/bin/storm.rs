//! The storm load test: 1,000 events (pushes, scans, findings, duplicates, malformed; shuffled and
//! in parallel) for 200 images against moto behind a fault-injecting proxy, Lambda's asynchronous
//! invocation emulated, checked against a clean delivery of the same events. Prints the figures and
//! exits non-zero on any wrong state, lost change, deleted image or unaccounted event:
//!
//!     cargo run --release -p gatekeeper-tests --bin storm -- [EVENTS] [IMAGES] [FAULT_RATE] [SEED]

use std::process::ExitCode;

use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::storm::{StormSettings, run};

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let arg = |i: usize| std::env::args().nth(i);
    let settings = StormSettings {
        events: arg(1).and_then(|a| a.parse().ok()).unwrap_or(1000),
        images: arg(2).and_then(|a| a.parse().ok()).unwrap_or(200),
        fault_rate: arg(3).and_then(|a| a.parse().ok()).unwrap_or(0.05),
        seed: arg(4).and_then(|a| a.parse().ok()).unwrap_or(20261122),
        concurrency: 16,
    };
    let moto: &'static Moto = match Moto::start() {
        Ok(m) => Box::leak(Box::new(m)),
        Err(e) => {
            eprintln!("storm: {e}");
            return ExitCode::FAILURE;
        }
    };
    let storm = Aws::with(moto, "111111111111", "eu-west-1").await;
    let oracle = Aws::with(moto, "222222222222", "eu-west-1").await;
    println!(
        "storm: {} events, {} images, fault rate {} per AWS request and per invoke, seed {}, concurrency {}",
        settings.events, settings.images, settings.fault_rate, settings.seed, settings.concurrency
    );
    let report = run(&storm, &oracle, settings).await;
    moto.stop();
    print!("{report}");
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        println!("storm: FAILED");
        ExitCode::FAILURE
    }
}
