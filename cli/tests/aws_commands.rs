//! The `gatekeeper` binary's AWS commands against moto: `check`, `release`, `reconcile`,
//! `release --all`, `breaker`, `cost` and `policy check`. The binary cannot send moto's account
//! header, so each test works in a region of its own in moto's default account.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use std::process::{Command, Output, Stdio};

use gatekeeper_tests::faults::FaultProxy;
use gatekeeper_tests::fixtures::{Aws, Setup, audit_lines, basic_finding, text};
use gatekeeper_tests::manifest::{DOCKER_V2, digest_of, hex12, image_manifest};
use gatekeeper_tests::moto::{Moto, workspace_root};
use serde_json::Value;

mod common;
use common::{assert_exit, scratch, stderr, stdout};

const ACCOUNT: &str = "123456789012";

fn command(aws: &Aws, setup: Option<&Setup>, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gatekeeper"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &aws.moto.endpoint)
        .env("AWS_REGION", &aws.region)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(args)
        .current_dir(workspace_root());
    if let Some(s) = setup {
        c.env("GATEKEEPER_STATE_TABLE", &s.table)
            .env("GATEKEEPER_TOPIC_ARN", &s.topic_arn);
    }
    c
}

fn run(aws: &Aws, setup: Option<&Setup>, args: &[&str]) -> Output {
    command(aws, setup, args).output().unwrap()
}

/// `gatekeeper check --repository <repo> <args>`, with no table or topic configured.
fn check(aws: &Aws, repo: &str, args: &[&str]) -> Output {
    run(
        aws,
        None,
        &[&["check", "--repository", repo], args].concat(),
    )
}

/// `gatekeeper <command> --repository <repo> <args>` with the setup's table and topic.
fn on_repo(aws: &Aws, setup: &Setup, command: &str, repo: &str, args: &[&str]) -> Output {
    run(
        aws,
        Some(setup),
        &[&[command, "--repository", repo], args].concat(),
    )
}

async fn region(name: &str) -> Aws {
    Aws::with(Moto::shared(), ACCOUNT, name).await
}

