//! The JSON topic and the rejected-events queue in memory: they keep what they are sent, in order.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::lock;
use crate::error::AwsError;
use crate::outbound::notice::Message;
use crate::ports::{Notifier, RejectSink};

/// The JSON topic in memory: every message published, in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingNotifier {
    messages: Arc<Mutex<Vec<Message>>>,
}

impl RecordingNotifier {
    /// The messages published so far.
    pub fn messages(&self) -> Vec<Message> {
        lock(&self.messages).clone()
    }
}

impl Notifier for RecordingNotifier {
    async fn publish(&self, message: &Message) -> Result<(), AwsError> {
        lock(&self.messages).push(message.clone());
        Ok(())
    }
}

/// The rejected-events queue in memory: (reason, event), in order.
#[derive(Debug, Clone, Default)]
pub struct RecordingRejects {
    rejected: Arc<Mutex<Vec<(String, Value)>>>,
}

impl RecordingRejects {
    /// The events rejected so far, with their reasons.
    pub fn rejected(&self) -> Vec<(String, Value)> {
        lock(&self.rejected).clone()
    }
}

impl RejectSink for RecordingRejects {
    async fn reject(&self, reason: &str, event: &Value) -> Result<(), AwsError> {
        lock(&self.rejected).push((reason.to_string(), event.clone()));
        Ok(())
    }
}
