//! `gatekeeper`: the ecr-gatekeeper command line, for CI pipelines and operators.

mod audit_log;
mod aws;
mod check;
mod cli;
mod cost_cmd;
mod evaluate;
mod ops;
mod policy_cmd;
mod report;
mod report_cmd;

use std::process::ExitCode;

use clap::error::ErrorKind;
use cli::Command;
use gatekeeper::domain::escape;

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

/// What a command returns: its exit code, or why it stopped.
pub type Outcome = Result<ExitCode, Fail>;

/// `value` as pretty JSON for stdout, with the characters a terminal acts on (and markup) `\u`-escaped
/// like every message body ([`gatekeeper::outbound::text::escape_markup`]): still valid JSON, same values.
pub fn json_out<T: serde::Serialize>(value: &T) -> Result<String, Fail> {
    serde_json::to_string_pretty(value)
        .map(|json| gatekeeper::outbound::text::escape_markup(&json))
        .map_err(|e| Fail::error(e.to_string()))
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
    let cli = match cli::parse(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    let result: Outcome = match cli.command {
        Command::Evaluate(args) => evaluate::command(args),
        Command::Policy { command } => policy_cmd::command(command),
        Command::Check(args) => check::command(args),
        Command::Release(args) => ops::release(args),
        Command::Reconcile(args) => ops::reconcile(args),
        Command::Breaker(args) => ops::breaker(args),
        Command::Cost(args) => cost_cmd::command(args),
        Command::Report(args) => report_cmd::command(args),
        Command::Completions { shell } => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&cli::completions(shell))
                .map(|()| ExitCode::SUCCESS)
                .map_err(|e| Fail::error(format!("stdout: {e}")))
        }
        Command::Version => {
            println!("gatekeeper {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(fail) => {
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

/// Help and version on stdout (exit 0, also for `gatekeeper` alone); a usage error as one line on
/// stderr, exit 2.
fn usage(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            print!("{}", e.render());
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "gatekeeper: {} (see gatekeeper --help)",
                escape::line(&cli::one_line(e))
            );
            ExitCode::from(2)
        }
    }
}
