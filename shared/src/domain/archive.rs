//! When a blocked image is archived (a rule's `on_block`): at once, at a deadline while it is in use,
//! or never. Pure: the caller reads Inspector's and ECR's view of the image's use.

use crate::domain::Finding;
use crate::domain::policy::{OnBlock, Rule};
use crate::domain::time::{DAY, Epoch, format_date};
use crate::domain::verdict::kev_grace;

/// A pull ECR records this close to one of the gatekeeper's own tag changes (its BatchGetImage
/// reads the manifest) is taken for the gatekeeper's own.
pub const OWN_PULL_SLACK: Epoch = 300;

/// How an image is used, as Inspector and ECR say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Inspector's largest `inUseCount` over the image's findings (`None`: no finding says).
    pub in_use_count: Option<u64>,
    /// Inspector's latest `lastInUseAt` (`None`: no finding says).
    pub last_in_use_at: Option<Epoch>,
    /// ECR's `lastRecordedPullTime` as read before the gatekeeper's own BatchGetImage, when
    /// someone else's (`None`: never pulled, or only by the gatekeeper).
    pub pulled_at: Option<Epoch>,
}

impl Usage {
    /// The use the findings report (a field one finding leaves out is not known: in use), and ECR's
    /// pull time unless it falls within [`OWN_PULL_SLACK`] of one of the gatekeeper's own pulls (`own`).
    pub fn of(findings: &[Finding], pulled_at: Option<Epoch>, own: &[Epoch]) -> Usage {
        let pulled_at = pulled_at.filter(|p| !own.iter().any(|a| (p - a).abs() <= OWN_PULL_SLACK));
        let all = |field: fn(&Finding) -> Option<u64>| -> Option<u64> {
            findings
                .iter()
                .map(field)
                .collect::<Option<Vec<u64>>>()?
                .into_iter()
                .max()
        };
        let last = findings
            .iter()
            .map(|f| f.last_in_use_at)
            .collect::<Option<Vec<Epoch>>>()
            .and_then(|v| v.into_iter().max());
        Usage {
            in_use_count: all(|f| f.in_use_count),
            last_in_use_at: last,
            pulled_at,
        }
    }

    /// Why the image counts as in use at `now` for a rule's `not_in_use_for`, or `None` when it is
    /// unused: Inspector must say so (no running task or pod, last in use before the window; an
    /// absent field means in use) and ECR must have recorded no pull inside the window.
    pub fn in_use(&self, now: Epoch, not_in_use_for: Epoch) -> Option<String> {
        let since = now.saturating_sub(not_in_use_for);
        let window = span(not_in_use_for);
        match (self.in_use_count, self.last_in_use_at) {
            (Some(n), _) if n > 0 => return Some(format!("{n} running ECS task(s) or EKS pod(s)")),
            (None, _) => return Some("Inspector does not say whether it runs".into()),
            (_, None) => return Some("Inspector does not say when it last ran".into()),
            (_, Some(t)) if t > since => {
                return Some(format!("it ran on {} (within {window})", format_date(t)));
            }
            _ => {}
        }
        match self.pulled_at {
            Some(p) if p > since => Some(format!(
                "ECR recorded a pull on {} (within {window})",
                format_date(p)
            )),
            _ => None,
        }
    }
}

/// When and why a blocked image is archived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveTiming {
    /// When: the block's time for one archived at once, the deadline for one in use.
    pub at: Epoch,
    /// Why then, in one line.
    pub why: String,
}

/// When a block under `rule` archives the image blocked at `blocked_at` (`None`: it does not).
/// `blocking` are the findings that block it. An image in use gets the shortest grace the rule
/// gives those findings in use (shortened to KEV's interval), never less than `min_grace`.
pub fn archive_timing(
    rule: &Rule,
    blocking: &[&Finding],
    usage: &Usage,
    blocked_at: Epoch,
) -> Option<ArchiveTiming> {
    match rule.on_block {
        OnBlock::Retag => None,
        OnBlock::Archive => Some(ArchiveTiming {
            at: blocked_at,
            why: format!(
                "rule {} archives blocked images (on_block = \"archive\")",
                rule.name
            ),
        }),
        OnBlock::Runtime => Some(match usage.in_use(blocked_at, rule.not_in_use_for) {
            None => ArchiveTiming {
                at: blocked_at,
                why: format!(
                    "not in use for {} (Inspector and ECR's last pull): archived at once",
                    span(rule.not_in_use_for)
                ),
            },
            Some(how) => {
                let grace = blocking
                    .iter()
                    .map(|f| {
                        let g = rule.grace_for(f.severity, true).unwrap_or(0);
                        kev_grace(rule, f, g)
                    })
                    .min()
                    .unwrap_or(0)
                    .max(rule.min_grace);
                let at = blocked_at.saturating_add(grace);
                ArchiveTiming {
                    at,
                    why: format!(
                        "in use ({how}): archives on {} unless fixed or excepted",
                        format_date(at)
                    ),
                }
            }
        }),
    }
}

