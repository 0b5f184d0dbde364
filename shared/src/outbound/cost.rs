//! What Inspector's scanning of ECR images costs, what runs, and what to change: the arithmetic of
//! `gatekeeper cost` and of the weekly digest. Pure: the caller reads Inspector's coverage and usage
//! and ECR's repositories and images; this estimates, suggests and renders. It only reads: every
//! suggestion is printed as the exact change to make, never applied.
//!
//! How the figures are derived (and labelled as estimates): ListUsageTotals gives the account's ECR
//! initial scans and rescans over the trailing 30 days; rescans are shared among the images that are
//! monitored continuously (ACTIVE coverage in a CONTINUOUS_SCAN repository), equally, to estimate a
//! repository's share and what a change would save. Prices are parameters (defaults: the public price
//! of $0.09 per initial scan and $0.01 per rescan).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use crate::domain::Place;
use crate::domain::escape::line;
use crate::domain::time::{DAY, Epoch, format_date, format_rfc3339};
use crate::outbound::chat::{Card, code, prose};
use crate::outbound::notice::{EventType, Message, SCHEMA_VERSION, dedup_key};
use crate::outbound::text::{escape_markup, subject_line};

/// The window ListUsageTotals covers.
pub const USAGE_WINDOW_DAYS: i64 = 30;
/// Days in the projected month.
const MONTH_DAYS: f64 = 30.0;
/// Rescan durations Inspector offers (days), for the "shorter rescan duration" suggestion.
const DURATIONS: [i64; 5] = [14, 30, 60, 90, 180];
/// How many suggestions of one kind are listed.
const MAX_SUGGESTIONS: usize = 5;

/// Prices in USD (parameters, with the public prices as defaults).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Pricing {
    /// One initial scan of an image.
    pub initial_scan: f64,
    /// One rescan of an image.
    pub rescan: f64,
}

impl Default for Pricing {
    fn default() -> Pricing {
        Pricing {
            initial_scan: 0.09,
            rescan: 0.01,
        }
    }
}

/// One image of a repository, as ECR lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// Digest.
    pub digest: String,
    /// Whether it has a tag.
    pub tagged: bool,
    /// Push time.
    pub pushed_at: Option<Epoch>,
    /// Last recorded pull.
    pub pulled_at: Option<Epoch>,
    /// Whether ECR reports a scan status for it.
    pub scanned: bool,
}

/// One repository: its effective scan frequency and its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryFacts {
    /// Name.
    pub name: String,
    /// CONTINUOUS_SCAN, SCAN_ON_PUSH or MANUAL.
    pub frequency: String,
    /// Basic scan on push.
    pub scan_on_push: bool,
    /// Its images.
    pub images: Vec<ImageFacts>,
}

/// One ECR image in Inspector's coverage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoveredImage {
    /// Repository.
    pub repository: String,
    /// Digest.
    pub digest: String,
    /// ACTIVE or INACTIVE.
    pub status: String,
    /// Why (PENDING_INITIAL_SCAN, SCAN_ELIGIBILITY_EXPIRED, ...).
    pub reason: String,
    /// Push time.
    pub pushed_at: Option<Epoch>,
    /// Last pull.
    pub pulled_at: Option<Epoch>,
    /// Last time a running task or pod used it.
    pub last_in_use_at: Option<Epoch>,
    /// Running tasks or pods using it now.
    pub in_use_count: Option<u64>,
    /// Last scan.
    pub last_scanned_at: Option<Epoch>,
}

/// ListUsageTotals for ECR scanning (the account, the trailing 30 days).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Usage {
    /// ECR_INITIAL_SCAN total.
    pub initial_scans: f64,
    /// ECR_RESCAN total.
    pub rescans: f64,
    /// Inspector's own estimate of the month, when it gives one.
    pub estimated_monthly_cost: Option<f64>,
}

/// Everything the report is computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CostInputs {
    /// The registry scan type is ENHANCED.
    pub enhanced: bool,
    /// The registry scanning rules, as JSON (for the exact command that changes them).
    pub rules_json: String,
    /// Repositories and their images.
    pub repositories: Vec<RepositoryFacts>,
    /// Inspector's coverage of ECR images.
    pub coverage: Vec<CoveredImage>,
    /// Usage totals, when Inspector answers.
    pub usage: Option<Usage>,
}

/// One repository's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepositoryCost {
    /// Name.
    pub repository: String,
    /// Effective frequency.
    pub frequency: String,
    /// Images monitored by Inspector.
    pub covered: u64,
    /// Of those, used by a running task or pod within the period.
    pub in_use: u64,
    /// Estimated monthly cost of its rescans (a share of the account's).
    pub estimated_monthly: f64,
}

