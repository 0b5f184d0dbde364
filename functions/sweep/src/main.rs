//! sweep Lambda: on a schedule, re-evaluates the images whose verdict may have changed with time alone
//! or whose events were lost, and sends exception reminders. Glue only: the job is
//! `gatekeeper::service::Gatekeeper::sweep`. Of the scheduler's payload only the event id is read.

use std::process::ExitCode;

use gatekeeper::adapters::Inspector;
use gatekeeper::bootstrap::AwsGatekeeper;
use gatekeeper::bootstrap::lambda::{self, LambdaEvent};
use gatekeeper::error::Error;
use gatekeeper::service::{SweepReport, SweepSettings};
use serde_json::Value;

fn main() -> ExitCode {
    lambda::run(
        "sweep",
        |start| {
            (
                start.adapters().findings(),
                start.config.sweep,
                start.gatekeeper,
            )
        },
        handle,
    )
}

/// One scheduled run. The schedule's event id names the run (Lambda's retries of it keep both ids).
async fn handle(
    (inspector, settings, gk): &(Inspector, SweepSettings, AwsGatekeeper),
    event: LambdaEvent<Value>,
) -> Result<SweepReport, Error> {
    let run = event.payload.get("id").and_then(Value::as_str);
    gk.sweep(
        inspector,
        settings,
        run.unwrap_or(&event.context.request_id),
    )
    .await
}
