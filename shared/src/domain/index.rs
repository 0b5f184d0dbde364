//! Multi-architecture images: reading an image index's platform images, and the index's verdict as
//! the verdict of its worst platform image. Pure: no I/O.
//!
//! Inspector and basic scanning scan the platform images (pushed untagged, usually before the index),
//! never the index itself; attestation manifests (buildx provenance and SBOMs, platform
//! `unknown/unknown`) are not images and take no part.

use serde_json::Value;

use crate::domain::verdict::{Summary, TOP_FINDINGS, Verdict, pending};
use crate::domain::{Decision, Finding, Severity, SeverityCounts};

/// One manifest an index refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Child {
    /// Its digest.
    pub digest: String,
    /// `os/architecture[/variant]`, or `unknown`.
    pub platform: String,
    /// A buildx attestation manifest (provenance, SBOM), not a platform image.
    pub attestation: bool,
}

/// The manifests of an OCI image index or Docker manifest list; an error when the text is not one.
pub fn children(manifest: &str) -> Result<Vec<Child>, String> {
    let v: Value =
        serde_json::from_str(manifest).map_err(|e| format!("index manifest is not JSON: {e}"))?;
    let list = v
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or("index manifest has no manifests list")?;
    Ok(list
        .iter()
        .filter_map(|m| {
            let digest = m.get("digest")?.as_str()?.to_string();
            let platform = m.get("platform");
            let part = |k: &str| {
                platform
                    .and_then(|p| p.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
            };
            let (os, arch, variant) = (part("os"), part("architecture"), part("variant"));
            let reference = m
                .get("annotations")
                .and_then(|a| a.get("vnd.docker.reference.type"))
                .and_then(Value::as_str);
            let attestation =
                reference == Some("attestation-manifest") || os == "unknown" || arch == "unknown";
            let platform = match (os, arch, variant) {
                ("", "", _) => "unknown".to_string(),
                (o, a, "") => format!("{o}/{a}"),
                (o, a, v) => format!("{o}/{a}/{v}"),
            };
            Some(Child {
                digest,
                platform,
                attestation,
            })
        })
        .collect())
}

/// What is known about one platform image when its index is judged.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformVerdict {
    /// The platform image.
    pub child: Child,
    /// Its decision, if it has one yet.
    pub decision: Option<Decision>,
    /// What its verdict said.
    pub summary: Option<Summary>,
}

fn rank(d: Option<Decision>) -> u8 {
    match d {
        Some(Decision::Block) => 4,
        None | Some(Decision::Pending) => 3,
        Some(Decision::Warn) => 2,
        Some(Decision::Pass) => 1,
    }
}

/// The index's verdict: the worst of its platform images (block, then pending, then warn, then
/// pass); counts are the highest per severity among them. No platform image at all is `pending`.
pub fn aggregate(platforms: &[PlatformVerdict]) -> Verdict {
    let images: Vec<&PlatformVerdict> = platforms.iter().filter(|p| !p.child.attestation).collect();
    let Some(worst) = images.iter().max_by_key(|p| rank(p.decision)) else {
        return pending("image index without platform images: nothing was scanned");
    };
    let decision = match worst.decision {
        None => Decision::Pending,
        Some(d) => d,
    };
    let mut counts = SeverityCounts::default();
    for s in Severity::ALL {
        let most = images
            .iter()
            .filter_map(|p| p.summary.as_ref())
            .map(|m| m.counts.get(s))
            .max()
            .unwrap_or(0);
        counts.add_n(s, most);
    }
    let mut reasons = vec![format!(
        "image index: the verdict of its worst platform image ({} platform image(s))",
        images.len()
    )];
    for p in &images {
        let short = p
            .child
            .digest
            .split_once(':')
            .map_or(p.child.digest.as_str(), |(_, h)| &h[..h.len().min(12)]);
        let why = p
            .summary
            .as_ref()
            .and_then(|s| s.reasons.first())
            .map_or("no verdict yet".to_string(), |r| r.clone());
        reasons.push(format!(
            "{} ({short}): {}: {why}",
            p.child.platform,
            p.decision.map_or("pending", Decision::as_str)
        ));
    }
    let deadline = images
        .iter()
        .filter_map(|p| p.summary.as_ref().and_then(|s| s.deadline))
        .min();
    let top = blocking_of(&images);
    Verdict {
        decision,
        counts,
        max_severity: counts.max(),
        reasons,
        blocking: if decision == Decision::Block {
            top.len() as u32
        } else {
            0
        },
        top: if decision == Decision::Block {
            top
        } else {
            Vec::new()
        },
        warning: 0,
        exceptions: Vec::new(),
        deadline,
    }
}

