//! The storm's SQS path: each function's intake queue on moto (a DLQ after 5 receives), a local
//! poller per container filling batches as Lambda's event source mapping does, each batch handed to
//! the function binary through a local Runtime API and its `batchItemFailures` applied. An invoke
//! that fails, or whose answer is lost after the function ran, leaves the whole batch to reappear
//! when its visibility timeout ends; what reaches a DLQ is redriven, as an operator would, and
//! counted.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::faults::{FaultProxy, Rng};
use crate::fixtures::{Aws, Setup};
use crate::runtime::{Answer, Function, sibling_binary};
use crate::sqs::{EventSource, Received, next_batch};

/// The intake queues' visibility timeout, seconds: longer than a function's timeout ([`BUDGET`])
/// and than its claim lease, as infra/ sets them (shortened so that a redelivery comes within a
/// test).
pub const VISIBILITY: i32 = 45;
/// The functions' timeout (the deadline each invocation is given): a batch starts no new image in
/// its last 32 s (`bootstrap::BATCH_RESERVE` and the margin), so this leaves it 8 s.
const BUDGET: Duration = Duration::from_secs(40);
/// Receives before SQS moves a record to the DLQ (infra/'s redrive policy).
const MAX_RECEIVE: u32 = 5;
/// Records per batch (on-push's default; small enough that a storm makes many batches).
const BATCH: usize = 10;
/// PutImage a second per container: the storm is about faults and ordering, not the pace.
pub const PUT_IMAGE_RATE: f64 = 100.0;
/// Times the DLQs are redriven before what is left there counts as lost.
const REDRIVES: usize = 3;

/// What the SQS path did, summed over the storm's phases.
#[derive(Debug, Default)]
pub struct Counts {
    /// Batches handed to a function.
    pub batches: AtomicUsize,
    /// Records received more than once.
    pub redelivered: AtomicUsize,
    /// Records a function answered in `batchItemFailures`.
    pub retried: AtomicUsize,
    /// Invokes that failed before the function saw the batch.
    pub invoke_failed: AtomicUsize,
    /// Invokes whose answer was lost after the function ran.
    pub answers_lost: AtomicUsize,
    /// Invocations answered with an error or not answered in time.
    pub function_errors: AtomicUsize,
    /// Records moved back from a DLQ to their queue.
    pub redriven: AtomicUsize,
    /// Ids of the messages deleted after a function acknowledged them.
    pub acknowledged: Mutex<BTreeSet<String>>,
}

impl Counts {
    fn add(counter: &AtomicUsize, n: usize) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// The value of one counter.
    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }

    /// Sent records that ended acknowledged: one message each, the original or, after a redrive,
    /// its copy (a message acknowledged twice, after a lost answer, counts once).
    pub fn delivered(&self) -> usize {
        self.acknowledged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }
}

/// One function: its intake queue, its DLQ and its containers.
struct Route {
    queue: EventSource,
    dlq_url: String,
    containers: Vec<Arc<Function>>,
}

/// on-push and on-scan, each behind its intake queue.
pub struct Intake {
    push: Route,
    scan: Route,
    policy_file: PathBuf,
}

impl Drop for Intake {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.policy_file);
    }
}

impl Intake {
    /// Creates the queues and starts `containers` processes of each function binary, deployed on
    /// `setup` with `policy` and reaching AWS through `proxy`, governing the Organization's `members`
    /// through the member role when asked. `aws` must be the functions' account
    /// ([`crate::fixtures::FUNCTION_ACCOUNT`]: a binary cannot send moto's account header).
    pub async fn start(
        aws: &Aws,
        setup: &Setup,
        proxy: &FaultProxy,
        (containers, policy): (usize, &str),
        members: bool,
    ) -> Intake {
        let policy_file = std::env::temp_dir().join(format!(
            "gatekeeper-storm-policy-{}-{}.toml",
            std::process::id(),
            aws.region
        ));
        std::fs::write(&policy_file, policy)
            .unwrap_or_else(|e| panic!("{}: {e}", policy_file.display()));
        let path = policy_file.to_string_lossy().to_string();
        let rate = PUT_IMAGE_RATE.to_string();
        let mut extra: Vec<(&'static str, &str)> = vec![
            ("GATEKEEPER_MODE", "enforce"),
            ("GATEKEEPER_POLICY", &path),
            ("GATEKEEPER_PUTIMAGE_TPS", &rate),
            ("GATEKEEPER_INSPECTOR_TPS", "100"),
            ("GATEKEEPER_CLAIM_LEASE", "42s"),
        ];
        // An Organization deployment: the binaries act in the members through the member role
        // (moto gives each assumed session the role's account).
        if members {
            extra.push(("GATEKEEPER_MEMBER_ROLE", crate::fixtures::MEMBER_ROLE));
        }
        let env = aws.function_env(&proxy.endpoint, setup, &extra);
        let mut routes = Vec::new();
        for name in ["on-push", "on-scan"] {
            let queue_name = format!("storm-{name}-intake");
            let queue = EventSource::create(aws, &queue_name, BATCH, VISIBILITY, MAX_RECEIVE).await;
            let dlq_url = aws.create_queue(&format!("{queue_name}-dlq")).await;
            let containers = (0..containers.max(1))
                .map(|_| {
                    Function::start(&sibling_binary(name), name, &env)
                        .map(Arc::new)
                        .unwrap_or_else(|e| panic!("{name}: {e}"))
                })
                .collect();
            routes.push(Route {
                queue,
                dlq_url,
                containers,
            });
        }
        let (Some(scan), Some(push)) = (routes.pop(), routes.pop()) else {
            panic!("two routes were created");
        };
        Intake {
            push,
            scan,
            policy_file,
        }
    }

