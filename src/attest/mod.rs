//! Stage 3, attest: in-toto statements about the built image: SLSA v1 provenance and the
//! CycloneDX SBOM statement.
