//! Amazon DynamoDB adapter for [`crate::ports::StateStore`]: one on-demand table, partition key `pk` (string).
//!
//! Items: `image#<repository>#<digest>` (decision, version, the unfinished claim), and one-off marks
//! (`alert#...`), KEV answers (`kev#<vulnerability>`) and the verdict history
//! (`history#<image key>#<change>`, on the `history` index by day) that expire through the table's
//! TTL attribute `expires_at`. The writes that decide an image's disposition (claims, their finish,
//! quiet decisions, archive records) are conditional on its version, so parallel deliveries for one
//! image serialise here.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::aws_error;
use crate::domain::history::Change;
use crate::domain::time::{DAY, Epoch, format_date};
use crate::domain::verdict::Summary;
use crate::domain::{Decision, ImageRef, Kev, Severity};
use crate::error::AwsError;
use crate::ports::{
    ImageAnnotations, ImageRecords, KevCache, OnceMarks, SweepSchedule, TagChangeBreaker,
    TicketLedger, VerdictHistory,
};
use crate::state::{
    Archive, ArchiveWrite, BreakerCount, Claim, ImageState, Mark, Override, SeenFindings,
    TicketBefore, TicketChange, Written, key_scope, split_scope,
};

/// The state table.
#[derive(Debug, Clone)]
pub struct DynamoState {
    client: Client,
    table: String,
    /// What KEV says of each vulnerability, as remembered in the table, until when: a warm
    /// container's later evaluations do not read it again (clones share it).
    kev_memory: std::sync::Arc<std::sync::Mutex<KevMemory>>,
    /// How long the verdict history is kept, days.
    history_days: i64,
}

/// How long the verdict history is kept unless the deployment says (`GATEKEEPER_HISTORY_DAYS`):
/// 400 days, so that a yearly audit sees the whole year.
pub const HISTORY_DAYS: i64 = 400;
/// The sparse index of the verdict history: partition `history_day` (`YYYY-MM-DD`), sort `history_at`.
pub const HISTORY_INDEX: &str = "history";

/// What KEV says of each vulnerability id, and until when.
type KevMemory = HashMap<String, (Option<Kev>, Epoch)>;

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, k: &str) -> Option<&'a str> {
    item.get(k).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_ss(item: &Item, k: &str) -> Vec<String> {
    let mut v = item
        .get(k)
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    v.sort();
    v
}