/// A change that would cost less, and the exact way to make it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Saving {
    /// What.
    pub what: String,
    /// How many images stop being rescanned.
    pub images: u64,
    /// Estimated saving per month (USD).
    pub monthly: f64,
    /// The exact change: a CLI call or a SAM / Terraform setting.
    pub how: String,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostReport {
    /// The member account it is about (absent: the deployment's own account).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// That member's region (absent with `account`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// When.
    pub generated_at: String,
    /// The period asked for (days).
    pub days: i64,
    /// Prices used.
    pub pricing: Pricing,
    /// ENHANCED or BASIC.
    pub scan_type: &'static str,
    /// Images monitored by Inspector (ACTIVE coverage).
    pub covered_images: u64,
    /// Covered images by the repository's scan frequency.
    pub covered_by_frequency: BTreeMap<String, u64>,
    /// Covered images by scan status reason (SUCCESSFUL, PENDING_INITIAL_SCAN, ...).
    pub coverage_statistics: BTreeMap<String, u64>,
    /// Covered images used by a running task or pod within the period.
    pub in_use: u64,
    /// Estimated rescans within the period (account usage scaled to the period).
    pub rescans_in_period: Option<f64>,
    /// Their estimated cost.
    pub rescan_cost_in_period: Option<f64>,
    /// Projected monthly cost of ECR scanning (Inspector's estimate when given, else the usage times
    /// the prices).
    pub projected_monthly: Option<f64>,
    /// How the figures were derived.
    pub method: Vec<String>,
    /// The costliest repositories (estimates).
    pub repositories: Vec<RepositoryCost>,
    /// Changes that would cost less.
    pub savings: Vec<Saving>,
    /// Private repositories with no scanning at all (Security Hub control ECR.1).
    pub unscanned_repositories: Vec<String>,
    /// Images pushed more than a day ago and never scanned.
    pub never_scanned: Vec<String>,
}

fn recent(t: Option<Epoch>, since: Epoch) -> bool {
    t.is_some_and(|t| t >= since)
}

/// Rounded to cents (an empty sum's -0.0 as 0).
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0 + 0.0
}

/// Computes the report at `now` for the last `days` days.
pub fn report(inputs: &CostInputs, pricing: Pricing, now: Epoch, days: i64) -> CostReport {
    let days = days.max(1);
    let fleet = Fleet::gather(inputs, now - days * DAY);
    let mut method = vec![format!(
        "prices: ${:.2} per initial scan, ${:.2} per rescan (parameters)",
        pricing.initial_scan, pricing.rescan
    )];
    let estimate = estimate(inputs.usage, pricing, days, &mut method);
    method.push(format!(
        "per repository and savings: the account's rescans shared equally by the {} image(s) monitored continuously (estimates)",
        fleet.continuous.len()
    ));
    let share = if fleet.continuous.is_empty() {
        0.0
    } else {
        estimate.rescan_monthly / fleet.continuous.len() as f64
    };
    let mut savings = shorter_duration_savings(&fleet, share, now);
    savings.extend(scan_on_push_savings(inputs, &fleet, share, days));
    savings.extend(lifecycle_savings(inputs, &fleet, share, now));
    CostReport {
        account: None,
        region: None,
        generated_at: format_rfc3339(now),
        days,
        pricing,
        scan_type: if inputs.enhanced { "ENHANCED" } else { "BASIC" },
        covered_images: fleet.active.len() as u64,
        covered_by_frequency: fleet.by_frequency(),
        coverage_statistics: statistics(&inputs.coverage),
        in_use: fleet.active.iter().filter(|c| fleet.used(c)).count() as u64,
        rescans_in_period: estimate.rescans_in_period,
        rescan_cost_in_period: estimate.rescan_cost,
        projected_monthly: estimate.projected,
        method,
        repositories: costliest_repositories(inputs, &fleet, share),
        savings,
        unscanned_repositories: unscanned_repositories(inputs),
        never_scanned: never_scanned(inputs, now),
    }
}

/// Covered images counted by scan status reason (what ListCoverageStatistics grouped by reason
/// answers, without another call per account).
fn statistics(coverage: &[CoveredImage]) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for c in coverage {
        let reason = if c.reason.is_empty() {
            "UNKNOWN"
        } else {
            &c.reason
        };
        *out.entry(reason.to_string()).or_default() += 1;
    }
    out
}

/// The images Inspector monitors, as the report looks at them over its period.
struct Fleet<'a> {
    /// Each repository's effective scan frequency.
    frequency: BTreeMap<&'a str, &'a str>,
    /// Images with ACTIVE coverage.
    active: Vec<&'a CoveredImage>,
    /// Of those, the ones in a CONTINUOUS_SCAN repository: the ones that are rescanned.
    continuous: Vec<&'a CoveredImage>,
    /// The start of the period.
    since: Epoch,
}

