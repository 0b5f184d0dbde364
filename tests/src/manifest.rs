//! Small but real image manifests, and their digests as a registry computes them.

use sha2::{Digest, Sha256};

/// Docker image manifest v2, schema 2.
pub const DOCKER_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// `sha256:<hex>` of the bytes.
pub fn digest_of(bytes: &str) -> String {
    let hex: String = Sha256::digest(bytes.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// The first 12 hex digits of a digest: what the gatekeeper's marker tags carry
/// (`quarantined-v1--<hex12>`, `held-v1--<hex12>`, `quarantined-sha256-<hex12>`).
pub fn hex12(digest: &str) -> String {
    digest.trim_start_matches("sha256:")[..12].to_string()
}

/// A Docker v2 image manifest (one config, one layer) whose blobs derive from `seed`, so that each
/// seed gives a different image.
pub fn image_manifest(seed: &str) -> String {
    let config = digest_of(&format!("config:{seed}"));
    let layer = digest_of(&format!("layer:{seed}"));
    format!(
        concat!(
            "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{mt}\",\n",
            "   \"config\": {{\n      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n      \"size\": 1470,\n      \"digest\": \"{config}\"\n   }},\n",
            "   \"layers\": [\n      {{\n         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n         \"size\": 3623807,\n         \"digest\": \"{layer}\"\n      }}\n   ]\n}}"
        ),
        mt = DOCKER_V2,
        config = config,
        layer = layer
    )
}

/// An OCI image index over `(digest, architecture)` platform images and, when given, one buildx
/// attestation manifest (platform `unknown/unknown`) for the first of them.
pub fn image_index(children: &[(String, &str)], attestation: Option<&str>) -> String {
    let mut manifests: Vec<String> = children
        .iter()
        .map(|(d, arch)| format!("{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{d}\",\"size\":528,\"platform\":{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}}}"))
        .collect();
    if let (Some(a), Some((first, _))) = (attestation, children.first()) {
        manifests.push(format!("{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{a}\",\"size\":840,\"annotations\":{{\"vnd.docker.reference.digest\":\"{first}\",\"vnd.docker.reference.type\":\"attestation-manifest\"}},\"platform\":{{\"architecture\":\"unknown\",\"os\":\"unknown\"}}}}"));
    }
    format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_INDEX}\",\"manifests\":[{}]}}",
        manifests.join(",")
    )
}
