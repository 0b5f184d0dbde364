//! An Organization deployment over the in-memory fakes: a member's image is decided and acted on in
//! the member's registry, under state keys, messages and tickets of its own account and region; a
//! member the deployment cannot reach fails only its own images, loudly; images outside what the
//! deployment governs are left alone with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is a failed test

use serde_json::{Value, json};

use super::{Container, container};
use crate::domain::events::Incoming;
use crate::domain::{Finding, ImageRef, Place, Severity};
use crate::ports::fakes::{FakeFindings, FakeRegistry, FakeState, RecordingNotifier, poll_once};
use crate::service::{BatchReport, Record};

const REPO: &str = "team-a/api";
const DIGEST: &str = "sha256:5b5a96370efd56ae20a832244ae56e8e57b1035f493f728eb6cef026586782f7";
const HOME: &str = "123456789012";
const MEMBER: &str = "111111111111";
const DENIED: &str = "222222222222";

fn place(account: &str, region: &str) -> Place {
    Place {
        account: account.into(),
        region: region.into(),
    }
}

/// The same image (repository and digest) pushed to the deployment's own account and to two members,
/// with one CRITICAL finding; `DENIED`'s role does not trust the deployment.
struct Org {
    registry: FakeRegistry,
    findings: FakeFindings,
    notifier: RecordingNotifier,
    state: FakeState,
    gk: Container,
}

impl Org {
    fn new(governed: &[&str]) -> Org {
        let (registry, findings) = (FakeRegistry::default(), FakeFindings::default());
        registry.push(REPO, DIGEST, &["v1"], 1_799_999_000);
        for account in [MEMBER, DENIED] {
            let member = registry.member(&place(account, "eu-west-1"));
            member.push(REPO, DIGEST, &["v1"], 1_799_999_000);
        }
        registry.deny(&place(DENIED, "eu-west-1"));
        findings.set(
            DIGEST,
            vec![Finding::new("CVE-2026-41234", Severity::Critical)],
        );
        let (notifier, state) = (RecordingNotifier::default(), FakeState::default());
        let mut gk = container(&registry, &notifier, &state);
        gk.members = Some(governed.iter().map(|a| a.to_string()).collect());
        Org {
            registry,
            findings,
            notifier,
            state,
            gk,
        }
    }

    /// An organization whose member's image a scan event has blocked, in the member's registry.
    fn with_member_blocked() -> Self {
        let org = Org::new(&[]);
        let report = org.batch(&[scan("member", MEMBER, "eu-west-1")]);
        assert_eq!(report.retry, Vec::<String>::new());
        assert_eq!(org.tags(MEMBER), quarantined());
        org
    }

    fn tags(&self, account: &str) -> Option<Vec<String>> {
        match account {
            HOME => self.registry.tags(REPO, DIGEST),
            _ => (self.registry.member(&place(account, "eu-west-1"))).tags(REPO, DIGEST),
        }
    }

    fn batch(&self, records: &[Record]) -> BatchReport {
        poll_once(self.gk.handle_scan_batch(&self.findings, records, None))
            .expect("the batch ran to its end")
    }

    fn bodies(&self) -> Vec<Value> {
        (self.notifier.messages().iter())
            .map(|m| serde_json::from_str(&m.body).unwrap())
            .collect()
    }
}

/// Inspector's scan event for the image in `account` and `region`, as the delegated administrator's
/// bus receives it (the envelope is the administrator's).
fn scan(id: &str, account: &str, region: &str) -> Record {
    let arn = format!("arn:aws:ecr:{region}:{account}:repository/{REPO}");
    let event = json!({"version": "0", "id": id, "detail-type": "Inspector2 Scan", "source": "aws.inspector2",
        "time": "2026-11-22T10:00:00Z", "region": region, "account": HOME, "resources": [arn],
        "detail": {"scan-status": "INITIAL_SCAN_COMPLETE", "repository-name": arn, "image-digest": DIGEST,
            "image-tags": ["v1"], "finding-severity-counts": {"CRITICAL": 1, "TOTAL": 1}}});
    Record {
        id: format!("m-{id}"),
        incoming: Incoming::trusted(event),
    }
}

fn quarantined() -> Option<Vec<String>> {
    Some(vec![format!("quarantined-v1--{}", &DIGEST[7..19])])
}