#[tokio::test]
async fn check_blocks_a_critical_image_passes_a_clean_one_and_prints_every_format() {
    let aws = region("ap-northeast-1").await;
    aws.create_repo("ci/app", "MUTABLE", &[]).await;
    let critical = basic_finding("CVE-2026-0001", "CRITICAL", "openssl");
    let low = |id| basic_finding(id, "LOW", "zlib");
    let bad = aws
        .push_scanned(
            "ci/app",
            "ci-bad",
            &["v1"],
            vec![critical, low("CVE-2026-0002")],
        )
        .await;
    aws.push_scanned("ci/app", "ci-good", &["v2"], vec![low("CVE-2026-0003")])
        .await;

    let blocked = check(&aws, "ci/app", &["--tag", "v1", "--format", "json"]);
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    let v: Value = serde_json::from_str(&stdout(&blocked)).unwrap();
    assert_eq!(
        (v["decision"].as_str(), v["image"]["digest"].as_str()),
        (Some("block"), Some(bad.as_str()))
    );
    assert_eq!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["level"] == "error")
            .count(),
        1
    );

    let passed = check(&aws, "ci/app", &["--tag", "v2"]);
    assert_eq!(passed.status.code(), Some(0), "{}", stderr(&passed));
    let table = stdout(&passed);
    assert!(table.contains("decision  PASS   scan complete"), "{table}");
    assert!(
        !table.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );

    let by_digest = check(&aws, "ci/app", &["--digest", &bad, "--format", "sarif"]);
    assert_eq!(by_digest.status.code(), Some(1));
    let sarif: Value = serde_json::from_str(&stdout(&by_digest)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let levels: Vec<(&str, &str)> = results
        .iter()
        .map(|r| (r["ruleId"].as_str().unwrap(), r["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        [("CVE-2026-0001", "error"), ("CVE-2026-0002", "note")]
    );
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"],
        "https://nvd.nist.gov/vuln/detail/CVE-2026-0001"
    );

    let strict = scratch("strict.toml", "version = 1\n[defaults]\nblock = \"LOW\"\n");
    let with_policy = check(&aws, "ci/app", &["--tag", "v2", "--policy", &strict]);
    assert_eq!(
        with_policy.status.code(),
        Some(1),
        "a stricter policy blocks the LOW finding"
    );
}

#[tokio::test]
async fn check_finds_a_tag_moved_to_its_quarantine_tag() {
    let aws = region("ap-southeast-2").await;
    aws.create_repo("ci/moved", "MUTABLE", &[]).await;
    let manifest = image_manifest("moved");
    let digest = digest_of(&manifest);
    let q = format!("quarantined-v3--{}", hex12(&digest));
    aws.push_manifest("ci/moved", &manifest, DOCKER_V2, &[&q])
        .await;
    aws.seed_basic_scan(
        "ci/moved",
        &digest,
        vec![basic_finding("CVE-2026-0004", "CRITICAL", "glibc")],
    )
    .await;
    let out = check(&aws, "ci/moved", &["--tag", "v3"]);
    assert_exit(&out, 1, &format!("ci/moved:v3 is now {q}"));
    let missing = check(&aws, "ci/moved", &["--tag", "nope"]);
    assert_exit(&missing, 2, "ci/moved:nope does not exist");
}

#[tokio::test]
async fn check_waits_for_the_scan_with_visible_progress_and_times_out_with_exit_two() {
    let aws = region("ca-central-1").await;
    aws.create_repo("ci/wait", "MUTABLE", &[]).await;
    let slow = aws.push("ci/wait", "wait-slow", &["w1"]).await;
    aws.push("ci/wait", "wait-never", &["w2"]).await;

    let timeout = check(
        &aws,
        "ci/wait",
        &["--tag", "w2", "--wait", "2s", "--interval", "1s"],
    );
    assert_exit(&timeout, 2, "timed out after 2s waiting for the scan");
    assert!(
        stderr(&timeout).contains("scan SCAN_NOT_FOUND, 0 finding(s)"),
        "progress: {}",
        stderr(&timeout)
    );

    let mut child = command(
        &aws,
        None,
        &[
            "check",
            "--repository",
            "ci/wait",
            "--tag",
            "w1",
            "--wait",
            "60s",
            "--interval",
            "1s",
            "--quiet-period",
            "1s",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // The scan is seeded only once check has looked and found none (its first progress line), so
    // the verdict it prints must come from waiting, whatever the machine's speed.
    let progress = stderr_lines(&mut child);
    let mut before = String::new();
    for l in progress.iter() {
        before.push_str(&l);
        before.push('\n');
        if l.contains("scan SCAN_NOT_FOUND, 0 finding(s)") {
            break;
        }
    }
    assert!(
        before.contains("scan SCAN_NOT_FOUND, 0 finding(s)"),
        "check ended before it looked: {before}"
    );
    aws.seed_basic_scan(
        "ci/wait",
        &slow,
        vec![basic_finding("CVE-2026-0005", "MEDIUM", "curl")],
    )
    .await;
    let after: String = progress.iter().map(|l| l + "\n").collect();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{before}{after}");
    assert!(
        after.contains("scan complete, 1 finding(s), unchanged for"),
        "{before}{after}"
    );
}

/// The child's stderr, line by line as it writes them (read on a thread of its own; the channel
/// closes when the child closes its stderr).
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(pipe).lines() {
            if tx.send(l.unwrap()).is_err() {
                break;
            }
        }
    });
    rx
}

