//! Gathers what the cost report is computed from: ECR's repositories, images and scanning
//! configuration, and Inspector's coverage and usage totals; for one account, or for each account of
//! an Organization deployment (members' registries through the member role, Inspector's figures
//! once for all of them from the delegated administrator). Read only.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::{Ecr, Inspector, Members};
use crate::domain::{Place, ScanState};
use crate::error::AwsError;
use crate::outbound::cost::{CostInputs, CoveredImage, ImageFacts, RepositoryFacts, Usage};
use crate::ports::ImageRegistry;

/// Everything [`crate::outbound::cost::report`] needs for the deployment's own account. Inspector's
/// usage is optional: without Inspector (or the permission), the report says there are no cost
/// figures rather than failing.
pub async fn gather(ecr: &Ecr, inspector: &Inspector) -> Result<CostInputs, AwsError> {
    let mut inputs = registry_facts(ecr).await?;
    if inputs.enhanced {
        let coverage = inspector.ecr_coverage().await?;
        join_coverage(&mut inputs, coverage.into_iter().map(|(_, c)| c).collect());
    }
    let own: Vec<String> = inspector
        .own_account()
        .map(str::to_string)
        .into_iter()
        .collect();
    inputs.usage = usage(inspector, &own).await.and_then(|by_account| {
        match own.first() {
            // An account Inspector gives no usage for has no cost figures (not $0).
            Some(account) => by_account.get(account).copied(),
            // The account is not known (the CLI without GATEKEEPER_ACCOUNT_ID): all Inspector answers.
            None => Some(by_account.values().fold(Usage::default(), sum)),
        }
    });
    Ok(inputs)
}

/// The cost inputs of each account of an Organization deployment.
#[derive(Debug, Default)]
pub struct OrganizationInputs {
    /// The accounts read: `None` for the deployment's own.
    pub read: Vec<(Option<Place>, CostInputs)>,
    /// The accounts that could not be read, and why.
    pub failed: Vec<(Place, String)>,
}

/// The inputs of each account in `places` (`None`: the deployment's own registry `home`, at
/// `home_place`; members through `members`). Inspector's figures come first, once for all accounts:
/// its coverage (one listing across the Organization) and usage (one query naming every account).
/// Then the registries, one after another: an account that refuses or fails is a failure of its own,
/// and one not begun by `until` is "not reached". Failing to list the coverage when any registry
/// read is ENHANCED is an error.
pub async fn gather_each(
    (home, home_place): (&Ecr, &Place),
    members: &Members,
    places: &[Option<Place>],
    inspector: &Inspector,
    until: Option<Instant>,
) -> Result<OrganizationInputs, AwsError> {
    let account_of = |p: &Option<Place>| p.as_ref().unwrap_or(home_place).account.clone();
    let accounts: Vec<String> = places.iter().map(account_of).collect();
    let coverage = inspector.ecr_coverage().await;
    let usage = usage(inspector, &accounts).await;
    let mut out = OrganizationInputs::default();
    for place in places {
        let at = place.as_ref().unwrap_or(home_place);
        if until.is_some_and(|u| Instant::now() >= u) {
            out.failed
                .push((at.clone(), "not reached: the run's time ran out".into()));
            continue;
        }
        let read = match place {
            None => registry_facts(home).await,
            Some(p) => read_member(members, p).await,
        };
        match read {
            Ok(inputs) => out.read.push((place.clone(), inputs)),
            Err(e) => out.failed.push((at.clone(), e.to_string())),
        }
    }
    if out.read.iter().any(|(_, i)| i.enhanced) {
        let mut by_account: HashMap<String, Vec<CoveredImage>> = HashMap::new();
        for (account, c) in coverage? {
            by_account.entry(account).or_default().push(c);
        }
        for (place, inputs) in out.read.iter_mut().filter(|(_, i)| i.enhanced) {
            let coverage = by_account.remove(&account_of(place)).unwrap_or_default();
            join_coverage(inputs, coverage);
        }
    }
    // An account Inspector gives no usage for has no cost figures (not $0).
    if let Some(by_account) = usage {
        for (place, inputs) in &mut out.read {
            inputs.usage = by_account.get(&account_of(place)).copied();
        }
    }
    Ok(out)
}

