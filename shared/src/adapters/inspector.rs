//! Amazon Inspector adapter for [`FindingsSource`].

use std::collections::BTreeMap;

use aws_sdk_inspector2::Client;
use aws_sdk_inspector2::primitives::DateTime;
use aws_sdk_inspector2::types::builders::FilterCriteriaBuilder;
use aws_sdk_inspector2::types::{
    DateFilter, ExploitAvailable, FilterCriteria, Finding as SdkFinding, FindingDetailsErrorCode,
    FixAvailable as SdkFix, RelationshipStatus, StringComparison, StringFilter,
};

use super::{Pace, aws_error};
use crate::domain::{
    Finding, FindingStatus, FixAvailable, ImageRef, Kev, Package, Place, Severity,
};
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{FindingsSource, Window};

/// ListFindings pages hold at most 100 findings.
const PAGE_SIZE: i32 = 100;

/// BatchGetFindingDetails takes at most 10 finding ARNs a call.
const DETAILS_PER_CALL: usize = 10;

/// Inspector through the AWS SDK.
#[derive(Debug, Clone)]
pub struct Inspector {
    client: Client,
    pace: Pace,
    account: Option<String>,
    across_members: bool,
}

impl Inspector {
    /// Wraps a client, pacing its calls at [`INSPECTOR_TPS`] a second.
    pub fn new(client: Client) -> Inspector {
        Inspector {
            client,
            pace: Pace::per_second(INSPECTOR_TPS),
            account: None,
            across_members: false,
        }
    }

    /// The same, asking the queries across images (by vulnerability, by update time) for every
    /// account's findings: an Organization deployment, whose images are its members' too (each image
    /// found says its account, and the service keeps those it governs).
    pub fn across_members(self, across_members: bool) -> Inspector {
        Inspector {
            across_members,
            ..self
        }
    }

    /// The same, reading only the findings of `account` (a delegated administrator's ListFindings
    /// also returns its members', and one digest is often pushed to many accounts).
    pub fn for_account(self, account: Option<String>) -> Inspector {
        Inspector { account, ..self }
    }

    /// The account it reads for (its deployment's own), when known.
    pub fn own_account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The same, pacing its calls with `pace` (shared by every clone).
    pub fn paced(self, pace: Pace) -> Inspector {
        Inspector { pace, ..self }
    }
}

/// Inspector calls per second per container by default: its read limits are not published, and a
/// CVE update fans out to every container at once.
pub const INSPECTOR_TPS: f64 = 5.0;

fn equals(value: &str) -> Result<StringFilter, AwsError> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| AwsError::invalid("inspector2:ListFindings", e.to_string()))
}

/// The filter of one image's open findings: repository, digest, and ACTIVE or SUPPRESSED (suppressed
/// findings are shown, and count only where the policy opts in).
fn image_filter(image: &ImageRef) -> Result<FilterCriteriaBuilder, AwsError> {
    Ok(FilterCriteria::builder()
        .ecr_image_repository_name(equals(&image.repository)?)
        .ecr_image_hash(equals(&image.digest)?)
        .finding_status(equals("ACTIVE")?)
        .finding_status(equals("SUPPRESSED")?))
}

/// An SDK finding reduced to a [`Finding`]; unknown enum values fall to the cautious side.
pub fn finding_from_sdk(f: &SdkFinding) -> Finding {
    let details = f.package_vulnerability_details();
    let id = details
        .map(|d| d.vulnerability_id())
        .filter(|v| !v.is_empty())
        .or(f.title())
        .unwrap_or(f.finding_arn());
    let score = f.inspector_score();
    let (severity, severity_note) = Severity::resolve(
        f.severity().as_str(),
        score,
        details.and_then(|d| d.vendor_severity()),
    );
    let mut finding = Finding::new(id, severity);
    finding.severity_note = severity_note;
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
    finding.fix_available = f.fix_available().map(|x| match x {
        SdkFix::Yes => FixAvailable::Yes,
        SdkFix::No => FixAvailable::No,
        SdkFix::Partial => FixAvailable::Partial,
        _ => FixAvailable::parse(x.as_str()),
    });
    // Any value but NO counts as an exploit, the side that blocks.
    finding.exploit_available = f
        .exploit_available()
        .map(|x| !matches!(x, ExploitAvailable::No));
    finding.score = score;
    finding.epss = f.epss().map(|e| e.score());
    finding.first_observed = Some(f.first_observed_at().secs());
    finding.updated_at = f.updated_at().map(|t| t.secs());
    finding.in_use_count = f
        .resources()
        .iter()
        .filter_map(|r| r.details().and_then(|d| d.aws_ecr_container_image()))
        .filter_map(|i| i.in_use_count())
        .max()
        .map(|n| n.max(0) as u64);
    finding.last_in_use_at = f
        .resources()
        .iter()
        .filter_map(|r| r.details().and_then(|d| d.aws_ecr_container_image()))
        .filter_map(|i| i.last_in_use_at())
        .map(|t| t.secs())
        .max();
    finding
}

