//! The local demo (`make demo`): the gatekeeper's main job end to end against moto, with the real
//! Lambda binaries behind a local Runtime API and EventBridge routing by the patterns `infra/` deploys.
//!
//! 1. start moto; create a repository, the state table, the topic with a subscriber queue, and the
//!    EventBridge rules, each targeting its function's intake queue as `infra/` deploys them (moto
//!    cannot invoke Lambda: the demo reads each queue as Lambda's event source mapping does and hands
//!    the function the SQS batch);
//! 2. push a small real image (`v1.0.0`, `latest`): ECR's push event goes to on-push;
//! 3. Inspector's scan result arrives (moto seeded with one CRITICAL and two HIGH findings): on-scan
//!    decides BLOCK and quarantines the image by its tags;
//! 4. someone tags the blocked digest `prod`: on-push quarantines the new tag at once;
//! 5. print the tags before and after and the SNS messages the subscriber received; stop everything.

use std::time::Duration;

use aws_sdk_ecr::types::ScanFrequency;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use gatekeeper_tests::fixtures::{Aws, inspector_finding, push_event};
use gatekeeper_tests::moto::{Moto, workspace_root};
use gatekeeper_tests::runtime::{Answer, Function, sibling_binary};
use gatekeeper_tests::sqs::EventSource;
use serde_json::{Value, json};

const REPO: &str = "demo/web-api";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn step(n: u32, text: &str) {
    println!("\n\x1b[1m[{n}] {text}\x1b[0m");
}

fn show(label: &str, value: &impl std::fmt::Debug) {
    println!("    {label:<22} {value:?}");
}

/// The function queues the EventBridge rules deliver to, read as each function's event source
/// mapping reads its intake queue.
struct Routes {
    push: EventSource,
    inspector: EventSource,
}

async fn route(aws: &Aws) -> Result<Routes> {
    let mut sources = Vec::new();
    for name in ["on-push", "on-scan-inspector", "on-scan-basic"] {
        let pattern = std::fs::read_to_string(
            workspace_root().join(format!("infra/terraform/patterns/{name}.json")),
        )?;
        let queue = format!("demo-{name}-intake");
        let url = aws.route_to_queue(name, &pattern, &queue).await;
        sources.push(EventSource::new(aws, &queue, &url, 10, 60));
    }
    let mut sources = sources.into_iter();
    match (sources.next(), sources.next()) {
        (Some(push), Some(inspector)) => Ok(Routes { push, inspector }),
        _ => Err("the routes were not created".into()),
    }
}

/// Emits an event on the default bus, as ECR or Inspector would.
async fn emit(aws: &Aws, event: &Value) -> Result<()> {
    let entry = PutEventsRequestEntry::builder()
        .source(event["source"].as_str().unwrap_or_default())
        .detail_type(event["detail-type"].as_str().unwrap_or_default())
        .detail(event["detail"].to_string())
        .resources(format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPO}"))
        .build();
    aws.events.put_events().entries(entry).send().await?;
    Ok(())
}

