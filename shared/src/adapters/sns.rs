//! Amazon SNS adapter for [`Notifier`].

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;

use super::{OnFirstUse, aws_error};
use crate::error::AwsError;
use crate::outbound::notice::Message;
use crate::ports::Notifier;

/// Publishes to the JSON topic, and the Chatbot format to the Slack topic when there is one.
#[derive(Debug, Clone)]
pub struct Sns {
    client: OnFirstUse<Client>,
    topic_arn: String,
    chat_topic_arn: Option<String>,
}

impl Sns {
    /// Wraps a client and the JSON topic's ARN.
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Sns {
        Sns {
            client: OnFirstUse::made(client),
            topic_arn: topic_arn.into(),
            chat_topic_arn: None,
        }
    }

    /// The JSON topic `topic_arn`, its client made from `sdk` on the first message.
    pub fn on(sdk: &aws_config::SdkConfig, topic_arn: impl Into<String>) -> Sns {
        Sns {
            client: OnFirstUse::from(sdk, |sdk| super::client!(aws_sdk_sns, sdk)),
            topic_arn: topic_arn.into(),
            chat_topic_arn: None,
        }
    }

    /// Also publishes every notice in Chatbot's format to this topic.
    pub fn with_chat_topic(mut self, chat_topic_arn: Option<String>) -> Sns {
        self.chat_topic_arn = chat_topic_arn;
        self
    }
}

impl Notifier for Sns {
    async fn publish(&self, message: &Message) -> Result<(), AwsError> {
        let client = self.client.get("sns:Publish")?;
        let mut req = client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message(&message.body);
        for (name, value) in &message.attributes {
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| AwsError::invalid("sns:Publish", e.to_string()))?;
            req = req.message_attributes(*name, attr);
        }
        req.send().await.map_err(|e| aws_error("sns:Publish", e))?;
        if let (Some(topic), Some(chat)) = (&self.chat_topic_arn, &message.chat) {
            client
                .publish()
                .topic_arn(topic)
                .message(chat)
                .send()
                .await
                .map_err(|e| aws_error("sns:Publish", e))?;
        }
        Ok(())
    }
}
