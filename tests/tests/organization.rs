//! An Organization deployment against moto: the security account runs one deployment per region;
//! three member accounts push images in two regions; their ECR events arrive forwarded (the envelope
//! unchanged, as EventBridge forwards it; moto's own cross-account targets would re-put them under a
//! new id, time and account) and Inspector's as the delegated administrator receives them. Each
//! deployment acts on its own region's members through the member role (moto gives each assumed
//! session the role's account), leaves other regions to theirs, and fails loudly, for that member
//! only, when a member's role refuses it (moto's AssumeRole never refuses: the fault proxy does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Finding, Severity};
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper_tests::faults::FaultProxy;
use gatekeeper_tests::fixtures::{Aws, Setup, TestGatekeeper, push_event};
use gatekeeper_tests::moto::Moto;
use serde_json::{Value, json};

const REGIONS: [&str; 2] = ["eu-west-1", "us-east-1"];
const REPO: &str = "payments/api";

/// One region's central deployment in the security account.
struct Central {
    aws: Aws,
    setup: Setup,
    gk: TestGatekeeper,
}

/// One member image: where it is, its digest, whether Inspector finds a CRITICAL in it.
struct MemberImage {
    aws: Aws,
    digest: String,
    critical: bool,
}

/// A message field's text ("" when absent).
fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The member's push event, forwarded to the central bus with its envelope unchanged.
fn forwarded_push(image: &MemberImage) -> Value {
    let mut e = push_event(
        &format!("push-{}-{}", image.aws.account, image.aws.region),
        REPO,
        &image.digest,
        "v1",
    );
    e["account"] = json!(image.aws.account);
    e["region"] = json!(image.aws.region);
    e
}

/// Inspector's scan event as the delegated administrator (`security`) receives it.
fn administrators_scan(image: &MemberImage, security: &str) -> Value {
    let (account, region) = (&image.aws.account, &image.aws.region);
    let arn = format!("arn:aws:ecr:{region}:{account}:repository/{REPO}");
    let critical = u32::from(image.critical);
    json!({"version": "0", "id": format!("scan-{account}-{region}"), "detail-type": "Inspector2 Scan",
        "source": "aws.inspector2", "time": "2026-11-22T10:00:00Z", "region": region, "account": security,
        "resources": [arn], "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn,
            "image-digest": image.digest, "image-tags": ["v1"],
            "finding-severity-counts": {"CRITICAL": critical, "TOTAL": critical}}})
}

#[tokio::test]
async fn one_deployment_per_region_governs_its_regions_members_through_the_member_role() {
    let moto = Moto::shared();
    let security = Aws::new("org-security").await;
    let proxy = FaultProxy::start(&moto.endpoint, 7).unwrap();
    let findings = FakeFindings::default();
    let mut centrals = Vec::new();
    for region in REGIONS {
        let aws = Aws::with(moto, &security.account, region).await;
        let setup = aws.standard_setup().await;
        // The security account has a repository of the same name: never touched by members' events.
        aws.create_repo(REPO, "MUTABLE", &[]).await;
        aws.push(REPO, &format!("security-{region}"), &["v1"]).await;
        let gk = aws
            .organization_gatekeeper(&setup, Policy::builtin(), &proxy.endpoint)
            .await;
        centrals.push(Central { aws, setup, gk });
    }
    let mut images = Vec::new();
    for (m, name) in ["org-member-1", "org-member-2", "org-member-3"]
        .iter()
        .enumerate()
    {
        let account = Aws::new(name).await.account;
        for (r, region) in REGIONS.iter().enumerate() {
            let aws = Aws::with(moto, &account, region).await;
            aws.create_repo(REPO, "MUTABLE", &[]).await;
            let digest = aws.push(REPO, &format!("{name}-{region}"), &["v1"]).await;
            let critical = (m + r) % 2 == 0;
            let found = if critical {
                vec![Finding::new("CVE-2026-41234", Severity::Critical)]
            } else {
                Vec::new()
            };
            findings.set(&digest, found);
            images.push(MemberImage {
                aws,
                digest,
                critical,
            });
        }
    }
    // The third member's role refuses the deployment (in every region: IAM is global).
    let denied = images[4].aws.account.clone();
    proxy.deny_assume_role(&denied);

    for image in &images {
        let central = &centrals[REGIONS.iter().position(|r| *r == image.aws.region).unwrap()];
        let other = &centrals[REGIONS.iter().position(|r| *r != image.aws.region).unwrap()];
        // The other region's deployment leaves it to this one.
        let skipped = other
            .gk
            .handle_push_event(&forwarded_push(image))
            .await
            .unwrap();
        assert_eq!(skipped.status.as_str(), "skipped", "{}", skipped.detail);
        let pushed = central.gk.handle_push_event(&forwarded_push(image)).await;
        let scanned = central
            .gk
            .handle_scan_event(&findings, &administrators_scan(image, &security.account))
            .await;
        if image.aws.account == denied {
            let e = scanned.unwrap_err();
            assert!(e.to_string().contains("AccessDenied"), "{e}");
            assert!(pushed.is_err());
            continue;
        }
        let outcome = scanned.unwrap();
        assert_eq!(outcome.status.as_str(), "changed", "{}", outcome.detail);
        let tags = image.aws.tags(REPO, &image.digest).await.unwrap();
        if image.critical {
            assert_eq!(tags, [format!("quarantined-v1--{}", &image.digest[7..19])]);
        } else {
            assert_eq!(tags, ["v1"]);
        }
    }

    for (central, region) in centrals.iter().zip(REGIONS) {
        // The security account's own image of the same name is as it was.
        assert_eq!(central.aws.images(REPO).await[0].1, ["v1"]);
        let (json, _chat) = central.aws.checked_messages(&central.setup).await;
        let mut verdicts = Vec::new();
        let mut alerts = Vec::new();
        for (envelope, body) in &json {
            let attribute = |name: &str| envelope["MessageAttributes"][name]["Value"].clone();
            assert_eq!(attribute("region"), region);
            assert_eq!(body["image"]["region"], region);
            assert_eq!(attribute("account"), body["image"]["account"]);
            match body["event_type"].as_str() {
                Some("verdict") => {
                    verdicts.push(body["image"]["account"].as_str().unwrap().to_string())
                }
                Some("alert") => alerts.push(body.clone()),
                other => panic!("unexpected {other:?}: {body}"),
            }
        }
        let mut expected: Vec<String> = (images.iter())
            .filter(|i| i.aws.region == region && i.aws.account != denied)
            .map(|i| i.aws.account.clone())
            .collect();
        verdicts.sort();
        expected.sort();
        assert_eq!(
            verdicts, expected,
            "one verdict per governed member image in {region}"
        );
        // The denied member, in each region: one alert from that region's deployment.
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0]["image"]["account"], denied.as_str());
        assert_eq!(alerts[0]["trigger"]["kind"], "unreachable");
    }
    // The denied member's images are untouched, in both regions.
    for image in images.iter().filter(|i| i.aws.account == denied) {
        assert_eq!(image.aws.tags(REPO, &image.digest).await.unwrap(), ["v1"]);
    }
}

