//! `aws.inspector2` events (`Inspector2 Scan`, `Finding`, `Coverage`) and Inspector / basic-scan
//! finding documents (the ListFindings and DescribeImageScanFindings JSON shapes).

use serde_json::Value;

use super::fields::{Obj, ParseError};
use super::{CoverageChange, EventBody, FindingChange, Scanner};
use crate::domain::time::{Epoch, parse_inspector_time};
use crate::domain::{
    Finding, FindingStatus, FixAvailable, ImageRef, Package, ScanState, Severity,
    repository_from_arn,
};

/// An ECR image ARN `arn:aws:ecr:<region>:<account>:repository/<name>/sha256:<hex>` -> (name, digest).
fn image_from_arn(arn: &str) -> Option<(String, String)> {
    let (_, rest) = arn.split_once(":repository/")?;
    let i = rest.find("/sha256:")?;
    Some((rest[..i].to_string(), rest[i + 1..].to_string()))
}

/// `Inspector2 Scan`: the first enhanced scan of a resource completed; only ECR images are ours.
pub(super) fn scan(detail: &Obj<'_>, resources: &[&str]) -> Result<EventBody, ParseError> {
    if detail.get("image-digest").is_none() {
        return Ok(EventBody::Ignored(
            "Inspector2 Scan of a resource that is not an ECR image".into(),
        ));
    }
    super::ecr::scan(detail, resources, Scanner::Enhanced)
}

/// `Inspector2 Finding`: the finding of an ECR container image; other resource types are ignored.
pub(super) fn finding(
    detail: &Obj<'_>,
    resources: &[&str],
    sent: Option<Epoch>,
) -> Result<EventBody, ParseError> {
    let (ecr, other_type) = ecr_resource(detail, sent)?;
    let (image, in_use_count, last_in_use_at, pushed_at) = match (ecr, other_type) {
        (Some(r), _) => (r.image, r.in_use_count, r.last_in_use_at, r.pushed_at),
        (None, Some(kind)) => {
            return Ok(EventBody::Ignored(format!(
                "Inspector2 Finding for a {kind} resource"
            )));
        }
        // No resource details at all: the envelope's image ARN is the last resort.
        (None, None) => match resources.iter().find_map(|r| image_from_arn(r)) {
            Some((repository, digest)) => (
                ImageRef {
                    place: None,
                    repository,
                    digest,
                    tags: Vec::new(),
                },
                None,
                None,
                None,
            ),
            None => {
                return Ok(EventBody::Ignored(
                    "Inspector2 Finding for a non-ECR resource".into(),
                ));
            }
        },
    };
    let mut finding = finding_from(detail)?;
    finding.in_use_count = in_use_count;
    finding.last_in_use_at = last_in_use_at;
    finding.first_observed = not_after(finding.first_observed, sent);
    // An update "after" the event would make every later report of the finding look older.
    finding.updated_at = not_after(finding.updated_at, sent);
    Ok(EventBody::Finding(FindingChange {
        image,
        finding,
        in_use_count,
        last_in_use_at,
        pushed_at,
    }))
}

/// What a finding's ECR container image resource says: the image, its use, its push.
struct EcrResource {
    image: ImageRef,
    in_use_count: Option<u64>,
    last_in_use_at: Option<Epoch>,
    pushed_at: Option<Epoch>,
}

/// The first ECR container image among a finding's resources, or else the type of the last other
/// resource before it (`None` when there are no resource details at all).
fn ecr_resource(
    detail: &Obj<'_>,
    sent: Option<Epoch>,
) -> Result<(Option<EcrResource>, Option<String>), ParseError> {
    let mut other_type = None;
    for resource in detail.opt_obj_list("resources")? {
        let details = resource.opt_obj("details")?;
        let ecr = match &details {
            Some(d) => d.opt_obj("awsEcrContainerImage")?,
            None => None,
        };
        let Some(ecr) = ecr else {
            other_type = resource.opt_str("type")?.map(str::to_string).or(other_type);
            continue;
        };
        return Ok((Some(ecr_image(&resource, &ecr, sent)?), other_type));
    }
    Ok((None, other_type))
}

