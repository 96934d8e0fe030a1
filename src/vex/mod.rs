//! OpenVEX statements about a released image: what a vulnerability found after release
//! means for it, signed and attached beside the image as one more referrer (role `vex`),
//! without touching the image.
//!
//! This module holds the document layer: checking the user's input against the OpenVEX
//! rules and building the v0.2.0 document whose products are the image (by digest, index
//! and platform manifests) with the given crates as subcomponents. `docs/vex.md` describes
//! every field and where its value comes from.

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::formats::oci::Platform;
use crate::formats::openvex::{
    CONTEXT, Component, Document, ID_PREFIX, Justification, Statement, Status, Vulnerability,
};
use crate::util::digest::Digest;

pub mod publish;
pub mod sbom_check;

/// Author written when none is given (vexctl's default too).
pub const DEFAULT_AUTHOR: &str = "Unknown Author";

/// What the user says about a vulnerability (the `vex` command's flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VexInput {
    /// The vulnerability's identifier (`CVE-2024-1234`, `GHSA-xxxx-xxxx-xxxx`, `RUSTSEC-...`).
    pub vulnerability: String,
    /// The status.
    pub status: Status,
    /// Why the image is not affected (required for, and only allowed with, `not_affected`).
    pub justification: Option<Justification>,
    /// Free text on the impact.
    pub impact_statement: Option<String>,
    /// What users should do (required for `affected`).
    pub action_statement: Option<String>,
    /// Purls of the crates the statement is about (subcomponents of the image).
    pub subcomponents: Vec<String>,
    /// The document's author.
    pub author: String,
}

impl VexInput {
    /// Checks the input against the OpenVEX rules; errors (exit 2) name the flag and list the
    /// allowed values.
    pub fn validate(&self) -> Result<()> {
        let v = self.vulnerability.trim();
        if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::msg(format!(
                "--vulnerability {:?}: give the vulnerability's identifier, e.g. CVE-2024-1234, \
                 GHSA-xxxx-xxxx-xxxx or RUSTSEC-2024-0001 (no spaces)",
                self.vulnerability
            )));
        }
        match (self.status, self.justification) {
            (Status::NotAffected, None) => {
                return Err(Error::msg(format!(
                    "--status not_affected needs --justification: one of {}",
                    Justification::allowed()
                )));
            }
            (s, Some(j)) if s != Status::NotAffected => {
                return Err(Error::msg(format!(
                    "--justification {j} only goes with --status not_affected (the status is {s})"
                )));
            }
            _ => {}
        }
        if self.status == Status::Affected && self.action_statement.is_none() {
            return Err(Error::msg(
                "--status affected needs --action-statement: say what users should do \
                 (upgrade, mitigate), as OpenVEX requires",
            ));
        }
        for (flag, text) in [
            ("--impact-statement", &self.impact_statement),
            ("--action-statement", &self.action_statement),
        ] {
            if let Some(t) = text
                && t.trim().is_empty()
            {
                return Err(Error::msg(format!("{flag} may not be empty")));
            }
        }
        if self.author.trim().is_empty() {
            return Err(Error::msg("--author may not be empty"));
        }
        for p in &self.subcomponents {
            check_purl(p)?;
        }
        Ok(())
    }
}

/// Checks the shape of a package URL (`pkg:TYPE/NAMESPACE/NAME@VERSION?...`).
pub fn check_purl(purl: &str) -> Result<()> {
    let bad = || {
        Error::msg(format!(
            "--product {purl:?} is not a package URL: expected e.g. pkg:cargo/time@0.3.36 \
             (the purl of the crate, as in the SBOM)"
        ))
    };
    let rest = purl.strip_prefix("pkg:").ok_or_else(bad)?;
    let (ty, name) = rest.split_once('/').ok_or_else(bad)?;
    let ty_ok = !ty.is_empty()
        && ty.starts_with(|c: char| c.is_ascii_alphabetic())
        && ty
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'));
    let name = name.trim_start_matches('/');
    if !ty_ok
        || name.is_empty()
        || name.starts_with(['@', '?', '#'])
        || purl.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(bad());
    }
    Ok(())
}

/// One digest of the image a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageProduct {
    /// `registry/repository` (no tag, no digest), or the layout's image name.
    pub repository: String,
    /// The index or manifest digest.
    pub digest: Digest,
    /// The platform, for a platform manifest.
    pub platform: Option<Platform>,
}

/// `pkg:oci/NAME@sha256%3AHEX?arch=..&os=..&repository_url=REPO` (qualifiers sorted, as the
/// purl spec's canonical form wants): the name is the repository's last segment, lowercased.
pub fn image_purl(p: &ImageProduct) -> String {
    crate::formats::purl::oci(&p.repository, &p.digest.hex(), None, p.platform.as_ref())
}

/// Builds the OpenVEX document: one statement whose products are the image's digests (index
/// first), each with the given crates as subcomponents. `timestamp` is RFC 3339. The `@id`
/// is derived from the content, so the same input gives the same document.
pub fn document(input: &VexInput, images: &[ImageProduct], timestamp: &str) -> Result<Document> {
    input.validate()?;
    if images.is_empty() {
        return Err(Error::msg("a VEX statement needs the image it is about"));
    }
    let mut subcomponents: Vec<String> = input.subcomponents.clone();
    subcomponents.sort();
    subcomponents.dedup();
    let products = images
        .iter()
        .map(|img| {
            let mut c = Component::purl(image_purl(img));
            c.hashes.insert("sha-256".into(), img.digest.hex());
            c.subcomponents = subcomponents.iter().map(Component::purl).collect();
            c
        })
        .collect();
    let statement = Statement {
        id: None,
        version: None,
        vulnerability: Vulnerability {
            id: None,
            name: input.vulnerability.trim().to_owned(),
            description: None,
            aliases: Vec::new(),
        },
        timestamp: None,
        last_updated: None,
        products,
        status: input.status,
        supplier: None,
        status_notes: None,
        justification: input.justification,
        impact_statement: input.impact_statement.clone(),
        action_statement: input.action_statement.clone(),
        action_statement_timestamp: None,
    };
    let mut doc = Document {
        context: CONTEXT.to_owned(),
        id: String::new(),
        author: input.author.trim().to_owned(),
        role: None,
        timestamp: timestamp.to_owned(),
        last_updated: None,
        version: 1,
        tooling: Some(format!("cargo-provenance {}", env!("CARGO_PKG_VERSION"))),
        statements: vec![statement],
    };
    let canonical = serde_json::to_vec(&doc).expect("VEX documents serialise");
    doc.id = format!("{ID_PREFIX}{}", hex::encode(Sha256::digest(&canonical)));
    Ok(doc)
}

#[cfg(test)]
mod tests;
