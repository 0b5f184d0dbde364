//! Identifying an image: repository name, digest, tags, and what kind of manifest it is.

use serde::Serialize;

/// The account and region an image lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Place {
    /// The 12-digit account id.
    pub account: String,
    /// The region (`eu-west-1`).
    pub region: String,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} in {}", self.account, self.region)
    }
}

/// The account and region in an ECR ARN (`arn:aws:ecr:<region>:<account>:repository/...`), when it
/// is one and names both.
pub fn place_from_arn(arn: &str) -> Option<Place> {
    let mut parts = arn.splitn(6, ':');
    let (arn_word, _partition, service) = (parts.next()?, parts.next()?, parts.next()?);
    let (region, account) = (parts.next()?, parts.next()?);
    let resource = parts.next()?;
    let named = !region.is_empty() && !account.is_empty();
    (arn_word == "arn" && service == "ecr" && named && resource.starts_with("repository/")).then(
        || Place {
            account: account.to_string(),
            region: region.to_string(),
        },
    )
}

/// An image in one repository of an account and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    /// Where it lives; `None`: this deployment's own account and region (also what an event that
    /// names no account means: moto's do not, AWS's always do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    /// Repository *name* (`team/app`), never its ARN.
    pub repository: String,
    /// `sha256:<64 hex>` (kept as given: documentation samples carry shortened digests).
    pub digest: String,
    /// Tags as the source reported them; stale by the time anyone acts (ECR is read again before acting).
    pub tags: Vec<String>,
}

impl ImageRef {
    /// An image of this deployment's own account and region.
    pub fn home(repository: impl Into<String>, digest: impl Into<String>) -> ImageRef {
        ImageRef {
            place: None,
            repository: repository.into(),
            digest: digest.into(),
            tags: Vec::new(),
        }
    }

    /// The image `digest` of the same repository, account and region (an index's platform image, a
    /// platform image's index), tags unknown.
    pub fn sibling(&self, digest: impl Into<String>) -> ImageRef {
        ImageRef {
            place: self.place.clone(),
            repository: self.repository.clone(),
            digest: digest.into(),
            tags: Vec::new(),
        }
    }

    /// `repository@digest` (`account/region/repository@digest` for another account or region), for
    /// logs.
    pub fn display(&self) -> String {
        match &self.place {
            None => format!("{}@{}", self.repository, self.digest),
            Some(p) => format!(
                "{}/{}/{}@{}",
                p.account, p.region, self.repository, self.digest
            ),
        }
    }
}

/// "arn:aws:ecr:us-east-1:123456789012:repository/team/app" -> "team/app"; an image ARN
/// (".../team/app/sha256:...") loses its digest; a bare name stays as it is.
pub fn repository_from_arn(arn_or_name: &str) -> &str {
    let name = arn_or_name
        .split_once(":repository/")
        .map_or(arn_or_name, |(_, name)| name);
    match name.find("/sha256:") {
        Some(i) => &name[..i],
        None => name,
    }
}

/// The first 12 hex characters of a digest (`sha256:abcdef...` -> `abcdef...`), lower-cased; shorter
/// digests give what they have.
pub fn digest_hex12(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// What an ECR manifest is, from its media types: only image manifests are scanned and marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A single-platform image manifest (Docker v2 or OCI) with an image config.
    Image,
    /// A multi-platform index / manifest list: not scanned itself.
    Index,
    /// An OCI artifact that is not a container image (signatures, SBOMs, attestations, Helm charts).
    Artifact,
    /// Media types absent (the documentation sample) or unknown.
    Unknown,
}

