//! What a consumer can require of an image: the words of `verify --require`, a verify
//! policy file's `require`, and `policy kyverno --require`, each with the predicate type of
//! its evidence.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::predicate;

/// Something an admission policy (or `verify --require`) can demand of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requirement {
    /// A cosign image signature (`cosign sign`), verified with the policy's attestor.
    /// `cargo provenance build` does not make one: sign the image with cosign to use this.
    Signature,
    /// A signed SLSA v1 provenance statement about the image.
    Provenance,
    /// A signed CycloneDX SBOM statement about the image.
    Sbom,
    /// At least one signed OpenVEX statement about the image.
    Vex,
    /// A signed vulnerability scan (`cargo provenance build` with the audit; cosign's
    /// `vuln` predicate), optionally with a highest severity allowed.
    Vuln,
}

impl Requirement {
    /// Every requirement, in the order policies list them.
    pub const ALL: [Requirement; 5] = [
        Requirement::Signature,
        Requirement::Provenance,
        Requirement::Sbom,
        Requirement::Vex,
        Requirement::Vuln,
    ];

    /// The word used on the command line and as the attestation's name in policies.
    pub fn name(self) -> &'static str {
        match self {
            Requirement::Signature => "signature",
            Requirement::Provenance => "provenance",
            Requirement::Sbom => "sbom",
            Requirement::Vex => "vex",
            Requirement::Vuln => "vuln",
        }
    }

    /// The in-toto predicate type this requirement names, if it is an attestation.
    pub fn predicate_type(self) -> Option<&'static str> {
        match self {
            Requirement::Signature => None,
            Requirement::Provenance => Some(predicate::SLSA_PROVENANCE_V1),
            Requirement::Sbom => Some(predicate::CYCLONEDX_BOM),
            Requirement::Vex => Some(predicate::OPENVEX),
            Requirement::Vuln => Some(predicate::COSIGN_VULN),
        }
    }

    /// The predicate type of the signed statement that is evidence for this requirement in
    /// `verify`: the attestation's own, and for `signature` cosign's image signature
    /// ([`crate::formats::cosign::SIGN_PREDICATE_TYPE`]).
    pub fn evidence_predicate_type(self) -> &'static str {
        self.predicate_type()
            .unwrap_or(crate::formats::cosign::SIGN_PREDICATE_TYPE)
    }

    /// Parses a comma-separated list (`provenance,sbom`), rejecting unknown words and
    /// empty lists. The result is sorted and free of duplicates.
    pub fn parse_list(list: &str) -> Result<Vec<Requirement>> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            out.push(word.parse::<Requirement>()?);
        }
        if out.is_empty() {
            return Err(Error::msg(format!(
                "--require needs at least one of: {}",
                Self::allowed()
            )));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The allowed words, for error messages.
    pub fn allowed() -> String {
        Self::ALL.map(Requirement::name).join(", ")
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Requirement {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                Error::msg(format!(
                    "unknown requirement `{s}` in --require: allowed values are {}",
                    Self::allowed()
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn require_lists_parse_sorted_and_deduplicated() {
        let r = Requirement::parse_list("vex, provenance,sbom,vex").unwrap();
        assert_eq!(
            r,
            vec![Requirement::Provenance, Requirement::Sbom, Requirement::Vex]
        );
    }

    #[test]
    fn unknown_and_empty_requirements_are_rejected_with_the_allowed_values() {
        let e = Requirement::parse_list("provenance,slsa").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("`slsa`"), "{e}");
        assert!(
            e.to_string()
                .contains("signature, provenance, sbom, vex, vuln"),
            "{e}"
        );
        assert!(Requirement::parse_list(" , ").is_err());
    }
}
