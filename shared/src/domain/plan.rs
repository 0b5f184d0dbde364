//! Which tags to add and remove so that an image's tags match its decision. Pure: the caller reads
//! ECR, this decides, the caller executes in order (every add confirmed before any remove it guards).
//!
//! Safety rules encoded here: a tag is only removed once a tag that keeps the image (`keep`) is
//! confirmed on the same digest, so the last tag is never removed; a tag that cannot be formed leaves
//! the original in place; release restores T only if T is free or already points to this digest.

use std::collections::{HashMap, HashSet};

use crate::domain::tags::{TagError, TagKind, TagScheme};
use crate::domain::{Decision, digest_hex12};

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Put `tag` on the image's digest.
    Add {
        /// The tag to add.
        tag: String,
    },
    /// Remove `tag` from the image, only after `keep` is confirmed on the same digest.
    Remove {
        /// The tag to remove.
        tag: String,
        /// The tag that keeps the image reachable.
        keep: String,
    },
}

/// The steps, and what was deliberately left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Adds first, then removes.
    pub steps: Vec<Step>,
    /// Things left as they are, and why.
    pub notes: Vec<String>,
    /// The tags `steps` adds, for constant-time look-ups (an image may carry 100,000 tags).
    added: HashSet<String>,
}

impl Plan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The tags to add, in order.
    pub fn adds(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().filter_map(|s| match s {
            Step::Add { tag } => Some(tag.as_str()),
            Step::Remove { .. } => None,
        })
    }

    /// The (tag, keep) pairs to remove.
    pub fn removes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.steps.iter().filter_map(|s| match s {
            Step::Remove { tag, keep } => Some((tag.as_str(), keep.as_str())),
            Step::Add { .. } => None,
        })
    }

    fn add(&mut self, tag: String, present: &HashSet<&str>) {
        if !present.contains(tag.as_str()) && self.added.insert(tag.clone()) {
            self.steps.push(Step::Add { tag });
        }
    }

    /// Moves `tag` to `replacement` (added first, then `tag` removed keeping it); when there is no
    /// replacement, `tag` stays and the plan says why.
    fn replace(
        &mut self,
        tag: &str,
        replacement: Result<String, TagError>,
        present: &HashSet<&str>,
        image: &str,
    ) {
        match replacement {
            Ok(keep) => {
                self.add(keep.clone(), present);
                self.steps.push(Step::Remove {
                    tag: tag.to_string(),
                    keep,
                });
            }
            Err(e) => (self.notes).push(format!("{tag} left in place on {image}: {e}")),
        }
    }

    fn sort(&mut self) {
        self.steps.sort_by_key(|s| matches!(s, Step::Remove { .. }));
    }
}

