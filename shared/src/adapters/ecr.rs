//! Amazon ECR adapter for [`ImageRegistry`].

use std::sync::{Arc, Mutex};

use aws_sdk_ecr::Client;
use aws_sdk_ecr::config::http::HttpResponse;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ecr::operation::describe_images::{DescribeImagesError, DescribeImagesOutput};
use aws_sdk_ecr::types::{
    ImageIdentifier, ImageScanFinding, RegistryScanningConfiguration, ScanType, TargetStorageClass,
};

use super::members::Members;
use super::{Pace, aws_error, epoch};
use crate::domain::time::{Epoch, now};
use crate::domain::{Finding, Place, ScanState};
use crate::error::AwsError;
use crate::ports::{
    BasicScan, ImageDetail, ImageRegistry, Manifest, PutTag, Reach, Removal, RemovedTag,
    ScanCoverage, StartScan, Storage,
};

/// Manifest types asked for in BatchGetImage: every type ECR stores, so that it never converts the
/// manifest (PutImage must get the stored bytes back to add a tag to the same digest).
const ACCEPTED_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// How long the registry's scan type (BASIC / ENHANCED) is reused before it is read again.
const REGISTRY_TTL: Epoch = 300;

/// What the registry says about replication and pull-through caches, read at most every
/// REGISTRY_TTL seconds.
#[derive(Debug, Clone, Default)]
struct RegistryFacts {
    /// (repository prefix or "" for all, destinations "region/account").
    replication: Vec<(String, Vec<String>)>,
    /// (repository prefix, upstream URL).
    pull_through: Vec<(String, String)>,
}

/// ECR through the AWS SDK (clones share the client, the caches and the pace).
#[derive(Debug, Clone)]
pub struct Ecr {
    client: Client,
    enhanced: Arc<Mutex<Option<(Epoch, bool)>>>,
    facts: Arc<Mutex<Option<(Epoch, RegistryFacts)>>>,
    /// Paces PutImage, whose quota the users' own pushes share.
    put_pace: Pace,
    /// The member registries of an Organization deployment.
    members: Option<Arc<Members>>,
}

/// PutImage calls per second per container by default: a tenth of ECR's default quota of 10 per
/// account and region, which the users' CI pushes share.
pub const PUT_IMAGE_TPS: f64 = 1.0;

impl Ecr {
    /// Wraps a client, pacing PutImage at [`PUT_IMAGE_TPS`] a second.
    pub fn new(client: Client) -> Ecr {
        Ecr {
            client,
            enhanced: Arc::default(),
            facts: Arc::default(),
            put_pace: Pace::per_second(PUT_IMAGE_TPS),
            members: None,
        }
    }

    /// The same, reaching the member registries of an Organization through `members`.
    pub fn with_members(self, members: Members) -> Ecr {
        Ecr {
            members: Some(Arc::new(members)),
            ..self
        }
    }

    /// The same, pacing PutImage with `pace`.
    pub fn paced(self, pace: Pace) -> Ecr {
        Ecr {
            put_pace: pace,
            ..self
        }
    }

