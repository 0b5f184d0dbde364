//! The CLI's AWS side: the same adapters as the Lambdas, built from the environment and flags.

use gatekeeper::adapters::{
    AwsGatekeeper, DynamoState, Ecr, Inspector, Sns, SqsRejects, load_policy,
};
use gatekeeper::config::{self, PolicySource};
use gatekeeper::domain::Mode;
use gatekeeper::policy::Policy;
use gatekeeper::service::Gatekeeper;
use gatekeeper::tags::TagScheme;

use crate::Fail;
use crate::args::Args;

/// Flags every AWS command accepts besides its own.
pub const COMMON: [crate::args::Flag; 4] = [
    crate::args::opt("policy"),
    crate::args::opt("table"),
    crate::args::opt("topic"),
    crate::args::opt("mode"),
];

/// SDK configuration from the environment (credentials chain, AWS_REGION, AWS_ENDPOINT_URL).
pub async fn sdk() -> aws_config::SdkConfig {
    gatekeeper::adapters::sdk_config().await
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The policy: `--policy FILE`, else GATEKEEPER_POLICY (file, s3:// or ssm:), else the built-in one.
pub async fn policy(args: &Args, sdk: &aws_config::SdkConfig) -> Result<Policy, Fail> {
    let source = match args
        .get("policy")
        .map(str::to_string)
        .or_else(|| env(config::POLICY))
    {
        None => PolicySource::Builtin,
        Some(v) => PolicySource::parse(&v).map_err(|e| Fail::error(format!("policy {v}: {e}")))?,
    };
    Ok(load_policy(&source, sdk).await?)
}

/// The reserved tag prefixes, from the same variables as the functions.
pub fn tag_scheme() -> Result<TagScheme, Fail> {
    let get = |k: &str, d: &str| env(k).unwrap_or_else(|| d.to_string());
    TagScheme::new(
        &get(config::QUARANTINE_PREFIX, "quarantined-"),
        &get(config::HELD_PREFIX, "held-"),
        &get(config::VERIFIED_PREFIX, "verified-"),
    )
    .map_err(|e| Fail::error(e.to_string()))
}

/// ECR.
pub fn ecr(sdk: &aws_config::SdkConfig) -> Ecr {
    Ecr::new(aws_sdk_ecr::Client::new(sdk))
}

/// Inspector.
pub fn inspector(sdk: &aws_config::SdkConfig) -> Inspector {
    Inspector::new(aws_sdk_inspector2::Client::new(sdk))
}

/// The deployment's state table and topic, for commands that change state or notify.
pub fn gatekeeper(
    args: &Args,
    sdk: &aws_config::SdkConfig,
    policy: Policy,
) -> Result<AwsGatekeeper, Fail> {
    let table = args
        .get("table")
        .map(str::to_string)
        .or_else(|| env(config::STATE_TABLE))
        .ok_or_else(|| Fail::error("--table (or GATEKEEPER_STATE_TABLE) is required"))?;
    let topic = args
        .get("topic")
        .map(str::to_string)
        .or_else(|| env(config::TOPIC_ARN))
        .ok_or_else(|| Fail::error("--topic (or GATEKEEPER_TOPIC_ARN) is required"))?;
    let mode = match args
        .get("mode")
        .map(str::to_string)
        .or_else(|| env(config::MODE))
    {
        None => Mode::Audit,
        Some(m) => Mode::parse(&m)
            .ok_or_else(|| Fail::error(format!("--mode {m:?}: expected audit or enforce")))?,
    };
    Ok(Gatekeeper {
        registry: ecr(sdk),
        notifier: Sns::new(aws_sdk_sns::Client::new(sdk), topic)
            .with_chat_topic(env(config::CHAT_TOPIC_ARN)),
        state: DynamoState::new(aws_sdk_dynamodb::Client::new(sdk), table),
        // The CLI parses no events, so nothing is ever rejected to the queue; the adapter only fills the slot.
        rejects: SqsRejects::new(
            aws_sdk_sqs::Client::new(sdk),
            env(config::REJECTED_QUEUE_URL).unwrap_or_default(),
        ),
        policy,
        mode,
        tags: tag_scheme()?,
        claim_lease: 300,
        clock: gatekeeper::time::now,
    })
}

/// The caller's identity (STS GetCallerIdentity), named in audit notifications.
pub async fn caller(sdk: &aws_config::SdkConfig) -> Result<String, Fail> {
    let out = aws_sdk_sts::Client::new(sdk)
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| {
            Fail::error(format!(
                "sts:GetCallerIdentity failed: {}",
                gatekeeper::adapters::describe_error(&e)
            ))
        })?;
    Ok(out.arn().unwrap_or("unknown caller").to_string())
}

/// A single-threaded runtime for one command.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, Fail> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Fail::error(format!("tokio runtime: {e}")))?;
    Ok(rt.block_on(future))
}
