//! Smaller storms in every test run (the full ones are `make storm`): shuffled, duplicated and
//! malformed events, AWS requests and invokes failing. Through asynchronous invocation, 300 events
//! for 60 images, 16 at once, 10% failing; through the intake queues to the function binaries, 200
//! events for 40 images, two containers of each function, 20% failing. Every image must end as one
//! clean delivery leaves it, every change notified, every event accounted for, nothing deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::fixtures::{Aws, FUNCTION_ACCOUNT};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::storm::{Delivery, StormReport, StormSettings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_with_faults_ends_in_the_state_of_one_clean_delivery() {
    let storm = Aws::new("storm").await;
    let settings = StormSettings {
        events: 300,
        images: 60,
        fault_rate: 0.10,
        seed: 6,
        concurrency: 16,
        delivery: Delivery::Async,
    };
    let report = weather(&storm, "storm-oracle", settings).await;
    assert!(report.faults.values().sum::<usize>() > 50, "{report}");
}

/// The storm through the intake queues to the function binaries: 2 containers of each, 20% of AWS
/// requests failing, a tenth of invokes failing and another tenth losing their answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_through_the_intake_queues_to_the_binaries_ends_in_the_state_of_one_clean_delivery()
{
    let storm = Aws::with(Moto::shared(), FUNCTION_ACCOUNT, "ap-southeast-2").await;
    let settings = StormSettings {
        events: 200,
        images: 40,
        fault_rate: 0.20,
        seed: 15,
        concurrency: 2,
        delivery: Delivery::Sqs,
    };
    let report = weather(&storm, "storm-sqs-oracle", settings).await;
    assert!(
        report.faults.get("AnswerLost").is_some_and(|n| *n > 0),
        "{report}"
    );
}

/// Runs the storm against `storm` and its clean delivery against a fresh oracle named `oracle`;
/// prints the report and fails unless every image ended as the oracle's did.
async fn weather(storm: &Aws, oracle: &str, settings: StormSettings) -> StormReport {
    let oracle = Aws::new(oracle).await;
    let report = run(storm, &oracle, settings).await;
    eprintln!("{report}");
    assert!(report.ok(), "{report}");
    report
}
