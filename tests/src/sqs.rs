//! Lambda's SQS event source over a real (moto) queue: batches filled the way Lambda's poller fills
//! them, each message hidden for the visibility timeout while its batch runs, the batch handed over as
//! Lambda's SQS event, and the answer's `batchItemFailures` applied as Lambda applies them (the rest
//! deleted; the failures left to reappear when their visibility timeout ends, with a higher
//! `ApproximateReceiveCount`, and moved to the DLQ by SQS after the redrive policy's maxReceiveCount).

use aws_sdk_sqs::types::{
    BatchResultErrorEntry, DeleteMessageBatchRequestEntry, MessageSystemAttributeName,
    QueueAttributeName, SendMessageBatchRequestEntry,
};
use serde_json::{Value, json};

use crate::fixtures::Aws;

/// One message as the poller received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The message id (the same on every redelivery).
    pub id: String,
    /// This receipt's handle (what deletes it).
    pub receipt: String,
    /// The body: an EventBridge event as the rule delivered it.
    pub body: String,
    /// How many times SQS has handed the message out, this time included.
    pub receive_count: u32,
    /// When it was sent (`SentTimestamp`, ms since the epoch), when SQS said.
    pub sent_ms: Option<String>,
}

/// A function's queue as its event source mapping reads it.
#[derive(Debug, Clone)]
pub struct EventSource {
    sqs: aws_sdk_sqs::Client,
    url: String,
    arn: String,
    region: String,
    /// Records per batch at most (the mapping's `BatchSize`).
    pub batch_size: usize,
    /// Seconds a received message stays hidden (the queue's visibility timeout).
    pub visibility: i32,
}

impl EventSource {
    /// The event source of the queue `name` of `aws`'s account (created with `url`).
    pub fn new(
        aws: &Aws,
        name: &str,
        url: &str,
        batch_size: usize,
        visibility: i32,
    ) -> EventSource {
        EventSource {
            sqs: aws.sqs.clone(),
            url: url.to_string(),
            arn: aws.queue_arn(name),
            region: aws.region.clone(),
            batch_size: batch_size.max(1),
            visibility,
        }
    }

    /// Creates the queue `name` with a DLQ `name-dlq` after `max_receive` receives (the redrive
    /// policy infra/ deploys) and returns its event source.
    pub async fn create(
        aws: &Aws,
        name: &str,
        batch_size: usize,
        visibility: i32,
        max_receive: u32,
    ) -> EventSource {
        aws.create_queue(&format!("{name}-dlq")).await;
        let redrive = json!({
            "deadLetterTargetArn": aws.queue_arn(&format!("{name}-dlq")),
            "maxReceiveCount": max_receive,
        });
        let url = aws
            .sqs
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                visibility.to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string();
        EventSource::new(aws, name, &url, batch_size, visibility)
    }

