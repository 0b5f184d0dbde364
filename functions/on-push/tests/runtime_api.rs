//! The built on-push binary through a (local) Runtime API with a sample push event, against moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::fixtures::{Aws, sample_event};
use gatekeeper_tests::manifest::{DOCKER_V2, image_manifest};
use gatekeeper_tests::moto::workspace_root;
use gatekeeper_tests::runtime::{Answer, Function};

#[tokio::test]
async fn the_on_push_binary_starts_a_basic_scan_and_skips_its_own_tags() {
    let (aws, setup) = Aws::for_function("eu-south-1").await;
    let event = aws.here(sample_event("aws.ecr-ecr-image-action-push-oci.json"));
    let (repo, digest) = (
        "team-a/payments-api",
        event["detail"]["image-digest"]
            .as_str()
            .unwrap()
            .to_string(),
    );
    aws.create_repo(repo, "MUTABLE", &[]).await;
    aws.push_as(
        repo,
        &image_manifest("push"),
        DOCKER_V2,
        &digest,
        &["v2.4.1"],
    )
    .await;
    let binary = env!("CARGO_BIN_EXE_on-push");
    let function = Function::deployed(binary, &aws, &aws.moto.endpoint, &setup, &[]).unwrap();

    let out = function.respond(&event);
    assert_eq!(
        (out["status"].as_str(), out["detail"].as_str()),
        (Some("acted"), Some("basic scan started")),
        "{out}"
    );
    // moto now has a scan for the image: a second StartImageScan the same day is refused, and the
    // gatekeeper takes that as "already scanned today", not as an error.
    let again = function.respond(&event);
    assert_eq!(
        again["detail"], "basic scan already ran today (one per image per day)",
        "{again}"
    );

    let own =
        function.respond(&aws.here(sample_event("aws.ecr-ecr-image-action-push-own-tag.json")));
    assert_eq!(own["status"], "skipped");
    let deleted = function.respond(&aws.here(sample_event("aws.ecr-ecr-image-action-delete.json")));
    // A deleted image leaves its tickets (it had none): no message.
    assert_eq!(
        (deleted["kind"].as_str(), deleted["status"].as_str()),
        (Some("delete"), Some("unchanged")),
        "{deleted}"
    );
    assert!(aws.messages(&setup.subscriber_url).await.is_empty());

    // Payloads no JSON value can hold as sent: a key written twice, a number out of range. Each is
    // answered `rejected` with the reason and copied to the rejected-events queue; neither is an
    // error that Lambda would retry.
    let text = std::fs::read_to_string(
        workspace_root()
            .join("events")
            .join("aws.ecr-ecr-image-action-push-oci.json"),
    )
    .unwrap();
    let twice = text.replacen(
        r#""action-type": "PUSH","#,
        r#""action-type": "PUSH", "action-type": "DELETE","#,
        1,
    );
    assert_ne!(twice, text);
    let huge = text.replacen(r#""version": "0","#, r#""version": 1e400,"#, 1);
    assert_ne!(huge, text);
    for (payload, reason) in [
        (twice, "detail.action-type: the key appears more than once"),
        (huge, "number out of range"),
    ] {
        let Answer::Response(out) = function.invoke_text(&payload).unwrap() else {
            panic!("{}", function.logs())
        };
        assert_eq!(out["status"], "rejected", "{out}");
        assert!(out["detail"].as_str().unwrap().contains(reason), "{out}");
    }
    let rejected = aws.drain(&setup.rejected_url).await;
    assert_eq!(rejected.len(), 2, "{rejected:?}");
}

#[tokio::test]
async fn an_invocation_out_of_time_ends_retryable_before_the_functions_timeout() {
    use gatekeeper_tests::faults::{Fault, FaultProxy, Rule};
    let (aws, setup) = Aws::for_function("ca-west-1").await;
    // Every DynamoDB answer hangs for 6 s: longer than this function's 3 s timeout, shorter than an
    // SDK attempt's 8 s, so only the invocation's own budget can end it.
    let proxy = FaultProxy::start(&aws.moto.endpoint, 5).unwrap();
    proxy.set_rules(vec![
        Rule::at_rate(Fault::Slow(6_000), 1.0).only(&["dynamodb:*"]),
    ]);
    let binary = env!("CARGO_BIN_EXE_on-push");
    let function = Function::deployed(binary, &aws, &proxy.endpoint, &setup, &[]).unwrap();

    let answer = function
        .invoke_within(
            &aws.here(sample_event("aws.ecr-ecr-image-action-push-oci.json")),
            std::time::Duration::from_secs(3),
        )
        .unwrap();

    let Answer::Error {
        error_type,
        message,
    } = answer
    else {
        panic!("{answer:?}\n{}", function.logs())
    };
    assert_eq!(error_type, "Retryable.lambda.Invoke", "{message}");
    assert!(message.contains("BudgetExhausted"), "{message}");
}

#[tokio::test]
async fn throttles_the_sdk_retried_are_counted_in_the_invocations_metrics_line() {
    use gatekeeper_tests::faults::{Fault, FaultProxy, Rule};
    let (aws, setup) = Aws::for_function("ap-south-2").await;
    let event = aws.here(sample_event("aws.ecr-ecr-image-action-push-oci.json"));
    let digest = event["detail"]["image-digest"]
        .as_str()
        .unwrap()
        .to_string();
    aws.create_repo("team-a/payments-api", "MUTABLE", &[]).await;
    aws.push_as(
        "team-a/payments-api",
        &image_manifest("throttled"),
        DOCKER_V2,
        &digest,
        &["v2.4.1"],
    )
    .await;
    // AWS throttles the first ECR call and the first two DynamoDB calls (JSON bodies); the SDK's
    // retries absorb them, so only the metric says they happened.
    let proxy = FaultProxy::start(&aws.moto.endpoint, 11).unwrap();
    proxy.set_rules(vec![
        Rule::first(1, Fault::Throttle, "ecr:*"),
        Rule::first(2, Fault::Throttle, "dynamodb:*"),
    ]);
    let binary = env!("CARGO_BIN_EXE_on-push");
    let function = Function::deployed(binary, &aws, &proxy.endpoint, &setup, &[]).unwrap();

    let out = function.respond(&event);

    assert_eq!(out["status"], "acted", "{out}\n{}", function.logs());
    let injected: usize = proxy.faults().values().sum();
    assert_eq!(injected, 3, "{:?}", proxy.history());
    let logs = function.logs();
    let emf: Vec<serde_json::Value> = (logs.lines())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(emf.len(), 1, "{logs}");
    assert_eq!(emf[0]["AwsThrottles"], 3, "{logs}");
    // The count is the invocation's: the next one starts again from zero.
    let again = function.respond(&event);
    assert_eq!(again["status"], "acted", "{again}");
    let logs = function.logs();
    let last = logs.lines().rev().find(|l| l.contains("\"_aws\"")).unwrap();
    assert!(last.contains("\"AwsThrottles\":0"), "{last}");
}