fn get_n(item: &Item, k: &str) -> Option<i64> {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The item of the circuit breaker: tag changes per window, and when it tripped.
pub const BREAKER_KEY: &str = "breaker";

/// The partition key of the item of the ticket of (the image's account and region, repository,
/// vulnerability).
pub fn ticket_item_key(image: &ImageRef, vulnerability: &str) -> String {
    format!(
        "{}ticket#{}#{}",
        key_scope(image.place.as_ref()),
        image.repository,
        vulnerability.to_ascii_uppercase()
    )
}

/// The sparse global secondary index of images the sweep must look at again: partition key
/// `due_shard` (always [`DUE_SHARD`]), sort key `due_at`. Only items with a due time are in it.
pub const DUE_INDEX: &str = "due";
/// The one partition of [`DUE_INDEX`].
pub const DUE_SHARD: &str = "due";
const SWEEP_KEY: &str = "sweep#last";

/// The state table key of an image.
pub fn image_key(image: &ImageRef) -> String {
    format!(
        "{}image#{}#{}",
        key_scope(image.place.as_ref()),
        image.repository,
        image.digest
    )
}

/// The image of a state table key made by [`image_key`].
fn image_of_key(key: &str) -> Option<ImageRef> {
    let (place, rest) = split_scope(key);
    let (repository, digest) = rest.strip_prefix("image#")?.rsplit_once('#')?;
    Some(ImageRef {
        place,
        ..ImageRef::home(repository, digest)
    })
}

/// The unfinished change an image's item records, if any.
fn claim_from(item: &Item) -> Option<Claim> {
    match (
        get_s(item, "claim_event"),
        get_s(item, "claim_decision").and_then(Decision::parse),
    ) {
        (Some(event_id), Some(decision)) => Some(Claim {
            event_id: event_id.to_string(),
            at: get_n(item, "claim_at").unwrap_or(0),
            decision,
            previous: get_s(item, "claim_previous").and_then(Decision::parse),
            previous_overridden: item
                .get("claim_prev_overridden")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            sequence: get_n(item, "claim_seq").unwrap_or(0).max(0) as u64,
            // Written by this version on; a claim an earlier version wrote is its own change.
            change: get_n(item, "claim_change")
                .or_else(|| get_n(item, "claim_seq"))
                .unwrap_or(0)
                .max(0) as u64,
            overridden: item
                .get("claim_overridden")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            deliveries: get_s(item, "claim_by")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        }),
        _ => None,
    }
}

fn state_from(item: &Item) -> ImageState {
    let claim = claim_from(item);
    ImageState {
        decision: get_s(item, "decision").and_then(Decision::parse),
        version: get_n(item, "version").unwrap_or(0).max(0) as u64,
        claim,
        exists: true,
        summary: get_s(item, "summary").and_then(|j| serde_json::from_str(j).ok()),
        overridden: item
            .get("overridden")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        first_scan_at: get_n(item, "first_scan_at"),
        parents: get_ss(item, "parents"),
        children: get_ss(item, "children")
            .into_iter()
            .map(|c| match c.split_once(' ') {
                Some((d, p)) => (d.to_string(), p.to_string()),
                None => (c, String::new()),
            })
            .collect(),
        tickets: get_ss(item, "tickets"),
        due_at: get_n(item, "due_at"),
        seen: match (item.get("seen"), get_n(item, "seen_version")) {
            (Some(AttributeValue::B(bytes)), Some(v)) => {
                SeenFindings::from_bytes(v.max(0) as u64, bytes.as_ref())
            }
            _ => None,
        },
        archive: get_n(item, "archive_at").map(|at| Archive {
            at,
            reason: get_s(item, "archive_reason")
                .unwrap_or_default()
                .to_string(),
            archived_at: get_n(item, "archived_at"),
            restore_by: get_s(item, "restore_by").map(str::to_string),
        }),
        acted_at: get_n(item, "acted_at"),
        pushed_seen_at: get_n(item, "last_push_at"),
        unarchived_at: get_n(item, "unarchived_at"),
        deleted_at: get_n(item, "deleted_at"),
        override_: get_n(item, "override_until").map(|until| Override {
            until,
            by: get_s(item, "override_by").unwrap_or_default().to_string(),
            reason: get_s(item, "override_reason")
                .unwrap_or_default()
                .to_string(),
        }),
    }
}

/// Whether a write failed only because its condition did not hold.
fn conflict<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    e: &SdkError<E, HttpResponse>,
) -> bool {
    e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException")
}

/// An UpdateItem request being built.
type Update = aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
/// What an UpdateItem returns.
type Updated = aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;

/// The condition of a versioned write: the record is still at `expected`, or absent when `None`.
fn expecting(req: Update, expected: Option<u64>) -> Update {
    match expected {
        None => req.condition_expression("attribute_not_exists(pk)"),
        // A record that other writes created (a due time, a ticket list) has no version yet: 0.
        Some(0) => req
            .condition_expression("attribute_not_exists(version) OR version = :v")
            .expression_attribute_values(":v", n(0)),
        Some(v) => req
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(v)),
    }
}

/// Sends an update; `None` when its condition did not hold (another writer came first).
async fn conditional(req: Update) -> Result<Option<Updated>, AwsError> {
    match req.send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if conflict(&e) => Ok(None),
        Err(e) => Err(update_failed(e)),
    }
}

/// Sends an unconditional update.
async fn send(req: Update) -> Result<Updated, AwsError> {
    req.send().await.map_err(update_failed)
}

/// An UpdateItem's failure.
fn update_failed(e: SdkError<UpdateItemError, HttpResponse>) -> AwsError {
    aws_error("dynamodb:UpdateItem", e)
}

/// A conditional update's result as the claim protocol reads it.
fn written(out: Option<Updated>) -> Written {
    match out {
        Some(_) => Written::Done,
        None => Written::Conflict,
    }
}

