//! The `gatekeeper` binary's command line as people and scripts meet it: help that lists every
//! command and flag, usage errors as one line with exit 2, completion scripts, environment variables.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::Value;

mod common;
use common::*;

const EVENT: &str = "events/aws.inspector2-inspector2-scan-ecr-docs.json";

const COMMANDS: [&str; 9] = [
    "evaluate",
    "policy",
    "check",
    "release",
    "reconcile",
    "breaker",
    "cost",
    "completions",
    "version",
];

#[test]
fn help_lists_every_command_with_examples_and_exit_status_on_stdout() {
    for args in [&["--help"][..], &["help"], &[]] {
        let out = gatekeeper(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        let help = stdout(&out);
        for command in COMMANDS {
            assert!(
                help.lines().any(|l| l.trim_start().starts_with(command)),
                "{args:?}: {command} missing from\n{help}"
            );
        }
        for section in [
            "Examples:",
            "Exit status:",
            "GATEKEEPER_POLICY",
            "AWS_REGION",
        ] {
            assert!(help.contains(section), "{args:?}: {section} missing");
        }
    }
}

#[test]
fn each_command_s_help_lists_its_flags() {
    let cases: [(&[&str], &[&str]); 8] = [
        (
            &["evaluate"],
            &["--event", "--findings", "--policy", "--now"],
        ),
        (&["policy", "check"], &["<FILE>", "--now", "--within"]),
        (
            &["check"],
            &[
                "--repository",
                "--tag",
                "--digest",
                "--wait",
                "--quiet-period",
                "--interval",
                "--format",
                "--policy",
            ],
        ),
        (
            &["release"],
            &[
                "--repository",
                "--digest",
                "--reason",
                "--force",
                "--for",
                "--all",
                "--dry-run",
                "--yes",
                "--policy",
                "--table",
                "--topic",
                "--mode",
            ],
        ),
        (
            &["reconcile"],
            &[
                "--repository",
                "--all",
                "--dry-run",
                "--policy",
                "--table",
                "--topic",
                "--mode",
            ],
        ),
        (&["breaker"], &["status", "reset", "--table", "--topic"]),
        (
            &["cost"],
            &[
                "--days",
                "--format",
                "--initial-scan-price",
                "--rescan-price",
                "--account",
                "--member-role",
                "--region",
            ],
        ),
        (&["completions"], &["bash", "zsh", "fish"]),
    ];
    for (command, flags) in cases {
        let args: Vec<&str> = command.iter().copied().chain(["--help"]).collect();
        let out = gatekeeper(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let help = stdout(&out);
        for flag in flags {
            assert!(
                help.split_whitespace()
                    .any(|w| w.trim_matches([',', ':', '[', ']']) == *flag),
                "{args:?}: {flag} missing from\n{help}"
            );
        }
    }
}

#[test]
fn the_environment_variables_a_flag_falls_back_to_are_in_its_help() {
    let help = stdout(&gatekeeper(&["release", "--help"]));
    for var in [
        "GATEKEEPER_POLICY",
        "GATEKEEPER_STATE_TABLE",
        "GATEKEEPER_TOPIC_ARN",
        "GATEKEEPER_MODE",
    ] {
        assert!(help.contains(&format!("[env: {var}")), "{var}:\n{help}");
    }
}

#[test]
fn a_usage_error_exits_two_with_one_line_on_stderr_naming_the_problem() {
    let cases: [(&[&str], &str); 9] = [
        (
            &["evaluate", "--event", EVENT, "--nope"],
            "unknown option --nope",
        ),
        (&["evaluate", "--event"], "--event needs a value"),
        (&["evaluate"], "--event is required"),
        (
            &["check", "--repository", "r"],
            "--tag or --digest is required",
        ),
        (
            &["check", "--repository", "r", "--tag", "t", "--wait", "soon"],
            "--wait \"soon\": expected a duration such as 90s, 15m, 2h or 7d",
        ),
        (
            &["policy", "check", "p.toml", "--now", "yesterday"],
            "--now \"yesterday\": expected a date or an RFC 3339 time",
        ),
        (
            &["cost", "--format", "yaml"],
            "--format \"yaml\": expected text or json",
        ),
        (&["breaker", "open"], "expected status or reset"),
        (&["release", "--all", "--yes=1"], "'--yes'"),
    ];
    for (args, expected) in cases {
        let out = gatekeeper(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("gatekeeper: "), "{args:?}: {err}");
        assert!(
            err.ends_with(" (see gatekeeper --help)\n"),
            "{args:?}: {err}"
        );
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_usage_error_quoting_a_hostile_value_stays_one_escaped_line() {
    let out = gatekeeper_with(
        &[
            "check",
            "--repository",
            "r",
            "--tag",
            "t",
            "--wait",
            "1\u{1b}[2J\r\nFORGED",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\r'), "{err:?}");
}

#[test]
fn completions_print_a_script_naming_every_command() {
    let bash = gatekeeper(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0), "{}", stderr(&bash));
    let script = stdout(&bash);
    assert!(script.contains("_gatekeeper()"), "{script}");
    assert!(script.contains("complete -F _gatekeeper"), "{script}");
    for command in COMMANDS {
        assert!(script.contains(command), "{command} missing");
    }
    for flag in ["--quiet-period", "--initial-scan-price", "--dry-run"] {
        assert!(script.contains(flag), "{flag} missing");
    }
    for (shell, marker) in [
        ("zsh", "#compdef gatekeeper"),
        ("fish", "complete -c gatekeeper"),
    ] {
        let out = gatekeeper(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(stdout(&out).contains(marker), "{shell}");
    }
}

#[test]
fn gatekeeper_policy_picks_the_policy_for_evaluate_and_the_flag_wins() {
    let strict = scratch("strict.toml", "version = 1\n[defaults]\nblock = \"HIGH\"\n");
    let lenient = scratch(
        "lenient.toml",
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n",
    );
    let decide = |args: &[&str], env: &[(&str, &str)]| {
        let out = gatekeeper_with(args, env);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["reasons"][0].as_str().unwrap().to_string()
    };
    let builtin = decide(&["evaluate", "--event", EVENT], &[]);
    assert!(builtin.contains("at or above CRITICAL"), "{builtin}");
    let from_env = decide(
        &["evaluate", "--event", EVENT],
        &[("GATEKEEPER_POLICY", &strict)],
    );
    assert!(from_env.contains("at or above HIGH"), "{from_env}");
    let flag_wins = decide(
        &["evaluate", "--event", EVENT, "--policy", &lenient],
        &[("GATEKEEPER_POLICY", &strict)],
    );
    assert!(flag_wins.contains("at or above CRITICAL"), "{flag_wins}");
    // Set but blank counts as unset, as in the functions' configuration.
    let blank = decide(
        &["evaluate", "--event", EVENT],
        &[("GATEKEEPER_POLICY", " ")],
    );
    assert_eq!(blank, builtin);
}

#[test]
fn evaluate_refuses_a_gatekeeper_policy_it_would_have_to_fetch_from_aws() {
    let out = gatekeeper_with(
        &["evaluate", "--event", EVENT],
        &[("GATEKEEPER_POLICY", "s3://bucket/policy.toml")],
    );
    assert_exit(
        &out,
        2,
        "policy s3://bucket/policy.toml: evaluate makes no AWS calls",
    );
}

#[test]
fn gatekeeper_mode_is_checked_like_the_flag() {
    let out = gatekeeper_with(&["reconcile", "--all"], &[("GATEKEEPER_MODE", "enforcing")]);
    assert_exit(&out, 2, "--mode \"enforcing\": expected audit or enforce");
}

#[test]
fn version_prints_the_crate_version_on_stdout() {
    for args in [&["--version"][..], &["-V"], &["version"]] {
        let out = gatekeeper(args);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            stdout(&out).trim(),
            format!("gatekeeper {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