/// Emits `event`; the rule puts it in the function's intake queue, and the queue's batch goes to
/// `function` as Lambda's SQS event source would hand it over. Shows the batch, the function's answer
/// and the outcome it logged per image; a record left to retry is an error here.
async fn deliver(
    aws: &Aws,
    event: &Value,
    source: &EventSource,
    label: &str,
    function: &Function,
) -> Result<()> {
    emit(aws, event).await?;
    let batch = source.poll().await;
    let logged = function.logs().lines().count();
    let answer = match function.invoke(&source.event(&batch))? {
        Answer::Response(v) => v,
        Answer::Error {
            error_type,
            message,
        } => return Err(format!("{error_type}: {message}\n{}", function.logs()).into()),
    };
    let retry = EventSource::failures(&answer);
    source.settle(&batch, &retry).await;
    show(
        label,
        &format!("SQS batch of {} record(s), answer {answer}", batch.len()),
    );
    for line in function.logs().lines().skip(logged) {
        let logged: Value = serde_json::from_str(line).unwrap_or_default();
        let fields = &logged["fields"];
        if fields["message"] == "outcome" {
            let decision = fields["decision"].as_str().map(|d| format!(" {d}"));
            show(
                "",
                &format!(
                    "{}{}: {}",
                    fields["status"].as_str().unwrap_or_default(),
                    decision.unwrap_or_default(),
                    fields["detail"].as_str().unwrap_or_default()
                ),
            );
        }
    }
    if retry.is_empty() {
        Ok(())
    } else {
        Err(format!("records left to retry: {retry:?}\n{}", function.logs()).into())
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    step(
        1,
        "Start moto (local AWS) and create the repository, state table, topic and EventBridge rules",
    );
    let moto: &'static Moto = Box::leak(Box::new(Moto::start()?));
    println!("    moto at {}", moto.endpoint);
    let aws = Aws::with(moto, ACCOUNT, REGION).await;
    let setup = aws.standard_setup().await;
    aws.create_repo(REPO, "MUTABLE", &[]).await;
    aws.enhanced_scanning("demo/*", ScanFrequency::ContinuousScan)
        .await?;
    let routes = route(&aws).await?;
    let env = aws.function_env(&moto.endpoint, &setup, &[("GATEKEEPER_MODE", "enforce")]);
    let on_push = Function::start(&sibling_binary("on-push"), "on-push", &env)?;
    let on_scan = Function::start(&sibling_binary("on-scan"), "on-scan", &env)?;
    for f in [&on_push, &on_scan] {
        if !f.api.wait_ready(Duration::from_secs(30)) {
            return Err(format!("a function did not start:\n{}", f.logs()).into());
        }
    }
    println!("    on-push and on-scan binaries polling a local Lambda Runtime API; mode enforce");

    step(
        2,
        &format!("Push an image to {REPO} with tags v1.0.0 and latest"),
    );
    let digest = aws.push(REPO, "demo", &["v1.0.0", "latest"]).await;
    show("digest", &digest);
    let before = aws.tags(REPO, &digest).await.unwrap_or_default();
    show("tags before", &before);
    let push = push_event("demo-push-1", REPO, &digest, "v1.0.0");
    deliver(&aws, &push, &routes.push, "on-push", &on_push).await?;

    step(
        3,
        "Inspector finishes the first scan: 1 CRITICAL, 2 HIGH findings",
    );
    aws.seed_inspector(vec![
        inspector_finding(REPO, &digest, "CVE-2026-41234", "CRITICAL"),
        inspector_finding(REPO, &digest, "CVE-2026-30001", "HIGH"),
        inspector_finding(REPO, &digest, "CVE-2026-30002", "HIGH"),
    ]);
    let scan = json!({
        "version": "0", "id": "demo-scan-1", "detail-type": "Inspector2 Scan", "source": "aws.inspector2",
        "time": "2026-11-22T10:00:00Z", "region": REGION, "resources": [format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPO}")],
        "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": format!("arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPO}"),
                   "image-digest": digest, "image-tags": ["v1.0.0", "latest"], "finding-severity-counts": {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 0, "TOTAL": 3}}
    });
    deliver(&aws, &scan, &routes.inspector, "on-scan", &on_scan).await?;
    show(
        "tags after",
        &aws.tags(REPO, &digest).await.unwrap_or_default(),
    );

    step(4, "Someone tags the blocked digest `prod`");
    aws.push(REPO, "demo", &["prod"]).await;
    let retag = push_event("demo-push-2", REPO, &digest, "prod");
    deliver(&aws, &retag, &routes.push, "on-push", &on_push).await?;
    show(
        "tags after",
        &aws.tags(REPO, &digest).await.unwrap_or_default(),
    );
    show(
        "image still there",
        &aws.images(REPO).await.iter().any(|(d, _)| *d == digest),
    );

    step(5, "What the SNS subscriber queue received");
    let messages = aws.messages(&setup.subscriber_url).await;
    for (n, (envelope, body)) in messages.iter().enumerate() {
        println!(
            "\n    message {} of {}: Subject: {}",
            n + 1,
            messages.len(),
            envelope["Subject"].as_str().unwrap_or_default()
        );
        let attrs: Vec<String> = ["event_type", "decision", "max_severity", "repository"]
            .iter()
            .map(|k| {
                format!(
                    "{k}={}",
                    envelope["MessageAttributes"][k]["Value"]
                        .as_str()
                        .unwrap_or_default()
                )
            })
            .collect();
        println!("    attributes: {}", attrs.join(" "));
        for line in serde_json::to_string_pretty(body)?.lines() {
            println!("    | {line}");
        }
    }

    step(
        6,
        "What the Slack (AWS Chatbot) topic's queue received: title and description",
    );
    for (_, chat) in aws.messages(&setup.chat_url).await {
        println!(
            "\n    {}",
            chat["content"]["title"].as_str().unwrap_or_default()
        );
        for line in chat["content"]["description"]
            .as_str()
            .unwrap_or_default()
            .lines()
        {
            println!("    | {line}");
        }
    }

    step(7, "Stop the functions and moto");
    drop(on_push);
    drop(on_scan);
    moto.stop();
    println!("    stopped");
    Ok(())
}
