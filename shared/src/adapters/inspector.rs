//! Amazon Inspector adapter for [`FindingsSource`].

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::primitives::DateTime;
use aws_sdk_inspector2::types::{
    DateFilter, ExploitAvailable, FilterCriteria, Finding as SdkFinding, FixAvailable as SdkFix,
    StringComparison, StringFilter,
};

use super::aws_error;
use crate::domain::{Finding, FindingStatus, FixAvailable, ImageRef, Package, Severity};
use crate::error::AwsError;
use crate::ports::FindingsSource;
use crate::time::Epoch;

/// ListFindings pages hold at most 100 findings.
const PAGE_SIZE: i32 = 100;

/// Inspector through the AWS SDK.
#[derive(Debug, Clone)]
pub struct Inspector {
    client: Client,
}

impl Inspector {
    /// Wraps a client.
    pub fn new(client: Client) -> Inspector {
        Inspector { client }
    }
}

fn equals(value: &str) -> Result<StringFilter, AwsError> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| AwsError::invalid("inspector2:ListFindings", e.to_string()))
}

/// The filter of one image's open findings: repository, digest, and ACTIVE or SUPPRESSED (suppressed
/// findings are shown, and count only where the policy opts in).
pub fn image_filter(image: &ImageRef) -> Result<FilterCriteria, AwsError> {
    Ok(FilterCriteria::builder()
        .ecr_image_repository_name(equals(&image.repository)?)
        .ecr_image_hash(equals(&image.digest)?)
        .finding_status(equals("ACTIVE")?)
        .finding_status(equals("SUPPRESSED")?)
        .build())
}

/// An SDK finding reduced to a [`Finding`]; unknown enum values fall to the cautious side.
pub fn finding_from_sdk(f: &SdkFinding) -> Finding {
    let details = f.package_vulnerability_details();
    let id = details
        .map(|d| d.vulnerability_id())
        .filter(|v| !v.is_empty())
        .or(f.title())
        .unwrap_or(f.finding_arn());
    let mut finding = Finding::new(
        id,
        Severity::parse(f.severity().as_str()).unwrap_or(Severity::Untriaged),
    );
    finding.arn = Some(f.finding_arn().to_string());
    finding.status = FindingStatus::parse(f.status().as_str());
    finding.packages = details
        .map(|d| {
            d.vulnerable_packages()
                .iter()
                .map(|p| Package {
                    name: p.name().to_string(),
                    version: Some(match p.release() {
                        Some(r) if !r.is_empty() => format!("{}-{r}", p.version()),
                        _ => p.version().to_string(),
                    }),
                    fixed_in: p
                        .fixed_in_version()
                        .filter(|v| !v.is_empty() && *v != "NotAvailable")
                        .map(str::to_string),
                })
                .collect()
        })
        .unwrap_or_default();
    finding.fix_available = f.fix_available().and_then(|x| match x {
        SdkFix::Yes => Some(FixAvailable::Yes),
        SdkFix::No => Some(FixAvailable::No),
        SdkFix::Partial => Some(FixAvailable::Partial),
        _ => FixAvailable::parse(x.as_str()),
    });
    finding.exploit_available = f.exploit_available().and_then(|x| match x {
        ExploitAvailable::Yes => Some(true),
        ExploitAvailable::No => Some(false),
        _ => None,
    });
    finding.score = f.inspector_score();
    finding.epss = f.epss().map(|e| e.score());
    finding.first_observed = Some(f.first_observed_at().secs());
    finding.in_use_count = f
        .resources()
        .iter()
        .filter_map(|r| r.details().and_then(|d| d.aws_ecr_container_image()))
        .filter_map(|i| i.in_use_count())
        .max()
        .map(|n| n.max(0) as u64);
    finding
}

/// The filter of the ECR images with an open finding of one vulnerability.
pub fn vulnerability_filter(vulnerability: &str) -> Result<FilterCriteria, AwsError> {
    Ok(FilterCriteria::builder()
        .resource_type(equals("AWS_ECR_CONTAINER_IMAGE")?)
        .vulnerability_id(equals(vulnerability)?)
        .finding_status(equals("ACTIVE")?)
        .finding_status(equals("SUPPRESSED")?)
        .build())
}

/// The filter of ACTIVE ECR image findings at these severities updated in `[since, until]`.
pub fn updated_filter(
    since: Epoch,
    until: Epoch,
    severities: &[Severity],
) -> Result<FilterCriteria, AwsError> {
    let mut b = FilterCriteria::builder()
        .resource_type(equals("AWS_ECR_CONTAINER_IMAGE")?)
        .finding_status(equals("ACTIVE")?)
        .updated_at(
            DateFilter::builder()
                .start_inclusive(DateTime::from_secs(since))
                .end_inclusive(DateTime::from_secs(until))
                .build(),
        );
    for s in severities {
        b = b.severity(equals(s.as_str())?);
    }
    Ok(b.build())
}

/// The ECR images a finding is about (repository, digest and tags from its resource details).
fn images_of(f: &SdkFinding) -> impl Iterator<Item = ImageRef> + '_ {
    f.resources()
        .iter()
        .filter_map(|r| r.details().and_then(|d| d.aws_ecr_container_image()))
        .map(|i| ImageRef {
            repository: i.repository_name().to_string(),
            digest: i.image_hash().to_string(),
            tags: i.image_tags().to_vec(),
        })
}

impl Inspector {
    /// Every finding under `filter`, all pages.
    async fn list(&self, filter: FilterCriteria) -> Result<Vec<SdkFinding>, AwsError> {
        let mut pages = self
            .client
            .list_findings()
            .filter_criteria(filter)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut findings = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("inspector2:ListFindings", e))?;
            findings.extend(page.findings().iter().cloned());
        }
        Ok(findings)
    }

    /// The distinct images of the findings under `filter`.
    async fn images(&self, filter: FilterCriteria) -> Result<Vec<ImageRef>, AwsError> {
        let mut out: Vec<ImageRef> = Vec::new();
        for f in self.list(filter).await? {
            for image in images_of(&f) {
                if !out
                    .iter()
                    .any(|o| o.repository == image.repository && o.digest == image.digest)
                {
                    out.push(image);
                }
            }
        }
        Ok(out)
    }
}

impl FindingsSource for Inspector {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        let filter = image_filter(image)?;
        let mut pages = self
            .client
            .list_findings()
            .filter_criteria(filter)
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut findings = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("inspector2:ListFindings", e))?;
            findings.extend(page.findings().iter().map(finding_from_sdk));
        }
        Ok(findings)
    }

    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        self.images(vulnerability_filter(vulnerability)?).await
    }

    async fn images_updated(
        &self,
        since: Epoch,
        until: Epoch,
        severities: &[Severity],
    ) -> Result<Vec<ImageRef>, AwsError> {
        self.images(updated_filter(since, until, severities)?).await
    }
}
