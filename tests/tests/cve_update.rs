//! A small CVE-database update in every test run (the full one is `cargo run --release -p
//! gatekeeper-tests --bin cve_update`): 20 images with 30 findings each, every finding updated, the
//! events shuffled into a moto queue read by 4 pollers in batches of 100, so that one image's records
//! land in batches that run at once. Every image must end in the state the update calls for, no
//! record lost, each image evaluated at most twice, under one AWS call per event, PutImage paced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::time::Duration;

use gatekeeper_tests::cve_update::{UpdateSettings, run};
use gatekeeper_tests::fixtures::Aws;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cve_database_update_through_the_intake_queue_evaluates_each_image_about_once() {
    let aws = Aws::new("cve-update").await;
    let report = run(
        &aws,
        UpdateSettings {
            images: 20,
            findings: 30,
            pollers: 4,
            batch_size: 100,
            shuffled: true,
            seed: 7,
            limit: Duration::from_secs(240),
            in_memory: false,
        },
    )
    .await;
    eprintln!("{report}");
    assert_eq!(report.events, 600);
    assert!(report.batches >= 3, "{report}");
    assert!(report.ok(), "{report}");
}
