//! The command line as clap derives it: every command, the help and usage generated from these
//! declarations, the value parsers (durations, times) and clap's usage errors rendered to one line.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use clap_complete::Shell;
use gatekeeper::domain::Mode;

use crate::{check, cost_cmd, evaluate, ops, policy_cmd, report_cmd};

const AFTER_HELP: &str = "\
Environment:
  AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID ...  the usual AWS region and credential chain
  AWS_ENDPOINT_URL        points every AWS call at a local emulator
  GATEKEEPER_POLICY       the policy (a file, s3://bucket/key or ssm:/name) when --policy is not given
  GATEKEEPER_STATE_TABLE  the state table when --table is not given (release, reconcile, breaker)
  GATEKEEPER_TOPIC_ARN    the topic when --topic is not given (release, reconcile, breaker)
  GATEKEEPER_MODE         audit or enforce when --mode is not given (release, reconcile)
  GATEKEEPER_ACCOUNT_ID   the account the CLI runs in (needed with --account; check's rules by account)
  GATEKEEPER_MEMBER_ROLE  the member role when --member-role is not given (release, reconcile)
  GATEKEEPER_OU_PATH      the OU path of the account the CLI runs in (rules scoped by ous)
  GATEKEEPER_LOG          what the audit log on stderr shows (an env-filter; default audit=info)
  NO_COLOR                no colour in check's table (colour only on a terminal anyway)
A variable that is set but blank counts as unset.

Examples:
  gatekeeper evaluate --event events/aws.inspector2-inspector2-scan-ecr-docs.json
  gatekeeper policy check policy.toml --within 30d
  gatekeeper check --repository team-a/api --tag \"$GIT_SHA\" --wait 15m --format sarif > gatekeeper.sarif
  gatekeeper release --repository team-a/api --digest sha256:... --reason \"INC-42 hotfix\" --force --for 24h
  gatekeeper reconcile --all --dry-run
  gatekeeper cost --days 30 --rescan-price 0.011
  gatekeeper completions bash > /etc/bash_completion.d/gatekeeper

Exit status: 0 success (pass or warn for check), 1 a verdict that stops the pipeline (block, held),
an invalid policy, or a refused release; 2 unusable input (a usage error too), AWS errors and timeouts.";

/// `gatekeeper`: ECR image verdicts for CI pipelines and operators.
#[derive(Debug, Parser)]
#[command(
    name = "gatekeeper",
    version,
    about = "gatekeeper: ECR image verdicts for CI pipelines and operators",
    after_help = AFTER_HELP,
    arg_required_else_help = true
)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Decide one EventBridge event offline (no AWS calls); prints one JSON object
    #[command(after_help = "Exit status: 0, or 2 for unusable input.")]
    Evaluate(evaluate::Args),
    /// Validate a policy file; list the exceptions expiring soon
    Policy {
        /// What to do with the policy.
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
    /// The CI gate: find the image in ECR, wait for its scan, print the verdict
    #[command(after_help = "\
Exit status: 0 pass or warn, 1 block or held, 2 errors, no verdict and timeouts.

Example:
  gatekeeper check --repository team-a/api --tag \"$GIT_SHA\" --wait 15m --format sarif > gatekeeper.sarif")]
    Check(check::Args),
    /// Break-glass: put an image's quarantined tags back (or every image's, to uninstall)
    #[command(
        override_usage = "gatekeeper release --repository <R> --digest <D> --reason <TEXT> [--force --for <DURATION>] [OPTIONS]
       gatekeeper release --all [--repository <R>] (--dry-run | --yes) [OPTIONS]",
        after_help = "\
Exit status: 0 released, 1 refused (the verdict still blocks: --force --for DURATION overrides it
for a while; an exception in the policy is the lasting fix), 2 errors.

Examples:
  gatekeeper release --repository team-a/api --digest sha256:... --reason \"INC-42 hotfix\" --force --for 24h
  gatekeeper release --all --dry-run"
    )]
    Release(ops::ReleaseArgs),
    /// Evaluate images that existed before the gatekeeper (or whose events were lost) and act
    #[command(after_help = "Exit status: 0, or 2 for errors.")]
    Reconcile(ops::ReconcileArgs),
    /// Show or reset the circuit breaker that stops tag changes after too many
    #[command(after_help = "Exit status: 0, or 2 for errors.")]
    Breaker(ops::BreakerArgs),
    /// What Inspector's scanning costs, what runs, what to change (estimates; reads only)
    #[command(after_help = "Exit status: 0, or 2 for errors.")]
    Cost(cost_cmd::Args),
    /// What the verdict history says: images blocked now, time to fix, SLA breaches, the trend (JSON)
    #[command(after_help = "Exit status: 0, or 2 for errors.")]
    Report(report_cmd::Args),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the version (as --version does)
    Version,
}

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
    #[arg(long, value_name = "MODE", env = "GATEKEEPER_MODE", value_parser = mode)]
    pub mode: Option<Mode>,
}

