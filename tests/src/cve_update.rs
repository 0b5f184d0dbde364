//! A CVE-database update, simulated: every finding of many images updated at once, one "Inspector2
//! Finding" event each, through on-scan's SQS intake: a moto queue read by concurrent pollers the way
//! Lambda's event source mapping reads it (batches, visibility timeout, `batchItemFailures`, redrive),
//! each poller a container with its own gatekeeper and PutImage pace, each batch parsed as the
//! function parses its payload. Inspector is the test support's scripted source, which filters by
//! image as ListFindings does (moto's ignores filters); the functions' own AWS calls go through a
//! counting proxy, the pollers' SQS calls do not.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatekeeper::bootstrap::lambda::Delivery;
use gatekeeper::domain::events::parse_inspector_finding;
use gatekeeper::domain::time::Epoch;
use gatekeeper::domain::{Finding, ImageRef, Kev, Mode};
use gatekeeper::error::AwsError;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::ports::{FindingsSource, Window};
use serde_json::{Value, json};

use crate::faults::{FaultProxy, Rng, test_resilience};
use crate::fixtures::{
    Aws, Pushed, Setup, TestGatekeeper, envelope, inspector_finding, inspector_scan_counts,
};
use crate::sqs::{EventSource, MemoryQueue, Received, next_batch, sqs_event};
use crate::storm::storm_policy;

/// When Inspector last updated the findings before the update, and with it.
const BEFORE: Epoch = 1_763_700_000;
const AFTER: Epoch = 1_763_800_000;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct UpdateSettings {
    /// Images, in repositories of 20; every fifth ends blocked, the next one warned.
    pub images: usize,
    /// Findings per image (one event each).
    pub findings: usize,
    /// Pollers at once (the mapping's `MaximumConcurrency`).
    pub pollers: usize,
    /// Records per batch.
    pub batch_size: usize,
    /// Events sent in random order instead of image by image.
    pub shuffled: bool,
    /// Seed of the order.
    pub seed: u64,
    /// How long the pollers may take to drain the queue.
    pub limit: Duration,
    /// The queue in memory ([`MemoryQueue`]) instead of moto's, whose SQS cannot hold thousands of
    /// messages at a usable speed.
    pub in_memory: bool,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct UpdateReport {
    /// Events sent.
    pub events: usize,
    /// Findings reads per image (one ListFindings page each up to 100 findings).
    pub evaluations: Vec<usize>,
    /// ListFindings pages read.
    pub pages: usize,
    /// The functions' other AWS calls, by operation.
    pub calls: BTreeMap<String, usize>,
    /// The most PutImage calls in any window of 1 s and of 10 s.
    pub peak_put: (usize, usize),
    /// Batches handled, and records sent back to the queue.
    pub batches: usize,
    /// Records answered in `batchItemFailures`.
    pub retried: usize,
    /// Seconds from the first poll to an empty queue (or to the limit).
    pub seconds: f64,
    /// Records left in the queue and in its DLQ at the end.
    pub left: usize,
    /// Records in the DLQ.
    pub dlq: usize,
    /// Images not in the state the update calls for, with why (up to five shown).
    pub wrong: Vec<String>,
    /// Pollers and each one's PutImage rate, for the bound.
    pub pollers: usize,
    /// PutImage calls per second per container.
    pub put_rate: f64,
}

impl UpdateReport {
    /// AWS calls in all: the functions' own plus the ListFindings pages.
    pub fn total_calls(&self) -> usize {
        self.calls.values().sum::<usize>() + self.pages
    }

    /// The most PutImage calls the pollers' token buckets allow in a window of `seconds`: each
    /// container's burst (one second's worth, at least one call) plus its rate times the window.
    pub fn put_bound(&self, seconds: f64) -> usize {
        let each = self.put_rate.max(1.0) + self.put_rate * seconds;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // small, positive
        let bound = (self.pollers as f64 * each).floor() as usize;
        bound
    }

    /// Whether the run met the goals: every image right, nothing left or dead-lettered, at most 2
    /// evaluations per image, at most 1 AWS call per event, PutImage within the pace.
    pub fn ok(&self) -> bool {
        self.wrong.is_empty()
            && self.left == 0
            && self.dlq == 0
            && self.evaluations.iter().all(|&n| n <= 2)
            && self.total_calls() <= self.events
            && self.peak_put.0 <= self.put_bound(1.0)
            && self.peak_put.1 <= self.put_bound(10.0)
    }
}

/// The scripted Inspector, counting the reads of each image's findings.
#[derive(Debug, Default)]
struct Counted {
    inner: FakeFindings,
    reads: Mutex<HashMap<String, usize>>,
}

impl FindingsSource for Counted {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        *self
            .reads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(image.digest.clone())
            .or_default() += 1;
        self.inner.image_findings(image).await
    }

    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        self.inner.images_with(vulnerability).await
    }

    async fn images_updated(&self, window: &Window) -> Result<Vec<ImageRef>, AwsError> {
        self.inner.images_updated(window).await
    }

    async fn members(&self) -> Result<Vec<String>, AwsError> {
        self.inner.members().await
    }

    async fn kev_of(&self, arns: &[String]) -> Result<Vec<(String, Option<Kev>)>, AwsError> {
        self.inner.kev_of(arns).await
    }
}

