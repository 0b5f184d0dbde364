//! on-push Lambda: ECR Image Action events -> make sure the image is scanned, or apply the verdict its
//! digest already has. Glue only: the job is in `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::adapters::{BUDGET_MARGIN, error_type, from_env, within_budget};
use gatekeeper::events::Incoming;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    lambda_runtime::tracing::init_default_subscriber();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        // An invalid configuration or policy fails the cold start loudly, never "allow everything".
        Err(e) => {
            tracing::error!(error = %e, "on-push stopped");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), lambda_runtime::Error> {
    let gk = from_env().await?.gatekeeper;
    let gk = &gk;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Incoming>| async move {
        within_budget(
            event.context.deadline,
            BUDGET_MARGIN,
            gk.handle_push_delivery(&event.payload, &event.context.request_id),
        )
        .await
        .map_err(|e| Diagnostic {
            error_type: error_type(&e),
            error_message: e.to_string(),
        })
    }))
    .await
}
