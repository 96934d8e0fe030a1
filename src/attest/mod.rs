//! Stage 3, attest: in-toto statements about the built image: SLSA v1 provenance
//! ([`provenance`]) and the CycloneDX SBOM statement ([`sbom_statement`]); and
//! [`write_attestations`], which writes them, signed or not, into the output directory.

pub mod ci;
pub mod environment;
pub use crate::formats::build_type as params;
pub mod provenance;
pub mod sanitize;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::formats::intoto::{ResourceDescriptor, Statement};
use crate::sign::{SignedBundle, Signer};
use crate::util::digest::Digest;

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

/// One attestation written to the output directory.
#[derive(Debug, Clone)]
pub struct WrittenAttestation {
    /// The statement's predicate type.
    pub predicate_type: String,
    /// The unsigned statement file, when one is written (`provenance.intoto.json`).
    pub statement_file: Option<PathBuf>,
    /// The statement bytes (exactly the DSSE payload when signed).
    pub statement: Vec<u8>,
    /// The bundle file and its bytes, when signed.
    pub bundle: Option<(PathBuf, SignedBundle)>,
}

impl WrittenAttestation {
    /// The digest of the bundle (the referrer layer), when signed.
    pub fn bundle_digest(&self) -> Option<Digest> {
        self.bundle.as_ref().map(|(_, b)| b.digest)
    }
}

/// Writes the attestations of a build into `dir` (docs/build.md, "Output directory"):
/// `provenance.intoto.json` always; with a signer also `provenance.sigstore.json` and
/// `sbom.sigstore.json` (the SBOM itself, `sbom.cdx.json`, is the SBOM stage's file). The
/// signed payload is byte-identical to the statement file. Each file is written atomically.
pub fn write_attestations(
    dir: &Path,
    provenance: &Statement<crate::formats::slsa::Provenance>,
    sbom: Option<&Statement>,
    signer: Option<&dyn Signer>,
) -> Result<Vec<WrittenAttestation>> {
    let mut out = Vec::new();
    let bytes = provenance.to_pretty()?;
    let file = dir.join("provenance.intoto.json");
    crate::util::fs::write_atomic(&file, &bytes)?;
    out.push(sign_into(
        dir,
        "provenance.sigstore.json",
        &provenance.predicate_type,
        Some(file),
        bytes,
        signer,
    )?);
    if let Some(sbom) = sbom {
        let bytes = sbom.to_pretty()?;
        out.push(sign_into(
            dir,
            "sbom.sigstore.json",
            &sbom.predicate_type,
            None,
            bytes,
            signer,
        )?);
    }
    Ok(out)
}

fn sign_into(
    dir: &Path,
    name: &str,
    predicate_type: &str,
    statement_file: Option<PathBuf>,
    statement: Vec<u8>,
    signer: Option<&dyn Signer>,
) -> Result<WrittenAttestation> {
    let bundle = match signer {
        Some(s) => {
            let signed = crate::sign::sign_statement(&statement, s)?;
            let path = dir.join(name);
            crate::util::fs::write_atomic(&path, &signed.bytes)?;
            Some((path, signed))
        }
        None => None,
    };
    Ok(WrittenAttestation {
        predicate_type: predicate_type.into(),
        statement_file,
        statement,
        bundle,
    })
}

#[cfg(test)]
mod tests;