/// One image of the registry.
type Image = Pushed;

/// The severity of finding `k` of image `i` after the update (`after`) or before it: the update
/// raises one finding of every fifth image to CRITICAL and of the next one to HIGH.
fn severity(i: usize, k: usize, after: bool) -> &'static str {
    match (after && k == 0, i % 5) {
        (true, 0) => "CRITICAL",
        (true, 1) => "HIGH",
        _ => "MEDIUM",
    }
}

/// Image `i`'s findings as Inspector's finding events carry them (before or after the update).
fn details(im: &Image, i: usize, findings: usize, after: bool) -> Vec<Value> {
    (0..findings)
        .map(|k| {
            let mut d = inspector_finding(
                &im.repo,
                &im.digest,
                &format!("CVE-2026-{:05}", 10_000 + k),
                severity(i, k, after),
            );
            d["updatedAt"] = json!(if after { AFTER } else { BEFORE });
            d
        })
        .collect()
}

/// Scripts what ListFindings lists for every image.
fn script(source: &Counted, images: &[Image], findings: usize, after: bool) {
    for (i, im) in images.iter().enumerate() {
        let listed = details(im, i, findings, after)
            .iter()
            .filter_map(|d| parse_inspector_finding(d).ok())
            .collect();
        source.inner.set(&im.digest, listed);
    }
}

async fn setup_images(aws: &Aws, n: usize) -> Vec<Image> {
    aws.push_fleet("base", 2, n).await
}

/// The verdict before the update: each image scanned once (all MEDIUM: it passes).
async fn prime(aws: &Aws, setup: &Setup, source: &Counted, images: &[Image], findings: usize) {
    let gk = aws.gatekeeper(setup, Mode::Enforce, storm_policy());
    let counts = [("MEDIUM", u32::try_from(findings).unwrap_or(u32::MAX))];
    for (i, im) in images.iter().enumerate() {
        let e = inspector_scan_counts(&format!("scan-{i}"), &im.repo, &im.digest, &counts);
        gk.handle_scan_event(source, &e).await.unwrap();
    }
    aws.drain(&setup.subscriber_url).await;
}

/// The update's events, image by image or shuffled.
fn update_events(images: &[Image], s: &UpdateSettings) -> Vec<Value> {
    let mut events = Vec::with_capacity(images.len() * s.findings);
    for (i, im) in images.iter().enumerate() {
        for (k, d) in details(im, i, s.findings, true).into_iter().enumerate() {
            events.push(envelope(
                &format!("update-{i}-{k}"),
                "aws.inspector2",
                "Inspector2 Finding",
                d,
            ));
        }
    }
    if s.shuffled {
        Rng::new(s.seed).shuffle(&mut events);
    }
    events
}

/// Sends the events from 8 senders at once (an EventBridge rule's SQS target).
async fn send_all(queue: &EventSource, events: Vec<Value>) {
    let chunk = events.len().div_ceil(8).max(1);
    let mut senders = Vec::new();
    for part in events.chunks(chunk) {
        let (queue, part) = (queue.clone(), part.to_vec());
        senders.push(tokio::spawn(async move { queue.send(&part).await }));
    }
    for s in senders {
        s.await.unwrap();
    }
}

/// Where the update's events wait: on-scan's intake queue.
#[derive(Debug, Clone)]
enum Queue {
    /// A moto queue, read as Lambda's event source mapping reads it.
    Moto(EventSource),
    /// The same in memory.
    Memory(Arc<MemoryQueue>),
}

/// The intake queue's name, and its dead-letter queue's.
const QUEUE: &str = "cve-update-intake";
const DEAD_LETTERS: &str = "cve-update-intake-dlq";

impl Queue {
    async fn create(aws: &Aws, s: &UpdateSettings) -> Queue {
        if s.in_memory {
            let visibility = Duration::from_secs(720);
            Queue::Memory(Arc::new(MemoryQueue::new(s.batch_size, visibility, 5)))
        } else {
            Queue::Moto(EventSource::create(aws, QUEUE, s.batch_size, 720, 5).await)
        }
    }

