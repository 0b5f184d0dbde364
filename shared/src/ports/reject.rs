//! The rejected-events port (SQS): unusable events, kept for people.

use std::future::Future;

use serde_json::Value;

use crate::error::AwsError;

/// The rejected-events queue (SQS): unusable events, kept for people.
pub trait RejectSink {
    /// Sends the event and the reason it was rejected.
    fn reject(
        &self,
        reason: &str,
        event: &Value,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}
