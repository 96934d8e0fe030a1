//! Stage 3, attest: in-toto statements with SLSA v1 provenance predicates about the built image.