    /// The underlying client (for the CLI's listing commands).
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn registry_facts(&self) -> Result<RegistryFacts, AwsError> {
        let cached = self.facts.lock().ok().and_then(|g| g.clone());
        if let Some((at, facts)) = cached
            && now() - at < REGISTRY_TTL
        {
            return Ok(facts);
        }
        let mut facts = RegistryFacts::default();
        // Both at once; the pull-through rules are optional knowledge, not worth a retry's backoff.
        let (registry, rules) = tokio::join!(
            self.client.describe_registry().send(),
            self.client
                .describe_pull_through_cache_rules()
                .customize()
                .config_override(
                    aws_sdk_ecr::config::Builder::default()
                        .retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled()),
                )
                .send()
        );
        let registry = registry.map_err(|e| aws_error("ecr:DescribeRegistry", e))?;
        for rule in registry
            .replication_configuration()
            .map(|c| c.rules())
            .unwrap_or_default()
        {
            let destinations: Vec<String> = rule
                .destinations()
                .iter()
                .map(|d| format!("{}/{}", d.region(), d.registry_id()))
                .collect();
            let filters: Vec<String> = rule
                .repository_filters()
                .iter()
                .map(|f| f.filter().to_string())
                .collect();
            if filters.is_empty() {
                facts.replication.push((String::new(), destinations));
            } else {
                for f in filters {
                    facts.replication.push((f, destinations.clone()));
                }
            }
        }
        match rules {
            Ok(out) => {
                for r in out.pull_through_cache_rules() {
                    if let Some(prefix) = r.ecr_repository_prefix() {
                        facts.pull_through.push((
                            prefix.to_string(),
                            r.upstream_registry_url().unwrap_or_default().to_string(),
                        ));
                    }
                }
            }
            // Not worth failing a verdict for: without the rules, the message just lacks the warning.
            Err(e) => {
                tracing::warn!(error = %aws_error("ecr:DescribePullThroughCacheRules", e), "pull-through cache rules unknown")
            }
        }
        if let Ok(mut g) = self.facts.lock() {
            *g = Some((now(), facts.clone()));
        }
        Ok(facts)
    }

    /// The registry scanning configuration: whether it is ENHANCED, and its rules as JSON (the shape
    /// `aws ecr put-registry-scanning-configuration --rules` takes).
    pub async fn scanning_rules(&self) -> Result<(bool, String), AwsError> {
        let config = self.scanning_configuration().await?;
        let config = config.as_ref();
        let enhanced = scans_enhanced(config);
        let rules: Vec<serde_json::Value> = config
            .map(|c| c.rules())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "scanFrequency": r.scan_frequency().as_str(),
                    "repositoryFilters": r.repository_filters().iter().map(|f| serde_json::json!({
                        "filter": f.filter(),
                        "filterType": f.filter_type().as_str(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok((enhanced, serde_json::Value::from(rules).to_string()))
    }

    /// Each repository's effective scan frequency (MANUAL when none) and scan-on-push, read 25
    /// repositories a call (BatchGetRepositoryScanningConfiguration's most). A repository deleted
    /// since it was listed is left out; any other failure is an error.
    pub async fn scan_frequencies(
        &self,
        repositories: &[String],
    ) -> Result<std::collections::HashMap<String, (String, bool)>, AwsError> {
        let mut out = std::collections::HashMap::new();
        for chunk in repositories.chunks(25) {
            let page = self
                .client
                .batch_get_repository_scanning_configuration()
                .set_repository_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error("ecr:BatchGetRepositoryScanningConfiguration", e))?;
            if let Some(f) = (page.failures().iter()).find(|f| {
                f.failure_code()
                    != Some(
                        &aws_sdk_ecr::types::ScanningConfigurationFailureCode::RepositoryNotFound,
                    )
            }) {
                return Err(AwsError::invalid(
                    "ecr:BatchGetRepositoryScanningConfiguration",
                    format!(
                        "{}: {}",
                        f.repository_name().unwrap_or("?"),
                        f.failure_reason().unwrap_or("failed")
                    ),
                ));
            }
            for c in page.scanning_configurations() {
                let frequency = c.scan_frequency().map_or("MANUAL", |f| f.as_str());
                if let Some(name) = c.repository_name() {
                    out.insert(name.to_string(), (frequency.to_string(), c.scan_on_push()));
                }
            }
        }
        Ok(out)
    }

    async fn registry_enhanced(&self) -> Result<bool, AwsError> {
        let cached = self.enhanced.lock().ok().and_then(|g| *g);
        if let Some((at, enhanced)) = cached
            && now() - at < REGISTRY_TTL
        {
            return Ok(enhanced);
        }
        let enhanced = scans_enhanced(self.scanning_configuration().await?.as_ref());
        if let Ok(mut g) = self.enhanced.lock() {
            *g = Some((now(), enhanced));
        }
        Ok(enhanced)
    }

    /// The registry's scanning configuration (GetRegistryScanningConfiguration), uncached.
    async fn scanning_configuration(
        &self,
    ) -> Result<Option<RegistryScanningConfiguration>, AwsError> {
        let out = self
            .client
            .get_registry_scanning_configuration()
            .send()
            .await
            .map_err(|e| aws_error("ecr:GetRegistryScanningConfiguration", e))?;
        Ok(out.scanning_configuration)
    }

    /// DescribeImages of one image, named by digest or by tag; the caller reads the errors.
    async fn describe_one(
        &self,
        repository: &str,
        id: ImageIdentifier,
    ) -> Result<DescribeImagesOutput, SdkError<DescribeImagesError, HttpResponse>> {
        self.client
            .describe_images()
            .repository_name(repository)
            .image_ids(id)
            .send()
            .await
    }
}

/// Whether a registry scanning configuration is ENHANCED (Inspector) scanning.
fn scans_enhanced(config: Option<&RegistryScanningConfiguration>) -> bool {
    config
        .and_then(|c| c.scan_type())
        .is_some_and(|t| *t == ScanType::Enhanced)
}

fn basic_finding(f: &ImageScanFinding) -> Finding {
    Finding::basic(
        f.name().unwrap_or("unnamed finding"),
        f.severity().map(|s| s.as_str()),
        f.attributes()
            .iter()
            .filter_map(|a| Some((a.key(), a.value()?))),
    )
}

/// BatchGetImage of these digests' manifests, in every media type the gatekeeper handles.
async fn batch_get_images(
    client: &Client,
    repository: &str,
    digests: &[String],
) -> Result<Vec<aws_sdk_ecr::types::Image>, AwsError> {
    let mut req = client.batch_get_image().repository_name(repository);
    for d in digests {
        req = req.image_ids(ImageIdentifier::builder().image_digest(d).build());
    }
    for t in ACCEPTED_MEDIA_TYPES {
        req = req.accepted_media_types(t);
    }
    let out = req
        .send()
        .await
        .map_err(|e| aws_error("ecr:BatchGetImage", e))?;
    Ok(out.images.unwrap_or_default())
}

/// Whether an ECR call failed because the image or its repository does not exist (any more).
fn gone<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(
        e.as_service_error().and_then(ProvideErrorMetadata::code),
        Some("ImageNotFoundException" | "RepositoryNotFoundException")
    )
}

impl Reach for Ecr {
    async fn at(&self, place: &Place) -> Result<Ecr, AwsError> {
        self.members(place)?.registry(place).await
    }

    async fn ou_path(&self, place: &Place) -> Result<Option<String>, AwsError> {
        self.members(place)?.ou_path(place).await
    }
}

impl Ecr {
    /// How this deployment reaches `place`: an error when it has no member role.
    fn members(&self, place: &Place) -> Result<&Members, AwsError> {
        self.members.as_deref().ok_or_else(|| {
            AwsError::invalid(
                "sts:AssumeRole",
                format!("{place}: this deployment has no member role (GATEKEEPER_MEMBER_ROLE)"),
            )
        })
    }
}

impl ImageRegistry for Ecr {
    async fn describe_image(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<ImageDetail>, AwsError> {
        let id = ImageIdentifier::builder().image_digest(digest).build();
        let out = match self.describe_one(repository, id).await {
            Ok(out) => out,
            Err(e) if gone(&e) => return Ok(None),
            Err(e) => return Err(aws_error("ecr:DescribeImages", e)),
        };
        Ok(out
            .image_details()
            .iter()
            .find(|d| d.image_digest() == Some(digest))
            .and_then(image_detail))
    }

    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>, AwsError> {
        let id = ImageIdentifier::builder().image_tag(tag).build();
        match self.describe_one(repository, id).await {
            Ok(out) => Ok(out
                .image_details()
                .iter()
                .find(|d| d.image_tags().iter().any(|t| t == tag))
                .and_then(|d| d.image_digest())
                .map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_image_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("ecr:DescribeImages", e)),
        }
    }

    async fn manifest(&self, repository: &str, digest: &str) -> Result<Option<Manifest>, AwsError> {
        let images = batch_get_images(&self.client, repository, &[digest.to_string()]).await?;
        Ok(images
            .iter()
            .find(|i| {
                i.image_id().and_then(|id| id.image_digest()) == Some(digest) || images.len() == 1
            })
            .and_then(|i| {
                i.image_manifest().map(|body| Manifest {
                    body: body.to_string(),
                    media_type: i.image_manifest_media_type().map(str::to_string),
                })
            }))
    }

    async fn put_tag(
        &self,
        repository: &str,
        digest: &str,
        manifest: &Manifest,
        tag: &str,
    ) -> Result<PutTag, AwsError> {
        self.put_pace.take().await;
        let out = self
            .client
            .put_image()
            .repository_name(repository)
            .image_manifest(&manifest.body)
            .set_image_manifest_media_type(manifest.media_type.clone())
            .image_digest(digest)
            .image_tag(tag)
            .send()
            .await;
        match out {
            Ok(_) => Ok(PutTag::Created),
            // moto says ImageAlreadyExists for an existing tag on an immutable repository, AWS ImageTagAlreadyExists.
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_image_already_exists_exception()
                        || s.is_image_tag_already_exists_exception()
                }) =>
            {
                Ok(PutTag::AlreadyExists)
            }
            Err(e) => Err(aws_error("ecr:PutImage", e)),
        }
    }

    async fn remove_tags(&self, repository: &str, tags: &[String]) -> Result<Removal, AwsError> {
        let mut removal = Removal::default();
        for chunk in tags.chunks(100) {
            let ids = chunk
                .iter()
                .map(|t| ImageIdentifier::builder().image_tag(t).build())
                .collect();
            let out = self
                .client
                .batch_delete_image()
                .repository_name(repository)
                .set_image_ids(Some(ids))
                .send()
                .await
                .map_err(|e| aws_error("ecr:BatchDeleteImage", e))?;
            for id in out.image_ids() {
                if let (Some(tag), Some(digest)) = (id.image_tag(), id.image_digest()) {
                    removal.removed.push(RemovedTag {
                        tag: tag.to_string(),
                        digest: digest.to_string(),
                    });
                }
            }
            for f in out.failures() {
                let tag = f
                    .image_id()
                    .and_then(|i| i.image_tag())
                    .unwrap_or_default()
                    .to_string();
                let code = f.failure_code().map(|c| c.as_str()).unwrap_or_default();
                if code == "ImageNotFound" || code == "ImageTagDoesNotMatchDigest" {
                    removal.absent.push(tag);
                } else {
                    removal.failed.push((
                        tag,
                        format!("{code}: {}", f.failure_reason().unwrap_or_default()),
                    ));
                }
            }
        }
        Ok(removal)
    }

    async fn scan_coverage(&self, repository: &str) -> Result<ScanCoverage, AwsError> {
        let enhanced = self.registry_enhanced().await?;
        let out = self
            .client
            .batch_get_repository_scanning_configuration()
            .repository_names(repository)
            .send()
            .await
            .map_err(|e| aws_error("ecr:BatchGetRepositoryScanningConfiguration", e))?;
        match out.scanning_configurations().first() {
            Some(c) => Ok(ScanCoverage {
                enhanced,
                frequency: c
                    .scan_frequency()
                    .map_or("MANUAL", |f| f.as_str())
                    .to_string(),
                scan_on_push: c.scan_on_push(),
            }),
            None => Err(AwsError::invalid(
                "ecr:BatchGetRepositoryScanningConfiguration",
                format!("no scanning configuration for {repository}"),
            )),
        }
    }

    async fn start_scan(&self, repository: &str, digest: &str) -> Result<StartScan, AwsError> {
        let out = self
            .client
            .start_image_scan()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .send()
            .await;
        match out {
            Ok(_) => Ok(StartScan::Started),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_limit_exceeded_exception()) =>
            {
                Ok(StartScan::AlreadyScannedToday)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_unsupported_image_type_exception()) =>
            {
                Ok(StartScan::Unsupported(
                    e.as_service_error()
                        .and_then(|s| s.meta().message())
                        .unwrap_or("unsupported image type")
                        .to_string(),
                ))
            }
            Err(e) => Err(aws_error("ecr:StartImageScan", e)),
        }
    }

    async fn repository_notes(&self, repository: &str) -> Result<Vec<String>, AwsError> {
        let facts = self.registry_facts().await?;
        let mut notes = Vec::new();
        for (prefix, destinations) in &facts.replication {
            if repository.starts_with(prefix.as_str()) && !destinations.is_empty() {
                notes.push(format!(
                    "{repository} is replicated to {}: tag removals do not propagate there; run the gatekeeper in each destination",
                    destinations.join(", ")
                ));
            }
        }
        for (prefix, upstream) in &facts.pull_through {
            if repository == prefix || repository.starts_with(&format!("{prefix}/")) {
                notes.push(format!("{repository} is a pull-through cache of {upstream}: a removed tag is fetched again from upstream on the next pull"));
            }
        }
        Ok(notes)
    }

    async fn recent_indexes(
        &self,
        repository: &str,
        since: Epoch,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let out = self
            .client
            .describe_images()
            .repository_name(repository)
            .max_results(100)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(aws_error("ecr:DescribeImages", e)),
        };
        let digests: Vec<String> = out
            .image_details()
            .iter()
            .filter(|d| {
                d.image_manifest_media_type()
                    .is_some_and(|m| m.contains("index") || m.contains("manifest.list"))
            })
            .filter(|d| d.image_pushed_at().is_none_or(|t| epoch(t) >= since))
            .filter_map(|d| d.image_digest().map(str::to_string))
            .collect();
        if digests.is_empty() {
            return Ok(Vec::new());
        }
        Ok(batch_get_images(&self.client, repository, &digests)
            .await?
            .iter()
            .filter_map(|i| {
                Some((
                    i.image_id()?.image_digest()?.to_string(),
                    i.image_manifest()?.to_string(),
                ))
            })
            .filter(|(d, _)| digests.contains(d))
            .collect())
    }

    async fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<BasicScan>, AwsError> {
        let mut findings = Vec::new();
        let mut state = ScanState::Unknown;
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_image_scan_findings()
                .repository_name(repository)
                .image_id(ImageIdentifier::builder().image_digest(digest).build())
                .max_results(1000)
                .set_next_token(token.take())
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) if gone(&e) => return Ok(None),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_scan_not_found_exception()) =>
                {
                    return Ok(Some(BasicScan {
                        state: ScanState::Unusable("SCAN_NOT_FOUND".into()),
                        findings,
                    }));
                }
                Err(e) => return Err(aws_error("ecr:DescribeImageScanFindings", e)),
            };
            if let Some(s) = out.image_scan_status().and_then(|s| s.status()) {
                state = ScanState::from_ecr_status(s.as_str());
            }
            if let Some(isf) = out.image_scan_findings() {
                findings.extend(isf.findings().iter().map(basic_finding));
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(Some(BasicScan { state, findings }))
    }

    async fn set_archived(
        &self,
        repository: &str,
        digest: &str,
        archive: bool,
    ) -> Result<Option<Storage>, AwsError> {
        let class = if archive {
            TargetStorageClass::Archive
        } else {
            TargetStorageClass::Standard
        };
        let out = self
            .client
            .update_image_storage_class()
            .repository_name(repository)
            .image_id(ImageIdentifier::builder().image_digest(digest).build())
            .target_storage_class(class)
            .send()
            .await;
        match out {
            Ok(o) => Ok(Some(o.image_status().map_or(
                if archive {
                    Storage::Archived
                } else {
                    Storage::Activating
                },
                |s| Storage::parse(s.as_str()),
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_image_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error("ecr:UpdateImageStorageClass", e)),
        }
    }

    async fn archive_expiry(&self, repository: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .client
            .get_lifecycle_policy()
            .repository_name(repository)
            .send()
            .await;
        match out {
            Ok(o) => Ok(archive_expiry_rules(
                o.lifecycle_policy_text().unwrap_or("{}"),
            )),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_lifecycle_policy_not_found_exception()) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(aws_error("ecr:GetLifecyclePolicy", e)),
        }
    }

    async fn repositories(&self) -> Result<Vec<String>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_repositories()
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ecr:DescribeRepositories", e))?;
            out.extend(
                page.repositories()
                    .iter()
                    .filter_map(|r| r.repository_name().map(str::to_string)),
            );
        }
        Ok(out)
    }

    async fn images(&self, repository: &str) -> Result<Vec<ImageDetail>, AwsError> {
        let mut out = Vec::new();
        let mut pages = self
            .client
            .describe_images()
            .repository_name(repository)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ecr:DescribeImages", e))?;
            out.extend(page.image_details().iter().filter_map(image_detail));
        }
        Ok(out)
    }
}

