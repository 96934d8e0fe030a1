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
    V1alpha1,
    /// `policies.kyverno.io/v1beta1`.
    V1beta1,
    /// `policies.kyverno.io/v1`: the GA API, from Kyverno 1.17 (the default).
    #[default]
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
    /// A keyless identity: certificate subject (SAN) and OIDC issuer, each matched exactly
    /// or by a regular expression that must match the whole value.
    Keyless {
        /// The certificate identity (`--certificate-identity[-regexp]`).
        identity: String,
        /// The OIDC issuer URL (`--certificate-oidc-issuer[-regexp]`).
        issuer: String,
        /// `identity` is a regular expression (`subjectRegExp`).
        identity_regexp: bool,
        /// `issuer` is a regular expression (`issuerRegExp`).
        issuer_regexp: bool,
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
    /// Keyless signatures from another Sigstore instance: its roots, Rekor, CT log and TSA
    /// (`--trusted-root`); `None` relies on Kyverno's public-good defaults.
    pub trust: Option<super::trust::TrustMaterial>,
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

/// One identity field: its key (`subject` or `subjectRegExp`, `issuer` or `issuerRegExp`)
/// and value. A regexp is anchored (`^(?:RE)$`): the whole claim must match, as in `verify`.
#[derive(Serialize, Default)]
struct Matcher {
    key: String,
    value: String,
}

impl Matcher {
    fn new(key: &str, value: &str, regexp: bool) -> Self {
        match regexp {
            true => Matcher {
                key: format!("{key}RegExp"),
                value: format!("^(?:{value})$"),
            },
            false => Matcher {
                key: key.to_owned(),
                value: value.to_owned(),
            },
        }
    }
}

/// The trust material as template lines (PEM lines go into YAML block scalars).
#[derive(Serialize)]
struct TrustCtx<'a> {
    roots: Vec<&'a str>,
    rekor_url: &'a str,
    rekor_pub: Vec<&'a str>,
    ctlog_pub: Vec<&'a str>,
    tsa_chain: Vec<&'a str>,
}

impl<'a> TrustCtx<'a> {
    fn of(t: &'a super::trust::TrustMaterial) -> Self {
        let lines = |s: Option<&'a String>| s.map(|s| s.lines().collect()).unwrap_or_default();
        TrustCtx {
            roots: t.fulcio_roots.lines().collect(),
            rekor_url: &t.rekor_url,
            rekor_pub: t.rekor_pub.lines().collect(),
            ctlog_pub: lines(t.ctlog_pub.as_ref()),
            tsa_chain: lines(t.tsa_chain.as_ref()),
        }
    }
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
    certificate_identity: Matcher,
    certificate_oidc_issuer: Matcher,
    trust: Option<TrustCtx<'a>>,
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
            Attestor::Key { .. } if self.trust.is_some() => {
                return Err(Error::msg(
                    "--trusted-root applies to a keyless attestor (--certificate-identity): a \
                     key-signed policy needs no Sigstore trust material",
                ));
            }
            Attestor::Key { pem } => {
                canonical_public_key_pem(pem)?;
            }
            Attestor::Keyless {
                identity,
                issuer,
                identity_regexp,
                issuer_regexp,
            } => {
                check_text("--certificate-identity", identity)?;
                check_text("--certificate-oidc-issuer", issuer)?;
                for (flag, re, is_re) in [
                    ("--certificate-identity-regexp", identity, identity_regexp),
                    ("--certificate-oidc-issuer-regexp", issuer, issuer_regexp),
                ] {
                    if *is_re && let Err(e) = regex::Regex::new(re) {
                        return Err(Error::msg(format!(
                            "{flag} {re:?} is not a valid regular expression: {e}"
                        )));
                    }
                }
                let is_url = issuer.starts_with("https://") || issuer.starts_with("http://");
                if !(*issuer_regexp || is_url) {
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
            Attestor::Keyless {
                identity,
                issuer,
                identity_regexp,
                issuer_regexp,
            } => (
                Matcher::new("subject", identity, *identity_regexp),
                Matcher::new("issuer", issuer, *issuer_regexp),
            ),
            Attestor::Key { .. } => (Matcher::default(), Matcher::default()),
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
            trust: self.trust.as_ref().map(TrustCtx::of),
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
            trust: None,
            vuln_max_severity: None,
        }
    }

    #[test]
    fn values_cannot_inject_yaml() {
        let mut p = policy(Attestor::Keyless {
            identity: "x\"\n  evil: true".into(),
            issuer: "https://issuer".into(),
            identity_regexp: false,
            issuer_regexp: false,
        });
        assert!(p.render().is_err(), "control characters are rejected");
        p.attestor = Attestor::Keyless {
            identity: "a\" evil: \"b".into(),
            issuer: "https://issuer".into(),
            identity_regexp: false,
            issuer_regexp: false,
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

    #[test]
    fn regexp_identities_are_anchored_and_checked() {
        let mut p = policy(Attestor::Keyless {
            identity: "https://github.com/org/.*".into(),
            issuer: "https://token\\.actions\\.githubusercontent\\.com".into(),
            identity_regexp: true,
            issuer_regexp: true,
        });
        let out = p.render().unwrap();
        assert!(
            out.contains(r#"subjectRegExp: "^(?:https://github.com/org/.*)$""#),
            "{out}"
        );
        assert!(out.contains("issuerRegExp: "), "{out}");
        p.attestor = Attestor::Keyless {
            identity: "(".into(),
            issuer: "https://i".into(),
            identity_regexp: true,
            issuer_regexp: false,
        };
        let e = p.render().unwrap_err().to_string();
        assert!(e.contains("--certificate-identity-regexp"), "{e}");
    }
}
