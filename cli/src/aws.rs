//! The CLI's AWS side: the deployment named by flags and the environment, and the ports built from
//! it by `gatekeeper::bootstrap`, the same construction as the Lambdas'.

use gatekeeper::adapters::{Ecr, Inspector};
use gatekeeper::bootstrap::Adapters;
use gatekeeper::bootstrap::config::{self, Deployment, PolicySource};
use gatekeeper::bootstrap::{AwsGatekeeper, load_policy};
use gatekeeper::domain::policy::Policy;
use gatekeeper::domain::tags::TagScheme;
use gatekeeper::domain::{Mode, Place};
use gatekeeper::ports::FindingsSource;

use crate::Fail;
use crate::cli::{DeploymentArgs, ModeArg, PlaceArgs, PolicyArg, StateArgs};

/// SDK configuration from the environment (credentials chain, AWS_REGION, AWS_ENDPOINT_URL).
pub async fn sdk() -> aws_config::SdkConfig {
    gatekeeper::adapters::sdk_config().await
}

/// [`sdk`] in `region` (`--region`) instead of AWS_REGION's, when given.
pub async fn sdk_in(region: Option<&str>) -> aws_config::SdkConfig {
    let sdk = sdk().await;
    match region {
        Some(r) => (sdk.into_builder())
            .region(aws_config::Region::new(r.to_string()))
            .build(),
        None => sdk,
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A flag's value, else its variable's (clap reads the variable where a command declares the flag;
/// this also covers a command that does not, as `breaker` does not declare `--mode`).
fn flag_or_env(flag: Option<&String>, var: &str) -> Option<String> {
    flag.cloned().or_else(|| env(var))
}

/// The policy: `--policy SOURCE`, else GATEKEEPER_POLICY (file, s3:// or ssm:), else the built-in one.
pub async fn policy(arg: &PolicyArg, sdk: &aws_config::SdkConfig) -> Result<Policy, Fail> {
    let source = match flag_or_env(arg.policy.as_ref(), config::POLICY) {
        None => PolicySource::Builtin,
        Some(v) => PolicySource::parse(&v).map_err(|e| Fail::error(format!("policy {v}: {e}")))?,
    };
    Ok(load_policy(&source, sdk).await?)
}

/// The gatekeeper of a deployment: its policy loaded, its table, topic and mode from flags or the
/// environment.
pub async fn deployment(
    args: &DeploymentArgs,
    sdk: &aws_config::SdkConfig,
) -> Result<AwsGatekeeper, Fail> {
    let policy = policy(&args.policy, sdk).await?;
    let role = member_role(&args.place)?;
    gatekeeper(&args.state, Some(&args.mode), sdk, policy, role)
}

/// The SDK configuration in the region `--region` names, the deployment's gatekeeper there, and
/// the places `--account` names ([`places`]).
pub async fn deployment_at(
    args: &DeploymentArgs,
) -> Result<(aws_config::SdkConfig, AwsGatekeeper, Vec<Option<Place>>), Fail> {
    let sdk = sdk_in(args.place.region.as_deref()).await;
    let gk = deployment(args, &sdk).await?;
    let places = places(gk.home.as_ref(), gk.members.is_some(), &args.place, &sdk).await?;
    Ok((sdk, gk, places))
}

/// `--member-role` (or GATEKEEPER_MEMBER_ROLE), checked as an IAM role name.
pub fn member_role(args: &PlaceArgs) -> Result<Option<String>, Fail> {
    let iam = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    match &args.member_role {
        Some(r) if r.len() > 64 || !r.chars().all(iam) => Err(Fail::error(format!(
            "--member-role {r:?}: expected an IAM role name (letters, digits and +=,.@_-, at most 64)"
        ))),
        role => Ok(role.clone()),
    }
}

/// Where a command works (`--account`): `None` for the CLI's own account (`home`,
/// GATEKEEPER_ACCOUNT_ID, also when no account is named), a member's place in the CLI's region for
/// each other account, which the member role (`--member-role`, `has_role`) reaches; `--account all`:
/// the own account and every member the deployment governs ([`every_account`]).
pub async fn places(
    home: Option<&Place>,
    has_role: bool,
    args: &PlaceArgs,
    sdk: &aws_config::SdkConfig,
) -> Result<Vec<Option<Place>>, Fail> {
    if args.accounts.is_empty() {
        return Ok(vec![None]);
    }
    let Some(home) = home else {
        return Err(Fail::error(format!(
            "--account needs {} and a region: the account the CLI runs in, told apart from the members",
            config::ACCOUNT_ID
        )));
    };
    let accounts = match args.accounts.as_slice() {
        [all] if all.trim() == "all" && has_role => every_account(home, sdk).await?,
        [all] if all.trim() == "all" => {
            return Err(Fail::error(
                "--account all: give --member-role (or GATEKEEPER_MEMBER_ROLE)",
            ));
        }
        named => named.to_vec(),
    };
    let mut places: Vec<Option<Place>> = Vec::new();
    for account in &accounts {
        let account = account.trim();
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Fail::error(format!(
                "--account {account:?}: expected 12-digit account ids, comma-separated"
            )));
        }
        let place = (account != home.account).then(|| Place {
            account: account.to_string(),
            region: home.region.clone(),
        });
        if place.is_some() && !has_role {
            return Err(Fail::error(format!(
                "--account {account} is a member account: give --member-role (or GATEKEEPER_MEMBER_ROLE)"
            )));
        }
        if !places.contains(&place) {
            places.push(place);
        }
    }
    Ok(places)
}

/// `--account all`: the CLI's own account, then the members GATEKEEPER_GOVERNED_ACCOUNTS names or,
/// when it names none, every member Inspector scans for this administrator (ListMembers), as the
/// deployment's sweep and cost digest take them.
async fn every_account(home: &Place, sdk: &aws_config::SdkConfig) -> Result<Vec<String>, Fail> {
    let mut accounts = vec![home.account.clone()];
    match env(config::GOVERNED_ACCOUNTS) {
        Some(listed) => accounts.extend(
            (listed.split(',').map(str::trim))
                .filter(|a| !a.is_empty())
                .map(str::to_string),
        ),
        None => {
            let inspector = Adapters::new(sdk)
                .at(Some(home))
                .organization(true)
                .findings();
            accounts.extend(inspector.members().await?);
        }
    }
    Ok(accounts)
}

/// The reserved tag prefixes, from the same variables as the functions.
pub fn tag_scheme() -> Result<TagScheme, Fail> {
    Ok(config::tags_from_lookup(env)?)
}

/// ECR.
pub fn ecr(sdk: &aws_config::SdkConfig) -> Ecr {
    Adapters::new(sdk).registry()
}

/// Inspector (the findings of the deployment's own account only, when GATEKEEPER_ACCOUNT_ID names
/// it: a delegated administrator's ListFindings answers for every member).
pub fn inspector(sdk: &aws_config::SdkConfig) -> Result<Inspector, Fail> {
    let home = home(sdk)?;
    Ok(Adapters::new(sdk).at(home.as_ref()).findings())
}

/// The deployment's own account (GATEKEEPER_ACCOUNT_ID, as the functions read it) and the region the
/// CLI runs in: rules scoped by account and region apply to its images as they do in the functions.
pub fn home(sdk: &aws_config::SdkConfig) -> Result<Option<Place>, Fail> {
    let Some(account) = env(config::ACCOUNT_ID) else {
        return Ok(None);
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        let why = format!(
            "{}={account:?}: expected a 12-digit account id",
            config::ACCOUNT_ID
        );
        return Err(Fail::error(why));
    }
    Ok(sdk.region().map(|r| Place {
        account,
        region: r.to_string(),
    }))
}

/// The OU path of the account the CLI runs in (GATEKEEPER_OU_PATH), for rules scoped by OU.
pub fn ou_path() -> Result<Option<String>, Fail> {
    match env(config::OU_PATH) {
        Some(path) if !gatekeeper::domain::policy::is_ou_path(&path) => Err(Fail::error(format!(
            "{}={path:?}: expected an OU path from the root (r-ab12/ou-ab12-11111111/...)",
            config::OU_PATH
        ))),
        path => Ok(path),
    }
}

/// The deployment's state table and topic, for commands that change state or notify; the mode
/// from `--mode` where the command has it, else GATEKEEPER_MODE, else audit; acting in member
/// accounts through `member_role` when given.
pub fn gatekeeper(
    state: &StateArgs,
    mode: Option<&ModeArg>,
    sdk: &aws_config::SdkConfig,
    policy: Policy,
    member_role: Option<String>,
) -> Result<AwsGatekeeper, Fail> {
    let table = flag_or_env(state.table.as_ref(), config::STATE_TABLE)
        .ok_or_else(|| Fail::error("--table (or GATEKEEPER_STATE_TABLE) is required"))?;
    let topic = flag_or_env(state.topic.as_ref(), config::TOPIC_ARN)
        .ok_or_else(|| Fail::error("--topic (or GATEKEEPER_TOPIC_ARN) is required"))?;
    let mode = match (mode.and_then(|m| m.mode), env(config::MODE)) {
        (Some(m), _) => m,
        (None, None) => Mode::Audit,
        (None, Some(m)) => Mode::parse(&m)
            .ok_or_else(|| Fail::error(format!("--mode {m:?}: expected audit or enforce")))?,
    };
    let deployment = Deployment {
        mode,
        topic_arn: topic,
        chat_topic_arn: env(config::CHAT_TOPIC_ARN),
        state_table: table,
        // The CLI parses no events, so nothing is ever rejected to the queue; the adapter only fills the slot.
        rejected_queue_url: env(config::REJECTED_QUEUE_URL).unwrap_or_default(),
        tags: tag_scheme()?,
        claim_lease: config::DEFAULT_CLAIM_LEASE,
        // The CLI names images by repository and digest in the account and region it runs in.
        home: home(sdk)?,
        member_role,
        governed_accounts: Vec::new(),
        ou_path: ou_path()?,
        history_days: config::history_days_of(env).map_err(|e| Fail::error(e.to_string()))?,
    };
    Ok(Adapters::new(sdk).gatekeeper(&deployment, policy))
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
