//! The storm: many events for many images delivered shuffled, duplicated and in parallel to the
//! gatekeeper behind a fault-injecting proxy, either through Lambda's asynchronous invocation of
//! in-process handlers (EventBridge's retries and DLQ, two Lambda retries, the on-failure
//! destination) or through the functions' SQS intake queues to the function binaries
//! ([`crate::storm_sqs`]). The same events delivered once each, in order, without faults, to another
//! account are the oracle: afterwards every image's tags and notified decisions must equal the
//! oracle's.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use gatekeeper::adapters::image_key;
use gatekeeper::domain::events::Incoming;
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::{Finding, ImageRef, Mode, Place, Severity};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::faults::{Fault, FaultProxy, Rng, Rule, test_resilience};
use crate::fixtures::{
    Aws, Setup, TestGatekeeper, envelope, finding_event, inspector_finding, inspector_scan_counts,
    push_event,
};
use crate::storm_sqs::{Counts as SqsCounts, Intake, PUT_IMAGE_RATE};
use gatekeeper::adapters::Pace;
use gatekeeper::ports::fakes::FakeFindings;

/// How the storm's events reach the functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// EventBridge invoking in-process handlers asynchronously, one event per invocation.
    Async,
    /// EventBridge rules putting the events in the functions' intake queues (moto), read in batches
    /// by a poller per container and handed to the function binaries through a local Runtime API.
    /// The storm account must be the functions' (`fixtures::FUNCTION_ACCOUNT`).
    Sqs,
}

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct StormSettings {
    /// Events delivered in all (distinct events, then duplicates up to this number).
    pub events: usize,
    /// Images, in repositories of 20.
    pub images: usize,
    /// Probability that one AWS request, or one EventBridge invoke, fails.
    pub fault_rate: f64,
    /// Seed of the shuffles and the faults.
    pub seed: u64,
    /// Invocations at once (Lambda's concurrency); with SQS, containers per function.
    pub concurrency: usize,
    /// How the events reach the functions.
    pub delivery: Delivery,
    /// Member accounts the images are spread over beside the storm's own, acted on through the
    /// member role by an Organization deployment (0: one account).
    pub members: usize,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct StormReport {
    /// The region of the deployment and its images.
    pub region: String,
    /// Events delivered (duplicates included).
    pub events: usize,
    /// Distinct events among them.
    pub distinct: usize,
    /// Wall time of the deliveries.
    pub seconds: f64,
    /// AWS requests through the proxy.
    pub requests: usize,
    /// Faults injected, by kind (EventBridge invoke failures as `InvokeFailed`).
    pub faults: BTreeMap<String, usize>,
    /// Lambda-level retries (invocations after a failed one).
    pub lambda_retries: usize,
    /// EventBridge-level retries (invokes after a failed invoke).
    pub eventbridge_retries: usize,
    /// Events in the on-failure destination after their third failed invocation.
    pub on_failure: usize,
    /// Events in EventBridge's DLQ (the invoke itself failed 11 times); with SQS, records left in
    /// the intake queues or their DLQs after the redrives.
    pub dlq: usize,
    /// With SQS: batches handed to the functions, records redelivered, records answered in
    /// `batchItemFailures`, and records redriven from a DLQ.
    pub sqs: Option<[usize; 4]>,
    /// Distinct events in the rejected-events queue.
    pub rejected: usize,
    /// Messages in the rejected-events queue (a lost SendMessage answer repeats one).
    pub rejected_messages: usize,
    /// Malformed events sent (each must be in the rejected queue).
    pub malformed: usize,
    /// Outcomes of successful invocations by status.
    pub outcomes: BTreeMap<String, usize>,
    /// Verdict messages received.
    pub messages: usize,
    /// Distinct verdict changes (dedup keys) among them.
    pub changes: usize,
    /// Messages repeating a dedup key already received (at-least-once deliveries).
    pub duplicate_messages: usize,
    /// Publish requests that reached SNS whose answer was lost (the SDK publishes again: one source
    /// of repeated keys no code can avoid on a standard topic; a crash after a Publish is the other).
    pub lost_publish_answers: usize,
    /// Images whose notified decisions differ from the oracle's (a change missing or extra).
    pub wrong_notifications: usize,
    /// Images whose tags differ from the oracle's.
    pub wrong_states: usize,
    /// Images gone from the registry.
    pub deleted: usize,
    /// Images left without a tag.
    pub untagged: usize,
    /// Images of member accounts that ended quarantined (a storm across members that skipped them
    /// all would match its oracle too).
    pub quarantined_in_members: usize,
    /// Images archived (ECR's storage classes as the proxy emulates them).
    pub archived: usize,
    /// Archived images whose state item gives no reason (`archive_reason`, `archived_at`).
    pub archived_without_reason: usize,
    /// Up to five differences, for people.
    pub examples: Vec<String>,
}

impl StormReport {
    /// Events that ended somewhere: answered, in the on-failure destination or in the DLQ.
    pub fn accounted(&self) -> usize {
        self.outcomes.values().sum::<usize>() + self.on_failure + self.dlq
    }

    /// Whether the run proves what it must: no wrong state, nothing lost, nothing deleted.
    pub fn ok(&self) -> bool {
        self.accounted() == self.events
            && self.wrong_states == 0
            && self.wrong_notifications == 0
            && self.deleted == 0
            && self.untagged == 0
            && self.archived_without_reason == 0
            && self.rejected == self.malformed
            && self.on_failure == 0
            && self.dlq == 0
    }
}

/// The storm's policy: block CRITICAL, warn on HIGH; the circuit breaker out of the way (a storm
/// of quarantines is the point here; the breaker has its own tests). The storm's second repository
/// and its first member's images archive their blocks; its second member's archive theirs when
/// unused (the storm's findings do not say, so they are in use: a deadline, nothing archived).
pub const STORM_POLICY: &str = "version = 1\n[defaults]\nblock = \"CRITICAL\"\nwarn = \"HIGH\"\n[breaker]\nmax_tag_changes = 1000000\nwindow = \"10m\"\n[[rule]]\nname = \"archive\"\nrepositories = [\"storm/svc-01\", \"storm-m1/*\"]\non_block = \"archive\"\n[[rule]]\nname = \"runtime\"\nrepositories = [\"storm-m2/*\"]\non_block = \"runtime\"\n";

/// [`STORM_POLICY`], parsed.
pub fn storm_policy() -> Policy {
    Policy::parse(STORM_POLICY).unwrap_or_else(|e| panic!("storm policy: {e}"))
}

struct Image {
    repo: String,
    digest: String,
    tags: [String; 2],
    class: usize,
    /// Which account it is in: 0 the deployment's own, k its member k.
    account: usize,
}

/// The findings of an image of `class` in `phase` (0 or 1): blocked throughout, warned throughout,
/// clean throughout, blocked then fixed, clean then a new CRITICAL.
fn findings(class: usize, phase: usize) -> Vec<(String, Severity)> {
    let critical = || vec![("CVE-2026-1000".to_string(), Severity::Critical)];
    match (class, phase) {
        (0, _) | (3, 0) | (4, 1) => critical(),
        (1, _) => vec![("CVE-2026-2000".to_string(), Severity::High)],
        _ => Vec::new(),
    }
}

fn set_findings(inspector: &FakeFindings, images: &[Image], phase: usize) {
    for im in images {
        let list = findings(im.class, phase)
            .into_iter()
            .map(|(id, s)| Finding::new(&id, s))
            .collect();
        inspector.set(&im.digest, list);
    }
}

/// Each image's findings of `phase` as the proxy answers ListFindings (what the binaries read).
fn script_findings(proxy: &FaultProxy, images: &[Image], phase: usize) {
    let mut script = BTreeMap::new();
    for im in images {
        let listed = findings(im.class, phase)
            .iter()
            .map(|(id, s)| inspector_finding(&im.repo, &im.digest, id, s.as_str()))
            .collect();
        script.insert(im.digest.clone(), listed);
    }
    proxy.script_findings(script);
}

/// The region the sample events name.
const SAMPLE_REGION: &str = "eu-west-1";

/// `event` about an image of member `account` (in the storm's region): its ARNs and ids name the
/// member, and its envelope the member for ECR's own events (forwarded unchanged) or the
/// administrator `admin` for Inspector's.
fn in_account(event: Value, account: &str, admin: &str) -> Value {
    let text = event.to_string().replace("123456789012", account);
    let mut e: Value = serde_json::from_str(&text).unwrap_or(event);
    e["account"] = json!(if e["source"] == "aws.ecr" {
        account
    } else {
        admin
    });
    e
}

/// `event` as it happens in `region` rather than the samples' (its envelope and ARNs).
fn in_region(event: Value, region: &str) -> Value {
    let text = event.to_string().replace(SAMPLE_REGION, region);
    serde_json::from_str(&text).unwrap_or(event)
}

/// The distinct events of each phase, in their clean order, and the malformed ones; the images of
/// members (`accounts[k]`, k > 0) as the administrator `accounts[0]` receives them, all in `region`.
fn events_of(images: &[Image], accounts: &[String], region: &str) -> [Vec<Value>; 2] {
    let mut phases: [Vec<Value>; 2] = [Vec::new(), Vec::new()];
    for (i, im) in images.iter().enumerate() {
        let before = phases.each_ref().map(Vec::len);
        events_of_image(i, im, &mut phases);
        if region != SAMPLE_REGION {
            for (phase, from) in phases.iter_mut().zip(before) {
                for e in &mut phase[from..] {
                    *e = in_region(e.take(), region);
                }
            }
        }
        if im.account > 0 {
            for (phase, from) in phases.iter_mut().zip(before) {
                for e in &mut phase[from..] {
                    *e = in_account(e.take(), &accounts[im.account], &accounts[0]);
                }
            }
        }
    }
    phases
}

/// One image's events, added to each phase's.
fn events_of_image(i: usize, im: &Image, phases: &mut [Vec<Value>; 2]) {
    let counts = |phase: usize| -> Vec<(&'static str, u32)> {
        let f = findings(im.class, phase);
        let n = |s: Severity| u32::try_from(f.iter().filter(|x| x.1 == s).count()).unwrap_or(0);
        vec![
            ("CRITICAL", n(Severity::Critical)),
            ("HIGH", n(Severity::High)),
        ]
    };
    phases[0].push(push_event(
        &format!("push-{i}"),
        &im.repo,
        &im.digest,
        &im.tags[0],
    ));
    phases[0].push(inspector_scan_counts(
        &format!("scan-{i}"),
        &im.repo,
        &im.digest,
        &counts(0),
    ));
    for (id, s) in findings(im.class, 0) {
        phases[0].push(finding_event(
            &format!("finding-{i}"),
            &im.repo,
            &im.digest,
            &id,
            s.as_str(),
            "ACTIVE",
        ));
    }
    if findings(im.class, 0) != findings(im.class, 1) {
        phases[1].push(inspector_scan_counts(
            &format!("rescan-{i}"),
            &im.repo,
            &im.digest,
            &counts(1),
        ));
        let (id, s, status) = match findings(im.class, 1).first() {
            Some((id, s)) => (id.clone(), *s, "ACTIVE"),
            None => ("CVE-2026-1000".to_string(), Severity::Critical, "CLOSED"),
        };
        phases[1].push(finding_event(
            &format!("finding2-{i}"),
            &im.repo,
            &im.digest,
            &id,
            s.as_str(),
            status,
        ));
    }
}

/// Events no parser can use: each must end in the rejected queue, once.
fn malformed(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let id = format!("bad-{i}");
            match i % 4 {
                0 => envelope(
                    &id,
                    "aws.ecr",
                    "ECR Image Action",
                    json!({"action-type": "PUSH", "result": "SUCCESS", "repository-name": 42}),
                ),
                1 => envelope(
                    &id,
                    "aws.inspector2",
                    "Inspector2 Scan",
                    json!({"scan-status": "INITIAL_SCAN_COMPLETE", "image-digest": "sha256:00"}),
                ),
                2 => json!({"id": id, "source": "aws.ecr", "detail-type": "ECR Image Action", "detail": "not an object"}),
                _ => envelope(
                    &id,
                    "aws.inspector2",
                    "Inspector2 Finding",
                    json!({"severity": ["CRITICAL"], "resources": {}}),
                ),
            }
        })
        .collect()
}