#[test]
fn a_members_image_is_decided_and_acted_on_in_the_members_registry_under_its_own_keys() {
    let org = Org::with_member_blocked();
    assert_eq!(
        org.tags(HOME),
        Some(vec!["v1".to_string()]),
        "same name here, untouched"
    );
    let member_image = ImageRef {
        place: Some(place(MEMBER, "eu-west-1")),
        ..ImageRef::home(REPO, DIGEST)
    };
    assert_eq!(
        org.state.record(&member_image).decision.map(|d| d.as_str()),
        Some("block")
    );
    assert_eq!(
        org.state.record(&ImageRef::home(REPO, DIGEST)).decision,
        None
    );
    let member_message = org.bodies().remove(0);
    assert_eq!(member_message["image"]["account"], MEMBER);
    assert_eq!(member_message["image"]["region"], "eu-west-1");

    // The deployment's own image of the same name is its own change, under another key.
    let report = org.batch(&[scan("home", HOME, "eu-west-1")]);
    assert_eq!(report.retry, Vec::<String>::new());
    assert_eq!(org.tags(HOME), quarantined());
    let messages = org.notifier.messages();
    assert_eq!(messages.len(), 2);
    assert_ne!(messages[0].dedup_key, messages[1].dedup_key);
    assert!(messages[1].attributes.contains(&("account", HOME.into())));
    assert!(org.registry.deleted().is_empty());
}

#[test]
fn a_member_the_deployment_cannot_reach_fails_only_its_own_records_and_says_so_once_a_day() {
    let org = Org::new(&[]);
    let records = [
        scan("denied", DENIED, "eu-west-1"),
        scan("member", MEMBER, "eu-west-1"),
    ];
    let report = org.batch(&records);
    assert_eq!(report.retry, vec!["m-denied".to_string()]);
    assert_eq!(
        org.tags(MEMBER),
        quarantined(),
        "the other member is governed"
    );
    let alerts: Vec<Value> = (org.bodies().into_iter())
        .filter(|b| b["event_type"] == "alert")
        .collect();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["image"]["account"], DENIED);
    assert_eq!(alerts[0]["trigger"]["kind"], "unreachable");
    let subject = &org.notifier.messages()[0].subject;
    assert!(
        subject.contains("CANNOT ACT in account 222222222222"),
        "{subject}"
    );

    // Redelivered: still failed, not announced again the same day.
    let report = org.batch(&[scan("denied", DENIED, "eu-west-1")]);
    assert_eq!(report.retry, vec!["m-denied".to_string()]);
    let alerts = (org.bodies().iter())
        .filter(|b| b["event_type"] == "alert")
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn images_outside_the_governed_accounts_or_in_another_region_are_skipped_with_the_reason() {
    let org = Org::new(&[MEMBER]);
    let report = org.batch(&[
        scan("other-account", "333333333333", "eu-west-1"),
        scan("other-region", MEMBER, "us-east-1"),
    ]);
    assert_eq!(report.retry, Vec::<String>::new());
    let details: Vec<&str> = (report.outcomes.iter())
        .map(|o| {
            assert_eq!(o.status.as_str(), "skipped");
            o.detail.as_str()
        })
        .collect();
    assert!(
        details[0].contains("GATEKEEPER_GOVERNED_ACCOUNTS"),
        "{details:?}"
    );
    assert!(
        details[1].contains("the deployment in us-east-1 governs that region"),
        "{details:?}"
    );
    assert!(org.notifier.messages().is_empty());
    // A listed member is governed.
    let report = org.batch(&[scan("member", MEMBER, "eu-west-1")]);
    assert_eq!(report.outcomes[0].status.as_str(), "changed");
}

#[test]
fn a_rule_scoped_to_a_member_account_decides_for_that_accounts_images_only() {
    let mut org = Org::new(&[]);
    org.gk.policy = crate::domain::policy::Policy::parse(&format!(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nname = \"sandbox\"\naccounts = [\"{MEMBER}\"]\nrepositories = [\"*\"]\nmode = \"audit\"\n"
    ))
    .unwrap();
    let report = org.batch(&[
        scan("member", MEMBER, "eu-west-1"),
        scan("home", HOME, "eu-west-1"),
    ]);
    assert_eq!(report.retry, Vec::<String>::new());
    // The member's image is judged in audit: blocked on paper, its tags as they were.
    assert_eq!(org.tags(MEMBER), Some(vec!["v1".to_string()]));
    assert_eq!(
        org.tags(HOME),
        quarantined(),
        "the rule is not the deployment's own account's"
    );
    let bodies = org.bodies();
    let mode_and_rule = |account: &str| {
        let body = (bodies.iter())
            .find(|b| b["image"]["account"] == account)
            .unwrap();
        (body["mode"].as_str(), body["policy"]["rule"].as_str())
    };
    assert_eq!(mode_and_rule(MEMBER), (Some("audit"), Some("sandbox")));
    assert_eq!(mode_and_rule(HOME), (Some("enforce"), Some("defaults")));
}