/// One member's registry facts, through its session.
async fn read_member(members: &Members, place: &Place) -> Result<CostInputs, AwsError> {
    registry_facts(&members.registry(place).await?).await
}

/// Inspector's usage totals of `accounts` by account, or `None` (logged) when it does not answer.
async fn usage(inspector: &Inspector, accounts: &[String]) -> Option<BTreeMap<String, Usage>> {
    match inspector.ecr_usage(accounts).await {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::warn!(error = %e, "Inspector usage totals unavailable");
            None
        }
    }
}

fn sum(a: Usage, b: &Usage) -> Usage {
    Usage {
        initial_scans: a.initial_scans + b.initial_scans,
        rescans: a.rescans + b.rescans,
        estimated_monthly_cost: match (a.estimated_monthly_cost, b.estimated_monthly_cost) {
            (None, None) => None,
            (x, y) => Some(x.unwrap_or(0.0) + y.unwrap_or(0.0)),
        },
    }
}

/// ECR's side of one registry: its scanning configuration, repositories and images (no coverage,
/// no usage yet).
async fn registry_facts(ecr: &Ecr) -> Result<CostInputs, AwsError> {
    let (enhanced, rules_json) = ecr.scanning_rules().await?;
    let names = ecr.repositories().await?;
    let mut frequencies = ecr.scan_frequencies(&names).await?;
    let mut repositories = Vec::new();
    for name in names {
        // Not in the answer: deleted since it was listed.
        let Some((frequency, scan_on_push)) = frequencies.remove(&name) else {
            continue;
        };
        let images: Vec<ImageFacts> = ecr
            .images(&name)
            .await?
            .into_iter()
            .map(|d| ImageFacts {
                tagged: !d.tags.is_empty(),
                pushed_at: d.pushed_at,
                pulled_at: d.pulled_at,
                scanned: d.scan != ScanState::Unknown,
                digest: d.digest,
            })
            .collect();
        repositories.push(RepositoryFacts {
            name,
            frequency,
            scan_on_push,
            images,
        });
    }
    Ok(CostInputs {
        enhanced,
        rules_json,
        repositories,
        ..CostInputs::default()
    })
}

/// Sets `inputs`' coverage, each image's push time taken from the registry's listing.
fn join_coverage(inputs: &mut CostInputs, mut coverage: Vec<CoveredImage>) {
    let pushed: HashMap<(&str, &str), Option<i64>> = (inputs.repositories.iter())
        .flat_map(|r| {
            (r.images.iter()).map(|i| ((r.name.as_str(), i.digest.as_str()), i.pushed_at))
        })
        .collect();
    for c in &mut coverage {
        c.pushed_at = pushed
            .get(&(c.repository.as_str(), c.digest.as_str()))
            .copied()
            .flatten();
    }
    inputs.coverage = coverage;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn accounts_not_begun_in_time_are_named_not_reached() {
        // No endpoint answers here: Inspector's queries fail (they are asked first, and matter only
        // for registries read), and reading a registry would be a failure of another kind.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .endpoint_url("http://127.0.0.1:9")
            .region(aws_config::Region::new("eu-west-1"))
            .build();
        let home_place = Place {
            account: "999999999999".into(),
            region: "eu-west-1".into(),
        };
        let member = Place {
            account: "111111111111".into(),
            ..home_place.clone()
        };
        let members = Members::new(aws_sdk_sts::Client::new(&sdk), "r-read", &sdk, 1.0);
        let inspector = Inspector::new(aws_sdk_inspector2::Client::new(&sdk));
        let out = gather_each(
            (&Ecr::new(aws_sdk_ecr::Client::new(&sdk)), &home_place),
            &members,
            &[None, Some(member.clone())],
            &inspector,
            Some(Instant::now()),
        )
        .await
        .unwrap_or_default();
        assert!(out.read.is_empty());
        let failed: Vec<(&str, &str)> = (out.failed.iter())
            .map(|(p, e)| (p.account.as_str(), e.as_str()))
            .collect();
        let why = "not reached: the run's time ran out";
        assert_eq!(failed, [("999999999999", why), ("111111111111", why)]);
    }
}