    /// The queue's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Up to `batch_size` visible messages, ten per ReceiveMessage as SQS allows, each now hidden for
    /// the visibility timeout; empty when none is visible.
    pub async fn poll(&self) -> Vec<Received> {
        let mut batch = Vec::new();
        while batch.len() < self.batch_size {
            let want = (self.batch_size - batch.len()).min(10);
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.url)
                .max_number_of_messages(i32::try_from(want).unwrap_or(10))
                .visibility_timeout(self.visibility)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                break;
            }
            for m in got.messages() {
                let count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                let sent = (m.attributes())
                    .and_then(|a| a.get(&MessageSystemAttributeName::SentTimestamp))
                    .cloned();
                batch.push(Received {
                    id: m.message_id().unwrap_or_default().to_string(),
                    receipt: m.receipt_handle().unwrap_or_default().to_string(),
                    body: m.body().unwrap_or_default().to_string(),
                    receive_count: count,
                    sent_ms: sent,
                });
            }
        }
        batch
    }

    /// Lambda's SQS event for `batch` (`{"Records": [...]}`, one record per message).
    pub fn event(&self, batch: &[Received]) -> Value {
        sqs_event(batch, &self.arn, &self.region)
    }

    /// Applies a function's answer to `batch` as Lambda does: every message not named in `retry` is
    /// deleted; those named stay hidden until their visibility timeout ends, then SQS delivers them
    /// again. Returns how many were deleted.
    pub async fn settle(&self, batch: &[Received], retry: &[String]) -> usize {
        let done: Vec<&Received> = batch.iter().filter(|m| !retry.contains(&m.id)).collect();
        for chunk in done.chunks(10) {
            let entries = chunk.iter().enumerate().map(|(n, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(&m.receipt)
                    .build()
                    .unwrap()
            });
            let request = self.sqs.delete_message_batch().queue_url(&self.url);
            let out = request.set_entries(Some(entries.collect())).send().await;
            all_done(out.unwrap().failed());
        }
        done.len()
    }

    /// The message ids an answer asks to retry (`{"batchItemFailures": [{"itemIdentifier": ..}]}`).
    pub fn failures(answer: &Value) -> Vec<String> {
        answer["batchItemFailures"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i["itemIdentifier"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Messages in the queue, visible or not (SQS's approximate counts; moto's are exact).
    pub async fn depth(&self) -> usize {
        let got = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        got.attributes()
            .map(|a| {
                a.values()
                    .filter_map(|v| v.parse::<usize>().ok())
                    .sum::<usize>()
            })
            .unwrap_or(0)
    }

    /// Sends each event to the queue as an EventBridge rule's SQS target would (the event as body).
    pub async fn send(&self, events: &[Value]) {
        for chunk in events.chunks(10) {
            let entries = chunk.iter().enumerate().map(|(n, e)| {
                SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(e.to_string())
                    .build()
                    .unwrap()
            });
            let request = self.sqs.send_message_batch().queue_url(&self.url);
            let out = request.set_entries(Some(entries.collect())).send().await;
            all_done(out.unwrap().failed());
        }
    }
}

/// Lambda's SQS event for `batch` read from the queue `arn` in `region`.
pub fn sqs_event(batch: &[Received], arn: &str, region: &str) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            let mut attributes = json!({"ApproximateReceiveCount": m.receive_count.to_string()});
            if let Some(sent) = &m.sent_ms {
                attributes["SentTimestamp"] = json!(sent);
            }
            json!({
                "messageId": m.id, "receiptHandle": m.receipt, "body": m.body,
                "attributes": attributes,
                "messageAttributes": {}, "eventSource": "aws:sqs",
                "eventSourceARN": arn, "awsRegion": region,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// A poller's next batch: polls again every `pause` while messages are in flight but none is
/// visible; `None` once the queue is empty (nothing visible or in flight) or `deadline` has passed.
pub async fn next_batch<P, D>(
    poll: impl Fn() -> P,
    depth: impl Fn() -> D,
    pause: std::time::Duration,
    deadline: std::time::Instant,
) -> Option<Vec<Received>>
where
    P: std::future::Future<Output = Vec<Received>>,
    D: std::future::Future<Output = usize>,
{
    while std::time::Instant::now() < deadline {
        let batch = poll().await;
        if !batch.is_empty() {
            return Some(batch);
        }
        if depth().await == 0 {
            return None;
        }
        tokio::time::sleep(pause).await;
    }
    None
}

/// A standard SQS queue in memory, for loads moto cannot hold: moto's SQS scans every message on each
/// call (ReceiveMessage takes over a second with 2,500 messages queued), so a 10,000-event update
/// would spend its time in moto. The same semantics as [`EventSource`] reads from moto: a received
/// message is hidden for the visibility timeout, handed out again after it with a higher receive
/// count, moved to the dead-letter queue when received `max_receive` times, deleted only by the
/// receipt handle of its latest receipt.
#[derive(Debug)]
pub struct MemoryQueue {
    state: std::sync::Mutex<Memory>,
    /// Records per batch at most.
    pub batch_size: usize,
    visibility: std::time::Duration,
    max_receive: u32,
}

#[derive(Debug, Default)]
struct Memory {
    messages: Vec<Stored>,
    sent: u64,
    dead: Vec<Stored>,
}

#[derive(Debug, Clone)]
struct Stored {
    id: String,
    body: String,
    visible_at: std::time::Instant,
    receives: u32,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new(
        batch_size: usize,
        visibility: std::time::Duration,
        max_receive: u32,
    ) -> MemoryQueue {
        MemoryQueue {
            state: std::sync::Mutex::default(),
            batch_size: batch_size.max(1),
            visibility,
            max_receive,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues each event as a message.
    pub fn send(&self, events: &[Value]) {
        let now = std::time::Instant::now();
        let mut m = self.lock();
        for e in events {
            m.sent += 1;
            let id = format!("m-{:08}", m.sent);
            m.messages.push(Stored {
                id,
                body: e.to_string(),
                visible_at: now,
                receives: 0,
            });
        }
    }

    /// Up to `batch_size` visible messages, oldest first, each now hidden for the visibility timeout;
    /// a visible message already received `max_receive` times goes to the dead-letter queue instead.
    pub fn poll(&self) -> Vec<Received> {
        let now = std::time::Instant::now();
        let (visibility, max_receive, want) = (self.visibility, self.max_receive, self.batch_size);
        let mut m = self.lock();
        let mut batch = Vec::new();
        let mut dead = Vec::new();
        for (i, s) in m.messages.iter_mut().enumerate() {
            if batch.len() >= want {
                break;
            }
            if s.visible_at > now {
                continue;
            }
            if s.receives >= max_receive {
                dead.push(i);
                continue;
            }
            s.receives += 1;
            s.visible_at = now + visibility;
            batch.push(Received {
                id: s.id.clone(),
                receipt: format!("{}#{}", s.id, s.receives),
                body: s.body.clone(),
                receive_count: s.receives,
                sent_ms: None,
            });
        }
        for i in dead.into_iter().rev() {
            let s = m.messages.remove(i);
            m.dead.push(s);
        }
        batch
    }

    /// Deletes every message of `batch` not named in `retry` (by its receipt: a message received again
    /// since stays); returns how many were deleted.
    pub fn settle(&self, batch: &[Received], retry: &[String]) -> usize {
        let done: std::collections::HashSet<&str> = batch
            .iter()
            .filter(|r| !retry.contains(&r.id))
            .map(|r| r.receipt.as_str())
            .collect();
        let mut m = self.lock();
        let before = m.messages.len();
        m.messages
            .retain(|s| !done.contains(format!("{}#{}", s.id, s.receives).as_str()));
        before - m.messages.len()
    }

    /// Messages in the queue, visible or not.
    pub fn depth(&self) -> usize {
        self.lock().messages.len()
    }

    /// Messages moved to the dead-letter queue.
    pub fn dead(&self) -> usize {
        self.lock().dead.len()
    }
}

/// Fails the test unless every entry of an SQS batch request succeeded.
fn all_done(failed: &[BatchResultErrorEntry]) {
    assert!(failed.is_empty(), "{failed:?}");
}