impl DynamoState {
    /// Wraps a client and the table name; the history is kept [`HISTORY_DAYS`] days.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoState {
        DynamoState {
            client,
            table: table.into(),
            kev_memory: std::sync::Arc::default(),
            history_days: HISTORY_DAYS,
        }
    }

    /// The same, keeping the verdict history `days` days (DynamoDB's TTL deletes it after).
    pub fn keeping_history(self, days: i64) -> DynamoState {
        DynamoState {
            history_days: days,
            ..self
        }
    }

    /// A strongly consistent GetItem of the item whose key is `pk`; `None` when there is none.
    async fn get(&self, pk: impl Into<String>) -> Result<Option<Item>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb:GetItem", e))?;
        Ok(out.item)
    }

    /// An UpdateItem of the item whose key is `pk`.
    fn update(&self, pk: impl Into<String>) -> Update {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
    }
}

impl ImageRecords for DynamoState {
    async fn load(&self, image: &ImageRef) -> Result<ImageState, AwsError> {
        Ok(self
            .get(image_key(image))
            .await?
            .map(|item| state_from(&item))
            .unwrap_or_default())
    }

    async fn record_push(&self, image: &ImageRef, now: Epoch) -> Result<ImageState, AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression("SET decision = if_not_exists(decision, :pending), updated_at = :now, last_push_at = :now ADD version :one REMOVE deleted_at")
            .expression_attribute_values(":pending", s(Decision::Pending.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::AllNew);
        let out = send(req).await?;
        Ok(out.attributes().map(state_from).unwrap_or_default())
    }

    async fn claim(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        claim: &Claim,
        summary: &Summary,
        policy_hash: &str,
    ) -> Result<Written, AwsError> {
        let mut req = self
            .update(image_key(image))
            .update_expression(
                match summary.due {
                    Some(_) => "SET decision = :d, version = :seq, claim_event = :e, claim_at = :at, claim_decision = :d, claim_previous = :p, claim_prev_overridden = :po, claim_seq = :seq, claim_change = :change, claim_overridden = :o, claim_by = :by, overridden = :o, updated_at = :at, policy = :h, summary = :s, first_scan_at = if_not_exists(first_scan_at, :at), due_shard = :shard, due_at = :due",
                    None => "SET decision = :d, version = :seq, claim_event = :e, claim_at = :at, claim_decision = :d, claim_previous = :p, claim_prev_overridden = :po, claim_seq = :seq, claim_change = :change, claim_overridden = :o, claim_by = :by, overridden = :o, updated_at = :at, policy = :h, summary = :s, first_scan_at = if_not_exists(first_scan_at, :at) REMOVE due_shard, due_at",
                },
            )
            .expression_attribute_values(":d", s(claim.decision.as_str()))
            .expression_attribute_values(":po", AttributeValue::Bool(claim.previous_overridden))
            .expression_attribute_values(":seq", n(claim.sequence))
            .expression_attribute_values(":change", n(claim.change))
            .expression_attribute_values(":e", s(&claim.event_id))
            .expression_attribute_values(":at", n(claim.at))
            .expression_attribute_values(":p", s(claim.previous.map_or("none", Decision::as_str)))
            .expression_attribute_values(":h", s(policy_hash))
            .expression_attribute_values(":o", AttributeValue::Bool(claim.overridden))
            .expression_attribute_values(":by", s(claim.deliveries.join(" ")))
            .expression_attribute_values(":s", s(serde_json::to_string(summary).unwrap_or_default()));
        if let Some(due) = summary.due {
            req = req
                .expression_attribute_values(":shard", s(DUE_SHARD))
                .expression_attribute_values(":due", n(due));
        }
        req = expecting(req, expected);
        Ok(written(conditional(req).await?))
    }

    async fn finish(
        &self,
        image: &ImageRef,
        claim: &Claim,
        applied: bool,
    ) -> Result<Written, AwsError> {
        let mut expression = String::from(
            "REMOVE claim_event, claim_at, claim_decision, claim_previous, claim_seq, claim_change, claim_overridden, claim_prev_overridden, claim_by",
        );
        if !applied && claim.previous.is_none() {
            expression.push_str(", decision");
        }
        expression.push_str(" SET notified_seq = :seq, acted_at = :acted");
        let mut req = self
            .update(image_key(image))
            .condition_expression("claim_event = :e AND claim_seq = :seq")
            .expression_attribute_values(":e", s(&claim.event_id))
            .expression_attribute_values(":seq", n(claim.sequence))
            .expression_attribute_values(":acted", n(claim.at))
            .expression_attribute_values(":one", n(1));
        if !applied && let Some(previous) = claim.previous {
            expression.push_str(", decision = :prev, overridden = :no");
            req = req
                .expression_attribute_values(":prev", s(previous.as_str()))
                .expression_attribute_values(":no", AttributeValue::Bool(false));
        }
        expression.push_str(" ADD version :one");
        Ok(written(
            conditional(req.update_expression(expression)).await?,
        ))
    }

