//! AWS fixtures against moto: one isolated account per test (moto's `x-moto-account-id` header),
//! clients without retries, and helpers to create repositories, push images, seed findings and read
//! what the gatekeeper left behind (tags, queue messages).

use std::sync::atomic::{AtomicU64, Ordering};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_ecr::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_ecr::config::{ConfigBag, Credentials, Intercept, Region, RuntimeComponents};
use aws_sdk_ecr::error::BoxError;
use aws_sdk_ecr::types::{
    ImageIdentifier, ImageTagMutability, ImageTagMutabilityExclusionFilter,
    ImageTagMutabilityExclusionFilterType, RegistryScanningRule, ScanFrequency, ScanType,
    ScanningRepositoryFilter, ScanningRepositoryFilterType,
};
use aws_sdk_eventbridge::types::Target;
use serde_json::{Value, json};

use crate::manifest::{digest_of, image_manifest};
use crate::moto::Moto;
use gatekeeper::adapters::{DynamoState, Ecr, Members, Sns, SqsRejects};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::tags::TagScheme;
use gatekeeper::domain::{Decision, Finding, FindingStatus, Mode, Place, ScanState};
use gatekeeper::error::AwsError;
use gatekeeper::ports::fakes::FakeFindings;
use gatekeeper::ports::{
    BasicScan, ImageDetail, Manifest, PutTag, Removal, ScanCoverage, StartScan,
};
use gatekeeper::service::Gatekeeper;

/// The gatekeeper wired to one test account.
pub type TestGatekeeper = Gatekeeper<(Ecr, Sns, DynamoState, SqsRejects)>;

/// Adds `x-moto-account-id` to every request: each test gets its own moto account.
#[derive(Debug, Clone)]
pub struct MotoAccount(pub String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "MotoAccount"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        ctx.request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// A client of one SDK crate for moto, with the account header and any further interceptors (clones
/// of each): `moto_client!(aws_sdk_ecr, &sdk, header, counter)`.
#[macro_export]
macro_rules! moto_client {
    ($krate:ident, $sdk:expr, $($interceptor:expr),+) => {
        $krate::Client::from_conf(
            $krate::config::Builder::from($sdk)
                $(.interceptor($interceptor.clone()))+
                .build(),
        )
    };
}

/// SDK configuration for moto: endpoint, region, dummy credentials, no retries (moto answers
/// unimplemented calls with 500s that the SDK would otherwise retry slowly).
pub async fn sdk_for(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "moto"))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

/// One test's AWS: an account of its own on the shared moto server.
pub struct Aws {
    /// The moto account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The server.
    pub moto: &'static Moto,
    /// ECR.
    pub ecr: aws_sdk_ecr::Client,
    /// SNS.
    pub sns: aws_sdk_sns::Client,
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// DynamoDB.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// EventBridge.
    pub events: aws_sdk_eventbridge::Client,
}

/// Queue, topic and table names of a [`Aws::standard_setup`].
pub struct Setup {
    /// State table.
    pub table: String,
    /// JSON topic.
    pub topic_arn: String,
    /// Queue subscribed to the topic (raw delivery off: the SNS envelope carries the attributes).
    pub subscriber_url: String,
    /// Rejected-events queue.
    pub rejected_url: String,
    /// Chatbot topic.
    pub chat_topic_arn: String,
    /// Queue subscribed to the Chatbot topic.
    pub chat_url: String,
}

fn account_for(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h: u64 = 1469598103934665603;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:012}",
        (h ^ (u64::from(std::process::id()) << 20) ^ n) % 900_000_000_000 + 100_000_000_000
    )
}

/// The member role an Organization deployment assumes in the tests.
pub const MEMBER_ROLE: &str = "ecr-gatekeeper-member";

/// The account a function binary's requests land in: moto's default (a binary cannot send moto's
/// account header).
pub const FUNCTION_ACCOUNT: &str = "123456789012";

