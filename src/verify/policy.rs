//! Verification expectations, from flags or from a policy file (`--policy FILE`, TOML or
//! JSON, the same keys as the flags):
//!
//! ```toml
//! key = "cosign.pub"                 # relative to the policy file
//! builder-id = "https://github.com/org/repo/.github/workflows/release.yml@refs/heads/main"
//! source-repo = "https://github.com/org/repo"
//! source-commit = "0123abcd..."
//! source-ref = "refs/heads/main"
//! require = ["provenance", "sbom"]
//! ```
//!
//! Unknown keys are an error (a misspelt expectation must not silently check nothing).
//! Flags given on the command line override the file's values.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::formats::requirement::Requirement;

/// Parses one `verify --require` word: `provenance`, `sbom`, `vex` (attestations) or
/// `signature` (cosign's image signature, as `build` and `cosign sign` write it).
pub fn attestation_requirement(word: &str) -> Result<Requirement> {
    let word = word.trim();
    word.parse().map_err(|_| {
        Error::msg(format!(
            "unknown requirement `{word}` in --require: allowed values are {}",
            attestation_kinds()
        ))
    })
}

fn attestation_kinds() -> String {
    let kinds: Vec<&str> = Requirement::ALL
        .into_iter()
        .map(Requirement::name)
        .collect();
    kinds.join(", ")
}

/// What the verified attestations must say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Expectations {
    /// The public key (PEM) the attestations must be signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// A Sigstore trusted root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_root: Option<PathBuf>,
    /// `runDetails.builder.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builder_id: Option<String>,
    /// The source repository URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repo: Option<String>,
    /// The full source commit id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_commit: Option<String>,
    /// The source ref (`refs/heads/main`, `refs/tags/v1.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    /// Keyless: the certificate identity (SAN), exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole identity must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the whole issuer must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: the GitHub workflow repository claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Keyless: the GitHub workflow ref claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_github_workflow_ref: Option<String>,
    /// Keyless: the GitHub workflow commit claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Keyless: the GitHub workflow trigger claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Keyless: the GitHub workflow name claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_github_workflow_name: Option<String>,
    /// Attestation kinds that must be present and verified. Empty means provenance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<Requirement>,
    /// With `vuln` required: the highest severity an unsuppressed vulnerability of a shipped
    /// crate may have in the scan (docs/audit.md, "Requiring the scan").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vuln_max_severity: Option<crate::formats::severity::Level>,
}

