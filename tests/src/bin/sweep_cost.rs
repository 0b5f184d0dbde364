//! Measures the AWS calls of one sweep over a large registry (default: 10,000 images in 200
//! repositories, 50 exceptions), against moto, and prints them by operation:
//!
//!     cargo run --release -p gatekeeper-tests --bin sweep_cost -- [REPOS] [IMAGES_PER_REPO] [EXCEPTIONS]
//!
//! ECR, DynamoDB and SNS calls are counted by an SDK interceptor on the gatekeeper's clients.
//! Inspector is a scripted source (moto's ListFindings cannot filter), so its calls are counted as
//! the adapter would make them: one ListFindings per query plus one per further 100 results.
//! The registry is in a steady state: no image pushed in the window (each one adds a GetItem), a few
//! images due, a few blocking findings updated in the window, two exceptions ending soon.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring tool: a panic is a failed run

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_ecr::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_ecr::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ecr::error::BoxError;
use aws_sdk_ecr::types::ScanFrequency;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use gatekeeper::adapters::{DynamoState, Ecr, Sns, SqsRejects};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::tags::TagScheme;
use gatekeeper::domain::time::{DAY, format_date, now};
use gatekeeper::domain::{Finding, ImageRef, Kev, Mode, Severity};
use gatekeeper::error::AwsError;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::ports::{FindingsSource, SweepSchedule, Window};
use gatekeeper::service::{Gatekeeper, SweepSettings};
use gatekeeper_tests::arg;
use gatekeeper_tests::fixtures::{Aws, MotoAccount, TestGatekeeper, sdk_for};
use gatekeeper_tests::moto::Moto;
use gatekeeper_tests::moto_client;

/// Counts every request by `service:Operation`.
#[derive(Debug, Clone, Default)]
struct Counter(Arc<Mutex<BTreeMap<String, u64>>>);

impl Intercept for Counter {
    fn name(&self) -> &'static str {
        "Counter"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            *self
                .0
                .lock()
                .unwrap()
                .entry(format!("{}:{}", m.service(), m.name()))
                .or_default() += 1;
        }
        Ok(())
    }
}

impl Counter {
    fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The scripted Inspector, counting the ListFindings calls the adapter would make.
struct CountingInspector {
    inner: FakeFindings,
    calls: Mutex<BTreeMap<String, u64>>,
}

impl CountingInspector {
    fn count(&self, what: &str, results: usize) {
        *self
            .calls
            .lock()
            .unwrap()
            .entry(format!("Inspector2:ListFindings ({what})"))
            .or_default() += 1 + (results.saturating_sub(1) / 100) as u64;
    }

    /// Awaits one query of the inner source and counts the calls its results took.
    async fn counted<T>(
        &self,
        what: &str,
        query: impl Future<Output = Result<Vec<T>, AwsError>>,
    ) -> Result<Vec<T>, AwsError> {
        let out = query.await?;
        self.count(what, out.len());
        Ok(out)
    }
}

impl FindingsSource for CountingInspector {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        self.counted("one image", self.inner.image_findings(image))
            .await
    }
    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        self.counted("by vulnerability", self.inner.images_with(vulnerability))
            .await
    }
    async fn images_updated(&self, window: &Window) -> Result<Vec<ImageRef>, AwsError> {
        let query = self.inner.images_updated(window);
        self.counted("updated in the window", query).await
    }
    async fn members(&self) -> Result<Vec<String>, AwsError> {
        self.inner.members().await
    }

    async fn kev_of(&self, arns: &[String]) -> Result<Vec<(String, Option<Kev>)>, AwsError> {
        self.inner.kev_of(arns).await
    }
}

