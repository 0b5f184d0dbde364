//! Configuration read once at start from `GATEKEEPER_*` variables, through a lookup function so that
//! tests never touch the process environment.

use crate::adapters::{INSPECTOR_TPS, PUT_IMAGE_TPS};
use crate::domain::policy::{Policy, is_ou_path};
use crate::domain::remediation::Sla;
use crate::domain::tags::TagScheme;
use crate::domain::time::{DAY, parse_duration};
use crate::domain::{Mode, Place};
use crate::error::ConfigError;
use crate::outbound::cost::Pricing;
use crate::service::SweepSettings;

/// Deployment mode: `audit` (default) or `enforce`. `audit` overrides every policy rule.
pub const MODE: &str = "GATEKEEPER_MODE";
/// The deployment's own account id (with `AWS_REGION`: where its own images live, under v1's keys).
pub const ACCOUNT_ID: &str = "GATEKEEPER_ACCOUNT_ID";
/// The region the function runs in (set by Lambda).
pub const REGION: &str = "AWS_REGION";
/// The name of the role an Organization deployment assumes in each member account (unset: it
/// governs its own account only).
pub const MEMBER_ROLE: &str = "GATEKEEPER_MEMBER_ROLE";
/// The member accounts an Organization deployment governs, comma-separated (unset: every member
/// whose events reach it).
pub const GOVERNED_ACCOUNTS: &str = "GATEKEEPER_GOVERNED_ACCOUNTS";
/// The deployment's own account's OU path (`r-ab12/ou-ab12-11111111`), for rules scoped by OU.
pub const OU_PATH: &str = "GATEKEEPER_OU_PATH";
/// ARN of the SNS topic that carries the JSON messages.
pub const TOPIC_ARN: &str = "GATEKEEPER_TOPIC_ARN";
/// ARN of the SNS topic that carries the same notices in AWS Chatbot's format (unset: none).
pub const CHAT_TOPIC_ARN: &str = "GATEKEEPER_CHAT_TOPIC_ARN";
/// Name of the DynamoDB state table.
pub const STATE_TABLE: &str = "GATEKEEPER_STATE_TABLE";
/// URL of the SQS queue that receives rejected events.
pub const REJECTED_QUEUE_URL: &str = "GATEKEEPER_REJECTED_QUEUE_URL";
/// Where the policy is: a file path, `s3://bucket/key` or `ssm:/parameter/name` (unset: the
/// built-in default policy).
pub const POLICY: &str = "GATEKEEPER_POLICY";
/// Prefix of quarantine tags (default `quarantined-`).
pub const QUARANTINE_PREFIX: &str = "GATEKEEPER_QUARANTINE_PREFIX";
/// Prefix of held tags (default `held-`).
pub const HELD_PREFIX: &str = "GATEKEEPER_HELD_PREFIX";
/// Prefix of verified tags (default `verified-`).
pub const VERIFIED_PREFIX: &str = "GATEKEEPER_VERIFIED_PREFIX";
/// How long an unfinished change stays with the delivery that claimed it (default `5m`).
pub const CLAIM_LEASE: &str = "GATEKEEPER_CLAIM_LEASE";
/// The sweep's schedule rate, which is also its window when it has no previous run (default `1h`).
pub const SWEEP_INTERVAL: &str = "GATEKEEPER_SWEEP_INTERVAL";
/// How long an image may stay held without a scan result before the sweep says so (default `6h`).
pub const HELD_TIMEOUT: &str = "GATEKEEPER_HELD_TIMEOUT";
/// The private bucket the weekly report's page is written to (unset: no weekly report).
pub const REPORT_BUCKET: &str = "GATEKEEPER_REPORT_BUCKET";
/// The weekly report's SLA: `SEVERITY=DAYS` settings over the defaults (`CRITICAL=15,HIGH=30`).
pub const REPORT_SLA: &str = "GATEKEEPER_REPORT_SLA";
/// How long the verdict history is kept (a duration, `400d` by default).
pub const HISTORY_RETENTION: &str = "GATEKEEPER_HISTORY_RETENTION";
/// The price of one Inspector initial scan of an ECR image, USD (default `0.09`).
pub const PRICE_INITIAL_SCAN: &str = "GATEKEEPER_PRICE_INITIAL_SCAN";
/// The price of one rescan, USD (default `0.01`).
pub const PRICE_RESCAN: &str = "GATEKEEPER_PRICE_RESCAN";
/// The period of the cost digest, days (default `7`).
pub const COST_DAYS: &str = "GATEKEEPER_COST_DAYS";
/// ECR PutImage calls per second per container (default [`PUT_IMAGE_TPS`]).
pub const PUT_IMAGE_RATE: &str = "GATEKEEPER_PUTIMAGE_TPS";
/// Inspector calls per second per container (default [`INSPECTOR_TPS`]).
pub const INSPECTOR_RATE: &str = "GATEKEEPER_INSPECTOR_TPS";