fn is_push(event: &Value) -> bool {
    event["detail-type"] == "ECR Image Action"
}

/// One invocation; `delivery` stands for its Lambda request id (kept by Lambda's retries).
async fn invoke(
    gk: &TestGatekeeper,
    inspector: &FakeFindings,
    event: &Value,
    delivery: &str,
) -> Result<String, String> {
    let incoming = Incoming::trusted(event.clone());
    let result = if is_push(event) {
        gk.handle_push_delivery(&incoming, delivery).await
    } else {
        gk.handle_scan_delivery(inspector, &incoming, delivery)
            .await
    };
    result
        .map(|o| o.status.to_string())
        .map_err(|e| e.to_string())
}

#[derive(Default)]
struct Counters {
    lambda_retries: AtomicUsize,
    eventbridge_retries: AtomicUsize,
    invoke_faults: AtomicUsize,
    on_failure: AtomicUsize,
    dlq: AtomicUsize,
    outcomes: std::sync::Mutex<BTreeMap<String, usize>>,
}

/// One event through EventBridge and Lambda's asynchronous invocation, with short delays standing in
/// for their backoffs (EventBridge: up to 10 retries then its DLQ; Lambda: 2 retries then the
/// on-failure destination).
async fn deliver(
    gk: Arc<TestGatekeeper>,
    inspector: Arc<FakeFindings>,
    event: Value,
    limit: Arc<Semaphore>,
    counters: Arc<Counters>,
    fault_rate: f64,
    seed: u64,
) {
    let mut rng = Rng::new(seed);
    let delivery = format!("req-{seed:016x}");
    let mut invokes = 0;
    while rng.chance(fault_rate) {
        counters.invoke_faults.fetch_add(1, Ordering::Relaxed);
        invokes += 1;
        if invokes > 10 {
            counters.dlq.fetch_add(1, Ordering::Relaxed);
            return;
        }
        counters.eventbridge_retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(5 * invokes)).await;
    }
    for attempt in 0..3u64 {
        if attempt > 0 {
            counters.lambda_retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
        }
        let result = {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            invoke(&gk, &inspector, &event, &delivery).await
        };
        if let Ok(status) = result {
            *counters
                .outcomes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(status)
                .or_default() += 1;
            return;
        }
    }
    counters.on_failure.fetch_add(1, Ordering::Relaxed);
}

