//! cost-report Lambda: on a schedule (weekly by default), publishes the cost report as a digest:
//! `event_type: cost` on the JSON topic and a Slack notice on the Chatbot topic. An Organization
//! deployment publishes one `cost` per account it governs (members read through their stacks'
//! read-only role) and a `cost_summary`, the week's one Slack notice. With a report bucket
//! (`GATEKEEPER_REPORT_BUCKET`), it first writes the week's report (the verdict history's figures)
//! there as its page and JSON, and publishes `event_type: report` naming their keys. Reads AWS only,
//! but for those two objects; the scheduler's payload is not read. Glue: the arithmetic is
//! `gatekeeper::outbound::cost`, `cost_summary` and `domain::remediation`.

use std::process::ExitCode;
use std::time::Duration;

use gatekeeper::adapters::{
    Inspector, Members, READ_ROLE_SUFFIX, ReportBucket, gather_cost_inputs,
    gather_organization_cost_inputs,
};
use gatekeeper::bootstrap::config::Config;
use gatekeeper::bootstrap::lambda::{self, LambdaEvent};
use gatekeeper::bootstrap::{AwsGatekeeper, stop_before, time_left};
use gatekeeper::domain::Place;
use gatekeeper::domain::remediation::Settings;
use gatekeeper::domain::time::DAY;
use gatekeeper::error::Error;
use gatekeeper::outbound::cost_summary::OrganizationCost;
use gatekeeper::outbound::report_digest::{ReportDigest, keys};
use gatekeeper::outbound::report_page::render;
use gatekeeper::ports::{FindingsSource, Notifier};
use gatekeeper::service::remediation;
use serde_json::{Value, json};

/// What an Organization run keeps, after it stops reading members, for Inspector's queries and for
/// publishing one message per account: this, or a fifth of the run's time when that is less.
const PUBLISH_RESERVE: Duration = Duration::from_secs(120);

/// The function's state: Inspector, the configuration, the gatekeeper (its registry, topics and
/// state table), the members' read-only registries in an Organization deployment, and the bucket of
/// the weekly report when there is one.
type State = (
    Inspector,
    Config,
    AwsGatekeeper,
    Option<Members>,
    Option<ReportBucket>,
);

fn main() -> ExitCode {
    lambda::run(
        "cost-report",
        |start| {
            let members = (start.config.deployment.member_role.as_ref()).map(|role| {
                start
                    .adapters()
                    .members(&format!("{role}{READ_ROLE_SUFFIX}"))
            });
            let bucket = (start.config.report_bucket.as_ref())
                .map(|name| ReportBucket::on(&start.sdk, name.clone()));
            (
                start.adapters().findings(),
                start.config,
                start.gatekeeper,
                members,
                bucket,
            )
        },
        handle,
    )
}

/// The weekly report first, when there is a bucket for it (written under the day's keys and
/// announced under the day's key: a retry after a failure repeats it harmlessly, and a failing report
/// never sends the cost digest twice); then the cost digest: gathers what scanning costs, publishes
/// it, answers with its totals.
async fn handle(state: &State, event: LambdaEvent<Value>) -> Result<Value, Error> {
    let report = match &state.4 {
        Some(bucket) => Some(weekly_report(&state.1, &state.2, bucket).await?),
        None => None,
    };
    let mut answer = cost(state, event.context.deadline).await?;
    if let Some(report) = report {
        answer["report"] = report;
    }
    Ok(answer)
}

