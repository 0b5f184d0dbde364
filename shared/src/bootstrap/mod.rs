//! How the gatekeeper is built, the one way the functions and the CLI share: configuration read
//! once, the SDK configuration and clients built once, the policy loaded and checked, the adapters
//! wired; and the time budget of an invocation. With the `lambda` feature (the functions' only),
//! [`lambda`] runs a function's handler on the Lambda runtime.

pub mod config;
#[cfg(feature = "lambda")]
pub mod lambda;
mod policy_source;

use std::time::Duration;

use aws_config::SdkConfig;

use crate::adapters::{
    DynamoState, Ecr, Inspector, Members, Pace, Sns, SqsRejects, client, sdk_config,
};
use crate::domain::Place;
use crate::domain::policy::Policy;
use crate::error::{ConfigError, Error, GatekeeperError};
use crate::service::Gatekeeper;
use config::{Config, Deployment, Pacing, check_verified_prefixes};

pub use policy_source::load_policy;

/// The gatekeeper wired to AWS.
pub type AwsGatekeeper = Gatekeeper<(Ecr, Sns, DynamoState, SqsRejects)>;

/// The adapters built on one SDK configuration. Each call builds its SDK client: a function calls
/// each once at cold start, the CLI once per command.
#[derive(Debug, Clone, Copy)]
pub struct Adapters<'a> {
    sdk: &'a SdkConfig,
    pacing: Pacing,
    home: Option<&'a Place>,
    organization: bool,
}

impl<'a> Adapters<'a> {
    /// The adapters on `sdk` (see [`crate::adapters::sdk_config`]), at the default pace.
    pub fn new(sdk: &'a SdkConfig) -> Adapters<'a> {
        Adapters {
            sdk,
            pacing: Pacing::default(),
            home: None,
            organization: false,
        }
    }

    /// The same, for a deployment that governs its Organization's members (Inspector's queries
    /// across images then span every account).
    pub fn organization(self, organization: bool) -> Adapters<'a> {
        Adapters {
            organization,
            ..self
        }
    }

    /// The same, for the deployment whose own account and region are `home`: Inspector reads only
    /// that account's findings.
    pub fn at(self, home: Option<&'a Place>) -> Adapters<'a> {
        Adapters { home, ..self }
    }

    /// The same, pacing PutImage and Inspector calls as `pacing` says.
    pub fn paced(self, pacing: Pacing) -> Adapters<'a> {
        Adapters { pacing, ..self }
    }

    /// ECR: images, tags and basic scans.
    pub fn registry(&self) -> Ecr {
        Ecr::new(client!(aws_sdk_ecr, self.sdk)).paced(Pace::per_second(self.pacing.put_image))
    }

    /// Inspector: findings and coverage.
    pub fn findings(&self) -> Inspector {
        Inspector::new(client!(aws_sdk_inspector2, self.sdk))
            .paced(Pace::per_second(self.pacing.inspector))
            .for_account(self.home.map(|h| h.account.clone()))
            .across_members(self.organization)
    }

    /// The member registries, reached by assuming the role named `role` in each member.
    pub fn members(&self, role: &str) -> Members {
        Members::new(
            client!(aws_sdk_sts, self.sdk),
            role,
            self.sdk,
            self.pacing.put_image,
        )
    }

    /// The state table named `table`.
    pub fn state(&self, table: &str) -> DynamoState {
        DynamoState::new(client!(aws_sdk_dynamodb, self.sdk), table)
    }

    /// The gatekeeper wired to the deployment's registry, topics, state table and rejected-events
    /// queue, acting by `policy`.
    pub fn gatekeeper(&self, deployment: &Deployment, policy: Policy) -> AwsGatekeeper {
        let mut registry = self.registry();
        if let Some(role) = &deployment.member_role {
            registry = registry.with_members(self.members(role));
        }
        Gatekeeper {
            registry,
            notifier: Sns::on(self.sdk, deployment.topic_arn.clone())
                .with_chat_topic(deployment.chat_topic_arn.clone()),
            state: self
                .state(&deployment.state_table)
                .keeping_history(deployment.history_days),
            rejects: SqsRejects::on(self.sdk, deployment.rejected_queue_url.clone()),
            policy,
            mode: deployment.mode,
            tags: deployment.tags.clone(),
            claim_lease: deployment.claim_lease,
            home: deployment.home.clone(),
            members: (deployment.member_role.as_ref())
                .map(|_| deployment.governed_accounts.clone()),
            ou_path: deployment.ou_path.clone(),
            clock: crate::domain::time::now,
        }
    }
}

/// What a function builds once at cold start.
#[derive(Debug)]
pub struct ColdStart {
    /// The configuration read from the environment.
    pub config: Config,
    /// The SDK configuration, for the function's other adapters ([`ColdStart::adapters`]).
    pub sdk: SdkConfig,
    /// The gatekeeper and its clients.
    pub gatekeeper: AwsGatekeeper,
}

impl ColdStart {
    /// Everything a function does once at cold start: configuration, SDK configuration, policy
    /// (loaded, and its verified prefixes checked against the deployment's), the gatekeeper's
    /// clients. An invalid configuration or policy is an error: the function does not start.
    pub async fn from_env() -> Result<ColdStart, ConfigError> {
        let config = Config::from_env()?;
        let sdk = sdk_config().await;
        let policy = load_policy(&config.policy, &sdk).await?;
        check_verified_prefixes(&policy, &config.deployment.tags)?;
        Ok(ColdStart {
            gatekeeper: Adapters::new(&sdk)
                .paced(config.pacing)
                .gatekeeper(&config.deployment, policy),
            sdk,
            config,
        })
    }

