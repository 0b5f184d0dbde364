//! Verified tags against moto: what passes gets `verified-<T>`, `verified-latest` follows the newest
//! passing build, a block removes every verified tag together with the quarantine, a release puts them
//! back, a verified tag pushed by anyone else onto an image that does not verify is removed at once,
//! and no image loses its last tag; on a mutable repository and on one immutable with an exclusion for
//! the verified prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Decision, Finding, FindingStatus, Mode, Severity};
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::service::Status;
use gatekeeper_tests::fixtures::{
    Aws, TestGatekeeper, clean_scan, finding_change, push_event, text,
};
use gatekeeper_tests::manifest::hex12;
use serde_json::Value;

const VERIFY: &str =
    "version = 1\n[defaults]\nblock = \"CRITICAL\"\nverified_prefix = \"verified-\"\n";

/// Delivers a clean scan-complete event for an image and asserts that it passes.
async fn passes(gk: &TestGatekeeper, inspector: &FakeFindings, id: &str, repo: &str, digest: &str) {
    assert_eq!(
        clean_scan(gk, inspector, id, repo, digest).await,
        Some(Decision::Pass),
        "{repo}@{digest}"
    );
}

/// The quarantine markers that stand for an image's `tags` while it is blocked.
fn markers(digest: &str, tags: &[&str]) -> Vec<String> {
    let h = hex12(digest);
    tags.iter()
        .map(|t| format!("quarantined-{t}--{h}"))
        .collect()
}

