//! KEV lookups: before an image is decided under a rule that asks about CISA's Known Exploited
//! Vulnerabilities (`kev = true`), the findings KEV could change get their vulnerability's entry:
//! those that block by nothing else, and those a grace period could soften (KEV shortens it). Each
//! vulnerability's answer is remembered in the state table for a day; the rest are looked up in
//! Inspector's finding details, ten findings a call, at Inspector's pace.

use std::collections::{BTreeMap, HashMap};

use super::Gatekeeper;
use crate::domain::policy::{Criteria, Rule};
use crate::domain::time::{DAY, Epoch};
use crate::domain::{Finding, FindingStatus, ImageRef, Kev};
use crate::error::{AwsError, Error};
use crate::ports::{FindingsSource, KevCache, Ports};

/// How long what KEV says of a vulnerability is remembered.
pub const KEV_MEMORY: Epoch = DAY;

/// Whether `rule` asks about KEV at either level.
fn asks_kev(rule: &Rule) -> bool {
    rule.block.asks_kev() || rule.warn.asks_kev()
}

/// The findings whose KEV entry could change their level under `rule`, by vulnerability id (upper
/// case) with one finding ARN each: open findings with an ARN that the rule does not deny and that
/// block by no other criterion, or that a grace period could soften.
fn candidates(rule: &Rule, findings: &[Finding]) -> BTreeMap<String, String> {
    let otherwise = Criteria {
        kev: None,
        ..rule.block
    };
    let graced = |f: &Finding| {
        rule.grace.contains_key(&f.severity) || rule.grace_in_use.contains_key(&f.severity)
    };
    let mut out = BTreeMap::new();
    for f in findings
        .iter()
        .filter(|f| f.status != FindingStatus::Closed)
    {
        let id = f.id.trim().to_ascii_uppercase();
        // CISA's catalog lists CVE ids only: other ids (GHSA, ALAS ...) are never in it.
        let could_change = id.starts_with("CVE-") && (otherwise.met_by(f).is_none() || graced(f));
        if let Some(arn) = f
            .arn
            .as_ref()
            .filter(|_| could_change && !rule.deny.contains(&id))
        {
            out.entry(id).or_insert_with(|| arn.clone());
        }
    }
    out
}

/// Sets the KEV entry of the `findings` that KEV could change under `rule`, when it asks about KEV:
/// the answers `cache` remembers first (when there is one), then one lookup in `source` per
/// vulnerability not remembered (remembered in turn until `now` + [`KEV_MEMORY`]). A failed lookup is
/// an error; a vulnerability whose details are not found is [`Kev::UNKNOWN`] (it meets `kev`: deciding
/// it is not in KEV could pass what KEV blocks) and is not remembered, so that it is looked up again.
pub async fn look_up_kev<F: FindingsSource + Sync, C: KevCache + Sync>(
    rule: &Rule,
    source: &F,
    cache: Option<&C>,
    now: Epoch,
    findings: &mut [Finding],
) -> Result<(), AwsError> {
    if !asks_kev(rule) {
        return Ok(());
    }
    let arn_of = candidates(rule, findings);
    if arn_of.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = arn_of.keys().cloned().collect();
    let mut known = match cache {
        Some(c) => c.kev_remembered(&ids, now).await?,
        None => HashMap::new(),
    };
    let id_of: HashMap<&str, &str> = (arn_of.iter())
        .filter(|(id, _)| !known.contains_key(*id))
        .map(|(id, arn)| (arn.as_str(), id.as_str()))
        .collect();
    if !id_of.is_empty() {
        let arns: Vec<String> = id_of.keys().map(|a| a.to_string()).collect();
        let answers: Vec<(String, Option<Kev>)> = (source.kev_of(&arns).await?.into_iter())
            .filter_map(|(arn, kev)| Some((id_of.get(arn.as_str())?.to_string(), kev)))
            .collect();
        if let Some(c) = cache {
            c.remember_kev(&answers, now + KEV_MEMORY).await?;
        }
        known.extend(answers);
        for id in id_of.values() {
            known.entry(id.to_string()).or_insert(Some(Kev::UNKNOWN));
        }
    }
    for f in findings.iter_mut() {
        if let Some(Some(kev)) = known.get(&f.id.trim().to_ascii_uppercase()) {
            f.kev = Some(*kev);
        }
    }
    Ok(())
}

impl<P: Ports> Gatekeeper<P> {
    /// [`look_up_kev`] for `image`'s findings under its rule, remembered in the state table.
    pub(super) async fn with_kev<F: FindingsSource + Sync>(
        &self,
        source: &F,
        image: &ImageRef,
        findings: &mut [Finding],
    ) -> Result<(), Error> {
        let rule = self.rule_of(image).await?;
        let now = (self.clock)();
        look_up_kev(&rule, source, Some(&self.state), now, findings).await?;
        Ok(())
    }
}