/// The accounts of a storm: `home`, then `members` member accounts of it, the same ones in every
/// region (`home`'s account number plus the member's, so never `home`'s own).
async fn accounts(home: &Aws, members: usize) -> Vec<Aws> {
    let mut out = vec![Aws::with(home.moto, &home.account, &home.region).await];
    let base: u64 = home.account.parse().unwrap_or(0);
    for k in 1..=members {
        let account = format!("{:012}", (base + k as u64) % 1_000_000_000_000);
        out.push(Aws::with(home.moto, &account, &home.region).await);
    }
    out
}

/// `n` images spread over `places` (the same names and digests for every storm of as many places).
async fn setup_images(places: &[Aws], n: usize) -> Vec<Image> {
    let mut images = Vec::new();
    for (k, aws) in places.iter().enumerate() {
        let share = n / places.len() + usize::from(k < n % places.len());
        let name = if k == 0 {
            "storm".to_string()
        } else {
            format!("storm-m{k}")
        };
        let pushed = aws.push_fleet(&name, 1, share).await;
        images.extend(pushed.into_iter().map(|p| (k, p)));
    }
    (images.into_iter().enumerate())
        .map(|(i, (account, p))| Image {
            repo: p.repo,
            digest: p.digest,
            tags: p.tags,
            class: i % 5,
            account,
        })
        .collect()
}

