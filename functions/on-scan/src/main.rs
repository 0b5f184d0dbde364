//! on-scan Lambda: ECR Image Scan, Inspector2 Scan / Finding / Coverage events -> verdict -> tags -> SNS.
//! Glue only: `gatekeeper::bootstrap` reads the configuration, builds the clients and loads the policy
//! once; the job is in `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::adapters::Inspector;
use gatekeeper::bootstrap::AwsGatekeeper;
use gatekeeper::bootstrap::lambda::{self, LambdaEvent};
use gatekeeper::domain::events::Incoming;
use gatekeeper::error::Error;
use gatekeeper::service::Outcome;

fn main() -> ExitCode {
    lambda::run(
        "on-scan",
        |start| (start.adapters().findings(), start.gatekeeper),
        handle,
    )
}

/// One scan result, finding change or coverage change, read with Inspector's findings. The payload is
/// [`Incoming`] so that a malformed event is refused, not a failed invocation.
async fn handle(
    (inspector, gk): &(Inspector, AwsGatekeeper),
    event: LambdaEvent<Incoming>,
) -> Result<Outcome, Error> {
    gk.handle_scan_delivery(inspector, &event.payload, &event.context.request_id)
        .await
}