impl<'a> Fleet<'a> {
    /// Gathers the covered images of `inputs` and their repositories' frequencies.
    fn gather(inputs: &'a CostInputs, since: Epoch) -> Fleet<'a> {
        let frequency: BTreeMap<&str, &str> = inputs
            .repositories
            .iter()
            .map(|r| (r.name.as_str(), r.frequency.as_str()))
            .collect();
        let active: Vec<&CoveredImage> = inputs
            .coverage
            .iter()
            .filter(|c| c.status.eq_ignore_ascii_case("ACTIVE"))
            .collect();
        let continuous: Vec<&CoveredImage> = active
            .iter()
            .copied()
            .filter(|c| frequency.get(c.repository.as_str()) == Some(&"CONTINUOUS_SCAN"))
            .collect();
        Fleet {
            frequency,
            active,
            continuous,
            since,
        }
    }

    /// Whether a running task or pod uses the image now or did within the period.
    fn used(&self, c: &CoveredImage) -> bool {
        c.in_use_count.unwrap_or(0) > 0 || recent(c.last_in_use_at, self.since)
    }

    /// Covered images by their repository's frequency (UNKNOWN for a repository not listed).
    fn by_frequency(&self) -> BTreeMap<String, u64> {
        let mut by_frequency: BTreeMap<String, u64> = BTreeMap::new();
        for c in &self.active {
            *by_frequency
                .entry(
                    self.frequency
                        .get(c.repository.as_str())
                        .unwrap_or(&"UNKNOWN")
                        .to_string(),
                )
                .or_default() += 1;
        }
        by_frequency
    }
}

/// The cost figures that usage gives, each `None` when Inspector did not answer.
struct Estimate {
    /// Rescans within the period.
    rescans_in_period: Option<f64>,
    /// Their cost.
    rescan_cost: Option<f64>,
    /// The projected month of ECR scanning.
    projected: Option<f64>,
    /// The monthly cost of rescans alone (0 without usage): what the savings share out.
    rescan_monthly: f64,
}

/// Estimates the period's and the month's costs from the account's usage, saying how in `method`.
fn estimate(
    usage: Option<Usage>,
    pricing: Pricing,
    days: i64,
    method: &mut Vec<String>,
) -> Estimate {
    let Some(u) = usage else {
        method.push(
            "usage: ListUsageTotals did not answer (Inspector not enabled, or no permission): no cost figures".into(),
        );
        return Estimate {
            rescans_in_period: None,
            rescan_cost: None,
            projected: None,
            rescan_monthly: 0.0,
        };
    };
    let per_day = u.rescans / USAGE_WINDOW_DAYS as f64;
    let rescan_monthly = per_day * MONTH_DAYS * pricing.rescan;
    let computed = rescan_monthly
        + u.initial_scans / USAGE_WINDOW_DAYS as f64 * MONTH_DAYS * pricing.initial_scan;
    method.push(format!(
        "usage: ListUsageTotals, the whole account over the trailing {USAGE_WINDOW_DAYS} days ({:.0} initial scans, {:.0} rescans); the period's rescans are that rate times {days} day(s)",
        u.initial_scans, u.rescans
    ));
    let projected = match u.estimated_monthly_cost {
        Some(e) => {
            method.push("projected month: Inspector's own estimate (ListUsageTotals)".into());
            e
        }
        None => {
            method
                .push("projected month: the trailing rates times 30 days times the prices".into());
            computed
        }
    };
    Estimate {
        rescans_in_period: Some(round2(per_day * days as f64)),
        rescan_cost: Some(round2(per_day * days as f64 * pricing.rescan)),
        projected: Some(round2(projected)),
        rescan_monthly,
    }
}

/// The ten costliest repositories with covered images, each charged `share` per continuously
/// monitored image.
fn costliest_repositories(
    inputs: &CostInputs,
    fleet: &Fleet<'_>,
    share: f64,
) -> Vec<RepositoryCost> {
    let mut repositories: Vec<RepositoryCost> = inputs
        .repositories
        .iter()
        .map(|r| {
            let covered: Vec<&&CoveredImage> = fleet
                .active
                .iter()
                .filter(|c| c.repository == r.name)
                .collect();
            let continuous_here = if r.frequency == "CONTINUOUS_SCAN" {
                covered.len()
            } else {
                0
            };
            RepositoryCost {
                repository: r.name.clone(),
                frequency: r.frequency.clone(),
                covered: covered.len() as u64,
                in_use: covered.iter().filter(|c| fleet.used(c)).count() as u64,
                estimated_monthly: round2(share * continuous_here as f64),
            }
        })
        .filter(|r| r.covered > 0)
        .collect();
    repositories.sort_by(|a, b| {
        b.estimated_monthly
            .total_cmp(&a.estimated_monthly)
            .then(b.covered.cmp(&a.covered))
    });
    repositories.truncate(10);
    repositories
}

/// A shorter rescan duration (at most three of them): images neither pushed, pulled nor used
/// within D days stop being rescanned.
fn shorter_duration_savings(fleet: &Fleet<'_>, share: f64, now: Epoch) -> Vec<Saving> {
    let mut savings = Vec::new();
    for d in DURATIONS {
        let cut = now - d * DAY;
        let idle = fleet
            .continuous
            .iter()
            .filter(|c| {
                !recent(c.pushed_at, cut)
                    && !recent(c.pulled_at, cut)
                    && !recent(c.last_in_use_at, cut)
                    && c.in_use_count.unwrap_or(0) == 0
            })
            .count() as u64;
        if idle > 0 {
            savings.push(Saving {
                what: format!(
                    "rescan only images pushed, pulled or used in the last {d} days"
                ),
                images: idle,
                monthly: round2(share * idle as f64),
                how: format!(
                    "aws inspector2 update-configuration --ecr-configuration '{{\"rescanDuration\":\"DAYS_{d}\",\"pullDateRescanDuration\":\"DAYS_{d}\",\"pullDateRescanMode\":\"LAST_IN_USE_AT\"}}'"
                ),
            });
        }
        if savings.len() >= 3 {
            break;
        }
    }
    savings
}

/// Repositories whose images nobody pushed, pulled or ran within the period: scan on push only.
fn scan_on_push_savings(
    inputs: &CostInputs,
    fleet: &Fleet<'_>,
    share: f64,
    days: i64,
) -> Vec<Saving> {
    let since = fleet.since;
    let mut idle_repos: Vec<(String, u64)> = inputs
        .repositories
        .iter()
        .filter(|r| r.frequency == "CONTINUOUS_SCAN")
        .filter_map(|r| {
            let covered: Vec<&&CoveredImage> = fleet
                .continuous
                .iter()
                .filter(|c| c.repository == r.name)
                .collect();
            let busy = covered
                .iter()
                .any(|c| fleet.used(c) || recent(c.pushed_at, since) || recent(c.pulled_at, since));
            (!covered.is_empty() && !busy).then(|| (r.name.clone(), covered.len() as u64))
        })
        .collect();
    idle_repos.sort_by_key(|r| std::cmp::Reverse(r.1));
    idle_repos
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(repo, n)| Saving {
            what: format!("scan {repo} on push only (nothing pushed, pulled or run there in {days} days)"),
            images: n,
            monthly: round2(share * n as f64),
            how: format!(
                "narrow the CONTINUOUS_SCAN rule's repository filters so that {repo} no longer matches (a repository matching both is scanned continuously) and add it to a SCAN_ON_PUSH rule: aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules '<the current rules, changed>' (current: {}); with this project's SAM template or Terraform module: RegistryScanFrequency / registry_scan_frequency and RegistryScanFilter / registry_scan_filter",
                inputs.rules_json
            ),
        })
        .collect()
}