/// Per image: sorted tags, or `None` when the image is gone.
async fn tags_of(places: &[Aws], images: &[Image]) -> Vec<Option<Vec<String>>> {
    let mut out = Vec::new();
    for im in images {
        let aws = &places[im.account];
        out.push(aws.tags(&im.repo, &im.digest).await.map(|mut t| {
            t.sort();
            t
        }));
    }
    out
}

/// Counts the images archived, those the state table gives no reason for, and those archived in
/// one run and not in the other (wrong states).
async fn archived(
    report: &mut StormReport,
    (proxy, oracle_proxy): (&FaultProxy, &FaultProxy),
    (images, oracle_images): (&[Image], &[Image]),
    (places, setup): (&[Aws], &Setup),
) {
    for (im, o) in images.iter().zip(oracle_images) {
        let (got, want) = (
            proxy.storage(&im.repo, &im.digest),
            oracle_proxy.storage(&o.repo, &o.digest),
        );
        if got != want {
            report.wrong_states += 1;
            if report.examples.len() < 5 {
                report
                    .examples
                    .push(format!("{}@{}: {got}, oracle {want}", im.repo, im.digest));
            }
        }
        if got != "ARCHIVED" {
            continue;
        }
        report.archived += 1;
        let place = (im.account > 0).then(|| Place {
            account: places[im.account].account.clone(),
            region: places[0].region.clone(),
        });
        let key = image_key(&ImageRef {
            place,
            ..ImageRef::home(&im.repo, &im.digest)
        });
        let item = (places[0].dynamodb.get_item())
            .table_name(&setup.table)
            .key("pk", AttributeValue::S(key))
            .consistent_read(true)
            .send()
            .await
            .ok()
            .and_then(|o| o.item().cloned())
            .unwrap_or_default();
        let reason = item.get("archive_reason").and_then(|v| v.as_s().ok());
        if reason.is_none_or(String::is_empty) || !item.contains_key("archived_at") {
            report.archived_without_reason += 1;
        }
    }
}

