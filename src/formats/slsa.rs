//! SLSA provenance v1 (<https://slsa.dev/spec/v1.0/provenance>) as plain serde types.
//!
//! The parameters' content (`externalParameters`, `internalParameters`) depends on the
//! `buildType`; ours is typed in [`crate::attest::params`]. Here they are JSON values so that
//! any SLSA v1 provenance can be read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::intoto::ResourceDescriptor;

/// The predicate type of SLSA provenance v1.
pub use super::predicate::SLSA_PROVENANCE_V1 as PREDICATE_TYPE;

/// The provenance predicate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// What the build was asked to do, and from what.
    pub build_definition: BuildDefinition,
    /// Who ran the build, and how it went.
    pub run_details: RunDetails,
}

/// `buildDefinition`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildDefinition {
    /// The URI of the build type: the schema of the parameters.
    pub build_type: String,
    /// Parameters under the control of whoever started the build.
    pub external_parameters: serde_json::Value,
    /// Parameters set by the builder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_parameters: Option<serde_json::Value>,
    /// Artifacts the build fetched or used: source, toolchain, crates, base images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolved_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunDetails {
    /// The entity that ran the build.
    pub builder: Builder,
    /// Facts about this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BuildMetadata>,
    /// Other artifacts the build produced (the SBOM).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub byproducts: Vec<ResourceDescriptor>,
}

/// `runDetails.builder`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Builder {
    /// A URI naming the builder (the trust boundary).
    pub id: String,
    /// Versions of the builder's components, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub version: BTreeMap<String, String>,
    /// Dependencies of the builder itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub builder_dependencies: Vec<ResourceDescriptor>,
}

/// `runDetails.metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuildMetadata {
    /// Identifies this run (the CI run URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation_id: Option<String>,
    /// Start time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_on: Option<String>,
    /// End time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_on: Option<String>,
}
