//! The one rule for what an image index lists: which entries are platform manifests (what a
//! runtime picks for its platform), and which are BuildKit's attestation manifests. Every
//! stage that walks an index (the BuildKit hand-off, referrers, VEX, verify) asks here.

use super::annotations::{DOCKER_ATTESTATION_MANIFEST, DOCKER_REFERENCE_TYPE};
use super::oci::{
    Descriptor, ImageIndex, MEDIA_TYPE_DOCKER_LIST, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_INDEX,
    MEDIA_TYPE_MANIFEST, Platform,
};

/// True for an index media type (OCI or Docker).
pub fn is_index(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_INDEX || media_type == MEDIA_TYPE_DOCKER_LIST
}

/// True for an image manifest media type (OCI or Docker).
pub fn is_manifest(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_MANIFEST || media_type == MEDIA_TYPE_DOCKER_MANIFEST
}

/// True when BuildKit marks the entry as an attestation manifest
/// (`vnd.docker.reference.type: attestation-manifest`).
pub fn is_marked_attestation(d: &Descriptor) -> bool {
    d.annotations.get(DOCKER_REFERENCE_TYPE).map(String::as_str)
        == Some(DOCKER_ATTESTATION_MANIFEST)
}

/// True for the platform BuildKit gives attestation manifests (`unknown/unknown`).
pub fn is_unknown_platform(p: &Platform) -> bool {
    p.os == "unknown" && p.architecture == "unknown"
}

/// The rule: an entry is a platform manifest when it is an image manifest (by media type),
/// BuildKit does not mark it as an attestation manifest, and it names a platform other than
/// `unknown/unknown`. Everything else (attestation manifests, nested indexes, blobs,
/// entries without a platform) is not. Verify refuses an index whose entries do not all
/// fit one of its kinds (`verify::document::child`).
pub fn is_platform_manifest(d: &Descriptor) -> bool {
    is_manifest(&d.media_type)
        && !is_marked_attestation(d)
        && d.platform.as_ref().is_some_and(|p| !is_unknown_platform(p))
}

/// The platform manifests of `index`, in index order ([`is_platform_manifest`]).
pub fn platform_manifests(index: &ImageIndex) -> impl Iterator<Item = &Descriptor> {
    index.manifests.iter().filter(|d| is_platform_manifest(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(media_type: &str, platform: Option<(&str, &str)>, marked: bool) -> Descriptor {
        let mut d = Descriptor::of(media_type, b"x");
        d.platform = platform.map(|(os, arch)| Platform {
            os: os.into(),
            architecture: arch.into(),
            os_version: None,
            variant: None,
        });
        if marked {
            d.annotations.insert(
                DOCKER_REFERENCE_TYPE.into(),
                DOCKER_ATTESTATION_MANIFEST.into(),
            );
        }
        d
    }

    #[test]
    fn only_unmarked_manifests_with_a_real_platform_are_platform_manifests() {
        let linux = Some(("linux", "amd64"));
        let unknown = Some(("unknown", "unknown"));
        assert!(is_platform_manifest(&entry(
            MEDIA_TYPE_MANIFEST,
            linux,
            false
        )));
        assert!(is_platform_manifest(&entry(
            MEDIA_TYPE_DOCKER_MANIFEST,
            linux,
            false
        )));
        assert!(!is_platform_manifest(&entry(
            MEDIA_TYPE_MANIFEST,
            linux,
            true
        )));
        assert!(!is_platform_manifest(&entry(
            MEDIA_TYPE_MANIFEST,
            unknown,
            false
        )));
        assert!(!is_platform_manifest(&entry(
            MEDIA_TYPE_MANIFEST,
            None,
            false
        )));
        assert!(!is_platform_manifest(&entry(
            MEDIA_TYPE_INDEX,
            linux,
            false
        )));
        let index = ImageIndex {
            manifests: vec![
                entry(MEDIA_TYPE_MANIFEST, linux, false),
                entry(MEDIA_TYPE_MANIFEST, unknown, true),
            ],
            ..ImageIndex::new()
        };
        assert_eq!(platform_manifests(&index).count(), 1);
    }
}
