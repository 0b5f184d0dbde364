//! A plausible verdict history of a registry over four months (seeded, so the same every run): eight
//! repositories shipping an image every few days, some blocked by a vulnerability and fixed by a
//! later image, some excepted, released or deleted. What the browser test renders and the README's
//! screenshot shows.

use gatekeeper::domain::history::{Cause, Change, Standing, Vulnerability};
use gatekeeper::domain::remediation::{Current, Remediation, Settings, Sla, analyze};
use gatekeeper::domain::time::{DAY, Epoch, date_epoch};
use gatekeeper::domain::{Decision, ImageRef, Severity};

use crate::faults::Rng;

/// The repositories and their rules.
const REPOSITORIES: [(&str, &str); 8] = [
    ("payments/api", "payments"),
    ("payments/worker", "payments"),
    ("web/frontend", "defaults"),
    ("web/bff", "defaults"),
    ("data/etl", "defaults"),
    ("platform/ingress", "platform"),
    ("ml/inference", "defaults"),
    ("tools/ci-runner", "tools"),
];

/// The vulnerabilities that block images in the sample.
const VULNERABILITIES: [(&str, Severity); 6] = [
    ("CVE-2026-41234", Severity::Critical),
    ("CVE-2026-39001", Severity::High),
    ("CVE-2025-55120", Severity::Critical),
    ("CVE-2026-10022", Severity::High),
    ("CVE-2026-31337", Severity::Critical),
    ("GHSA-2026-7xq4", Severity::High),
];

/// The report's "now": 2026-12-07T12:00:00Z.
pub fn now() -> Epoch {
    date_epoch(2026, 12, 7).unwrap_or(0) + DAY / 2
}

/// One repository's images over 120 days up to `now`.
struct Repository<'a> {
    name: &'a str,
    rule: &'a str,
    changes: Vec<Change>,
    /// When each image was pushed (an hour before its first verdict).
    pushed: std::collections::BTreeMap<String, Epoch>,
    /// Each image's digest and its standing now (`None`: deleted).
    images: Vec<(String, Option<Standing>, Vec<Vulnerability>)>,
}

impl Repository<'_> {
    fn change(
        &mut self,
        digest: &str,
        at: Epoch,
        from: Option<Standing>,
        to: Option<Standing>,
    ) -> &mut Change {
        let image = ImageRef::home(self.name, digest);
        let number = self.changes.len() as u64 + 1;
        let pushed_at = *self.pushed.entry(digest.to_string()).or_insert(at - 3600);
        self.changes.push(Change {
            from,
            to,
            pushed_at: Some(pushed_at),
            actor: format!("evt-{number}"),
            rule: self.rule.to_string(),
            tags: vec!["latest".into()],
            ..Change::new(&image, number, at, Cause::Scan)
        });
        let last = self.changes.len() - 1;
        &mut self.changes[last]
    }

    /// Ships images every few days; a shipped image is blocked now and then, and what happens to a
    /// blocked one later (a fix by the next image, an exception, a release, a deletion) is random.
    fn ship(&mut self, rng: &mut Rng, now: Epoch) {
        let block = Some(Standing::new(Decision::Block, false));
        // Every pushed image is `pending` until its first verdict.
        let pending = Some(Standing::new(Decision::Pending, false));
        let mut at = now - 120 * DAY + rng.below(5) as Epoch * DAY;
        let mut n = 0;
        while at < now {
            n += 1;
            let digest = format!("sha256:{:064x}", rng.next_u64() as u128 * 7919 + n);
            let blocked = rng.chance(0.3);
            if blocked {
                let (id, severity) = VULNERABILITIES[rng.below(VULNERABILITIES.len())];
                let blocking = vec![Vulnerability {
                    id: id.into(),
                    severity,
                }];
                self.change(&digest, at, pending, block).blocking = blocking.clone();
                let mut standing = block;
                let later = at + (1 + rng.below(6)) as Epoch * DAY;
                if later < now {
                    standing = self.resolve(rng, &digest, later, block);
                }
                self.images.push((
                    digest,
                    standing,
                    if standing == block { blocking } else { vec![] },
                ));
            } else {
                let decision = if rng.chance(0.3) {
                    Decision::Warn
                } else {
                    Decision::Pass
                };
                let to = Some(Standing::new(decision, false));
                self.change(&digest, at, pending, to);
                self.images.push((digest, to, vec![]));
            }
            at += (2 + rng.below(9)) as Epoch * DAY + rng.below(20_000) as Epoch;
        }
    }

    /// What happens to a blocked image later: mostly nothing (the next image fixes the tag), else an
    /// exception, a release or a deletion. Its standing after.
    fn resolve(
        &mut self,
        rng: &mut Rng,
        digest: &str,
        at: Epoch,
        block: Option<Standing>,
    ) -> Option<Standing> {
        match rng.below(10) {
            0 => {
                let to = Some(Standing::new(Decision::Pass, false));
                let id = self
                    .changes
                    .last()
                    .map(|c| c.blocking[0].id.clone())
                    .unwrap_or_default();
                let c = self.change(digest, at, block, to);
                c.cause = Cause::Exception;
                c.excepted = vec![id];
                to
            }
            1 => {
                let to = Some(Standing::new(Decision::Block, true));
                let c = self.change(digest, at, block, to);
                c.cause = Cause::Release;
                c.actor = "arn:aws:iam::123456789012:role/oncall".into();
                to
            }
            2 => {
                self.change(digest, at, block, None).cause = Cause::Deleted;
                None
            }
            _ => block,
        }
    }
}

/// The sample's history and its image records now.
pub fn history() -> (Vec<Change>, Vec<Current>) {
    let mut rng = Rng::new(20_261_207);
    let (mut changes, mut current) = (Vec::new(), Vec::new());
    for (name, rule) in REPOSITORIES {
        let mut repo = Repository {
            name,
            rule,
            changes: Vec::new(),
            pushed: std::collections::BTreeMap::new(),
            images: Vec::new(),
        };
        repo.ship(&mut rng, now());
        for (digest, standing, blocking) in repo.images {
            if let Some(standing) = standing {
                current.push(Current {
                    scope: name.to_string(),
                    digest,
                    standing,
                    blocking,
                });
            }
        }
        changes.extend(repo.changes);
    }
    (changes, current)
}

/// The sample's report over 30 and 90 days, with the default SLA.
pub fn report() -> Remediation {
    let (changes, current) = history();
    let settings = Settings {
        now: now(),
        since: now() - 400 * DAY,
        windows: vec![30, 90],
        sla: Sla::default(),
    };
    analyze(&changes, &current, &settings)
}
