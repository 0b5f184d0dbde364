//! EventBridge events in, one normalized [`Event`] out: lenient, typed parsing of the ECR and
//! Inspector2 events the gatekeeper acts on. Pure: no I/O.
//!
//! Lenient means: fields AWS may omit are optional (moto's EventBridge drops `account`), identifiers
//! are taken as they come (documentation samples carry shortened digests), unknown fields are ignored
//! and unknown enum values map to the cautious side. Events of other kinds become
//! [`EventBody::Ignored`] with the reason; an event of a kind we act on that lacks what we need is a
//! [`ParseError`], which the handler answers `Ok(rejected)`.

mod ecr;
mod fields;
mod inspector;
mod json;

pub use fields::ParseError;
pub use inspector::{parse_basic_finding, parse_findings_document, parse_inspector_finding};
pub use json::{Incoming, MAX_EVENT_BYTES};

use serde::Serialize;
use serde_json::Value;

use crate::domain::time::{Epoch, parse_rfc3339};
use crate::domain::{
    Finding, ImageRef, Place, ScanState, SeverityCounts, TriggerKind, place_from_arn,
};
use fields::Obj;

/// Which scanner produced a scan result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scanner {
    /// ECR basic scanning (`ECR Image Scan`, DescribeImageScanFindings).
    Basic,
    /// Amazon Inspector enhanced scanning (ListFindings).
    Enhanced,
}

/// `ECR Image Action` with `action-type` PUSH and `result` SUCCESS.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The image; `tags` holds the pushed tag, or nothing for an untagged push (`image-tag: ""`).
    pub image: ImageRef,
    /// `manifest-media-type` (absent in the documentation sample).
    pub manifest_media_type: Option<String>,
    /// `artifact-media-type` (the config media type; absent in the documentation sample).
    pub artifact_media_type: Option<String>,
}

impl Push {
    /// The pushed tag, if the push was tagged.
    pub fn tag(&self) -> Option<&str> {
        self.image.tags.first().map(String::as_str)
    }
}

/// A scan finished: `ECR Image Scan` (basic) or `Inspector2 Scan` (first enhanced scan).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanResult {
    /// The image.
    pub image: ImageRef,
    /// Basic or enhanced.
    pub scanner: Scanner,
    /// COMPLETE / INITIAL_SCAN_COMPLETE / FAILED ...
    pub state: ScanState,
    /// `finding-severity-counts` (zero severities omitted by AWS; absent on FAILED).
    pub counts: Option<SeverityCounts>,
    /// Inspector's `TOTAL`, larger than the sum of the severities it lists.
    pub total: Option<u32>,
    /// Keys of `finding-severity-counts` that are not a severity AWS documents: counted as CRITICAL.
    pub unrecognised: Vec<String>,
}

/// `Inspector2 Finding`: one finding of an ECR image was created or changed.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingChange {
    /// The image the finding belongs to.
    pub image: ImageRef,
    /// The finding as the event states it.
    pub finding: Finding,
    /// `inUseCount`: running ECS tasks / EKS pods using the image.
    pub in_use_count: Option<u64>,
    /// `lastInUseAt`.
    pub last_in_use_at: Option<Epoch>,
    /// `pushedAt`.
    pub pushed_at: Option<Epoch>,
}

/// `Inspector2 Coverage` for an ECR image: its scan status changed.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageChange {
    /// The image.
    pub image: ImageRef,
    /// The new status.
    pub state: ScanState,
}

/// What an event means to the gatekeeper.
#[derive(Debug, Clone, PartialEq)]
pub enum EventBody {
    /// An image was pushed.
    Push(Push),
    /// A scan finished.
    Scan(ScanResult),
    /// A finding changed.
    Finding(FindingChange),
    /// An image's scan coverage changed.
    Coverage(CoverageChange),
    /// An image (or one of its tags) was deleted.
    Deleted(ImageRef),
    /// An archived image was restored to standard storage (Inspector rescans it: evaluated as new).
    Restored(ImageRef),
    /// Not ours to act on (delete, archive, other resource types ...): the reason, for one log line.
    Ignored(String),
}

/// A parsed EventBridge event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The envelope `id` (empty when absent): identifies retries of one delivery.
    pub id: String,
    /// `source`.
    pub source: String,
    /// `detail-type`.
    pub detail_type: String,
    /// The envelope `time`: the order of events (finding details carry non-ISO timestamps).
    pub time: Option<Epoch>,
    /// The meaning.
    pub body: EventBody,
    /// The Lambda request id of this delivery (empty when unknown): Lambda's retries of a failed
    /// invocation keep it, a duplicate delivery of the same event gets another.
    pub delivery: String,
}

impl Event {
    /// `push`, `scan`, `finding`, `coverage`, `delete`, `restore` or `ignored`.
    pub fn kind(&self) -> TriggerKind {
        match self.body {
            EventBody::Push(_) => TriggerKind::Push,
            EventBody::Scan(_) => TriggerKind::Scan,
            EventBody::Finding(_) => TriggerKind::Finding,
            EventBody::Coverage(_) => TriggerKind::Coverage,
            EventBody::Deleted(_) => TriggerKind::Delete,
            EventBody::Restored(_) => TriggerKind::Restore,
            EventBody::Ignored(_) => TriggerKind::Ignored,
        }
    }

    /// The image the event is about, if any.
    pub fn image(&self) -> Option<&ImageRef> {
        self.body.image()
    }
}

