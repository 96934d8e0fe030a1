//! The statement as signed: parsed once and typed by its predicate type (the `statement`
//! check fails with the reason it does not parse), and `predicate-type`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{CYCLONEDX_BOM, SLSA_PROVENANCE_V1, Statement};
use crate::formats::cyclonedx::Bom;
use crate::formats::intoto::ResourceDescriptor;
use crate::formats::slsa::Provenance;
use crate::verify::CheckId;
use crate::verify::report::Report;

/// A statement with its predicate typed by its predicate type.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// An SLSA v1 provenance ([`SLSA_PROVENANCE_V1`]).
    Provenance(Box<Statement<Provenance>>),
    /// A CycloneDX BOM ([`CYCLONEDX_BOM`]).
    Bom(Box<Statement<Bom>>),
    /// Any other predicate type: subject and predicate-type checks only.
    Other(Box<Statement>),
}

/// A verified payload parsed once: the typed statement, and the JSON it was read from (kept
/// for the readers of whole predicates: `audit` reads the SBOM's components).
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The statement, its predicate typed.
    pub typed: Typed,
    /// The payload as JSON.
    pub json: Value,
}

impl Parsed {
    /// The statement's subjects.
    pub fn subject(&self) -> &[ResourceDescriptor] {
        match &self.typed {
            Typed::Provenance(s) => &s.subject,
            Typed::Bom(s) => &s.subject,
            Typed::Other(s) => &s.subject,
        }
    }

    /// The statement's predicate type.
    pub fn predicate_type(&self) -> &str {
        match &self.typed {
            Typed::Provenance(s) => &s.predicate_type,
            Typed::Bom(s) => &s.predicate_type,
            Typed::Other(s) => &s.predicate_type,
        }
    }
}

/// Parses a statement payload once, with the in-toto framework's rules
/// ([`Statement::validate`]: known `_type`, subjects each with a digest, a `predicateType`),
/// and types its predicate by its predicate type. The error is the reason (the `statement`
/// check fails with it).
pub fn parse_statement(payload: &[u8]) -> Result<Parsed, String> {
    let json: Value =
        serde_json::from_slice(payload).map_err(|e| format!("payload is not JSON: {e}"))?;
    let st: Statement = serde_json::from_value(json.clone())
        .map_err(|e| format!("the payload is not an in-toto statement: {e}"))?;
    st.validate("the payload").map_err(|e| e.to_string())?;
    let typed = match st.predicate_type.as_str() {
        SLSA_PROVENANCE_V1 => Typed::Provenance(Box::new(retype(st, "an SLSA v1 provenance")?)),
        CYCLONEDX_BOM => Typed::Bom(Box::new(retype(st, "a CycloneDX BOM")?)),
        _ => Typed::Other(Box::new(st)),
    };
    Ok(Parsed { typed, json })
}

/// The statement with its predicate read as `P`.
fn retype<P: DeserializeOwned>(st: Statement, what: &str) -> Result<Statement<P>, String> {
    let predicate = serde_json::from_value(st.predicate).map_err(|e| {
        format!(
            "the predicate of type `{}` is not {what}: {e}",
            st.predicate_type
        )
    })?;
    Ok(Statement {
        type_: st.type_,
        subject: st.subject,
        predicate_type: st.predicate_type,
        predicate,
    })
}

/// `predicate-type`: the statement's predicate type is the one its referrer announces.
pub fn check_predicate_type(report: &mut Report, att: &str, actual: &str, announced: Option<&str>) {
    match announced {
        Some(a) if a != actual => report.fail(
            CheckId::PredicateType,
            Some(att),
            format!("the referrer announces predicate type `{a}` but the signed statement has `{actual}`"),
        ),
        Some(_) => report.pass(CheckId::PredicateType, Some(att), format!("`{actual}`, as announced")),
        None => report.pass(CheckId::PredicateType, Some(att), format!("`{actual}`")),
    }
}
