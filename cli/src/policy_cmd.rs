//! `gatekeeper policy check FILE`: validate a policy, print every problem and every warning with its
//! line, and list the exceptions expiring soon.
//!
//! The checks are the cold start's: `Policy::parse`, then `verified_prefix` against the reserved
//! prefixes the deployment would use (GATEKEEPER_QUARANTINE_PREFIX / GATEKEEPER_HELD_PREFIX, else
//! the defaults `quarantined-` / `held-`).

use std::process::ExitCode;

use crate::{Fail, Outcome};
use gatekeeper::bootstrap::config::check_verified_prefixes;
use gatekeeper::domain::escape::line;
use gatekeeper::domain::policy::{Policy, Problem};
use gatekeeper::domain::time::{DAY, format_date};

/// `gatekeeper policy`'s commands.
#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file: every problem as FILE:LINE: field: message, and the exceptions
    /// expiring soon
    #[command(after_help = "Exit status: 0 valid, 1 invalid, 2 unreadable.")]
    Check(CheckArgs),
}

/// `gatekeeper policy check`'s options.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The policy file
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Check as of this time (2026-12-01 or 2026-12-01T10:00:00Z) instead of now
    #[arg(long, value_name = "TIME", value_parser = crate::cli::time)]
    pub now: Option<gatekeeper::domain::time::Epoch>,
    /// List the exceptions that expire within this duration
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::duration, default_value = "14d")]
    pub within: i64,
}

/// `gatekeeper policy check FILE [--now TIME] [--within DURATION]`.
pub fn command(command: PolicyCommand) -> Outcome {
    match command {
        PolicyCommand::Check(args) => check(
            &args.file,
            args.now.unwrap_or_else(gatekeeper::domain::time::now),
            args.within,
        ),
    }
}

fn check(file: &str, now: i64, within: i64) -> Outcome {
    let text = std::fs::read_to_string(file).map_err(|e| Fail::error(format!("{file}: {e}")))?;
    // Everything printed from here on quotes the file name and the policy: shown escaped.
    let shown_file = line(file);
    let refused = |count: usize| {
        Err(Fail {
            code: 1,
            message: format!("{file}: {count} problem(s); the policy was not accepted"),
        })
    };
    let policy = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            for p in &e.problems {
                println!("{}", problem_line(&shown_file, "", p));
            }
            return refused(e.problems.len());
        }
    };
    if let Err(e) = check_verified_prefixes(&policy, &crate::aws::tag_scheme()?) {
        println!("{shown_file}:?: {}", line(&e.to_string()));
        return refused(1);
    }
    for w in policy.warnings() {
        println!("{}", problem_line(&shown_file, "warning: ", w));
    }
    let rules = policy.rules().count();
    let expired = policy
        .exceptions()
        .iter()
        .filter(|e| e.expires <= now)
        .count();
    println!(
        "{shown_file}: valid (policy {}, {rules} rule(s), {} exception(s), {expired} expired, {} warning(s))",
        policy.hash(),
        policy.exceptions().len(),
        policy.warnings().len()
    );
    let soon = policy.expiring(now, within);
    if !soon.is_empty() {
        println!("exceptions expiring within {} days:", within / DAY);
        for e in soon {
            println!(
                "  {shown_file}:{}: {} for {} expires {} (in {} day(s)), owner {}{}",
                e.line,
                line(&e.id),
                line(&e.repositories.join(", ")),
                format_date(e.expires),
                (e.expires - now + DAY - 1) / DAY,
                line(&e.owner),
                e.ticket
                    .as_ref()
                    .map_or(String::new(), |t| format!(", ticket {}", line(t)))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `FILE:LINE: [warning: ]FIELD: MESSAGE`, one line, the policy's text shown escaped.
fn problem_line(shown_file: &str, kind: &str, p: &Problem) -> String {
    format!(
        "{shown_file}:{}: {kind}{}{}",
        p.line.map_or_else(|| "?".into(), |l| l.to_string()),
        p.field
            .as_ref()
            .map_or(String::new(), |f| format!("{}: ", line(f))),
        line(&p.message)
    )
}