/// Untagged images that nothing runs, older than 14 days: a lifecycle rule would expire them.
fn lifecycle_savings(
    inputs: &CostInputs,
    fleet: &Fleet<'_>,
    share: f64,
    now: Epoch,
) -> Vec<Saving> {
    let cut = now - 14 * DAY;
    let mut expirable: BTreeMap<&str, u64> = BTreeMap::new();
    let running: std::collections::HashSet<(&str, &str)> = fleet
        .active
        .iter()
        .filter(|c| fleet.used(c))
        .map(|c| (c.repository.as_str(), c.digest.as_str()))
        .collect();
    let covered_set: std::collections::HashSet<(&str, &str)> = fleet
        .continuous
        .iter()
        .map(|c| (c.repository.as_str(), c.digest.as_str()))
        .collect();
    for r in &inputs.repositories {
        for i in &r.images {
            let key = (r.name.as_str(), i.digest.as_str());
            if !i.tagged
                && !recent(i.pushed_at, cut)
                && !running.contains(&key)
                && covered_set.contains(&key)
            {
                *expirable.entry(r.name.as_str()).or_default() += 1;
            }
        }
    }
    let mut expirable: Vec<(&str, u64)> = expirable.into_iter().collect();
    expirable.sort_by_key(|r| std::cmp::Reverse(r.1));
    expirable
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(repo, n)| Saving {
            what: format!("expire untagged images older than 14 days in {repo}"),
            images: n,
            monthly: round2(share * n as f64),
            how: format!(
                "aws ecr put-lifecycle-policy --repository-name {repo} --lifecycle-policy-text '{{\"rules\":[{{\"rulePriority\":1,\"description\":\"expire untagged after 14 days\",\"selection\":{{\"tagStatus\":\"untagged\",\"countType\":\"sinceImagePushed\",\"countUnit\":\"days\",\"countNumber\":14}},\"action\":{{\"type\":\"expire\"}}}}]}}' (preview it first: aws ecr start-lifecycle-policy-preview; this report does not run previews)"
            ),
        })
        .collect()
}

