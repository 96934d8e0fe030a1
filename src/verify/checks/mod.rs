//! Content checks over a verified in-toto statement: subject, predicate type, and for our
//! SLSA provenance its `buildType`, builder, source and `externalParameters`; for a CycloneDX
//! SBOM that it describes the same image.
//!
//! The signed payload is parsed once ([`parse_statement`]) into a [`Parsed`] statement whose
//! predicate is typed by its predicate type ([`Typed`]): the checks read typed fields. Our
//! `externalParameters` are read with their own type, which rejects fields it does not know
//! (SLSA's verifier rule), so unknown fields are seen, not silently dropped.
//!
//! One module per check: [`statement`] (parsing, `predicate-type`), [`subject`], [`provenance`]
//! (`build-type`, `external-parameters`, `builder-id`, `source-*`) and [`sbom`]
//! (`sbom-subject`); their items are re-exported here.
//!
//! Each function records its checks in the [`Report`](crate::verify::report::Report) under
//! the attestation's id and returns nothing: a failed check fails the verdict.

pub mod provenance;
pub mod sbom;
pub mod statement;
pub mod subject;

pub use crate::formats::intoto::{STATEMENT_V01, STATEMENT_V1, Statement};
pub use crate::formats::openvex::PREDICATE_TYPE as OPENVEX;
pub use crate::formats::predicate::CYCLONEDX_BOM;
pub use crate::formats::slsa::PREDICATE_TYPE as SLSA_PROVENANCE_V1;
pub use provenance::{KNOWN_BUILD_TYPES, check_provenance, normalize_repo};
pub use sbom::{check_sbom, purl_digest};
pub use statement::{Parsed, Typed, check_predicate_type, parse_statement};
pub use subject::{check_subject, check_subject_names, subjects};

#[cfg(test)]
mod tests;