/// The filter of the ECR images with an open finding of one vulnerability.
fn vulnerability_filter(vulnerability: &str) -> Result<FilterCriteriaBuilder, AwsError> {
    Ok(FilterCriteria::builder()
        .resource_type(equals("AWS_ECR_CONTAINER_IMAGE")?)
        .vulnerability_id(equals(vulnerability)?)
        .finding_status(equals("ACTIVE")?)
        .finding_status(equals("SUPPRESSED")?))
}

/// The filter of ACTIVE ECR image findings at these severities updated in `[since, until]`.
fn updated_filter(window: &Window) -> Result<FilterCriteriaBuilder, AwsError> {
    let mut b = FilterCriteria::builder()
        .resource_type(equals("AWS_ECR_CONTAINER_IMAGE")?)
        .finding_status(equals("ACTIVE")?)
        .updated_at(
            DateFilter::builder()
                .start_inclusive(DateTime::from_secs(window.since))
                .end_inclusive(DateTime::from_secs(window.until))
                .build(),
        );
    for s in &window.severities {
        b = b.severity(equals(s.as_str())?);
    }
    Ok(b)
}

/// The ECR images a finding is about (repository, digest and tags from its resource details; the
/// finding's account and the resource's region, when Inspector names both).
fn images_of(f: &SdkFinding) -> impl Iterator<Item = ImageRef> + '_ {
    f.resources().iter().filter_map(|r| {
        let i = r.details().and_then(|d| d.aws_ecr_container_image())?;
        let place = match (f.aws_account_id(), r.region()) {
            (account, Some(region)) if !account.is_empty() && !region.is_empty() => Some(Place {
                account: account.to_string(),
                region: region.to_string(),
            }),
            _ => None,
        };
        Some(ImageRef {
            place,
            repository: i.repository_name().to_string(),
            digest: i.image_hash().to_string(),
            tags: i.image_tags().to_vec(),
        })
    })
}

impl Inspector {
    /// A paginator's next page, after one token of the pace (the paginator sends its request when
    /// `next` is awaited, so each page waits its turn).
    async fn next_paced<T>(&self, next: impl Future<Output = Option<T>>) -> Option<T> {
        self.pace.take().await;
        next.await
    }

    /// Every finding under `filter` of `account` (any account's when `None`), all pages, each read
    /// through `read`.
    async fn list<T>(
        &self,
        mut filter: FilterCriteriaBuilder,
        account: Option<&str>,
        read: impl Fn(&SdkFinding) -> T,
    ) -> Result<Vec<T>, AwsError> {
        if let Some(account) = account {
            filter = filter.aws_account_id(equals(account)?);
        }
        let mut pages = self
            .client
            .list_findings()
            .filter_criteria(filter.build())
            .max_results(PAGE_SIZE)
            .into_paginator()
            .send();
        let mut findings = Vec::new();
        while let Some(page) = self.next_paced(pages.next()).await {
            let page = page.map_err(|e| aws_error("inspector2:ListFindings", e))?;
            findings.extend(page.findings().iter().map(&read));
        }
        Ok(findings)
    }

