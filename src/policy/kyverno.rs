//! Kyverno `ImageValidatingPolicy` (`policies.kyverno.io`), rendered from
//! `templates/kyverno-imagevalidatingpolicy.yaml`.
//!
//! The template is a minijinja template whose every interpolated value is written as a JSON
//! string (minijinja's JSON auto-escaping), i.e. a double-quoted YAML scalar: an image glob,
//! a policy name or an identity cannot add keys or documents to the output. The only value
//! written verbatim is the public key, as a block scalar; it is the PEM we re-encode from the
//! parsed key, so it holds nothing but armour and base64 lines. Inputs are also checked
//! before rendering (name syntax, no control characters, P-256 key), so a bad flag is an
//! error naming the flag, not a policy the cluster rejects. `docs/kyverno.md` explains each
//! field and the Kyverno versions this targets.

use std::path::Path;

use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use serde::Serialize;

use super::Requirement;
use crate::error::{Error, Result};

/// The template's file name (also the name minijinja knows it by, which selects JSON
/// auto-escaping by its `.yaml` extension).
pub const TEMPLATE_NAME: &str = "kyverno-imagevalidatingpolicy.yaml";
/// The template itself, compiled into the binary.
pub const TEMPLATE: &str = include_str!("../../templates/kyverno-imagevalidatingpolicy.yaml");
/// The Rekor instance named in key-based attestors. Some Kyverno releases refuse a `ctlog`
/// block without a URL even when `insecureIgnoreTlog` is set.
pub const DEFAULT_REKOR_URL: &str = "https://rekor.sigstore.dev";
/// The policy name used when none is given.
pub const DEFAULT_NAME: &str = "cargo-provenance-verify-images";

/// The `apiVersion`s of `policies.kyverno.io` that serve `ImageValidatingPolicy` (the CRD in
/// `../shared/schemas/kyverno` serves all three with one schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ApiVersion {
    /// `policies.kyverno.io/v1alpha1`: served by every release that has the kind (1.14+);
    /// deprecated in the newest CRDs.
    #[default]
    V1alpha1,
    /// `policies.kyverno.io/v1beta1`.
    V1beta1,
    /// `policies.kyverno.io/v1`.
    V1,
}

impl ApiVersion {
    /// The full `apiVersion` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V1alpha1 => "policies.kyverno.io/v1alpha1",
            ApiVersion::V1beta1 => "policies.kyverno.io/v1beta1",
            ApiVersion::V1 => "policies.kyverno.io/v1",
        }
    }

    /// The version part alone (`v1alpha1`), as the CRD's `versions[].name` spells it.
    pub fn version(self) -> &'static str {
        self.as_str().rsplit('/').next().unwrap_or_default()
    }
}

/// `spec.validationActions`: what Kyverno does with a pod that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ValidationAction {
    /// Reject the request (the default: fail closed).
    #[default]
    Deny,
    /// Admit it and record a policy report.
    Audit,
    /// Admit it with a warning to the client.
    Warn,
}

impl ValidationAction {
    /// The value Kyverno expects.
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationAction::Deny => "Deny",
            ValidationAction::Audit => "Audit",
            ValidationAction::Warn => "Warn",
        }
    }
}

/// Who must have signed: a public key, or a keyless (Fulcio certificate) identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attestor {
    /// A cosign public key, as canonical SPKI PEM (see [`read_public_key`]).
    Key {
        /// The PEM text, `-----BEGIN PUBLIC KEY-----` ... with LF line ends.
        pem: String,
    },
    /// A keyless identity: certificate subject (SAN) and OIDC issuer, both matched exactly.
    Keyless {
        /// The certificate identity (`--certificate-identity`).
        identity: String,
        /// The OIDC issuer URL (`--certificate-oidc-issuer`).
        issuer: String,
    },
}

/// Everything the policy is made from.
#[derive(Debug, Clone)]
pub struct KyvernoPolicy {
    /// `metadata.name` (a DNS subdomain name).
    pub name: String,
    /// `apiVersion`.
    pub api_version: ApiVersion,
    /// `spec.matchImageReferences[].glob`, in the order given.
    pub image_globs: Vec<String>,
    /// The one cosign attestor.
    pub attestor: Attestor,
    /// What each matched image must carry.
    pub requirements: Vec<Requirement>,
    /// `spec.validationActions`.
    pub validation_action: ValidationAction,
    /// `spec.credentials.allowInsecureRegistry` (HTTP registries, e.g. a local test one).
    pub allow_insecure_registry: bool,
    /// With `vuln` required: the highest severity the scan may list unsuppressed
    /// (`scanner.result.highest`); `None`: the scan's presence only.
    pub vuln_max_severity: Option<crate::audit::Level>,
}

