//! `gatekeeper policy check FILE`: validate a policy, print every problem with its line, and list the
//! exceptions expiring soon.

use std::process::ExitCode;

use crate::args::opt;
use crate::{Fail, Outcome, Stop, parse};
use gatekeeper::escape::line;
use gatekeeper::policy::Policy;
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
    let policy = match Policy::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            for p in &e.problems {
                println!(
                    "{shown_file}:{}: {}{}",
                    p.line.map_or_else(|| "?".into(), |l| l.to_string()),
                    p.field
                        .as_ref()
                        .map_or(String::new(), |f| format!("{}: ", line(f))),
                    line(&p.message)
                );
            }
            return Err(Stop::Fail(Fail {
                code: 1,
                message: format!(
                    "{file}: {} problem(s); the policy was not accepted",
                    e.problems.len()
                ),
            }));
        }
    };
    let rules = policy.rules().count();
    let expired = policy
        .exceptions()
        .iter()
        .filter(|e| e.expires <= now)
        .count();
    println!(
        "{shown_file}: valid (policy {}, {rules} rule(s), {} exception(s), {expired} expired)",
        policy.hash(),
        policy.exceptions().len()
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