    /// The distinct images of the findings under `filter`, in the order first seen.
    async fn images(&self, filter: FilterCriteriaBuilder) -> Result<Vec<ImageRef>, AwsError> {
        let found = self
            .list(
                filter,
                self.account.as_deref().filter(|_| !self.across_members),
                |f| images_of(f).collect::<Vec<_>>(),
            )
            .await?;
        let mut seen = std::collections::HashSet::new();
        Ok(found
            .into_iter()
            .flatten()
            .filter(|i| seen.insert((i.place.clone(), i.repository.clone(), i.digest.clone())))
            .collect())
    }
}

impl FindingsSource for Inspector {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        // A member's image: that member's findings (the delegated administrator sees them all).
        let account = match &image.place {
            Some(p) => Some(p.account.as_str()),
            None => self.account.as_deref(),
        };
        self.list(image_filter(image)?, account, finding_from_sdk)
            .await
    }

    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        self.images(vulnerability_filter(vulnerability)?).await
    }

    async fn images_updated(&self, window: &Window) -> Result<Vec<ImageRef>, AwsError> {
        self.images(updated_filter(window)?).await
    }

    async fn kev_of(&self, arns: &[String]) -> Result<Vec<(String, Option<Kev>)>, AwsError> {
        let mut out = Vec::with_capacity(arns.len());
        for chunk in arns.chunks(DETAILS_PER_CALL) {
            self.pace.take().await;
            let page = (self.client.batch_get_finding_details())
                .set_finding_arns(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error("inspector2:BatchGetFindingDetails", e))?;
            if let Some(e) = (page.errors().iter())
                .find(|e| e.error_code() != &FindingDetailsErrorCode::FindingDetailsNotFound)
            {
                let kind = match e.error_code() {
                    FindingDetailsErrorCode::InternalError => AwsErrorKind::Transient,
                    _ => AwsErrorKind::Rejected,
                };
                return Err(AwsError {
                    operation: "inspector2:BatchGetFindingDetails",
                    code: Some(e.error_code().as_str().to_string()),
                    message: format!("{}: {}", e.finding_arn(), e.error_message()),
                    kind,
                });
            }
            let found: std::collections::HashMap<&str, Option<Kev>> =
                (page.finding_details().iter())
                    .filter_map(|d| {
                        let kev = d.cisa_data().map(|c| Kev {
                            added: c.date_added().map(|t| t.secs()),
                            due: c.date_due().map(|t| t.secs()),
                            unknown: false,
                        });
                        Some((d.finding_arn()?, kev))
                    })
                    .collect();
            // Details without cisaData: not in KEV; not found (or not answered): left out, not known.
            out.extend(
                (chunk.iter()).filter_map(|arn| Some((arn.clone(), *found.get(arn.as_str())?))),
            );
        }
        Ok(out)
    }

    async fn members(&self) -> Result<Vec<String>, AwsError> {
        // One call per sweep, a page of 50 members each: paced once.
        self.pace.take().await;
        let all = (self.client.list_members().only_associated(true))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| aws_error("inspector2:ListMembers", e))?;
        Ok((all.iter())
            .filter(|m| m.relationship_status() == Some(&RelationshipStatus::Enabled))
            .filter_map(|m| m.account_id().map(str::to_string))
            .collect())
    }
}

/// Inspector's coverage and usage, for the cost report (read only).
impl Inspector {
    /// The coverage filter of ECR images, of `account` only when given.
    fn ecr_images_filter(
        account: Option<&str>,
    ) -> Result<aws_sdk_inspector2::types::CoverageFilterCriteria, AwsError> {
        let filter = |value: &str| {
            aws_sdk_inspector2::types::CoverageStringFilter::builder()
                .comparison(aws_sdk_inspector2::types::CoverageStringComparison::Equals)
                .value(value)
                .build()
                .map_err(|e| AwsError::invalid("inspector2:ListCoverage", e.to_string()))
        };
        let mut criteria = aws_sdk_inspector2::types::CoverageFilterCriteria::builder()
            .resource_type(filter("AWS_ECR_CONTAINER_IMAGE")?);
        if let Some(account) = account {
            criteria = criteria.account_id(filter(account)?);
        }
        Ok(criteria.build())
    }

