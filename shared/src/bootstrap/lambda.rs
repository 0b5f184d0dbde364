//! A function's whole `main` (feature `lambda`, which only the functions enable, so that the CLI
//! never compiles the Lambda runtime): logging, the cold start, and the runtime loop that runs the
//! handler under the invocation's budget and names its errors for dashboards; and what an event
//! function is invoked with (an SQS batch or one EventBridge event) and answers.

use std::process::ExitCode;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
pub use lambda_runtime::LambdaEvent;
use lambda_runtime::{Diagnostic, service_fn};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::{BUDGET_MARGIN, ColdStart, within_budget};
use crate::domain::Decision;
use crate::domain::events::{Incoming, MAX_EVENT_BYTES};
use crate::error::Error;
use crate::outbound::metrics::{Metrics, throttles_emf};
use crate::outbound::notice::{ActionKind, ActionStatus};
use crate::service::{BatchReport, Outcome, Record, Status};

/// Runs a function named `name`: sets up logging, does the [`ColdStart`], gives it to `build` once
/// for the handler's state, then answers every event with `handle` within the invocation's budget.
/// An invalid configuration or policy fails the cold start loudly (logged, exit non-zero), never
/// "allow everything".
pub fn run<S, A, R>(
    name: &'static str,
    build: impl FnOnce(ColdStart) -> S,
    handle: impl AsyncFn(&S, LambdaEvent<A>) -> Result<R, Error>,
) -> ExitCode
where
    A: DeserializeOwned,
    R: Serialize + Measured,
{
    lambda_runtime::tracing::init_default_subscriber();
    let served = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(lambda_runtime::Error::from)
        .and_then(|runtime| runtime.block_on(serve(name, build, handle)));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{name} stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve<S, A, R>(
    name: &'static str,
    build: impl FnOnce(ColdStart) -> S,
    handle: impl AsyncFn(&S, LambdaEvent<A>) -> Result<R, Error>,
) -> Result<(), lambda_runtime::Error>
where
    A: DeserializeOwned,
    R: Serialize + Measured,
{
    let state = build(ColdStart::from_env().await?);
    let (state, handle) = (&state, &handle);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<A>| async move {
        let answer =
            within_budget(event.context.deadline, BUDGET_MARGIN, handle(state, event)).await;
        // The EMF line: a log line of its own, which CloudWatch Logs turns into metrics. A failed
        // invocation reports the throttles it met too (they may be why it failed).
        let throttles = crate::adapters::take_throttles();
        match answer.as_ref().ok().and_then(Measured::metrics) {
            Some(m) => println!("{}", Metrics { throttles, ..m }.emf(name, now_ms())),
            None => println!("{}", throttles_emf(name, throttles, now_ms())),
        }
        answer.map_err(Diagnostic::from)
    }))
    .await
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A function's answer that says what the invocation did as [`Metrics`] (event functions); the
/// others' lines carry only the AWS throttles they met.
pub trait Measured {
    /// The invocation's metrics, if it has any.
    fn metrics(&self) -> Option<Metrics> {
        None
    }
}

impl Measured for crate::service::SweepReport {}
impl Measured for serde_json::Value {}

/// What an event function is invoked with: a batch from its SQS intake queue (the event source
/// mapping), or one EventBridge event (a rule that targets the function, as deployments before the
/// intake queues do).
#[derive(Debug)]
pub enum Delivery {
    /// The SQS batch's records.
    Batch(Batch),
    /// One EventBridge event.
    Direct(Incoming),
}

/// An SQS batch: its records (message id and body) and when the oldest was sent.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records.
    pub records: Vec<Record>,
    /// The oldest record's `SentTimestamp` (ms since the epoch), when SQS said.
    pub oldest_sent_ms: Option<i64>,
}

/// Just enough of a payload to tell an SQS batch: `Records` whose first `eventSource` is `aws:sqs`.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "Records")]
    records: Option<Vec<ProbeRecord>>,
}

#[derive(Deserialize)]
struct ProbeRecord {
    #[serde(rename = "eventSource")]
    event_source: Option<String>,
}

impl Delivery {
    /// Reads a payload's JSON text. An SQS batch's record bodies are each read as an event (one that
    /// cannot be is refused when it is parsed, with the reason); anything else is one event.
    pub fn from_text(text: &str) -> Delivery {
        let sqs = serde_json::from_str::<Probe>(text).is_ok_and(|p| {
            p.records.is_some_and(|r| {
                r.first()
                    .is_some_and(|f| f.event_source.as_deref() == Some("aws:sqs"))
            })
        });
        let batch = sqs
            .then(|| serde_json::from_str::<SqsEvent>(text).ok())
            .flatten();
        match batch {
            Some(batch) => {
                let oldest_sent_ms = (batch.records.iter())
                    .filter_map(|m| m.attributes.get("SentTimestamp")?.parse::<i64>().ok())
                    .min();
                let records = batch.records.into_iter().map(record).collect();
                Delivery::Batch(Batch {
                    records,
                    oldest_sent_ms,
                })
            }
            None => Delivery::Direct(
                Incoming::from_text(text, MAX_EVENT_BYTES)
                    .unwrap_or_else(|e| Incoming::unreadable(text, e.reason())),
            ),
        }
    }
}

/// One SQS message as a [`Record`].
fn record(message: aws_lambda_events::event::sqs::SqsMessage) -> Record {
    let id = message.message_id.unwrap_or_default();
    let incoming = match message.body {
        Some(body) => Incoming::from_text(&body, MAX_EVENT_BYTES)
            .unwrap_or_else(|e| Incoming::unreadable(&body, e.reason())),
        None => Incoming::unreadable("", "an SQS record without a body"),
    };
    Record { id, incoming }
}