/// How fast each container may call the APIs whose quota it shares (calls per second).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// ECR PutImage.
    pub put_image: f64,
    /// Inspector (ListFindings pages and the other reads).
    pub inspector: f64,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            put_image: PUT_IMAGE_TPS,
            inspector: INSPECTOR_TPS,
        }
    }
}

/// Where the policy document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The built-in default (block CRITICAL, warn HIGH).
    Builtin,
    /// A file bundled with the function (a layer, or any path for the CLI).
    File(String),
    /// An S3 object, fetched at cold start (`s3://bucket/key`): any size.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
    /// An SSM parameter, fetched at cold start (`ssm:/name`): at most 8 KB (advanced tier).
    Ssm(String),
}

impl PolicySource {
    /// Parses `GATEKEEPER_POLICY`: `s3://bucket/key`, `ssm:/name` (or `ssm:name`), else a file path.
    pub fn parse(value: &str) -> Result<PolicySource, String> {
        if let Some(rest) = value.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => {
                    Ok(PolicySource::S3 {
                        bucket: bucket.into(),
                        key: key.into(),
                    })
                }
                _ => Err("expected s3://bucket/key".into()),
            };
        }
        if let Some(name) = value.strip_prefix("ssm:") {
            return if name.trim().is_empty() {
                Err("expected ssm:/parameter/name".into())
            } else {
                Ok(PolicySource::Ssm(name.into()))
            };
        }
        Ok(PolicySource::File(value.into()))
    }
}

impl std::fmt::Display for PolicySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicySource::Builtin => f.write_str("(built-in)"),
            PolicySource::File(p) => f.write_str(p),
            PolicySource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            PolicySource::Ssm(name) => write!(f, "ssm:{name}"),
        }
    }
}

/// What a gatekeeper is wired to and how it acts: the settings the functions read from the
/// environment and the CLI from its flags, from which [`crate::bootstrap::Adapters`] builds it.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// Deployment mode.
    pub mode: Mode,
    /// JSON topic ARN.
    pub topic_arn: String,
    /// Chatbot topic ARN, if any.
    pub chat_topic_arn: Option<String>,
    /// State table name.
    pub state_table: String,
    /// Rejected-events queue URL.
    pub rejected_queue_url: String,
    /// Reserved tag prefixes.
    pub tags: TagScheme,
    /// Claim lease in seconds.
    pub claim_lease: i64,
    /// Its own account and region (`None` when `GATEKEEPER_ACCOUNT_ID` or `AWS_REGION` is unset:
    /// then only events that name no account are acted on).
    pub home: Option<Place>,
    /// The role it assumes in its Organization's members, when it governs them.
    pub member_role: Option<String>,
    /// The members it governs (empty: every member whose events reach it).
    pub governed_accounts: Vec<String>,
    /// Its own account's OU path (members' are read from their stacks).
    pub ou_path: Option<String>,
    /// How long the verdict history is kept, days.
    pub history_days: i64,
}

/// The default claim lease, seconds (`GATEKEEPER_CLAIM_LEASE` unset).
pub const DEFAULT_CLAIM_LEASE: i64 = 300;

