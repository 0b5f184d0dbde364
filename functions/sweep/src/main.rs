//! sweep Lambda: on a schedule, re-evaluates the images whose verdict may have changed with time alone
//! or whose events were lost, and sends exception reminders. Glue only: the job is
//! `gatekeeper::service::Gatekeeper::sweep`. Of the scheduler's payload only the event id is read.

use std::process::ExitCode;

use gatekeeper::adapters::{BUDGET_MARGIN, Inspector, error_type, from_env, within_budget};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        // An invalid configuration or policy fails the cold start loudly, never "allow everything".
        Err(e) => {
            tracing::error!(error = %e, "sweep stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let start = from_env().await?;
    let inspector = Inspector::new(aws_sdk_inspector2::Client::new(&start.sdk));
    let (gk, inspector, settings) = (&start.gatekeeper, &inspector, &start.config.sweep);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The schedule's event id names the run (Lambda's retries of it keep both ids).
        let run = event
            .payload
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or(&event.context.request_id)
            .to_string();
        within_budget(
            event.context.deadline,
            BUDGET_MARGIN,
            gk.sweep(inspector, settings, &run),
        )
        .await
        .map_err(|e| Diagnostic {
            error_type: error_type(&e),
            error_message: e.to_string(),
        })
    }))
    .await
}