    /// Puts `events` in the queues their EventBridge rules target (ECR's to on-push, Inspector's to
    /// on-scan), then polls until both queues are empty, redriving what reaches a DLQ; gives up
    /// after `limit`. Invokes fail, or lose their answer, each at `fault_rate / 2`.
    pub async fn deliver(
        &self,
        aws: &Aws,
        events: Vec<Value>,
        fault_rate: f64,
        seed: u64,
        counts: &Arc<Counts>,
        limit: Duration,
    ) {
        let (push, scan): (Vec<Value>, Vec<Value>) =
            events.into_iter().partition(|e| e["source"] == "aws.ecr");
        self.push.queue.send(&push).await;
        self.scan.queue.send(&scan).await;
        let deadline = Instant::now() + limit;
        let mut rng = Rng::new(seed);
        for _ in 0..=REDRIVES {
            let mut pollers = Vec::new();
            for route in [&self.push, &self.scan] {
                for container in &route.containers {
                    pollers.push(tokio::spawn(poll(
                        route.queue.clone(),
                        Arc::clone(container),
                        (fault_rate, rng.next_u64()),
                        Arc::clone(counts),
                        deadline,
                    )));
                }
            }
            for p in pollers {
                p.await.unwrap_or_else(|e| panic!("poller: {e}"));
            }
            let mut redriven = 0;
            for route in [&self.push, &self.scan] {
                let dead = aws.drain(&route.dlq_url).await;
                route.queue.send(&dead).await;
                redriven += dead.len();
            }
            Counts::add(&counts.redriven, redriven);
            if redriven == 0 || Instant::now() >= deadline {
                return;
            }
        }
    }

    /// Records left in the queues and their DLQs.
    pub async fn left(&self, aws: &Aws) -> usize {
        let mut n = 0;
        for route in [&self.push, &self.scan] {
            n += route.queue.depth().await + aws.drain(&route.dlq_url).await.len();
        }
        n
    }
}

/// One container's poller: batches from `queue` until it is empty (nothing visible or in flight) or
/// `deadline` passes.
async fn poll(
    queue: EventSource,
    function: Arc<Function>,
    (fault_rate, seed): (f64, u64),
    counts: Arc<Counts>,
    deadline: Instant,
) {
    let mut rng = Rng::new(seed);
    let pause = Duration::from_millis(250);
    while let Some(batch) = next_batch(|| queue.poll(), || queue.depth(), pause, deadline).await {
        Counts::add(&counts.batches, 1);
        Counts::add(
            &counts.redelivered,
            batch.iter().filter(|m| m.receive_count > 1).count(),
        );
        if rng.chance(fault_rate / 2.0) {
            Counts::add(&counts.invoke_failed, 1);
            continue;
        }
        let lost = rng.chance(fault_rate / 2.0);
        let answer = invoke(&function, queue.event(&batch)).await;
        if lost {
            Counts::add(&counts.answers_lost, 1);
            continue;
        }
        match answer {
            Ok(Answer::Response(v)) => settle(&queue, &batch, &v, &counts).await,
            Ok(Answer::Error { .. }) | Err(_) => Counts::add(&counts.function_errors, 1),
        }
    }
}

/// One invocation through the container's Runtime API (a blocking call, off the async workers).
async fn invoke(function: &Arc<Function>, event: Value) -> Result<Answer, String> {
    let function = Arc::clone(function);
    tokio::task::spawn_blocking(move || function.invoke_within(&event, BUDGET))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
}

/// Applies a function's answer as Lambda does, and counts it.
async fn settle(queue: &EventSource, batch: &[Received], answer: &Value, counts: &Counts) {
    let retry = EventSource::failures(answer);
    queue.settle(batch, &retry).await;
    Counts::add(&counts.retried, retry.len());
    let mut acknowledged = counts
        .acknowledged
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    acknowledged.extend(
        batch
            .iter()
            .filter(|m| !retry.contains(&m.id))
            .map(|m| m.id.clone()),
    );
}