/// The settings every function reads at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// What the gatekeeper is wired to and how it acts.
    pub deployment: Deployment,
    /// Policy location.
    pub policy: PolicySource,
    /// The sweep's interval and hold timeout.
    pub sweep: SweepSettings,
    /// Prices for the cost report.
    pub pricing: Pricing,
    /// The cost digest's period, days.
    pub cost_days: i64,
    /// The private bucket the weekly report's page is written to (`None`: no weekly report).
    pub report_bucket: Option<String>,
    /// The weekly report's SLA per severity.
    pub report_sla: Sla,
    /// The per-container pace of PutImage and Inspector calls.
    pub pacing: Pacing,
}

/// Whether `id` is an AWS account id (12 digits).
fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The error of a variable whose value cannot be used.
fn invalid(name: &'static str, value: impl Into<String>, problem: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.into(),
        problem: problem.into(),
    }
}

/// The deployment's own account and region; an account id that is not 12 digits is refused.
fn home(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Option<Place>, ConfigError> {
    match env.get(ACCOUNT_ID) {
        None => Ok(None),
        Some(a) if !is_account_id(&a) => {
            Err(invalid(ACCOUNT_ID, a, "expected a 12-digit account id"))
        }
        Some(account) => Ok(env.get(REGION).map(|region| Place { account, region })),
    }
}

/// The member role's name: IAM's characters, at most 64; it needs the deployment's own account and
/// region (members are told apart from it).
fn member_role(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Option<String>, ConfigError> {
    let iam = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c);
    match env.get(MEMBER_ROLE) {
        None => Ok(None),
        Some(role) if role.len() > 64 || !role.chars().all(iam) => Err(invalid(
            MEMBER_ROLE,
            role,
            "expected an IAM role name (letters, digits and +=,.@_-, at most 64)",
        )),
        Some(role) if env.get(ACCOUNT_ID).is_none() || env.get(REGION).is_none() => Err(invalid(
            MEMBER_ROLE,
            role,
            "an Organization deployment needs GATEKEEPER_ACCOUNT_ID and AWS_REGION too",
        )),
        Some(role) => Ok(Some(role)),
    }
}

/// The governed member accounts: 12-digit ids, comma-separated; only with a member role.
fn governed_accounts(
    env: &Env<impl Fn(&str) -> Option<String>>,
) -> Result<Vec<String>, ConfigError> {
    let Some(listed) = env.get(GOVERNED_ACCOUNTS) else {
        return Ok(Vec::new());
    };
    if env.get(MEMBER_ROLE).is_none() {
        let problem = "names member accounts, but GATEKEEPER_MEMBER_ROLE is unset";
        return Err(invalid(GOVERNED_ACCOUNTS, listed, problem));
    }
    let ids = listed.split(',').map(str::trim).filter(|id| !id.is_empty());
    let mut accounts: Vec<String> = Vec::new();
    for id in ids {
        if !is_account_id(id) {
            let problem = "expected 12-digit account ids, comma-separated";
            return Err(invalid(GOVERNED_ACCOUNTS, id, problem));
        }
        // An account named twice is governed once (and reported once in the cost digest).
        if !accounts.iter().any(|a| a == id) {
            accounts.push(id.to_string());
        }
    }
    Ok(accounts)
}

/// The deployment's own OU path: a root id, then OU ids, `/` between.
fn ou_path(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<Option<String>, ConfigError> {
    match env.get(OU_PATH) {
        Some(path) if !is_ou_path(&path) => Err(invalid(
            OU_PATH,
            path,
            "expected an OU path from the root: r-ab12/ou-ab12-11111111/...",
        )),
        path => Ok(path),
    }
}

/// How long the verdict history is kept (`GATEKEEPER_HISTORY_RETENTION` through `lookup`), in whole
/// days: at least one (DynamoDB's TTL deletes records within days of their expiry, so a shorter
/// retention would only be a promise).
pub fn history_days_of(lookup: impl Fn(&str) -> Option<String>) -> Result<i64, ConfigError> {
    history_days(&Env(lookup))
}

fn history_days(env: &Env<impl Fn(&str) -> Option<String>>) -> Result<i64, ConfigError> {
    let seconds = env.duration(HISTORY_RETENTION, crate::adapters::HISTORY_DAYS * DAY)?;
    if seconds < DAY {
        return Err(invalid(
            HISTORY_RETENTION,
            format!("{seconds}s"),
            "expected at least a day, such as 90d or 400d",
        ));
    }
    Ok(seconds / DAY)
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let env = Env(lookup);
        let mode = match env.get(MODE) {
            None => Mode::Audit,
            Some(v) => Mode::parse(&v).ok_or_else(|| ConfigError::Invalid {
                name: MODE,
                value: v,
                problem: "expected audit or enforce".into(),
            })?,
        };
        let defaults = SweepSettings::default();
        let prices = Pricing::default();
        Ok(Config {
            deployment: Deployment {
                mode,
                topic_arn: env.required(TOPIC_ARN)?,
                chat_topic_arn: env.get(CHAT_TOPIC_ARN),
                state_table: env.required(STATE_TABLE)?,
                rejected_queue_url: env.required(REJECTED_QUEUE_URL)?,
                tags: tags_from_lookup(|k| env.get(k))?,
                claim_lease: env.duration(CLAIM_LEASE, DEFAULT_CLAIM_LEASE)?,
                home: home(&env)?,
                member_role: member_role(&env)?,
                governed_accounts: governed_accounts(&env)?,
                ou_path: ou_path(&env)?,
                history_days: history_days(&env)?,
            },
            policy: match env.get(POLICY) {
                None => PolicySource::Builtin,
                Some(v) => PolicySource::parse(&v).map_err(|problem| ConfigError::Invalid {
                    name: POLICY,
                    value: v,
                    problem,
                })?,
            },
            sweep: SweepSettings {
                interval: env.duration(SWEEP_INTERVAL, defaults.interval)?,
                held_timeout: env.duration(HELD_TIMEOUT, defaults.held_timeout)?,
            },
            pricing: Pricing {
                initial_scan: env.number(PRICE_INITIAL_SCAN, prices.initial_scan)?,
                rescan: env.number(PRICE_RESCAN, prices.rescan)?,
            },
            cost_days: env.number(COST_DAYS, 7.0)?.round().max(1.0) as i64,
            report_bucket: env.get(REPORT_BUCKET),
            report_sla: match env.get(REPORT_SLA) {
                None => Sla::default(),
                Some(v) => Sla::parse(&v).map_err(|problem| invalid(REPORT_SLA, v, &problem))?,
            },
            pacing: Pacing {
                put_image: env.rate(PUT_IMAGE_RATE, PUT_IMAGE_TPS)?,
                inspector: env.rate(INSPECTOR_RATE, INSPECTOR_TPS)?,
            },
        })
    }
}

/// The environment as the configuration reads it: values trimmed, empty ones unset, each kind of
/// value checked with the variable's name in the error.
struct Env<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The trimmed value of `name`, unless unset or empty.
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The value of `name`, which must be set.
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing(name))
    }

    /// A positive duration (`300s`, `5m`, `1h`) in seconds, `default` when unset.
    fn duration(&self, name: &'static str, default: i64) -> Result<i64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => parse_duration(&v)
                .filter(|s| *s > 0)
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    value: v,
                    problem: "expected a duration such as 300s, 5m or 1h".into(),
                }),
        }
    }

    /// A finite non-negative number, `default` when unset.
    fn number(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| ConfigError::Invalid {
                    name,
                    value: v,
                    problem: "expected a non-negative number".into(),
                }),
        }
    }

    /// A positive number of calls per second, `default` when unset.
    fn rate(&self, name: &'static str, default: f64) -> Result<f64, ConfigError> {
        let r = self.number(name, default)?;
        if r > 0.0 {
            Ok(r)
        } else {
            Err(ConfigError::Invalid {
                name,
                value: r.to_string(),
                problem: "expected a positive number of calls per second".into(),
            })
        }
    }
}

