//! Configuration read once at start from `GATEKEEPER_*` variables, through a lookup function so that
//! tests never touch the process environment.

use crate::domain::Mode;
use crate::error::ConfigError;
use crate::policy::Policy;
use crate::tags::TagScheme;
use crate::time::parse_duration;

/// Deployment mode: `audit` (default) or `enforce`. `audit` overrides every policy rule.
pub const MODE: &str = "GATEKEEPER_MODE";
/// ARN of the SNS topic that carries the JSON messages.
pub const TOPIC_ARN: &str = "GATEKEEPER_TOPIC_ARN";
/// Name of the DynamoDB state table.
pub const STATE_TABLE: &str = "GATEKEEPER_STATE_TABLE";
/// URL of the SQS queue that receives rejected events.
pub const REJECTED_QUEUE_URL: &str = "GATEKEEPER_REJECTED_QUEUE_URL";
/// Where the policy is: a file path (unset: the built-in default policy).
pub const POLICY: &str = "GATEKEEPER_POLICY";
/// Prefix of quarantine tags (default `quarantined-`).
pub const QUARANTINE_PREFIX: &str = "GATEKEEPER_QUARANTINE_PREFIX";
/// Prefix of held tags (default `held-`).
pub const HELD_PREFIX: &str = "GATEKEEPER_HELD_PREFIX";
/// Prefix of verified tags (default `verified-`).
pub const VERIFIED_PREFIX: &str = "GATEKEEPER_VERIFIED_PREFIX";
/// How long an unfinished change stays with the delivery that claimed it (default `5m`).
pub const CLAIM_LEASE: &str = "GATEKEEPER_CLAIM_LEASE";

/// Where the policy document comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// The built-in default (block CRITICAL, warn HIGH).
    Builtin,
    /// A file bundled with the function (or any path for the CLI).
    File(String),
}

/// The settings every function reads at start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Deployment mode.
    pub mode: Mode,
    /// JSON topic ARN.
    pub topic_arn: String,
    /// State table name.
    pub state_table: String,
    /// Rejected-events queue URL.
    pub rejected_queue_url: String,
    /// Policy location.
    pub policy: PolicySource,
    /// Reserved tag prefixes.
    pub tags: TagScheme,
    /// Claim lease in seconds.
    pub claim_lease: i64,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `lookup`; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let required = |k: &'static str| get(k).ok_or(ConfigError::Missing(k));
        let mode = match get(MODE) {
            None => Mode::Audit,
            Some(v) => Mode::parse(&v).ok_or_else(|| ConfigError::Invalid {
                name: MODE,
                value: v,
                problem: "expected audit or enforce".into(),
            })?,
        };
        let prefix = |k: &'static str, default: &str| get(k).unwrap_or_else(|| default.to_string());
        let tags = TagScheme::new(
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
        })?;
        let claim_lease = match get(CLAIM_LEASE) {
            None => 300,
            Some(v) => {
                parse_duration(&v)
                    .filter(|s| *s > 0)
                    .ok_or_else(|| ConfigError::Invalid {
                        name: CLAIM_LEASE,
                        value: v,
                        problem: "expected a duration such as 300s or 5m".into(),
                    })?
            }
        };
        Ok(Config {
            mode,
            topic_arn: required(TOPIC_ARN)?,
            state_table: required(STATE_TABLE)?,
            rejected_queue_url: required(REJECTED_QUEUE_URL)?,
            policy: get(POLICY).map_or(PolicySource::Builtin, PolicySource::File),
            tags,
            claim_lease,
        })
    }
}

/// Loads and validates the policy; an invalid or unreadable policy is an error, never "allow all".
pub fn load_policy(source: &PolicySource) -> Result<Policy, ConfigError> {
    match source {
        PolicySource::Builtin => Ok(Policy::builtin()),
        PolicySource::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| ConfigError::PolicyUnreadable {
                    source_name: path.clone(),
                    message: e.to_string(),
                })?;
            Policy::parse(&text).map_err(|error| ConfigError::Policy {
                source_name: path.clone(),
                error,
            })
        }
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
        assert_eq!(c.mode, Mode::Audit);
        assert_eq!(c.policy, PolicySource::Builtin);
        assert_eq!(c.tags, TagScheme::default());
        assert_eq!(c.claim_lease, 300);
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
        let mut bad = BASE.to_vec();
        bad.push((CLAIM_LEASE, "soon"));
        assert!(matches!(
            Config::from_lookup(lookup(&bad)),
            Err(ConfigError::Invalid {
                name: CLAIM_LEASE,
                ..
            })
        ));
    }

    #[test]
    fn an_unreadable_or_invalid_policy_file_is_an_error() {
        let missing =
            load_policy(&PolicySource::File("/nonexistent/policy.toml".into())).unwrap_err();
        assert!(matches!(missing, ConfigError::PolicyUnreadable { .. }));
        let dir = std::env::temp_dir().join(format!("gk-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.toml");
        std::fs::write(&path, "version = 1\n[defaults]\nblock = \"NOPE\"\n").unwrap();
        let err =
            load_policy(&PolicySource::File(path.to_string_lossy().into_owned())).unwrap_err();
        assert!(
            err.to_string().contains("line 3: block: unknown severity"),
            "{err}"
        );
    }
}