/// The cost digest (or, in an Organization deployment, one per account and the summary).
async fn cost(state: &State, deadline_ms: u64) -> Result<Value, Error> {
    let (inspector, config, gk, members, _) = state;
    if let (Some(members), Some(home)) = (members, &gk.home) {
        return organization(state, members, home, deadline_ms).await;
    }
    let inputs = gather_cost_inputs(&gk.registry, inspector).await?;
    let now = gatekeeper::domain::time::now();
    let report = gatekeeper::outbound::cost::report(&inputs, config.pricing, now, config.cost_days);
    gk.notifier.publish(&report.to_message()).await?;
    tracing::info!(projected = ?report.projected_monthly, savings = report.savings.len(), "cost digest published");
    Ok(json!({
        "projected_monthly": report.projected_monthly,
        "covered_images": report.covered_images,
        "savings": report.savings.len(),
        "unscanned_repositories": report.unscanned_repositories.len(),
    }))
}

/// An Organization deployment's digest: every governed member (`GovernedAccounts`, else every member
/// Inspector scans for this administrator) in the deployment's region, one after another until the
/// run's time is short; a member that cannot be read is named in the summary, not an error.
async fn organization(
    (inspector, config, gk, _, _): &State,
    members: &Members,
    home: &Place,
    deadline_ms: u64,
) -> Result<Value, Error> {
    let accounts = match &config.deployment.governed_accounts {
        named if !named.is_empty() => named.clone(),
        _ => inspector.members().await?,
    };
    let members_places = (accounts.into_iter())
        .filter(|account| *account != home.account)
        .map(|account| {
            Some(Place {
                account,
                region: home.region.clone(),
            })
        });
    let places: Vec<Option<Place>> = std::iter::once(None).chain(members_places).collect();
    let reserve = PUBLISH_RESERVE.min(time_left(deadline_ms) / 5);
    let until = stop_before(deadline_ms, reserve);
    let inputs = gather_organization_cost_inputs(
        (&gk.registry, home),
        members,
        &places,
        inspector,
        Some(until),
    )
    .await?;
    let now = gatekeeper::domain::time::now();
    let cost = OrganizationCost::of(
        home,
        &inputs.read,
        &inputs.failed,
        config.pricing,
        now,
        config.cost_days,
    );
    for message in cost.messages() {
        gk.notifier.publish(&message).await?;
    }
    for (place, why) in &inputs.failed {
        tracing::warn!(place = %place, error = %why, "member not in the cost digest");
    }
    let s = &cost.summary;
    tracing::info!(
        accounts = s.accounts_read,
        failed = s.accounts_failed,
        projected = s.projected_monthly,
        "cost digests published"
    );
    Ok(json!({
        "projected_monthly": s.projected_monthly,
        "covered_images": s.covered_images,
        "accounts_read": s.accounts_read,
        "accounts_failed": s.accounts_failed,
        "savings_monthly": s.savings_monthly,
    }))
}

/// The week's report from the state table (its whole history kept, the windows of 30 and 90 days,
/// the deployment's SLA), written to the bucket as its page and JSON under the day's keys, then announced
/// (the message names the keys). Answers with where it went and its headline figures.
async fn weekly_report(
    config: &Config,
    gk: &AwsGatekeeper,
    bucket: &ReportBucket,
) -> Result<Value, Error> {
    let now = gatekeeper::domain::time::now();
    let settings = Settings {
        now,
        since: now - config.deployment.history_days * DAY,
        windows: vec![30, 90],
        sla: config.report_sla.clone(),
    };
    let report = remediation(&gk.state, &settings).await?;
    let (page, data) = keys(&report);
    let json = serde_json::to_string(&report).unwrap_or_default();
    bucket.put(&data, json, "application/json").await?;
    bucket
        .put(&page, render(&report), "text/html; charset=utf-8")
        .await?;
    let digest = ReportDigest {
        report: &report,
        bucket: bucket.name(),
        page: &page,
        data: &data,
    };
    gk.notifier.publish(&digest.to_message()).await?;
    tracing::info!(bucket = bucket.name(), page = %page, blocked = report.now.blocked, "weekly report written");
    Ok(json!({
        "bucket": bucket.name(),
        "page": page,
        "blocked": report.now.blocked,
        "open_tickets": report.now.open_tickets,
        "open_past_sla": report.now.open_past_sla,
    }))
}
