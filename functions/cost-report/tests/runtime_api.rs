//! The built cost-report binary through a (local) Runtime API, against moto: in a registry with basic
//! scanning and a repository nobody scans, the digest reaches both topics, in the documented shapes,
//! with no cost figures (moto has no Inspector usage API, which is what the report says) and the
//! repository listed as unscanned (Security Hub ECR.1).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::fixtures::{Aws, chatbot_errors, schema_errors};
use gatekeeper_tests::runtime::Function;

#[tokio::test]
async fn the_cost_report_binary_publishes_a_digest_on_both_topics() {
    let (aws, setup) = Aws::for_function("sa-east-1").await;
    aws.create_repo("nobody-scans", "MUTABLE", &[]).await;
    aws.push("nobody-scans", "cost", &["v1"]).await;
    let binary = env!("CARGO_BIN_EXE_cost-report");
    let week = [("GATEKEEPER_COST_DAYS", "7")];
    let function = Function::deployed(binary, &aws, &aws.moto.endpoint, &setup, &week).unwrap();
    let schedule = serde_json::json!({"id": "weekly", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = function.respond(&schedule);
    assert_eq!(out["unscanned_repositories"], 1, "{out}");
    assert_eq!(out["projected_monthly"], serde_json::Value::Null);

    let json = aws.messages(&setup.subscriber_url).await;
    assert_eq!(json.len(), 1);
    let (envelope, body) = &json[0];
    assert_eq!(schema_errors(body), None, "{body}");
    assert_eq!(body["event_type"], "cost");
    assert_eq!(body["report"]["unscanned_repositories"][0], "nobody-scans");
    assert_eq!(body["report"]["days"], 7);
    assert!(
        body["report"]["method"]
            .to_string()
            .contains("ListUsageTotals did not answer"),
        "{body}"
    );
    assert_eq!(envelope["MessageAttributes"]["event_type"]["Value"], "cost");
    let chat = aws.messages(&setup.chat_url).await;
    assert_eq!(chat.len(), 1);
    assert_eq!(chatbot_errors(&chat[0].1), None, "{}", chat[0].1);
}