/// Private repositories with no scanning at all (Security Hub control ECR.1).
fn unscanned_repositories(inputs: &CostInputs) -> Vec<String> {
    inputs
        .repositories
        .iter()
        .filter(|r| {
            if inputs.enhanced {
                r.frequency == "MANUAL"
            } else {
                !r.scan_on_push && r.frequency != "SCAN_ON_PUSH"
            }
        })
        .map(|r| r.name.clone())
        .collect()
}

/// Images pushed more than a day before `now` that neither ECR nor Inspector ever scanned.
fn never_scanned(inputs: &CostInputs, now: Epoch) -> Vec<String> {
    let scanned_by_inspector: std::collections::HashSet<(&str, &str)> = inputs
        .coverage
        .iter()
        .filter(|c| c.last_scanned_at.is_some())
        .map(|c| (c.repository.as_str(), c.digest.as_str()))
        .collect();
    let mut never_scanned = Vec::new();
    for r in &inputs.repositories {
        for i in &r.images {
            let old = i.pushed_at.is_some_and(|p| p < now - DAY);
            let scanned = if inputs.enhanced {
                scanned_by_inspector.contains(&(r.name.as_str(), i.digest.as_str())) || i.scanned
            } else {
                i.scanned
            };
            if old && !scanned {
                never_scanned.push(format!("{}@{}", r.name, i.digest));
            }
        }
    }
    never_scanned
}

impl CostReport {
    /// The report for people (the CLI's text format); names from AWS are shown escaped
    /// ([`crate::domain::escape::line`]).
    pub fn to_text(&self) -> String {
        let mut out = self.overview();
        if !self.repositories.is_empty() {
            out.push("\n  costliest repositories (estimates)".into());
            for r in &self.repositories {
                out.push(format!(
                    "    {:<40} {:>16} {:>4} covered {:>4} in use  ${:.2}/month",
                    line(&r.repository),
                    line(&r.frequency),
                    r.covered,
                    r.in_use,
                    r.estimated_monthly
                ));
            }
        }
        if !self.savings.is_empty() {
            out.push("\n  savings (estimates; nothing is changed for you)".into());
            for s in &self.savings {
                out.push(format!(
                    "    ${:.2}/month: {} ({} image(s))\n      {}",
                    s.monthly,
                    line(&s.what),
                    s.images,
                    line(&s.how)
                ));
            }
        }
        out.push(self.compliance());
        out.push("\n  how these figures were derived:".into());
        for m in &self.method {
            out.push(format!("    - {}", line(m)));
        }
        out.join("\n")
    }

