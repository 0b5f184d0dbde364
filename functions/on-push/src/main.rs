//! on-push Lambda: ECR Image Action events -> make sure the image is scanned, or apply the verdict its
//! digest already has. Glue only: `gatekeeper::bootstrap` builds and runs it, the job is in
//! `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::bootstrap::lambda::{self, Answer, Delivery, LambdaEvent};
use gatekeeper::bootstrap::{AwsGatekeeper, batch_until};
use gatekeeper::error::Error;

fn main() -> ExitCode {
    lambda::run("on-push", |start| start.gatekeeper, handle)
}

/// A batch from the intake queue (each record in turn; a failed image's records go back to the
/// queue), or one push delivered directly. A malformed event is refused, never a failed invocation.
async fn handle(gk: &AwsGatekeeper, event: LambdaEvent<Delivery>) -> Result<Answer, Error> {
    match event.payload {
        Delivery::Batch(batch) => {
            let until = batch_until(event.context.deadline);
            Ok(Answer::batch(
                gk.handle_push_batch(&batch.records, Some(until)).await,
                &batch,
            ))
        }
        Delivery::Direct(incoming) => gk
            .handle_push_delivery(&incoming, &event.context.request_id)
            .await
            .map(Answer::Direct),
    }
}