#[tokio::test]
async fn rules_scoped_by_ou_read_each_members_ou_path_from_its_stack_and_the_strictest_decides_without_one()
 {
    const SANDBOX: &str = "r-ab12/ou-ab12-11111111/ou-ab12-22222222";
    let moto = Moto::shared();
    let security = Aws::new("ou-security").await;
    let setup = security.standard_setup().await;
    let policy = Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"sandbox-ou\"\nous = [\"ou-ab12-22222222\"]\nrepositories = [\"*\"]\nmode = \"audit\"\n",
    )
    .unwrap();
    let mut gk = security
        .organization_gatekeeper(&setup, policy, &moto.endpoint)
        .await;
    gk.ou_path = Some("r-ab12".into());
    let findings = FakeFindings::default();
    let mut images = Vec::new();
    // A member in the sandbox OU, one elsewhere, one whose stack wrote no OU path.
    for (name, path) in [
        ("ou-sandbox", Some(SANDBOX)),
        ("ou-workloads", Some("r-ab12/ou-ab12-11111111")),
        ("ou-unknown", None),
    ] {
        let aws = Aws::with(moto, &Aws::new(name).await.account, "eu-west-1").await;
        if let Some(path) = path {
            aws.write_ou_path(path).await;
        }
        aws.create_repo(REPO, "MUTABLE", &[]).await;
        let digest = aws.push(REPO, name, &["v1"]).await;
        findings.set(
            &digest,
            vec![Finding::new("CVE-2026-41234", Severity::Critical)],
        );
        images.push(MemberImage {
            aws,
            digest,
            critical: true,
        });
    }
    let mut results = Vec::new();
    for image in &images {
        let scan = administrators_scan(image, &security.account);
        results.push(gk.handle_scan_event(&findings, &scan).await);
    }
    let tags = |i: usize| images[i].aws.tags(REPO, &images[i].digest);
    // In the sandbox OU: judged by its rule, in audit; elsewhere: the defaults block.
    assert_eq!(tags(0).await.unwrap(), ["v1"]);
    assert_eq!(
        tags(1).await.unwrap(),
        [format!("quarantined-v1--{}", &images[1].digest[7..19])]
    );
    // No OU path: the strictest rule that could apply (the defaults' block, enforced), and an alert.
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(
        tags(2).await.unwrap(),
        [format!("quarantined-v1--{}", &images[2].digest[7..19])]
    );
    let (json, _chat) = security.checked_messages(&setup).await;
    let rules: Vec<(&str, &str, &str)> = (json.iter())
        .map(|(_, b)| {
            (
                text(&b["event_type"]),
                text(&b["image"]["account"]),
                text(&b["policy"]["rule"]),
            )
        })
        .collect();
    let (sandbox, workloads, unknown) = (
        images[0].aws.account.as_str(),
        images[1].aws.account.as_str(),
        images[2].aws.account.as_str(),
    );
    assert!(
        rules.contains(&("verdict", sandbox, "sandbox-ou")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("verdict", workloads, "defaults")),
        "{rules:?}"
    );
    let strictest = ("verdict", unknown, "strictest of defaults, sandbox-ou");
    assert!(rules.contains(&strictest), "{rules:?}");
    let unlocated = (json.iter())
        .filter(|(_, b)| b["trigger"]["kind"] == "unlocated")
        .count();
    assert_eq!(unlocated, 1);
    assert_eq!(
        (rules.iter())
            .filter(|(kind, ..)| *kind == "alert")
            .collect::<Vec<_>>(),
        [&("alert", unknown, "defaults")]
    );
}