#[test]
fn a_rule_scoped_by_ou_follows_each_accounts_ou_path_and_an_unknown_path_gets_the_strictest() {
    const UNLOCATED: &str = "333333333333";
    let mut org = Org::new(&[]);
    // Outside the sandbox OU a CRITICAL blocks, in audit; in it only an EPSS of 0.99 blocks,
    // enforced. The finding is CRITICAL without an EPSS: neither rule alone re-tags it.
    org.gk.policy = crate::domain::policy::Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\nmode = \"audit\"\n[[rule]]\nname = \"sandbox-ou\"\nous = [\"ou-ab12-22222222\"]\nrepositories = [\"*\"]\nblock = { epss = 0.99 }\nmode = \"enforce\"\n",
    )
    .unwrap();
    let sandbox = "r-ab12/ou-ab12-11111111/ou-ab12-22222222";
    org.registry
        .set_ou_path(&place(MEMBER, "eu-west-1"), sandbox);
    let unlocated = org.registry.member(&place(UNLOCATED, "eu-west-1"));
    unlocated.push(REPO, DIGEST, &["v1"], 1_799_999_000);
    let report = org.batch(&[
        scan("member", MEMBER, "eu-west-1"),
        scan("unlocated", UNLOCATED, "eu-west-1"),
        scan("home", HOME, "eu-west-1"),
    ]);
    assert_eq!(report.retry, Vec::<String>::new());
    // The member in the sandbox OU: no EPSS, no block; its tags as they were.
    assert_eq!(org.tags(MEMBER), Some(vec!["v1".to_string()]));
    // The member whose stack wrote no OU path, and the deployment's own account (no
    // GATEKEEPER_OU_PATH): judged by the strictest rule that could apply: a CRITICAL, enforced.
    assert_eq!(org.tags(UNLOCATED), quarantined());
    assert_eq!(org.tags(HOME), quarantined());
    let bodies = org.bodies();
    let rule_of = |account: &str| {
        let verdict = (bodies.iter())
            .find(|b| b["event_type"] == "verdict" && b["image"]["account"] == account)
            .unwrap();
        verdict["policy"]["rule"].as_str().map(str::to_string)
    };
    assert_eq!(rule_of(MEMBER).as_deref(), Some("sandbox-ou"));
    let strictest = Some("strictest of defaults, sandbox-ou");
    assert_eq!(rule_of(UNLOCATED).as_deref(), strictest);
    assert_eq!(rule_of(HOME).as_deref(), strictest);
    // Each unlocated account is named in an alert, once; the reason says what to fix.
    let alerts: Vec<&Value> = (bodies.iter())
        .filter(|b| b["event_type"] == "alert")
        .collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert!(alerts.iter().all(|a| a["trigger"]["kind"] == "unlocated"));
    let reasons = alerts[0]["reasons"].to_string();
    assert!(
        reasons.contains("its member stack wrote no OU path") && reasons.contains("OuPath"),
        "{reasons}"
    );
    assert!(
        alerts[1]["reasons"]
            .to_string()
            .contains("GATEKEEPER_OU_PATH")
    );

    // Located in the sandbox OU: its rule passes the image, and the block is released.
    org.registry
        .set_ou_path(&place(UNLOCATED, "eu-west-1"), sandbox);
    let report = org.batch(&[scan("unlocated-again", UNLOCATED, "eu-west-1")]);
    assert_eq!(report.retry, Vec::<String>::new());
    assert_eq!(org.tags(UNLOCATED), Some(vec!["v1".to_string()]));
    assert!(org.registry.deleted().is_empty());
}

#[test]
fn a_throttled_read_of_a_members_ou_path_is_retried_without_an_alert() {
    let mut org = Org::new(&[]);
    org.gk.policy = crate::domain::policy::Policy::parse(
        "version = 1\n[defaults]\nblock = \"CRITICAL\"\n[[rule]]\nous = [\"ou-ab12-22222222\"]\nrepositories = [\"*\"]\nmode = \"audit\"\n",
    )
    .unwrap();
    org.registry
        .set_ou_path(&place(MEMBER, "eu-west-1"), "r-ab12/ou-ab12-11111111");
    (org.gk.registry.hooks).fail(
        "ou_path",
        1,
        crate::ports::fakes::transient("ssm:GetParameter"),
    );
    let report = org.batch(&[scan("member", MEMBER, "eu-west-1")]);
    assert_eq!(report.retry, ["m-member"]);
    assert!(
        org.notifier.messages().is_empty(),
        "no alert for a throttle"
    );
    let report = org.batch(&[scan("member", MEMBER, "eu-west-1")]);
    assert_eq!(report.retry, Vec::<String>::new());
    assert_eq!(org.tags(MEMBER), quarantined(), "outside the audited OU");
}