/// Per digest: the dedup keys with their decisions, in order of arrival.
async fn notified(aws: &Aws, setup: &Setup) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (_, body) in aws.messages(&setup.subscriber_url).await {
        if body["event_type"] != "verdict" {
            continue;
        }
        out.entry(body["image"]["digest"].as_str().unwrap_or("").to_string())
            .or_default()
            .push((
                body["dedup_key"].as_str().unwrap_or("").to_string(),
                format!(
                    "{} by {}",
                    body["decision"].as_str().unwrap_or(""),
                    body["trigger"]["event_id"].as_str().unwrap_or("")
                ),
            ));
    }
    out
}

/// What the SQS path did, in the report's terms: a record acknowledged is an event answered.
async fn sqs_report(report: &mut StormReport, intake: &Intake, storm: &Aws, sqs: &SqsCounts) {
    report
        .outcomes
        .insert("acknowledged".into(), sqs.delivered());
    report.dlq = intake.left(storm).await;
    for (kind, n) in [
        ("InvokeFailed", SqsCounts::get(&sqs.invoke_failed)),
        ("AnswerLost", SqsCounts::get(&sqs.answers_lost)),
    ] {
        if n > 0 {
            report.faults.insert(kind.into(), n);
        }
    }
    report.lambda_retries = SqsCounts::get(&sqs.function_errors);
    report.sqs = Some([
        SqsCounts::get(&sqs.batches),
        SqsCounts::get(&sqs.redelivered),
        SqsCounts::get(&sqs.retried),
        SqsCounts::get(&sqs.redriven),
    ]);
}

/// The decisions notified, one per distinct dedup key, in order of first arrival.
fn changes(messages: &[(String, String)]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    messages
        .iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(_, d)| d.split(" by ").next().unwrap_or("").to_string())
        .collect()
}

/// `gk` with PutImage paced as the SQS path's containers are (`GATEKEEPER_PUTIMAGE_TPS` 100), not
/// at 1/s: one process stands for all the invocations, and the storm is about faults and order.
fn unpaced(mut gk: TestGatekeeper) -> TestGatekeeper {
    gk.registry = gk.registry.paced(Pace::per_second(PUT_IMAGE_RATE));
    gk
}