/// Reads a P-256 public key (PEM SPKI, as `cosign.pub`) and returns it re-encoded as
/// canonical PEM. Errors name the file.
pub fn read_public_key(path: &Path) -> Result<String> {
    let bytes = crate::util::fs::read(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Error::msg(format!(
            "{}: not a PEM public key (not UTF-8 text); give the `cosign.pub` file",
            path.display()
        ))
    })?;
    canonical_public_key_pem(text).map_err(|e| e.context(path.display()))
}

/// Parses PEM SPKI text holding a P-256 key and re-encodes it canonically.
pub fn canonical_public_key_pem(text: &str) -> Result<String> {
    let key = p256::PublicKey::from_public_key_pem(text.trim()).map_err(|e| {
        Error::msg(format!(
            "not a P-256 public key in PEM (`-----BEGIN PUBLIC KEY-----`) form ({e}); \
             give the `cosign.pub` written by `cargo provenance keygen` or `cosign generate-key-pair`"
        ))
    })?;
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| Error::msg(format!("encoding the public key as PEM: {e}")))
}

#[derive(Serialize)]
struct AttestationCtx {
    name: &'static str,
    predicate_type: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Ctx<'a> {
    tool_version: &'static str,
    summary: String,
    api_version: &'static str,
    name: &'a str,
    title: &'static str,
    description: String,
    validation_action: &'static str,
    image_globs: &'a [String],
    allow_insecure_registry: bool,
    key_pem_lines: Vec<&'a str>,
    rekor_url: &'static str,
    certificate_identity: &'a str,
    certificate_oidc_issuer: &'a str,
    require_signature: bool,
    attestations: Vec<AttestationCtx>,
    vuln_allowed: Vec<&'static str>,
    vuln_message: String,
}

impl KyvernoPolicy {
    /// Checks every input; errors name the flag at fault (exit 2).
    pub fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        if self.image_globs.is_empty() {
            return Err(Error::msg(
                "--image-glob is required: give the image references the policy applies to, \
                 e.g. `registry.example.com/team/app:*`",
            ));
        }
        for glob in &self.image_globs {
            if glob.is_empty() || glob.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(Error::msg(format!(
                    "--image-glob {glob:?}: an image glob may not be empty or contain spaces \
                     or control characters"
                )));
            }
        }
        if self.vuln_max_severity.is_some() && !self.requirements.contains(&Requirement::Vuln) {
            return Err(Error::msg(
                "--vuln-max-severity applies to the scan: add `vuln` to --require",
            ));
        }
        if self.requirements.is_empty() {
            return Err(Error::msg(format!(
                "--require needs at least one of: {}",
                Requirement::allowed()
            )));
        }
        match &self.attestor {
            Attestor::Key { pem } => {
                canonical_public_key_pem(pem)?;
            }
            Attestor::Keyless { identity, issuer } => {
                check_text("--certificate-identity", identity)?;
                check_text("--certificate-oidc-issuer", issuer)?;
                if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                    return Err(Error::msg(format!(
                        "--certificate-oidc-issuer {issuer:?}: expected the issuer URL, e.g. \
                         https://token.actions.githubusercontent.com"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Renders the policy as a YAML document.
    pub fn render(&self) -> Result<String> {
        self.validate()?;
        let pem = match &self.attestor {
            Attestor::Key { pem } => Some(canonical_public_key_pem(pem)?),
            Attestor::Keyless { .. } => None,
        };
        let (identity, issuer) = match &self.attestor {
            Attestor::Keyless { identity, issuer } => (identity.as_str(), issuer.as_str()),
            Attestor::Key { .. } => ("", ""),
        };
        let attestations: Vec<AttestationCtx> = self
            .requirements
            .iter()
            .filter_map(|r| {
                r.predicate_type().map(|t| AttestationCtx {
                    name: r.name(),
                    predicate_type: t,
                    message: format!(
                        "an image has no {} attestation ({t}) signed by the policy's attestor",
                        r.name()
                    ),
                })
            })
            .collect();
        let names: Vec<&str> = self.requirements.iter().map(|r| r.name()).collect();
        let signer = match &self.attestor {
            Attestor::Key { .. } => "the given cosign public key",
            Attestor::Keyless { .. } => "the given keyless identity",
        };
        let ctx = Ctx {
            tool_version: env!("CARGO_PKG_VERSION"),
            summary: format!("each carries {} verified with {signer}", names.join(", ")),
            api_version: self.api_version.as_str(),
            name: &self.name,
            title: "Require verified cargo-provenance evidence",
            description: format!(
                "Admits pods only when every matched image carries {}, each signed by {signer}.",
                names.join(", ")
            ),
            validation_action: self.validation_action.as_str(),
            image_globs: &self.image_globs,
            allow_insecure_registry: self.allow_insecure_registry,
            key_pem_lines: pem
                .as_deref()
                .map(|p| p.lines().collect())
                .unwrap_or_default(),
            rekor_url: DEFAULT_REKOR_URL,
            certificate_identity: identity,
            certificate_oidc_issuer: issuer,
            require_signature: self.requirements.contains(&Requirement::Signature),
            attestations,
            vuln_allowed: self
                .vuln_max_severity
                .map(|max| {
                    crate::audit::Level::ALL
                        .into_iter()
                        .filter(|l| *l <= max)
                        .map(|l| l.as_str())
                        .collect()
                })
                .unwrap_or_default(),
            vuln_message: format!(
                "an image's vulnerability scan lists an unsuppressed vulnerability above {}",
                self.vuln_max_severity.map(|l| l.as_str()).unwrap_or("-")
            ),
        };
        let mut env = minijinja::Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Json);
        env.add_template(TEMPLATE_NAME, TEMPLATE)
            .map_err(|e| Error::msg(format!("policy template {TEMPLATE_NAME}: {e}")))?;
        let template = env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::msg(format!("policy template {TEMPLATE_NAME}: {e}")))?;
        template
            .render(&ctx)
            .map_err(|e| Error::msg(format!("rendering policy template {TEMPLATE_NAME}: {e}")))
    }
}

/// `metadata.name` must be a DNS subdomain name (RFC 1123), as Kubernetes requires.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "--name {name:?}: a Kubernetes object name is lowercase letters, digits, `-` and \
             `.`, starts and ends with a letter or digit, at most 253 characters"
        )))
    }
}

