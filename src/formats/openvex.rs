//! OpenVEX v0.2.0 (<https://github.com/openvex/spec>), as plain serde types.
//!
//! A document carries statements; each says what a vulnerability means for some products.
//! Field names follow the spec's JSON (`@context`, `@id`, snake_case fields). Readers reject
//! unknown fields, as the official JSON schema does (`additionalProperties: false`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// `@context` of an OpenVEX v0.2.0 document.
pub const CONTEXT: &str = super::predicate::OPENVEX;
/// The in-toto predicate type of a VEX statement (the same URI as the context).
pub use super::predicate::OPENVEX as PREDICATE_TYPE;
/// Prefix of the content-derived `@id`s we give documents (as vexctl does).
pub const ID_PREFIX: &str = "https://openvex.dev/docs/public/vex-";

/// An OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Always [`CONTEXT`].
    #[serde(rename = "@context")]
    pub context: String,
    /// The document's IRI.
    #[serde(rename = "@id")]
    pub id: String,
    /// Who issued it.
    pub author: String,
    /// The author's role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// When it was issued (RFC 3339).
    pub timestamp: String,
    /// When it was last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// Document version, from 1.
    pub version: u64,
    /// The tool that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tooling: Option<String>,
    /// The statements (at least one).
    pub statements: Vec<Statement>,
}

/// One VEX statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The statement's IRI.
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Statement version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// The vulnerability.
    pub vulnerability: Vulnerability,
    /// When the statement became true (RFC 3339); the document's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// When it was last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    /// The products it is about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<Component>,
    /// The status.
    pub status: Status,
    /// Supplier of the product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supplier: Option<String>,
    /// How the status was determined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_notes: Option<String>,
    /// Why a product is not affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<Justification>,
    /// Free text: why a product is not affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// What to do about an affected product (required for `affected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    /// When the action statement was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement_timestamp: Option<String>,
}

/// The vulnerability a statement is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vulnerability {
    /// An IRI for it.
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its main identifier (`CVE-2024-1234`, `GHSA-...`, `RUSTSEC-...`).
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Other names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// A product (or, inside `subcomponents`, a part of one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// Its IRI (we use the purl).
    #[serde(rename = "@id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Software identifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<Identifiers>,
    /// Hashes by algorithm name (`sha-256`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hashes: BTreeMap<String, String>,
    /// Parts of the product the statement is about (absent inside subcomponents).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subcomponents: Vec<Component>,
}

impl Component {
    /// A component named by a purl (as `@id` and `identifiers.purl`).
    pub fn purl(purl: impl Into<String>) -> Self {
        let purl = purl.into();
        Component {
            id: Some(purl.clone()),
            identifiers: Some(Identifiers {
                purl: Some(purl),
                ..Identifiers::default()
            }),
            hashes: BTreeMap::new(),
            subcomponents: Vec::new(),
        }
    }
}

/// Software identifiers of a component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identifiers {
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// CPE 2.2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe22: Option<String>,
    /// CPE 2.3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpe23: Option<String>,
}

/// Generates a string enum with the spec's spelling, `FromStr` listing the allowed values.
macro_rules! spec_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// Every value, in the spec's order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The spec's spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// The allowed values, comma-separated, for messages.
            pub fn allowed() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    Error::msg(format!(
                        concat!("unknown ", $what, " `{}`: allowed values are {}"),
                        s,
                        Self::allowed()
                    ))
                })
            }
        }
    };
}

spec_enum!(
    /// A statement's status.
    Status, "VEX status" {
        /// No remediation is required.
        NotAffected = "not_affected",
        /// Actions are recommended to remediate or address the vulnerability.
        Affected = "affected",
        /// The products contain a fix.
        Fixed = "fixed",
        /// It is not yet known whether the products are affected.
        UnderInvestigation = "under_investigation",
    }
);

spec_enum!(
    /// Why a product is `not_affected`.
    Justification, "VEX justification" {
        /// The vulnerable component is not included in the product.
        ComponentNotPresent = "component_not_present",
        /// The vulnerable code is not included.
        VulnerableCodeNotPresent = "vulnerable_code_not_present",
        /// The vulnerable code cannot be executed.
        VulnerableCodeNotInExecutePath = "vulnerable_code_not_in_execute_path",
        /// The vulnerable code cannot be controlled by an adversary.
        VulnerableCodeCannotBeControlledByAdversary = "vulnerable_code_cannot_be_controlled_by_adversary",
        /// The product has built-in protections.
        InlineMitigationsAlreadyExist = "inline_mitigations_already_exist",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_list_allowed_values() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), *s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for j in Justification::ALL {
            assert_eq!(j.as_str().parse::<Justification>().unwrap(), *j);
        }
        let e = "notaffected".parse::<Status>().unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("not_affected, affected, fixed, under_investigation"),
            "{e}"
        );
        let e = "nope".parse::<Justification>().unwrap_err().to_string();
        assert!(e.contains("inline_mitigations_already_exist"), "{e}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let doc = serde_json::json!({
            "@context": CONTEXT, "@id": "x", "author": "a", "timestamp": "t", "version": 1,
            "statements": [], "extra": 1
        });
        assert!(serde_json::from_value::<Document>(doc).is_err());
    }
}