    async fn send(&self, events: Vec<Value>) {
        match self {
            Queue::Moto(q) => send_all(q, events).await,
            Queue::Memory(m) => m.send(&events),
        }
    }

    async fn poll(&self) -> Vec<Received> {
        match self {
            Queue::Moto(q) => q.poll().await,
            Queue::Memory(m) => m.poll(),
        }
    }

    fn event(&self, batch: &[Received]) -> Value {
        match self {
            Queue::Moto(q) => q.event(batch),
            Queue::Memory(_) => {
                let arn = format!("arn:aws:sqs:eu-west-1:333333333333:{QUEUE}");
                sqs_event(batch, &arn, "eu-west-1")
            }
        }
    }

    async fn settle(&self, batch: &[Received], retry: &[String]) {
        match self {
            Queue::Moto(q) => {
                q.settle(batch, retry).await;
            }
            Queue::Memory(m) => {
                m.settle(batch, retry);
            }
        }
    }

    async fn depth(&self) -> usize {
        match self {
            Queue::Moto(q) => q.depth().await,
            Queue::Memory(m) => m.depth(),
        }
    }

    async fn dead(&self, aws: &Aws) -> usize {
        match self {
            // CreateQueue of an existing queue with the same attributes answers its URL.
            Queue::Moto(_) => aws.drain(&aws.create_queue(DEAD_LETTERS).await).await.len(),
            Queue::Memory(m) => m.dead(),
        }
    }
}

/// Counts shared by the pollers: batches handled and records retried.
#[derive(Default)]
struct Tally {
    batches: usize,
    retried: usize,
}

/// One poller: batches until the queue is empty or `deadline` passes, each handed to its own
/// gatekeeper (a container: its own pace) as the function's payload, its answer applied.
async fn poll(
    gk: TestGatekeeper,
    queue: Queue,
    source: Arc<Counted>,
    tally: Arc<Mutex<Tally>>,
    deadline: Instant,
) {
    let pause = Duration::from_millis(200);
    while let Some(batch) = next_batch(|| queue.poll(), || queue.depth(), pause, deadline).await {
        let payload = queue.event(&batch).to_string();
        let Delivery::Batch(batch_in) = Delivery::from_text(&payload) else {
            panic!("an SQS batch read as one event");
        };
        let until = Instant::now() + Duration::from_secs(110);
        let report = gk
            .handle_scan_batch(&*source, &batch_in.records, Some(until))
            .await;
        queue.settle(&batch, &report.retry).await;
        let mut t = tally.lock().unwrap_or_else(|p| p.into_inner());
        t.batches += 1;
        t.retried += report.retry.len();
    }
}

/// The most timestamps within any window of `width` (half-open).
fn peak(times: &[Instant], width: Duration) -> usize {
    let mut best = 0;
    let mut start = 0;
    for (end, t) in times.iter().enumerate() {
        while *t >= times[start] + width {
            start += 1;
        }
        best = best.max(end + 1 - start);
    }
    best
}