    /// Adapters on the function's SDK configuration, for the ports it needs beside the gatekeeper's.
    pub fn adapters(&self) -> Adapters<'_> {
        let deployment = &self.config.deployment;
        (Adapters::new(&self.sdk).paced(self.config.pacing))
            .at(deployment.home.as_ref())
            .organization(deployment.member_role.is_some())
    }
}

/// The margin [`within_budget`] keeps for reporting the error before Lambda's own timeout.
pub const BUDGET_MARGIN: Duration = Duration::from_secs(2);

/// What a batch keeps for the image it is working on when it stops beginning new ones: a paced
/// evaluation's calls, each at most 20 s with its retries.
pub const BATCH_RESERVE: Duration = Duration::from_secs(30);

/// When a batch stops beginning new images (see [`crate::service::Gatekeeper::handle_scan_batch`]):
/// [`BATCH_RESERVE`] and the [`BUDGET_MARGIN`] before the invocation's deadline (`deadline_ms`,
/// milliseconds since the epoch).
pub fn batch_until(deadline_ms: u64) -> std::time::Instant {
    stop_before(deadline_ms, BATCH_RESERVE)
}

/// When work that still needs `reserve` to finish stops beginning new parts: `reserve` and the
/// [`BUDGET_MARGIN`] before the invocation's deadline (`deadline_ms`, milliseconds since the epoch).
pub fn stop_before(deadline_ms: u64, reserve: Duration) -> std::time::Instant {
    std::time::Instant::now() + time_left(deadline_ms).saturating_sub(BUDGET_MARGIN + reserve)
}

/// The time left until `deadline_ms` (milliseconds since the epoch).
pub fn time_left(deadline_ms: u64) -> Duration {
    Duration::from_millis(deadline_ms.saturating_sub(epoch_ms()))
}

/// Milliseconds since the epoch now.
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs one invocation's work until `deadline_ms` (the Lambda context's deadline, milliseconds since
/// the epoch) less `margin`: work still running then is dropped and answered with
/// [`GatekeeperError::BudgetExhausted`] (retryable), so Lambda's asynchronous retries take over with
/// a reason in the log instead of a bare timeout. Every step of the work is safe to cut short: the
/// next delivery completes it.
pub async fn within_budget<T>(
    deadline_ms: u64,
    margin: Duration,
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let left = Duration::from_millis(deadline_ms.saturating_sub(epoch_ms())).saturating_sub(margin);
    match tokio::time::timeout(left, work).await {
        Ok(result) => result,
        Err(_) => Err(GatekeeperError::BudgetExhausted {
            margin_ms: margin.as_millis(),
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AwsError;

    fn now_ms() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0))
    }

    #[test]
    fn the_gatekeeper_acts_as_the_deployment_says() {
        let sdk = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let tags = crate::domain::tags::TagScheme::new("q-", "h-", "v-").unwrap();
        let deployment = Deployment {
            mode: crate::domain::Mode::Enforce,
            topic_arn: "arn:aws:sns:eu-west-1:1:t".into(),
            chat_topic_arn: None,
            state_table: "gk".into(),
            rejected_queue_url: "http://q".into(),
            tags: tags.clone(),
            claim_lease: 42,
            home: None,
            member_role: None,
            governed_accounts: Vec::new(),
            ou_path: None,
            history_days: 30,
        };
        let policy = Policy::builtin();
        let hash = policy.hash().to_string();
        let gk = Adapters::new(&sdk).gatekeeper(&deployment, policy);
        assert_eq!(gk.mode, crate::domain::Mode::Enforce);
        assert_eq!(gk.tags, tags);
        assert_eq!(gk.claim_lease, 42);
        assert_eq!(gk.policy.hash(), hash);
    }

    #[tokio::test]
    async fn work_past_the_budget_ends_as_a_retryable_error() {
        let slow = async {
            std::future::pending::<()>().await;
            Ok::<_, Error>(1)
        };
        let e = within_budget(now_ms() + 300, Duration::from_millis(100), slow)
            .await
            .unwrap_err();
        assert_eq!(
            e,
            Error::Gatekeeper(GatekeeperError::BudgetExhausted { margin_ms: 100 })
        );
        assert!(e.is_retryable(), "{e}");
        assert_eq!(e.error_type(), "Retryable.lambda.Invoke");
    }

    #[tokio::test]
    async fn work_within_the_budget_keeps_its_result() {
        let quick = async { Ok::<_, Error>(7) };
        assert_eq!(
            within_budget(now_ms() + 10_000, BUDGET_MARGIN, quick).await,
            Ok(7)
        );
        let failing = async { Err::<u8, _>(AwsError::invalid("ecr:PutImage", "bad").into()) };
        let e = within_budget(now_ms() + 10_000, BUDGET_MARGIN, failing)
            .await
            .unwrap_err();
        assert!(!e.is_retryable());
        assert_eq!(e.error_type(), "Failed.ecr.PutImage");
    }
}
