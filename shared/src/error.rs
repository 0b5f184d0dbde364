//! Errors of the library: AWS calls that failed ([`AwsError`]), the gatekeeper's own failures
//! ([`GatekeeperError`]), either of them as a job's [`Error`] with a stable name for dashboards, and
//! configuration that cannot be used ([`ConfigError`]).

use std::fmt;

/// What kind of AWS failure, for deciding whether a retry can cure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Throttled (ThrottlingException, TooManyRequests, ProvisionedThroughputExceeded ...).
    Throttled,
    /// A 5xx answer, a timeout or a dropped connection.
    Transient,
    /// Refused for good (access denied, validation, not found where it must exist ...).
    Rejected,
}

/// A failed AWS call: the operation, AWS's error code and message, and whether to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    /// `ecr:PutImage`, `dynamodb:UpdateItem` ...
    pub operation: &'static str,
    /// AWS's error code, when it gave one.
    pub code: Option<String>,
    /// A one-line message.
    pub message: String,
    /// The class of failure.
    pub kind: AwsErrorKind,
}

impl AwsError {
    /// Whether retrying the invocation later can cure it.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, AwsErrorKind::Throttled | AwsErrorKind::Transient)
    }

    /// A rejected-kind error without an AWS code (an answer the adapter cannot use).
    pub fn invalid(operation: &'static str, message: impl Into<String>) -> AwsError {
        AwsError {
            operation,
            code: None,
            message: message.into(),
            kind: AwsErrorKind::Rejected,
        }
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} failed: {code}: {}", self.operation, self.message),
            None => write!(f, "{} failed: {}", self.operation, self.message),
        }
    }
}

impl std::error::Error for AwsError {}

/// A failure of the gatekeeper's own, not of an AWS call. Each names an operation as AWS errors do
/// (`gatekeeper:claim`, `lambda:Invoke`), so a dashboard reads both kinds alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatekeeperError {
    /// Another delivery holds the image's change, or kept winning its conditional writes: a retry
    /// finds it settled. Retryable.
    #[error("gatekeeper:claim failed: Contention: {0}")]
    Contention(String),
    /// The invocation's time ran out before the work did; every step is safe to cut short and the
    /// next delivery completes it. Retryable.
    #[error(
        "lambda:Invoke failed: BudgetExhausted: stopped {margin_ms} ms before the function's timeout; the next delivery completes the work"
    )]
    BudgetExhausted {
        /// The margin kept before Lambda's own timeout, milliseconds.
        margin_ms: u128,
    },
    /// A step ran without what an earlier step must have given it: a defect, which a retry cannot cure.
    #[error("gatekeeper:decide failed: {0}")]
    Invariant(&'static str),
}

impl GatekeeperError {
    /// Whether retrying the invocation later can cure it.
    pub fn is_retryable(&self) -> bool {
        match self {
            GatekeeperError::Contention(_) | GatekeeperError::BudgetExhausted { .. } => true,
            GatekeeperError::Invariant(_) => false,
        }
    }

    /// The operation it names, as an [`AwsError`] names its AWS call.
    pub fn operation(&self) -> &'static str {
        match self {
            GatekeeperError::Contention(_) => "gatekeeper:claim",
            GatekeeperError::BudgetExhausted { .. } => "lambda:Invoke",
            GatekeeperError::Invariant(_) => "gatekeeper:decide",
        }
    }
}

/// Why a job of the gatekeeper failed: an AWS call, or the gatekeeper itself. A handler returns it,
/// and [`Error::error_type`] names it for the invocation's `errorType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// The gatekeeper's own failure.
    #[error(transparent)]
    Gatekeeper(#[from] GatekeeperError),
}

impl Error {
    /// Whether retrying the invocation later can cure it.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Aws(e) => e.is_retryable(),
            Error::Gatekeeper(e) => e.is_retryable(),
        }
    }

    /// The operation that failed: `ecr:PutImage`, `gatekeeper:claim`, `lambda:Invoke` ...
    pub fn operation(&self) -> &'static str {
        match self {
            Error::Aws(e) => e.operation,
            Error::Gatekeeper(e) => e.operation(),
        }
    }

    /// A stable name for dashboards of a failed invocation: `Retryable.<operation>` or
    /// `Failed.<operation>`, with `.` for `:` (`Retryable.lambda.Invoke`, `Failed.ecr.PutImage`).
    pub fn error_type(&self) -> String {
        let class = if self.is_retryable() {
            "Retryable"
        } else {
            "Failed"
        };
        format!("{class}.{}", self.operation().replace(':', "."))
    }
}

/// A setting that cannot be used; the function does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("{name}={value:?}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// The policy is invalid.
    #[error("policy {source_name}: {error}")]
    Policy {
        /// Where it came from.
        source_name: String,
        /// What is wrong, with line and field.
        error: crate::domain::policy::PolicyError,
    },
    /// The policy could not be read.
    #[error("policy {source_name}: {message}")]
    PolicyUnreadable {
        /// Where it came from.
        source_name: String,
        /// Why.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_keep_the_names_dashboards_use() {
        let cases: [(Error, &str); 5] = [
            (
                GatekeeperError::BudgetExhausted { margin_ms: 2000 }.into(),
                "Retryable.lambda.Invoke",
            ),
            (
                GatekeeperError::Contention("busy".into()).into(),
                "Retryable.gatekeeper.claim",
            ),
            (
                GatekeeperError::Invariant("detail unread").into(),
                "Failed.gatekeeper.decide",
            ),
            (
                AwsError::invalid("ecr:PutImage", "bad").into(),
                "Failed.ecr.PutImage",
            ),
            (
                AwsError {
                    operation: "dynamodb:UpdateItem",
                    code: Some("ThrottlingException".into()),
                    message: "slow down".into(),
                    kind: AwsErrorKind::Throttled,
                }
                .into(),
                "Retryable.dynamodb.UpdateItem",
            ),
        ];
        for (e, name) in cases {
            assert_eq!(e.error_type(), name, "{e}");
        }
    }

    #[test]
    fn the_gatekeepers_own_failures_read_like_aws_failures() {
        assert_eq!(
            Error::from(GatekeeperError::Contention(
                "x@sha256:1: state kept changing".into()
            ))
            .to_string(),
            "gatekeeper:claim failed: Contention: x@sha256:1: state kept changing"
        );
        assert_eq!(
            GatekeeperError::BudgetExhausted { margin_ms: 2000 }.to_string(),
            "lambda:Invoke failed: BudgetExhausted: stopped 2000 ms before the function's timeout; the next delivery completes the work"
        );
        assert_eq!(
            Error::from(AwsError::invalid("ecr:PutImage", "bad")).to_string(),
            "ecr:PutImage failed: bad"
        );
    }
}