/// Lambda hands the payload over as JSON text, read as raw text first (see [`Incoming`]).
impl<'de> Deserialize<'de> for Delivery {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(Delivery::from_text(raw.get()))
    }
}

/// What an event function answers: for a batch, the records to deliver again
/// (`{"batchItemFailures": [...]}`, read by an event source mapping with `ReportBatchItemFailures`);
/// for one event, its outcome. Either way, what the invocation did, as metrics (not serialised).
#[derive(Debug)]
pub enum Answer {
    /// The partial batch response, and the batch's metrics.
    Batch(SqsBatchResponse, Box<Metrics>),
    /// One event's outcome.
    Direct(Outcome),
}

impl Serialize for Answer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Answer::Batch(response, _) => response.serialize(s),
            Answer::Direct(outcome) => outcome.serialize(s),
        }
    }
}

impl Answer {
    /// The partial batch response of a batch's report: exactly its records to retry.
    pub fn batch(report: BatchReport, batch: &Batch) -> Answer {
        let mut metrics = count(&report.outcomes);
        metrics.events = batch.records.len() as u64;
        metrics.retried = report.retry.len() as u64;
        metrics.oldest_event_age_ms =
            (batch.oldest_sent_ms).map(|sent| u64::try_from(now_ms() - sent).unwrap_or(0));
        let mut response = SqsBatchResponse::default();
        response.set_failures(report.retry);
        Answer::Batch(response, Box::new(metrics))
    }
}

impl Measured for Answer {
    fn metrics(&self) -> Option<Metrics> {
        Some(match self {
            Answer::Batch(_, m) => (**m).clone(),
            Answer::Direct(outcome) => {
                let mut m = count(std::slice::from_ref(outcome));
                m.events = 1;
                m
            }
        })
    }
}

/// What the outcomes of one invocation did, as metrics (events and retries are the caller's).
fn count(outcomes: &[Outcome]) -> Metrics {
    let mut m = Metrics::default();
    for o in outcomes {
        match o.status {
            Status::Rejected => m.rejected += 1,
            Status::Skipped => {}
            Status::InProgress => {
                m.contended += 1;
                m.evaluations += 1;
            }
            _ => m.evaluations += 1,
        }
        if o.status == Status::Changed {
            let slot = match o.decision {
                Some(Decision::Block) => 0,
                Some(Decision::Warn) => 1,
                Some(Decision::Pass) => 2,
                Some(Decision::Pending) | None => 3,
            };
            m.verdicts[slot] += 1;
        }
        for a in o.actions.iter().filter(|a| a.status == ActionStatus::Done) {
            match a.action {
                ActionKind::AddTag | ActionKind::RemoveTag if a.note.is_none() => {
                    m.tag_changes += 1;
                }
                ActionKind::Archive => m.archives += 1,
                ActionKind::Restore => m.restores += 1,
                _ => {}
            }
        }
    }
    m
}

/// A failed invocation as Lambda reports it: `errorType` is [`Error::error_type`]
/// (`Retryable.lambda.Invoke`, `Failed.ecr.PutImage` ...), `errorMessage` the one-line error.
impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::GatekeeperError;

    #[test]
    fn an_sqs_batch_is_read_record_by_record_and_anything_else_as_one_event() {
        let event = r#"{"version":"0","id":"e-1","detail-type":"ECR Image Scan","source":"aws.ecr","detail":{}}"#;
        let batch = serde_json::json!({"Records": [
            {"messageId": "m-1", "body": event, "eventSource": "aws:sqs"},
            {"messageId": "m-2", "body": "{not json", "eventSource": "aws:sqs"},
            {"messageId": "m-3", "eventSource": "aws:sqs"},
        ]});
        let Delivery::Batch(Batch { records, .. }) = Delivery::from_text(&batch.to_string()) else {
            panic!("not read as a batch");
        };
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["m-1", "m-2", "m-3"]);
        assert_eq!(records[0].incoming.value["id"], "e-1");
        assert!(records[0].incoming.refusal().is_none());
        assert!(records[1].incoming.refusal().is_some());
        assert_eq!(
            records[2]
                .incoming
                .refusal()
                .map(|e| e.reason().to_string()),
            Some("an SQS record without a body".to_string())
        );
        let Delivery::Direct(one) = Delivery::from_text(event) else {
            panic!("an EventBridge event read as a batch");
        };
        assert_eq!(one.value["id"], "e-1");
        // Records that are not SQS's (another event source) are one (unusable) event, not a batch.
        let kinesis = r#"{"Records":[{"eventSource":"aws:kinesis"}]}"#;
        assert!(matches!(Delivery::from_text(kinesis), Delivery::Direct(_)));
        assert!(matches!(Delivery::from_text("[1,"), Delivery::Direct(i) if i.refusal().is_some()));
    }

    #[test]
    fn a_batch_answers_exactly_its_records_to_retry() {
        let report = BatchReport {
            outcomes: Vec::new(),
            retry: vec!["m-2".into(), "m-5".into()],
            out_of_time: false,
        };
        assert_eq!(
            serde_json::to_value(Answer::batch(report, &Batch::default())).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-2"}, {"itemIdentifier": "m-5"}]})
        );
        assert_eq!(
            serde_json::to_value(Answer::batch(BatchReport::default(), &Batch::default())).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
    }

    #[test]
    fn a_failed_invocation_is_reported_with_its_stable_name() {
        let d = Diagnostic::from(Error::from(GatekeeperError::BudgetExhausted {
            margin_ms: 2000,
        }));
        assert_eq!(d.error_type, "Retryable.lambda.Invoke");
        assert!(
            d.error_message.contains("BudgetExhausted"),
            "{}",
            d.error_message
        );
    }
}
