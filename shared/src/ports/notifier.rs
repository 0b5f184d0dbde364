//! The notifier port (Amazon SNS): one message to the JSON topic.

use std::future::Future;

use crate::error::AwsError;
use crate::outbound::notice::Message;

/// Amazon SNS: one message to the JSON topic.
pub trait Notifier {
    /// Publishes the message with its subject and attributes.
    fn publish(&self, message: &Message) -> impl Future<Output = Result<(), AwsError>> + Send;
}