/// The reserved tag prefixes from `GATEKEEPER_{QUARANTINE,HELD,VERIFIED}_PREFIX` through `lookup`
/// (unset or empty: `quarantined-`, `held-`, `verified-`), as the functions and the CLI read them.
pub fn tags_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<TagScheme, ConfigError> {
    let prefix = |k: &str, default: &str| {
        lookup(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.to_string())
    };
    TagScheme::new(
        &prefix(QUARANTINE_PREFIX, "quarantined-"),
        &prefix(HELD_PREFIX, "held-"),
        &prefix(VERIFIED_PREFIX, "verified-"),
    )
    .map_err(|e| {
        let name = match e.name {
            "quarantine" => QUARANTINE_PREFIX,
            "held" => HELD_PREFIX,
            _ => VERIFIED_PREFIX,
        };
        ConfigError::Invalid {
            name,
            value: e.value.clone(),
            problem: e.problem.to_string(),
        }
    })
}

/// Validates policy text read from `source`; an invalid policy is an error, never "allow all".
/// Each warning (valid but suspicious: inverted levels, a pattern that can never match) is logged
/// once, here at cold start, with its line.
pub fn parse_policy(source: &PolicySource, text: &str) -> Result<Policy, ConfigError> {
    let policy = Policy::parse(text).map_err(|error| ConfigError::Policy {
        source_name: source.to_string(),
        error,
    })?;
    for w in policy.warnings() {
        tracing::warn!(
            policy = %source,
            policy_hash = policy.hash(),
            line = w.line,
            field = w.field.as_deref(),
            "policy warning: {}",
            w.message
        );
    }
    Ok(policy)
}