fn print(title: &str, aws: &BTreeMap<String, u64>, inspector: &BTreeMap<String, u64>) {
    println!("\n{title}");
    let mut total = 0;
    for (op, n) in aws.iter().chain(inspector.iter()) {
        println!("  {op:<48} {n:>6}");
        total += n;
    }
    println!("  {:<48} {total:>6}", "total");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (repos, per_repo, exceptions) = (arg(1, 200), arg(2, 50), arg(3, 50));
    let moto: &'static Moto = Box::leak(Box::new(Moto::start()?));
    let aws = Aws::with(moto, "123456789012", "eu-west-1").await;
    let setup = aws.standard_setup().await;
    aws.enhanced_scanning("*", ScanFrequency::ContinuousScan)
        .await?;
    let started = std::time::Instant::now();
    let mut images = Vec::new();
    for r in 0..repos {
        let repo = format!("team-{}/svc-{r}", r % 20);
        aws.create_repo(&repo, "MUTABLE", &[]).await;
        for i in 0..per_repo {
            let digest = aws
                .push(&repo, &format!("{repo}-{i}"), &[&format!("v{i}")])
                .await;
            images.push((repo.clone(), digest));
        }
    }
    eprintln!(
        "seeded {} images in {repos} repositories in {:.0?}",
        images.len(),
        started.elapsed()
    );

    // Steady state: the last sweep an hour ago, no push since (the seeded pushes are older than the window).
    let t = now() + 3 * 3600;
    let mut policy =
        String::from("version = 1\nexpiry_notice = \"14d\"\n[defaults]\nblock = \"CRITICAL\"\n");
    for e in 0..exceptions {
        // Spread over 100 days: about 7 end within expiry_notice, none in the window.
        policy.push_str(&format!(
            "[[exception]]\nid = \"CVE-2026-{:05}\"\nrepositories = [\"team-{}/*\"]\ncreated = {}\nexpires = {}\nreason = \"r\"\nowner = \"o\"\n",
            e,
            e % 20,
            format_date(t - 10 * DAY),
            format_date(t + (e as i64 * 2 + 1) * DAY),
        ));
    }
    let policy = Policy::parse(&policy)?;
    let counter = Counter::default();
    let sdk = sdk_for(&moto.endpoint, &aws.region).await;
    let header = MotoAccount(aws.account.clone());
    let gk: TestGatekeeper = Gatekeeper {
        registry: Ecr::new(moto_client!(aws_sdk_ecr, &sdk, header, counter)),
        notifier: Sns::new(
            moto_client!(aws_sdk_sns, &sdk, header, counter),
            setup.topic_arn.clone(),
        ),
        state: DynamoState::new(
            moto_client!(aws_sdk_dynamodb, &sdk, header, counter),
            setup.table.clone(),
        ),
        rejects: SqsRejects::new(aws.sqs.clone(), setup.rejected_url.clone()),
        policy,
        mode: Mode::Enforce,
        tags: TagScheme::default(),
        claim_lease: 300,
        home: None,
        members: None,
        ou_path: None,
        clock: || now() + 3 * 3600,
    };
    gk.state.record_sweep(t - 3600).await?;
    let inspector = CountingInspector {
        inner: FakeFindings::default(),
        calls: Mutex::new(BTreeMap::new()),
    };
    // Ten images due (a grace deadline passed), ten with a CRITICAL updated in the window.
    for (repo, digest) in images.iter().take(10) {
        let image = ImageRef {
            place: None,
            repository: repo.clone(),
            digest: digest.clone(),
            tags: Vec::new(),
        };
        gk.state.set_due(&image, Some(t - 600), None).await?;
    }
    for (repo, digest) in images.iter().skip(10).take(10) {
        inspector.inner.set_for(
            repo,
            digest,
            vec![Finding::new("CVE-2026-99999", Severity::Critical)],
            t - 900,
        );
    }
    counter.take();

    let settings = SweepSettings::default();
    let started = std::time::Instant::now();
    let first = gk.sweep(&inspector, &settings, "run-1").await?;
    let took = started.elapsed();
    print(
        &format!(
            "first sweep: {} repositories, {} images, {} exceptions; {} evaluated, {} changed, {} reminders ({took:.1?} against moto)",
            first.repositories,
            first.images_listed,
            exceptions,
            first.evaluated,
            first.changed,
            first.reminders
        ),
        &counter.take(),
        &std::mem::take(&mut *inspector.calls.lock().unwrap()),
    );
    let second = gk.sweep(&inspector, &settings, "run-2").await?;
    print(
        &format!(
            "second sweep right after: {} evaluated, {} changed, {} reminders",
            second.evaluated, second.changed, second.reminders
        ),
        &counter.take(),
        &std::mem::take(&mut *inspector.calls.lock().unwrap()),
    );
    moto.stop();
    Ok(())
}
