//! Terminal injection through the `gatekeeper` binary: text from policies, events and file names
//! reaches stdout and stderr escaped, never as the raw characters a terminal acts on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::Value;

mod common;
use common::*;

/// Screen clear, an OSC 8 link, BEL, CR, backspace, a forged line, DEL, CSI (C1), a right-to-left
/// override, an isolate and a line separator.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]8;;https://evil.example\u{7}x\u{1b}]8;;\u{7}\r\u{8}\ngatekeeper: forged\u{7f}\u{9b}2J\u{202e}\u{2066}\u{2028}";

/// The raw characters of [`HOSTILE`] a terminal would act on (`\n` is checked by counting lines).
const RAW: &[char] = &[
    '\u{1b}', '\u{7}', '\r', '\u{8}', '\u{7f}', '\u{9b}', '\u{202e}', '\u{2066}', '\u{2028}',
];

fn assert_no_raw(what: &str, text: &str) {
    for c in RAW {
        assert!(!text.contains(*c), "{what}: raw {c:?} in {text:?}");
    }
}

#[test]
fn policy_check_lists_hostile_exception_fields_escaped_one_line_each() {
    // TOML spells the controls as escapes; the parsed strings hold the raw characters.
    let policy = scratch(
        "hostile.toml",
        r#"version = 1
[defaults]
block = "CRITICAL"
[[exception]]
id = "CVE-2026-1\u001b[2J"
repositories = ["team\u202e/*", "\u001b(0x\u0007*"]
created = 2026-11-20
expires = 2026-11-25
reason = "r"
owner = "me\r\ngatekeeper: forged\u009b2J"
ticket = "\u2066T\u2069\u0008\u007f\u2028"
severity = "HIGH"
"#,
    );
    let out = gatekeeper(&["policy", "check", &policy, "--now", "2026-11-21T00:00:00Z"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert_no_raw("policy check", &stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // Two warnings (neither pattern can name an ECR repository), the summary, the heading, the entry.
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[0].contains(": warning: exception[0].repositories: pattern"),
        "{}",
        lines[0]
    );
    assert!(
        lines[4]
            .contains("CVE-2026-1\\x1b[2J for team\\u{202e}/*, \\x1b(0x\\x07* expires 2026-11-25"),
        "{}",
        lines[4]
    );
    assert!(
        lines[4].ends_with(
            "owner me\\r\\ngatekeeper: forged\\x9b2J, ticket \\u{2066}T\\u{2069}\\x08\\x7f\\u{2028}"
        ),
        "{}",
        lines[4]
    );
}

#[test]
fn policy_problems_and_a_hostile_file_name_are_shown_escaped() {
    let name = format!("bad{HOSTILE}.toml").replace(['\n', '/'], "_");
    let policy = scratch(
        &name,
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n\"x\\u001b[2J\\u202e\\n\" = 1\n",
    );
    let out = gatekeeper(&["policy", "check", &policy]);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_no_raw("problems", &stdout);
    assert_no_raw("error", &stderr);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // The unknown key, decoded by TOML, is quoted with its controls escaped.
    assert!(
        stdout.contains("unknown field `x\\x1b[2J\\u{202e}\\n`"),
        "{stdout}"
    );
    // The file name, in the problem line and in the error line.
    let shown_name = "bad\\x1b[2J\\x1b]8;;https:__evil.example\\x07x";
    assert!(stdout.contains(shown_name), "{stdout}");
    assert!(stderr.contains(shown_name), "{stderr}");
}

#[test]
fn evaluate_prints_hostile_repository_and_tags_as_json_escapes_that_decode_unchanged() {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("events/aws.inspector2-inspector2-scan-ecr-docs.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let repository = format!("team/{HOSTILE}");
    let tag = format!("v1{HOSTILE}");
    event["detail"]["repository-name"] = Value::from(repository.as_str());
    event["detail"]["image-tags"] = serde_json::json!([tag]);
    let path = scratch("hostile-event.json", &event.to_string());
    let out = gatekeeper(&["evaluate", "--event", &path]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_raw("evaluate", &stdout);
    assert!(stdout.contains(r#""team/\u001b[2J\u001b]8;;"#), "{stdout}");
    assert!(stdout.contains(r"\u009b2J\u202e\u2066\u2028"), "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["image"]["repository"], repository.as_str());
    assert_eq!(v["image"]["tags"][0], tag.as_str());
    assert_eq!(v["decision"], "block");
}

#[test]
fn evaluate_errors_quoting_hostile_names_stay_one_escaped_line() {
    let missing = format!("/nonexistent/{HOSTILE}.json");
    let not_json = scratch(&format!("x{HOSTILE}.json").replace(['\n', '/'], "_"), "{");
    let bad_policy = scratch(
        "hostile-key.toml",
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n\"k\\u001b]0;pwned\\u0007\\r\\n\" = 1\n",
    );
    let cases: [(&[&str], &str); 3] = [
        (
            &["evaluate", "--event", &missing],
            "/nonexistent/\\x1b[2J\\x1b]8;;https://evil.example\\x07x\\x1b]8;;\\x07\\r\\x08\\ngatekeeper: forged\\x7f\\x9b2J\\u{202e}\\u{2066}\\u{2028}.json: No such file",
        ),
        (&["evaluate", "--event", &not_json], "\\x1b[2J"),
        (
            &[
                "evaluate",
                "--event",
                "events/aws.inspector2-inspector2-scan-ecr-docs.json",
                "--policy",
                &bad_policy,
            ],
            "k\\x1b]0;pwned\\x07\\r\\n",
        ),
    ];
    for (args, shown) in cases {
        let out = gatekeeper(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_no_raw("evaluate error", &stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("gatekeeper: "), "{stderr}");
        assert!(stderr.contains(shown), "{args:?}: {stderr}");
    }
}