/// `--account`, `--member-role` and `--region`: where an Organization deployment's command works.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PlaceArgs {
    /// The accounts to work in, comma-separated: the CLI's own (GATEKEEPER_ACCOUNT_ID) and members,
    /// through the member role; `all`: the own and every governed member
    /// (GATEKEEPER_GOVERNED_ACCOUNTS, else every member Inspector scans) [default: the CLI's own
    /// account]
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    pub accounts: Vec<String>,
    /// The role to assume in member accounts (the member stacks' MemberRoleName)
    #[arg(long, value_name = "NAME", env = "GATEKEEPER_MEMBER_ROLE")]
    pub member_role: Option<String>,
    /// The region to work in, with that region's deployment's --table and --topic [default:
    /// AWS_REGION]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// The deployment a command acts for: its policy, its state table and topic, and its mode.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeploymentArgs {
    /// Where the policy comes from.
    #[command(flatten)]
    pub policy: PolicyArg,
    /// The deployment's state table and topic.
    #[command(flatten)]
    pub state: StateArgs,
    /// Whether tags are changed (and what messages report).
    #[command(flatten)]
    pub mode: ModeArg,
    /// The accounts and region it works in.
    #[command(flatten)]
    pub place: PlaceArgs,
}

/// The whole command line, with the settings every command shares.
pub fn command() -> clap::Command {
    shared_settings(Cli::command())
}

/// A flag given twice keeps its last value (as the hand-written parser did), and a variable that is
/// set but blank counts as unset (as in the functions' configuration), in every command.
fn shared_settings(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let cmd = cmd.args_override_self(true).mut_args(|arg| {
        let blank = arg
            .get_env()
            .and_then(std::env::var_os)
            .is_some_and(|v| v.to_string_lossy().trim().is_empty());
        if blank {
            arg.env(None::<&'static str>)
        } else {
            arg
        }
    });
    // Only `gatekeeper` alone prints the help (exit 0, as before); `gatekeeper policy` alone is a
    // usage error like any other missing argument.
    names.into_iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |sub| {
            shared_settings(sub.arg_required_else_help(false))
        })
    })
}

/// A completion script for `shell` (written to a buffer first: a closed stdout is an error to
/// report, not a panic in the generator).
pub fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command(), "gatekeeper", &mut script);
    script
}

/// Parses the command line, or says why not (help and version included: see [`clap::Error::kind`]).
pub fn parse(argv: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Cli, clap::Error> {
    Cli::from_arg_matches(&command().try_get_matches_from(argv)?)
}

/// A duration flag (`90s`, `15m`, `2h`, `7d`, `1h 30m`, at most 10 years), in seconds: checked, never wrapped.
pub fn duration(value: &str) -> Result<i64, String> {
    gatekeeper::domain::time::duration(value).map_err(|e| e.to_string())
}

/// A time flag (`2026-12-01`, `2026-12-01T10:00:00Z`).
pub fn time(value: &str) -> Result<gatekeeper::domain::time::Epoch, String> {
    gatekeeper::domain::time::parse_rfc3339(value)
        .ok_or_else(|| "expected a date or an RFC 3339 time (2026-12-01T10:00:00Z)".to_string())
}

/// `--mode`: audit or enforce, as the functions read `GATEKEEPER_MODE`.
pub fn mode(value: &str) -> Result<Mode, String> {
    Mode::parse(value).ok_or_else(|| "expected audit or enforce".to_string())
}

/// clap's error as one line for stderr: the message without the usage block and the "For more
/// information" line, in the words the hand-written parser used where it had them.
pub fn one_line(err: &clap::Error) -> String {
    own_words(err).unwrap_or_else(|| flatten(&err.render().to_string()))
}

fn string(err: &clap::Error, kind: ContextKind) -> Option<&str> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn strings(err: &clap::Error, kind: ContextKind) -> Vec<String> {
    match err.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    }
}

/// `--event <FILE>` as `--event`, `<FILE>` as `FILE`, a group `<--tag <T>|--digest <D>>` as
/// `--tag or --digest`.
fn arg_name(arg: &str) -> String {
    match arg.strip_prefix('<').and_then(|a| a.strip_suffix('>')) {
        Some(group) if group.contains('|') => group
            .split('|')
            .map(arg_name)
            .collect::<Vec<_>>()
            .join(" or "),
        Some(value_name) => value_name.to_string(),
        None => arg.split(' ').next().unwrap_or(arg).to_string(),
    }
}