impl EventBody {
    /// The image it is about, if any.
    pub fn image(&self) -> Option<&ImageRef> {
        match self {
            EventBody::Push(p) => Some(&p.image),
            EventBody::Scan(s) => Some(&s.image),
            EventBody::Finding(f) => Some(&f.image),
            EventBody::Coverage(c) => Some(&c.image),
            EventBody::Deleted(i) | EventBody::Restored(i) => Some(i),
            EventBody::Ignored(_) => None,
        }
    }

    /// The image it is about, to be changed, if any.
    pub fn image_mut(&mut self) -> Option<&mut ImageRef> {
        match self {
            EventBody::Push(p) => Some(&mut p.image),
            EventBody::Scan(s) => Some(&mut s.image),
            EventBody::Finding(f) => Some(&mut f.image),
            EventBody::Coverage(c) => Some(&mut c.image),
            EventBody::Deleted(i) | EventBody::Restored(i) => Some(i),
            EventBody::Ignored(_) => None,
        }
    }
}

/// Parses an EventBridge event from its JSON text (at most [`MAX_EVENT_BYTES`]; a key that appears
/// twice in one object refuses it).
pub fn parse_str(text: &str) -> Result<Event, ParseError> {
    parse_incoming(&Incoming::from_text(text, MAX_EVENT_BYTES)?)
}

/// Parses an event as it arrived: refused when it could not be read or repeats a key, else [`parse`].
pub fn parse_incoming(incoming: &Incoming) -> Result<Event, ParseError> {
    match incoming.refusal() {
        Some(why) => Err(why),
        None => parse(&incoming.value),
    }
}

/// Parses an EventBridge event.
pub fn parse(value: &Value) -> Result<Event, ParseError> {
    let envelope = Obj::root(value)?;
    let source = envelope.opt_str("source")?.unwrap_or_default().to_string();
    let detail_type = envelope
        .opt_str("detail-type")?
        .unwrap_or_default()
        .to_string();
    let time = match envelope.opt_str("time")? {
        Some(t) => Some(
            parse_rfc3339(t)
                .ok_or_else(|| envelope.error("time", "is not an RFC 3339 timestamp"))?,
        ),
        None => None,
    };
    let resources = envelope.opt_str_list("resources")?;
    let body = match (source.as_str(), detail_type.as_str()) {
        ("aws.ecr", "ECR Image Action") => ecr::image_action(&envelope.obj("detail")?)?,
        ("aws.ecr", "ECR Image Scan") => {
            ecr::scan(&envelope.obj("detail")?, &resources, Scanner::Basic)?
        }
        ("aws.inspector2", "Inspector2 Scan") => {
            inspector::scan(&envelope.obj("detail")?, &resources)?
        }
        ("aws.inspector2", "Inspector2 Finding") => {
            inspector::finding(&envelope.obj("detail")?, &resources, time)?
        }
        ("aws.inspector2", "Inspector2 Coverage") => {
            inspector::coverage(&envelope.obj("detail")?, &resources)?
        }
        ("", "") => {
            return Err(ParseError::new(
                "not an EventBridge event: no source and no detail-type",
            ));
        }
        (s, d) => EventBody::Ignored(format!(
            "event {s:?} / {d:?} is not one the gatekeeper acts on"
        )),
    };
    let mut body = body;
    if let Some(image) = body.image_mut() {
        image.place = image_place(&envelope, &resources)?;
    }
    Ok(Event {
        id: envelope.opt_str("id")?.unwrap_or_default().to_string(),
        source,
        detail_type,
        time,
        body,
        delivery: String::new(),
    })
}

/// Where an event's image lives. An event that names no account (moto's) is about this deployment's
/// own account and region. Otherwise the image's own ARN says (an Inspector event reaches the
/// delegated administrator's bus as well as the member's), then the finding's `awsAccountId`, then the
/// envelope; a finding whose ARN and `awsAccountId` disagree is refused rather than guessed.
fn image_place(envelope: &Obj<'_>, resources: &[&str]) -> Result<Option<Place>, ParseError> {
    let Some(sender) = envelope.opt_str("account")? else {
        return Ok(None);
    };
    let detail = envelope.opt_obj("detail")?;
    let mut arns: Vec<&str> = Vec::new();
    let (mut stated, mut resource_region) = (None, None);
    if let Some(d) = &detail {
        for r in d.opt_obj_list("resources")? {
            arns.extend(r.opt_str("id")?);
            resource_region = resource_region.or(r.opt_str("region")?);
        }
        arns.extend(d.opt_str("repository-name")?);
        stated = d.opt_str("awsAccountId")?;
    }
    arns.extend(resources);
    let place = match (arns.iter().find_map(|a| place_from_arn(a)), stated) {
        (Some(p), Some(a)) if p.account != a => {
            return Err(envelope.error(
                "detail.awsAccountId",
                "names another account than the image's ARN",
            ));
        }
        (Some(p), _) => p,
        (None, account) => Place {
            account: account.unwrap_or(sender).to_string(),
            region: (resource_region.or(envelope.opt_str("region")?))
                .unwrap_or_default()
                .to_string(),
        },
    };
    // Both become parts of state keys and messages: only what AWS writes there is taken.
    let account_id = place.account.len() == 12 && place.account.bytes().all(|b| b.is_ascii_digit());
    let region = (1..=32).contains(&place.region.len())
        && (place.region.bytes())
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    match (account_id, region) {
        (false, _) => Err(envelope.error(
            "account",
            "the image's account is not a 12-digit account id",
        )),
        (_, false) => Err(envelope.error(
            "region",
            "the image's region is missing or not a region name",
        )),
        _ => Ok(Some(place)),
    }
}

#[cfg(test)]
mod tests;