    async fn lease_evaluation(
        &self,
        image: &ImageRef,
        by: &str,
        now: Epoch,
        until: Epoch,
    ) -> Result<Option<ImageState>, AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression("SET evaluating_by = :by, evaluating_until = :until")
            .condition_expression(
                "attribute_not_exists(evaluating_until) OR evaluating_until <= :now OR evaluating_by = :by",
            )
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":until", n(until))
            .return_values(ReturnValue::AllNew);
        Ok(conditional(req)
            .await?
            .map(|out| out.attributes().map(state_from).unwrap_or_default()))
    }

    async fn release_evaluation(&self, image: &ImageRef, by: &str) -> Result<(), AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression("REMOVE evaluating_by, evaluating_until")
            .condition_expression("evaluating_by = :by")
            .expression_attribute_values(":by", s(by));
        // Another holder's lease (this one's ended and was taken over) is left alone.
        conditional(req).await?;
        Ok(())
    }

    async fn record_seen(
        &self,
        image: &ImageRef,
        seen: &SeenFindings,
    ) -> Result<Written, AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression(
                "SET seen = :b, seen_version = :v REMOVE evaluating_by, evaluating_until",
            )
            .condition_expression("version = :v")
            .expression_attribute_values(":b", AttributeValue::B(Blob::new(seen.to_bytes())))
            .expression_attribute_values(":v", n(seen.version));
        Ok(written(conditional(req).await?))
    }

    async fn set_quietly(
        &self,
        image: &ImageRef,
        expected: Option<u64>,
        decision: Decision,
        now: Epoch,
    ) -> Result<Written, AwsError> {
        let mut req = self
            .update(image_key(image))
            .update_expression("SET decision = :d, updated_at = :now ADD version :one")
            .expression_attribute_values(":d", s(decision.as_str()))
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":one", n(1));
        req = expecting(req, expected);
        Ok(written(conditional(req).await?))
    }

    async fn set_archive(
        &self,
        image: &ImageRef,
        expected: u64,
        write: ArchiveWrite<'_>,
        due: Option<Epoch>,
    ) -> Result<Written, AwsError> {
        let (mut set, mut remove): (Vec<&str>, Vec<&str>) = (Vec::new(), Vec::new());
        let mut req = self.update(image_key(image));
        match write {
            ArchiveWrite::Set(a) => {
                set.push("archive_at = :aat, archive_reason = :ar");
                req = req
                    .expression_attribute_values(":aat", n(a.at))
                    .expression_attribute_values(":ar", s(&a.reason));
                match a.archived_at {
                    Some(t) => {
                        set.push("archived_at = :adone");
                        req = req.expression_attribute_values(":adone", n(t));
                    }
                    None => remove.push("archived_at"),
                }
                match &a.restore_by {
                    Some(by) => {
                        set.push("restore_by = :rby");
                        req = req.expression_attribute_values(":rby", s(by));
                    }
                    None => remove.push("restore_by"),
                }
            }
            ArchiveWrite::Drop | ArchiveWrite::Unarchived(_) => {
                remove.extend(["archive_at", "archive_reason", "archived_at", "restore_by"]);
            }
        }
        if let ArchiveWrite::Unarchived(at) = write {
            set.push("unarchived_at = :unarch");
            req = req.expression_attribute_values(":unarch", n(at));
        }
        match due {
            Some(at) => {
                set.push("due_shard = :shard, due_at = :due");
                req = req
                    .expression_attribute_values(":shard", s(DUE_SHARD))
                    .expression_attribute_values(":due", n(at));
            }
            None => remove.push("due_shard, due_at"),
        }
        let mut expression = String::from("ADD version :one");
        if !set.is_empty() {
            expression = format!("SET {} {expression}", set.join(", "));
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let req = expecting(
            req.expression_attribute_values(":one", n(1)),
            Some(expected),
        );
        Ok(written(
            conditional(req.update_expression(expression)).await?,
        ))
    }

    async fn reset_image(&self, image: &ImageRef) -> Result<(), AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression("REMOVE decision, first_scan_at, summary, overridden SET restored_at = :now ADD version :one")
            .expression_attribute_values(":now", n(crate::domain::time::now()))
            .expression_attribute_values(":one", n(1));
        send(req).await?;
        Ok(())
    }
}

