//! The weekly cost summary of an Organization deployment: one line per account read (from each
//! account's [`CostReport`]) and each account that could not be read, as the `cost_summary` message on
//! the JSON topic and the one Chatbot card of the week. Each account's own report goes to the JSON
//! topic as a `cost` message beside it. Pure.

use serde::Serialize;
use serde_json::json;

use crate::domain::Place;
use crate::domain::escape::line;
use crate::domain::time::{Epoch, format_rfc3339};
use crate::outbound::chat::{Card, code, prose};
use crate::outbound::cost::{
    COST_THREAD, CostInputs, CostReport, Pricing, money, report, round2, week_of,
};
use crate::outbound::notice::{EventType, Message, SCHEMA_VERSION, dedup_key};
use crate::outbound::text::{escape_markup, subject_line};

/// At most this many accounts, and as many failures, are listed (the costliest first): the body
/// stays within the message bound however large the Organization.
pub const MAX_LISTED: usize = 100;

/// One account's line: its report's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountCost {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Images Inspector monitors there.
    pub covered_images: u64,
    /// Of those, used by running tasks or pods within the period.
    pub in_use: u64,
    /// Its projected month (none without its usage figures).
    pub projected_monthly: Option<f64>,
    /// The savings its report found, per month.
    pub savings_monthly: f64,
    /// Its repositories without any scanning.
    pub unscanned_repositories: usize,
    /// Its images pushed over a day ago and never scanned.
    pub never_scanned: usize,
}

/// An account whose report could not be made, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountFailure {
    /// Account id.
    pub account: String,
    /// Region.
    pub region: String,
    /// Why (the refused or failed call, or "not reached": the run's time ran out first).
    pub error: String,
}

/// An Organization deployment's week: each account's report, and their summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrganizationCost {
    /// The summary.
    pub summary: CostSummary,
    /// Each account's report, the deployment's own first.
    pub reports: Vec<CostReport>,
}

impl OrganizationCost {
    /// The reports of the accounts `read` (`None`: the deployment's own, at `home`) at `now` for the
    /// last `days` days, priced by `pricing`, and their summary with the accounts that `failed`.
    pub fn of(
        home: &Place,
        read: &[(Option<Place>, CostInputs)],
        failed: &[(Place, String)],
        pricing: Pricing,
        now: Epoch,
        days: i64,
    ) -> OrganizationCost {
        let reports: Vec<CostReport> = (read.iter())
            .map(|(place, inputs)| report(inputs, pricing, now, days).at(place.as_ref()))
            .collect();
        OrganizationCost {
            summary: CostSummary::of(home, &reports, failed, now, days),
            reports,
        }
    }

    /// What is published: each account's `cost` message (the deployment's own as in a one-account
    /// deployment, but to the JSON topic only), then the `cost_summary`, the week's one card.
    pub fn messages(&self) -> Vec<Message> {
        let reports = self.reports.iter().map(|r| Message {
            chat: None,
            ..r.to_message()
        });
        reports
            .chain(std::iter::once(self.summary.to_message()))
            .collect()
    }
}

/// The summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CostSummary {
    /// When.
    pub generated_at: String,
    /// The period the reports cover (days).
    pub days: i64,
    /// Accounts read.
    pub accounts_read: usize,
    /// Accounts that could not be read.
    pub accounts_failed: usize,
    /// The projected month of the accounts that have usage figures.
    pub projected_monthly: f64,
    /// How many accounts read have no usage figures (not in `projected_monthly`).
    pub accounts_without_usage: usize,
    /// The savings found, per month, in all accounts read.
    pub savings_monthly: f64,
    /// Images Inspector monitors, in all accounts read.
    pub covered_images: u64,
    /// The accounts read, the costliest first (at most [`MAX_LISTED`]).
    pub accounts: Vec<AccountCost>,
    /// The accounts that could not be read (at most [`MAX_LISTED`]).
    pub failures: Vec<AccountFailure>,
}

impl CostSummary {
    /// The summary at `now` for the last `days` days of `reports` (each made at its place; `home`
    /// for the deployment's own, whose report names no account) and of the accounts that `failed`.
    pub fn of(
        home: &Place,
        reports: &[CostReport],
        failed: &[(Place, String)],
        now: Epoch,
        days: i64,
    ) -> CostSummary {
        let mut accounts: Vec<AccountCost> = reports
            .iter()
            .map(|r| AccountCost {
                account: r.account.clone().unwrap_or_else(|| home.account.clone()),
                region: r.region.clone().unwrap_or_else(|| home.region.clone()),
                covered_images: r.covered_images,
                in_use: r.in_use,
                projected_monthly: r.projected_monthly,
                savings_monthly: round2(r.savings.iter().map(|s| s.monthly).sum()),
                unscanned_repositories: r.unscanned_repositories.len(),
                never_scanned: r.never_scanned.len(),
            })
            .collect();
        accounts.sort_by(|a, b| {
            (b.projected_monthly.unwrap_or(-1.0))
                .total_cmp(&a.projected_monthly.unwrap_or(-1.0))
                .then(b.covered_images.cmp(&a.covered_images))
                .then(a.account.cmp(&b.account))
        });
        CostSummary {
            generated_at: format_rfc3339(now),
            days: days.max(1),
            accounts_read: accounts.len(),
            accounts_failed: failed.len(),
            projected_monthly: round2(accounts.iter().filter_map(|a| a.projected_monthly).sum()),
            accounts_without_usage: accounts
                .iter()
                .filter(|a| a.projected_monthly.is_none())
                .count(),
            savings_monthly: round2(accounts.iter().map(|a| a.savings_monthly).sum()),
            covered_images: accounts.iter().map(|a| a.covered_images).sum(),
            accounts: accounts.into_iter().take(MAX_LISTED).collect(),
            failures: (failed.iter().take(MAX_LISTED))
                .map(|(p, e)| AccountFailure {
                    account: p.account.clone(),
                    region: p.region.clone(),
                    error: e.clone(),
                })
                .collect(),
        }
    }