/// Reads one `awsEcrContainerImage` resource; its ARN (`id`) stands in for a missing repository
/// name or digest, and times later than the event was sent are taken as then.
fn ecr_image(
    resource: &Obj<'_>,
    ecr: &Obj<'_>,
    sent: Option<Epoch>,
) -> Result<EcrResource, ParseError> {
    let from_id = resource.opt_str("id")?.and_then(image_from_arn);
    let repository = match ecr.opt_str("repositoryName")? {
        Some(name) if !name.trim().is_empty() => repository_from_arn(name).to_string(),
        _ => from_id
            .as_ref()
            .map(|(r, _)| r.clone())
            .ok_or_else(|| ecr.error("repositoryName", "is missing"))?,
    };
    let digest = match ecr.opt_str("imageHash")? {
        Some(d) if !d.trim().is_empty() => d.to_string(),
        _ => from_id
            .as_ref()
            .map(|(_, d)| d.clone())
            .ok_or_else(|| ecr.error("imageHash", "is missing"))?,
    };
    let tags = ecr
        .opt_str_list("imageTags")?
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok(EcrResource {
        in_use_count: ecr.opt_count("inUseCount", true)?,
        last_in_use_at: not_after(time_field(ecr, "lastInUseAt")?, sent),
        pushed_at: not_after(time_field(ecr, "pushedAt")?, sent),
        image: ImageRef {
            place: None,
            repository,
            digest,
            tags,
        },
    })
}

/// `Inspector2 Coverage`: the scan status of a resource changed; only ECR images are ours.
pub(super) fn coverage(detail: &Obj<'_>, resources: &[&str]) -> Result<EventBody, ParseError> {
    let from_detail = match detail.opt_str("resourceId")? {
        Some(id) => image_from_arn(id),
        None => None,
    };
    let Some((repository, digest)) =
        from_detail.or_else(|| resources.iter().find_map(|r| image_from_arn(r)))
    else {
        return Ok(EventBody::Ignored(
            "Inspector2 Coverage of a resource that is not an ECR image".into(),
        ));
    };
    let status = detail.obj("scanStatus")?;
    let code = status
        .opt_str("statusCodeValue")?
        .or(status.opt_str("statusCode")?)
        .unwrap_or("");
    let reason = status.opt_str("reason")?.unwrap_or("");
    if code.is_empty() && reason.is_empty() {
        return Err(status.error("statusCodeValue", "is missing"));
    }
    let tags = match detail.opt_obj("ecrImage")? {
        Some(ecr) => ecr
            .opt_str_list("imageTags")?
            .into_iter()
            .map(str::to_string)
            .collect(),
        None => Vec::new(),
    };
    Ok(EventBody::Coverage(CoverageChange {
        image: ImageRef {
            place: None,
            repository,
            digest,
            tags,
        },
        state: ScanState::from_inspector_coverage(code, reason),
    }))
}

/// A time the event states about itself cannot be later than the event: clamped to the envelope's
/// `time` (a `firstObservedAt` in the year 10000 would otherwise grant a grace period that never ends).
fn not_after(t: Option<Epoch>, sent: Option<Epoch>) -> Option<Epoch> {
    match (t, sent) {
        (Some(t), Some(sent)) => Some(t.min(sent)),
        (t, _) => t,
    }
}

fn time_field(obj: &Obj<'_>, key: &str) -> Result<Option<i64>, ParseError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64().map(|f| f as i64)),
        Some(Value::String(s)) => Ok(parse_inspector_time(s)),
        Some(_) => Err(obj.error(key, "expected a timestamp")),
    }
}

/// `exploitAvailable`: exactly `NO` is no; any other value counts as YES, the side that blocks.
fn yes_no(obj: &Obj<'_>, key: &str) -> Result<Option<bool>, ParseError> {
    Ok(obj.opt_str(key)?.map(|v| v != "NO"))
}