    /// ListCoverage of ECR images, all pages, each with its account: the deployment's own account's
    /// only, unless it governs its Organization's members (a delegated administrator's coverage
    /// spans every member; the caller tells them apart).
    pub async fn ecr_coverage(
        &self,
    ) -> Result<Vec<(String, crate::outbound::cost::CoveredImage)>, AwsError> {
        let account = self.account.as_deref().filter(|_| !self.across_members);
        let mut pages = self
            .client
            .list_coverage()
            .filter_criteria(Self::ecr_images_filter(account)?)
            .max_results(200)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = self.next_paced(pages.next()).await {
            let page = page.map_err(|e| aws_error("inspector2:ListCoverage", e))?;
            out.extend(page.covered_resources().iter().filter_map(covered_image));
        }
        Ok(out)
    }

    /// ListUsageTotals of `accounts` (all the caller may see when empty): each account's ECR initial
    /// scans and rescans over the trailing 30 days, all pages.
    pub async fn ecr_usage(
        &self,
        accounts: &[String],
    ) -> Result<BTreeMap<String, crate::outbound::cost::Usage>, AwsError> {
        let mut usage: BTreeMap<String, crate::outbound::cost::Usage> = BTreeMap::new();
        let chunks: Vec<&[String]> = match accounts.is_empty() {
            true => vec![&[]],
            false => accounts.chunks(USAGE_ACCOUNTS_PER_CALL).collect(),
        };
        for chunk in chunks {
            let ids = (!chunk.is_empty()).then(|| chunk.to_vec());
            let mut pages = (self.client.list_usage_totals().set_account_ids(ids))
                .into_paginator()
                .send();
            while let Some(page) = self.next_paced(pages.next()).await {
                let page = page.map_err(|e| aws_error("inspector2:ListUsageTotals", e))?;
                for total in page.totals() {
                    let account = total.account_id().unwrap_or_default().to_string();
                    add_usage(usage.entry(account).or_default(), total.usage());
                }
            }
        }
        Ok(usage)
    }
}

/// ListUsageTotals takes at most this many account ids a call.
const USAGE_ACCOUNTS_PER_CALL: usize = 7000;

/// Adds one account's ECR scan usage to `to` (Inspector's estimate only where it gives one).
fn add_usage(to: &mut crate::outbound::cost::Usage, usage: &[aws_sdk_inspector2::types::Usage]) {
    for u in usage {
        match u.r#type().map_or("", |t| t.as_str()) {
            "ECR_INITIAL_SCAN" => to.initial_scans += u.total(),
            "ECR_RESCAN" => to.rescans += u.total(),
            _ => continue,
        }
        if u.estimated_monthly_cost() > 0.0 {
            *to.estimated_monthly_cost.get_or_insert(0.0) += u.estimated_monthly_cost();
        }
    }
}

/// One covered ECR image and its account, from its resource id
/// (`arn:aws:ecr:<region>:<account>:repository/<name>/sha256:<hex>`); `None` for another shape.
fn covered_image(
    c: &aws_sdk_inspector2::types::CoveredResource,
) -> Option<(String, crate::outbound::cost::CoveredImage)> {
    let (repo, digest) = c
        .resource_id()
        .split_once(":repository/")
        .and_then(|(_, rest)| rest.rsplit_once('/'))?;
    let image = c.resource_metadata().and_then(|m| m.ecr_image());
    let covered = crate::outbound::cost::CoveredImage {
        repository: repo.to_string(),
        digest: digest.to_string(),
        status: c
            .scan_status()
            .map_or(String::new(), |s| s.status_code().as_str().to_string()),
        reason: c
            .scan_status()
            .map_or(String::new(), |s| s.reason().as_str().to_string()),
        pushed_at: None,
        pulled_at: image.and_then(|i| i.image_pulled_at()).map(|t| t.secs()),
        last_in_use_at: image.and_then(|i| i.last_in_use_at()).map(|t| t.secs()),
        in_use_count: image
            .and_then(|i| i.in_use_count())
            .map(|n| n.max(0) as u64),
        last_scanned_at: c.last_scanned_at().map(|t| t.secs()),
    };
    Some((c.account_id().to_string(), covered))
}
