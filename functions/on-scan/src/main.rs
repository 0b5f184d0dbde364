//! on-scan Lambda: ECR Image Scan, Inspector2 Scan / Finding / Coverage events -> verdict -> tags -> SNS.
//! Glue only: `gatekeeper::bootstrap` reads the configuration, builds the clients and loads the policy
//! once; the job is in `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::adapters::Inspector;
use gatekeeper::bootstrap::lambda::{self, Answer, Delivery, LambdaEvent};
use gatekeeper::bootstrap::{AwsGatekeeper, batch_until};
use gatekeeper::error::Error;

fn main() -> ExitCode {
    lambda::run(
        "on-scan",
        |start| (start.adapters().findings(), start.gatekeeper),
        handle,
    )
}

/// A batch from the intake queue (each image evaluated once; a failed image's records go back to the
/// queue), or one scan result, finding change or coverage change delivered directly. A malformed
/// event is refused, never a failed invocation.
async fn handle(
    (inspector, gk): &(Inspector, AwsGatekeeper),
    event: LambdaEvent<Delivery>,
) -> Result<Answer, Error> {
    match event.payload {
        Delivery::Batch(batch) => {
            let until = batch_until(event.context.deadline);
            Ok(Answer::batch(
                gk.handle_scan_batch(inspector, &batch.records, Some(until))
                    .await,
                &batch,
            ))
        }
        Delivery::Direct(incoming) => gk
            .handle_scan_delivery(inspector, &incoming, &event.context.request_id)
            .await
            .map(Answer::Direct),
    }
}