/// An Inspector finding object (event detail, ListFindings item) into a [`Finding`]. Every value a
/// verdict depends on is read strictly: a score or EPSS that is not a number in range refuses the
/// finding; a severity AWS does not document is resolved by [`Severity::resolve`] (fail closed).
fn finding_from(detail: &Obj<'_>) -> Result<Finding, ParseError> {
    let vuln = detail.opt_obj("packageVulnerabilityDetails")?;
    let score = detail.opt_f64_in("inspectorScore", 0.0..=10.0)?;
    let vendor = match &vuln {
        Some(v) => v.opt_str("vendorSeverity")?,
        None => None,
    };
    let (severity, severity_note) = Severity::resolve(detail.str("severity")?, score, vendor);
    let id = match &vuln {
        Some(v) => v.opt_str("vulnerabilityId")?,
        None => None,
    };
    let id = match id
        .or(detail.opt_str("title")?)
        .or(detail.opt_str("findingArn")?)
    {
        Some(id) if !id.trim().is_empty() => id.to_string(),
        _ => {
            return Err(detail.error(
                "packageVulnerabilityDetails.vulnerabilityId",
                "is missing (and no title or findingArn)",
            ));
        }
    };
    let mut packages = Vec::new();
    if let Some(v) = &vuln {
        for p in v.opt_obj_list("vulnerablePackages")? {
            let version = p.opt_str("version")?.map(|v| match p.opt_str("release") {
                Ok(Some(r)) if !r.is_empty() => format!("{v}-{r}"),
                _ => v.to_string(),
            });
            packages.push(Package {
                name: p.opt_str("name")?.unwrap_or_default().to_string(),
                version,
                fixed_in: p
                    .opt_str("fixedInVersion")?
                    .filter(|f| !f.is_empty() && *f != "NotAvailable")
                    .map(str::to_string),
            });
        }
    }
    let epss = match detail.opt_obj("epss")? {
        Some(e) => e.opt_f64_in("score", 0.0..=1.0)?,
        None => None,
    };
    Ok(Finding {
        id,
        arn: detail.opt_str("findingArn")?.map(str::to_string),
        severity,
        status: detail
            .opt_str("status")?
            .map_or(FindingStatus::Active, FindingStatus::parse),
        packages,
        fix_available: detail.opt_str("fixAvailable")?.map(FixAvailable::parse),
        exploit_available: yes_no(detail, "exploitAvailable")?,
        score,
        epss,
        first_observed: time_field(detail, "firstObservedAt")?,
        updated_at: time_field(detail, "updatedAt")?,
        in_use_count: None,
        last_in_use_at: None,
        severity_note,
        kev: None,
    })
}

/// Parses one Inspector finding (the ListFindings / event-detail JSON shape).
pub fn parse_inspector_finding(value: &Value) -> Result<Finding, ParseError> {
    finding_from(&Obj::at(value, "finding".into())?)
}

/// Parses one ECR basic-scan finding (`{"name", "severity", "attributes": [{"key","value"}]}`).
pub fn parse_basic_finding(value: &Value) -> Result<Finding, ParseError> {
    let obj = Obj::at(value, "finding".into())?;
    let mut attributes = Vec::new();
    for attr in obj.opt_obj_list("attributes")? {
        if let (Some(key), Some(value)) = (attr.opt_str("key")?, attr.opt_str("value")?) {
            attributes.push((key, value));
        }
    }
    Ok(Finding::basic(
        obj.str("name")?,
        Some(obj.str("severity")?),
        attributes,
    ))
}

/// A findings document as a user saves it: ListFindings output (`{"findings": [...]}`),
/// DescribeImageScanFindings output (`{"imageScanFindings": {"findings": [...]}}`, basic or
/// `enhancedFindings`), or a bare array of either finding shape.
pub fn parse_findings_document(value: &Value) -> Result<Vec<Finding>, ParseError> {
    let items: (&[Value], &str) = match value {
        Value::Array(items) => (items, ""),
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("findings") {
                (items, "findings")
            } else if let Some(Value::Object(isf)) = map.get("imageScanFindings") {
                match (isf.get("enhancedFindings"), isf.get("findings")) {
                    (Some(Value::Array(items)), _) if !items.is_empty() => {
                        (items, "imageScanFindings.enhancedFindings")
                    }
                    (_, Some(Value::Array(items))) => (items, "imageScanFindings.findings"),
                    (Some(Value::Array(items)), None) => {
                        (items, "imageScanFindings.enhancedFindings")
                    }
                    _ => {
                        return Err(ParseError::new(
                            "imageScanFindings: has neither findings nor enhancedFindings",
                        ));
                    }
                }
            } else {
                return Err(ParseError::new(
                    "expected {\"findings\": [...]}, {\"imageScanFindings\": ...} or an array of findings",
                ));
            }
        }
        _ => {
            return Err(ParseError::new(
                "expected a JSON object or array of findings",
            ));
        }
    };
    let (items, at) = items;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let inspector = item.get("findingArn").is_some()
                || item.get("packageVulnerabilityDetails").is_some();
            let parsed = if inspector {
                parse_inspector_finding(item)
            } else {
                parse_basic_finding(item)
            };
            parsed.map_err(|e| {
                ParseError::new(format!(
                    "{at}[{i}]: {}",
                    e.reason().trim_start_matches("finding.")
                ))
            })
        })
        .collect()
}