impl ImageAnnotations for DynamoState {
    async fn link_index(
        &self,
        image: &ImageRef,
        children: &[(String, String)],
    ) -> Result<(), AwsError> {
        if children.is_empty() {
            return Ok(());
        }
        let listed: Vec<String> = children.iter().map(|(d, p)| format!("{d} {p}")).collect();
        let req = self
            .update(image_key(image))
            .update_expression("ADD children :c, version :one")
            .expression_attribute_values(":c", AttributeValue::Ss(listed))
            .expression_attribute_values(":one", n(1));
        send(req).await?;
        for (child, _) in children {
            let req = self
                .update(image_key(&image.sibling(child.clone())))
                // The version moves, so that a decision being claimed on the platform image is made
                // again, knowing its index.
                .update_expression("ADD parents :p, version :one")
                .expression_attribute_values(":p", AttributeValue::Ss(vec![image.digest.clone()]))
                .expression_attribute_values(":one", n(1));
            send(req).await?;
        }
        Ok(())
    }

    async fn set_override(&self, image: &ImageRef, value: &Override) -> Result<(), AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression(
                "SET override_until = :u, override_by = :b, override_reason = :r ADD version :one",
            )
            .expression_attribute_values(":u", n(value.until))
            .expression_attribute_values(":b", s(&value.by))
            .expression_attribute_values(":r", s(&value.reason))
            .expression_attribute_values(":one", n(1));
        send(req).await?;
        Ok(())
    }
}

impl TicketLedger for DynamoState {
    async fn set_image_tickets(&self, image: &ImageRef, ids: &[String]) -> Result<(), AwsError> {
        let req = self.update(image_key(image));
        let req = if ids.is_empty() {
            req.update_expression("REMOVE tickets")
        } else {
            req.update_expression("SET tickets = :t")
                .expression_attribute_values(":t", AttributeValue::Ss(ids.to_vec()))
        };
        send(req).await?;
        Ok(())
    }

    async fn ticket_add(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        severity: Severity,
        now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let digest = image.digest.as_str();
        let req = self
            .update(ticket_item_key(image, vulnerability))
            .update_expression("ADD images :d SET ticket_status = :open, severity = :sev, updated_at = :now, opened_at = if_not_exists(opened_at, :now)")
            .expression_attribute_values(":d", AttributeValue::Ss(vec![digest.to_string()]))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":sev", s(severity.as_str()))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld);
        let out = send(req).await?;
        let old = out.attributes().cloned().unwrap_or_default();
        Ok(TicketChange::added(
            TicketBefore {
                images: get_ss(&old, "images"),
                open: get_s(&old, "ticket_status") == Some("open"),
                severity: get_s(&old, "severity").and_then(Severity::parse),
            },
            digest,
            severity,
        ))
    }

    async fn ticket_remove(
        &self,
        image: &ImageRef,
        vulnerability: &str,
        now: Epoch,
    ) -> Result<TicketChange, AwsError> {
        let key = ticket_item_key(image, vulnerability);
        let out = self
            .update(key.clone())
            .update_expression("DELETE images :d SET updated_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":d", AttributeValue::Ss(vec![image.digest.clone()]))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllNew);
        let Some(out) = conditional(out).await? else {
            return Ok(TicketChange::default());
        };
        let item = out.attributes().cloned().unwrap_or_default();
        let images = get_ss(&item, "images");
        let severity = get_s(&item, "severity").and_then(Severity::parse);
        if !images.is_empty() {
            return Ok(TicketChange {
                images,
                severity,
                ..TicketChange::default()
            });
        }
        if get_s(&item, "ticket_status") != Some("open") {
            // Resolved already, and this image was still listed as in the ticket: a retry of the
            // removal that resolved it, whose message may not have gone out.
            return Ok(TicketChange {
                resolved: true,
                severity,
                ..TicketChange::default()
            });
        }
        // The last image is gone: resolve, once (the condition makes parallel removals agree).
        let resolved = self
            .update(key)
            .update_expression("SET ticket_status = :resolved, resolved_at = :now")
            .condition_expression("ticket_status = :open AND attribute_not_exists(images)")
            .expression_attribute_values(":resolved", s("resolved"))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":now", n(now));
        Ok(match conditional(resolved).await? {
            Some(_) => TicketChange {
                resolved: true,
                severity,
                ..TicketChange::default()
            },
            None => TicketChange::default(),
        })
    }
}

