//! Gathers what the cost report is computed from: ECR's repositories, images and scanning
//! configuration, and Inspector's coverage, coverage statistics and usage totals. Read only.

use std::collections::HashMap;

use super::{Ecr, Inspector};
use crate::domain::ScanState;
use crate::error::AwsError;
use crate::outbound::cost::{CostInputs, ImageFacts, RepositoryFacts};
use crate::ports::ImageRegistry;

/// Everything [`crate::outbound::cost::report`] needs. Inspector's usage is optional: without Inspector (or
/// the permission), the report says there are no cost figures rather than failing.
pub async fn gather(ecr: &Ecr, inspector: &Inspector) -> Result<CostInputs, AwsError> {
    let (enhanced, rules_json) = ecr.scanning_rules().await?;
    let mut repositories = Vec::new();
    let mut pushed: HashMap<(String, String), Option<i64>> = HashMap::new();
    for name in ecr.repositories().await? {
        let coverage = ecr.scan_coverage(&name).await?;
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
        for i in &images {
            pushed.insert((name.clone(), i.digest.clone()), i.pushed_at);
        }
        repositories.push(RepositoryFacts {
            name,
            frequency: coverage.frequency,
            scan_on_push: coverage.scan_on_push,
            images,
        });
    }
    let (mut coverage, statistics) = if enhanced {
        (
            inspector.ecr_coverage().await?,
            inspector.ecr_coverage_statistics().await?,
        )
    } else {
        (Vec::new(), Default::default())
    };
    for c in &mut coverage {
        c.pushed_at = pushed
            .get(&(c.repository.clone(), c.digest.clone()))
            .copied()
            .flatten();
    }
    let usage = match inspector.ecr_usage().await {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::warn!(error = %e, "Inspector usage totals unavailable");
            None
        }
    };
    Ok(CostInputs {
        enhanced,
        rules_json,
        repositories,
        coverage,
        statistics,
        usage,
    })
}
