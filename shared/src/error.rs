//! Errors of the library: AWS calls that failed, and configuration that cannot be used.

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
        error: crate::policy::PolicyError,
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