#[test]
fn the_sweep_lists_the_named_members_registries_and_a_member_it_cannot_reach_fails_only_itself() {
    let org = Org::new(&[MEMBER, DENIED]);
    let settings = crate::service::SweepSettings::default();
    let report = poll_once(org.gk.sweep(&org.findings, &settings, "run-1"))
        .expect("the sweep ran to its end")
        .unwrap();
    // The image pushed in the window was never seen, here and in the reachable member.
    assert_eq!(report.lost_pushes, 2, "{report:?}");
    let member_image = ImageRef {
        place: Some(place(MEMBER, "eu-west-1")),
        ..ImageRef::home(REPO, DIGEST)
    };
    assert!(
        org.state.record(&member_image).exists,
        "admitted under the member's key"
    );
    assert!(org.state.record(&ImageRef::home(REPO, DIGEST)).exists);
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(report.failures[0].contains(DENIED), "{report:?}");
    let alerts = (org.bodies().into_iter())
        .filter(|b| b["trigger"]["kind"] == "unreachable")
        .count();
    assert_eq!(alerts, 1);
}

#[test]
fn governing_every_member_the_sweep_lists_the_members_inspector_scans_and_says_when_it_cannot_ask()
{
    let org = Org::new(&[]);
    org.findings.associate(MEMBER);
    org.findings.associate(HOME);
    let settings = crate::service::SweepSettings::default();
    let report = poll_once(org.gk.sweep(&org.findings, &settings, "run-1"))
        .expect("the sweep ran to its end")
        .unwrap();
    // Named by Inspector, not by any list: the member's lost push is found; the deployment's own
    // account, also listed by Inspector, is swept once; DENIED is no member Inspector names.
    assert_eq!(report.lost_pushes, 2, "{report:?}");
    assert!(report.failures.is_empty(), "{report:?}");

    // Inspector unreachable: the run fails loudly (not recorded), the own registry still swept.
    let org = Org::new(&[]);
    let findings = crate::ports::fakes::Hooked::new(org.findings.clone());
    (findings.hooks).fail(
        "members",
        1,
        crate::ports::fakes::transient("inspector2:ListMembers"),
    );
    let report = poll_once(org.gk.sweep(&findings, &settings, "run-2"))
        .expect("the sweep ran to its end")
        .unwrap();
    assert_eq!(report.lost_pushes, 1, "{report:?}");
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(
        report.failures[0].contains("inspector2:ListMembers"),
        "{report:?}"
    );
}

#[test]
fn the_sweep_reads_a_members_findings_as_its_registry_scans_them_whatever_the_home_registry_does() {
    // The security account has no repositories (so nothing says it scans with Inspector); the
    // member's image is blocked and due again.
    let org = Org::with_member_blocked();
    let empty_home = FakeRegistry::default();
    let member = empty_home.member(&place(MEMBER, "eu-west-1"));
    member.push(REPO, DIGEST, &[], 1_799_999_000);
    for tag in quarantined().unwrap() {
        member.push(REPO, DIGEST, &[&tag], 1_799_999_000);
    }
    let mut gk = container(&empty_home, &org.notifier, &org.state);
    gk.members = Some(Vec::new());
    let member_image = ImageRef {
        place: Some(place(MEMBER, "eu-west-1")),
        ..ImageRef::home(REPO, DIGEST)
    };
    poll_once(crate::ports::SweepSchedule::set_due(
        &org.state,
        &member_image,
        Some(1_799_999_999),
        None,
    ))
    .unwrap()
    .unwrap();
    let settings = crate::service::SweepSettings::default();
    let swept = poll_once(gk.sweep(&org.findings, &settings, "run-1"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (swept.due, swept.evaluated, swept.failures.len()),
        (1, 1, 0),
        "{swept:?}"
    );
    // Read as a basic scan, the image would have no findings and pass: it stays blocked.
    assert_eq!(member.tags(REPO, DIGEST), quarantined());
}
