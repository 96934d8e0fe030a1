//! The parts of a CycloneDX BOM (<https://cyclonedx.org/specification/overview/>) that are
//! read back when verifying: the format marker and `metadata.component`, whose purl names
//! what the BOM describes. Every other field is left to the SBOM's own readers.

use serde::{Deserialize, Serialize};

/// The predicate type of a CycloneDX BOM in an in-toto statement.
pub use super::predicate::CYCLONEDX_BOM as PREDICATE_TYPE;

/// A CycloneDX BOM, as far as verify reads it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bom {
    /// `CycloneDX` for a CycloneDX BOM (empty when absent).
    #[serde(default)]
    pub bom_format: String,
    /// The BOM's metadata.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

/// `metadata`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Metadata {
    /// What the BOM describes.
    #[serde(default)]
    pub component: Option<Component>,
}

/// `metadata.component`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Component {
    /// Its package URL (`pkg:oci/NAME@sha256%3AHEX?...` for an image).
    #[serde(default)]
    pub purl: Option<String>,
}

impl Bom {
    /// `metadata.component.purl`, when present.
    pub fn component_purl(&self) -> Option<&str> {
        self.metadata.as_ref()?.component.as_ref()?.purl.as_deref()
    }
}
