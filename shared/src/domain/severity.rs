//! Severities as Inspector and ECR basic scanning report them, and counts per severity.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A finding's severity. `Untriaged` (Inspector) and `Undefined` (basic scanning) have no rank of their
/// own: thresholds compare only the five ranked severities, and the policy decides how to treat them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Inspector UNTRIAGED: the vendor has not rated it yet.
    Untriaged,
    /// Basic scanning UNDEFINED.
    Undefined,
    /// INFORMATIONAL.
    Informational,
    /// LOW.
    Low,
    /// MEDIUM.
    Medium,
    /// HIGH.
    High,
    /// CRITICAL.
    Critical,
}

impl Severity {
    /// Every severity, most severe first (the order of counts in messages).
    pub const ALL: [Severity; 7] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Untriaged,
        Severity::Undefined,
    ];

    /// The upper-case name AWS uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFORMATIONAL",
            Severity::Untriaged => "UNTRIAGED",
            Severity::Undefined => "UNDEFINED",
        }
    }

    /// Parses an AWS severity name, case-insensitively; `None` for names AWS may add later.
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
    }

    /// Parses a severity exactly as AWS writes it (`CRITICAL`, not `critical`, ` CRITICAL` or a
    /// look-alike letter): what a scanner reports is not a hand-written policy.
    pub fn parse_reported(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The CVSS v3 band of a 0-10 score (Inspector's score is CVSS-based): 9.0 CRITICAL, 7.0 HIGH,
    /// 4.0 MEDIUM, above 0 LOW, 0 INFORMATIONAL; `None` outside 0-10.
    pub fn from_score(score: f64) -> Option<Severity> {
        Some(match score {
            s if !(0.0..=10.0).contains(&s) => return None,
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Informational,
        })
    }

    /// A vendor's severity word (Inspector's `vendorSeverity`: `HIGH`, `Important`, `Moderate` ...).
    fn from_vendor(s: &str) -> Option<Severity> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "CRITICAL" => Severity::Critical,
            "HIGH" | "IMPORTANT" => Severity::High,
            "MEDIUM" | "MODERATE" => Severity::Medium,
            "LOW" | "NEGLIGIBLE" => Severity::Low,
            _ => return None,
        })
    }

    /// The severity of a finding whose reported severity may be one AWS does not document: the
    /// reported one when it is known; else the band of its score; else its vendor's severity; else
    /// CRITICAL, the highest there is, so that an unreadable severity never lets an image pass.
    /// The note says which, for the verdict (`None` when the reported severity was used).
    pub fn resolve(
        reported: &str,
        score: Option<f64>,
        vendor: Option<&str>,
    ) -> (Severity, Option<String>) {
        if let Some(s) = Severity::parse_reported(reported) {
            return (s, None);
        }
        let shown: String = reported.chars().take(40).collect();
        let what = format!("severity {shown:?} is not one AWS documents");
        if let Some((score, s)) = score.and_then(|v| Some((v, Severity::from_score(v)?))) {
            return (s, Some(format!("{what}: {s} from its score {score:.1}")));
        }
        if let Some((v, s)) = vendor.and_then(|v| Some((v, Severity::from_vendor(v)?))) {
            let v: String = v.chars().take(40).collect();
            return (
                s,
                Some(format!("{what}: {s} from its vendor severity {v:?}")),
            );
        }
        (
            Severity::Critical,
            Some(format!(
                "{what} and it has no score or vendor severity: taken as CRITICAL (fail closed)"
            )),
        )
    }

    /// Rank for thresholds: CRITICAL 5 .. INFORMATIONAL 1; unranked severities are 0.
    pub fn rank(self) -> u8 {
        match self {
            Severity::Critical => 5,
            Severity::High => 4,
            Severity::Medium => 3,
            Severity::Low => 2,
            Severity::Informational => 1,
            Severity::Untriaged | Severity::Undefined => 0,
        }
    }

    /// Whether this severity is at or above `threshold` (never true for an unranked severity).
    pub fn at_least(self, threshold: Severity) -> bool {
        self.rank() > 0 && self.rank() >= threshold.rank()
    }

    fn index(self) -> usize {
        Severity::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }
}

/// Case-insensitive, with an error that lists the valid names (policy files are written by hand).
impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Severity::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown severity {s:?}: expected CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL, UNTRIAGED or UNDEFINED"))
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many findings of each severity; serialised as `{"CRITICAL": n, ...}` with every severity present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeverityCounts([u32; 7]);

