//! A block that holds, against moto: ECR's tags, SNS, SQS and DynamoDB are moto's; ECR's storage
//! classes are emulated by the fault proxy (moto answers UpdateImageStorageClass with an error and
//! reports no `imageStatus`), and so is the restore's completion. The tags move first, then the image
//! is archived with its reason in the state table; a release restores it and its tags come back only
//! once it is active; a push of the archived digest is archived again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use aws_sdk_dynamodb::types::AttributeValue;
use gatekeeper::adapters::{Pace, image_key};
use gatekeeper::domain::events::Scanner;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Finding, ImageRef, Mode, Severity};
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::ReleaseRequest;
use gatekeeper_tests::faults::{FaultProxy, test_resilience};
use gatekeeper_tests::fixtures::{
    Aws, Setup, TestGatekeeper, image_action_event, inspector_scan_event, push_event,
};
use gatekeeper_tests::manifest::hex12;

const REPO: &str = "team/api";
const POLICY: &str = "version = 1\n[defaults]\nblock = \"CRITICAL\"\non_block = \"archive\"\n[breaker]\nmax_tag_changes = 10000\nwindow = \"10m\"\n";

struct World {
    aws: Aws,
    setup: Setup,
    proxy: FaultProxy,
    gk: TestGatekeeper,
    findings: FakeFindings,
    digest: String,
}

async fn world(name: &str) -> World {
    let aws = Aws::new(name).await;
    let setup = aws.standard_setup().await;
    let proxy = FaultProxy::start(&aws.moto.endpoint, 1).unwrap();
    proxy.emulate_storage();
    aws.create_repo(REPO, "MUTABLE", &[]).await;
    let digest = aws.push(REPO, name, &["v1"]).await;
    let sdk = proxy.sdk(&aws.region, test_resilience(3)).await;
    let policy = Policy::parse(POLICY).unwrap();
    let mut gk = aws.gatekeeper_via(&setup, Mode::Enforce, policy, &sdk);
    gk.registry = gk.registry.paced(Pace::per_second(100.0));
    let findings = FakeFindings::default();
    findings.set(
        &digest,
        vec![Finding::new("CVE-2026-41234", Severity::Critical)],
    );
    World {
        aws,
        setup,
        proxy,
        gk,
        findings,
        digest,
    }
}

impl World {
    async fn scan(&self, id: &str) {
        let event = inspector_scan_event(id, &self.aws.account, REPO, &self.digest, &[], 1);
        self.gk
            .handle_scan_event(&self.findings, &event)
            .await
            .unwrap();
    }

    async fn ecr_event(&self, event: serde_json::Value) {
        let event = self.aws.here(event);
        self.gk.handle_push_event(&event).await.unwrap();
    }

    fn storage(&self) -> &'static str {
        self.proxy.storage(REPO, &self.digest)
    }

    async fn tags(&self) -> Vec<String> {
        self.aws.tags(REPO, &self.digest).await.unwrap()
    }

    /// The image's item in the state table (moto's DynamoDB).
    async fn item(&self) -> std::collections::HashMap<String, AttributeValue> {
        let key = image_key(&ImageRef::home(REPO, self.digest.clone()));
        let out = (self.aws.dynamodb.get_item())
            .table_name(&self.setup.table)
            .key("pk", AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.item().cloned().unwrap_or_default()
    }

    /// Every action of every message so far, as `action status`.
    async fn actions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (_, body) in self.aws.messages(&self.setup.subscriber_url).await {
            for a in body["actions"].as_array().cloned().unwrap_or_default() {
                out.push(format!(
                    "{} {}",
                    a["action"].as_str().unwrap(),
                    a["status"].as_str().unwrap()
                ));
            }
        }
        out
    }
}

