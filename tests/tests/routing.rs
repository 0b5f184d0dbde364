//! EventBridge routing with the event patterns `infra/` deploys, evaluated by moto's EventBridge
//! against every sample event; and SNS subscription filter policies on the message attributes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::collections::BTreeMap;
use std::path::PathBuf;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use gatekeeper::domain::verdict::Verdict;
use gatekeeper::domain::{Decision, ImageRef, Mode, TriggerKind};
use gatekeeper::outbound::notice::{VerdictNotice, change_key};
use gatekeeper::ports::Notifier;
use gatekeeper_tests::fixtures::Aws;
use gatekeeper_tests::moto::workspace_root;
use serde_json::Value;

/// The `.json` files of a folder of the workspace, by file name, sorted.
fn json_files(folder: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(workspace_root().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (p, text)
        })
        .collect();
    out.sort();
    out
}

/// The event patterns `infra/` deploys, by rule name (the file's stem).
fn patterns() -> Vec<(String, String)> {
    json_files("infra/terraform/patterns")
        .into_iter()
        .map(|(p, text)| (p.file_stem().unwrap().to_string_lossy().into_owned(), text))
        .collect()
}

/// The sample events, by file name.
fn sample_events() -> Vec<(String, Value)> {
    json_files("events")
        .into_iter()
        .map(|(p, text)| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn sample_events_reach_exactly_the_function_that_handles_them() {
    let aws = Aws::new("routing").await;
    let mut queues = BTreeMap::new();
    for (name, pattern) in patterns() {
        let url = aws
            .route_to_queue(&name, &pattern, &format!("route-{name}"))
            .await;
        queues.insert(name, url);
    }
    assert_eq!(
        queues.keys().collect::<Vec<_>>(),
        ["on-push", "on-scan-basic", "on-scan-inspector"]
    );

    for (file, event) in sample_events() {
        let resources: Vec<String> = event["resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        aws.events
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .source(event["source"].as_str().unwrap())
                    .detail_type(event["detail-type"].as_str().unwrap())
                    .detail(event["detail"].to_string())
                    .set_resources(Some(resources))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let parsed = gatekeeper::domain::events::parse(&event).unwrap();
        // A storage class change reaches on-push whichever way it goes (the field that says so is not
        // documented, so no pattern can tell an archive from a restore): on-push skips archives.
        let storage_class = event["detail"]["action-type"] == "UPDATE_STORAGE_CLASS";
        let expected = match (parsed.kind(), event["source"].as_str()) {
            (TriggerKind::Push | TriggerKind::Delete | TriggerKind::Restore, _) => Some("on-push"),
            (TriggerKind::Ignored, _) if storage_class => Some("on-push"),
            (TriggerKind::Scan, Some("aws.ecr")) => Some("on-scan-basic"),
            (TriggerKind::Scan | TriggerKind::Finding | TriggerKind::Coverage, _) => {
                Some("on-scan-inspector")
            }
            _ => None,
        };
        // moto drops `account`: what it delivers is an image of the deployment's own account.
        let mut as_delivered = parsed.body.clone();
        if let Some(image) = as_delivered.image_mut() {
            image.place = None;
        }
        for (name, url) in &queues {
            let got = aws.drain(url).await;
            let want = usize::from(expected == Some(name.as_str()));
            assert_eq!(got.len(), want, "{file} -> {name}");
            for delivered in got {
                // What EventBridge delivers parses to the same meaning as the sample.
                assert_eq!(
                    gatekeeper::domain::events::parse(&delivered).unwrap().body,
                    as_delivered,
                    "{file}"
                );
            }
        }
    }
}

/// A verdict notice on `image`; the filter policies below read its attributes (event type,
/// decision, repository, mode, account, region).
fn notice_for<'a>(image: &'a ImageRef, verdict: &'a Verdict) -> VerdictNotice<'a> {
    VerdictNotice {
        policy_hash: "test",
        rule: "defaults",
        dedup_key: change_key(image, verdict.decision, 1),
        ..VerdictNotice::new(image, verdict, Mode::Enforce, TriggerKind::Scan, "e", 0)
    }
}

#[tokio::test]
async fn subscription_filter_policies_select_messages_by_attribute() {
    let aws = Aws::new("filters").await;
    let topic = aws.create_topic("verdicts").await;
    let blocks = aws
        .subscribe_queue(&topic, "blocks-only", Some(r#"{"decision": ["block"]}"#))
        .await;
    let team_a = aws
        .subscribe_queue(
            &topic,
            "team-a",
            Some(r#"{"repository": [{"prefix": "team-a/"}], "event_type": ["verdict"]}"#),
        )
        .await;
    let production = aws
        .subscribe_queue(
            &topic,
            "production-account",
            Some(r#"{"account": ["111111111111"], "region": ["eu-west-1"]}"#),
        )
        .await;
    let notifier = gatekeeper::adapters::Sns::new(aws.sns.clone(), topic);
    for (repo, decision, account) in [
        ("team-a/api", Decision::Block, "111111111111"),
        ("team-a/web", Decision::Pass, "222222222222"),
        ("team-b/api", Decision::Block, "111111111111"),
    ] {
        let image = ImageRef {
            place: None,
            repository: repo.into(),
            digest: "sha256:1".into(),
            tags: vec!["v1".into()],
        };
        let verdict = Verdict {
            decision,
            ..gatekeeper::domain::verdict::pending("test")
        };
        let notice = VerdictNotice {
            account: Some(account),
            region: Some("eu-west-1"),
            ..notice_for(&image, &verdict)
        };
        notifier.publish(&notice.to_message()).await.unwrap();
    }
    let repos = |msgs: Vec<(Value, Value)>| -> Vec<String> {
        let mut v: Vec<String> = msgs
            .iter()
            .map(|(_, b)| b["image"]["repository"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        repos(aws.messages(&blocks).await),
        ["team-a/api", "team-b/api"]
    );
    assert_eq!(
        repos(aws.messages(&team_a).await),
        ["team-a/api", "team-a/web"]
    );
    assert_eq!(
        repos(aws.messages(&production).await),
        ["team-a/api", "team-b/api"]
    );
}
