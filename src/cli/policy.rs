//! `cargo provenance policy`: print admission policies that admit only verified images.

use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::policy::Requirement;
use crate::policy::kyverno::{self, ApiVersion, Attestor, KyvernoPolicy, ValidationAction};
use crate::ui::Ui;

/// Flags of `cargo provenance policy`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The kind of policy.
    #[command(subcommand)]
    pub kind: Kind,
}

/// The policy generators.
#[derive(Debug, clap::Subcommand)]
pub enum Kind {
    /// A Kyverno ImageValidatingPolicy (policies.kyverno.io) for pods.
    Kyverno(KyvernoArgs),
}

/// Flags of `cargo provenance policy kyverno`.
#[derive(Debug, clap::Args)]
pub struct KyvernoArgs {
    /// Image references the policy applies to (Kyverno glob; repeat for several).
    #[arg(long = "image-glob", value_name = "GLOB", required = true)]
    pub image_glob: Vec<String>,
    /// Public key (cosign.pub) that must have signed the attestations.
    #[arg(long, value_name = "PUB", conflicts_with_all = [
        "certificate_identity", "certificate_oidc_issuer",
        "certificate_identity_regexp", "certificate_oidc_issuer_regexp", "trusted_root",
    ])]
    pub key: Option<PathBuf>,
    /// Keyless: who must have signed.
    #[command(flatten)]
    pub identity: super::identity::IdentityArgs,
    /// Keyless from another Sigstore instance: its trusted root (protobuf JSON); the policy
    /// gets its Fulcio roots, Rekor, CT log and TSA. Default: Kyverno's public-good settings.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// What every matched image must carry: signature, provenance, sbom, vex, vuln.
    #[arg(long, value_name = "LIST", default_value = "signature,provenance,sbom")]
    pub require: String,
    /// With `vuln` in --require: the highest severity the image's scan may list
    /// unsuppressed ("scanned, nothing above LEVEL"): none, low, medium, high.
    #[arg(long, value_name = "LEVEL", value_parser = parse_max_level)]
    pub vuln_max_severity: Option<crate::audit::Level>,
    /// metadata.name of the policy.
    #[arg(long, value_name = "NAME", default_value = kyverno::DEFAULT_NAME)]
    pub name: String,
    /// apiVersion to emit.
    #[arg(long, value_enum, default_value_t = ApiVersion::V1, value_name = "VERSION")]
    pub api_version: ApiVersion,
    /// What Kyverno does with a pod that fails: deny, audit, warn.
    #[arg(long, value_enum, default_value_t = ValidationAction::Deny, value_name = "ACTION")]
    pub validation_action: ValidationAction,
    /// Let Kyverno reach the registry over plain HTTP (test registries only).
    #[arg(long)]
    pub allow_insecure_registry: bool,
    /// Write the policy to FILE instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    match args.kind {
        Kind::Kyverno(a) => run_kyverno(a, ui),
    }
}

fn parse_max_level(s: &str) -> Result<crate::audit::Level> {
    if s.trim() == "none" {
        return Ok(crate::audit::Level::None);
    }
    s.parse()
}

fn run_kyverno(a: KyvernoArgs, ui: &Ui) -> Result<i32> {
    let identity = a.identity.identity();
    let issuer = a.identity.issuer();
    let attestor = match (&a.key, identity, issuer) {
        (Some(path), _, _) => Attestor::Key {
            pem: kyverno::read_public_key(path)?,
        },
        (None, Some(identity), Some(issuer)) => Attestor::Keyless {
            identity,
            issuer,
            identity_regexp: a.identity.certificate_identity_regexp.is_some(),
            issuer_regexp: a.identity.certificate_oidc_issuer_regexp.is_some(),
        },
        _ => {
            return Err(Error::msg(
                "give the signer: --key cosign.pub, or --certificate-identity ID (or \
                 --certificate-identity-regexp) with --certificate-oidc-issuer URL (or \
                 --certificate-oidc-issuer-regexp)",
            ));
        }
    };
    let policy = KyvernoPolicy {
        name: a.name,
        api_version: a.api_version,
        image_globs: a.image_glob,
        attestor,
        requirements: Requirement::parse_list(&a.require)?,
        validation_action: a.validation_action,
        allow_insecure_registry: a.allow_insecure_registry,
        trust: a
            .trusted_root
            .as_deref()
            .map(crate::policy::trust::TrustMaterial::read)
            .transpose()?,
        vuln_max_severity: a.vuln_max_severity,
    };
    let yaml = policy.render()?;
    match &a.output {
        Some(path) => {
            crate::util::fs::write_atomic(path, yaml.as_bytes())?;
            ui.status("Wrote", path.display());
        }
        None => print!("{yaml}"),
    }
    Ok(0)
}
