//! The built sweep binary through a (local) Runtime API with a schedule's event, against moto: a push
//! whose event was lost is admitted, and the run is recorded so that the next one starts from it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use aws_sdk_dynamodb::types::AttributeValue;
use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::runtime::Function;

#[tokio::test]
async fn the_sweep_binary_admits_a_lost_push_and_records_its_run() {
    let (aws, setup) = Aws::for_function("ap-south-2").await;
    let binary = env!("CARGO_BIN_EXE_sweep");
    let hourly = [
        ("GATEKEEPER_MODE", "enforce"),
        ("GATEKEEPER_SWEEP_INTERVAL", "1h"),
    ];
    let function = Function::deployed(binary, &aws, &aws.moto.endpoint, &setup, &hourly).unwrap();
    // With the gatekeeper deployed, an image is pushed and its push event never arrives.
    aws.create_repo("swept", "MUTABLE", &[]).await;
    aws.push("swept", "never-announced", &["v1"]).await;
    let schedule = serde_json::json!({
        "version": "0", "id": "5e3c1d2a-0000-4000-8000-000000000001", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2026-11-22T20:00:00Z",
        "region": "ap-south-2", "resources": ["arn:aws:events:ap-south-2:123456789012:rule/gatekeeper-sweep"], "detail": {}
    });

    let first = function.respond(&schedule);
    assert_eq!(
        (
            first["repositories"].as_u64(),
            first["lost_pushes"].as_u64()
        ),
        (Some(1), Some(1)),
        "{first}"
    );
    assert_eq!(first["failures"], serde_json::json!([]));
    let recorded = aws
        .dynamodb
        .get_item()
        .table_name(&setup.table)
        .key("pk", AttributeValue::S("sweep#last".into()))
        .send()
        .await
        .unwrap();
    assert!(
        recorded
            .item()
            .is_some_and(|i| i.contains_key("last_run_at")),
        "{recorded:?}"
    );

    let second = function.respond(&schedule);
    assert_eq!(second["lost_pushes"].as_u64(), Some(0), "{second}");
}