#[tokio::test]
async fn a_blocked_image_is_retagged_then_archived_and_a_release_restores_it_before_its_tags() {
    let w = world("archive-release").await;
    w.proxy.reset_counts();
    w.scan("scan-1").await;
    // What archiving adds to a block's calls: the lifecycle check, the archive, its record.
    let calls = w.proxy.requests();
    eprintln!("calls of the blocking scan: {calls:?}");
    assert_eq!(calls.get("ecr:UpdateImageStorageClass"), Some(&1));
    assert_eq!(calls.get("ecr:GetLifecyclePolicy"), Some(&1));
    let quarantined = format!("quarantined-v1--{}", hex12(&w.digest));
    assert_eq!(w.tags().await, vec![quarantined.clone()]);
    assert_eq!(w.storage(), "ARCHIVED");
    let item = w.item().await;
    let reason = item["archive_reason"].as_s().unwrap();
    assert!(reason.contains("on_block = \"archive\""), "{reason}");
    assert!(item.contains_key("archived_at"));
    let actions = w.actions().await;
    assert_eq!(
        actions,
        ["add_tag done", "remove_tag done", "archive done"],
        "tags first, then the archive"
    );
    // The same event again changes nothing more.
    w.scan("scan-1").await;
    assert_eq!(w.actions().await, Vec::<String>::new());

    let image = ImageRef::home(REPO, w.digest.clone());
    let req = ReleaseRequest {
        image: &image,
        reason: "rollback needs it",
        caller: "arn:aws:iam::123456789012:user/ops",
        force_for: Some(86_400),
    };
    w.gk.release(&w.findings, Scanner::Enhanced, &req)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(w.storage(), "ACTIVATING");
    assert_eq!(
        w.tags().await,
        vec![quarantined.clone()],
        "not before it is active"
    );
    assert!(
        w.item().await.contains_key("due_at"),
        "the sweep looks again"
    );
    let restore = image_action_event(
        "restore-1",
        REPO,
        &w.digest,
        "UPDATE_STORAGE_CLASS",
        Some("STANDARD"),
    );
    w.ecr_event(restore.clone()).await;
    assert_eq!(w.tags().await, vec![quarantined]);
    assert!(w.proxy.finish_restore(REPO, &w.digest));
    w.ecr_event(image_action_event(
        "restore-2",
        REPO,
        &w.digest,
        "UPDATE_STORAGE_CLASS",
        Some("STANDARD"),
    ))
    .await;
    assert_eq!(w.tags().await, vec!["v1"]);
    let item = w.item().await;
    assert!(!item.contains_key("archive_reason") && item.contains_key("unarchived_at"));
    // A repeated restore event changes nothing (the image is not taken for a new one).
    w.ecr_event(restore).await;
    assert_eq!(w.item().await["decision"].as_s().unwrap(), "block");
    assert_eq!(w.aws.images(REPO).await.len(), 1, "nothing deleted");
}

#[tokio::test]
async fn a_push_of_the_archived_digest_restores_it_in_ecr_and_it_is_archived_again() {
    let w = world("archive-repush").await;
    w.scan("scan-1").await;
    assert_eq!(w.storage(), "ARCHIVED");
    // Push the same manifest again under a new tag, through the proxy (ECR restores it).
    let manifest = w.aws.manifest(REPO, &w.digest).await;
    let sdk = w.proxy.sdk(&w.aws.region, test_resilience(3)).await;
    let ecr = w.aws.ecr_via(&sdk);
    ecr.put_image()
        .repository_name(REPO)
        .image_manifest(manifest)
        .image_tag("v1-again")
        .send()
        .await
        .unwrap();
    assert_eq!(w.storage(), "ACTIVE");
    w.aws.messages(&w.setup.subscriber_url).await;
    w.ecr_event(push_event("push-2", REPO, &w.digest, "v1-again"))
        .await;
    assert_eq!(w.storage(), "ARCHIVED");
    let tags = w.tags().await;
    assert!(!tags.iter().any(|t| t == "v1-again"), "{tags:?}");
    let actions = w.actions().await;
    assert!(actions.contains(&"archive done".to_string()), "{actions:?}");
    assert_eq!(w.aws.images(REPO).await.len(), 1, "nothing deleted");
}