fn check_text(flag: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() || value.chars().any(char::is_control) {
        return Err(Error::msg(format!(
            "{flag} {value:?}: may not be empty or contain control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem() -> String {
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap()
    }

    fn policy(attestor: Attestor) -> KyvernoPolicy {
        KyvernoPolicy {
            name: DEFAULT_NAME.into(),
            api_version: ApiVersion::V1alpha1,
            image_globs: vec!["registry.example.com/app:*".into()],
            attestor,
            requirements: vec![Requirement::Provenance, Requirement::Sbom],
            validation_action: ValidationAction::Deny,
            allow_insecure_registry: false,
            vuln_max_severity: None,
        }
    }

    #[test]
    fn values_cannot_inject_yaml() {
        let mut p = policy(Attestor::Keyless {
            identity: "x\"\n  evil: true".into(),
            issuer: "https://issuer".into(),
        });
        assert!(p.render().is_err(), "control characters are rejected");
        p.attestor = Attestor::Keyless {
            identity: "a\" evil: \"b".into(),
            issuer: "https://issuer".into(),
        };
        let out = p.render().unwrap();
        assert!(out.contains(r#"subject: "a\" evil: \"b""#), "{out}");
    }

    #[test]
    fn the_key_is_a_block_scalar_of_the_canonical_pem() {
        let out = policy(Attestor::Key { pem: pem() }).render().unwrap();
        assert!(out.contains("          data: |\n            -----BEGIN PUBLIC KEY-----\n"));
        assert!(out.contains("insecureIgnoreTlog: true"));
        assert!(!out.contains("keyless"));
    }

    #[test]
    fn bad_inputs_name_the_flag() {
        let mut p = policy(Attestor::Key { pem: "nope".into() });
        assert!(p.render().unwrap_err().to_string().contains("P-256"));
        p.attestor = Attestor::Key { pem: pem() };
        p.name = "Bad_Name".into();
        assert!(p.render().unwrap_err().to_string().contains("--name"));
        p.name = DEFAULT_NAME.into();
        p.image_globs = vec![];
        assert!(p.render().unwrap_err().to_string().contains("--image-glob"));
        p.image_globs = vec!["a b".into()];
        assert!(p.render().unwrap_err().to_string().contains("--image-glob"));
    }
}
