//! Amazon ECR in memory ([`FakeRegistry`]): repositories of images and their tags, as a mutable
//! repository behaves.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::lock;
use crate::domain::time::Epoch;
use crate::domain::{Finding, Place, ScanState};
use crate::error::{AwsError, AwsErrorKind};
use crate::ports::{
    BasicScan, ImageDetail, ImageRegistry, Manifest, PutTag, Reach, Removal, RemovedTag,
    ScanCoverage, StartScan, Storage,
};

/// The media type of the images [`FakeRegistry::push`] makes.
const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// One image in the fake registry.
#[derive(Debug, Clone)]
struct FakeImage {
    manifest: Manifest,
    tags: Vec<String>,
    scan: ScanState,
    pushed_at: Option<Epoch>,
    pulled_at: Option<Epoch>,
    findings: Vec<Finding>,
    storage: Storage,
}

#[derive(Debug, Default)]
struct Images {
    repositories: BTreeMap<String, BTreeMap<String, FakeImage>>,
    /// Images deleted by the removal of their last tag, as `repository@digest`.
    deleted: Vec<String>,
    /// Lifecycle rules that expire archived images, by repository.
    expiry: BTreeMap<String, Vec<String>>,
}

/// Amazon ECR in memory, as a MUTABLE repository behaves: PutImage moves a tag from any other image;
/// BatchDeleteImage removes a tag from whatever image has it, and deletes an image whose last tag it
/// removes (what the gatekeeper must never cause: [`FakeRegistry::deleted`] tells). Every repository
/// is continuously scanned (enhanced); a scan status and basic findings are what the test sets; there
/// are no image indexes.
#[derive(Debug, Clone, Default)]
pub struct FakeRegistry {
    images: Arc<Mutex<Images>>,
    /// The registries of other accounts and regions, shared by every clone; `None`: the deployment
    /// cannot reach that place (its member role is missing or denies).
    members: Arc<Mutex<BTreeMap<Place, Option<FakeRegistry>>>>,
    /// The OU paths member stacks wrote, by place.
    ou_paths: Arc<Mutex<BTreeMap<Place, String>>>,
}

impl Reach for FakeRegistry {
    async fn at(&self, place: &Place) -> Result<FakeRegistry, AwsError> {
        let mut members = lock(&self.members);
        match members
            .entry(place.clone())
            .or_insert_with(|| Some(FakeRegistry::default()))
        {
            Some(registry) => Ok(registry.clone()),
            None => Err(AwsError {
                operation: "sts:AssumeRole",
                code: Some("AccessDenied".into()),
                message: format!("not authorized to assume the member role in {place}"),
                kind: AwsErrorKind::Rejected,
            }),
        }
    }

    async fn ou_path(&self, place: &Place) -> Result<Option<String>, AwsError> {
        self.at(place).await?;
        Ok(lock(&self.ou_paths).get(place).cloned())
    }
}

impl FakeRegistry {
    /// The registry of another account and region (made empty on first use).
    pub fn member(&self, place: &Place) -> FakeRegistry {
        let mut members = lock(&self.members);
        let slot = (members.entry(place.clone())).or_insert_with(|| Some(FakeRegistry::default()));
        slot.clone().unwrap_or_default()
    }

    /// Has `place`'s member stack write `path` as its account's OU path.
    pub fn set_ou_path(&self, place: &Place, path: &str) {
        lock(&self.ou_paths).insert(place.clone(), path.to_string());
    }

    /// Makes `place` unreachable: its member role denies the deployment.
    pub fn deny(&self, place: &Place) {
        lock(&self.members).insert(place.clone(), None);
    }

