//! Amazon Inspector adapter for [`FindingsSource`].

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::types::{
    ExploitAvailable, FilterCriteria, Finding as SdkFinding, FixAvailable as SdkFix,
    StringComparison, StringFilter,
};

use super::aws_error;
use crate::domain::{Finding, FindingStatus, FixAvailable, ImageRef, Package, Severity};
use crate::error::AwsError;
use crate::ports::FindingsSource;

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
}