/// What blocks the blocked platform images (each vulnerability once, at its highest severity, most
/// severe first, at most [`TOP_FINDINGS`]): what the index's block is recorded with.
fn blocking_of(images: &[&PlatformVerdict]) -> Vec<Finding> {
    let mut by_id: std::collections::BTreeMap<&str, Severity> = std::collections::BTreeMap::new();
    let blocked = images
        .iter()
        .filter(|p| p.decision == Some(Decision::Block));
    for v in blocked
        .filter_map(|p| p.summary.as_ref())
        .flat_map(|s| &s.blocking)
    {
        let severity = by_id.entry(&v.id).or_insert(v.severity);
        *severity = (*severity).max(v.severity);
    }
    let mut top: Vec<Finding> = (by_id.into_iter())
        .map(|(id, severity)| Finding::new(id, severity))
        .collect();
    top.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    top.truncate(TOP_FINDINGS);
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILDX: &str = r#"{
      "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
      "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:aaa", "size": 1, "platform": {"architecture": "amd64", "os": "linux"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:bbb", "size": 1, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:ccc", "size": 1, "platform": {"architecture": "unknown", "os": "unknown"},
         "annotations": {"vnd.docker.reference.digest": "sha256:aaa", "vnd.docker.reference.type": "attestation-manifest"}}
      ]}"#;

    fn summary(n: u32, reason: &str) -> Option<Summary> {
        let mut counts = SeverityCounts::default();
        counts.add_n(Severity::Critical, n);
        Some(Summary {
            counts,
            reasons: vec![reason.into()],
            deadline: None,
            due: None,
            blocking: Vec::new(),
        })
    }

    #[test]
    fn reads_platform_images_and_attestations_of_a_buildx_index() {
        let c = children(BUILDX).unwrap();
        assert_eq!(
            c.iter()
                .map(|c| (c.platform.as_str(), c.attestation))
                .collect::<Vec<_>>(),
            [
                ("linux/amd64", false),
                ("linux/arm64/v8", false),
                ("unknown/unknown", true)
            ]
        );
        assert!(children("{}").is_err());
        assert!(children("not json").is_err());
    }

    #[test]
    fn the_worst_platform_decides_and_attestations_do_not_count() {
        let c = children(BUILDX).unwrap();
        let with = |a: Option<Decision>, b: Option<Decision>, att: Option<Decision>| {
            let decisions = [a, b, att];
            c.iter()
                .zip(decisions)
                .map(|(c, d)| PlatformVerdict {
                    child: c.clone(),
                    decision: d,
                    summary: if d == Some(Decision::Block) {
                        summary(2, "CVE-1 blocks")
                    } else {
                        summary(0, "clean")
                    },
                })
                .collect::<Vec<_>>()
        };
        use Decision::*;
        let cases = [
            ((Some(Pass), Some(Pass), None), Pass),
            ((Some(Pass), Some(Warn), None), Warn),
            ((Some(Pass), None, None), Pending),
            ((Some(Block), None, None), Block),
            ((Some(Pass), Some(Pass), Some(Block)), Pass),
        ];
        for ((a, b, att), want) in cases {
            let v = aggregate(&with(a, b, att));
            assert_eq!(v.decision, want, "{a:?} {b:?} {att:?}");
        }
        let v = aggregate(&with(Some(Block), Some(Pass), None));
        assert_eq!(v.counts.get(Severity::Critical), 2);
        assert!(
            v.reasons[1].starts_with("linux/amd64 (aaa): block: CVE-1 blocks"),
            "{:?}",
            v.reasons
        );
        assert_eq!(aggregate(&[]).decision, Pending);
        // What blocks a blocked platform image is what the index's block is recorded with (the
        // report's tickets), each vulnerability once at its highest severity.
        let vuln = |id: &str, severity| crate::domain::history::Vulnerability {
            id: id.into(),
            severity,
        };
        let mut platforms = with(Some(Block), Some(Block), None);
        for (p, found) in platforms.iter_mut().zip([
            vec![
                vuln("CVE-1", Severity::High),
                vuln("CVE-2", Severity::Critical),
            ],
            vec![vuln("CVE-1", Severity::Critical)],
        ]) {
            if let Some(s) = p.summary.as_mut() {
                s.blocking = found;
            }
        }
        let v = aggregate(&platforms);
        assert_eq!(
            v.blocking_vulnerabilities(),
            vec![
                vuln("CVE-1", Severity::Critical),
                vuln("CVE-2", Severity::Critical)
            ]
        );
        assert!(
            aggregate(&with(Some(Pass), Some(Warn), None))
                .blocking_vulnerabilities()
                .is_empty()
        );
    }
}
