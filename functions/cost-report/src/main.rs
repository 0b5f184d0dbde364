//! cost-report Lambda: on a schedule (weekly by default), publishes the cost report as a digest:
//! `event_type: cost` on the JSON topic and a Slack notice on the Chatbot topic. Reads only; the
//! scheduler's payload is not read. Glue: the arithmetic is `gatekeeper::outbound::cost`.

use std::process::ExitCode;

use gatekeeper::adapters::{Inspector, gather_cost_inputs};
use gatekeeper::bootstrap::AwsGatekeeper;
use gatekeeper::bootstrap::config::Config;
use gatekeeper::bootstrap::lambda::{self, LambdaEvent};
use gatekeeper::error::Error;
use gatekeeper::ports::Notifier;
use serde_json::{Value, json};

fn main() -> ExitCode {
    lambda::run(
        "cost-report",
        |start| (start.adapters().findings(), start.config, start.gatekeeper),
        handle,
    )
}

/// One digest: gathers what scanning costs, publishes the report, answers with its totals.
async fn handle(
    (inspector, config, gk): &(Inspector, Config, AwsGatekeeper),
    _: LambdaEvent<Value>,
) -> Result<Value, Error> {
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
