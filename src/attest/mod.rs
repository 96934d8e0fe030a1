//! Stage 3, attest: in-toto statements about the built image: SLSA v1 provenance
//! ([`provenance`]) and the CycloneDX SBOM statement ([`sbom_statement`]). The sign stage
//! writes them, signed or not, into the output directory (`crate::sign::write`).

pub mod ci;
pub mod environment;
pub use crate::formats::build_type as params;
pub mod provenance;
pub mod sanitize;

use crate::error::{Error, Result};
use crate::formats::intoto::{ResourceDescriptor, Statement};

pub use environment::RunEnvironment;
pub use provenance::ProvenanceInput;

/// The predicate type of a CycloneDX SBOM statement (what `cosign attest --type cyclonedx`
/// uses).
pub use crate::formats::predicate::CYCLONEDX_BOM as SBOM_PREDICATE_TYPE;

/// The SBOM statement: `sbom` (CycloneDX JSON bytes) as the predicate, about `subjects`.
pub fn sbom_statement(sbom: &[u8], subjects: Vec<ResourceDescriptor>) -> Result<Statement> {
    let predicate: serde_json::Value =
        serde_json::from_slice(sbom).map_err(|e| Error::with_source("the SBOM is not JSON", e))?;
    if !predicate.is_object() {
        return Err(Error::msg("the SBOM is not a JSON object"));
    }
    Ok(Statement::new(subjects, SBOM_PREDICATE_TYPE, predicate))
}

#[cfg(test)]
pub(crate) mod tests;