/// A duration as `14d` or `36h`.
pub fn span(secs: Epoch) -> String {
    if secs % DAY == 0 {
        format!("{}d", secs / DAY)
    } else {
        format!("{}h", (secs + 3599) / 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;
    use crate::domain::{Kev, Severity};

    const NOW: Epoch = 1_800_000_000;

    /// The defaults rule of a policy blocking at HIGH with `extra` settings (a `block` of its own
    /// replaces HIGH).
    fn rule(extra: &str) -> Rule {
        let block = if extra.lines().any(|l| l.starts_with("block =")) {
            ""
        } else {
            "block = \"HIGH\""
        };
        let text = format!("version = 1\n[defaults]\n{block}\n{extra}\n");
        match Policy::parse(&text) {
            Ok(p) => p
                .rules()
                .next()
                .cloned()
                .unwrap_or_else(|| panic!("no rule")),
            Err(e) => panic!("{e:?}"),
        }
    }

    fn unused() -> Usage {
        Usage {
            in_use_count: Some(0),
            last_in_use_at: Some(NOW - 30 * DAY),
            pulled_at: Some(NOW - 20 * DAY),
        }
    }

    #[test]
    fn retag_never_archives_and_archive_always_at_once() {
        let f = Finding::new("CVE-1", Severity::High);
        assert_eq!(archive_timing(&rule(""), &[&f], &unused(), NOW), None);
        let t = archive_timing(
            &rule("on_block = \"archive\""),
            &[&f],
            &Usage::default(),
            NOW,
        );
        assert_eq!(t.map(|t| t.at), Some(NOW), "in use or not");
    }

    #[test]
    fn an_image_is_unused_only_when_inspector_and_ecr_both_say_so() {
        let window = 14 * DAY;
        assert_eq!(unused().in_use(NOW, window), None);
        let cases = [
            (
                Usage {
                    in_use_count: Some(2),
                    ..unused()
                },
                "running",
            ),
            (
                Usage {
                    in_use_count: None,
                    ..unused()
                },
                "does not say whether",
            ),
            (
                Usage {
                    last_in_use_at: None,
                    ..unused()
                },
                "does not say when",
            ),
            (
                Usage {
                    last_in_use_at: Some(NOW - DAY),
                    ..unused()
                },
                "it ran on",
            ),
            (
                Usage {
                    pulled_at: Some(NOW - 3 * DAY),
                    ..unused()
                },
                "recorded a pull",
            ),
        ];
        for (u, why) in cases {
            let got = u.in_use(NOW, window);
            assert!(
                got.as_deref().is_some_and(|g| g.contains(why)),
                "{u:?}: {got:?}"
            );
        }
        // Never pulled by anyone: Inspector decides alone.
        assert_eq!(
            Usage {
                pulled_at: None,
                ..unused()
            }
            .in_use(NOW, window),
            None
        );
    }

    #[test]
    fn a_pull_at_the_gatekeepers_own_tag_change_is_not_use() {
        let mut f = Finding::new("CVE-1", Severity::High);
        f.in_use_count = Some(0);
        f.last_in_use_at = Some(NOW - 30 * DAY);
        let own = NOW - 3600;
        let u = Usage::of(&[f.clone()], Some(own + 20), &[own]);
        assert_eq!(u.pulled_at, None);
        assert_eq!(u.in_use(NOW, 14 * DAY), None);
        let u = Usage::of(&[f], Some(own + 2 * OWN_PULL_SLACK), &[own]);
        assert!(
            u.in_use(NOW, 14 * DAY).is_some(),
            "someone else pulled later"
        );
    }

    #[test]
    fn runtime_archives_unused_at_once_and_in_use_at_the_shortest_grace_never_under_min_grace() {
        let r = rule(
            "on_block = \"runtime\"\nnot_in_use_for = \"14d\"\ngrace_in_use = { HIGH = \"7d\", CRITICAL = \"3d\" }",
        );
        let high = Finding::new("CVE-1", Severity::High);
        let critical = Finding::new("CVE-2", Severity::Critical);
        let t = archive_timing(&r, &[&high], &unused(), NOW);
        assert_eq!(t.map(|t| t.at), Some(NOW));
        let busy = Usage {
            in_use_count: Some(1),
            ..unused()
        };
        let t = archive_timing(&r, &[&high, &critical], &busy, NOW);
        let t = t.unwrap_or_else(|| panic!("runtime archives"));
        assert_eq!(t.at, NOW + 3 * DAY);
        assert!(
            t.why.contains("archives on") && t.why.contains("unless fixed or excepted"),
            "{}",
            t.why
        );
        // No grace for the severity: min_grace (24h by default, or the rule's).
        let low = Finding::new("CVE-3", Severity::Medium);
        assert_eq!(
            archive_timing(&r, &[&low], &busy, NOW).map(|t| t.at),
            Some(NOW + DAY)
        );
        let r2 = rule("on_block = \"runtime\"\nmin_grace = \"2d\"");
        assert_eq!(
            archive_timing(&r2, &[&low], &busy, NOW).map(|t| t.at),
            Some(NOW + 2 * DAY)
        );
    }

    #[test]
    fn kev_shortens_the_deadline_of_an_image_in_use_but_not_under_min_grace() {
        let r = rule(
            "on_block = \"runtime\"\ngrace_in_use = { HIGH = \"30d\" }\nblock = { severity = \"HIGH\", kev = true }",
        );
        let mut f = Finding::new("CVE-1", Severity::High);
        f.kev = Some(Kev {
            added: Some(NOW - 100 * DAY),
            due: Some(NOW - 86 * DAY),
            unknown: false,
        });
        let busy = Usage {
            in_use_count: Some(1),
            ..unused()
        };
        assert_eq!(
            archive_timing(&r, &[&f], &busy, NOW).map(|t| t.at),
            Some(NOW + 14 * DAY)
        );
        f.kev = Some(Kev {
            added: Some(NOW),
            due: Some(NOW + 3600),
            unknown: false,
        });
        assert_eq!(
            archive_timing(&r, &[&f], &busy, NOW).map(|t| t.at),
            Some(NOW + DAY)
        );
    }
}
