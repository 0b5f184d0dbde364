//! AWS SDK adapters for the ports: one per service. They paginate inside, map SDK enums with a
//! fallback, and turn SDK errors into [`AwsError`] keeping AWS's code and whether a retry can help.

mod cost_source;
mod dynamodb;
mod ecr;
mod inspector;
mod members;
mod pace;
mod s3;
mod sns;
mod sqs;
mod throttles;

pub use cost_source::{
    OrganizationInputs, gather as gather_cost_inputs,
    gather_each as gather_organization_cost_inputs,
};
pub use dynamodb::{DUE_INDEX, DUE_SHARD, DynamoState, HISTORY_DAYS, HISTORY_INDEX, image_key};
pub use ecr::{Ecr, PUT_IMAGE_TPS};
pub use inspector::{INSPECTOR_TPS, Inspector, finding_from_sdk};
pub use members::{Members, OU_PATH_PARAMETER, READ_ROLE_SUFFIX, SOURCE_IDENTITY};
pub use pace::Pace;
pub use s3::ReportBucket;
pub use sns::Sns;
pub use sqs::{SqsRejects, rejected_body};
pub use throttles::{CountThrottles, take as take_throttles};

/// An SDK client of the service crate `$sdk` made from the SDK configuration `$config`, counting the
/// throttling errors AWS answers it with ([`CountThrottles`]).
macro_rules! client {
    ($sdk:ident, $config:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor($crate::adapters::CountThrottles)
                .build(),
        )
    };
}
pub(crate) use client;

use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};

use std::time::Duration;

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

/// How the SDK clients retry and time out: every call is retried on throttling, 5xx, timeouts and
/// dropped connections with exponential backoff and full jitter, and bounded in time so that a
/// whole invocation fits the Lambda's timeout (60 s) with room for its own error report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resilience {
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// The first retry's backoff ceiling; it doubles per attempt (jittered below the ceiling).
    pub initial_backoff: Duration,
    /// The largest backoff ceiling.
    pub max_backoff: Duration,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for one attempt (a hung connection is given up and retried).
    pub attempt_timeout: Duration,
    /// Time for one call, retries included.
    pub operation_timeout: Duration,
}

impl Default for Resilience {
    /// 4 attempts, backoff ceilings 0.2 s, 0.4 s, 0.8 s (at most 5 s), 2 s to connect, 8 s per
    /// attempt, 20 s per call.
    fn default() -> Self {
        Resilience {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(8),
            operation_timeout: Duration::from_secs(20),
        }
    }
}

/// Loads the SDK configuration from the environment (Lambda's credentials and region, and
/// `AWS_ENDPOINT_URL` for local emulators) with the gatekeeper's [`Resilience`].
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_with(Resilience::default()).await
}

/// [`sdk_config`] with other retry and timeout settings (tests shorten them).
pub async fn sdk_config_with(r: Resilience) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(r.retry_config())
        .timeout_config(r.timeout_config())
        .load()
        .await
}

impl Resilience {
    /// The SDK's standard retry strategy (exponential backoff, full jitter) with these settings.
    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_initial_backoff(self.initial_backoff)
            .with_max_backoff(self.max_backoff)
    }

    /// The SDK's timeouts with these settings.
    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }
}

/// An SDK client made on first use from the SDK configuration: making one costs some 0.2 ms, at cold
/// start, and many invocations never call some services (the rejected-events queue, the topics).
#[derive(Debug, Clone)]
pub struct OnFirstUse<C> {
    made: std::sync::Arc<std::sync::OnceLock<C>>,
    from: Option<(aws_config::SdkConfig, MakeClient<C>)>,
}

/// How a client is made from the SDK configuration (`aws_sdk_sns::Client::new` ...).
type MakeClient<C> = fn(&aws_config::SdkConfig) -> C;

impl<C> OnFirstUse<C> {
    /// A client made already (tests give theirs, with their interceptors).
    pub fn made(client: C) -> OnFirstUse<C> {
        let made = std::sync::OnceLock::new();
        let _ = made.set(client);
        OnFirstUse {
            made: std::sync::Arc::new(made),
            from: None,
        }
    }

    /// A client that `make` makes from `sdk` when it is first used.
    pub fn from(
        sdk: &aws_config::SdkConfig,
        make: fn(&aws_config::SdkConfig) -> C,
    ) -> OnFirstUse<C> {
        OnFirstUse {
            made: std::sync::Arc::default(),
            from: Some((sdk.clone(), make)),
        }
    }

    /// The client; an error naming `operation` only if it was given neither way (no constructor
    /// allows that).
    pub fn get(&self, operation: &'static str) -> Result<&C, AwsError> {
        if let Some(client) = self.made.get() {
            return Ok(client);
        }
        match &self.from {
            Some((sdk, make)) => Ok(self.made.get_or_init(|| make(sdk))),
            None => Err(AwsError::invalid(operation, "no SDK client")),
        }
    }
}
