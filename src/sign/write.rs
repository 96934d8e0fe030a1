//! Writes a build's statements into the output directory, signed when a signer is given
//! (docs/build.md, "Output directory"): the sign stage's hand-off to publish.

use std::path::{Path, PathBuf};

use super::{SignedBundle, Signer};
use crate::error::Result;
use crate::formats::intoto::Statement;
use crate::util::digest::Digest;

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
            let signed = super::sign_statement(&statement, s)?;
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
mod tests {
    use super::*;
    use crate::attest::tests::fixture;
    use crate::attest::{SBOM_PREDICATE_TYPE, provenance, sbom_statement};

    #[test]
    fn write_attestations_signed_and_unsigned() {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture(true);
        let prov = provenance::statement(&f).unwrap();
        let sbom = sbom_statement(
            br#"{"bomFormat":"CycloneDX","specVersion":"1.5"}"#,
            provenance::subjects(&f),
        )
        .unwrap();
        let unsigned = write_attestations(dir.path(), &prov, Some(&sbom), None).unwrap();
        assert!(unsigned.iter().all(|w| w.bundle.is_none()));
        assert!(!dir.path().join("provenance.sigstore.json").exists());

        let signer = crate::sign::KeySigner::new(crate::keys::PrivateKey::generate());
        let signed = write_attestations(dir.path(), &prov, Some(&sbom), Some(&signer)).unwrap();
        let file = std::fs::read(dir.path().join("provenance.intoto.json")).unwrap();
        let (path, b) = signed[0].bundle.as_ref().unwrap();
        assert_eq!(std::fs::read(path).unwrap(), b.bytes);
        let verified = crate::sign::verify_bundle(&b.bundle, &signer.public_key()).unwrap();
        assert_eq!(
            verified.payload, file,
            "the signed payload is the statement file"
        );
        let sbom_bundle = std::fs::read(dir.path().join("sbom.sigstore.json")).unwrap();
        let parsed = crate::formats::bundle::Bundle::parse(&sbom_bundle, "sbom").unwrap();
        let payload = crate::sign::verify_bundle(&parsed, &signer.public_key())
            .unwrap()
            .payload;
        let st = Statement::parse(&payload, "sbom").unwrap();
        assert_eq!(st.predicate_type, SBOM_PREDICATE_TYPE);
        assert_eq!(st.predicate["bomFormat"], "CycloneDX");
        assert!(sbom_statement(b"[1]", vec![]).is_err());
    }

    #[test]
    fn reproducible_outputs_are_byte_identical_across_runs() {
        let signer = crate::sign::KeySigner::new(crate::keys::PrivateKey::generate());
        let run = |started: i64| {
            let dir = tempfile::tempdir().unwrap();
            let mut f = fixture(true);
            f.started_on = started;
            f.finished_on = started + 10;
            let prov = provenance::statement(&f).unwrap();
            let sbom =
                sbom_statement(br#"{"bomFormat":"CycloneDX"}"#, provenance::subjects(&f)).unwrap();
            write_attestations(dir.path(), &prov, Some(&sbom), Some(&signer)).unwrap();
            [
                "provenance.intoto.json",
                "provenance.sigstore.json",
                "sbom.sigstore.json",
            ]
            .map(|n| std::fs::read(dir.path().join(n)).unwrap())
        };
        assert_eq!(run(1_800_000_000), run(1_900_000_000));
    }
}
