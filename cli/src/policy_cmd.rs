//! `gatekeeper policy check FILE`: validate a policy, print every problem and every warning with its
//! line, and list the exceptions expiring soon.
//!
//! The checks are the cold start's: `Policy::parse`, then `verified_prefix` against the reserved
//! prefixes the deployment would use (GATEKEEPER_QUARANTINE_PREFIX / GATEKEEPER_HELD_PREFIX, else
//! the defaults `quarantined-` / `held-`).

use std::process::ExitCode;

use crate::args::opt;
use crate::{Fail, Outcome, Stop, parse};
use gatekeeper::config::check_verified_prefixes;
use gatekeeper::escape::line;
use gatekeeper::policy::{Policy, Problem};
use gatekeeper::time::{DAY, format_date};

/// `gatekeeper policy check FILE [--now TIME] [--within DURATION]`.
pub fn command(rest: &[String]) -> Outcome {
    let args = parse(rest, &[opt("now"), opt("within")])?;
    match args.positional.as_slice() {
        [sub, file] if sub == "check" => {
            check(file, args.time("now")?, args.duration("within", 14 * DAY)?)
        }
        [sub] if sub == "check" => Err(Stop::Fail(Fail::error("policy check needs a FILE"))),
        _ => Err(Stop::Fail(Fail::error(
            "expected: gatekeeper policy check FILE",
        ))),
    }
}

fn check(file: &str, now: i64, within: i64) -> Outcome {
    let text = std::fs::read_to_string(file).map_err(|e| Fail::error(format!("{file}: {e}")))?;
    // Everything printed from here on quotes the file name and the policy: shown escaped.
    let shown_file = line(file);
    let refused = |count: usize| {
        Err(Stop::Fail(Fail {
            code: 1,
            message: format!("{file}: {count} problem(s); the policy was not accepted"),
        }))
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
