//! The built cost-report binary through a (local) Runtime API, against moto: in a registry with basic
//! scanning and a repository nobody scans, the digest reaches both topics, in the documented shapes,
//! with no cost figures (moto has no Inspector usage API, which is what the report says) and the
//! repository listed as unscanned (Security Hub ECR.1). Across an Organization: each account's
//! digest on the JSON topic, members read with the read-only role, one that refuses named in the
//! summary, and one card for the channel.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper_tests::faults::FaultProxy;
use gatekeeper_tests::fixtures::{Aws, MEMBER_ROLE, chatbot_errors, schema_errors};
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

#[tokio::test]
async fn across_an_organization_each_account_has_its_digest_and_the_channel_one_summary() {
    let (aws, setup) = Aws::for_function("ap-south-2").await;
    let member = Aws::with(aws.moto, "410987654321", "ap-south-2").await;
    let refusing = Aws::with(aws.moto, "510987654321", "ap-south-2").await;
    member.create_repo("team/api", "MUTABLE", &[]).await;
    member.push("team/api", "member-cost", &["v1"]).await;
    // The binary reaches moto's STS through the fault proxy, which refuses one member's role.
    let proxy = FaultProxy::start(&aws.moto.endpoint, 17).unwrap();
    proxy.deny_assume_role(&refusing.account);
    let governed = format!("{},{}", member.account, refusing.account);
    let org = [
        ("GATEKEEPER_MEMBER_ROLE", MEMBER_ROLE),
        ("GATEKEEPER_GOVERNED_ACCOUNTS", governed.as_str()),
        ("AWS_ENDPOINT_URL_STS", proxy.endpoint.as_str()),
    ];
    let binary = env!("CARGO_BIN_EXE_cost-report");
    let function = Function::deployed(binary, &aws, &aws.moto.endpoint, &setup, &org).unwrap();
    let schedule = serde_json::json!({"id": "weekly-org", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = function.respond(&schedule);
    assert_eq!(out["accounts_read"], 2, "{out}");
    assert_eq!(out["accounts_failed"], 1, "{out}");

    let json = aws.messages(&setup.subscriber_url).await;
    assert_eq!(
        json.len(),
        3,
        "the own account's, the member's, the summary"
    );
    for (_, body) in &json {
        assert_eq!(schema_errors(body), None, "{body}");
    }
    let of = |kind: &str, account: Option<&str>| {
        json.iter()
            .find(|(_, b)| b["event_type"] == kind && b["report"]["account"].as_str() == account)
            .unwrap_or_else(|| panic!("no {kind} of {account:?}: {json:?}"))
    };
    let (envelope, body) = of("cost", Some(&member.account));
    assert_eq!(body["report"]["unscanned_repositories"][0], "team/api");
    assert_eq!(
        envelope["MessageAttributes"]["account"]["Value"],
        member.account.as_str()
    );
    assert_eq!(
        envelope["MessageAttributes"]["region"]["Value"],
        "ap-south-2"
    );
    let (_, own) = of("cost", None);
    assert_eq!(
        own["report"]["unscanned_repositories"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let (_, summary) = of("cost_summary", None);
    let failure = &summary["summary"]["failures"][0];
    assert_eq!(failure["account"], refusing.account.as_str());
    assert!(
        failure["error"]
            .as_str()
            .unwrap_or("")
            .contains("sts:AssumeRole"),
        "{failure}"
    );
    // The member was read with the read-only role, as the member stack names it.
    assert!(
        proxy
            .assumed_roles()
            .iter()
            .any(|r| r.ends_with(&format!(":role/{MEMBER_ROLE}-read"))),
        "{:?}",
        proxy.assumed_roles()
    );

    let chat = aws.messages(&setup.chat_url).await;
    assert_eq!(chat.len(), 1, "one card for the whole Organization");
    assert_eq!(chatbot_errors(&chat[0].1), None, "{}", chat[0].1);
    assert_eq!(chat[0].1["metadata"]["eventType"], "cost_summary");
}

#[tokio::test]
async fn with_a_report_bucket_the_weekly_run_writes_the_report_page_there_and_names_its_key() {
    use gatekeeper::domain::Mode;
    use gatekeeper::domain::policy::Policy;
    use gatekeeper::ports::fakes::FakeFindings;
    use gatekeeper_tests::fixtures::inspector_scan_event;

    let (aws, setup) = Aws::for_function("eu-south-2").await;
    // One image blocked (its history recorded by the gatekeeper), one passing.
    aws.create_repo("team/api", "MUTABLE", &[]).await;
    let bad = aws.push("team/api", "weekly-bad", &["v1"]).await;
    let good = aws.push("team/api", "weekly-good", &["v2"]).await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::builtin());
    let findings = FakeFindings::default();
    findings.set(
        &bad,
        vec![gatekeeper::domain::Finding::new(
            "CVE-2026-41234",
            gatekeeper::domain::Severity::Critical,
        )],
    );
    for (id, digest, critical) in [("scan-bad", &bad, 1), ("scan-good", &good, 0)] {
        let event = aws.here(inspector_scan_event(
            id,
            &aws.account,
            "team/api",
            digest,
            &[],
            critical,
        ));
        gk.handle_scan_event(&findings, &event).await.unwrap();
    }
    aws.drain(&setup.subscriber_url).await;
    let bucket = "gk-reports-weekly";
    aws.create_bucket(bucket).await;

    let binary = env!("CARGO_BIN_EXE_cost-report");
    let env = [("GATEKEEPER_REPORT_BUCKET", bucket)];
    let function = Function::deployed(binary, &aws, &aws.moto.endpoint, &setup, &env).unwrap();
    let schedule = serde_json::json!({"id": "weekly", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let out = function.respond(&schedule);
    assert_eq!(
        (
            out["report"]["blocked"].as_u64(),
            out["report"]["open_tickets"].as_u64()
        ),
        (Some(1), Some(1)),
        "{out}"
    );

    // The report's message names where its page is; it is valid against the contract.
    let bodies: Vec<serde_json::Value> = (aws.messages(&setup.subscriber_url).await.into_iter())
        .map(|(_, b)| b)
        .collect();
    let report = bodies
        .iter()
        .find(|b| b["event_type"] == "report")
        .expect("a report message");
    assert_eq!(schema_errors(report), None, "{report}");
    assert_eq!(report["report"]["bucket"], bucket);
    let page = report["report"]["page"].as_str().unwrap();
    assert!(
        page.starts_with("reports/") && page.ends_with("/report.html"),
        "{page}"
    );
    assert_eq!(report["report"]["blocked"], 1);
    let chat = aws.messages(&setup.chat_url).await;
    assert!(
        chat.iter().all(|(_, c)| chatbot_errors(c).is_none()),
        "{chat:?}"
    );
    assert!(
        chat.iter()
            .any(|(_, c)| c["metadata"]["eventType"] == "report"),
        "{chat:?}"
    );

    // The page and the figures are in the bucket under those keys.
    let (content_type, html) = aws.object(bucket, page).await;
    assert_eq!(content_type.as_deref(), Some("text/html; charset=utf-8"));
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("data-figure=\"blocked\"><span class=\"value\">1</span>"),
        "{html}"
    );
    let data = report["report"]["data"].as_str().unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&aws.object(bucket, data).await.1).unwrap();
    assert_eq!(json["now"]["blocked"], 1);
}
