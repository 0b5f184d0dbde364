//! The options several commands share (the policy, the deployment's state table and topic, the mode),
//! and the bridge to `aws.rs`, which reads those flags by name ([`crate::aws::COMMON`]).

use crate::aws;

/// `--policy`: where the policy comes from.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PolicyArg {
    /// The policy: a file, s3://bucket/key or ssm:/name (the built-in default otherwise)
    #[arg(long, value_name = "SOURCE", env = "GATEKEEPER_POLICY")]
    pub policy: Option<String>,
}

/// `--table` and `--topic`: the deployment's state and notifications.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StateArgs {
    /// The gatekeeper's DynamoDB state table (required, from the flag or the environment)
    #[arg(long, value_name = "TABLE", env = "GATEKEEPER_STATE_TABLE")]
    pub table: Option<String>,
    /// The gatekeeper's SNS topic for its JSON messages (required, from the flag or the environment)
    #[arg(long, value_name = "ARN", env = "GATEKEEPER_TOPIC_ARN")]
    pub topic: Option<String>,
}

/// `--mode`: whether tag changes are made or only reported.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ModeArg {
    /// audit (report what would change) or enforce (change tags) [default: audit]
    #[arg(long, value_name = "MODE", env = "GATEKEEPER_MODE", value_parser = crate::cli::mode)]
    pub mode: Option<String>,
}

/// A flag `aws.rs` reads by name.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// Long name without dashes.
    pub name: &'static str,
}

/// A flag with a value, as `aws.rs` names it.
pub const fn opt(name: &'static str) -> Flag {
    Flag { name }
}

/// The values `aws.rs` reads by name ([`aws::COMMON`]), taken from a command's typed options: flag
/// over environment (clap's `env`) over `aws.rs`'s own default.
#[derive(Debug, Default)]
pub struct Args {
    values: Vec<(&'static str, String)>,
}

impl Args {
    /// The bridge for a command with these of the shared options.
    pub fn of(
        policy: Option<&PolicyArg>,
        state: Option<&StateArgs>,
        mode: Option<&ModeArg>,
    ) -> Args {
        let value = |name: &str| match name {
            "policy" => policy.and_then(|p| p.policy.clone()),
            "table" => state.and_then(|s| s.table.clone()),
            "topic" => state.and_then(|s| s.topic.clone()),
            "mode" => mode.and_then(|m| m.mode.clone()),
            _ => None,
        };
        Args {
            values: aws::COMMON
                .iter()
                .filter_map(|f| value(f.name).map(|v| (f.name, v)))
                .collect(),
        }
    }

    /// The value of a flag, when the command has it and it was given (or set in the environment).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_aws_rs_reads_is_declared_and_bridged() {
        let cmd = crate::cli::command();
        let reconcile = cmd.find_subcommand("reconcile").unwrap();
        let full = Args::of(
            Some(&PolicyArg {
                policy: Some("p.toml".into()),
            }),
            Some(&StateArgs {
                table: Some("t".into()),
                topic: Some("arn:topic".into()),
            }),
            Some(&ModeArg {
                mode: Some("enforce".into()),
            }),
        );
        for flag in aws::COMMON {
            assert!(
                reconcile
                    .get_arguments()
                    .any(|a| a.get_long() == Some(flag.name)),
                "--{} is not declared",
                flag.name
            );
            assert!(
                full.get(flag.name).is_some(),
                "--{} is not bridged",
                flag.name
            );
        }
        let policy_only = Args::of(Some(&PolicyArg::default()), None, None);
        assert_eq!(policy_only.get("policy"), None);
        assert_eq!(full.get("policy"), Some("p.toml"));
        assert_eq!(full.get("mode"), Some("enforce"));
    }
}
