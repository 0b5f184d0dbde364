//! `gatekeeper`: the ecr-gatekeeper command line, for CI pipelines and operators.

mod args;
mod audit_log;
mod aws;
mod check;
mod cost_cmd;
mod evaluate;
mod ops;
mod policy_cmd;
mod report;

use std::process::ExitCode;

use args::Args;
use gatekeeper::escape;

const USAGE: &str = "\
gatekeeper: ECR image verdicts for CI pipelines and operators

Usage:
  gatekeeper evaluate --event FILE [--findings FILE] [--policy FILE] [--now TIME]
  gatekeeper policy check FILE [--now TIME] [--within DURATION]
  gatekeeper check --repository R (--tag T | --digest D) [--wait DURATION] [--quiet-period DURATION]
                   [--policy FILE] [--format text|json|sarif]
  gatekeeper release --repository R --digest D --reason TEXT [--force --for DURATION]
  gatekeeper release --all [--repository R] (--dry-run | --yes)
  gatekeeper reconcile (--repository R | --all) [--dry-run] [--mode audit|enforce]
  gatekeeper breaker (status | reset)
  gatekeeper cost [--days N] [--format text|json] [--initial-scan-price USD] [--rescan-price USD]
  gatekeeper --version | --help | COMMAND --help

Commands:
  evaluate   decide one EventBridge event offline (no AWS calls); prints one JSON object
  policy     validate a policy file; list exceptions expiring soon
  check      the CI gate: find the image in ECR, wait for its scan, print the verdict; exit 0 for
             pass/warn, 1 for block or held, 2 for errors and timeouts
  release    break-glass: put an image's quarantined tags back (or every image's, to uninstall)
  reconcile  evaluate images that existed before the gatekeeper (or whose events were lost) and act
  breaker    show or reset the circuit breaker that stops tag changes after too many
  cost       what Inspector's scanning costs, what runs, what to change (estimates; reads only)

AWS: the usual credential chain and AWS_REGION; AWS_ENDPOINT_URL points every call at a local
emulator. Commands that touch the gatekeeper's state read GATEKEEPER_STATE_TABLE and
GATEKEEPER_TOPIC_ARN (or --table, --topic), and the policy from --policy or GATEKEEPER_POLICY
(a file, s3://bucket/key or ssm:/name; the built-in default otherwise).

Examples:
  gatekeeper evaluate --event events/aws.inspector2-inspector2-scan-ecr-docs.json
  gatekeeper policy check policy.toml --within 30d
  gatekeeper check --repository team-a/api --tag \"$GIT_SHA\" --wait 15m --format sarif > gatekeeper.sarif
  gatekeeper release --repository team-a/api --digest sha256:... --reason \"INC-42 hotfix\" --force --for 24h
  gatekeeper reconcile --all --dry-run
  gatekeeper cost --days 30 --rescan-price 0.011

Exit status: 0 success (pass or warn for check), 1 a verdict that stops the pipeline (block, held),
an invalid policy, or a refused release; 2 unusable input, AWS errors and timeouts.
";

/// Why a command stopped: the exit code and one line for stderr.
#[derive(Debug)]
pub struct Fail {
    /// Exit code.
    pub code: u8,
    /// One line (no newline).
    pub message: String,
}

impl Fail {
    /// Exit 2: unusable input, AWS errors, timeouts.
    pub fn error(message: impl Into<String>) -> Fail {
        Fail {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<String> for Fail {
    fn from(message: String) -> Fail {
        Fail::error(message)
    }
}

impl From<gatekeeper::error::AwsError> for Fail {
    fn from(e: gatekeeper::error::AwsError) -> Fail {
        Fail::error(e.to_string())
    }
}

impl From<gatekeeper::error::Error> for Fail {
    fn from(e: gatekeeper::error::Error) -> Fail {
        Fail::error(e.to_string())
    }
}

impl From<gatekeeper::error::ConfigError> for Fail {
    fn from(e: gatekeeper::error::ConfigError) -> Fail {
        Fail::error(e.to_string())
    }
}

/// Why a command returned without an exit code of its own.
#[derive(Debug)]
pub enum Stop {
    /// `--help`: print the usage.
    Help,
    /// A failure, with its exit code.
    Fail(Fail),
}

impl<E: Into<Fail>> From<E> for Stop {
    fn from(e: E) -> Stop {
        Stop::Fail(e.into())
    }
}

/// What a command returns: its exit code, or why it stopped.
pub type Outcome = Result<ExitCode, Stop>;

/// `value` as pretty JSON for stdout, with the characters a terminal acts on (and markup) `\u`-escaped
/// like every message body ([`gatekeeper::message::escape_markup`]): still valid JSON, same values.
pub fn json_out<T: serde::Serialize>(value: &T) -> Result<String, Fail> {
    serde_json::to_string_pretty(value)
        .map(|json| gatekeeper::message::escape_markup(&json))
        .map_err(|e| Fail::error(e.to_string()))
}

/// Parses `rest` for a command; `--help` prints the usage.
pub fn parse(rest: &[String], flags: &[args::Flag]) -> Result<Args, Stop> {
    Args::parse(rest, flags).map_err(|e| e.map_or(Stop::Help, |m| Stop::Fail(Fail::error(m))))
}

fn main() -> ExitCode {
    // The audit trail of operator actions (one JSON line per tag change, with the caller's ARN) on
    // standard error; `GATEKEEPER_LOG` (an env-filter, e.g. `info`) shows more.
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEKEEPER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("audit=info"));
    tracing_subscriber::fmt()
        .json()
        .with_writer(|| audit_log::Escaping(std::io::stderr()))
        .with_env_filter(filter)
        .init();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match argv.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("--help", &[][..]),
    };
    let result: Outcome = match command {
        "evaluate" => evaluate::command(rest),
        "policy" => policy_cmd::command(rest),
        "check" => check::command(rest),
        "release" => ops::release(rest),
        "reconcile" => ops::reconcile(rest),
        "breaker" => ops::breaker(rest),
        "cost" => cost_cmd::command(rest),
        "--version" | "-V" | "version" => {
            println!("gatekeeper {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "--help" | "-h" | "help" => Err(Stop::Help),
        other => Err(Stop::Fail(Fail::error(format!(
            "unknown command {other:?}"
        )))),
    };
    match result {
        Ok(code) => code,
        Err(Stop::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(Stop::Fail(fail)) => {
            let hint = if fail.code == 2 && fail.message.starts_with("--")
                || fail.message.starts_with("unknown")
            {
                " (see gatekeeper --help)"
            } else {
                ""
            };
            // One line, whatever the message quotes from events, policies, files or AWS.
            eprintln!("gatekeeper: {}{hint}", escape::line(&fail.message));
            ExitCode::from(fail.code)
        }
    }
}
