//! The built on-scan binary, run as Lambda runs it: through a (local) Runtime API, with a sample event
//! from `events/`, talking to moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;

use gatekeeper_tests::fixtures::{
    Aws, FUNCTION_ACCOUNT, Setup, audit_lines, inspector_finding, sample_event, text,
};
use gatekeeper_tests::manifest::{DOCKER_V2, hex12, image_manifest};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::runtime::Function;
use gatekeeper_tests::sqs::EventSource;

/// The image of the sample critical finding event, pushed with `tags` and with that finding in
/// Inspector: the event, its repository and digest.
async fn critical_image(aws: &Aws, tags: &[&str]) -> (serde_json::Value, &'static str, String) {
    let event = aws.here(sample_event(
        "aws.inspector2-inspector2-finding-ecr-critical.json",
    ));
    let repo = "team-a/payments-api";
    let digest = event["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"]
        .as_str()
        .unwrap()
        .to_string();
    aws.create_repo(repo, "MUTABLE", &[]).await;
    aws.push_as(repo, &image_manifest("payments"), DOCKER_V2, &digest, tags)
        .await;
    aws.seed_inspector(vec![inspector_finding(
        repo,
        &digest,
        "CVE-2026-41234",
        "CRITICAL",
    )]);
    (event, repo, digest)
}

/// The Embedded Metric Format lines of a function's logs (`_aws.CloudWatchMetrics` declared, every
/// declared metric present at the top level, as CloudWatch Logs requires).
fn emf_lines(logs: &str) -> Vec<serde_json::Value> {
    let lines = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok());
    let emf: Vec<serde_json::Value> = lines
        .filter(|v| v["_aws"]["CloudWatchMetrics"].is_array())
        .collect();
    for v in &emf {
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "ECRGatekeeper", "{v}");
        assert!(v["_aws"]["Timestamp"].is_i64(), "{v}");
        for d in directive["Metrics"].as_array().unwrap() {
            assert!(v[d["Name"].as_str().unwrap()].is_number(), "{v}");
        }
        assert_eq!(v["Function"], "on-scan");
    }
    emf
}

/// The on-scan binary, enforcing, in front of `aws`.
fn enforcing(aws: &Aws, setup: &Setup) -> Function {
    let env = aws.function_env(&aws.moto.endpoint, setup, &[("GATEKEEPER_MODE", "enforce")]);
    Function::start(Path::new(env!("CARGO_BIN_EXE_on-scan")), "on-scan", &env).unwrap()
}