/// The original tags a release would restore: callers resolve where each points before planning.
pub fn release_candidates(scheme: &TagScheme, tags: &[String], digest: &str) -> Vec<String> {
    let hex = digest_hex12(digest);
    let present: HashSet<&str> = tags.iter().map(String::as_str).collect();
    let mut out: Vec<String> = tags
        .iter()
        .filter_map(|t| match scheme.classify(t) {
            TagKind::Quarantined {
                original: Some(original),
                hex12,
            } if hex12 == hex => Some(original),
            TagKind::Held { original, hex12 } if hex12 == hex => Some(original),
            _ => None,
        })
        .filter(|original| !present.contains(original.as_str()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// What becomes of an image's verified tags (`verified-<T>`, the rule's `verified_prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The rule writes no verified tags: leave any alone.
    Off,
    /// The image verifies: `verified-<T>` for each tag `T` it has (or gets back).
    Set,
    /// The image does not verify: every verified tag goes (a blocked or undecided image keeps a
    /// marker instead when they were its only tags; a warned one keeps the last).
    Clear,
}

impl Verified {
    /// For a rule that writes verified tags (or not), and a decision: pass verifies, warn where the
    /// rule says so, nothing else does.
    pub fn of(enabled: bool, verify_warn: bool, decision: Decision) -> Verified {
        match (enabled, decision) {
            (false, _) => Verified::Off,
            (true, Decision::Pass) => Verified::Set,
            (true, Decision::Warn) if verify_warn => Verified::Set,
            (true, _) => Verified::Clear,
        }
    }
}

/// Plans the tags of one image for `decision`.
///
/// `tags` are the tags on the digest now (read from ECR); `owners` maps each release candidate to the
/// digest it points to now (`None`: free). `standalone` says an untagged image is not a platform image
/// or attestation of an index, so it may carry the untagged marker. `verified` says what becomes of
/// its verified tags (formed with `scheme`'s verified prefix).
pub fn plan(
    scheme: &TagScheme,
    tags: &[String],
    digest: &str,
    decision: Decision,
    owners: &HashMap<String, Option<String>>,
    standalone: bool,
    verified: Verified,
) -> Plan {
    let mut plan = Plan::default();
    let present: HashSet<&str> = tags.iter().map(String::as_str).collect();
    match decision {
        Decision::Block => quarantine(&mut plan, scheme, tags, digest, &present, standalone),
        Decision::Pass | Decision::Warn => {
            restore(&mut plan, scheme, tags, digest, &present, owners);
        }
        Decision::Pending => {}
    }
    match verified {
        Verified::Off => {}
        Verified::Set => set_verified(&mut plan, scheme, tags, &present),
        Verified::Clear => clear_verified(&mut plan, scheme, tags, &present, digest, decision),
    }
    plan.sort();
    plan
}

/// A blocked image: each plain tag (or this image's held tag) moves to its quarantined form; an
/// untagged standalone image gets the untagged marker.
fn quarantine(
    plan: &mut Plan,
    scheme: &TagScheme,
    tags: &[String],
    digest: &str,
    present: &HashSet<&str>,
    standalone: bool,
) {
    let hex = digest_hex12(digest);
    for tag in tags {
        let original = match scheme.classify(tag) {
            TagKind::Plain => tag.clone(),
            TagKind::Held { original, hex12 } if hex12 == hex => original,
            _ => continue,
        };
        let quarantined = scheme.quarantine_tag(&original, digest);
        plan.replace(tag, quarantined, present, "a blocked image");
    }
    if tags.is_empty() && standalone {
        match scheme.untagged_marker(digest) {
            Ok(marker) => plan.add(marker, present),
            Err(e) => plan.notes.push(format!("untagged image not marked: {e}")),
        }
    }
}

/// A deployable image: this image's quarantined and held tags give their original tags back (where
/// the original is free or already this image's), never removing the image's last tag.
fn restore(
    plan: &mut Plan,
    scheme: &TagScheme,
    tags: &[String],
    digest: &str,
    present: &HashSet<&str>,
    owners: &HashMap<String, Option<String>>,
) {
    let hex = digest_hex12(digest);
    let plain: Vec<&String> = tags
        .iter()
        .filter(|t| scheme.classify(t) == TagKind::Plain)
        .collect();
    for tag in tags {
        match scheme.classify(tag) {
            TagKind::Quarantined {
                original: Some(original),
                hex12,
            }
            | TagKind::Held { original, hex12 }
                if hex12 == hex =>
            {
                let owner = if present.contains(original.as_str()) {
                    Some(Some(digest.to_string()))
                } else {
                    owners.get(&original).cloned()
                };
                match owner {
                    Some(None) => plan.add(original.clone(), present),
                    Some(Some(owner)) if owner == digest => {}
                    Some(Some(owner)) => {
                        plan.notes.push(format!(
                            "{tag} kept: {original} now points to {owner}, not to this image"
                        ));
                        continue;
                    }
                    None => {
                        plan.notes.push(format!(
                            "{tag} kept: where {original} points was not checked"
                        ));
                        continue;
                    }
                }
                plan.steps.push(Step::Remove {
                    tag: tag.clone(),
                    keep: original,
                });
            }
            TagKind::Quarantined {
                original: None,
                hex12,
            } if hex12 == hex => match plain.first() {
                Some(keep) => plan.steps.push(Step::Remove {
                    tag: tag.clone(),
                    keep: (*keep).clone(),
                }),
                None => plan.notes.push(format!(
                    "{tag} kept: it is the image's only tag, and removing it would delete the image"
                )),
            },
            _ => {}
        }
    }
}

/// `verified-<T>` for every plain tag the image has and keeps, or gets back by the plan.
fn set_verified(plan: &mut Plan, scheme: &TagScheme, tags: &[String], present: &HashSet<&str>) {
    let removed: HashSet<String> = plan.removes().map(|(t, _)| t.to_string()).collect();
    let mut originals: Vec<String> = tags
        .iter()
        .filter(|t| scheme.classify(t) == TagKind::Plain && !removed.contains(*t))
        .cloned()
        .collect();
    originals.extend(
        plan.adds()
            .filter(|t| scheme.classify(t) == TagKind::Plain)
            .map(str::to_string),
    );
    for t in originals {
        match scheme.verified_tag(&t) {
            Ok(v) => plan.add(v, present),
            Err(e) => plan.notes.push(format!("{t} not verified: {e}")),
        }
    }
}

/// Removes every verified tag, each kept by a tag that stays on the image.
fn clear_verified(
    plan: &mut Plan,
    scheme: &TagScheme,
    tags: &[String],
    present: &HashSet<&str>,
    digest: &str,
    decision: Decision,
) {
    let verified: Vec<&String> = tags
        .iter()
        .filter(|t| matches!(scheme.classify(t), TagKind::Verified { .. }))
        .collect();
    if verified.is_empty() {
        return;
    }
    let is_verified: HashSet<&str> = verified.iter().map(|t| t.as_str()).collect();
    let removed: HashSet<String> = plan.removes().map(|(t, _)| t.to_string()).collect();
    let staying = tags
        .iter()
        .filter(|t| !is_verified.contains(t.as_str()) && !removed.contains(*t))
        .cloned()
        .chain(plan.adds().map(str::to_string))
        .next();
    let keep =
        match staying {
            Some(k) => k,
            None if !decision.is_deployable() => match scheme.untagged_marker(digest) {
                Ok(marker) => {
                    plan.add(marker.clone(), present);
                    marker
                }
                Err(e) => {
                    plan.notes
                        .push(format!("verified tags kept on a blocked image: {e}"));
                    return;
                }
            },
            None => {
                plan.notes.push(format!(
                "{} kept: the image has no other tag, and removing its last tag would delete it",
                verified.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            ));
                return;
            }
        };
    for v in verified {
        plan.steps.push(Step::Remove {
            tag: v.clone(),
            keep: keep.clone(),
        });
    }
}

/// Holds an image that has no verdict yet: each plain tag T moves to `held-<T>--<hex>` (the held tag
/// is confirmed before T is removed). A tag too long to hold stays, and the plan says so.
pub fn hold(scheme: &TagScheme, tags: &[String], digest: &str) -> Plan {
    let mut plan = Plan::default();
    let present: HashSet<&str> = tags.iter().map(String::as_str).collect();
    for tag in tags {
        if scheme.classify(tag) != TagKind::Plain {
            continue;
        }
        let held = scheme.held_tag(tag, digest);
        plan.replace(tag, held, &present, "an unscanned image");
    }
    plan.sort();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const OTHER: &str = "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    /// Who holds each tag now (`None`: nobody), as [`plan`] takes it.
    fn owners(o: &[(&str, Option<&str>)]) -> HashMap<String, Option<String>> {
        o.iter()
            .map(|(t, d)| (t.to_string(), d.map(str::to_string)))
            .collect()
    }

    /// The plan for a standalone image `D` with these tags under the default scheme, the tags it
    /// may take back owned as in `o`, verified tags set, cleared or off.
    fn planned(t: &[&str], decision: Decision, o: &[(&str, Option<&str>)], v: Verified) -> Plan {
        let s = TagScheme::default();
        plan(&s, &tags(t), D, decision, &owners(o), true, v)
    }

    /// [`planned`] with no other images' tags and verified tags off.
    fn standalone(t: &[&str], decision: Decision) -> Plan {
        with_verified(t, decision, Verified::Off)
    }

    /// [`planned`] with no other images' tags, verified tags set or cleared.
    fn with_verified(t: &[&str], decision: Decision, v: Verified) -> Plan {
        planned(t, decision, &[], v)
    }

    /// Asserts the steps of the [`standalone`] plan for these tags, naming them when it fails,
    /// and returns the plan for its notes.
    #[track_caller]
    fn assert_steps(t: &[&str], decision: Decision, want: &[Step]) -> Plan {
        let p = standalone(t, decision);
        assert_eq!(p.steps, want, "{t:?} {decision:?}: {:?}", p.notes);
        p
    }

    fn add(t: &str) -> Step {
        Step::Add { tag: t.into() }
    }

    fn remove(t: &str, keep: &str) -> Step {
        Step::Remove {
            tag: t.into(),
            keep: keep.into(),
        }
    }

    #[test]
    fn block_adds_quarantine_tags_before_removing_originals() {
        assert_steps(
            &["v1", "latest"],
            Decision::Block,
            &[
                add("quarantined-v1--0123456789ab"),
                add("quarantined-latest--0123456789ab"),
                remove("v1", "quarantined-v1--0123456789ab"),
                remove("latest", "quarantined-latest--0123456789ab"),
            ],
        );
    }

    #[test]
    fn block_is_idempotent_and_finishes_a_half_done_quarantine() {
        let done = "quarantined-v1--0123456789ab";
        assert_steps(&[done], Decision::Block, &[]);
        // Crashed after the add, before the remove: the retry only removes.
        assert_steps(&["v1", done], Decision::Block, &[remove("v1", done)]);
    }

    #[test]
    fn untagged_images_get_a_marker_only_when_standalone() {
        let s = TagScheme::default();
        assert_eq!(
            standalone(&[], Decision::Block).steps,
            vec![add("quarantined-sha256-0123456789ab")]
        );
        let shared = plan(
            &s,
            &[],
            D,
            Decision::Block,
            &HashMap::new(),
            false,
            Verified::Off,
        );
        assert!(shared.is_empty(), "{shared:?}");
    }

    #[test]
    fn a_tag_too_long_to_quarantine_stays_and_is_reported() {
        let long = "x".repeat(120);
        let p = standalone(&[&long, "v1"], Decision::Block);
        assert_eq!(p.steps.len(), 2, "{p:?}");
        assert!(p.notes[0].contains("left in place"), "{:?}", p.notes);
    }

    #[test]
    fn release_restores_free_or_own_tags_and_keeps_taken_ones() {
        let current = [
            "quarantined-v1--0123456789ab",
            "quarantined-latest--0123456789ab",
            "quarantined-v0--0123456789ab",
        ];
        assert_eq!(
            release_candidates(&TagScheme::default(), &tags(&current), D),
            tags(&["latest", "v0", "v1"])
        );
        let taken = [("v1", None), ("latest", Some(OTHER)), ("v0", Some(D))];
        let p = planned(&current, Decision::Pass, &taken, Verified::Off);
        assert_eq!(
            p.steps,
            vec![
                add("v1"),
                remove("quarantined-v1--0123456789ab", "v1"),
                remove("quarantined-v0--0123456789ab", "v0")
            ]
        );
        assert!(p.notes[0].contains("latest now points to"), "{:?}", p.notes);
    }

    #[test]
    fn release_keeps_the_untagged_marker_when_it_is_the_only_tag() {
        let marker = "quarantined-sha256-0123456789ab";
        let p = assert_steps(&[marker], Decision::Warn, &[]);
        assert!(p.notes[0].contains("only tag"));
        assert_steps(&[marker, "v2"], Decision::Warn, &[remove(marker, "v2")]);
    }

    #[test]
    fn quarantine_tags_of_other_digests_are_not_touched() {
        let theirs = "quarantined-v1--ffffffffffff";
        assert_steps(&[theirs, "v2"], Decision::Pass, &[]);
        assert_steps(&[theirs], Decision::Block, &[]);
    }

    #[test]
    fn hold_moves_plain_tags_and_a_verdict_releases_or_quarantines_them() {
        let s = TagScheme::default();
        let p = hold(&s, &tags(&["v1", "quarantined-x--0123456789ab"]), D);
        assert_eq!(
            p.steps,
            vec![
                add("held-v1--0123456789ab"),
                remove("v1", "held-v1--0123456789ab")
            ]
        );
        let held = ["held-v1--0123456789ab"];
        assert!(hold(&s, &tags(&held), D).is_empty());
        assert_eq!(release_candidates(&s, &tags(&held), D), tags(&["v1"]));
        assert_eq!(
            planned(&held, Decision::Pass, &[("v1", None)], Verified::Off).steps,
            vec![add("v1"), remove("held-v1--0123456789ab", "v1")]
        );
        assert_eq!(
            standalone(&held, Decision::Block).steps,
            vec![
                add("quarantined-v1--0123456789ab"),
                remove("held-v1--0123456789ab", "quarantined-v1--0123456789ab")
            ]
        );
        assert!(
            standalone(&held, Decision::Pending).is_empty(),
            "a failed scan keeps them held"
        );
    }

    #[test]
    fn pending_changes_nothing() {
        assert_steps(
            &["v1", "quarantined-v2--0123456789ab"],
            Decision::Pending,
            &[],
        );
    }

    #[test]
    fn a_pass_that_verifies_sets_a_verified_tag_for_each_tag_it_has_or_gets_back() {
        let p = with_verified(
            &["v1", "latest", "verified-v1"],
            Decision::Pass,
            Verified::Set,
        );
        assert_eq!(p.steps, vec![add("verified-latest")]);
        // Released and verified in one plan: the restored tag is verified too.
        let quarantined = ["quarantined-v2--0123456789ab"];
        let p = planned(&quarantined, Decision::Pass, &[("v2", None)], Verified::Set);
        assert_eq!(
            p.steps,
            vec![
                add("v2"),
                add("verified-v2"),
                remove("quarantined-v2--0123456789ab", "v2")
            ]
        );
        // A warning without verify_warn verifies nothing and removes what was verified.
        assert_eq!(Verified::of(true, false, Decision::Warn), Verified::Clear);
        assert_eq!(Verified::of(true, true, Decision::Warn), Verified::Set);
        assert_eq!(Verified::of(false, true, Decision::Pass), Verified::Off);
    }

    #[test]
    fn a_block_removes_every_verified_tag_together_with_the_quarantine_never_the_last_tag() {
        let all = ["v1", "verified-v1", "verified-latest"];
        let p = with_verified(&all, Decision::Block, Verified::Clear);
        assert_eq!(
            p.steps,
            vec![
                add("quarantined-v1--0123456789ab"),
                remove("v1", "quarantined-v1--0123456789ab"),
                remove("verified-v1", "quarantined-v1--0123456789ab"),
                remove("verified-latest", "quarantined-v1--0123456789ab"),
            ]
        );
        // Only verified tags left (the plain one moved to a newer build): a marker keeps the image.
        let p = with_verified(&["verified-latest"], Decision::Block, Verified::Clear);
        assert_eq!(
            p.steps,
            vec![
                add("quarantined-sha256-0123456789ab"),
                remove("verified-latest", "quarantined-sha256-0123456789ab"),
            ]
        );
        // A warning that does not verify keeps an only tag and says why.
        let p = with_verified(&["verified-latest"], Decision::Warn, Verified::Clear);
        assert!(p.is_empty());
        assert!(
            p.notes[0].contains("removing its last tag would delete it"),
            "{p:?}"
        );
        // A verified tag that cannot be formed within 128 characters is reported, not truncated.
        let long = "t".repeat(125);
        let p = with_verified(&[&long], Decision::Pass, Verified::Set);
        assert!(p.is_empty() && p.notes[0].contains("not verified"), "{p:?}");
    }
}