#[tokio::test]
async fn reconcile_previews_then_acts_and_release_is_refused_until_forced() {
    let aws = region("eu-west-2").await;
    let setup = aws.standard_setup().await;
    aws.create_repo("rec/app", "MUTABLE", &[]).await;
    let critical = basic_finding("CVE-2026-0006", "CRITICAL", "openssl");
    let low = basic_finding("CVE-2026-0007", "LOW", "zlib");
    let bad = aws
        .push_scanned("rec/app", "rec-bad", &["v1", "latest"], vec![critical])
        .await;
    let good = aws
        .push_scanned("rec/app", "rec-good", &["v2"], vec![low])
        .await;
    let h = hex12(&bad);

    let preview = on_repo(&aws, &setup, "reconcile", "rec/app", &["--dry-run"]);
    assert!(preview.status.success(), "{}", stderr(&preview));
    assert!(
        stdout(&preview).contains(&format!("would add quarantined-v1--{h}")),
        "{}",
        stdout(&preview)
    );
    assert_eq!(
        aws.tags("rec/app", &bad).await.unwrap(),
        vec!["latest".to_string(), "v1".to_string()],
        "a dry run changes nothing"
    );
    assert!(aws.messages(&setup.subscriber_url).await.is_empty());

    let enforce = ["--mode", "enforce"];
    let acted = on_repo(&aws, &setup, "reconcile", "rec/app", &enforce);
    assert!(acted.status.success(), "{}", stderr(&acted));
    assert_eq!(
        aws.tags("rec/app", &bad).await.unwrap(),
        vec![
            format!("quarantined-latest--{h}"),
            format!("quarantined-v1--{h}")
        ]
    );
    assert_eq!(
        aws.tags("rec/app", &good).await.unwrap(),
        vec!["v2".to_string()]
    );
    let mut decisions: Vec<String> = aws
        .messages(&setup.subscriber_url)
        .await
        .iter()
        .map(|(_, b)| b["decision"].as_str().unwrap().to_string())
        .collect();
    decisions.sort();
    assert_eq!(decisions, ["block", "pass"]);

    let release = |args: &[&str]| {
        on_repo(
            &aws,
            &setup,
            "release",
            "rec/app",
            &[&["--digest", &bad], args].concat(),
        )
    };
    let refused = release(&["--reason", "hotfix"]);
    assert_exit(&refused, 1, "still blocks");
    let forced = release(&["--reason", "INC-7 hotfix", "--force", "--for", "2h"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(
        aws.tags("rec/app", &bad).await.unwrap(),
        vec!["latest".to_string(), "v1".to_string()]
    );
    // The audit trail on standard error: each tag change with the caller's identity and the reason.
    let lines = audit_lines(&stderr(&forced));
    let added: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["action"] == "add_tag")
        .collect();
    assert_eq!(added.len(), 2, "{lines:?}");
    for l in &added {
        assert!(text(&l["fields"]["actor"]).starts_with("arn:aws:"), "{l}");
        assert!(text(&l["fields"]["reason"]).contains("INC-7 hotfix"), "{l}");
    }
    let after = lines
        .iter()
        .find(|l| l["fields"]["action"] == "tags")
        .expect("the tags after");
    assert_eq!(after["fields"]["tags_after"], "latest,v1");
    let audit = aws.messages(&setup.subscriber_url).await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].1["event_type"], "release");
    assert!(
        text(&audit[0].1["actor"]).starts_with("arn:aws:"),
        "{}",
        audit[0].1
    );
    assert_eq!(audit[0].1["override"]["reason"], "INC-7 hotfix");

    // A second reconcile keeps the override: nothing changes, nothing is sent.
    let again = on_repo(&aws, &setup, "reconcile", "rec/app", &enforce);
    assert!(again.status.success());
    assert_eq!(
        aws.tags("rec/app", &bad).await.unwrap(),
        vec!["latest".to_string(), "v1".to_string()]
    );
    assert!(aws.messages(&setup.subscriber_url).await.is_empty());

    let usage = release(&["--reason", "x", "--force"]);
    assert_exit(&usage, 2, "--force needs --for DURATION");

    let status = run(&aws, Some(&setup), &["breaker", "status"]);
    assert_eq!(stdout(&status).trim(), "circuit breaker closed");

    // The verdict history those commands wrote, read back by `report` (the state table's `history`
    // index and its records now): the block, the pass and the release, none counted twice.
    let (path, page) = (scratch("report.json", ""), scratch("report.html", ""));
    let report = run(
        &aws,
        Some(&setup),
        &[
            "report",
            "--json",
            &path,
            "--html",
            &page,
            "--sla",
            "critical=7",
        ],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    let page = std::fs::read_to_string(&page).unwrap();
    assert!(
        page.contains("data-figure=\"released\"><span class=\"value\">1</span>"),
        "{page}"
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let now = &r["now"];
    assert_eq!(
        (
            now["blocked"].as_u64(),
            now["warned"].as_u64(),
            now["released"].as_u64()
        ),
        (Some(0), Some(0), Some(1)),
        "{r:#}"
    );
    let w30 = &r["windows"][0];
    assert_eq!(
        (w30["days"].as_u64(), w30["opened"].as_u64()),
        (Some(30), Some(1)),
        "{w30:#}"
    );
    // Fixed by the clean image if reconcile judged it after the blocked one, else resolved by the
    // release: one way or the other, once.
    let resolved = w30["fixed"]["count"].as_u64().unwrap() + w30["released"].as_u64().unwrap();
    assert_eq!(resolved, 1, "{w30:#}");
    assert_eq!(r["trend"].as_array().map(Vec::len), Some(90));
    assert_eq!(r["trend"][89]["blocks"], 1, "{r:#}");
    assert!(
        r["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "defaults"),
        "{r:#}"
    );
    // Each record expires with the history's retention (DynamoDB's TTL attribute).
    let items = aws
        .dynamodb
        .scan()
        .table_name(&setup.table)
        .send()
        .await
        .unwrap();
    let records: Vec<_> = (items.items().iter())
        .filter(|i| i["pk"].as_s().unwrap().starts_with("history#"))
        .collect();
    assert_eq!(records.len(), 3, "{records:#?}");
    for i in records {
        let at: i64 = i["history_at"].as_n().unwrap().parse().unwrap();
        let expires: i64 = i["expires_at"].as_n().unwrap().parse().unwrap();
        assert_eq!(expires - at, 400 * 86_400);
    }
}

#[tokio::test]
async fn reconcile_and_release_work_in_the_named_member_accounts_and_a_refusing_one_fails_alone() {
    let moto = Moto::shared();
    let aws = region("eu-north-1").await;
    let setup = aws.standard_setup().await;
    let member = Aws::with(moto, "210987654321", "eu-north-1").await;
    let refusing = Aws::with(moto, "310987654321", "eu-north-1").await;
    for m in [&member, &refusing] {
        m.create_repo("org/app", "MUTABLE", &[]).await;
    }
    let critical = basic_finding("CVE-2026-0008", "CRITICAL", "openssl");
    let bad = (member.push_scanned("org/app", "org-bad", &["v1"], vec![critical])).await;
    let untouched = refusing.push("org/app", "org-refusing", &["v1"]).await;
    // The binary reaches moto's STS through the fault proxy, which refuses one member's role.
    let proxy = FaultProxy::start(&moto.endpoint, 11).unwrap();
    proxy.deny_assume_role(&refusing.account);
    let central = |args: &[&str]| {
        let mut c = command(&aws, Some(&setup), args);
        c.env("GATEKEEPER_ACCOUNT_ID", ACCOUNT)
            .env("AWS_ENDPOINT_URL_STS", &proxy.endpoint)
            .env("GATEKEEPER_MEMBER_ROLE", "ecr-gatekeeper-member");
        c.output().unwrap()
    };
    let both = format!("{},{}", member.account, refusing.account);
    let reconciled = central(&[
        "reconcile",
        "--all",
        "--mode",
        "enforce",
        "--account",
        &both,
    ]);
    assert_exit(
        &reconciled,
        2,
        "account 310987654321 in eu-north-1: sts:AssumeRole",
    );
    let h = hex12(&bad);
    assert_eq!(
        member.tags("org/app", &bad).await.unwrap(),
        [format!("quarantined-v1--{h}")],
        "the member that answers is reconciled: {}",
        stdout(&reconciled)
    );
    assert!(stdout(&reconciled).contains("reconciled: 1 block changed"));
    assert_eq!(refusing.tags("org/app", &untouched).await.unwrap(), ["v1"]);
    let messages = aws.messages(&setup.subscriber_url).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].1["image"]["account"], member.account.as_str());

    // One member's image, released; then the member's whole registry, as an uninstall would.
    let digest = ["--repository", "org/app", "--digest", &bad];
    let one = [&["release", "--account", &member.account], &digest[..]].concat();
    let refused = central(&[&one[..], &["--reason", "INC-9"]].concat());
    assert_exit(&refused, 1, "still blocks");
    let all = ["release", "--all", "--yes", "--account", &member.account];
    let released = central(&all);
    assert!(released.status.success(), "{}", stderr(&released));
    assert_eq!(member.tags("org/app", &bad).await.unwrap(), ["v1"]);
    assert!(stdout(&released).contains("1 image(s) with quarantined or held tags"));

    // Members need the member role and the CLI's own account; a release names one account.
    let mut no_role = command(
        &aws,
        Some(&setup),
        &["reconcile", "--all", "--account", &member.account],
    );
    let no_role = no_role
        .env("GATEKEEPER_ACCOUNT_ID", ACCOUNT)
        .output()
        .unwrap();
    assert_exit(&no_role, 2, "give --member-role");
    let no_home = run(
        &aws,
        Some(&setup),
        &["reconcile", "--all", "--account", &member.account],
    );
    assert_exit(&no_home, 2, "--account needs GATEKEEPER_ACCOUNT_ID");
    let bad_role = central(&[
        "reconcile",
        "--all",
        "--account",
        &both,
        "--member-role",
        "a/b",
    ]);
    assert_exit(
        &bad_role,
        2,
        "--member-role \"a/b\": expected an IAM role name",
    );
    let two = central(
        &[
            &["release", "--account", &both],
            &digest[..],
            &["--reason", "x"],
        ]
        .concat(),
    );
    assert_exit(&two, 2, "release names one image: give one --account");
}