#[tokio::test]
async fn the_on_scan_binary_quarantines_the_image_of_a_sample_finding_event() {
    let (aws, setup) = Aws::for_function("eu-north-1").await;
    let (event, repo, digest) = critical_image(&aws, &["v2.4.1", "latest"]).await;
    let function = enforcing(&aws, &setup);

    let out = function.respond(&event);

    assert_eq!(
        (out["status"].as_str(), out["decision"].as_str()),
        (Some("changed"), Some("block")),
        "{out}"
    );
    let h = hex12(&digest);
    assert_eq!(
        aws.tags(repo, &digest).await.unwrap(),
        vec![
            format!("quarantined-latest--{h}"),
            format!("quarantined-v2.4.1--{h}")
        ]
    );
    let messages = aws.messages(&setup.subscriber_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1["findings"][0]["id"], "CVE-2026-41234");
    // The same verdict for Slack, in Chatbot's format, on the second topic.
    let chat = aws.messages(&setup.chat_url).await;
    assert_eq!(chat.len(), 1);
    assert_eq!(chat[0].1["source"], "custom");
    assert_eq!(chat[0].1["id"], messages[0].1["dedup_key"]);

    // A malformed event is answered, not failed: no retry storm, and it lands in the rejected queue.
    let out = function.respond(&serde_json::json!({"source": "aws.inspector2", "detail-type": "Inspector2 Finding", "detail": []}));
    assert_eq!(out["status"], "rejected");
    assert_eq!(aws.drain(&setup.rejected_url).await.len(), 1);
    let logs = function.logs();
    assert!(
        logs.lines()
            .any(|l| l.contains("verdict changed") && l.contains("\"decision\":\"block\"")),
        "{logs}"
    );
    // One metrics line per invocation: the block, then the refused event.
    let emf = emf_lines(&logs);
    assert_eq!(emf.len(), 2, "{logs}");
    assert_eq!(
        (emf[0]["Events"].as_u64(), emf[0]["VerdictsBlock"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            emf[0]["TagChanges"].as_u64(),
            emf[1]["RejectedEvents"].as_u64()
        ),
        (Some(4), Some(1))
    );
    // The audit trail: one structured line per ECR action, and the tags after.
    let audit = audit_lines(&logs);
    let removed: Vec<&serde_json::Value> = audit
        .iter()
        .filter(|l| l["fields"]["action"] == "remove_tag")
        .collect();
    assert_eq!(removed.len(), 2, "{logs}");
    assert_eq!(removed[0]["fields"]["status"], "done");
    assert_eq!(removed[0]["fields"]["event_id"], event["id"]);
    assert!(
        text(&removed[0]["fields"]["reason"]).starts_with("block: "),
        "{}",
        removed[0]
    );
    let after = audit
        .iter()
        .find(|l| l["fields"]["action"] == "tags")
        .expect("tags after");
    assert_eq!(after["fields"]["tags_before"], "v2.4.1,latest");
    assert_eq!(
        after["fields"]["tags_after"],
        format!("quarantined-latest--{h},quarantined-v2.4.1--{h}")
    );
}

#[tokio::test]
async fn an_invalid_policy_fails_the_cold_start_naming_the_line_and_the_field() {
    let moto = Moto::shared();
    let dir = std::env::temp_dir().join(format!("gk-bad-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.toml");
    std::fs::write(&policy, "version = 1\n[defaults]\nblock = \"SEVERE\"\n").unwrap();
    let aws = Aws::with(moto, FUNCTION_ACCOUNT, "eu-north-1").await;
    let nowhere = Setup {
        table: "t".into(),
        topic_arn: "arn:aws:sns:eu-north-1:123456789012:t".into(),
        subscriber_url: String::new(),
        rejected_url: "http://q".into(),
        chat_topic_arn: "arn:aws:sns:eu-north-1:123456789012:c".into(),
        chat_url: String::new(),
    };
    let policy = policy.to_string_lossy();
    let env = aws.function_env(
        &aws.moto.endpoint,
        &nowhere,
        &[("GATEKEEPER_POLICY", &policy)],
    );
    let mut function =
        Function::start(Path::new(env!("CARGO_BIN_EXE_on-scan")), "on-scan", &env).unwrap();
    let code = function.wait_exit(Duration::from_secs(20));
    assert!(matches!(code, Some(c) if c != 0), "{code:?}");
    let logs = function.logs();
    assert!(
        logs.contains("line 3: block: unknown severity \\\"SEVERE\\\"")
            || logs.contains("line 3: block: unknown severity \"SEVERE\""),
        "{logs}"
    );
}

#[tokio::test]
async fn the_on_scan_binary_takes_an_intake_batch_evaluates_its_image_once_and_rejects_the_malformed_record()
 {
    let (aws, setup) = Aws::for_function("eu-west-3").await;
    let (mut event, repo, digest) = critical_image(&aws, &["v2.4.1"]).await;
    // The event reports the finding as Inspector lists it (same ARN, same update).
    let listed = inspector_finding(repo, &digest, "CVE-2026-41234", "CRITICAL");
    event["detail"]["findingArn"] = listed["findingArn"].clone();
    event["detail"]["updatedAt"] = listed["updatedAt"].clone();
    let intake = EventSource::create(&aws, "on-scan-intake", 100, 30, 5).await;
    let send = |round: &'static str| {
        let events: Vec<serde_json::Value> = (0..3)
            .map(|n| {
                let mut e = event.clone();
                e["id"] = serde_json::json!(format!("{round}-{n}"));
                e
            })
            .collect();
        let intake = &intake;
        async move { intake.send(&events).await }
    };
    send("finding").await;
    aws.sqs
        .send_message()
        .queue_url(intake.url())
        .message_body("{\"detail-type\": ")
        .send()
        .await
        .unwrap();
    let batch = intake.poll().await;
    assert_eq!(batch.len(), 4);
    let function = enforcing(&aws, &setup);

    let out = function.respond(&intake.event(&batch));

    assert_eq!(out, serde_json::json!({"batchItemFailures": []}));
    assert_eq!(intake.settle(&batch, &EventSource::failures(&out)).await, 4);
    assert_eq!(
        aws.tags(repo, &digest).await.unwrap(),
        vec![format!("quarantined-v2.4.1--{}", hex12(&digest))]
    );
    assert_eq!(aws.messages(&setup.subscriber_url).await.len(), 1);
    assert_eq!(aws.drain(&setup.rejected_url).await.len(), 1);
    let logs = function.logs();
    assert_eq!(
        logs.matches("evaluating once for the batch").count(),
        1,
        "{logs}"
    );
    // What the invocation did, as CloudWatch Embedded Metric Format: one line of its own.
    let emf = emf_lines(&logs);
    assert_eq!(emf.len(), 1, "{logs}");
    let m = &emf[0];
    let counts = [
        "Events",
        "Evaluations",
        "CoalescedEvents",
        "VerdictsBlock",
        "TagChanges",
        "RejectedEvents",
        "RetriedEvents",
    ]
    .map(|name| m[name].as_u64().unwrap_or(u64::MAX));
    assert_eq!(counts, [4, 1, 2, 1, 2, 1, 0], "{m}");
    assert!(
        m["OldestEventAgeMs"].as_u64().is_some_and(|a| a < 600_000),
        "{m}"
    );

    // The same finding updates again (a rescan's events in a later batch): what the evaluation saw
    // is in the state table, so the batch is acknowledged without reading the findings.
    send("again").await;
    let batch = intake.poll().await;
    let again = function.respond(&intake.event(&batch));

    assert_eq!(again, serde_json::json!({"batchItemFailures": []}));
    intake.settle(&batch, &[]).await;
    assert_eq!(intake.depth().await, 0);
    let logs = function.logs();
    assert_eq!(
        logs.matches("evaluating once for the batch").count(),
        1,
        "{logs}"
    );
    assert_eq!(
        logs.matches("already evaluated: the last evaluation saw")
            .count(),
        1,
        "{logs}"
    );
    assert_eq!(
        aws.messages(&setup.subscriber_url).await.len(),
        0,
        "no second message"
    );
}
