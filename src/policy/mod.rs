//! Admission policies that admit only images whose signature and attestations verify.
//!
//! One generator exists today: [`kyverno`], a Kyverno `ImageValidatingPolicy` rendered from
//! `templates/kyverno-imagevalidatingpolicy.yaml`. What the policy demands is expressed with
//! [`Requirement`]s, the same type `verify --require` (and a verify policy file's `require`)
//! takes; `verify` accepts only the attestation kinds.

pub mod kyverno;
pub mod trust;

/// Predicate type of the CycloneDX SBOM statement we publish.
pub use crate::attest::SBOM_PREDICATE_TYPE;
/// Predicate type of the vulnerability scan `build` publishes (cosign's `vuln`).
pub use crate::audit::attestation::PREDICATE_TYPE as VULN_PREDICATE_TYPE;
/// Predicate type of the OpenVEX statements `cargo provenance vex` publishes.
pub use crate::formats::openvex::PREDICATE_TYPE as VEX_PREDICATE_TYPE;
/// Predicate type of the SLSA provenance we publish.
pub use crate::formats::slsa::PREDICATE_TYPE as PROVENANCE_PREDICATE_TYPE;

pub use crate::formats::requirement::Requirement;
