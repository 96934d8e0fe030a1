//! Annotation and label keys we write or read, and the roles of our referrers. Other modules
//! name these constants; none spells a key of its own.

pub use super::oci::{ANNOTATION_CREATED, ANNOTATION_REF_NAME};

/// Annotation: what a Sigstore bundle referrer holds (`dsse-envelope`).
pub const BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// Annotation: the in-toto predicate type of the signed statement in a bundle referrer.
pub const PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// Annotation: our role for the referrer ([`Role`]).
pub const ROLE: &str = "dev.cargo-provenance.role";
/// Annotation: the subject's name (image name, with the platform for platform manifests).
pub const SUBJECT_NAME: &str = "dev.cargo-provenance.subject.name";
/// BuildKit's annotation marking attestation manifests inside an index.
pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// BuildKit's annotation naming the platform manifest an attestation manifest is about.
pub const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// The value of [`DOCKER_REFERENCE_TYPE`] on an attestation manifest.
pub const DOCKER_ATTESTATION_MANIFEST: &str = "attestation-manifest";
/// Image config label: where the source is (the canonical https URL).
pub const LABEL_SOURCE: &str = "org.opencontainers.image.source";
/// Image config label: the source commit.
pub const LABEL_REVISION: &str = "org.opencontainers.image.revision";
/// Image config label: the base image's reference.
pub const LABEL_BASE_NAME: &str = "org.opencontainers.image.base.name";
/// Image config label: the base image's digest.
pub const LABEL_BASE_DIGEST: &str = "org.opencontainers.image.base.digest";

/// Why a referrer is there ([`ROLE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Our signed SLSA provenance or SBOM statement.
    ImageAttestation,
    /// A BuildKit attestation, signed by us.
    BuildkitAttestation,
    /// An OpenVEX statement.
    Vex,
    /// cosign's image signature.
    ImageSignature,
}

impl Role {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ImageAttestation => "image-attestation",
            Role::BuildkitAttestation => "buildkit-attestation",
            Role::Vex => "vex",
            Role::ImageSignature => "image-signature",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
