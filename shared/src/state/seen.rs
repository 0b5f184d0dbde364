//! What an image's last evaluation saw: each Inspector finding (its ARN, hashed) and when Inspector
//! last updated it. A finding event that says nothing newer can then be acknowledged without reading
//! the image's findings again.

use crate::domain::Finding;
use crate::domain::time::Epoch;

/// Bytes per entry in the stored form: the ARN's hash and the update time, both big-endian.
const ENTRY: usize = 16;

/// The findings an evaluation saw, valid while the image's record stays at `version` (every write to
/// the record moves the version: a push, a claim, an override, a link).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenFindings {
    /// The record's version when the evaluation finished.
    pub version: u64,
    /// (FNV-1a 64 of the finding ARN, `updatedAt` in seconds), sorted, one per ARN.
    entries: Vec<(u64, Epoch)>,
}

impl SeenFindings {
    /// The most findings kept (256 KiB stored, inside DynamoDB's 400 KB item): an image with more is
    /// evaluated on every batch.
    pub const MAX: usize = 16_000;

    /// What an evaluation that read `findings` and left the record at `version` saw; `None` when the
    /// image has more than [`Self::MAX`] findings. Findings without an ARN or an update time are left
    /// out: nothing said about them is ever taken as seen.
    pub fn of(version: u64, findings: &[Finding]) -> Option<SeenFindings> {
        if findings.len() > Self::MAX {
            return None;
        }
        let mut entries: Vec<(u64, Epoch)> = findings
            .iter()
            .filter_map(|f| Some((fnv1a(f.arn.as_deref()?), f.updated_at?)))
            .collect();
        // One entry per ARN, the newest update.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        entries.dedup_by_key(|e| e.0);
        Some(SeenFindings { version, entries })
    }

    /// Whether the evaluation saw this finding at this update or a later one (a finding without an ARN
    /// or an update time is never covered).
    pub fn covers(&self, finding: &Finding) -> bool {
        let (Some(arn), Some(updated)) = (finding.arn.as_deref(), finding.updated_at) else {
            return false;
        };
        let hash = fnv1a(arn);
        self.entries
            .binary_search_by_key(&hash, |e| e.0)
            .is_ok_and(|i| self.entries[i].1 >= updated)
    }

    /// How many findings it names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it names none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stored form (16 bytes per finding).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * ENTRY);
        for (hash, at) in &self.entries {
            out.extend_from_slice(&hash.to_be_bytes());
            out.extend_from_slice(&at.to_be_bytes());
        }
        out
    }

    /// Reads the stored form; `None` when it is not one (a truncated or unsorted value is not
    /// trusted: the next record is evaluated).
    pub fn from_bytes(version: u64, bytes: &[u8]) -> Option<SeenFindings> {
        if !bytes.len().is_multiple_of(ENTRY) || bytes.len() / ENTRY > Self::MAX {
            return None;
        }
        let mut entries = Vec::with_capacity(bytes.len() / ENTRY);
        for chunk in bytes.chunks_exact(ENTRY) {
            let (hash, at) = chunk.split_at(8);
            entries.push((
                u64::from_be_bytes(hash.try_into().ok()?),
                i64::from_be_bytes(at.try_into().ok()?),
            ));
        }
        if !entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return None;
        }
        Some(SeenFindings { version, entries })
    }
}

/// FNV-1a, 64 bits: a hash that stays the same across builds and Rust versions (the standard
/// library's does not promise to).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Severity;

    fn finding(arn: &str, updated: Option<Epoch>) -> Finding {
        let mut f = Finding::new("CVE-2026-0001", Severity::Critical);
        f.arn = Some(arn.to_string());
        f.updated_at = updated;
        f
    }

    #[test]
    fn covers_a_finding_seen_at_the_same_update_or_a_later_one_only() {
        let seen = SeenFindings::of(
            7,
            &[finding("arn:a", Some(100)), finding("arn:b", Some(200))],
        )
        .unwrap();
        assert!(seen.covers(&finding("arn:a", Some(100))));
        assert!(seen.covers(&finding("arn:a", Some(99))));
        assert!(!seen.covers(&finding("arn:a", Some(101))), "a newer update");
        assert!(
            !seen.covers(&finding("arn:c", Some(1))),
            "a finding not seen"
        );
        assert!(!seen.covers(&finding("arn:b", None)), "no update time");
        assert!(!seen.covers(&Finding::new("CVE-2026-0001", Severity::Critical)));
    }

    #[test]
    fn keeps_the_newest_update_of_a_finding_listed_twice_and_skips_what_cannot_be_matched() {
        let seen = SeenFindings::of(
            1,
            &[
                finding("arn:a", Some(100)),
                finding("arn:a", Some(300)),
                finding("arn:x", None),
            ],
        )
        .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen.covers(&finding("arn:a", Some(300))));
    }

    #[test]
    fn round_trips_through_the_stored_form_and_refuses_a_damaged_one() {
        let seen = SeenFindings::of(
            3,
            &[finding("arn:a", Some(100)), finding("arn:b", Some(-5))],
        )
        .unwrap();
        let bytes = seen.to_bytes();
        assert_eq!(bytes.len(), 32);
        assert_eq!(SeenFindings::from_bytes(3, &bytes), Some(seen.clone()));
        assert_eq!(SeenFindings::from_bytes(3, &bytes[..31]), None, "truncated");
        let mut swapped = bytes[16..].to_vec();
        swapped.extend_from_slice(&bytes[..16]);
        assert_eq!(SeenFindings::from_bytes(3, &swapped), None, "unsorted");
    }

    #[test]
    fn an_image_with_too_many_findings_is_not_summarised() {
        let many: Vec<Finding> = (0..=SeenFindings::MAX)
            .map(|i| finding(&format!("arn:{i}"), Some(1)))
            .collect();
        assert!(SeenFindings::of(1, &many).is_none());
        assert_eq!(
            SeenFindings::of(1, &many[1..]).map(|s| s.len()),
            Some(SeenFindings::MAX)
        );
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors: the stored form must not change between builds.
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