    /// The summary for people (the CLI's text format, after each account's report).
    pub fn to_text(&self) -> String {
        let mut out = vec![format!(
            "ECR scanning cost across {} account(s), {}: {} projected this month{}; {} image(s) monitored; ${:.2}/month of savings found",
            self.accounts_read,
            self.generated_at,
            money(Some(self.projected_monthly)),
            self.without_usage(),
            self.covered_images,
            self.savings_monthly
        )];
        for a in &self.accounts {
            out.push(format!(
                "    {} {:<14} {:>6} covered {:>6} in use  {}/month  ${:.2}/month of savings",
                line(&a.account),
                line(&a.region),
                a.covered_images,
                a.in_use,
                money(a.projected_monthly),
                a.savings_monthly
            ));
        }
        if self.accounts_failed > 0 {
            out.push(format!("  not read: {} account(s)", self.accounts_failed));
            for f in &self.failures {
                out.push(format!(
                    "    {} {}: {}",
                    line(&f.account),
                    line(&f.region),
                    line(&f.error)
                ));
            }
        }
        out.join("\n")
    }

    /// " (N account(s) without usage figures)", or nothing.
    fn without_usage(&self) -> String {
        match self.accounts_without_usage {
            0 => String::new(),
            n => format!(" ({n} account(s) without usage figures not included)"),
        }
    }

    /// `event_type: cost_summary` on the JSON topic, and the week's cost card on the Chatbot topic.
    pub fn to_message(&self) -> Message {
        let key = dedup_key(&["cost_summary", &self.generated_at]);
        let body = json!({
            "schema_version": SCHEMA_VERSION,
            "event_type": EventType::CostSummary,
            "dedup_key": key,
            "time": self.generated_at,
            "summary": self,
        });
        let title = format!(
            "ECR scanning across {} account(s): {} projected this month",
            self.accounts_read,
            money(Some(self.projected_monthly))
        );
        Message {
            subject: subject_line(&format!("ECR gatekeeper: {title}")),
            body: escape_markup(&body.to_string()),
            attributes: vec![("event_type", EventType::CostSummary.as_str().into())],
            chat: Some(self.card(&key, &title)),
            dedup_key: key,
        }
    }

