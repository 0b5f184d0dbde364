//! `gatekeeper`: the ecr-gatekeeper command line, for CI pipelines and operators.

mod args;
mod evaluate;

use std::process::ExitCode;

use serde_json::Value;

use args::{Args, opt};
use gatekeeper::policy::Policy;

const USAGE: &str = "\
gatekeeper: ECR image verdicts for CI pipelines and operators

Usage:
  gatekeeper evaluate --event FILE [--findings FILE] [--policy FILE]
  gatekeeper --version | --help

Commands:
  evaluate   Decide on one EventBridge event offline (no AWS calls) and print one JSON object:
             {\"kind\", \"image\", \"decision\", \"counts\", \"reasons\"}. Without --findings, a scan event
             is decided on its severity counts, a finding event on that finding, a coverage event on
             its scan status; a push is pending, an ignored event is skip.

Examples:
  gatekeeper evaluate --event events/aws.inspector2-inspector2-scan-ecr-docs.json
  gatekeeper evaluate --event scan.json --findings list-findings.json --policy policy.toml

Exit status: 0 when a decision was printed, 2 for unusable input (one line on stderr).
";

fn read_json(path: &str, what: &str) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{what} {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{what} {path}: not JSON: {e}"))
}

fn read_policy(path: Option<&str>) -> Result<Policy, String> {
    match path {
        None => Ok(Policy::builtin()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("policy {path}: {e}"))?;
            Policy::parse(&text).map_err(|e| format!("policy {path}: {e}"))
        }
    }
}

fn evaluate_cmd(rest: &[String]) -> Result<ExitCode, Option<String>> {
    let args = Args::parse(rest, &[opt("event"), opt("findings"), opt("policy")])?;
    let event = read_json(args.require("event")?, "event")?;
    let findings = args
        .get("findings")
        .map(|p| read_json(p, "findings"))
        .transpose()?;
    let policy = read_policy(args.get("policy"))?;
    let out = evaluate::run(&event, findings.as_ref(), &policy)?;
    let json = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match argv.split_first() {
        Some((c, rest)) => (c.as_str(), rest),
        None => ("--help", &[][..]),
    };
    let result = match command {
        "evaluate" => evaluate_cmd(rest),
        "--version" | "-V" | "version" => {
            println!("gatekeeper {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "--help" | "-h" | "help" => Err(None),
        other => Err(Some(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(code) => code,
        Err(None) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(Some(message)) => {
            eprintln!("gatekeeper: {message} (see gatekeeper --help)");
            ExitCode::from(2)
        }
    }
}
