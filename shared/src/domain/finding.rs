//! A vulnerability finding, reduced to what the policy and the messages need.

use serde::Serialize;

use super::Severity;
use crate::domain::time::Epoch;

/// Inspector's finding status (basic-scan findings are always active).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FindingStatus {
    /// Open.
    Active,
    /// Hidden by an Inspector suppression rule (no owner, no expiry).
    Suppressed,
    /// Closed: fixed, or the image stopped being monitored (closed is not fixed).
    Closed,
}

impl FindingStatus {
    /// Parses Inspector's status exactly as AWS writes it; anything else (`closed`, a look-alike
    /// letter, a value AWS adds later) counts as active, the side that never lets an image pass.
    pub fn parse(s: &str) -> FindingStatus {
        match s {
            "SUPPRESSED" => FindingStatus::Suppressed,
            "CLOSED" => FindingStatus::Closed,
            _ => FindingStatus::Active,
        }
    }
}

/// Inspector's `fixAvailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum FixAvailable {
    /// Every vulnerable package has a fixed version.
    Yes,
    /// No fix published.
    No,
    /// Some packages have a fix.
    Partial,
}

impl FixAvailable {
    /// Parses YES / NO / PARTIAL exactly; any other value counts as YES, the side that keeps a
    /// blocking finding blocking under `fixable_only`.
    pub fn parse(s: &str) -> FixAvailable {
        match s {
            "NO" => FixAvailable::No,
            "PARTIAL" => FixAvailable::Partial,
            _ => FixAvailable::Yes,
        }
    }
}

/// A vulnerability in CISA's Known Exploited Vulnerabilities catalog, as Inspector's finding details
/// give it (`cisaData`): when CISA added it and the remediation date it set for US federal agencies;
/// or a vulnerability whose details could not be read, counted as if it were in KEV (`unknown`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Kev {
    /// `dateAdded`.
    pub added: Option<Epoch>,
    /// `dateDue`.
    pub due: Option<Epoch>,
    /// Its details were not found: it may be in KEV (it meets `kev`, and is looked up again).
    pub unknown: bool,
}

impl Kev {
    /// A vulnerability whose KEV entry could not be read: it may be in KEV.
    pub const UNKNOWN: Kev = Kev {
        added: None,
        due: None,
        unknown: true,
    };

    /// The time CISA allows between adding the vulnerability and its due date (about two or three
    /// weeks): the deadline is this interval from when an image is found affected, not the date
    /// itself, which is long past for most entries. `None` without both dates or when due comes first.
    pub fn interval(&self) -> Option<Epoch> {
        if self.unknown {
            return None;
        }
        match (self.added, self.due) {
            (Some(a), Some(d)) if d > a => Some(d - a),
            _ => None,
        }
    }
}

/// One vulnerable package of a finding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Package {
    /// Package name (`openssl`, `@scope/pkg`, `github.com/x/y`).
    pub name: String,
    /// Installed version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// First version with the fix, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
}

/// A finding from Inspector (enhanced) or ECR basic scanning.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Vulnerability id (CVE-..., GHSA-..., ALAS-...), or the title when there is none.
    pub id: String,
    /// Inspector's finding ARN, when the finding came from Inspector.
    pub arn: Option<String>,
    /// Severity as reported.
    pub severity: Severity,
    /// ACTIVE, SUPPRESSED or CLOSED.
    pub status: FindingStatus,
    /// The vulnerable packages (possibly none for basic findings without attributes).
    pub packages: Vec<Package>,
    /// Inspector's `fixAvailable`, derived from `fixed_in` when absent.
    pub fix_available: Option<FixAvailable>,
    /// Inspector's `exploitAvailable` (YES -> true).
    pub exploit_available: Option<bool>,
    /// Inspector score (0-10), often absent.
    pub score: Option<f64>,
    /// EPSS probability (0-1), when known.
    pub epss: Option<f64>,
    /// When Inspector first observed the finding.
    pub first_observed: Option<Epoch>,
    /// When Inspector last updated the finding (`updatedAt`): which of two reports of it is newer.
    pub updated_at: Option<Epoch>,
    /// The image's `inUseCount` as the finding reports it (running ECS tasks / EKS pods).
    pub in_use_count: Option<u64>,
    /// The image's `lastInUseAt` as the finding reports it.
    pub last_in_use_at: Option<Epoch>,
    /// How the severity was decided when the reported one is not a value AWS documents (the verdict
    /// names it); `None` when the reported severity was used.
    pub severity_note: Option<String>,
    /// Its vulnerability's CISA KEV entry, when it has one and a rule asked (looked up by the finding's
    /// details: ListFindings does not say).
    pub kev: Option<Kev>,
}

impl Finding {
    /// A finding with only an id and a severity: the starting point of parsers and tests.
    pub fn new(id: impl Into<String>, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            arn: None,
            severity,
            status: FindingStatus::Active,
            packages: Vec::new(),
            fix_available: None,
            exploit_available: None,
            score: None,
            epss: None,
            first_observed: None,
            updated_at: None,
            in_use_count: None,
            last_in_use_at: None,
            severity_note: None,
            kev: None,
        }
    }

    /// An ECR basic-scan finding (DescribeImageScanFindings' `name`, `severity` and `attributes`),
    /// read the same way from an SDK answer and from a saved document. An unknown or missing
    /// severity is resolved like Inspector's ([`Severity::resolve`]), from the CVSS score attributes.
    pub fn basic<'a>(
        name: &str,
        severity: Option<&str>,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Finding {
        let mut package = Package::default();
        let (mut cvss3, mut cvss2) = (None, None);
        for (key, value) in attributes {
            match key {
                "package_name" => package.name = value.to_string(),
                "package_version" => package.version = Some(value.to_string()),
                "CVSS3_SCORE" => cvss3 = value.trim().parse::<f64>().ok(),
                "CVSS2_SCORE" => cvss2 = value.trim().parse::<f64>().ok(),
                _ => {}
            }
        }
        let score = cvss3.or(cvss2).filter(|s| (0.0..=10.0).contains(s));
        let (severity, note) = Severity::resolve(severity.unwrap_or(""), score, None);
        let mut finding = Finding::new(name, severity);
        finding.score = score;
        finding.severity_note = note;
        if !package.name.is_empty() {
            finding.packages.push(package);
        }
        finding
    }

    /// Whether a fix is known to exist (YES or PARTIAL, or a package's fixed version) or known not to
    /// (NO); `None` when nothing says (a basic-scan finding without a fixed version).
    pub fn fix_known(&self) -> Option<bool> {
        match self.fix_available {
            Some(FixAvailable::Yes | FixAvailable::Partial) => Some(true),
            Some(FixAvailable::No) => Some(false),
            None => self.has_fix().then_some(true),
        }
    }

    /// Whether a fix exists for at least one package (Inspector's flag, else a known fixed version).
    pub fn has_fix(&self) -> bool {
        match self.fix_available {
            Some(FixAvailable::Yes | FixAvailable::Partial) => true,
            Some(FixAvailable::No) => false,
            None => self.packages.iter().any(|p| {
                p.fixed_in
                    .as_deref()
                    .is_some_and(|v| !v.is_empty() && v != "NotAvailable")
            }),
        }
    }
}