/// `a`, `a or b`, `a, b or c`.
fn either(values: &[String]) -> String {
    match values.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

fn own_words(err: &clap::Error) -> Option<String> {
    let arg = || string(err, ContextKind::InvalidArg).map(arg_name);
    let value = string(err, ContextKind::InvalidValue);
    Some(match err.kind() {
        ErrorKind::UnknownArgument => format!("unknown option {}", arg()?),
        ErrorKind::InvalidSubcommand => {
            format!(
                "unknown command {:?}",
                string(err, ContextKind::InvalidSubcommand)?
            )
        }
        ErrorKind::MissingSubcommand => format!(
            "{} needs a command: {}",
            string(err, ContextKind::InvalidSubcommand)?,
            either(
                &strings(err, ContextKind::ValidSubcommand)
                    .into_iter()
                    .filter(|c| c != "help")
                    .collect::<Vec<_>>()
            )
        ),
        ErrorKind::MissingRequiredArgument => {
            let missing: Vec<String> = strings(err, ContextKind::InvalidArg)
                .iter()
                .map(|a| arg_name(a))
                .collect();
            match missing.as_slice() {
                [] => return None,
                [one] => format!("{one} is required"),
                [rest @ .., last] => format!("{} and {last} are required", rest.join(", ")),
            }
        }
        ErrorKind::InvalidValue if value == Some("") => format!("{} needs a value", arg()?),
        ErrorKind::InvalidValue => format!(
            "{} {:?}: expected {}",
            arg()?,
            value?,
            either(&strings(err, ContextKind::ValidValue))
        ),
        ErrorKind::ValueValidation => {
            let why = std::error::Error::source(err)?;
            format!("{} {:?}: {why}", arg()?, value?)
        }
        ErrorKind::ArgumentConflict => format!(
            "{} cannot be used with {}",
            arg()?,
            either(
                &strings(err, ContextKind::PriorArg)
                    .iter()
                    .map(|a| arg_name(a))
                    .collect::<Vec<_>>()
            )
        ),
        _ => return None,
    })
}

/// clap's rendered error on one line: `error: ` and everything from the usage block on dropped,
/// a list after a colon run on, other lines joined with `; ` (what they say, without the layout).
fn flatten(rendered: &str) -> String {
    let message = rendered.strip_prefix("error: ").unwrap_or(rendered);
    let mut out = String::new();
    for l in message
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(argv: &[&str]) -> clap::Error {
        let argv = std::iter::once("gatekeeper").chain(argv.iter().copied());
        match command().try_get_matches_from(argv) {
            Ok(m) => panic!("{:?} parsed without an error", m.subcommand_name()),
            Err(e) => e,
        }
    }

    #[test]
    fn the_derived_command_line_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn usage_errors_read_as_the_hand_written_parser_said_them() {
        let cases: [(&[&str], &str); 9] = [
            (&["evaluate", "--nope"], "unknown option --nope"),
            (&["frobnicate"], "unknown command \"frobnicate\""),
            (&["evaluate"], "--event is required"),
            (&["evaluate", "--event"], "--event needs a value"),
            (
                &[
                    "check",
                    "--repository",
                    "r",
                    "--tag",
                    "t",
                    "--format",
                    "xml",
                ],
                "--format \"xml\": expected text, json or sarif",
            ),
            (
                &["check", "--repository", "r", "--tag", "t", "--wait", "soon"],
                "--wait \"soon\": expected a duration such as 90s, 15m, 2h or 7d",
            ),
            (
                &["check", "--repository", "r"],
                "--tag or --digest is required",
            ),
            (&["policy"], "gatekeeper policy needs a command: check"),
            (
                &["reconcile", "--repository", "r", "--all"],
                "--repository cannot be used with --all",
            ),
        ];
        for (argv, expected) in cases {
            let err = error_of(argv);
            assert_eq!(one_line(&err), expected, "{argv:?}: {err}");
        }
    }

    #[test]
    fn an_error_without_words_of_our_own_is_clap_s_message_on_one_line() {
        let err = error_of(&["release", "--all", "--yes=1"]);
        let line = one_line(&err);
        assert!(!line.contains('\n') && !line.is_empty(), "{line:?}");
        assert!(!line.contains("Usage:"), "{line}");
        assert_eq!(
            flatten(
                "error: the thing:\n  --a <A>\n\n  tip: b\n\nUsage: x\n\nFor more information, try '--help'.\n"
            ),
            "the thing: --a <A>; tip: b"
        );
    }

    #[test]
    fn a_flag_given_twice_keeps_its_last_value() {
        let cli = parse(
            ["gatekeeper", "cost", "--days", "7", "--days", "9"]
                .iter()
                .map(std::ffi::OsString::from),
        )
        .unwrap();
        match cli.command {
            Command::Cost(a) => assert_eq!(a.days, 9),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn durations_and_times_go_through_the_gatekeeper_s_parsers() {
        assert_eq!(duration("15m"), Ok(900));
        assert_eq!(duration("15 minutes"), Ok(900));
        assert!(duration("soon").is_err());
        assert!(duration("-15m").is_err());
        assert_eq!(time("1970-01-02"), Ok(86_400));
        assert!(time("yesterday").is_err());
    }
}