#[tokio::test]
async fn cost_reads_each_named_account_and_names_the_one_that_refuses() {
    let moto = Moto::shared();
    let aws = region("ap-east-1").await;
    let member = Aws::with(moto, "610987654321", "ap-east-1").await;
    let refusing = Aws::with(moto, "710987654321", "ap-east-1").await;
    for repo in ["team/web", "team/worker"] {
        member.create_repo(repo, "MUTABLE", &[]).await;
        member.push(repo, "cli-cost", &["v1"]).await;
    }
    let proxy = FaultProxy::start(&moto.endpoint, 13).unwrap();
    proxy.deny_assume_role(&refusing.account);
    let members = format!("{},{}", member.account, refusing.account);
    let accounts = format!("{ACCOUNT},{members}");
    let cost = |format: &str, accounts: &str| {
        let args = ["cost", "--format", format, "--account", accounts];
        let mut c = command(&aws, None, &args);
        c.env("GATEKEEPER_ACCOUNT_ID", ACCOUNT)
            .env("AWS_ENDPOINT_URL_STS", &proxy.endpoint)
            .env("GATEKEEPER_MEMBER_ROLE", "ecr-gatekeeper-member")
            .env("GATEKEEPER_GOVERNED_ACCOUNTS", &members);
        c.output().unwrap()
    };
    let json = cost("json", &accounts);
    assert_exit(
        &json,
        2,
        "account 710987654321 in ap-east-1: sts:AssumeRole",
    );
    let out: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let reports = out["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2, "{out}");
    assert_eq!(
        reports[0]["account"],
        Value::Null,
        "the CLI's own account first"
    );
    assert_eq!(reports[1]["account"], member.account.as_str());
    let unscanned = &reports[1]["unscanned_repositories"];
    assert_eq!(unscanned, &serde_json::json!(["team/web", "team/worker"]));
    assert_eq!(out["summary"]["accounts_read"], 2);
    assert_eq!(
        out["summary"]["failures"][0]["account"],
        refusing.account.as_str()
    );
    // `all`: the own account and the governed members, as the deployment takes them.
    let text = cost("text", "all");
    assert_exit(&text, 2, "sts:AssumeRole");
    let printed = stdout(&text);
    assert!(
        printed.contains("ECR scanning cost of account 610987654321 in ap-east-1"),
        "{printed}"
    );
    assert!(
        printed.contains("ECR scanning cost across 2 account(s)"),
        "{printed}"
    );
    assert!(printed.contains("not read: 1 account(s)"), "{printed}");
}

#[tokio::test]
async fn release_all_puts_every_quarantined_and_held_tag_back() {
    let aws = region("us-west-2").await;
    let setup = aws.standard_setup().await;
    aws.create_repo("un/one", "MUTABLE", &[]).await;
    aws.create_repo("un/two", "MUTABLE", &[]).await;
    let m1 = image_manifest("uninstall-1");
    let d1 = digest_of(&m1);
    let m2 = image_manifest("uninstall-2");
    let d2 = digest_of(&m2);
    aws.push_manifest(
        "un/one",
        &m1,
        DOCKER_V2,
        &[&format!("quarantined-v1--{}", hex12(&d1))],
    )
    .await;
    aws.push_manifest(
        "un/two",
        &m2,
        DOCKER_V2,
        &[&format!("held-v2--{}", hex12(&d2)), "keep"],
    )
    .await;
    aws.push("un/two", "other", &["v9"]).await;

    let dry = run(&aws, Some(&setup), &["release", "--all", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stdout(&dry).contains(
            "2 image(s) with quarantined or held tags; 4 tag change(s) would be made (dry run)"
        ),
        "{}",
        stdout(&dry)
    );
    assert_eq!(aws.tags("un/one", &d1).await.unwrap().len(), 1);

    let needs_choice = run(&aws, Some(&setup), &["release", "--all"]);
    assert_eq!(needs_choice.status.code(), Some(2));

    let done = run(&aws, Some(&setup), &["release", "--all", "--yes"]);
    assert!(done.status.success(), "{}", stderr(&done));
    assert_eq!(
        aws.tags("un/one", &d1).await.unwrap(),
        vec!["v1".to_string()]
    );
    assert_eq!(
        aws.tags("un/two", &d2).await.unwrap(),
        vec!["keep".to_string(), "v2".to_string()]
    );
}

#[test]
fn policy_check_lists_every_problem_with_its_line_and_the_exceptions_expiring_soon() {
    let good = scratch(
        "good.toml",
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n\n[[exception]]\nid = \"CVE-2026-1\"\nrepositories = [\"*\"]\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"sec\"\nticket = \"SEC-1\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
        .args(["policy", "check", &good, "--now", "2026-11-25"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("valid (policy"), "{text}");
    assert!(
        text.contains(
            ":5: CVE-2026-1 for * expires 2026-12-01 (in 6 day(s)), owner sec, ticket SEC-1"
        ),
        "{text}"
    );

    let bad = scratch(
        "bad.toml",
        "version = 1\n[[rule]]\nname = \"x\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"*\"]\ncreated = 2026-11-01\nexpires = 2026-10-01\nowner = \"o\"\nreason = \"r\"\n",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
        .args(["policy", "check", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<String> = stdout(&out)
        .lines()
        .map(|l| l.replace(&bad, "bad.toml"))
        .collect();
    assert_eq!(
        lines,
        [
            "bad.toml:1: defaults.block: nothing in this policy can ever block: neither [defaults] nor any [[rule]] has a block criterion. Set one (block = \"CRITICAL\"), or say it is meant: mode = \"audit\" on [defaults] and every rule, or allow_no_block = true at the top",
            "bad.toml:2: rule[0].repositories: a rule needs at least one non-empty repository pattern (\"team-a/*\")",
            "bad.toml:8: exception[0].expires: must be after created (2026-11-01)"
        ]
    );
    assert!(stderr(&out).contains("3 problem(s)"));
}

#[test]
fn policy_check_prints_one_warning_line_each_and_refuses_an_overflowing_within() {
    let file = scratch(
        "warn.toml",
        "version = 1\n[defaults]\nblock = \"LOW\"\nwarn = \"CRITICAL\"\n[[exception]]\nid = \"CVE-1\"\nrepositories = [\"Team/*\"]\ncreated = 2026-11-01\nexpires = 2026-12-01\nreason = \"r\"\nowner = \"o\"\n",
    );
    let check = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_gatekeeper"))
            .env_remove("GATEKEEPER_QUARANTINE_PREFIX")
            .env_remove("GATEKEEPER_HELD_PREFIX")
            .env_remove("GATEKEEPER_VERIFIED_PREFIX")
            .args(["policy", "check", &file])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = check(&["--now", "2026-11-25"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out).replace(&file, "warn.toml");
    let warnings: Vec<&str> = text.lines().filter(|l| l.contains(": warning: ")).collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(
        warnings[0].starts_with(
            "warn.toml:2: warning: defaults.warn: warn (CRITICAL) is above block (LOW)"
        ),
        "{text}"
    );
    assert!(
        warnings[1].starts_with(
            "warn.toml:7: warning: exception[0].repositories: pattern \"Team/*\" can never match"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 exception(s), 0 expired, 2 warning(s))"),
        "{text}"
    );

    for within in ["9223372036854775807s", "99999999999999999999d", "3651d"] {
        let out = check(&["--within", within]);
        assert_exit(&out, 2, "longer than the 10-year limit");
    }
    let out = check(&["--within", "3650d", "--now", "2026-11-25"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("exceptions expiring within 3650 days:"));
}
