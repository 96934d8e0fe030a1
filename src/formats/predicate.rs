//! Every in-toto predicate type we write or read, in one place, with cosign's short name for
//! it (`cosign verify-attestation --type NAME`). Other modules name these constants; none
//! spells a predicate-type URI of its own.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// SLSA provenance v1.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// CycloneDX SBOM (any spec version; the BOM says which).
pub const CYCLONEDX_BOM: &str = "https://cyclonedx.org/bom";
/// OpenVEX v0.2.0 (also the document's `@context`).
pub const OPENVEX: &str = "https://openvex.dev/ns/v0.2.0";
/// cosign's vulnerability-scan attestation.
pub const COSIGN_VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";
/// cosign 3's image signature statement (`cosign sign --new-bundle-format`).
pub const COSIGN_SIGN: &str = "https://sigstore.dev/cosign/sign/v1";

/// A predicate type we know, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PredicateType {
    /// [`SLSA_PROVENANCE_V1`].
    SlsaProvenance,
    /// [`CYCLONEDX_BOM`].
    CycloneDx,
    /// [`OPENVEX`].
    OpenVex,
    /// [`COSIGN_VULN`].
    Vuln,
    /// [`COSIGN_SIGN`].
    CosignSign,
}

impl PredicateType {
    /// Every known predicate type.
    pub const ALL: [PredicateType; 5] = [
        PredicateType::SlsaProvenance,
        PredicateType::CycloneDx,
        PredicateType::OpenVex,
        PredicateType::Vuln,
        PredicateType::CosignSign,
    ];

    /// The URI written as `predicateType`.
    pub fn uri(self) -> &'static str {
        match self {
            PredicateType::SlsaProvenance => SLSA_PROVENANCE_V1,
            PredicateType::CycloneDx => CYCLONEDX_BOM,
            PredicateType::OpenVex => OPENVEX,
            PredicateType::Vuln => COSIGN_VULN,
            PredicateType::CosignSign => COSIGN_SIGN,
        }
    }

    /// cosign's `--type` name for it, where cosign has one.
    pub fn cosign_type(self) -> Option<&'static str> {
        match self {
            PredicateType::SlsaProvenance => Some("slsaprovenance1"),
            PredicateType::CycloneDx => Some("cyclonedx"),
            PredicateType::OpenVex => Some("openvex"),
            PredicateType::Vuln => Some("vuln"),
            PredicateType::CosignSign => None,
        }
    }

    /// The known predicate type with this URI.
    pub fn from_uri(uri: &str) -> Option<PredicateType> {
        Self::ALL.into_iter().find(|p| p.uri() == uri)
    }
}

impl fmt::Display for PredicateType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

impl FromStr for PredicateType {
    type Err = Error;
    /// A URI or cosign's short name.
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.uri() == s || p.cosign_type() == Some(s))
            .ok_or_else(|| {
                Error::msg(format!(
                    "`{s}` is not a predicate type cargo-provenance knows: give one of {}",
                    Self::ALL.map(|p| p.uri()).join(", ")
                ))
            })
    }
}

/// cosign's `--type` name for `uri`, if it is a known predicate type cosign names.
pub fn cosign_type(uri: &str) -> Option<&'static str> {
    PredicateType::from_uri(uri).and_then(PredicateType::cosign_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_short_names_round_trip() {
        for p in PredicateType::ALL {
            assert_eq!(p.uri().parse::<PredicateType>().unwrap(), p);
            if let Some(t) = p.cosign_type() {
                assert_eq!(t.parse::<PredicateType>().unwrap(), p);
            }
        }
        assert!("https://example.com/x".parse::<PredicateType>().is_err());
        assert_eq!(cosign_type(SLSA_PROVENANCE_V1), Some("slsaprovenance1"));
        assert_eq!(cosign_type(COSIGN_SIGN), None);
    }
}
