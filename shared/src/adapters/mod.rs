//! AWS SDK adapters for the ports: one per service. They paginate inside, map SDK enums with a
//! fallback, and turn SDK errors into [`AwsError`] keeping AWS's code and whether a retry can help.

mod cost_source;
mod dynamodb;
mod ecr;
mod inspector;
mod policy_source;
mod sns;
mod sqs;

pub use cost_source::gather as gather_cost_inputs;
pub use dynamodb::{DUE_INDEX, DUE_SHARD, DynamoState};
pub use ecr::Ecr;
pub use inspector::{Inspector, finding_from_sdk};
pub use policy_source::load_policy;
pub use sns::Sns;
pub use sqs::SqsRejects;

use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};

use crate::error::{AwsError, AwsErrorKind};

const THROTTLING_CODES: [&str; 9] = [
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "SlowDown",
];

/// Maps any SDK error to an [`AwsError`]: throttling and 5xx/timeouts/dropped connections are
/// retryable, everything else is not. The service model's retry classification comes first, then
/// AWS's error code and the HTTP status.
pub(crate) fn aws_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = ProvideErrorMetadata::code(service.err()).map(str::to_string);
            let status = service.raw().status().as_u16();
            let kind = match service.err().retryable_error_kind() {
                Some(ErrorKind::ThrottlingError) => AwsErrorKind::Throttled,
                Some(ErrorKind::ServerError | ErrorKind::TransientError) => AwsErrorKind::Transient,
                _ if code
                    .as_deref()
                    .is_some_and(|c| THROTTLING_CODES.contains(&c))
                    || status == 429 =>
                {
                    AwsErrorKind::Throttled
                }
                _ if status >= 500 => AwsErrorKind::Transient,
                _ => AwsErrorKind::Rejected,
            };
            let message = service.err().message().map_or_else(
                || format!("HTTP {status}"),
                |m| m.chars().take(300).collect(),
            );
            AwsError {
                operation,
                code,
                message,
                kind,
            }
        }
        SdkError::ConstructionFailure(_) => AwsError {
            operation,
            code: None,
            message: error_chain(&err),
            kind: AwsErrorKind::Rejected,
        },
        _ => AwsError {
            operation,
            code: None,
            message: error_chain(&err),
            kind: AwsErrorKind::Transient,
        },
    }
}

/// An error with its sources, one line (for messages about SDK errors outside the adapters).
pub fn describe_error(err: &dyn std::error::Error) -> String {
    error_chain(err)
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out.chars().take(400).collect()
}

/// Seconds since the epoch of an SDK timestamp.
pub(crate) fn epoch(t: &aws_sdk_ecr::primitives::DateTime) -> i64 {
    t.secs()
}

/// The gatekeeper wired to AWS.
pub type AwsGatekeeper = crate::service::Gatekeeper<Ecr, Sns, DynamoState, SqsRejects>;

/// Loads the SDK configuration from the environment (Lambda's credentials and region, and
/// `AWS_ENDPOINT_URL` for local emulators).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_from_env().await
}

/// Builds the gatekeeper's adapters from one SDK configuration: clients are built once per container.
pub fn gatekeeper(
    config: &crate::config::Config,
    policy: crate::policy::Policy,
    sdk: &aws_config::SdkConfig,
) -> AwsGatekeeper {
    crate::service::Gatekeeper {
        registry: Ecr::new(aws_sdk_ecr::Client::new(sdk)),
        notifier: Sns::new(aws_sdk_sns::Client::new(sdk), config.topic_arn.clone())
            .with_chat_topic(config.chat_topic_arn.clone()),
        state: DynamoState::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.state_table.clone(),
        ),
        rejects: SqsRejects::new(
            aws_sdk_sqs::Client::new(sdk),
            config.rejected_queue_url.clone(),
        ),
        policy,
        mode: config.mode,
        tags: config.tags.clone(),
        claim_lease: config.claim_lease,
        clock: crate::time::now,
    }
}

/// What a function builds once at cold start.
#[derive(Debug)]
pub struct ColdStart {
    /// The gatekeeper and its clients.
    pub gatekeeper: AwsGatekeeper,
    /// The SDK configuration, for the function's own clients.
    pub sdk: aws_config::SdkConfig,
    /// The configuration read from the environment.
    pub config: crate::config::Config,
}

/// Everything a function does once at cold start: configuration, policy, SDK configuration and the
/// gatekeeper's clients. An invalid configuration or policy is an error: the function does not start.
pub async fn from_env() -> Result<ColdStart, crate::error::ConfigError> {
    let config = crate::config::Config::from_env()?;
    let sdk = sdk_config().await;
    let policy = load_policy(&config.policy, &sdk).await?;
    crate::config::check_verified_prefixes(&policy, &config.tags)?;
    Ok(ColdStart {
        gatekeeper: gatekeeper(&config, policy, &sdk),
        sdk,
        config,
    })
}

/// A stable name for dashboards of a failed invocation: `Retryable.<operation>` or `Failed.<operation>`.
pub fn error_type(e: &AwsError) -> String {
    let class = if e.is_retryable() {
        "Retryable"
    } else {
        "Failed"
    };
    format!("{class}.{}", e.operation.replace(':', "."))
}
