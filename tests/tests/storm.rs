//! Smaller storms in every test run (the full ones are `make storm`): shuffled, duplicated and
//! malformed events, AWS requests and invokes failing. Through asynchronous invocation, 300 events
//! for 60 images, 16 at once, 10% failing, and 180 events for 36 images over an account and two
//! Organization members in each of two regions at once; through the intake queues to the function
//! binaries, 200 events for 40 images over an account and one member, two containers of each
//! function, 20% failing. Every image must end as one clean delivery leaves it, every change
//! notified, every event accounted for, nothing deleted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::fixtures::{Aws, FUNCTION_ACCOUNT};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::storm::{Delivery, StormReport, StormSettings, run, run_in_regions};

/// Asynchronous invocation: 300 events for 60 images, 16 at once, 10% failing.
const ASYNC: StormSettings = StormSettings {
    events: 300,
    images: 60,
    fault_rate: 0.10,
    seed: 6,
    concurrency: 16,
    delivery: Delivery::Async,
    members: 0,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_with_faults_ends_in_the_state_of_one_clean_delivery() {
    let storm = Aws::new("storm").await;
    let report = weather(&storm, "storm-oracle", ASYNC).await;
    assert!(report.faults.values().sum::<usize>() > 50, "{report}");
    // storm/svc-01 archives its blocks: of its 20 images, 4 blocked throughout, 4 blocked then
    // fixed (an archived image stays archived until a release), 4 blocked in the second phase.
    assert_eq!(report.archived, 12, "{report}");
}

/// The storm across an Organization: the images in the deployment's own account and two members',
/// in two regions at once, each region's events to its own central deployment (one per region, as
/// deployed), acted on through the member role, every call (AssumeRole and the members' too)
/// through the faults; the Inspector events arrive as the administrator receives them, the ECR
/// events forwarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_across_member_accounts_and_regions_ends_in_the_state_of_one_clean_delivery() {
    let storm = Aws::new("org-storm").await;
    let oracle = Aws::new("org-storm-oracle").await;
    let settings = StormSettings {
        events: 180,
        images: 36,
        seed: 16,
        members: 2,
        ..ASYNC
    };
    let regions = ["eu-west-1", "eu-central-1"];
    let reports = run_in_regions(&storm, &oracle, settings, &regions).await;
    for (report, region) in reports.iter().zip(regions) {
        eprintln!("{report}");
        assert!(report.ok(), "{report}");
        assert_eq!(report.region, region);
        assert!(report.faults.values().sum::<usize>() > 20, "{report}");
        // Of the 24 member images, a fifth are blocked throughout and a fifth blocked then fixed.
        assert!(report.quarantined_in_members >= 4, "{report}");
        // The first member's 12 images archive their blocks (7 are blocked at some point); the
        // second member's archive at a deadline (in use: nothing archived during the storm).
        assert_eq!(report.archived, 7, "{report}");
        assert!(!report.outcomes.contains_key("skipped"), "{report}");
    }
}

/// The storm through the intake queues to the function binaries, an Organization deployment (the
/// binaries act in the member through the member role): 2 containers of each, 20% of AWS requests
/// failing (AssumeRole too), a tenth of invokes failing and another tenth losing their answer.
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
        members: 1,
    };
    let report = weather(&storm, "storm-sqs-oracle", settings).await;
    assert!(
        report.faults.get("AnswerLost").is_some_and(|n| *n > 0),
        "{report}"
    );
    // The member's 20 images archive their blocks (12 are blocked at some point), by the binaries.
    assert_eq!(report.archived, 12, "{report}");
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