/// What the gatekeeper reads of an ECR image description; `None` without a digest.
fn image_detail(d: &aws_sdk_ecr::types::ImageDetail) -> Option<ImageDetail> {
    Some(ImageDetail {
        digest: d.image_digest()?.to_string(),
        tags: d.image_tags().to_vec(),
        scan: d
            .image_scan_status()
            .and_then(|s| s.status())
            .map_or(ScanState::Unknown, |s| {
                ScanState::from_ecr_status(s.as_str())
            }),
        manifest_media_type: d.image_manifest_media_type().map(str::to_string),
        artifact_media_type: d.artifact_media_type().map(str::to_string),
        pushed_at: d.image_pushed_at().map(epoch),
        pulled_at: d.last_recorded_pull_time().map(epoch),
        storage: d
            .image_status()
            .map_or(Storage::Active, |s| Storage::parse(s.as_str())),
    })
}

/// The lifecycle rules of a policy document that expire archived images (`selection.storageClass`
/// `archive` with an `expire` action), one line each.
fn archive_expiry_rules(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return vec![
            "its lifecycle policy could not be read: check that it does not expire archived images"
                .into(),
        ];
    };
    let rules = doc.get("rules").and_then(|r| r.as_array());
    rules
        .into_iter()
        .flatten()
        .filter(|r| {
            let sel = |k: &str| r.pointer(&format!("/selection/{k}")).and_then(|v| v.as_str());
            sel("storageClass").is_some_and(|c| c.eq_ignore_ascii_case("archive"))
                && r.pointer("/action/type").and_then(|v| v.as_str()) == Some("expire")
        })
        .map(|r| {
            let n = r.pointer("/selection/countNumber").and_then(|v| v.as_i64()).unwrap_or(0);
            let unit = r.pointer("/selection/countUnit").and_then(|v| v.as_str()).unwrap_or("");
            let priority = r.get("rulePriority").and_then(|v| v.as_i64()).unwrap_or(0);
            format!("lifecycle rule {priority} expires archived images ({n} {unit} after archiving): an image the gatekeeper archived is deleted then")
        })
        .collect()
}