    /// The Slack notice: the totals, the five costliest accounts, the accounts not read.
    fn card(&self, key: &str, title: &str) -> String {
        let mut d = vec![format!(
            "*Monitored images:* {} · *savings found:* ${:.2}/month (estimates){}",
            self.covered_images,
            self.savings_monthly,
            self.without_usage()
        )];
        for a in self.accounts.iter().take(5) {
            d.push(format!(
                "• {} {} {} covered, {}/month",
                code(&a.account),
                prose(&a.region),
                a.covered_images,
                money(a.projected_monthly)
            ));
        }
        if self.accounts_failed > 0 {
            d.push(format!(
                "*Not read:* {} account(s), e.g. {}",
                self.accounts_failed,
                (self.failures.iter().take(3))
                    .map(|f| code(&f.account))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Card {
            id: key,
            title: format!(":moneybag: {title}"),
            description: d.join("\n"),
            next_steps: (self.accounts.iter())
                .filter(|a| a.savings_monthly > 0.0)
                .take(5)
                .map(|a| {
                    format!(
                        "${:.2}/month in {}: gatekeeper cost --account {}",
                        a.savings_monthly,
                        prose(&a.account),
                        prose(&a.account)
                    )
                })
                .collect(),
            keywords: vec!["cost".into(), "inspector".into(), "organization".into()],
            thread: COST_THREAD.into(),
            summary: format!(
                "ECR scanning across {} account(s): {} projected, ${:.2}/month of savings found",
                self.accounts_read,
                money(Some(self.projected_monthly)),
                self.savings_monthly
            ),
            event_type: EventType::CostSummary,
            context: json!({"dedup_key": key, "week_of": week_of(&self.generated_at)}),
        }
        .render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::cost::{CoveredImage, RepositoryFacts, Usage};
    use crate::outbound::notice::MAX_BODY_BYTES;

    const NOW: Epoch = 1_795_000_000;

    fn place(account: &str) -> Place {
        Place {
            account: account.into(),
            region: "eu-west-1".into(),
        }
    }

    /// One continuously scanned repository of `images` covered images; `rescans` a month, if known.
    fn inputs(images: usize, rescans: Option<f64>) -> CostInputs {
        CostInputs {
            enhanced: true,
            repositories: vec![RepositoryFacts {
                name: "app".into(),
                frequency: "CONTINUOUS_SCAN".into(),
                scan_on_push: false,
                images: Vec::new(),
            }],
            coverage: (0..images)
                .map(|i| CoveredImage {
                    repository: "app".into(),
                    digest: format!("sha256:{i}"),
                    status: "ACTIVE".into(),
                    reason: "SUCCESSFUL".into(),
                    pushed_at: Some(NOW),
                    pulled_at: None,
                    last_in_use_at: None,
                    in_use_count: Some(1),
                    last_scanned_at: None,
                })
                .collect(),
            usage: rescans.map(|rescans| Usage {
                rescans,
                ..Usage::default()
            }),
            ..CostInputs::default()
        }
    }

    /// The deployment's own account (10 images, $90 a month), a member at $243, a member without
    /// usage figures, and a member that refused.
    fn organization() -> (Place, OrganizationCost) {
        let home = place("999999999999");
        let read = vec![
            (None, inputs(10, Some(9000.0))),
            (Some(place("111111111111")), inputs(45, Some(24300.0))),
            (Some(place("222222222222")), inputs(3, None)),
        ];
        let failed = vec![(place("333333333333"), "sts:AssumeRole: AccessDenied".into())];
        let cost = OrganizationCost::of(&home, &read, &failed, Pricing::default(), NOW, 7);
        (home, cost)
    }

    #[test]
    fn each_account_is_a_line_the_costliest_first_and_the_unread_are_named() {
        let (home, cost) = organization();
        let s = &cost.summary;
        let lines: Vec<(&str, Option<f64>)> = (s.accounts.iter())
            .map(|a| (a.account.as_str(), a.projected_monthly))
            .collect();
        assert_eq!(
            lines,
            [
                ("111111111111", Some(243.0)),
                (home.account.as_str(), Some(90.0)),
                ("222222222222", None)
            ]
        );
        assert_eq!(
            (s.accounts_read, s.accounts_failed, s.accounts_without_usage),
            (3, 1, 1)
        );
        assert_eq!((s.projected_monthly, s.covered_images), (333.0, 58));
        assert_eq!(s.failures[0].account, "333333333333");
        assert!(s.failures[0].error.contains("AccessDenied"));
        let text = s.to_text();
        assert!(text.contains("not read: 1 account(s)"), "{text}");
        assert!(text.contains("without usage figures"), "{text}");
    }

    #[test]
    fn the_own_report_keeps_its_key_members_are_told_apart_and_only_the_summary_has_a_card() {
        let (_, cost) = organization();
        let messages = cost.messages();
        assert_eq!(messages.len(), 4);
        let own = report(&inputs(10, Some(9000.0)), Pricing::default(), NOW, 7).to_message();
        assert_eq!(
            messages[0].dedup_key, own.dedup_key,
            "as in a one-account deployment"
        );
        assert!(!messages[0].attributes.iter().any(|(k, _)| *k == "account"));
        let member = &messages[1];
        assert!((member.attributes.iter()).any(|(k, v)| *k == "account" && v == "111111111111"));
        assert!((member.attributes.iter()).any(|(k, v)| *k == "region" && v == "eu-west-1"));
        assert_ne!(member.dedup_key, messages[2].dedup_key);
        assert!(
            member.subject.contains("in 111111111111"),
            "{}",
            member.subject
        );
        assert!(messages[..3].iter().all(|m| m.chat.is_none()));
        let summary = &messages[3];
        assert!(summary.chat.is_some());
        assert_eq!(
            summary.attributes,
            [("event_type", "cost_summary".to_string())]
        );
        let body: serde_json::Value = serde_json::from_str(&summary.body).unwrap_or_default();
        assert_eq!(body["summary"]["accounts_read"], 3);
    }

    #[test]
    fn a_large_organization_is_counted_whole_and_listed_within_the_bound() {
        let home = place("999999999999");
        let read: Vec<(Option<Place>, CostInputs)> = (0..300)
            .map(|i| {
                (
                    Some(place(&format!("{:012}", i + 1))),
                    inputs(1, Some(30.0)),
                )
            })
            .collect();
        let failed: Vec<(Place, String)> = (0..200)
            .map(|i| (place(&format!("{:012}", i + 1000)), "not reached".into()))
            .collect();
        let cost = OrganizationCost::of(&home, &read, &failed, Pricing::default(), NOW, 7);
        let s = &cost.summary;
        assert_eq!((s.accounts_read, s.accounts_failed), (300, 200));
        assert_eq!(
            (s.accounts.len(), s.failures.len()),
            (MAX_LISTED, MAX_LISTED)
        );
        assert_eq!(s.projected_monthly, 300.0 * 0.3);
        assert!(s.to_message().body.len() < MAX_BODY_BYTES);
    }
}