/// A sample event from `events/`, by file name.
pub fn sample_event(name: &str) -> serde_json::Value {
    let path = crate::moto::workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `value` with every ECR ARN's region and account, and the fields that name them, made `region` and
/// `account`: a sample event as it would come from a registry of that account and region.
fn rehome(value: &mut Value, account: &str, region: &str) {
    match value {
        Value::String(s) if s.starts_with("arn:aws:ecr:") => {
            let parts: Vec<&str> = s.splitn(6, ':').collect();
            if let [arn, partition, service, _, _, resource] = parts[..] {
                *s = format!("{arn}:{partition}:{service}:{region}:{account}:{resource}");
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rehome(v, account, region)),
        Value::Object(fields) => {
            for (k, v) in fields.iter_mut() {
                match (k.as_str(), v.is_string()) {
                    ("account" | "awsAccountId" | "registry", true) => *v = json!(account),
                    ("region", true) => *v = json!(region),
                    _ => rehome(v, account, region),
                }
            }
        }
        _ => {}
    }
}

impl Aws {
    /// A sample event as this account and region's registry would send it (ARNs, `account`,
    /// `region`, `awsAccountId`): events of other accounts and regions are not a deployment's own.
    pub fn here(&self, mut event: Value) -> Value {
        rehome(&mut event, &self.account, &self.region);
        event
    }

    /// moto's default account in a region of the test's own, set up as a deployment is: where a
    /// function binary under test finds its table, topics and queues.
    pub async fn for_function(region: &str) -> (Aws, Setup) {
        let aws = Aws::with(Moto::shared(), FUNCTION_ACCOUNT, region).await;
        let setup = aws.standard_setup().await;
        (aws, setup)
    }

    /// A fresh account for the test called `name`.
    pub async fn new(name: &str) -> Aws {
        Aws::with(Moto::shared(), &account_for(name), "eu-west-1").await
    }

    /// A given account and region on a given server (a function binary cannot send moto's account
    /// header, so its tests use moto's default account `123456789012` and a region of their own).
    pub async fn with(moto: &'static Moto, account: &str, region: &str) -> Aws {
        let account = account.to_string();
        let region = region.to_string();
        let sdk = sdk_for(&moto.endpoint, &region).await;
        let header = MotoAccount(account.clone());
        Aws {
            ecr: moto_client!(aws_sdk_ecr, &sdk, header),
            sns: moto_client!(aws_sdk_sns, &sdk, header),
            sqs: moto_client!(aws_sdk_sqs, &sdk, header),
            dynamodb: moto_client!(aws_sdk_dynamodb, &sdk, header),
            events: moto_client!(aws_sdk_eventbridge, &sdk, header),
            account,
            region,
            moto,
        }
    }

    /// Member account number `k` of this one's Organization, in the same region (a fresh account).
    pub async fn member(&self, k: usize) -> Aws {
        let name = format!("{}-member-{k}", self.account);
        Aws::with(self.moto, &account_for(&name), &self.region).await
    }

    /// An Inspector client for this account.
    pub async fn inspector(&self) -> aws_sdk_inspector2::Client {
        let sdk = sdk_for(&self.moto.endpoint, &self.region).await;
        moto_client!(aws_sdk_inspector2, &sdk, MotoAccount(self.account.clone()))
    }

    /// An S3 client for this account (path-style addressing, which moto needs).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let sdk = sdk_for(&self.moto.endpoint, &self.region).await;
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .interceptor(MotoAccount(self.account.clone()))
                .build(),
        )
    }

    /// Creates a bucket in this region.
    pub async fn create_bucket(&self, name: &str) {
        let region = aws_sdk_s3::types::BucketLocationConstraint::from(self.region.as_str());
        let config = aws_sdk_s3::types::CreateBucketConfiguration::builder()
            .location_constraint(region)
            .build();
        (self.s3().await.create_bucket())
            .bucket(name)
            .create_bucket_configuration(config)
            .send()
            .await
            .expect("create the bucket");
    }

    /// An object's content type and body.
    pub async fn object(&self, bucket: &str, key: &str) -> (Option<String>, Vec<u8>) {
        let out = (self.s3().await.get_object().bucket(bucket).key(key))
            .send()
            .await
            .unwrap_or_else(|e| panic!("s3://{bucket}/{key}: {e:?}"));
        let content_type = out.content_type().map(str::to_string);
        (
            content_type,
            out.body.collect().await.expect("the body").to_vec(),
        )
    }

    /// Writes this account's OU path where its member stack does (the SSM parameter
    /// [`gatekeeper::adapters::OU_PATH_PARAMETER`] in this region).
    pub async fn write_ou_path(&self, path: &str) {
        let sdk = sdk_for(&self.moto.endpoint, &self.region).await;
        moto_client!(aws_sdk_ssm, &sdk, MotoAccount(self.account.clone()))
            .put_parameter()
            .name(gatekeeper::adapters::OU_PATH_PARAMETER)
            .value(path)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .expect("put the OU path parameter");
    }

    /// Creates a repository: `MUTABLE`, `IMMUTABLE`, or `IMMUTABLE_WITH_EXCLUSION` with wildcard filters.
    pub async fn create_repo(&self, name: &str, mutability: &str, exclusions: &[&str]) {
        let mut req = self
            .ecr
            .create_repository()
            .repository_name(name)
            .image_tag_mutability(ImageTagMutability::from(mutability));
        for f in exclusions {
            req = req.image_tag_mutability_exclusion_filters(
                ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(ImageTagMutabilityExclusionFilterType::Wildcard)
                    .filter(*f)
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.unwrap();
    }

    /// Pushes an image built from `seed` with `tags` (the first push carries the first tag) and returns its digest.
    pub async fn push(&self, repo: &str, seed: &str, tags: &[&str]) -> String {
        let manifest = image_manifest(seed);
        self.push_manifest(repo, &manifest, crate::manifest::DOCKER_V2, tags)
            .await
    }

    /// Pushes `n` images for a storm-like run: twenty per repository `{name}/svc-NN` (created
    /// here), image `i` tagged `build-i` and `v{version}.i`.
    pub async fn push_fleet(&self, name: &str, version: u32, n: usize) -> Vec<Pushed> {
        let mut images = Vec::new();
        for i in 0..n {
            let repo = format!("{name}/svc-{:02}", i / 20);
            if i % 20 == 0 {
                self.create_repo(&repo, "MUTABLE", &[]).await;
            }
            let tags = [format!("build-{i}"), format!("v{version}.{i}")];
            let digest = self
                .push(&repo, &format!("{name}-{i}"), &[&tags[0], &tags[1]])
                .await;
            images.push(Pushed { repo, digest, tags });
        }
        images
    }

    /// Pushes a manifest with tags; an empty list pushes it untagged.
    pub async fn push_manifest(
        &self,
        repo: &str,
        manifest: &str,
        media_type: &str,
        tags: &[&str],
    ) -> String {
        self.push_as(repo, manifest, media_type, &digest_of(manifest), tags)
            .await
    }

    /// Pushes a manifest under a given digest (moto takes the digest it is told; this is how images of
    /// the documentation's sample events, with their shortened digests, are made to exist).
    pub async fn push_as(
        &self,
        repo: &str,
        manifest: &str,
        media_type: &str,
        digest: &str,
        tags: &[&str],
    ) -> String {
        let digest = digest.to_string();
        // One PutImage per tag; an untagged push is one PutImage without a tag.
        let tags: Vec<Option<&str>> = if tags.is_empty() {
            vec![None]
        } else {
            tags.iter().copied().map(Some).collect()
        };
        for tag in tags {
            self.ecr
                .put_image()
                .repository_name(repo)
                .image_manifest(manifest)
                .image_manifest_media_type(media_type)
                .image_digest(&digest)
                .set_image_tag(tag.map(str::to_string))
                .send()
                .await
                .unwrap();
        }
        digest
    }

    /// The sorted tags of an image; empty when it has none, `None` when it does not exist.
    pub async fn tags(&self, repo: &str, digest: &str) -> Option<Vec<String>> {
        let out = self
            .ecr
            .describe_images()
            .repository_name(repo)
            .image_ids(by_digest(digest))
            .send()
            .await;
        match out {
            Ok(out) => out.image_details().first().map(sorted_tags),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_image_not_found_exception()) =>
            {
                None
            }
            Err(e) => panic!("DescribeImages: {e:?}"),
        }
    }

    /// Asserts that an image exists and carries exactly `expected` (in any order).
    pub async fn assert_tags(&self, repo: &str, digest: &str, expected: &[impl AsRef<str>]) {
        let mut want: Vec<String> = expected.iter().map(|t| t.as_ref().to_string()).collect();
        want.sort();
        assert_eq!(
            self.tags(repo, digest).await,
            Some(want),
            "the tags of {repo}@{digest}"
        );
    }

    /// Deletes an image (all its tags) as `BatchDeleteImage` by digest does.
    pub async fn delete_image(&self, repo: &str, digest: &str) {
        self.ecr
            .batch_delete_image()
            .repository_name(repo)
            .image_ids(by_digest(digest))
            .send()
            .await
            .unwrap();
    }

    /// Every image of a repository with its sorted tags.
    pub async fn images(&self, repo: &str) -> Vec<(String, Vec<String>)> {
        let out = self
            .ecr
            .describe_images()
            .repository_name(repo)
            .send()
            .await
            .unwrap();
        let mut v: Vec<(String, Vec<String>)> = out
            .image_details()
            .iter()
            .map(|d| {
                (
                    d.image_digest().unwrap_or_default().to_string(),
                    sorted_tags(d),
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Asserts that a repository holds exactly these images, each with exactly these tags (in any order).
    pub async fn assert_images(&self, repo: &str, expected: &[(&str, &[&str])]) {
        let mut want: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(digest, tags)| {
                let mut tags: Vec<String> = tags.iter().map(|t| t.to_string()).collect();
                tags.sort();
                (digest.to_string(), tags)
            })
            .collect();
        want.sort();
        assert_eq!(self.images(repo).await, want, "the images of {repo}");
    }

    /// The environment of a function run against this account (through `endpoint`: moto, or a proxy
    /// in front of it): credentials, region, the setup's topics, table and queue, then `extra`.
    pub fn function_env(
        &self,
        endpoint: &str,
        setup: &Setup,
        extra: &[(&'static str, &str)],
    ) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL", endpoint.to_string()),
            ("AWS_REGION", self.region.clone()),
            ("GATEKEEPER_ACCOUNT_ID", self.account.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("GATEKEEPER_TOPIC_ARN", setup.topic_arn.clone()),
            ("GATEKEEPER_CHAT_TOPIC_ARN", setup.chat_topic_arn.clone()),
            ("GATEKEEPER_STATE_TABLE", setup.table.clone()),
            ("GATEKEEPER_REJECTED_QUEUE_URL", setup.rejected_url.clone()),
        ];
        env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        env
    }

    /// The state table, a topic with a subscribed queue, and a rejected-events queue.
    pub async fn standard_setup(&self) -> Setup {
        let table = "gatekeeper-state".to_string();
        create_state_table(&self.dynamodb, &table).await;
        let topic_arn = self.create_topic("gatekeeper-verdicts").await;
        let subscriber_url = self
            .subscribe_queue(&topic_arn, "verdict-subscriber", None)
            .await;
        let rejected_url = self.create_queue("gatekeeper-rejected").await;
        let chat_topic_arn = self.create_topic("gatekeeper-chat").await;
        let chat_url = self
            .subscribe_queue(&chat_topic_arn, "chat-subscriber", None)
            .await;
        Setup {
            table,
            topic_arn,
            subscriber_url,
            rejected_url,
            chat_topic_arn,
            chat_url,
        }
    }

    /// A fresh account for the test called `name` with the [`Aws::standard_setup`] and one
    /// `MUTABLE` repository: where most tests start.
    pub async fn with_repo(name: &str, repo: &str) -> (Aws, Setup) {
        let aws = Aws::new(name).await;
        let setup = aws.standard_setup().await;
        aws.create_repo(repo, "MUTABLE", &[]).await;
        (aws, setup)
    }

    /// Creates an SQS queue and returns its URL.
    pub async fn create_queue(&self, name: &str) -> String {
        self.sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url()
            .unwrap()
            .to_string()
    }

    /// The ARN of this account's queue `name`.
    pub fn queue_arn(&self, name: &str) -> String {
        format!("arn:aws:sqs:{}:{}:{name}", self.region, self.account)
    }

    /// Creates the EventBridge rule `rule` with `pattern` on the default bus, targeting a new queue
    /// `queue` (moto cannot invoke Lambda: a queue stands in for the function), and returns its URL.
    pub async fn route_to_queue(&self, rule: &str, pattern: &str, queue: &str) -> String {
        self.events
            .put_rule()
            .name(rule)
            .event_pattern(pattern)
            .send()
            .await
            .unwrap();
        let url = self.create_queue(queue).await;
        self.events
            .put_targets()
            .rule(rule)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(self.queue_arn(queue))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        url
    }

    /// Creates an SNS topic and returns its ARN.
    pub async fn create_topic(&self, name: &str) -> String {
        self.sns
            .create_topic()
            .name(name)
            .send()
            .await
            .unwrap()
            .topic_arn()
            .unwrap()
            .to_string()
    }

    /// Creates a queue subscribed to `topic_arn`, optionally with a filter policy on attributes.
    pub async fn subscribe_queue(
        &self,
        topic_arn: &str,
        name: &str,
        filter_policy: Option<&str>,
    ) -> String {
        let url = self.create_queue(name).await;
        let mut req = self
            .sns
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(self.queue_arn(name));
        if let Some(p) = filter_policy {
            req = req.attributes("FilterPolicy", p);
        }
        req.send().await.unwrap();
        url
    }

    /// Drains a queue: every message body, parsed as JSON.
    pub async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .unwrap();
            if got.messages().is_empty() {
                return out;
            }
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap_or("null")).unwrap_or(Value::Null));
                self.sqs
                    .delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }

    /// Verdict messages from a subscriber queue: `(SNS envelope, parsed body)`.
    pub async fn messages(&self, queue_url: &str) -> Vec<(Value, Value)> {
        self.drain(queue_url)
            .await
            .into_iter()
            .map(|env| {
                let body: Value = serde_json::from_str(env["Message"].as_str().unwrap_or("null"))
                    .unwrap_or(Value::Null);
                (env, body)
            })
            .collect()
    }

    /// Every message since the last call on both topics, each checked against its schema: the JSON
    /// topic's (envelope, body) pairs and the Chatbot topic's bodies.
    pub async fn checked_messages(&self, setup: &Setup) -> (Vec<(Value, Value)>, Vec<Value>) {
        let json = self.messages(&setup.subscriber_url).await;
        for (_, body) in &json {
            assert_eq!(schema_errors(body), None, "{body}");
        }
        let chat: Vec<Value> = self
            .messages(&setup.chat_url)
            .await
            .into_iter()
            .map(|(_, b)| b)
            .collect();
        for body in &chat {
            assert_eq!(chatbot_errors(body), None, "{body}");
        }
        (json, chat)
    }

    /// [`Aws::checked_messages`], the message bodies only.
    pub async fn checked_bodies(&self, setup: &Setup) -> (Vec<Value>, Vec<Value>) {
        let (json, chat) = self.checked_messages(setup).await;
        (json.into_iter().map(|(_, b)| b).collect(), chat)
    }

    /// Turns on enhanced scanning (Inspector) for the repositories `filter` matches, with `frequency`.
    pub async fn enhanced_scanning(
        &self,
        filter: &str,
        frequency: ScanFrequency,
    ) -> Result<(), aws_sdk_ecr::Error> {
        let rule = RegistryScanningRule::builder()
            .scan_frequency(frequency)
            .repository_filters(
                ScanningRepositoryFilter::builder()
                    .filter(filter)
                    .filter_type(ScanningRepositoryFilterType::Wildcard)
                    .build()?,
            )
            .build()?;
        self.ecr
            .put_registry_scanning_configuration()
            .scan_type(ScanType::Enhanced)
            .rules(rule)
            .send()
            .await?;
        Ok(())
    }

    /// Queues one ListFindings result (moto hands it to the next distinct query).
    pub fn seed_inspector(&self, findings: Vec<Value>) {
        self.seed_static("inspector2/findings-results", json!(findings));
    }

    /// Queues one result of moto's static results API (`/moto-api/static/<what>`) for this
    /// account and region.
    fn seed_static(&self, what: &str, result: Value) {
        let body = json!({"results": [result], "account_id": self.account, "region": self.region});
        let path = format!("/moto-api/static/{what}");
        self.moto.post(&path, &body.to_string()).unwrap();
    }

    /// Pushes an image built from `seed` with `tags` whose basic scan finds `findings`, and returns
    /// its digest.
    pub async fn push_scanned(
        &self,
        repo: &str,
        seed: &str,
        tags: &[&str],
        findings: Vec<Value>,
    ) -> String {
        let digest = self.push(repo, seed, tags).await;
        self.seed_basic_scan(repo, &digest, findings).await;
        digest
    }

    /// Makes ECR basic scanning return these findings for an image (after StartImageScan).
    pub async fn seed_basic_scan(&self, repo: &str, digest: &str, findings: Vec<Value>) {
        self.seed_basic_scan_status(repo, digest, "COMPLETE", findings)
            .await;
    }

    /// Makes ECR basic scanning report `status` (COMPLETE, FAILED ...) and these findings for an image.
    pub async fn seed_basic_scan_status(
        &self,
        repo: &str,
        digest: &str,
        status: &str,
        findings: Vec<Value>,
    ) {
        // moto answers ScanNotFound until a scan was started; a second start the same day is refused, which is fine here.
        let start = self.ecr.start_image_scan().repository_name(repo);
        let _ = start.image_id(by_digest(digest)).send().await;
        let mut counts = serde_json::Map::new();
        for f in &findings {
            let s = f["severity"].as_str().unwrap_or("UNDEFINED").to_string();
            let n = counts.get(&s).and_then(Value::as_u64).unwrap_or(0) + 1;
            counts.insert(s, json!(n));
        }
        let response = json!({
            "registryId": self.account, "repositoryName": repo, "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": status, "description": format!("The scan ended: {status}.")},
            "imageScanFindings": {"findings": findings, "findingSeverityCounts": counts}
        });
        self.seed_static("ecr/scan-finding-results", response);
    }

    /// The gatekeeper for this account, with the policy and mode given, clock fixed at `now`.
    pub fn gatekeeper(&self, setup: &Setup, mode: Mode, policy: Policy) -> TestGatekeeper {
        self.gatekeeper_from(
            setup,
            mode,
            policy,
            (
                self.ecr.clone(),
                self.sns.clone(),
                self.dynamodb.clone(),
                self.sqs.clone(),
            ),
        )
    }

    /// An ECR client of this account with the clients of `sdk` (a fault proxy's).
    pub fn ecr_via(&self, sdk: &SdkConfig) -> aws_sdk_ecr::Client {
        moto_client!(aws_sdk_ecr, sdk, MotoAccount(self.account.clone()))
    }

    /// An image's manifest as ECR stores it (BatchGetImage), straight from moto.
    pub async fn manifest(&self, repo: &str, digest: &str) -> String {
        let out = (self.ecr.batch_get_image())
            .repository_name(repo)
            .image_ids(by_digest(digest))
            .send()
            .await
            .unwrap_or_else(|e| panic!("BatchGetImage {repo}@{digest}: {e:?}"));
        (out.images().first())
            .and_then(|i| i.image_manifest())
            .unwrap_or_else(|| panic!("no manifest for {repo}@{digest}"))
            .to_string()
    }

    /// The gatekeeper for this account with clients of another SDK configuration (a fault proxy's,
    /// with production-like retries).
    pub fn gatekeeper_via(
        &self,
        setup: &Setup,
        mode: Mode,
        policy: Policy,
        sdk: &SdkConfig,
    ) -> TestGatekeeper {
        let header = MotoAccount(self.account.clone());
        self.gatekeeper_from(
            setup,
            mode,
            policy,
            (
                moto_client!(aws_sdk_ecr, sdk, header),
                moto_client!(aws_sdk_sns, sdk, header),
                moto_client!(aws_sdk_dynamodb, sdk, header),
                moto_client!(aws_sdk_sqs, sdk, header),
            ),
        )
    }

    /// The enforcing gatekeeper of an Organization deployment as [`Aws::organization_gatekeeper`],
    /// every call (its own account's, STS, the members') through `sdk` (a fault proxy's).
    pub fn organization_gatekeeper_via(
        &self,
        setup: &Setup,
        policy: Policy,
        sdk: &SdkConfig,
    ) -> TestGatekeeper {
        let mut gk = self.gatekeeper_via(setup, Mode::Enforce, policy, sdk);
        let sts = moto_client!(aws_sdk_sts, sdk, MotoAccount(self.account.clone()));
        gk.registry = gk
            .registry
            .with_members(Members::new(sts, MEMBER_ROLE, sdk, 100.0));
        gk.members = Some(Vec::new());
        gk
    }

    /// The enforcing gatekeeper of an Organization deployment in this (security) account and region:
    /// it governs every member here, assuming the role `MEMBER_ROLE` through `sts_endpoint` (moto, or
    /// a fault proxy in front of it); moto gives each assumed role's session its account.
    pub async fn organization_gatekeeper(
        &self,
        setup: &Setup,
        policy: Policy,
        sts_endpoint: &str,
    ) -> TestGatekeeper {
        let mut gk = self.gatekeeper(setup, Mode::Enforce, policy);
        let caller = sdk_for(sts_endpoint, &self.region).await;
        let sts = moto_client!(aws_sdk_sts, &caller, MotoAccount(self.account.clone()));
        let members = sdk_for(&self.moto.endpoint, &self.region).await;
        gk.registry = Ecr::new(self.ecr.clone()).with_members(Members::new(
            sts,
            MEMBER_ROLE,
            &members,
            100.0,
        ));
        gk.members = Some(Vec::new());
        gk
    }

    fn gatekeeper_from(
        &self,
        setup: &Setup,
        mode: Mode,
        policy: Policy,
        (ecr, sns, dynamodb, sqs): (
            aws_sdk_ecr::Client,
            aws_sdk_sns::Client,
            aws_sdk_dynamodb::Client,
            aws_sdk_sqs::Client,
        ),
    ) -> TestGatekeeper {
        Gatekeeper {
            registry: Ecr::new(ecr),
            notifier: Sns::new(sns, setup.topic_arn.clone())
                .with_chat_topic(Some(setup.chat_topic_arn.clone())),
            state: DynamoState::new(dynamodb, setup.table.clone()),
            rejects: SqsRejects::new(sqs, setup.rejected_url.clone()),
            policy,
            mode,
            tags: TagScheme::default(),
            claim_lease: 300,
            home: Some(Place {
                account: self.account.clone(),
                region: self.region.clone(),
            }),
            members: None,
            ou_path: None,
            clock: gatekeeper::domain::time::now,
        }
    }
}

/// An image's tags as DescribeImages lists them, sorted.
fn sorted_tags(image: &aws_sdk_ecr::types::ImageDetail) -> Vec<String> {
    let mut t = image.image_tags().to_vec();
    t.sort();
    t
}

/// Creates the state table as infra does: on-demand, partition key `pk` (string), the sparse `due`
/// index (partition `due_shard`, sort `due_at`, keys only) the sweep queries, and the `history` index
/// (partition `history_day`, sort `history_at`, with `change`) the report reads.
pub async fn create_state_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let attribute = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .unwrap()
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .unwrap()
    };
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk", ScalarAttributeType::S))
        .attribute_definitions(attribute("due_shard", ScalarAttributeType::S))
        .attribute_definitions(attribute("due_at", ScalarAttributeType::N))
        .attribute_definitions(attribute("history_day", ScalarAttributeType::S))
        .attribute_definitions(attribute("history_at", ScalarAttributeType::N))
        .key_schema(key("pk", KeyType::Hash))
        .global_secondary_indexes(
            aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
                .index_name(gatekeeper::adapters::DUE_INDEX)
                .key_schema(key("due_shard", KeyType::Hash))
                .key_schema(key("due_at", KeyType::Range))
                .projection(
                    aws_sdk_dynamodb::types::Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .global_secondary_indexes(
            aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
                .index_name(gatekeeper::adapters::HISTORY_INDEX)
                .key_schema(key("history_day", KeyType::Hash))
                .key_schema(key("history_at", KeyType::Range))
                .projection(
                    aws_sdk_dynamodb::types::Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::Include)
                        .non_key_attributes("change")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

/// An Inspector finding in the ListFindings shape, with epoch-number timestamps (what the Rust
/// SDK's deserializer expects from moto).
pub fn inspector_finding(repo: &str, digest: &str, id: &str, severity: &str) -> Value {
    json!({
        "awsAccountId": "123456789012",
        "findingArn": format!("arn:aws:inspector2:eu-west-1:123456789012:finding/{}", digest_of(&format!("{digest}{id}")).trim_start_matches("sha256:")),
        "type": "PACKAGE_VULNERABILITY",
        "description": format!("{id} in a package"),
        "title": format!("{id} - openssl"),
        "severity": severity,
        "status": "ACTIVE",
        "firstObservedAt": 1_763_700_000.0,
        "lastObservedAt": 1_763_700_000.0,
        "updatedAt": 1_763_700_000.0,
        "fixAvailable": "YES",
        "exploitAvailable": "NO",
        "inspectorScore": 9.1,
        "packageVulnerabilityDetails": {
            "vulnerabilityId": id,
            "source": "NVD",
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.1", "fixedInVersion": "3.0.13", "packageManager": "OS"}]
        },
        "remediation": {"recommendation": {"text": "Upgrade"}},
        "resources": [{
            "type": "AWS_ECR_CONTAINER_IMAGE",
            "id": format!("arn:aws:ecr:eu-west-1:123456789012:repository/{repo}/{digest}"),
            "details": {"awsEcrContainerImage": {"repositoryName": repo, "imageHash": digest, "registry": "123456789012", "pushedAt": 1_763_600_000.0}}
        }]
    })
}

/// A basic-scan finding in the DescribeImageScanFindings shape.
pub fn basic_finding(id: &str, severity: &str, package: &str) -> Value {
    json!({"name": id, "severity": severity, "uri": format!("https://cve.mitre.org/{id}"), "attributes": [
        {"key": "package_name", "value": package}, {"key": "package_version", "value": "1.0"}
    ]})
}

/// An EventBridge envelope around `detail`, as moto delivers it (no `account`).
pub fn envelope(id: &str, source: &str, detail_type: &str, detail: Value) -> Value {
    json!({"version": "0", "id": id, "detail-type": detail_type, "source": source, "time": "2026-11-22T10:00:00Z", "region": "eu-west-1", "resources": [], "detail": detail})
}

/// An `ECR Image Action` push event.
pub fn push_event(id: &str, repo: &str, digest: &str, tag: &str) -> Value {
    envelope(
        id,
        "aws.ecr",
        "ECR Image Action",
        json!({
            "action-type": "PUSH", "result": "SUCCESS", "repository-name": repo, "image-digest": digest, "image-tag": tag,
            "manifest-media-type": crate::manifest::DOCKER_V2, "artifact-media-type": "application/vnd.docker.container.image.v1+json"
        }),
    )
}

/// An `Inspector2 Scan` event (repository as an ARN, as AWS sends it).
pub fn inspector_scan_event(
    id: &str,
    account: &str,
    repo: &str,
    digest: &str,
    tags: &[&str],
    critical: u32,
) -> Value {
    let arn = format!("arn:aws:ecr:eu-west-1:{account}:repository/{repo}");
    envelope(
        id,
        "aws.inspector2",
        "Inspector2 Scan",
        json!({
            "scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn, "image-digest": digest, "image-tags": tags,
            "finding-severity-counts": {"CRITICAL": critical, "HIGH": 0, "MEDIUM": 0, "TOTAL": critical}
        }),
    )
}

/// An `Inspector2 Finding` event for an ECR image: the finding `id` at `severity` became `status`
/// (ACTIVE, SUPPRESSED or CLOSED).
pub fn finding_event(
    id: &str,
    repo: &str,
    digest: &str,
    vulnerability: &str,
    severity: &str,
    status: &str,
) -> Value {
    let mut detail = inspector_finding(repo, digest, vulnerability, severity);
    detail["status"] = json!(status);
    envelope(id, "aws.inspector2", "Inspector2 Finding", detail)
}

/// The JSON string at `v`, for asserting on what a message says; a failed test when it is not one.
pub fn text(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a JSON string, got {v}"))
}

/// Delivers an Inspector scan-complete event that counts no findings, and returns the decision.
pub async fn clean_scan(
    gk: &TestGatekeeper,
    findings: &FakeFindings,
    id: &str,
    repo: &str,
    digest: &str,
) -> Option<Decision> {
    let e = inspector_scan_counts(id, repo, digest, &[]);
    gk.handle_scan_event(findings, &e).await.unwrap().decision
}

/// The `Inspector2 Finding` event announcing `finding` (its id, severity and status) on an image.
pub fn finding_event_of(id: &str, repo: &str, digest: &str, finding: &Finding) -> Value {
    let status = match finding.status {
        FindingStatus::Active => "ACTIVE",
        FindingStatus::Suppressed => "SUPPRESSED",
        FindingStatus::Closed => "CLOSED",
    };
    finding_event(
        id,
        repo,
        digest,
        &finding.id,
        finding.severity.as_str(),
        status,
    )
}

/// Scripts a change to one finding of an image: `findings` reports just `finding` for it from now
/// on, and the `Inspector2 Finding` event returned announces the change.
pub fn finding_change(
    findings: &FakeFindings,
    id: &str,
    repo: &str,
    digest: &str,
    finding: Finding,
) -> Value {
    let event = finding_event_of(id, repo, digest, &finding);
    findings.set(digest, vec![finding]);
    event
}

/// An `Inspector2 Coverage` event for an ECR image (`statusCodeValue`, `reason`).
pub fn coverage_event(id: &str, repo: &str, digest: &str, code: &str, reason: &str) -> Value {
    let mut e = envelope(
        id,
        "aws.inspector2",
        "Inspector2 Coverage",
        json!({"scanStatus": {"reason": reason, "statusCodeValue": code}, "scanType": "PACKAGE", "eventTimestamp": "2026-11-22T04:00:09.118204Z", "version": "1.0"}),
    );
    e["resources"] = json!([format!(
        "arn:aws:ecr:eu-west-1:123456789012:repository/{repo}/{digest}"
    )]);
    e
}

/// An `ECR Image Action` event other than a push: `DELETE`, or `UPDATE_STORAGE_CLASS` to `class`.
pub fn image_action_event(
    id: &str,
    repo: &str,
    digest: &str,
    action: &str,
    class: Option<&str>,
) -> Value {
    let mut detail = json!({"action-type": action, "result": "SUCCESS", "repository-name": repo, "image-digest": digest});
    if let Some(c) = class {
        detail["target-storage-class"] = json!(c);
    }
    envelope(id, "aws.ecr", "ECR Image Action", detail)
}

/// A push event of an OCI image index.
pub fn index_push_event(id: &str, repo: &str, digest: &str, tag: &str) -> Value {
    let mut event = push_event(id, repo, digest, tag);
    let detail = &mut event["detail"];
    detail["manifest-media-type"] = json!(crate::manifest::OCI_INDEX);
    // An index has no config, so no artifact media type.
    if let Some(d) = detail.as_object_mut() {
        d.remove("artifact-media-type");
    }
    event
}

/// An `Inspector2 Scan` event with its severity counts (`TOTAL` is their sum).
pub fn inspector_scan_counts(id: &str, repo: &str, digest: &str, counts: &[(&str, u32)]) -> Value {
    let mut c = serde_json::Map::new();
    let mut total = 0;
    for (s, n) in counts {
        c.insert((*s).to_string(), json!(n));
        total += n;
    }
    c.insert("TOTAL".into(), json!(total));
    envelope(
        id,
        "aws.inspector2",
        "Inspector2 Scan",
        json!({
            "scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": format!("arn:aws:ecr:eu-west-1:123456789012:repository/{repo}"),
            "image-digest": digest, "image-tags": [], "finding-severity-counts": c
        }),
    )
}

/// An `ECR Image Scan` (basic) event.
pub fn basic_scan_event(id: &str, repo: &str, digest: &str, tags: &[&str]) -> Value {
    envelope(
        id,
        "aws.ecr",
        "ECR Image Scan",
        json!({
            "scan-status": "COMPLETE", "repository-name": repo, "image-digest": digest, "image-tags": tags, "finding-severity-counts": {}
        }),
    )
}

/// The ECR audit trail in a JSON log (a function's or the CLI's standard error): one line per tag
/// action (`fields.action`: `add_tag`, `remove_tag`) and one with the tags after (`tags`).
pub fn audit_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["audit"] == "ecr")
        .collect()
}

/// Validates a message body against `docs/message.schema.json` with Python's jsonschema (in the
/// tools venv); returns the validator's complaint, if any.
pub fn schema_errors(body: &Value) -> Option<String> {
    errors_against("docs/message.schema.json", body)
}

/// Validates a Chatbot topic message against `docs/chatbot.schema.json`.
pub fn chatbot_errors(body: &Value) -> Option<String> {
    errors_against("docs/chatbot.schema.json", body)
}

fn errors_against(schema: &str, body: &Value) -> Option<String> {
    let schema = crate::moto::workspace_root().join(schema);
    let script = "import json,sys,jsonschema\nschema=json.load(open(sys.argv[1]))\njsonschema.Draft202012Validator.check_schema(schema)\nerrs=[e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(json.load(sys.stdin))]\nprint('\\n'.join(errs))\nsys.exit(1 if errs else 0)";
    let mut child = std::process::Command::new(crate::moto::python())
        .args(["-c", script])
        .arg(schema)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python from the tools venv");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin
            .write_all(body.to_string().as_bytes())
            .expect("write body");
    }
    let out = child.wait_with_output().expect("python ran");
    if out.status.success() {
        None
    } else {
        Some(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Implements `ImageRegistry` methods that the wrapper leaves to its `inner` registry unchanged.
macro_rules! forward_to_inner {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        $(
            async fn $name(&self, $($arg: $ty),*) -> Result<$out, AwsError> {
                self.inner.$name($($arg),*).await
            }
        )*
    };
}

/// ECR as moto plays it, but with the `imageScanStatus` that DescribeImages reports for every image
/// (moto reports none): how an image looks once Inspector stopped monitoring it.
pub struct WithScanStatus {
    /// moto's ECR.
    pub inner: Ecr,
    /// The status to report (`None`: moto's answer, which has none).
    pub status: std::sync::Mutex<Option<&'static str>>,
}

impl WithScanStatus {
    /// moto's ECR of this account, reporting no status until told.
    pub fn new(aws: &Aws) -> WithScanStatus {
        WithScanStatus {
            inner: Ecr::new(aws.ecr.clone()),
            status: std::sync::Mutex::new(None),
        }
    }

    /// Reports `status` for every image from now on (`None`: moto's answer again).
    pub fn report(&self, status: Option<&'static str>) {
        *self.status.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    fn status(&self) -> Option<ScanState> {
        (*self.status.lock().unwrap_or_else(|p| p.into_inner())).map(ScanState::from_ecr_status)
    }
}

impl gatekeeper::ports::Reach for WithScanStatus {
    /// A member's registry, reporting the same status.
    async fn at(&self, place: &gatekeeper::domain::Place) -> Result<WithScanStatus, AwsError> {
        let status = *self.status.lock().unwrap_or_else(|p| p.into_inner());
        Ok(WithScanStatus {
            inner: self.inner.at(place).await?,
            status: std::sync::Mutex::new(status),
        })
    }

    async fn ou_path(&self, place: &gatekeeper::domain::Place) -> Result<Option<String>, AwsError> {
        self.inner.ou_path(place).await
    }
}

impl gatekeeper::ports::ImageRegistry for WithScanStatus {
    async fn describe_image(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<ImageDetail>, AwsError> {
        let status = self.status();
        Ok(self
            .inner
            .describe_image(repository, digest)
            .await?
            .map(|mut d| {
                if let Some(s) = status {
                    d.scan = s;
                }
                d
            }))
    }
    forward_to_inner! {
        resolve_tag(repository: &str, tag: &str) -> Option<String>;
        manifest(repository: &str, digest: &str) -> Option<Manifest>;
        put_tag(repository: &str, digest: &str, manifest: &Manifest, tag: &str) -> PutTag;
        remove_tags(repository: &str, tags: &[String]) -> Removal;
        scan_coverage(repository: &str) -> ScanCoverage;
        start_scan(repository: &str, digest: &str) -> StartScan;
        repository_notes(repository: &str) -> Vec<String>;
        repositories() -> Vec<String>;
        recent_indexes(repository: &str, since: i64) -> Vec<(String, String)>;
        basic_findings(repository: &str, digest: &str) -> Option<BasicScan>;
        set_archived(repository: &str, digest: &str, archive: bool) -> Option<gatekeeper::ports::Storage>;
        archive_expiry(repository: &str) -> Vec<String>;
    }
    async fn images(&self, repository: &str) -> Result<Vec<ImageDetail>, AwsError> {
        let status = self.status();
        let mut all = self.inner.images(repository).await?;
        if let Some(s) = status {
            for d in &mut all {
                d.scan = s.clone();
            }
        }
        Ok(all)
    }
}

/// An image pushed by [`Aws::push_fleet`].
#[derive(Debug, Clone)]
pub struct Pushed {
    /// Its repository.
    pub repo: String,
    /// Its digest.
    pub digest: String,
    /// Its two tags, as pushed.
    pub tags: [String; 2],
}

/// ECR's identifier of an image by its digest alone.
fn by_digest(digest: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_digest(digest).build()
}
