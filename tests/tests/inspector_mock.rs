//! The Inspector adapter where moto cannot help (its ListFindings ignores filters and pagination):
//! aws-smithy-mocks with response shapes from the Inspector2 API reference.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::operation::list_findings::{
    ListFindingsError, ListFindingsInput, ListFindingsOutput,
};
use aws_sdk_inspector2::primitives::DateTime;
use aws_sdk_inspector2::types::error::{InternalServerException, ThrottlingException};
use aws_sdk_inspector2::types::{
    ExploitAvailable, Finding, FindingStatus, FindingType, FixAvailable,
    PackageVulnerabilityDetails, Resource, ResourceType, Severity, StringComparison, StringFilter,
    VulnerablePackage,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use gatekeeper::adapters::Inspector;
use gatekeeper::domain::{ImageRef, Severity as S};
use gatekeeper::error::AwsErrorKind;
use gatekeeper::ports::{FindingsSource, Window};

const DIGEST: &str = "sha256:5b5a96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";

fn image() -> ImageRef {
    ImageRef {
        place: None,
        repository: "team-a/payments-api".into(),
        digest: DIGEST.into(),
        tags: vec![],
    }
}

fn finding(n: usize, severity: Severity) -> Finding {
    Finding::builder()
        .finding_arn(format!(
            "arn:aws:inspector2:eu-west-1:123456789012:finding/{n:032x}"
        ))
        .aws_account_id("123456789012")
        .r#type(FindingType::PackageVulnerability)
        .description("d")
        .severity(severity)
        .status(FindingStatus::Active)
        .first_observed_at(DateTime::from_secs(1_763_000_000))
        .last_observed_at(DateTime::from_secs(1_763_000_000))
        .fix_available(FixAvailable::Partial)
        .exploit_available(ExploitAvailable::Yes)
        .inspector_score(9.8)
        .resources(
            Resource::builder()
                .r#type(ResourceType::AwsEcrContainerImage)
                .id(format!(
                    "arn:aws:ecr:eu-west-1:123456789012:repository/team-a/payments-api/{DIGEST}"
                ))
                .build()
                .unwrap(),
        )
        .package_vulnerability_details(
            PackageVulnerabilityDetails::builder()
                .vulnerability_id(format!("CVE-2026-{n:05}"))
                .source("NVD")
                .vulnerable_packages(
                    VulnerablePackage::builder()
                        .name("openssl")
                        .version("3.0.1")
                        .release("1.el9")
                        .fixed_in_version("3.0.13")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn has(filters: &[StringFilter], value: &str) -> bool {
    filters
        .iter()
        .any(|f| f.comparison() == &StringComparison::Equals && f.value() == value)
}

/// The filter the adapter must send: this repository, this digest, ACTIVE or SUPPRESSED.
fn filtered(req: &ListFindingsInput) -> bool {
    let Some(c) = req.filter_criteria() else {
        return false;
    };
    has(c.ecr_image_repository_name(), "team-a/payments-api")
        && has(c.ecr_image_hash(), DIGEST)
        && has(c.finding_status(), "ACTIVE")
        && has(c.finding_status(), "SUPPRESSED")
        && c.finding_status().len() == 2
        && req.max_results() == Some(100)
}

#[tokio::test]
async fn pages_through_every_finding_with_the_image_filter() {
    let page = |from: usize, to: usize, next: Option<&str>| {
        let findings: Vec<Finding> = (from..to)
            .map(|n| {
                finding(
                    n,
                    if n % 50 == 0 {
                        Severity::Critical
                    } else {
                        Severity::Medium
                    },
                )
            })
            .collect();
        ListFindingsOutput::builder()
            .set_findings(Some(findings))
            .set_next_token(next.map(str::to_string))
            .build()
    };
    let first = mock!(Client::list_findings)
        .match_requests(|r| filtered(r) && r.next_token().is_none())
        .then_output(move || page(0, 100, Some("t1")));
    let second = mock!(Client::list_findings)
        .match_requests(|r| filtered(r) && r.next_token() == Some("t1"))
        .then_output(move || page(100, 200, Some("t2")));
    let third = mock!(Client::list_findings)
        .match_requests(|r| filtered(r) && r.next_token() == Some("t2"))
        .then_output(move || page(200, 250, None));
    let client = mock_client!(
        aws_sdk_inspector2,
        RuleMode::MatchAny,
        [&first, &second, &third]
    );

    let findings = image_findings(client).await.unwrap();

    assert_eq!(findings.len(), 250);
    assert_eq!(
        (first.num_calls(), second.num_calls(), third.num_calls()),
        (1, 1, 1)
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.severity == S::Critical)
            .count(),
        5
    );
    let f = &findings[0];
    assert_eq!(f.id, "CVE-2026-00000");
    assert_eq!(f.packages[0].version.as_deref(), Some("3.0.1-1.el9"));
    assert_eq!(f.packages[0].fixed_in.as_deref(), Some("3.0.13"));
    assert_eq!(
        (f.exploit_available, f.score, f.first_observed),
        (Some(true), Some(9.8), Some(1_763_000_000))
    );
    assert!(f.has_fix());
}

#[tokio::test]
async fn a_severity_the_api_does_not_document_takes_the_band_of_its_score_and_says_so() {
    let rule = mock!(Client::list_findings)
        .match_requests(filtered)
        .then_output(|| {
            ListFindingsOutput::builder()
                .findings(finding(1, Severity::from("CATASTROPHIC")))
                .build()
        });
    let client = mock_client!(aws_sdk_inspector2, [&rule]);
    let findings = image_findings(client).await.unwrap();
    // The SDK's `Severity::Unknown("CATASTROPHIC")`: the finding's score 9.8 decides, never "unranked".
    assert_eq!(findings[0].severity, S::Critical);
    assert!(
        findings[0]
            .severity_note
            .as_deref()
            .is_some_and(|n| n.contains("\"CATASTROPHIC\" is not one AWS documents")),
        "{:?}",
        findings[0].severity_note
    );
}

/// The adapter's findings for [`image`] through `client`.
async fn image_findings(
    client: Client,
) -> Result<Vec<gatekeeper::domain::Finding>, gatekeeper::error::AwsError> {
    Inspector::new(client).image_findings(&image()).await
}

/// ListFindings refused with a ThrottlingException saying `message`.
fn throttling(message: &str) -> ListFindingsError {
    ListFindingsError::ThrottlingException(
        ThrottlingException::builder()
            .message(message)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable_and_say_so() {
    let throttled = mock!(Client::list_findings).then_error(|| throttling("slow down"));
    let client = mock_client!(aws_sdk_inspector2, [&throttled]);
    let e = image_findings(client).await.unwrap_err();
    assert_eq!(e.operation, "inspector2:ListFindings");
    assert!(e.is_retryable(), "{e}");

    let internal = mock!(Client::list_findings).then_error(|| {
        ListFindingsError::InternalServerException(
            InternalServerException::builder()
                .message("oops")
                .build()
                .unwrap(),
        )
    });
    let client = mock_client!(aws_sdk_inspector2, [&internal]);
    let e = image_findings(client).await.unwrap_err();
    assert!(
        matches!(e.kind, AwsErrorKind::Throttled | AwsErrorKind::Transient),
        "{e:?}"
    );
}

/// A finding on an image of `repository` with digest `digest`, as ListFindings describes its resource.
fn on_image(n: usize, repository: &str, digest: &str) -> Finding {
    let mut f = finding(n, Severity::Critical);
    f.resources = vec![
        Resource::builder()
            .r#type(ResourceType::AwsEcrContainerImage)
            .id(format!(
                "arn:aws:ecr:eu-west-1:123456789012:repository/{repository}/{digest}"
            ))
            .details(
                aws_sdk_inspector2::types::ResourceDetails::builder()
                    .aws_ecr_container_image(
                        aws_sdk_inspector2::types::AwsEcrContainerImageDetails::builder()
                            .repository_name(repository)
                            .image_hash(digest)
                            .registry("123456789012")
                            .image_tags("v1")
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    f
}

#[tokio::test]
async fn the_images_with_a_vulnerability_are_found_by_its_id_across_pages_once_each() {
    let by_id = |req: &ListFindingsInput| {
        req.filter_criteria().is_some_and(|c| {
            has(c.vulnerability_id(), "CVE-2026-9000")
                && has(c.resource_type(), "AWS_ECR_CONTAINER_IMAGE")
                && has(c.finding_status(), "ACTIVE")
                && has(c.finding_status(), "SUPPRESSED")
                && c.ecr_image_hash().is_empty()
        })
    };
    // A page of findings, each (n, repository, digest) on its image.
    let page = |images: &[(usize, &str, &str)], next: Option<&str>| {
        let findings = images.iter().map(|(n, r, d)| on_image(*n, r, d)).collect();
        ListFindingsOutput::builder()
            .set_findings(Some(findings))
            .set_next_token(next.map(str::to_string))
            .build()
    };
    let first = mock!(Client::list_findings)
        .match_requests(move |r| by_id(r) && r.next_token().is_none())
        .then_output(move || {
            let images = [
                (1, "team-a/api", "sha256:a1"),
                (2, "team-b/web", "sha256:b1"),
            ];
            page(&images, Some("p2"))
        });
    let second = mock!(Client::list_findings)
        .match_requests(move |r| by_id(r) && r.next_token() == Some("p2"))
        .then_output(move || {
            let images = [
                (3, "team-a/api", "sha256:a1"),
                (4, "team-a/api", "sha256:a2"),
            ];
            page(&images, None)
        });
    let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&first, &second]);
    let images = Inspector::new(client)
        .images_with("CVE-2026-9000")
        .await
        .unwrap();
    let found: Vec<(&str, &str)> = images
        .iter()
        .map(|i| (i.repository.as_str(), i.digest.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("team-a/api", "sha256:a1"),
            ("team-b/web", "sha256:b1"),
            ("team-a/api", "sha256:a2")
        ]
    );
    assert_eq!(images[0].tags, ["v1"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn findings_updated_in_a_window_are_asked_for_by_time_severity_and_active_status() {
    let windowed = |req: &ListFindingsInput| {
        req.filter_criteria().is_some_and(|c| {
            let t = c.updated_at();
            t.len() == 1
                && t[0].start_inclusive() == Some(&DateTime::from_secs(1_790_000_000))
                && t[0].end_inclusive() == Some(&DateTime::from_secs(1_790_003_600))
                && has(c.severity(), "CRITICAL")
                && has(c.severity(), "HIGH")
                && c.severity().len() == 2
                && has(c.finding_status(), "ACTIVE")
                && c.finding_status().len() == 1
                && has(c.resource_type(), "AWS_ECR_CONTAINER_IMAGE")
        })
    };
    let rule = mock!(Client::list_findings)
        .match_requests(windowed)
        .then_output(|| {
            ListFindingsOutput::builder()
                .findings(on_image(1, "team-a/api", "sha256:a1"))
                .build()
        });
    let client = mock_client!(aws_sdk_inspector2, [&rule]);
    let images = Inspector::new(client)
        .images_updated(&Window {
            since: 1_790_000_000,
            until: 1_790_003_600,
            severities: vec![S::Critical, S::High],
        })
        .await
        .unwrap();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].digest, "sha256:a1");
    assert_eq!(rule.num_calls(), 1);
}

mod cost_apis {
    //! ListCoverage and ListUsageTotals (moto answers 404 to both).
    use super::*;
    use aws_sdk_inspector2::operation::list_coverage::ListCoverageOutput;
    use aws_sdk_inspector2::operation::list_usage_totals::ListUsageTotalsOutput;
    use aws_sdk_inspector2::types::{
        CoverageResourceType, CoveredResource, EcrContainerImageMetadata, ResourceScanMetadata,
        ScanStatus, ScanStatusCode, ScanStatusReason, ScanType, Usage, UsageTotal, UsageType,
    };

    fn covered(account: &str, repo: &str, n: usize, in_use: i64) -> CoveredResource {
        CoveredResource::builder()
            .resource_type(CoverageResourceType::AwsEcrContainerImage)
            .resource_id(format!(
                "arn:aws:ecr:eu-west-1:{account}:repository/{repo}/sha256:{n:064x}"
            ))
            .account_id(account)
            .scan_type(ScanType::Package)
            .scan_status(
                ScanStatus::builder()
                    .status_code(ScanStatusCode::Active)
                    .reason(ScanStatusReason::Successful)
                    .build()
                    .unwrap(),
            )
            .resource_metadata(
                ResourceScanMetadata::builder()
                    .ecr_image(
                        EcrContainerImageMetadata::builder()
                            .in_use_count(in_use)
                            .last_in_use_at(DateTime::from_secs(1_790_000_000))
                            .image_pulled_at(DateTime::from_secs(1_789_000_000))
                            .build(),
                    )
                    .build(),
            )
            .last_scanned_at(DateTime::from_secs(1_790_100_000))
            .build()
            .unwrap()
    }

    /// The ECR-image coverage filter of a ListCoverage request, and the account it names if any.
    fn coverage_filter(
        r: &aws_sdk_inspector2::operation::list_coverage::ListCoverageInput,
    ) -> (bool, Option<String>) {
        let c = r.filter_criteria();
        let ecr_only = c.is_some_and(|c| {
            c.resource_type()
                .iter()
                .any(|f| f.value() == "AWS_ECR_CONTAINER_IMAGE")
        });
        let account = c.and_then(|c| c.account_id().first().map(|f| f.value().to_string()));
        (ecr_only, account)
    }

    #[tokio::test]
    async fn coverage_of_ecr_images_is_read_across_pages_with_its_use_and_account() {
        let first = mock!(Client::list_coverage)
            .match_requests(|r| coverage_filter(r) == (true, None) && r.next_token().is_none())
            .then_output(|| {
                ListCoverageOutput::builder()
                    .covered_resources(covered("111111111111", "team/a", 1, 2))
                    .next_token("n2")
                    .build()
            });
        let second = mock!(Client::list_coverage)
            .match_requests(|r| coverage_filter(r) == (true, None) && r.next_token() == Some("n2"))
            .then_output(|| {
                ListCoverageOutput::builder()
                    .covered_resources(covered("222222222222", "team/b", 2, 0))
                    .build()
            });
        let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&first, &second]);
        // An Organization deployment lists every member's coverage, each image with its account.
        let c = Inspector::new(client)
            .for_account(Some("111111111111".into()))
            .across_members(true)
            .ecr_coverage()
            .await
            .unwrap();
        assert_eq!(c.len(), 2);
        let (account, a) = &c[0];
        assert_eq!(
            (account.as_str(), a.repository.as_str()),
            ("111111111111", "team/a")
        );
        assert_eq!(a.digest, format!("sha256:{:064x}", 1));
        assert_eq!(
            (a.status.as_str(), a.in_use_count, a.pulled_at),
            ("ACTIVE", Some(2), Some(1_789_000_000))
        );
        assert_eq!(
            (c[1].0.as_str(), c[1].1.repository.as_str()),
            ("222222222222", "team/b")
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_deployment_lists_only_its_own_accounts_coverage() {
        let own = mock!(Client::list_coverage)
            .match_requests(|r| coverage_filter(r) == (true, Some("111111111111".into())))
            .then_output(|| {
                ListCoverageOutput::builder()
                    .covered_resources(covered("111111111111", "team/a", 1, 0))
                    .build()
            });
        let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&own]);
        let c = Inspector::new(client)
            .for_account(Some("111111111111".into()))
            .ecr_coverage()
            .await
            .unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(own.num_calls(), 1);
    }

    #[tokio::test]
    async fn usage_totals_keep_the_ecr_scans_of_every_page_by_account() {
        let usage = |t: UsageType, total: f64, cost: f64| {
            Usage::builder()
                .r#type(t)
                .total(total)
                .estimated_monthly_cost(cost)
                .build()
        };
        let asked = |r: &aws_sdk_inspector2::operation::list_usage_totals::ListUsageTotalsInput| {
            r.account_ids() == ["111111111111", "222222222222"]
        };
        let first = mock!(Client::list_usage_totals)
            .match_requests(move |r| asked(r) && r.next_token().is_none())
            .then_output(move || {
                ListUsageTotalsOutput::builder()
                    .totals(
                        UsageTotal::builder()
                            .account_id("111111111111")
                            .usage(usage(UsageType::EcrInitialScan, 40.0, 3.6))
                            .usage(usage(UsageType::EcrRescan, 20000.0, 200.0))
                            .usage(usage(UsageType::Ec2InstanceHours, 700.0, 70.0))
                            .build(),
                    )
                    .next_token("t2")
                    .build()
            });
        let second = mock!(Client::list_usage_totals)
            .match_requests(move |r| asked(r) && r.next_token() == Some("t2"))
            .then_output(move || {
                ListUsageTotalsOutput::builder()
                    .totals(
                        UsageTotal::builder()
                            .account_id("222222222222")
                            .usage(usage(UsageType::EcrRescan, 4300.0, 43.0))
                            .build(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&first, &second]);
        let accounts = ["111111111111".to_string(), "222222222222".to_string()];
        let u = Inspector::new(client).ecr_usage(&accounts).await.unwrap();
        let one = u["111111111111"];
        assert_eq!((one.initial_scans, one.rescans), (40.0, 20000.0));
        assert_eq!(one.estimated_monthly_cost, Some(3.6 + 200.0));
        let two = u["222222222222"];
        assert_eq!((two.initial_scans, two.rescans), (0.0, 4300.0));
        assert_eq!(two.estimated_monthly_cost, Some(43.0));
        assert_eq!(u.len(), 2);
    }
}

#[tokio::test]
async fn inspector_throttling_is_absorbed_by_the_gatekeepers_retries() {
    let rule = mock!(Client::list_findings)
        .sequence()
        .error(|| throttling("Rate exceeded"))
        .times(2)
        .output(|| {
            ListFindingsOutput::builder()
                .findings(finding(1, Severity::Critical))
                .build()
        })
        .build();
    // The production settings, backoff shortened.
    let r = gatekeeper::adapters::Resilience {
        initial_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(10),
        ..Default::default()
    };
    let client = mock_client!(aws_sdk_inspector2, RuleMode::Sequential, [&rule], |c| c
        .retry_config(r.retry_config())
        .timeout_config(r.timeout_config()));
    let findings = image_findings(client).await.unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(
        rule.num_calls(),
        3,
        "two throttled attempts, then the answer"
    );
}

#[tokio::test]
async fn a_deployment_that_knows_its_account_reads_only_that_accounts_findings() {
    // A delegated administrator's ListFindings answers for every member: the same digest pushed to
    // several accounts would count each account's findings as this image's.
    let scoped_to = |r: &ListFindingsInput| {
        let accounts = r
            .filter_criteria()
            .map(|c| c.aws_account_id())
            .unwrap_or_default();
        (accounts.len() == 1 && has(accounts, "123456789012")).then_some(true)
    };
    let answer = |n: usize| {
        move || {
            let findings = (0..n).map(|i| finding(i, Severity::High)).collect();
            ListFindingsOutput::builder()
                .set_findings(Some(findings))
                .build()
        }
    };
    let own = mock!(Client::list_findings)
        .match_requests(move |r| filtered(r) && scoped_to(r) == Some(true))
        .then_output(answer(1));
    let own_vulnerability = mock!(Client::list_findings)
        .match_requests(move |r| {
            let c = r.filter_criteria();
            c.is_some_and(|c| has(c.vulnerability_id(), "CVE-2026-00001"))
                && scoped_to(r) == Some(true)
        })
        .then_output(answer(0));
    let everyone = mock!(Client::list_findings)
        .match_requests(|r| {
            filtered(r)
                && r.filter_criteria()
                    .is_some_and(|c| c.aws_account_id().is_empty())
        })
        .then_output(answer(3));
    let client = mock_client!(
        aws_sdk_inspector2,
        RuleMode::MatchAny,
        [&own, &own_vulnerability, &everyone]
    );
    let scoped = Inspector::new(client.clone()).for_account(Some("123456789012".into()));
    assert_eq!(scoped.image_findings(&image()).await.unwrap().len(), 1);
    assert!(
        scoped
            .images_with("CVE-2026-00001")
            .await
            .unwrap()
            .is_empty()
    );
    // Without an account (the CLI, a deployment not told its own): no account filter is sent.
    let unscoped = Inspector::new(client)
        .image_findings(&image())
        .await
        .unwrap();
    assert_eq!(unscoped.len(), 3);
    assert_eq!(
        (
            own.num_calls(),
            own_vulnerability.num_calls(),
            everyone.num_calls()
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn the_members_are_the_enabled_associated_accounts_of_every_page() {
    use aws_sdk_inspector2::operation::list_members::ListMembersOutput;
    use aws_sdk_inspector2::types::{Member, RelationshipStatus};
    let member = |account: &str, status: RelationshipStatus| {
        Member::builder()
            .account_id(account)
            .relationship_status(status)
            .build()
    };
    let first = mock!(Client::list_members)
        .match_requests(|r| r.only_associated() == Some(true) && r.next_token().is_none())
        .then_output(move || {
            ListMembersOutput::builder()
                .members(member("111111111111", RelationshipStatus::Enabled))
                .members(member("222222222222", RelationshipStatus::Disabled))
                .next_token("m1")
                .build()
        });
    let second = mock!(Client::list_members)
        .match_requests(|r| r.only_associated() == Some(true) && r.next_token() == Some("m1"))
        .then_output(move || {
            ListMembersOutput::builder()
                .members(member("333333333333", RelationshipStatus::Enabled))
                .members(member("444444444444", RelationshipStatus::Invited))
                .build()
        });
    let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&first, &second]);
    let members = Inspector::new(client).members().await.unwrap();
    assert_eq!(members, ["111111111111", "333333333333"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

mod kev_details {
    //! BatchGetFindingDetails (moto does not implement it): ten ARNs a call, cisaData read as KEV,
    //! details not found as "not in KEV", any other error refused.
    use super::*;
    use aws_sdk_inspector2::operation::batch_get_finding_details::{
        BatchGetFindingDetailsInput, BatchGetFindingDetailsOutput,
    };
    use aws_sdk_inspector2::types::{
        CisaData, FindingDetail, FindingDetailsError, FindingDetailsErrorCode,
    };

    fn arn(n: usize) -> String {
        format!("arn:aws:inspector2:eu-west-1:123456789012:finding/{n:032x}")
    }

    /// The details of a request's ARNs: the multiples of 7 in KEV, the multiples of 5 not found.
    fn answer(r: &BatchGetFindingDetailsInput) -> BatchGetFindingDetailsOutput {
        let mut out = BatchGetFindingDetailsOutput::builder();
        for a in r.finding_arns() {
            let n = usize::from_str_radix(a.rsplit('/').next().unwrap(), 16).unwrap();
            if n % 5 == 0 {
                out = out.errors(
                    FindingDetailsError::builder()
                        .finding_arn(a)
                        .error_code(FindingDetailsErrorCode::FindingDetailsNotFound)
                        .error_message("not found")
                        .build()
                        .unwrap(),
                );
                continue;
            }
            let mut d = FindingDetail::builder().finding_arn(a);
            if n % 7 == 0 {
                d = d.cisa_data(
                    CisaData::builder()
                        .date_added(DateTime::from_secs(1_700_000_000))
                        .date_due(DateTime::from_secs(1_700_000_000 + 21 * 86_400))
                        .build(),
                );
            }
            out = out.finding_details(d.build());
        }
        out.build()
    }

    #[tokio::test]
    async fn kev_entries_are_read_ten_findings_a_call() {
        let sizes = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let details = mock!(Client::batch_get_finding_details).then_compute_output(move |r| {
            seen.lock().unwrap().push(r.finding_arns().len());
            answer(r)
        });
        let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&details]);
        let arns: Vec<String> = (1..=25).map(arn).collect();
        let got = Inspector::new(client).kev_of(&arns).await.unwrap();
        assert_eq!(*sizes.lock().unwrap(), [10, 10, 5]);
        let answered: Vec<usize> = (1..=25).filter(|n| n % 5 != 0).collect();
        let arns_answered: Vec<String> = answered.iter().copied().map(arn).collect();
        let got_arns: Vec<String> = got.iter().map(|(a, _)| a.clone()).collect();
        assert_eq!(
            got_arns, arns_answered,
            "details not found are left out: not known"
        );
        let in_kev: Vec<&str> = (got.iter())
            .filter(|(_, k)| k.is_some())
            .map(|(a, _)| a.as_str())
            .collect();
        assert_eq!(in_kev, [arn(7), arn(14), arn(21)]);
        let kev = got
            .iter()
            .find(|(a, _)| *a == arn(7))
            .and_then(|(_, k)| *k)
            .unwrap();
        assert_eq!(kev.interval(), Some(21 * 86_400));
    }

    #[tokio::test]
    async fn details_refused_for_another_reason_are_an_error() {
        let denied = mock!(Client::batch_get_finding_details).then_output(|| {
            BatchGetFindingDetailsOutput::builder()
                .errors(
                    FindingDetailsError::builder()
                        .finding_arn(arn(1))
                        .error_code(FindingDetailsErrorCode::AccessDenied)
                        .error_message("no")
                        .build()
                        .unwrap(),
                )
                .build()
        });
        let client = mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, [&denied]);
        let e = Inspector::new(client).kev_of(&[arn(1)]).await.unwrap_err();
        assert_eq!(
            (e.operation, e.kind),
            ("inspector2:BatchGetFindingDetails", AwsErrorKind::Rejected)
        );
        assert_eq!(e.code.as_deref(), Some("ACCESS_DENIED"));
    }
}