impl SweepSchedule for DynamoState {
    async fn set_due(
        &self,
        image: &ImageRef,
        at: Option<Epoch>,
        expected: Option<u64>,
    ) -> Result<(), AwsError> {
        let req = self.update(image_key(image));
        let req = match at {
            Some(at) => req
                .update_expression("SET due_shard = :shard, due_at = :at")
                .expression_attribute_values(":shard", s(DUE_SHARD))
                .expression_attribute_values(":at", n(at)),
            None => req.update_expression("REMOVE due_shard, due_at"),
        };
        match expected {
            // Lost to a writer that came first (and set its own time): nothing to do.
            Some(v) => {
                conditional(expecting(req, Some(v))).await?;
            }
            None => {
                send(req).await?;
            }
        }
        Ok(())
    }

    async fn due(&self, until: Epoch) -> Result<Vec<(ImageRef, Epoch)>, AwsError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(DUE_INDEX)
            .key_condition_expression("due_shard = :shard AND due_at <= :until")
            .expression_attribute_values(":shard", s(DUE_SHARD))
            .expression_attribute_values(":until", n(until))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("dynamodb:Query", e))?;
            out.extend((page.items().iter()).filter_map(|item| {
                let image = get_s(item, "pk").and_then(image_of_key)?;
                Some((image, get_n(item, "due_at")?))
            }));
        }
        Ok(out)
    }

    async fn last_sweep(&self) -> Result<Option<Epoch>, AwsError> {
        Ok(self
            .get(SWEEP_KEY)
            .await?
            .and_then(|i| get_n(&i, "last_run_at")))
    }

    async fn record_sweep(&self, at: Epoch) -> Result<(), AwsError> {
        let req = self
            .update(SWEEP_KEY)
            .update_expression("SET last_run_at = :at")
            .condition_expression("attribute_not_exists(last_run_at) OR last_run_at < :at")
            .expression_attribute_values(":at", n(at));
        // A later sweep recorded already: nothing to do.
        conditional(req).await?;
        Ok(())
    }
}

impl TagChangeBreaker for DynamoState {
    async fn count_tag_changes(
        &self,
        changes: u64,
        now: Epoch,
        window: i64,
    ) -> Result<BreakerCount, AwsError> {
        // Fixed windows: this one and the one before are kept; the one before that is dropped.
        let bucket = now.div_euclid(window.max(1));
        let req = self
            .update(BREAKER_KEY)
            .update_expression("ADD #now :n REMOVE #old")
            .expression_attribute_names("#now", format!("w{bucket}"))
            .expression_attribute_names("#old", format!("w{}", bucket - 2))
            .expression_attribute_values(":n", n(changes))
            .return_values(ReturnValue::AllNew);
        let out = send(req).await?;
        let item = out.attributes().cloned().unwrap_or_default();
        let count = [bucket, bucket - 1]
            .iter()
            .filter_map(|b| get_n(&item, &format!("w{b}")))
            .sum::<i64>()
            .max(0) as u64;
        Ok(BreakerCount {
            count,
            tripped_at: get_n(&item, "tripped_at"),
        })
    }

    async fn trip_breaker(&self, now: Epoch, reason: &str) -> Result<Written, AwsError> {
        let out = self
            .update(BREAKER_KEY)
            .update_expression("SET tripped_at = :now, tripped_reason = :r")
            .condition_expression("attribute_not_exists(tripped_at)")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":r", s(reason));
        Ok(written(conditional(out).await?))
    }

    async fn reset_breaker(&self) -> Result<Option<Epoch>, AwsError> {
        // The counts go too: changes held back while it was open must not trip it again at once.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(BREAKER_KEY))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| aws_error("dynamodb:DeleteItem", e))?;
        Ok(out.attributes().and_then(|a| get_n(a, "tripped_at")))
    }
}

