//! on-scan Lambda: ECR Image Scan, Inspector2 Scan / Finding / Coverage events -> verdict -> tags -> SNS.
//! Glue only: configuration, clients and the policy are read once here; the job is in `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::adapters::{BUDGET_MARGIN, Inspector, error_type, from_env, within_budget};
use gatekeeper::events::Incoming;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        // An invalid configuration or policy fails the cold start loudly, never "allow everything".
        Err(e) => {
            tracing::error!(error = %e, "on-scan stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let start = from_env().await?;
    let (gk, sdk) = (start.gatekeeper, start.sdk);
    let inspector = Inspector::new(aws_sdk_inspector2::Client::new(&sdk));
    let (gk, inspector) = (&gk, &inspector);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Incoming>| async move {
        within_budget(
            event.context.deadline,
            BUDGET_MARGIN,
            gk.handle_scan_delivery(inspector, &event.payload, &event.context.request_id),
        )
        .await
        .map_err(|e| Diagnostic {
            error_type: error_type(&e),
            error_message: e.to_string(),
        })
    }))
    .await
}
