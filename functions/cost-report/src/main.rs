//! cost-report Lambda: on a schedule (weekly by default), publishes the cost report as a digest:
//! `event_type: cost` on the JSON topic and a Slack notice on the Chatbot topic. Reads only; the
//! scheduler's payload is not read. Glue: the arithmetic is `gatekeeper::cost`.

use std::process::ExitCode;

use gatekeeper::adapters::{
    BUDGET_MARGIN, Inspector, error_type, from_env, gather_cost_inputs, within_budget,
};
use gatekeeper::ports::Notifier;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "cost-report stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let start = from_env().await?;
    let inspector = Inspector::new(aws_sdk_inspector2::Client::new(&start.sdk));
    let (gk, inspector, config) = (&start.gatekeeper, &inspector, &start.config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let digest = async {
            let inputs = gather_cost_inputs(&gk.registry, inspector).await?;
            let report = gatekeeper::cost::report(
                &inputs,
                config.pricing,
                gatekeeper::time::now(),
                config.cost_days,
            );
            gk.notifier.publish(&report.to_message()).await?;
            tracing::info!(projected = ?report.projected_monthly, savings = report.savings.len(), "cost digest published");
            Ok::<_, gatekeeper::error::AwsError>(json!({
                "projected_monthly": report.projected_monthly,
                "covered_images": report.covered_images,
                "savings": report.savings.len(),
                "unscanned_repositories": report.unscanned_repositories.len(),
            }))
        };
        within_budget(event.context.deadline, BUDGET_MARGIN, digest)
            .await
            .map_err(|e| Diagnostic {
            error_type: error_type(&e),
            error_message: e.to_string(),
        })
    }))
    .await
}