impl OnceMarks for DynamoState {
    async fn mark_once(
        &self,
        key: &str,
        event_id: &str,
        now: Epoch,
        ttl_seconds: i64,
    ) -> Result<Mark, AwsError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("event_id", s(event_id))
            .item("marked_at", n(now))
            .item("expires_at", n(now + ttl_seconds))
            .condition_expression("attribute_not_exists(pk) OR event_id = :e OR expires_at < :now")
            .expression_attribute_values(":e", s(event_id))
            .expression_attribute_values(":now", n(now))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => Ok(match out.attributes() {
                Some(old) if get_s(old, "event_id") == Some(event_id) => Mark::Repeat,
                _ => Mark::First,
            }),
            Err(e) if conflict(&e) => Ok(Mark::Taken),
            Err(e) => Err(aws_error("dynamodb:PutItem", e)),
        }
    }
}

impl DynamoState {
    /// The circuit breaker's state for operators: when it tripped and why, if it is open.
    pub async fn breaker_status(&self) -> Result<Option<(Epoch, String)>, AwsError> {
        Ok(self.get(BREAKER_KEY).await?.and_then(|i| {
            let reason = get_s(&i, "tripped_reason").unwrap_or_default().to_string();
            get_n(&i, "tripped_at").map(|at| (at, reason))
        }))
    }
}

/// BatchGetItem reads at most this many keys a call.
const BATCH_GET_KEYS: usize = 100;

/// The item key of what KEV says of a vulnerability.
fn kev_key(id: &str) -> String {
    format!("kev#{id}")
}

impl KevCache for DynamoState {
    async fn kev_remembered(
        &self,
        ids: &[String],
        now: Epoch,
    ) -> Result<HashMap<String, Option<Kev>>, AwsError> {
        let (mut out, unknown) = self.kev_in_memory(ids, now);
        for chunk in unknown.chunks(BATCH_GET_KEYS) {
            let keys = (chunk.iter())
                .map(|id| HashMap::from([("pk".to_string(), s(kev_key(id)))]))
                .collect();
            let wanted = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(false)
                .build()
                .map_err(|e| AwsError::invalid("dynamodb:BatchGetItem", e.to_string()))?;
            let page = self
                .client
                .batch_get_item()
                .request_items(&self.table, wanted)
                .send()
                .await
                .map_err(|e| aws_error("dynamodb:BatchGetItem", e))?;
            // Keys left unprocessed are simply not remembered: looked up again.
            let items = page.responses().and_then(|r| r.get(&self.table));
            for item in items.into_iter().flatten() {
                let Some(id) = get_s(item, "pk").and_then(|k| k.strip_prefix("kev#")) else {
                    continue;
                };
                if get_n(item, "expires_at").is_none_or(|t| t <= now) {
                    continue;
                }
                let kev = (get_s(item, "in_kev") == Some("yes")).then(|| Kev {
                    added: get_n(item, "kev_added"),
                    due: get_n(item, "kev_due"),
                    unknown: false,
                });
                let until = get_n(item, "expires_at").unwrap_or(now);
                self.keep_kev(id, kev, until);
                out.insert(id.to_string(), kev);
            }
        }
        Ok(out)
    }

    async fn remember_kev(
        &self,
        answers: &[(String, Option<Kev>)],
        until: Epoch,
    ) -> Result<(), AwsError> {
        for (id, kev) in answers {
            self.keep_kev(id, *kev, until);
        }
        for chunk in answers.chunks(BATCH_WRITE_ITEMS) {
            let puts = (chunk.iter())
                .map(|(id, kev)| kev_put(id, *kev, until))
                .collect::<Result<Vec<_>, _>>()?;
            // Items left unprocessed are simply not remembered: looked up again.
            self.client
                .batch_write_item()
                .request_items(&self.table, puts)
                .send()
                .await
                .map_err(|e| aws_error("dynamodb:BatchWriteItem", e))?;
        }
        Ok(())
    }
}

impl DynamoState {
    /// The answers of `ids` this container remembers valid at `now`, and the ids it does not.
    fn kev_in_memory(
        &self,
        ids: &[String],
        now: Epoch,
    ) -> (HashMap<String, Option<Kev>>, Vec<String>) {
        let memory = self.kev_memory.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = HashMap::new();
        let mut unknown = Vec::new();
        for id in ids {
            match memory.get(id) {
                Some((kev, until)) if *until > now => {
                    known.insert(id.clone(), *kev);
                }
                _ => unknown.push(id.clone()),
            }
        }
        (known, unknown)
    }