/// Checks that every rule's `verified_prefix` fits with the deployment's quarantine and held
/// prefixes (none may start with another): a clash would make the gatekeeper misread its own tags.
pub fn check_verified_prefixes(policy: &Policy, tags: &TagScheme) -> Result<(), ConfigError> {
    for rule in policy.rules() {
        if let Some(v) = &rule.verified_prefix {
            TagScheme::new(tags.quarantine_prefix(), tags.held_prefix(), v).map_err(|e| {
                ConfigError::Invalid {
                    name: POLICY,
                    value: format!("rule {}: verified_prefix = {v:?}", rule.name),
                    problem: format!("{} prefix {:?} {}", e.name, e.value, e.problem),
                }
            })?;
        }
    }
    Ok(())
}

/// Loads a local policy (built-in or file); `None` for S3 and SSM, which `adapters::load_policy` reads.
pub fn load_local_policy(source: &PolicySource) -> Result<Option<Policy>, ConfigError> {
    match source {
        PolicySource::Builtin => Ok(Some(Policy::builtin())),
        PolicySource::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::PolicyUnreadable {
                    source_name: path.clone(),
                    message: e.to_string(),
                })?;
            parse_policy(source, &text).map(Some)
        }
        PolicySource::S3 { .. } | PolicySource::Ssm(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 3] = [
        (TOPIC_ARN, "arn:aws:sns:eu-west-1:1:t"),
        (STATE_TABLE, "gk"),
        (REJECTED_QUEUE_URL, "http://q"),
    ];

    #[test]
    fn defaults_to_audit_builtin_policy_and_standard_prefixes() {
        let c = Config::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(c.deployment.mode, Mode::Audit);
        assert_eq!(c.policy, PolicySource::Builtin);
        assert_eq!(c.deployment.tags, TagScheme::default());
        assert_eq!(c.deployment.claim_lease, 300);
        assert_eq!(c.deployment.chat_topic_arn, None);
        assert_eq!(c.pacing, Pacing::default());
        let mut with_chat = BASE.to_vec();
        with_chat.push((CHAT_TOPIC_ARN, "arn:aws:sns:eu-west-1:1:chat"));
        let c = Config::from_lookup(lookup(&with_chat)).unwrap();
        assert_eq!(
            c.deployment.chat_topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:1:chat")
        );
    }

    #[test]
    fn the_pace_of_putimage_and_inspector_calls_is_a_positive_rate() {
        let mut set = BASE.to_vec();
        set.extend([(PUT_IMAGE_RATE, "0.5"), (INSPECTOR_RATE, "8")]);
        let c = Config::from_lookup(lookup(&set)).unwrap();
        assert_eq!(
            c.pacing,
            Pacing {
                put_image: 0.5,
                inspector: 8.0
            }
        );
        for (name, value) in [
            (PUT_IMAGE_RATE, "0"),
            (PUT_IMAGE_RATE, "-1"),
            (PUT_IMAGE_RATE, "fast"),
            (INSPECTOR_RATE, "NaN"),
            (INSPECTOR_RATE, "inf"),
        ] {
            let mut bad = BASE.to_vec();
            bad.push((name, value));
            assert!(
                matches!(Config::from_lookup(lookup(&bad)), Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn an_organization_deployment_names_its_member_role_and_maybe_its_members() {
        let mut own = BASE.to_vec();
        own.extend([(ACCOUNT_ID, "123456789012"), (REGION, "eu-west-1")]);
        let c = Config::from_lookup(lookup(&own)).unwrap().deployment;
        assert_eq!(
            c.home.map(|h| h.to_string()).as_deref(),
            Some("account 123456789012 in eu-west-1")
        );
        assert_eq!((c.member_role, c.governed_accounts), (None, Vec::new()));
        let mut org = own.clone();
        org.extend([
            (MEMBER_ROLE, "ecr-gatekeeper-member"),
            (
                GOVERNED_ACCOUNTS,
                " 111111111111, 222222222222 ,111111111111",
            ),
        ]);
        let c = Config::from_lookup(lookup(&org)).unwrap().deployment;
        assert_eq!(c.member_role.as_deref(), Some("ecr-gatekeeper-member"));
        assert_eq!(c.governed_accounts, ["111111111111", "222222222222"]);
        assert_eq!(c.ou_path, None);
        org.push((OU_PATH, "r-ab12/ou-ab12-11111111"));
        let c = Config::from_lookup(lookup(&org)).unwrap().deployment;
        assert_eq!(c.ou_path.as_deref(), Some("r-ab12/ou-ab12-11111111"));
        let refused = |pairs: &[(&str, &str)], name: &str| {
            let mut set = BASE.to_vec();
            set.extend_from_slice(pairs);
            assert!(
                matches!(Config::from_lookup(lookup(&set)), Err(ConfigError::Invalid { name: n, .. }) if n == name),
                "{pairs:?}"
            );
        };
        let home = [(ACCOUNT_ID, "123456789012"), (REGION, "eu-west-1")];
        refused(&[(ACCOUNT_ID, "12345")], ACCOUNT_ID);
        refused(&[(OU_PATH, "Security/Prod")], OU_PATH);
        refused(&[(MEMBER_ROLE, "gk-member")], MEMBER_ROLE);
        refused(
            &[home[0], home[1], (MEMBER_ROLE, "role/with/slashes")],
            MEMBER_ROLE,
        );
        refused(
            &[home[0], home[1], (GOVERNED_ACCOUNTS, "111111111111")],
            GOVERNED_ACCOUNTS,
        );
        refused(
            &[
                home[0],
                home[1],
                (MEMBER_ROLE, "m"),
                (GOVERNED_ACCOUNTS, "111111111111,abc"),
            ],
            GOVERNED_ACCOUNTS,
        );
    }

    #[test]
    fn policy_sources() {
        assert_eq!(
            PolicySource::parse("s3://b/p/policy.toml"),
            Ok(PolicySource::S3 {
                bucket: "b".into(),
                key: "p/policy.toml".into()
            })
        );
        assert_eq!(
            PolicySource::parse("ssm:/gatekeeper/policy"),
            Ok(PolicySource::Ssm("/gatekeeper/policy".into()))
        );
        assert_eq!(
            PolicySource::parse("/opt/policy.toml"),
            Ok(PolicySource::File("/opt/policy.toml".into()))
        );
        assert!(PolicySource::parse("s3://bucket").is_err());
        assert!(PolicySource::parse("ssm:").is_err());
    }

    #[test]
    fn rejects_missing_and_invalid_settings() {
        assert_eq!(
            Config::from_lookup(lookup(&BASE[1..])).unwrap_err(),
            ConfigError::Missing(TOPIC_ARN)
        );
        let mut bad = BASE.to_vec();
        bad.push((MODE, "yolo"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid { name: MODE, .. })
        ));
        let mut bad = BASE.to_vec();
        bad.push((HELD_PREFIX, "quarantined-held-"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid {
                name: HELD_PREFIX,
                ..
            })
        ));
        for name in [CLAIM_LEASE, SWEEP_INTERVAL, HELD_TIMEOUT] {
            let mut bad = BASE.to_vec();
            bad.push((name, "soon"));
            assert!(
                matches!(
                    Config::from_lookup(lookup(&bad)),
                    Err(ConfigError::Invalid { name: n, .. }) if n == name
                ),
                "{name}"
            );
        }
        let mut good = BASE.to_vec();
        good.extend([(SWEEP_INTERVAL, "15m"), (HELD_TIMEOUT, "2h")]);
        let c = Config::from_lookup(lookup(&good)).unwrap().sweep;
        assert_eq!((c.interval, c.held_timeout), (900, 7200));
    }

    #[test]
    fn the_weekly_report_sla_is_read_over_the_defaults_and_a_bad_one_stops_the_start() {
        let sla = |v: &str| {
            let mut env = BASE.to_vec();
            env.push((REPORT_SLA, v));
            Config::from_lookup(lookup(&env)).map(|c| c.report_sla)
        };
        assert_eq!(
            sla("HIGH=14")
                .map(|s| s.days(crate::domain::Severity::High))
                .ok(),
            Some(14)
        );
        assert!(matches!(
            sla("HIGH=soon"),
            Err(ConfigError::Invalid {
                name: REPORT_SLA,
                ..
            })
        ));
    }

    #[test]
    fn the_history_is_kept_400_days_unless_said_and_never_under_a_day() {
        let days = |v: Option<&str>| {
            let mut env = BASE.to_vec();
            env.extend(v.map(|v| (HISTORY_RETENTION, v)));
            Config::from_lookup(lookup(&env)).map(|c| c.deployment.history_days)
        };
        assert_eq!(days(None).unwrap(), 400);
        assert_eq!(days(Some("90d")).unwrap(), 90);
        for bad in ["12h", "forever", "0d"] {
            assert!(
                matches!(
                    days(Some(bad)),
                    Err(ConfigError::Invalid {
                        name: HISTORY_RETENTION,
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_rule_verified_prefix_may_not_clash_with_the_reserved_ones() {
        let policy = |prefix: &str| {
            Policy::parse(&format!(
                "version = 1\n[defaults]\nblock = \"CRITICAL\"\nverified_prefix = \"{prefix}\"\n"
            ))
        };
        let ok = policy("signed-").unwrap();
        assert!(check_verified_prefixes(&ok, &TagScheme::default()).is_ok());
        // The policy itself refuses the default prefixes; the deployment's own are checked here.
        assert!(policy("held-ok-").is_err());
        let deployment = TagScheme::new("signed-off-", "held-", "verified-").unwrap();
        assert!(matches!(
            check_verified_prefixes(&ok, &deployment),
            Err(ConfigError::Invalid { name: POLICY, .. })
        ));
    }

    #[test]
    fn an_unreadable_or_invalid_policy_file_is_an_error() {
        let missing =
            load_local_policy(&PolicySource::File("/nonexistent/policy.toml".into())).unwrap_err();
        assert!(matches!(missing, ConfigError::PolicyUnreadable { .. }));
        let dir = std::env::temp_dir().join(format!("gk-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(&path, "version = 1\n[defaults]\nblock = \"NOPE\"\n").unwrap();
        let err = load_local_policy(&PolicySource::File(path.to_string_lossy().into_owned()))
            .unwrap_err();
        assert!(
            err.to_string().contains("line 3: block: unknown severity"),
            "{err}"
        );
    }
}