/// Each phase's events as the storm delivers them: the distinct ones, duplicates drawn among them
/// (shared between the phases by size), the malformed ones in the first, all shuffled.
fn storm_phases(phases: &[Vec<Value>; 2], s: &StormSettings, rng: &mut Rng) -> Vec<Vec<Value>> {
    let distinct: usize = phases.iter().map(Vec::len).sum();
    let malformed_n = (s.events / 40).max(4);
    let duplicates = s.events.saturating_sub(distinct + malformed_n);
    let mut out = Vec::new();
    for (phase, events) in phases.iter().enumerate() {
        let mut batch: Vec<Value> = events.clone();
        let share = if phase == 0 {
            duplicates * events.len() / distinct.max(1)
        } else {
            duplicates - duplicates * phases[0].len() / distinct.max(1)
        };
        for _ in 0..share {
            let pick = events[rng.below(events.len())].clone();
            batch.push(pick);
        }
        if phase == 0 {
            batch.extend(malformed(malformed_n));
        }
        rng.shuffle(&mut batch);
        out.push(batch);
    }
    out
}

/// Delivers one phase's events through Lambda's asynchronous invocation, all at once.
async fn deliver_async(
    gk: &Arc<TestGatekeeper>,
    inspector: &Arc<FakeFindings>,
    batch: Vec<Value>,
    (limit, counters): (&Arc<Semaphore>, &Arc<Counters>),
    s: &StormSettings,
    rng: &mut Rng,
) {
    let mut tasks = Vec::new();
    for event in batch {
        tasks.push(tokio::spawn(deliver(
            Arc::clone(gk),
            Arc::clone(inspector),
            event,
            Arc::clone(limit),
            Arc::clone(counters),
            s.fault_rate,
            rng.next_u64(),
        )));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Runs one storm in each of `regions` at once, each against its own central deployment and oracle
/// (one per region, as deployed), over the same accounts: `storm`'s and its members, `oracle`'s and
/// its members. One report per region, in order.
pub async fn run_in_regions(
    storm: &Aws,
    oracle: &Aws,
    s: StormSettings,
    regions: &[&str],
) -> Vec<StormReport> {
    let mut runs = tokio::task::JoinSet::new();
    for (r, region) in regions.iter().enumerate() {
        let storm = Aws::with(storm.moto, &storm.account, region).await;
        let oracle = Aws::with(oracle.moto, &oracle.account, region).await;
        let settings = StormSettings {
            seed: s.seed + r as u64,
            ..s
        };
        runs.spawn(async move { (r, run(&storm, &oracle, settings).await) });
    }
    let mut reports: Vec<(usize, StormReport)> = runs.join_all().await;
    reports.sort_by_key(|(r, _)| *r);
    reports.into_iter().map(|(_, report)| report).collect()
}

/// Runs the storm and its oracle; `storm` and `oracle` are two fresh accounts on one moto server.
pub async fn run(storm: &Aws, oracle: &Aws, s: StormSettings) -> StormReport {
    let mut rng = Rng::new(s.seed);
    let (storm_setup, oracle_setup) = (storm.standard_setup().await, oracle.standard_setup().await);
    let (storm_places, oracle_places) = (
        accounts(storm, s.members).await,
        accounts(oracle, s.members).await,
    );
    let images = setup_images(&storm_places, s.images).await;
    let oracle_images = setup_images(&oracle_places, s.images).await;
    let ids = |places: &[Aws]| places.iter().map(|p| p.account.clone()).collect::<Vec<_>>();
    let phases = events_of(&images, &ids(&storm_places), &storm.region);
    let oracle_phases = events_of(&oracle_images, &ids(&oracle_places), &oracle.region);
    let distinct: usize = phases.iter().map(Vec::len).sum();

    // The oracle: every distinct event once, in order, no faults (ECR's storage classes emulated
    // as for the storm: moto has none).
    let oracle_proxy = FaultProxy::start(&oracle.moto.endpoint, s.seed)
        .unwrap_or_else(|e| panic!("oracle proxy: {e}"));
    oracle_proxy.emulate_storage();
    let oracle_sdk = oracle_proxy.sdk(&oracle.region, test_resilience(4)).await;
    let oracle_gk = unpaced(match s.members {
        0 => oracle.gatekeeper_via(&oracle_setup, Mode::Enforce, storm_policy(), &oracle_sdk),
        _ => oracle.organization_gatekeeper_via(&oracle_setup, storm_policy(), &oracle_sdk),
    });
    let oracle_inspector = FakeFindings::default();
    for (phase, events) in oracle_phases.iter().enumerate() {
        set_findings(&oracle_inspector, &oracle_images, phase);
        for e in events {
            let _ = invoke(&oracle_gk, &oracle_inspector, e, "oracle").await;
        }
    }

    // The storm: each phase's events with duplicates, shuffled, in parallel, faults on.
    let proxy = FaultProxy::start(&storm.moto.endpoint, s.seed)
        .unwrap_or_else(|e| panic!("fault proxy: {e}"));
    proxy.emulate_storage();
    let each = s.fault_rate / 4.0;
    proxy.set_rules(vec![
        Rule::at_rate(Fault::Throttle, each),
        Rule::at_rate(Fault::Unavailable, each / (1.0 - each)),
        Rule::at_rate(Fault::Drop, each / (1.0 - 2.0 * each)),
        Rule::at_rate(Fault::LoseResponse, each / (1.0 - 3.0 * each)),
    ]);
    let sdk = proxy.sdk(&storm.region, test_resilience(4)).await;
    let gk = Arc::new(unpaced(match s.members {
        0 => storm.gatekeeper_via(&storm_setup, Mode::Enforce, storm_policy(), &sdk),
        _ => storm.organization_gatekeeper_via(&storm_setup, storm_policy(), &sdk),
    }));
    let inspector = Arc::new(FakeFindings::default());
    let limit = Arc::new(Semaphore::new(s.concurrency.max(1)));
    let counters = Arc::new(Counters::default());
    let intake = match s.delivery {
        Delivery::Sqs => {
            let (settings, members) = ((s.concurrency, STORM_POLICY), s.members > 0);
            Some(Intake::start(storm, &storm_setup, &proxy, settings, members).await)
        }
        Delivery::Async => None,
    };
    let sqs = Arc::new(SqsCounts::default());
    let started = Instant::now();
    let mut delivered = 0;
    for (phase, batch) in storm_phases(&phases, &s, &mut rng).into_iter().enumerate() {
        set_findings(&inspector, &images, phase);
        script_findings(&proxy, &images, phase);
        delivered += batch.len();
        match &intake {
            Some(intake) => {
                // A bound, not a pace: a record unlucky 5 times waits 4 visibility timeouts, then a
                // redrive; a phase usually drains in 2 to 5 minutes.
                let limit = Duration::from_secs(900);
                let seed = rng.next_u64();
                intake
                    .deliver(storm, batch, s.fault_rate, seed, &sqs, limit)
                    .await;
            }
            None => deliver_async(&gk, &inspector, batch, (&limit, &counters), &s, &mut rng).await,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    proxy.set_rules(Vec::new());

    // Compare with the oracle.
    let malformed_n = (s.events / 40).max(4);
    let mut report = StormReport {
        region: storm.region.clone(),
        events: delivered,
        distinct: distinct + malformed_n,
        seconds,
        requests: proxy.requests().values().sum(),
        lost_publish_answers: proxy
            .history()
            .iter()
            .filter(|(op, f)| op == "sns:Publish" && *f == Some(Fault::LoseResponse))
            .count(),
        faults: proxy.faults(),
        lambda_retries: counters.lambda_retries.load(Ordering::Relaxed),
        eventbridge_retries: counters.eventbridge_retries.load(Ordering::Relaxed),
        on_failure: counters.on_failure.load(Ordering::Relaxed),
        dlq: counters.dlq.load(Ordering::Relaxed),
        malformed: malformed_n,
        outcomes: counters
            .outcomes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone(),
        ..StormReport::default()
    };
    if let Some(intake) = &intake {
        sqs_report(&mut report, intake, storm, &sqs).await;
    }
    let invoke_faults = counters.invoke_faults.load(Ordering::Relaxed);
    if invoke_faults > 0 {
        report.faults.insert("InvokeFailed".into(), invoke_faults);
    }
    let rejected = storm.drain(&storm_setup.rejected_url).await;
    report.rejected_messages = rejected.len();
    report.rejected = rejected
        .iter()
        .filter_map(|m| m["event"]["id"].as_str().map(str::to_string))
        .collect::<BTreeSet<String>>()
        .len();
    let (got, want) = (
        tags_of(&storm_places, &images).await,
        tags_of(&oracle_places, &oracle_images).await,
    );
    archived(
        &mut report,
        (&proxy, &oracle_proxy),
        (&images, &oracle_images),
        (&storm_places, &storm_setup),
    )
    .await;
    for ((im, g), w) in images.iter().zip(&got).zip(&want) {
        let quarantined = |t: &Vec<String>| t.iter().any(|t| t.starts_with("quarantined-"));
        if im.account > 0 && g.as_ref().is_some_and(quarantined) {
            report.quarantined_in_members += 1;
        }
        match g {
            None => report.deleted += 1,
            Some(t) if t.is_empty() => report.untagged += 1,
            _ => {}
        }
        if g != w {
            report.wrong_states += 1;
            if report.examples.len() < 5 {
                report.examples.push(format!(
                    "{}@{}: tags {g:?}, oracle {w:?}",
                    im.repo, im.digest
                ));
            }
        }
    }
    let (got, want) = (
        notified(storm, &storm_setup).await,
        notified(oracle, &oracle_setup).await,
    );
    for im in &images {
        let g = got.get(&im.digest).cloned().unwrap_or_default();
        let w = want.get(&im.digest).cloned().unwrap_or_default();
        let distinct_keys: BTreeSet<&String> = g.iter().map(|(k, _)| k).collect();
        report.messages += g.len();
        report.changes += distinct_keys.len();
        report.duplicate_messages += g.len() - distinct_keys.len();
        if changes(&g) != changes(&w) {
            report.wrong_notifications += 1;
            if report.examples.len() < 5 {
                report.examples.push(format!(
                    "{}@{}: notified {g:?}, oracle {w:?}",
                    im.repo, im.digest
                ));
            }
        }
    }
    report
}

impl std::fmt::Display for StormReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[allow(clippy::cast_precision_loss)] // a rate for people
        let rate = self.events as f64 / self.seconds.max(1e-9);
        writeln!(f, "region                  {}", self.region)?;
        writeln!(
            f,
            "events delivered        {} ({} distinct, rest duplicates), {:.1} s, {rate:.1} events/s",
            self.events, self.distinct, self.seconds
        )?;
        writeln!(f, "AWS requests            {}", self.requests)?;
        writeln!(f, "faults injected         {:?}", self.faults)?;
        match self.sqs {
            Some([batches, redelivered, retried, redriven]) => writeln!(
                f,
                "SQS                     {batches} batches, {redelivered} records redelivered, {retried} answered in batchItemFailures, {redriven} redriven from a DLQ; {} invocations failed in the function",
                self.lambda_retries
            )?,
            None => writeln!(
                f,
                "retries                 {} Lambda, {} EventBridge (SDK retries: one per injected AWS fault)",
                self.lambda_retries, self.eventbridge_retries
            )?,
        }
        writeln!(
            f,
            "outcomes                {:?} ({} of {} events accounted for)",
            self.outcomes,
            self.accounted(),
            self.events
        )?;
        writeln!(
            f,
            "on-failure / DLQ        {} / {}",
            self.on_failure, self.dlq
        )?;
        writeln!(
            f,
            "rejected queue          {} events in {} messages (malformed events sent: {})",
            self.rejected, self.rejected_messages, self.malformed
        )?;
        writeln!(
            f,
            "verdict messages        {} for {} changes: {} repeated a dedup key ({} Publish answers lost, both topics), {} images notified other changes than the oracle",
            self.messages,
            self.changes,
            self.duplicate_messages,
            self.lost_publish_answers,
            self.wrong_notifications
        )?;
        writeln!(
            f,
            "wrong states            {} (images deleted: {}, left untagged: {})",
            self.wrong_states, self.deleted, self.untagged
        )?;
        if self.quarantined_in_members > 0 {
            let n = self.quarantined_in_members;
            writeln!(f, "member accounts         {n} images quarantined there")?;
        }
        writeln!(
            f,
            "archived                {} images ({} without a reason in the state table)",
            self.archived, self.archived_without_reason
        )?;
        for e in &self.examples {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}