    /// Keeps an answer in this container's memory until `until`.
    fn keep_kev(&self, id: &str, kev: Option<Kev>, until: Epoch) {
        let mut memory = self.kev_memory.lock().unwrap_or_else(|p| p.into_inner());
        memory.insert(id.to_string(), (kev, until));
    }
}

/// BatchWriteItem writes at most this many items a call.
const BATCH_WRITE_ITEMS: usize = 25;

/// The write of what KEV says of vulnerability `id`, remembered until `until`.
fn kev_put(
    id: &str,
    kev: Option<Kev>,
    until: Epoch,
) -> Result<aws_sdk_dynamodb::types::WriteRequest, AwsError> {
    let mut item = HashMap::from([
        ("pk".to_string(), s(kev_key(id))),
        (
            "in_kev".to_string(),
            s(if kev.is_some() { "yes" } else { "no" }),
        ),
        ("expires_at".to_string(), n(until)),
    ]);
    let dates = [
        ("kev_added", kev.and_then(|k| k.added)),
        ("kev_due", kev.and_then(|k| k.due)),
    ];
    for (name, date) in dates {
        if let Some(t) = date {
            item.insert(name.to_string(), n(t));
        }
    }
    let put = aws_sdk_dynamodb::types::PutRequest::builder()
        .set_item(Some(item))
        .build()
        .map_err(|e| AwsError::invalid("dynamodb:BatchWriteItem", e.to_string()))?;
    Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
        .put_request(put)
        .build())
}

/// The key of an image's change `number` in the history.
fn change_key(change: &Change) -> String {
    let place = (change.account.clone().zip(change.region.clone()))
        .map(|(account, region)| crate::domain::Place { account, region });
    let image = ImageRef {
        place,
        ..ImageRef::home(&change.repository, &change.digest)
    };
    format!("history#{}#{}", image_key(&image), change.number)
}

impl VerdictHistory for DynamoState {
    async fn record_change(&self, change: &Change) -> Result<(), AwsError> {
        let json = serde_json::to_string(change)
            .map_err(|e| AwsError::invalid("dynamodb:UpdateItem", e.to_string()))?;
        let req = self
            .update(change_key(change))
            .update_expression(
                "SET history_day = :day, history_at = :at, expires_at = :expires, change = :c",
            )
            .expression_attribute_values(":day", s(format_date(change.at)))
            .expression_attribute_values(":at", n(change.at))
            .expression_attribute_values(":expires", n(change.at + self.history_days * DAY))
            .expression_attribute_values(":c", s(json));
        send(req).await.map(|_| ())
    }

    async fn mark_deleted(&self, image: &ImageRef, at: Epoch) -> Result<(), AwsError> {
        let req = self
            .update(image_key(image))
            .update_expression("SET deleted_at = :at ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":one", n(1));
        conditional(req).await.map(|_| ())
    }

    async fn changes(&self, since: Epoch, until: Epoch) -> Result<Vec<Change>, AwsError> {
        let mut out = Vec::new();
        let mut day = since - since.rem_euclid(DAY);
        while day <= until {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(HISTORY_INDEX)
                .key_condition_expression(
                    "history_day = :day AND history_at BETWEEN :since AND :until",
                )
                .expression_attribute_values(":day", s(format_date(day)))
                .expression_attribute_values(":since", n(since))
                .expression_attribute_values(":until", n(until))
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error("dynamodb:Query", e))?;
                for item in page.items() {
                    match get_s(item, "change").map(serde_json::from_str::<Change>) {
                        Some(Ok(change)) => out.push(change),
                        other => tracing::warn!(
                            key = get_s(item, "pk").unwrap_or_default(),
                            error = ?other.and_then(Result::err).map(|e| e.to_string()),
                            "unreadable history record skipped"
                        ),
                    }
                }
            }
            day += DAY;
        }
        Ok(out)
    }

    async fn images_now(&self) -> Result<Vec<(ImageRef, ImageState)>, AwsError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression(
                "attribute_exists(decision) AND attribute_not_exists(deleted_at) AND attribute_not_exists(parents)",
            )
            .projection_expression("pk, decision, overridden, summary")
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("dynamodb:Scan", e))?;
            out.extend((page.items().iter()).filter_map(|item| {
                let image = get_s(item, "pk").and_then(image_of_key)?;
                Some((image, state_from(item)))
            }));
        }
        Ok(out)
    }
}