impl Expectations {
    /// Parses a policy file's text; `origin` names it in errors. JSON when it starts with `{`,
    /// TOML otherwise.
    pub fn parse(text: &str, origin: &str) -> Result<Expectations> {
        let exp: Expectations = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| Error::msg(format!("policy {origin} is not valid: {e}")))?
        } else {
            toml::from_str(text)
                .map_err(|e| Error::msg(format!("policy {origin} is not valid: {e}")))?
        };
        if exp.vuln_max_severity.is_some() && !exp.require.contains(&Requirement::Vuln) {
            return Err(Error::msg(format!(
                "policy {origin}: `vuln-max-severity` needs `vuln` in `require`"
            )));
        }
        Ok(exp)
    }

    /// Reads a policy file; relative `key` and `trusted-root` paths are taken relative to it.
    pub fn load(path: &Path) -> Result<Expectations> {
        let bytes = crate::util::fs::read(path)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::msg(format!("policy {} is not UTF-8 text", path.display())))?;
        let mut exp = Self::parse(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut exp.key, &mut exp.trusted_root].into_iter().flatten() {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(exp)
    }

    /// These expectations with every value set in `flags` taking precedence.
    pub fn overridden_by(self, flags: Expectations) -> Expectations {
        Expectations {
            key: flags.key.or(self.key),
            trusted_root: flags.trusted_root.or(self.trusted_root),
            builder_id: flags.builder_id.or(self.builder_id),
            source_repo: flags.source_repo.or(self.source_repo),
            source_commit: flags.source_commit.or(self.source_commit),
            source_ref: flags.source_ref.or(self.source_ref),
            certificate_identity: flags.certificate_identity.or(self.certificate_identity),
            certificate_identity_regexp: flags
                .certificate_identity_regexp
                .or(self.certificate_identity_regexp),
            certificate_oidc_issuer: flags
                .certificate_oidc_issuer
                .or(self.certificate_oidc_issuer),
            certificate_oidc_issuer_regexp: flags
                .certificate_oidc_issuer_regexp
                .or(self.certificate_oidc_issuer_regexp),
            certificate_github_workflow_repository: flags
                .certificate_github_workflow_repository
                .or(self.certificate_github_workflow_repository),
            certificate_github_workflow_ref: flags
                .certificate_github_workflow_ref
                .or(self.certificate_github_workflow_ref),
            certificate_github_workflow_sha: flags
                .certificate_github_workflow_sha
                .or(self.certificate_github_workflow_sha),
            certificate_github_workflow_trigger: flags
                .certificate_github_workflow_trigger
                .or(self.certificate_github_workflow_trigger),
            certificate_github_workflow_name: flags
                .certificate_github_workflow_name
                .or(self.certificate_github_workflow_name),
            require: if flags.require.is_empty() {
                self.require
            } else {
                flags.require
            },
            vuln_max_severity: flags.vuln_max_severity.or(self.vuln_max_severity),
        }
    }

    /// The required kinds, sorted and deduplicated; provenance when none was named.
    pub fn required(&self) -> Vec<Requirement> {
        let mut r = self.require.clone();
        if r.is_empty() {
            r.push(Requirement::Provenance);
        }
        r.sort();
        r.dedup();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_give_the_same_expectations() {
        let t = Expectations::parse(
            "builder-id = \"b\"\nsource-commit = \"c\"\nrequire = [\"sbom\", \"provenance\"]\n",
            "p.toml",
        )
        .unwrap();
        let j = Expectations::parse(
            r#"{"builder-id": "b", "source-commit": "c", "require": ["sbom", "provenance"]}"#,
            "p.json",
        )
        .unwrap();
        assert_eq!(t, j);
        assert_eq!(t.required(), [Requirement::Provenance, Requirement::Sbom]);
        assert_eq!(
            Expectations::default().required(),
            [Requirement::Provenance]
        );
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors() {
        let e = Expectations::parse("builder_id = \"b\"\n", "p.toml").unwrap_err();
        assert!(e.to_string().contains("p.toml"), "{e}");
        assert!(Expectations::parse(r#"{"require": ["slsa"]}"#, "p.json").is_err());
        let exp = Expectations::parse("require = [\"signature\"]\n", "p.toml").unwrap();
        assert_eq!(exp.required(), [Requirement::Signature]);
    }

    #[test]
    fn vuln_max_severity_is_read_and_needs_vuln() {
        let e = Expectations::parse(
            "require = [\"vuln\"]\nvuln-max-severity = \"medium\"\n",
            "p.toml",
        )
        .unwrap();
        assert_eq!(
            e.vuln_max_severity,
            Some(crate::formats::severity::Level::Medium)
        );
        let err = Expectations::parse("vuln-max-severity = \"high\"\n", "p.toml").unwrap_err();
        assert!(err.to_string().contains("needs `vuln`"), "{err}");
    }

    #[test]
    fn verify_require_words_are_the_attestation_kinds() {
        assert_eq!(attestation_requirement("sbom").unwrap(), Requirement::Sbom);
        assert_eq!(
            attestation_requirement("signature").unwrap(),
            Requirement::Signature
        );
        let e = attestation_requirement("slsa").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains(
                "`slsa` in --require: allowed values are signature, provenance, sbom, vex, vuln"
            ),
            "{e}"
        );
    }

    #[test]
    fn flags_override_the_file_and_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("policy.toml");
        std::fs::write(
            &p,
            "key = \"k.pub\"\nbuilder-id = \"file\"\nsource-ref = \"r\"\n\
             certificate-identity = \"id\"\ncertificate-oidc-issuer-regexp = \"https://.*\"\n",
        )
        .unwrap();
        let file = Expectations::load(&p).unwrap();
        assert_eq!(
            file.key.as_deref(),
            Some(dir.path().join("k.pub").as_path())
        );
        let flags = Expectations {
            builder_id: Some("flag".into()),
            ..Expectations::default()
        };
        let m = file.overridden_by(flags);
        assert_eq!(m.builder_id.as_deref(), Some("flag"));
        assert_eq!(m.source_ref.as_deref(), Some("r"));
        assert_eq!(m.certificate_identity.as_deref(), Some("id"));
        assert_eq!(
            m.certificate_oidc_issuer_regexp.as_deref(),
            Some("https://.*")
        );
    }
}