/// Runs the update on the fresh account `aws`.
pub async fn run(aws: &Aws, s: UpdateSettings) -> UpdateReport {
    let begun = Instant::now();
    let step = |what: &str| eprintln!("[{:6.1} s] {what}", begun.elapsed().as_secs_f64());
    let setup = aws.standard_setup().await;
    let images = setup_images(aws, s.images).await;
    step("images pushed");
    let source = Arc::new(Counted::default());
    script(&source, &images, s.findings, false);
    prime(aws, &setup, &source, &images, s.findings).await;
    step("each image evaluated once before the update");
    script(&source, &images, s.findings, true);
    source
        .reads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();

    let queue = Queue::create(aws, &s).await;
    let events = update_events(&images, &s);
    let sent = events.len();
    queue.send(events).await;
    step("update events queued");

    let proxy = FaultProxy::start(&aws.moto.endpoint, s.seed)
        .unwrap_or_else(|e| panic!("counting proxy: {e}"));
    let sdk = proxy.sdk(&aws.region, test_resilience(4)).await;
    let tally = Arc::new(Mutex::new(Tally::default()));
    let started = Instant::now();
    let mut pollers = Vec::new();
    for _ in 0..s.pollers.max(1) {
        let gk = aws.gatekeeper_via(&setup, Mode::Enforce, storm_policy(), &sdk);
        pollers.push(tokio::spawn(poll(
            gk,
            queue.clone(),
            Arc::clone(&source),
            Arc::clone(&tally),
            started + s.limit,
        )));
    }
    for p in pollers {
        p.await.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    step("pollers done");
    report(
        aws, &setup, &images, &source, &proxy, &queue, &tally, s, sent, seconds,
    )
    .await
}

/// What the run came to, checked against what the update calls for.
#[allow(clippy::too_many_arguments)] // the run's parts, read once
async fn report(
    aws: &Aws,
    setup: &Setup,
    images: &[Image],
    source: &Counted,
    proxy: &FaultProxy,
    queue: &Queue,
    tally: &Mutex<Tally>,
    s: UpdateSettings,
    sent: usize,
    seconds: f64,
) -> UpdateReport {
    let reads = source
        .reads
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let evaluations: Vec<usize> = images
        .iter()
        .map(|im| reads.get(&im.digest).copied().unwrap_or(0))
        .collect();
    let pages = evaluations.iter().sum::<usize>() * s.findings.div_ceil(100).max(1);
    let puts = proxy.times("ecr:PutImage");
    let (batches, retried) = {
        let t = tally.lock().unwrap_or_else(|p| p.into_inner());
        (t.batches, t.retried)
    };
    let (dlq, left) = (queue.dead(aws).await, queue.depth().await);
    let mut report = UpdateReport {
        events: sent,
        evaluations,
        pages,
        calls: proxy.requests(),
        peak_put: (
            peak(&puts, Duration::from_secs(1)),
            peak(&puts, Duration::from_secs(10)),
        ),
        batches,
        retried,
        seconds,
        left,
        dlq,
        wrong: Vec::new(),
        pollers: s.pollers.max(1),
        put_rate: gatekeeper::adapters::PUT_IMAGE_TPS,
    };
    check_images(aws, setup, images, &mut report).await;
    report
}

/// Every fifth image quarantined, every image notified once if its verdict changed and never
/// otherwise, the rest's tags untouched.
async fn check_images(aws: &Aws, setup: &Setup, images: &[Image], report: &mut UpdateReport) {
    let mut changes: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (_, body) in aws.messages(&setup.subscriber_url).await {
        if body["event_type"] == "verdict" {
            let digest = body["image"]["digest"].as_str().unwrap_or("").to_string();
            let key = body["dedup_key"].as_str().unwrap_or("").to_string();
            changes.entry(digest).or_default().insert(key);
        }
    }
    for (i, im) in images.iter().enumerate() {
        let mut tags = aws.tags(&im.repo, &im.digest).await.unwrap_or_default();
        tags.sort();
        let quarantined = !tags.is_empty() && tags.iter().all(|t| t.starts_with("quarantined-"));
        let right_tags = if i % 5 == 0 {
            quarantined
        } else {
            tags == im.tags
        };
        let notified = changes.get(&im.digest).map_or(0, BTreeSet::len);
        let right_messages = notified == usize::from(i % 5 < 2);
        if !(right_tags && right_messages) {
            report.wrong.push(format!(
                "{}@{}: tags {tags:?}, {notified} change message(s)",
                im.repo, im.digest
            ));
        }
    }
}

impl std::fmt::Display for UpdateReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let images = self.evaluations.len().max(1);
        #[allow(clippy::cast_precision_loss)] // ratios for people
        let (per_image, per_event) = (
            self.evaluations.iter().sum::<usize>() as f64 / images as f64,
            self.total_calls() as f64 / self.events.max(1) as f64,
        );
        let most = self.evaluations.iter().max().copied().unwrap_or(0);
        writeln!(
            f,
            "events                  {} for {} images",
            self.events,
            self.evaluations.len()
        )?;
        writeln!(
            f,
            "evaluations per image   {per_image:.2} (most {most}; goal: at most 2)"
        )?;
        writeln!(
            f,
            "AWS calls               {} ({} ListFindings pages + {:?}), {per_event:.3} per event (goal: at most 1)",
            self.total_calls(),
            self.pages,
            self.calls
        )?;
        writeln!(
            f,
            "peak PutImage           {} in 1 s, {} in 10 s (the pace allows {} and {}: {} containers at {}/s)",
            self.peak_put.0,
            self.peak_put.1,
            self.put_bound(1.0),
            self.put_bound(10.0),
            self.pollers,
            self.put_rate
        )?;
        writeln!(
            f,
            "drain                   {:.1} s, {} batches, {} records retried, {} left, {} in the DLQ",
            self.seconds, self.batches, self.retried, self.left, self.dlq
        )?;
        writeln!(f, "images in a wrong state {}", self.wrong.len())?;
        for w in self.wrong.iter().take(5) {
            writeln!(f, "  {w}")?;
        }
        Ok(())
    }
}
