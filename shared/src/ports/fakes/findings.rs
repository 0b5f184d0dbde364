//! Amazon Inspector in memory ([`FakeFindings`]): the findings of each image, as the test sets them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::lock;
use crate::domain::time::Epoch;
use crate::domain::{Finding, FindingStatus, ImageRef, Kev};
use crate::error::AwsError;
use crate::ports::{FindingsSource, Window};

/// One image's findings: its repository (empty: unknown), the findings, when they last changed.
#[derive(Debug, Clone)]
struct Scripted {
    repository: String,
    findings: Vec<Finding>,
    updated: Epoch,
}

/// Amazon Inspector as a test scripts it, per image digest: its findings and when they were last
/// updated. The queries across images are answered from them as Inspector's filters would (ACTIVE or
/// SUPPRESSED by vulnerability; ACTIVE by update time and severity), for images whose repository is
/// known. Its members are the accounts the test associates.
#[derive(Debug, Clone, Default)]
pub struct FakeFindings {
    images: Arc<Mutex<BTreeMap<String, Scripted>>>,
    members: Arc<Mutex<Vec<String>>>,
    /// KEV entries by vulnerability id (upper case), and every ARN asked about, in order.
    kev: Arc<Mutex<KevScript>>,
}

/// KEV entries by vulnerability id (upper case; `None`: its details are not found), and every ARN
/// asked about, in order.
type KevScript = (BTreeMap<String, Option<Kev>>, Vec<String>);

impl FakeFindings {
    /// Sets the findings of the image with this digest, in a repository the queries across images do
    /// not know (they never return it).
    pub fn set(&self, digest: &str, findings: Vec<Finding>) {
        self.set_for("", digest, findings, 0);
    }

    /// Puts `vulnerability` in CISA's KEV catalog, with these dates.
    pub fn set_kev(&self, vulnerability: &str, kev: Kev) {
        lock(&self.kev)
            .0
            .insert(vulnerability.to_ascii_uppercase(), Some(kev));
    }

    /// Makes the details of `vulnerability`'s findings not found (as BatchGetFindingDetails answers
    /// FINDING_DETAILS_NOT_FOUND).
    pub fn hide_details(&self, vulnerability: &str) {
        lock(&self.kev)
            .0
            .insert(vulnerability.to_ascii_uppercase(), None);
    }

    /// Every finding ARN whose KEV entry was asked for, in order (one call per ten).
    pub fn kev_asked(&self) -> Vec<String> {
        lock(&self.kev).1.clone()
    }

    /// Makes `account` a member Inspector scans for this administrator.
    pub fn associate(&self, account: &str) {
        lock(&self.members).push(account.to_string());
    }

    /// Sets an image's findings, last updated at `updated`.
    pub fn set_for(&self, repository: &str, digest: &str, findings: Vec<Finding>, updated: Epoch) {
        let scripted = Scripted {
            repository: repository.to_string(),
            findings,
            updated,
        };
        lock(&self.images).insert(digest.to_string(), scripted);
    }

    /// The images (of a known repository) that have a finding `keep` accepts, by digest.
    fn images_where(&self, keep: impl Fn(&Finding, Epoch) -> bool) -> Vec<ImageRef> {
        lock(&self.images)
            .iter()
            .filter(|(_, s)| {
                !s.repository.is_empty() && s.findings.iter().any(|f| keep(f, s.updated))
            })
            .map(|(digest, s)| ImageRef {
                place: None,
                repository: s.repository.clone(),
                digest: digest.clone(),
                tags: Vec::new(),
            })
            .collect()
    }
}

impl FindingsSource for FakeFindings {
    async fn image_findings(&self, image: &ImageRef) -> Result<Vec<Finding>, AwsError> {
        Ok(lock(&self.images)
            .get(&image.digest)
            .map(|s| s.findings.clone())
            .unwrap_or_default())
    }

    async fn images_with(&self, vulnerability: &str) -> Result<Vec<ImageRef>, AwsError> {
        Ok(self.images_where(|f, _| {
            f.id.eq_ignore_ascii_case(vulnerability) && f.status != FindingStatus::Closed
        }))
    }

    async fn images_updated(&self, window: &Window) -> Result<Vec<ImageRef>, AwsError> {
        Ok(self.images_where(|f, updated| {
            f.status == FindingStatus::Active && window.holds(f.severity, updated)
        }))
    }

    async fn members(&self) -> Result<Vec<String>, AwsError> {
        Ok(lock(&self.members).clone())
    }

    async fn kev_of(&self, arns: &[String]) -> Result<Vec<(String, Option<Kev>)>, AwsError> {
        // The vulnerability of each ARN, from the scripted findings.
        let ids: BTreeMap<String, String> = (lock(&self.images).values())
            .flat_map(|s| s.findings.iter())
            .filter_map(|f| Some((f.arn.clone()?, f.id.to_ascii_uppercase())))
            .collect();
        let mut kev = lock(&self.kev);
        kev.1.extend(arns.iter().cloned());
        Ok((arns.iter())
            .filter_map(|arn| match ids.get(arn).and_then(|id| kev.0.get(id)) {
                Some(None) => None,
                Some(Some(entry)) => Some((arn.clone(), Some(*entry))),
                None => Some((arn.clone(), None)),
            })
            .collect())
    }
}