fn actions(body: &Value) -> Vec<String> {
    body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["action"].as_str().unwrap(),
                a["tag"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn verified_tags_follow_passing_builds_leave_blocked_ones_and_come_back_on_release() {
    let (aws, setup) = Aws::with_repo("verified", "ver/app").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(VERIFY).unwrap());
    let inspector = FakeFindings::default();

    // Build 1 passes: each of its tags gets a verified twin.
    let one = aws.push("ver/app", "build-1", &["v1", "latest"]).await;
    passes(&gk, &inspector, "s-1", "ver/app", &one).await;
    aws.assert_tags(
        "ver/app",
        &one,
        &["latest", "v1", "verified-latest", "verified-v1"],
    )
    .await;
    let m = aws.checked_bodies(&setup).await.0;
    assert_eq!(
        actions(&m[0]),
        ["add_tag verified-v1", "add_tag verified-latest"],
        "the verdict message lists the verified tags added"
    );

    // Build 2 takes `latest` and passes: verified-latest follows it; build 1 keeps verified-v1.
    let two = aws.push("ver/app", "build-2", &["v2", "latest"]).await;
    gk.handle_push_event(&push_event("p-2", "ver/app", &two, "latest"))
        .await
        .unwrap();
    passes(&gk, &inspector, "s-2", "ver/app", &two).await;
    let verified_two: &[&str] = &["latest", "v2", "verified-latest", "verified-v2"];
    let verified_one: &[&str] = &["v1", "verified-v1"];
    aws.assert_images("ver/app", &[(&two, verified_two), (&one, verified_one)])
        .await;
    // The gatekeeper's own verified push comes back as an event: nothing to do.
    let own = gk
        .handle_push_event(&push_event("p-own", "ver/app", &two, "verified-latest"))
        .await
        .unwrap();
    assert_eq!(own.status, Status::Unchanged, "{own:?}");
    aws.checked_bodies(&setup).await;

    // A new CRITICAL blocks build 2: its verified tags go with the quarantine.
    let critical = Finding::new("CVE-2026-8000", Severity::Critical);
    let e = finding_change(&inspector, "f-1", "ver/app", &two, critical);
    assert_eq!(
        gk.handle_scan_event(&inspector, &e).await.unwrap().decision,
        Some(Decision::Block)
    );
    aws.assert_tags("ver/app", &two, &markers(&two, &["latest", "v2"]))
        .await;
    let m = aws.checked_bodies(&setup).await.0;
    let done = actions(&m[0]);
    assert!(
        done.contains(&"remove_tag verified-latest".to_string())
            && done.contains(&"remove_tag verified-v2".to_string()),
        "{done:?}"
    );

    // Fixed by a rescan: released, and verified again.
    let mut closed = Finding::new("CVE-2026-8000", Severity::Critical);
    closed.status = FindingStatus::Closed;
    let e = finding_change(&inspector, "f-2", "ver/app", &two, closed);
    assert_eq!(
        gk.handle_scan_event(&inspector, &e).await.unwrap().decision,
        Some(Decision::Pass)
    );
    aws.assert_tags(
        "ver/app",
        &two,
        &["latest", "v2", "verified-latest", "verified-v2"],
    )
    .await;

    // Someone pushes verified-hotfix onto an image that was never scanned: removed at once, said once.
    let three = aws.push("ver/app", "build-3", &["v3"]).await;
    gk.handle_push_event(&push_event("p-3", "ver/app", &three, "v3"))
        .await
        .unwrap();
    aws.checked_bodies(&setup).await;
    aws.push("ver/app", "build-3", &["verified-hotfix"]).await;
    let o = gk
        .handle_push_event(&push_event("p-4", "ver/app", &three, "verified-hotfix"))
        .await
        .unwrap();
    assert_eq!(o.status, Status::Acted, "{o:?}");
    aws.assert_tags("ver/app", &three, &["v3"]).await;
    let m = aws.checked_bodies(&setup).await.0;
    assert_eq!(m.len(), 1);
    let reason = m[0]["reasons"][0].as_str().unwrap();
    assert!(
        reason.starts_with("verified-hotfix was pushed to") && reason.contains("in ver/app"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_verified_tag_never_moves_off_an_image_whose_only_tag_it_is() {
    let (aws, setup) = Aws::with_repo("verified-last", "ver/last").await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(VERIFY).unwrap());
    let inspector = FakeFindings::default();
    let old = aws.push("ver/last", "old", &["latest"]).await;
    clean_scan(&gk, &inspector, "s-1", "ver/last", &old).await;
    // `latest` moves to a new build: the old one keeps only verified-latest.
    let new = aws.push("ver/last", "new", &["latest"]).await;
    aws.assert_tags("ver/last", &old, &["verified-latest"])
        .await;
    aws.checked_bodies(&setup).await;
    passes(&gk, &inspector, "s-2", "ver/last", &new).await;
    // The old image keeps its only tag.
    aws.assert_tags("ver/last", &old, &["verified-latest"])
        .await;
    aws.assert_tags("ver/last", &new, &["latest"]).await;
    let m = aws.checked_bodies(&setup).await.0;
    assert!(
        text(&m[0]["problems"][0]).starts_with("verified-latest left on"),
        "{}",
        m[0]
    );

    // Blocked, the old image's only verified tag gives way to a marker: it never points at a block.
    let critical = Finding::new("CVE-2026-8100", Severity::Critical);
    let e = finding_change(&inspector, "f-1", "ver/last", &old, critical);
    gk.handle_scan_event(&inspector, &e).await.unwrap();
    aws.assert_tags(
        "ver/last",
        &old,
        &[&format!("quarantined-sha256-{}", hex12(&old))],
    )
    .await;
}

#[tokio::test]
async fn on_a_repository_immutable_except_for_the_verified_prefix_the_same_holds() {
    let aws = Aws::new("verified-immutable").await;
    let setup = aws.standard_setup().await;
    aws.create_repo(
        "ver/immutable",
        "IMMUTABLE_WITH_EXCLUSION",
        &["verified-*", "latest"],
    )
    .await;
    let gk = aws.gatekeeper(&setup, Mode::Enforce, Policy::parse(VERIFY).unwrap());
    let inspector = FakeFindings::default();
    let one = aws.push("ver/immutable", "i-1", &["1.0.0", "latest"]).await;
    passes(&gk, &inspector, "s-1", "ver/immutable", &one).await;
    let two = aws.push("ver/immutable", "i-2", &["1.0.1", "latest"]).await;
    passes(&gk, &inspector, "s-2", "ver/immutable", &two).await;
    let verified_two: &[&str] = &["1.0.1", "latest", "verified-1.0.1", "verified-latest"];
    let verified_one: &[&str] = &["1.0.0", "verified-1.0.0"];
    aws.assert_images(
        "ver/immutable",
        &[(&two, verified_two), (&one, verified_one)],
    )
    .await;
    let critical = Finding::new("CVE-2026-8200", Severity::Critical);
    let e = finding_change(&inspector, "f-1", "ver/immutable", &two, critical);
    gk.handle_scan_event(&inspector, &e).await.unwrap();
    aws.assert_tags("ver/immutable", &two, &markers(&two, &["1.0.1", "latest"]))
        .await;
    let m = aws.checked_bodies(&setup).await.0;
    assert!(
        m.iter()
            .all(|b| b["problems"].as_array().unwrap().is_empty()),
        "{m:?}"
    );
}