    /// Pushes an image (a container image manifest named after `digest`) with `tags`, moving them
    /// from any other image; its scan status is COMPLETE.
    pub fn push(&self, repository: &str, digest: &str, tags: &[&str], pushed_at: Epoch) {
        let mut all = lock(&self.images);
        let images = all.repositories.entry(repository.to_string()).or_default();
        for image in images.values_mut() {
            image.tags.retain(|t| !tags.contains(&t.as_str()));
        }
        let image = images
            .entry(digest.to_string())
            .or_insert_with(|| FakeImage {
                manifest: Manifest {
                    body: format!(r#"{{"schemaVersion":2,"config":{{"digest":"{digest}"}}}}"#),
                    media_type: Some(DOCKER_V2.to_string()),
                },
                tags: Vec::new(),
                scan: ScanState::Complete,
                pushed_at: Some(pushed_at),
                pulled_at: None,
                findings: Vec::new(),
                storage: Storage::Active,
            });
        // Pushing an archived image again restores it (as ECR does).
        image.storage = Storage::Active;
        for t in tags {
            if !image.tags.iter().any(|x| x == t) {
                image.tags.push(t.to_string());
            }
        }
        image.tags.sort();
    }

    /// Sets what DescribeImages and DescribeImageScanFindings report about an image's scan.
    pub fn set_scan(
        &self,
        repository: &str,
        digest: &str,
        scan: ScanState,
        basic_findings: Vec<Finding>,
    ) {
        if let Some(image) = lock(&self.images)
            .repositories
            .get_mut(repository)
            .and_then(|r| r.get_mut(digest))
        {
            image.scan = scan;
            image.findings = basic_findings;
        }
    }

    /// The tags of an image now (sorted), `None` if there is no such image.
    pub fn tags(&self, repository: &str, digest: &str) -> Option<Vec<String>> {
        lock(&self.images)
            .repositories
            .get(repository)
            .and_then(|r| r.get(digest))
            .map(|i| i.tags.clone())
    }

    /// Deletes an image as a user or a lifecycle rule does (not counted in [`FakeRegistry::deleted`],
    /// which lists the deletions the gatekeeper's own calls caused).
    pub fn delete_by_user(&self, repository: &str, digest: &str) {
        if let Some(r) = lock(&self.images).repositories.get_mut(repository) {
            r.remove(digest);
        }
    }

    /// The images deleted so far by the removal of their last tag, as `repository@digest`.
    pub fn deleted(&self) -> Vec<String> {
        lock(&self.images).deleted.clone()
    }

    fn detail(digest: &str, image: &FakeImage) -> ImageDetail {
        ImageDetail {
            digest: digest.to_string(),
            tags: image.tags.clone(),
            scan: image.scan.clone(),
            manifest_media_type: image.manifest.media_type.clone(),
            artifact_media_type: None,
            pushed_at: image.pushed_at,
            pulled_at: image.pulled_at,
            storage: image.storage,
        }
    }

    /// Sets when ECR last recorded a pull of an image.
    pub fn set_pulled(&self, repository: &str, digest: &str, at: Option<Epoch>) {
        self.with_image(repository, digest, |i| i.pulled_at = at);
    }

    /// Where an image is stored now, `None` if there is no such image.
    pub fn storage(&self, repository: &str, digest: &str) -> Option<Storage> {
        self.image(repository, digest, |i| i.storage)
    }

    /// Finishes a restore that UpdateImageStorageClass started (ACTIVATING becomes ACTIVE), as ECR does
    /// within about 20 minutes; whether the image was being restored.
    pub fn finish_restore(&self, repository: &str, digest: &str) -> bool {
        self.with_image(repository, digest, |i| {
            let was = i.storage == Storage::Activating;
            if was {
                i.storage = Storage::Active;
            }
            was
        })
        .unwrap_or(false)
    }

    /// Sets the lifecycle rules [`ImageRegistry::archive_expiry`] reports for a repository.
    pub fn set_archive_expiry(&self, repository: &str, rules: Vec<String>) {
        lock(&self.images)
            .expiry
            .insert(repository.to_string(), rules);
    }

    fn with_image<T>(
        &self,
        repository: &str,
        digest: &str,
        change: impl FnOnce(&mut FakeImage) -> T,
    ) -> Option<T> {
        lock(&self.images)
            .repositories
            .get_mut(repository)
            .and_then(|r| r.get_mut(digest))
            .map(change)
    }

    fn image<T>(
        &self,
        repository: &str,
        digest: &str,
        read: impl FnOnce(&FakeImage) -> T,
    ) -> Option<T> {
        lock(&self.images)
            .repositories
            .get(repository)
            .and_then(|r| r.get(digest))
            .map(read)
    }
}

impl ImageRegistry for FakeRegistry {
    async fn describe_image(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<ImageDetail>, AwsError> {
        Ok(self.image(repository, digest, |i| FakeRegistry::detail(digest, i)))
    }

    async fn resolve_tag(&self, repository: &str, tag: &str) -> Result<Option<String>, AwsError> {
        Ok(lock(&self.images)
            .repositories
            .get(repository)
            .and_then(|r| {
                r.iter()
                    .find(|(_, i)| i.tags.iter().any(|t| t == tag))
                    .map(|(d, _)| d.clone())
            }))
    }

    async fn manifest(&self, repository: &str, digest: &str) -> Result<Option<Manifest>, AwsError> {
        match self.image(repository, digest, |i| (i.storage, i.manifest.clone())) {
            // An archived image cannot be pulled: BatchGetImage finds no such image.
            Some((Storage::Active, m)) => Ok(Some(m)),
            _ => Ok(None),
        }
    }

    async fn put_tag(
        &self,
        repository: &str,
        digest: &str,
        manifest: &Manifest,
        tag: &str,
    ) -> Result<PutTag, AwsError> {
        let mut all = lock(&self.images);
        let Some(images) = all.repositories.get_mut(repository) else {
            return Err(AwsError::invalid(
                "ecr:PutImage",
                "RepositoryNotFoundException",
            ));
        };
        match images.get(digest) {
            Some(i) if i.manifest == *manifest => {}
            _ => {
                return Err(AwsError::invalid(
                    "ecr:PutImage",
                    "ImageDigestDoesNotMatchException",
                ));
            }
        }
        if images
            .get(digest)
            .is_some_and(|i| i.tags.iter().any(|t| t == tag))
        {
            return Ok(PutTag::AlreadyExists);
        }
        for image in images.values_mut() {
            image.tags.retain(|t| t != tag);
        }
        if let Some(image) = images.get_mut(digest) {
            image.tags.push(tag.to_string());
            image.tags.sort();
        }
        Ok(PutTag::Created)
    }

    async fn remove_tags(&self, repository: &str, tags: &[String]) -> Result<Removal, AwsError> {
        let mut all = lock(&self.images);
        let Images {
            repositories,
            deleted,
            ..
        } = &mut *all;
        let mut removal = Removal::default();
        let Some(images) = repositories.get_mut(repository) else {
            removal.absent = tags.to_vec();
            return Ok(removal);
        };
        for tag in tags {
            let Some((digest, image)) = images
                .iter_mut()
                .find(|(_, i)| i.tags.iter().any(|t| t == tag))
            else {
                removal.absent.push(tag.clone());
                continue;
            };
            image.tags.retain(|t| t != tag);
            let digest = digest.clone();
            if image.tags.is_empty() {
                images.remove(&digest);
                deleted.push(format!("{repository}@{digest}"));
            }
            removal.removed.push(RemovedTag {
                tag: tag.clone(),
                digest,
            });
        }
        Ok(removal)
    }

    async fn scan_coverage(&self, _repository: &str) -> Result<ScanCoverage, AwsError> {
        Ok(ScanCoverage {
            enhanced: true,
            frequency: "CONTINUOUS_SCAN".to_string(),
            scan_on_push: false,
        })
    }

    async fn start_scan(&self, _repository: &str, _digest: &str) -> Result<StartScan, AwsError> {
        Ok(StartScan::Started)
    }

    async fn repository_notes(&self, _repository: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }

    async fn recent_indexes(
        &self,
        _repository: &str,
        _since: Epoch,
    ) -> Result<Vec<(String, String)>, AwsError> {
        // Only image manifests are pushed here: there is no index to find.
        Ok(Vec::new())
    }

    async fn repositories(&self) -> Result<Vec<String>, AwsError> {
        Ok(lock(&self.images).repositories.keys().cloned().collect())
    }

    async fn images(&self, repository: &str) -> Result<Vec<ImageDetail>, AwsError> {
        Ok(lock(&self.images)
            .repositories
            .get(repository)
            .map(|r| r.iter().map(|(d, i)| FakeRegistry::detail(d, i)).collect())
            .unwrap_or_default())
    }

    async fn set_archived(
        &self,
        repository: &str,
        digest: &str,
        archive: bool,
    ) -> Result<Option<Storage>, AwsError> {
        Ok(self.with_image(repository, digest, |i| {
            i.storage = match (archive, i.storage) {
                (true, _) => Storage::Archived,
                (false, Storage::Active) => Storage::Active,
                (false, _) => Storage::Activating,
            };
            i.storage
        }))
    }

    async fn archive_expiry(&self, repository: &str) -> Result<Vec<String>, AwsError> {
        Ok(lock(&self.images)
            .expiry
            .get(repository)
            .cloned()
            .unwrap_or_default())
    }

    async fn basic_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<BasicScan>, AwsError> {
        Ok(self.image(repository, digest, |i| BasicScan {
            state: i.scan.clone(),
            findings: i.findings.clone(),
        }))
    }
}
