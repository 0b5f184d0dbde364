//! Amazon SQS adapter for [`RejectSink`]: the rejected-events queue.

use aws_sdk_sqs::Client;
use serde_json::{Value, json};

use super::{OnFirstUse, aws_error};
use crate::domain::time::{format_rfc3339, now};
use crate::error::AwsError;
use crate::ports::RejectSink;

/// The most of a rejected event a message keeps (SQS bodies were 256 KiB until January 2026, and
/// the reason and envelope need room): a larger event is kept as a truncated string.
const MAX_KEPT_EVENT_BYTES: usize = 200 * 1024;

/// Sends rejected events to one queue.
#[derive(Debug, Clone)]
pub struct SqsRejects {
    client: OnFirstUse<Client>,
    queue_url: String,
}

impl SqsRejects {
    /// Wraps a client and the queue URL.
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsRejects {
        SqsRejects {
            client: OnFirstUse::made(client),
            queue_url: queue_url.into(),
        }
    }

    /// The queue at `queue_url`, its client made from `sdk` on the first rejected event.
    pub fn on(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> SqsRejects {
        SqsRejects {
            client: OnFirstUse::from(sdk, |sdk| super::client!(aws_sdk_sqs, sdk)),
            queue_url: queue_url.into(),
        }
    }
}

/// The body of a rejected-event message: the reason, when, and the event (truncated if huge).
pub fn rejected_body(reason: &str, event: &Value) -> String {
    let text = event.to_string();
    let event = if text.len() <= MAX_KEPT_EVENT_BYTES {
        event.clone()
    } else {
        let mut end = MAX_KEPT_EVENT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Value::String(format!("{}... ({} bytes in all)", &text[..end], text.len()))
    };
    json!({"reason": reason, "rejected_at": format_rfc3339(now()), "event": event}).to_string()
}

impl RejectSink for SqsRejects {
    async fn reject(&self, reason: &str, event: &Value) -> Result<(), AwsError> {
        (self.client.get("sqs:SendMessage")?)
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(rejected_body(reason, event))
            .send()
            .await
            .map_err(|e| aws_error("sqs:SendMessage", e))?;
        Ok(())
    }
}
