//! A smaller storm in every test run (the full one is `cargo run -p gatekeeper-tests --bin storm`):
//! 300 events for 60 images, shuffled, duplicated, 16 at once, 10% of AWS requests and invokes
//! failing. Every image must end as one clean delivery leaves it, every change notified, every event
//! accounted for, nothing deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::storm::{StormSettings, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_with_faults_ends_in_the_state_of_one_clean_delivery() {
    let storm = Aws::new("storm").await;
    let oracle = Aws::new("storm-oracle").await;
    let report = run(
        &storm,
        &oracle,
        StormSettings {
            events: 300,
            images: 60,
            fault_rate: 0.10,
            seed: 6,
            concurrency: 16,
        },
    )
    .await;
    eprintln!("{report}");
    assert!(report.faults.values().sum::<usize>() > 50, "{report}");
    assert!(report.ok(), "{report}");
}
