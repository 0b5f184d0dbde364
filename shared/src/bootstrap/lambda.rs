//! A function's whole `main` (feature `lambda`, which only the functions enable, so that the CLI
//! never compiles the Lambda runtime): logging, the cold start, and the runtime loop that runs the
//! handler under the invocation's budget and names its errors for dashboards.

use std::process::ExitCode;

pub use lambda_runtime::LambdaEvent;
use lambda_runtime::{Diagnostic, service_fn};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{BUDGET_MARGIN, ColdStart, within_budget};
use crate::error::Error;

/// Runs a function named `name`: sets up logging, does the [`ColdStart`], gives it to `build` once
/// for the handler's state, then answers every event with `handle` within the invocation's budget.
/// An invalid configuration or policy fails the cold start loudly (logged, exit non-zero), never
/// "allow everything".
pub fn run<S, A, R>(
    name: &'static str,
    build: impl FnOnce(ColdStart) -> S,
    handle: impl AsyncFn(&S, LambdaEvent<A>) -> Result<R, Error>,
) -> ExitCode
where
    A: DeserializeOwned,
    R: Serialize,
{
    lambda_runtime::tracing::init_default_subscriber();
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(lambda_runtime::Error::from)
        .and_then(|runtime| runtime.block_on(serve(build, handle)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve<S, A, R>(
    build: impl FnOnce(ColdStart) -> S,
    handle: impl AsyncFn(&S, LambdaEvent<A>) -> Result<R, Error>,
) -> Result<(), lambda_runtime::Error>
where
    A: DeserializeOwned,
    R: Serialize,
{
    let state = build(ColdStart::from_env().await?);
    let (state, handle) = (&state, &handle);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| async move {
        within_budget(event.context.deadline, BUDGET_MARGIN, handle(state, event))
            .await
            .map_err(Diagnostic::from)
    }))
    .await
}

/// A failed invocation as Lambda reports it: `errorType` is [`Error::error_type`]
/// (`Retryable.lambda.Invoke`, `Failed.ecr.PutImage` ...), `errorMessage` the one-line error.
impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GatekeeperError;

    #[test]
    fn a_failed_invocation_is_reported_with_its_stable_name() {
        let d = Diagnostic::from(Error::from(GatekeeperError::BudgetExhausted {
            margin_ms: 2000,
        }));
        assert_eq!(d.error_type, "Retryable.lambda.Invoke");
        assert!(
            d.error_message.contains("BudgetExhausted"),
            "{}",
            d.error_message
        );
    }
}