    /// The text report's opening lines: the period, what is monitored, what it costs.
    fn overview(&self) -> Vec<String> {
        let mut out = Vec::new();
        let whose = match (&self.account, &self.region) {
            (Some(a), Some(r)) => format!(" of account {} in {}", line(a), line(r)),
            _ => String::new(),
        };
        out.push(format!(
            "ECR scanning cost{whose}, {} (last {} day(s)); scan type {}",
            self.generated_at, self.days, self.scan_type
        ));
        out.push(format!(
            "  images monitored by Inspector: {} ({}); used by running tasks or pods: {}",
            self.covered_images,
            self.covered_by_frequency
                .iter()
                .map(|(f, n)| format!("{n} {}", line(f)))
                .collect::<Vec<_>>()
                .join(", "),
            self.in_use
        ));
        if !self.coverage_statistics.is_empty() {
            out.push(format!(
                "  coverage: {}",
                self.coverage_statistics
                    .iter()
                    .map(|(k, n)| format!("{n} {}", line(k)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push(format!(
            "  rescans in the period: {} (estimate), {}; projected month: {}",
            self.rescans_in_period
                .map_or("unknown".into(), |r| format!("{r:.0}")),
            money(self.rescan_cost_in_period),
            money(self.projected_monthly)
        ));
        out
    }

    /// The text report's compliance line: repositories without scanning, images never scanned.
    fn compliance(&self) -> String {
        format!(
            "\n  compliance: {} repository(ies) without any scanning (Security Hub ECR.1){}; {} image(s) pushed over a day ago and never scanned",
            self.unscanned_repositories.len(),
            if self.unscanned_repositories.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    self.unscanned_repositories
                        .iter()
                        .map(|r| line(r))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            self.never_scanned.len()
        )
    }

    /// The same report, about the member in `place` (`None`: the deployment's own account).
    pub fn at(self, place: Option<&Place>) -> CostReport {
        CostReport {
            account: place.map(|p| p.account.clone()),
            region: place.map(|p| p.region.clone()),
            ..self
        }
    }

    /// The weekly digest: `event_type: cost` on the JSON topic (the report itself), and a Slack
    /// notice on the Chatbot topic. A member's report carries its `account` and `region` (key and
    /// message attributes) and goes to the JSON topic only: the channel gets the Organization's
    /// summary ([`crate::outbound::cost_summary`]), not one card per account.
    pub fn to_message(&self) -> Message {
        let mut parts = vec!["cost", self.generated_at.as_str()];
        parts.extend(self.account.as_deref());
        parts.extend(self.region.as_deref());
        let key = dedup_key(&parts);
        let body = json!({
            "schema_version": SCHEMA_VERSION,
            "event_type": EventType::Cost,
            "dedup_key": key,
            "time": self.generated_at,
            "report": self,
        });
        let mut attributes = vec![("event_type", EventType::Cost.as_str().into())];
        let place = [("account", &self.account), ("region", &self.region)];
        attributes.extend(place.into_iter().filter_map(|(k, v)| Some((k, v.clone()?))));
        Message {
            subject: subject_line(&format!(
                "ECR gatekeeper: scanning cost {} projected this month{}",
                money(self.projected_monthly),
                self.account
                    .as_deref()
                    .map_or(String::new(), |a| format!(" in {a}"))
            )),
            body: escape_markup(&body.to_string()),
            attributes,
            chat: self.account.is_none().then(|| self.card(&key)),
            dedup_key: key,
        }
    }

    /// The Slack notice of the deployment's own account's digest.
    fn card(&self, key: &str) -> String {
        let saving: f64 = self.savings.iter().map(|s| s.monthly).sum();
        let mut d = vec![
            format!(
                "*Monitored images:* {} · in use: {}",
                self.covered_images, self.in_use
            ),
            format!(
                "*Projected month:* {} · rescans in {} day(s): {} (estimates)",
                money(self.projected_monthly),
                self.days,
                money(self.rescan_cost_in_period)
            ),
        ];
        for r in self.repositories.iter().take(5) {
            d.push(format!(
                "• {} {} covered, ${:.2}/month",
                code(&r.repository),
                r.covered,
                r.estimated_monthly
            ));
        }
        if !self.unscanned_repositories.is_empty() || !self.never_scanned.is_empty() {
            d.push(format!(
                "*Compliance:* {} repository(ies) without scanning, {} image(s) never scanned",
                self.unscanned_repositories.len(),
                self.never_scanned.len()
            ));
        }
        Card {
            id: key,
            title: format!(
                ":moneybag: ECR scanning: {} projected this month",
                money(self.projected_monthly)
            ),
            description: d.join("\n"),
            next_steps: self
                .savings
                .iter()
                .take(5)
                .map(|s| format!("${:.2}/month: {}", s.monthly, prose(&s.what)))
                .collect(),
            keywords: vec!["cost".into(), "inspector".into()],
            thread: COST_THREAD.into(),
            summary: format!(
                "ECR scanning: {} projected, ${saving:.2}/month of savings found",
                money(self.projected_monthly)
            ),
            event_type: EventType::Cost,
            context: json!({"dedup_key": key, "week_of": week_of(&self.generated_at)}),
        }
        .render()
    }
}

/// The Chatbot thread of every cost notice.
pub(crate) const COST_THREAD: &str = "ecr-gatekeeper-cost";

/// The date of an RFC 3339 time, for a card's context.
pub(crate) fn week_of(generated_at: &str) -> String {
    format_date(crate::domain::time::parse_rfc3339(generated_at).unwrap_or(0))
}

/// Money, or "unknown" without a figure.
pub(crate) fn money(x: Option<f64>) -> String {
    x.map_or("unknown".into(), |v| format!("${v:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Epoch = 1_795_000_000;

    fn repo(name: &str, frequency: &str, images: Vec<ImageFacts>) -> RepositoryFacts {
        RepositoryFacts {
            name: name.into(),
            frequency: frequency.into(),
            scan_on_push: false,
            images,
        }
    }

    fn covered(repository: &str, n: usize, pushed_days_ago: i64, used: bool) -> Vec<CoveredImage> {
        (0..n)
            .map(|i| CoveredImage {
                repository: repository.into(),
                digest: format!("sha256:{repository}-{i}"),
                status: "ACTIVE".into(),
                reason: "SUCCESSFUL".into(),
                pushed_at: Some(NOW - pushed_days_ago * DAY),
                pulled_at: None,
                last_in_use_at: used.then_some(NOW - DAY),
                in_use_count: Some(u64::from(used)),
                last_scanned_at: Some(NOW - DAY),
            })
            .collect()
    }

    #[test]
    fn the_fleet_is_the_active_images_and_only_continuous_repositories_are_rescanned() {
        let mut coverage = covered("cont", 2, 1, false);
        coverage.extend(covered("push", 3, 1, false));
        coverage.extend(covered("unlisted", 1, 1, false));
        coverage[0].status = "INACTIVE".into();
        coverage[1].status = "active".into();
        let inputs = CostInputs {
            repositories: vec![
                repo("cont", "CONTINUOUS_SCAN", vec![]),
                repo("push", "SCAN_ON_PUSH", vec![]),
            ],
            coverage,
            ..CostInputs::default()
        };
        let fleet = Fleet::gather(&inputs, NOW - DAY);
        assert_eq!(fleet.active.len(), 5);
        let rescanned: Vec<&str> = fleet.continuous.iter().map(|c| c.digest.as_str()).collect();
        assert_eq!(rescanned, ["sha256:cont-1"]);
        assert_eq!(
            fleet.by_frequency(),
            BTreeMap::from([
                ("CONTINUOUS_SCAN".to_string(), 1),
                ("SCAN_ON_PUSH".to_string(), 3),
                ("UNKNOWN".to_string(), 1),
            ])
        );
    }

    #[test]
    fn without_usage_there_are_no_cost_figures_and_the_method_says_why() {
        let mut method = Vec::new();
        let e = estimate(None, Pricing::default(), 7, &mut method);
        assert_eq!(
            (
                e.rescans_in_period,
                e.rescan_cost,
                e.projected,
                e.rescan_monthly
            ),
            (None, None, None, 0.0)
        );
        assert_eq!(method.len(), 1);
        assert!(method[0].contains("did not answer"), "{method:?}");
    }

    #[test]
    fn coverage_is_counted_by_scan_status_reason_from_the_listing_itself() {
        let mut coverage = covered("app", 3, 1, false);
        coverage[0].status = "INACTIVE".into();
        coverage[0].reason = "SCAN_ELIGIBILITY_EXPIRED".into();
        coverage[1].reason = String::new();
        let inputs = CostInputs {
            coverage,
            ..CostInputs::default()
        };
        let r = report(&inputs, Pricing::default(), NOW, 7);
        assert_eq!(
            r.coverage_statistics,
            BTreeMap::from([
                ("SCAN_ELIGIBILITY_EXPIRED".to_string(), 1),
                ("SUCCESSFUL".to_string(), 1),
                ("UNKNOWN".to_string(), 1),
            ])
        );
    }

    #[test]
    fn at_most_three_shorter_rescan_durations_are_suggested_shortest_first() {
        let inputs = CostInputs {
            repositories: vec![repo("old", "CONTINUOUS_SCAN", vec![])],
            coverage: covered("old", 2, 400, false),
            ..CostInputs::default()
        };
        let fleet = Fleet::gather(&inputs, NOW - 7 * DAY);
        let savings = shorter_duration_savings(&fleet, 0.5, NOW);
        let durations: Vec<&str> = savings
            .iter()
            .filter_map(|s| {
                s.what
                    .strip_prefix("rescan only images pushed, pulled or used in the last ")
            })
            .collect();
        assert_eq!(durations, ["14 days", "30 days", "60 days"]);
        assert!(savings.iter().all(|s| s.images == 2 && s.monthly == 1.0));
    }

    #[test]
    fn the_45_image_registry_of_the_article_costs_about_240_dollars_a_month() {
        // 45 images rescanned continuously, about 18 times a day each (every new CVE in any of
        // their dependencies), at $0.01: 45 x 18 x 30 x 0.01 = $243 a month.
        let inputs = CostInputs {
            enhanced: true,
            repositories: vec![repo("app", "CONTINUOUS_SCAN", vec![])],
            coverage: covered("app", 45, 3, true),
            usage: Some(Usage {
                initial_scans: 0.0,
                rescans: 45.0 * 18.0 * 30.0,
                estimated_monthly_cost: None,
            }),
            ..CostInputs::default()
        };
        let r = report(&inputs, Pricing::default(), NOW, 7);
        assert_eq!(r.projected_monthly, Some(243.0));
        assert_eq!(r.rescans_in_period, Some(45.0 * 18.0 * 7.0));
        assert_eq!(r.rescan_cost_in_period, Some(56.7));
        assert_eq!(r.repositories[0].estimated_monthly, 243.0);
        assert_eq!(r.in_use, 45);
        assert!(r.savings.is_empty(), "everything runs: nothing to save");
    }

    #[test]
    fn idle_images_and_repositories_are_savings_priced_by_their_share() {
        // 100 continuously scanned images, 3,000 rescans a month ($30): each image $0.30.
        let mut coverage = covered("busy", 40, 2, true);
        coverage.extend(covered("stale", 60, 120, false));
        let inputs = CostInputs {
            enhanced: true,
            rules_json: "[]".into(),
            repositories: vec![
                repo("busy", "CONTINUOUS_SCAN", vec![]),
                repo(
                    "stale",
                    "CONTINUOUS_SCAN",
                    (0..60)
                        .map(|i| ImageFacts {
                            digest: format!("sha256:stale-{i}"),
                            tagged: i % 2 == 0,
                            pushed_at: Some(NOW - 120 * DAY),
                            pulled_at: None,
                            scanned: true,
                        })
                        .collect(),
                ),
                repo("forgotten", "MANUAL", vec![]),
            ],
            coverage,
            usage: Some(Usage {
                initial_scans: 10.0,
                rescans: 3000.0,
                estimated_monthly_cost: None,
            }),
        };
        let r = report(&inputs, Pricing::default(), NOW, 30);
        // $30 of rescans + 10 initial scans x $0.09.
        assert_eq!(r.projected_monthly, Some(30.9));
        let duration = &r.savings[0];
        assert_eq!((duration.images, duration.monthly), (60, 18.0));
        assert!(duration.how.contains("\"rescanDuration\":\"DAYS_14\""));
        let on_push = r
            .savings
            .iter()
            .find(|s| s.what.starts_with("scan stale on push only"))
            .unwrap();
        assert_eq!((on_push.images, on_push.monthly), (60, 18.0));
        let lifecycle = r
            .savings
            .iter()
            .find(|s| s.what.contains("untagged"))
            .unwrap();
        assert_eq!((lifecycle.images, lifecycle.monthly), (30, 9.0));
        assert!(
            lifecycle
                .how
                .starts_with("aws ecr put-lifecycle-policy --repository-name stale")
        );
        assert_eq!(r.unscanned_repositories, ["forgotten"]);
        assert!(r.to_text().contains("Security Hub ECR.1"));
    }

    #[test]
    fn repository_names_with_controls_are_shown_escaped_in_the_text_and_the_card() {
        use crate::domain::escape::{needs_escape, tests::HOSTILE};
        let inputs = |name: &str| CostInputs {
            enhanced: true,
            repositories: vec![
                repo(name, "CONTINUOUS_SCAN", vec![]),
                repo(&format!("{name}-off"), "MANUAL", vec![]),
            ],
            coverage: covered(name, 3, 120, false),
            usage: Some(Usage {
                initial_scans: 0.0,
                rescans: 300.0,
                estimated_monthly_cost: None,
            }),
            ..CostInputs::default()
        };
        let plain = report(&inputs("plain"), Pricing::default(), NOW, 30).to_text();
        for (raw, shown) in HOSTILE {
            let r = report(&inputs(&format!("r{raw}")), Pricing::default(), NOW, 30);
            let text = r.to_text();
            assert!(
                !text.chars().any(|c| c != '\n' && needs_escape(c)),
                "{raw:?}: {text}"
            );
            assert_eq!(text.lines().count(), plain.lines().count(), "{text}");
            assert!(text.contains(&format!("r{shown}-off")), "{text}");
            assert!(
                text.contains(&format!("scan r{shown} on push only")),
                "{text}"
            );
            let chat = r.to_message().chat.unwrap();
            assert!(!chat.chars().any(needs_escape), "{raw:?}: {chat}");
        }
    }

    #[test]
    fn without_usage_there_are_no_cost_figures_but_the_rest_is_reported() {
        let inputs = CostInputs {
            enhanced: false,
            repositories: vec![RepositoryFacts {
                name: "basic".into(),
                frequency: "MANUAL".into(),
                scan_on_push: false,
                images: vec![ImageFacts {
                    digest: "sha256:old".into(),
                    tagged: true,
                    pushed_at: Some(NOW - 3 * DAY),
                    pulled_at: None,
                    scanned: false,
                }],
            }],
            ..CostInputs::default()
        };
        let r = report(&inputs, Pricing::default(), NOW, 7);
        assert_eq!(r.projected_monthly, None);
        assert_eq!(r.never_scanned, ["basic@sha256:old"]);
        assert_eq!(r.unscanned_repositories, ["basic"]);
        let m = r.to_message();
        let body: serde_json::Value = serde_json::from_str(&m.body).unwrap();
        assert_eq!(body["event_type"], "cost");
        assert!(m.chat.is_some());
    }
}
