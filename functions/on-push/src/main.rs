//! on-push Lambda: ECR Image Action events -> make sure the image is scanned, or apply the verdict its
//! digest already has. Glue only: `gatekeeper::bootstrap` builds and runs it, the job is in
//! `gatekeeper::service`.

use std::process::ExitCode;

use gatekeeper::bootstrap::AwsGatekeeper;
use gatekeeper::bootstrap::lambda::{self, LambdaEvent};
use gatekeeper::domain::events::Incoming;
use gatekeeper::error::Error;
use gatekeeper::service::Outcome;

fn main() -> ExitCode {
    lambda::run("on-push", |start| start.gatekeeper, handle)
}

/// One push. The payload is [`Incoming`] so that a malformed event is refused, not a failed invocation.
async fn handle(gk: &AwsGatekeeper, event: LambdaEvent<Incoming>) -> Result<Outcome, Error> {
    gk.handle_push_delivery(&event.payload, &event.context.request_id)
        .await
}
