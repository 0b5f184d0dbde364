//! The storm load test: 1,000 events (pushes, scans, findings, duplicates, malformed; shuffled and
//! in parallel) for 200 images against moto behind a fault-injecting proxy, checked against a clean
//! delivery of the same events. `sqs` (the default) puts them in the functions' intake queues, read
//! by 4 containers of each function binary (build them first: `make storm` does); `async` emulates
//! Lambda's asynchronous invocation of in-process handlers, 16 at once. Prints the figures and exits
//! non-zero on any wrong state, lost change, deleted image or unaccounted event:
//!
//!     cargo run --release -p gatekeeper-tests --bin storm -- [EVENTS] [IMAGES] [FAULT_RATE] [SEED] [sqs|async] [MEMBERS] [REGIONS]
//!
//! MEMBERS: Organization member accounts the images are spread over beside the
//! storm's own, acted on through the member role. REGIONS (1 to 4, async only): as many storms at
//! once, each in its region against its own central deployment, over the same accounts; EVENTS and
//! IMAGES are each region's.

use std::process::ExitCode;

use gatekeeper_tests::fixtures::{Aws, FUNCTION_ACCOUNT};
use gatekeeper_tests::moto;
use gatekeeper_tests::storm::{Delivery, StormSettings, run, run_in_regions};

/// The regions of a storm across regions, in order.
const REGIONS: [&str; 4] = ["eu-west-1", "eu-central-1", "us-east-1", "ap-northeast-1"];

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let arg = |i: usize| std::env::args().nth(i);
    let delivery = match arg(5).as_deref() {
        Some("async") => Delivery::Async,
        _ => Delivery::Sqs,
    };
    let settings = StormSettings {
        events: arg(1).and_then(|a| a.parse().ok()).unwrap_or(1000),
        images: arg(2).and_then(|a| a.parse().ok()).unwrap_or(200),
        fault_rate: arg(3).and_then(|a| a.parse().ok()).unwrap_or(0.05),
        seed: arg(4).and_then(|a| a.parse().ok()).unwrap_or(20261122),
        concurrency: if delivery == Delivery::Sqs { 4 } else { 16 },
        delivery,
        members: arg(6).and_then(|a| a.parse().ok()).unwrap_or(0),
    };
    let moto = match moto::start_for("storm") {
        Ok(m) => m,
        Err(code) => return code,
    };
    // The function binaries cannot send moto's account header: through SQS the storm is theirs.
    let account = match delivery {
        Delivery::Sqs => FUNCTION_ACCOUNT,
        Delivery::Async => "111111111111",
    };
    let storm = Aws::with(moto, account, "eu-west-1").await;
    let oracle = Aws::with(moto, "222222222222", "eu-west-1").await;
    println!(
        "storm: {} events, {} images, fault rate {} per AWS request and per invoke, seed {}, {:?} delivery, concurrency {}",
        settings.events,
        settings.images,
        settings.fault_rate,
        settings.seed,
        settings.delivery,
        settings.concurrency
    );
    let regions = arg(7).and_then(|a| a.parse().ok()).unwrap_or(1usize);
    if regions > 1 && delivery == Delivery::Async {
        let regions = &REGIONS[..regions.min(REGIONS.len())];
        let reports = run_in_regions(&storm, &oracle, settings, regions).await;
        let ok = reports.iter().all(|r| r.ok());
        let all: Vec<String> = reports.iter().map(ToString::to_string).collect();
        return moto::finish(moto, &all.join("\n"), ok, "storm: FAILED");
    }
    let report = run(&storm, &oracle, settings).await;
    moto::finish(moto, &report, report.ok(), "storm: FAILED")
}