impl SeverityCounts {
    /// Adds one finding of `severity`.
    pub fn add(&mut self, severity: Severity) {
        self.add_n(severity, 1);
    }

    /// Adds `n` findings of `severity`.
    pub fn add_n(&mut self, severity: Severity, n: u32) {
        let slot = &mut self.0[severity.index()];
        *slot = slot.saturating_add(n);
    }

    /// The count for one severity.
    pub fn get(&self, severity: Severity) -> u32 {
        self.0[severity.index()]
    }

    /// All findings counted.
    pub fn total(&self) -> u32 {
        self.0.iter().fold(0u32, |a, b| a.saturating_add(*b))
    }

    /// The most severe ranked severity with a non-zero count, else an unranked one, else `None`.
    pub fn max(&self) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| self.get(*s) > 0)
    }

    /// Findings at or above `threshold`.
    pub fn at_least(&self, threshold: Severity) -> u32 {
        Severity::ALL
            .into_iter()
            .filter(|s| s.at_least(threshold))
            .map(|s| self.get(s))
            .sum()
    }
}

impl Serialize for SeverityCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Severity::ALL.len()))?;
        for s in Severity::ALL {
            map.serialize_entry(s.as_str(), &self.get(s))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SeverityCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u32>::deserialize(d)?;
        let mut counts = SeverityCounts::default();
        for (k, n) in map {
            if let Some(s) = Severity::parse(&k) {
                counts.add_n(s, n);
            }
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_ignore_unranked_severities() {
        assert!(Severity::Critical.at_least(Severity::High));
        assert!(Severity::High.at_least(Severity::High));
        assert!(!Severity::Medium.at_least(Severity::High));
        assert!(!Severity::Untriaged.at_least(Severity::Informational));
        assert!(!Severity::Undefined.at_least(Severity::Informational));
    }

    #[test]
    fn parses_names_case_insensitively_and_rejects_unknown() {
        assert_eq!(Severity::parse("critical"), Some(Severity::Critical));
        assert_eq!(Severity::parse(" UNTRIAGED "), Some(Severity::Untriaged));
        assert_eq!(Severity::parse("SEVERE"), None);
    }

    #[test]
    fn a_reported_severity_must_be_spelt_as_aws_spells_it() {
        assert_eq!(
            Severity::parse_reported("CRITICAL"),
            Some(Severity::Critical)
        );
        for s in [
            "critical",
            " CRITICAL",
            "CRITICA",
            "CRIT\u{0399}CAL",
            "CRITICAL\u{200b}",
            "",
        ] {
            assert_eq!(Severity::parse_reported(s), None, "{s:?}");
        }
    }

    #[test]
    fn an_unknown_severity_falls_back_to_the_score_then_the_vendor_then_critical() {
        assert_eq!(
            Severity::resolve("HIGH", Some(9.8), None),
            (Severity::High, None)
        );
        let (s, note) = Severity::resolve("CRITICA", Some(9.8), Some("LOW"));
        assert_eq!(s, Severity::Critical);
        assert!(note.unwrap().contains("from its score 9.8"));
        let (s, note) = Severity::resolve("CRITICA", None, Some("Important"));
        assert_eq!(s, Severity::High);
        assert!(note.unwrap().contains("vendor severity \"Important\""));
        let (s, note) = Severity::resolve("\u{202e}LACITIRC", None, Some("whatever"));
        assert_eq!(s, Severity::Critical);
        assert!(note.unwrap().contains("fail closed"));
        assert_eq!(Severity::from_score(7.0), Some(Severity::High));
        assert_eq!(Severity::from_score(0.0), Some(Severity::Informational));
        assert_eq!(Severity::from_score(10.5), None);
    }

    #[test]
    fn counts_serialise_every_severity_and_find_the_max() {
        let mut c = SeverityCounts::default();
        c.add(Severity::High);
        c.add_n(Severity::Low, 3);
        c.add(Severity::Untriaged);
        assert_eq!(c.total(), 5);
        assert_eq!(c.max(), Some(Severity::High));
        assert_eq!(c.at_least(Severity::Low), 4);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"CRITICAL":0,"HIGH":1,"MEDIUM":0,"LOW":3,"INFORMATIONAL":0,"UNTRIAGED":1,"UNDEFINED":0}"#
        );
        assert_eq!(SeverityCounts::default().max(), None);
        assert_eq!(serde_json::from_str::<SeverityCounts>(&json).unwrap(), c);
    }
}