impl MediaKind {
    /// Classifies by `manifest-media-type` and `artifact-media-type` (the config media type).
    pub fn classify(manifest: Option<&str>, artifact: Option<&str>) -> MediaKind {
        let manifest = manifest.unwrap_or("").trim();
        let artifact = artifact.unwrap_or("").trim();
        if manifest.contains("manifest.list") || manifest.contains("image.index") {
            return MediaKind::Index;
        }
        let image_config = artifact.is_empty()
            || artifact == "application/vnd.docker.container.image.v1+json"
            || artifact == "application/vnd.oci.image.config.v1+json";
        if !image_config {
            return MediaKind::Artifact;
        }
        if manifest.contains("distribution.manifest.v2")
            || manifest.contains("image.manifest.v1")
            || manifest.contains("distribution.manifest.v1")
        {
            MediaKind::Image
        } else {
            MediaKind::Unknown
        }
    }

    /// Whether ECR basic scanning (StartImageScan) accepts it; unknown is tried, AWS decides.
    pub fn is_scannable(self) -> bool {
        matches!(self, MediaKind::Image | MediaKind::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_keep_slashes_and_drop_arn_and_digest() {
        assert_eq!(
            repository_from_arn(
                "arn:aws:ecr:us-east-2:123456789012:repository/amazon/amazon-ecs-sample"
            ),
            "amazon/amazon-ecs-sample"
        );
        assert_eq!(
            repository_from_arn(
                "arn:aws:ecr:eu-central-1:123456789012:repository/inspector2/sha256:84f507df33c6864d49c296fb734192696e4cb6f78166ac51ac8b9b118181085d"
            ),
            "inspector2"
        );
        assert_eq!(repository_from_arn("team/app"), "team/app");
        assert_eq!(
            repository_from_arn("arn:aws-cn:ecr:cn-north-1:1:repository/a/b/c"),
            "a/b/c"
        );
    }

    #[test]
    fn places_come_from_ecr_arns_only() {
        let place = |a: &str, r: &str| {
            Some(Place {
                account: a.into(),
                region: r.into(),
            })
        };
        assert_eq!(
            place_from_arn("arn:aws:ecr:eu-west-1:111122223333:repository/team/app/sha256:ab"),
            place("111122223333", "eu-west-1")
        );
        assert_eq!(
            place_from_arn("arn:aws-cn:ecr:cn-north-1:1:repository/a"),
            place("1", "cn-north-1")
        );
        for not_one in [
            "team/app",
            "arn:aws:lambda:eu-west-1:1:function:f",
            "arn:aws:ecr::1:repository/a",
            "arn:aws:ecr:eu-west-1::repository/a",
            "arn:aws:ecr:eu-west-1:1:registry",
            "",
        ] {
            assert_eq!(place_from_arn(not_one), None, "{not_one}");
        }
    }

    #[test]
    fn hex12_tolerates_short_and_sample_digests() {
        assert_eq!(
            digest_hex12("sha256:36c7b282abd0186e01419f2e58743e1bf635808231049bbc9d77e5EXAMPLE"),
            "36c7b282abd0"
        );
        assert_eq!(digest_hex12("sha256:1234"), "1234");
        assert_eq!(digest_hex12("sha256:ABCDEF0123456789"), "abcdef012345");
    }

    #[test]
    fn classifies_indexes_artifacts_and_images() {
        assert_eq!(
            MediaKind::classify(Some("application/vnd.oci.image.index.v1+json"), None),
            MediaKind::Index
        );
        assert_eq!(
            MediaKind::classify(
                Some("application/vnd.docker.distribution.manifest.list.v2+json"),
                None
            ),
            MediaKind::Index
        );
        assert_eq!(
            MediaKind::classify(
                Some("application/vnd.docker.distribution.manifest.v2+json"),
                Some("application/vnd.docker.container.image.v1+json")
            ),
            MediaKind::Image
        );
        assert_eq!(
            MediaKind::classify(
                Some("application/vnd.oci.image.manifest.v1+json"),
                Some("application/vnd.dev.cosign.artifact.sig.v1+json")
            ),
            MediaKind::Artifact
        );
        assert_eq!(MediaKind::classify(None, None), MediaKind::Unknown);
        assert!(MediaKind::Unknown.is_scannable());
        assert!(!MediaKind::Index.is_scannable());
    }
}
