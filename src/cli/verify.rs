//! `cargo provenance verify`: verify an image's attestations, or one Sigstore bundle.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::ui::Ui;
use crate::verify::keyless::{
    self, GithubClaims, IdentityFlags, IdentityPolicy, KeylessTrust, SigstoreRoot,
};
use crate::verify::{
    self, Artifact, Expectations, PublicKey, Report, Requirement, Trust, TrustedRoot,
};

use super::ReportFormat;

/// Flags of `cargo provenance verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The image: `host[:port]/repo[:tag][@sha256:HEX]` or `oci:PATH[:tag][@sha256:HEX]`.
    #[arg(value_name = "REF", required_unless_present = "bundle")]
    pub reference: Option<String>,
    /// Public key (PEM) the attestations must be signed with.
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Keyless: who must have signed.
    #[command(flatten)]
    pub identity: super::identity::IdentityArgs,
    /// Keyless: the GitHub workflow repository (`owner/repo`) the certificate must name.
    #[arg(long, value_name = "REPO")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Keyless: the GitHub workflow ref the certificate must name.
    #[arg(long, value_name = "REF")]
    pub certificate_github_workflow_ref: Option<String>,
    /// Keyless: the GitHub workflow commit the certificate must name.
    #[arg(long, value_name = "SHA")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Keyless: the GitHub workflow trigger the certificate must name.
    #[arg(long, value_name = "EVENT")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Keyless: the GitHub workflow name the certificate must name.
    #[arg(long, value_name = "NAME")]
    pub certificate_github_workflow_name: Option<String>,
    /// Keyless: how many verified signing times (log integrated times, RFC 3161
    /// timestamps) are required.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub verified_time_threshold: u16,
    /// Key-signed bundles must carry a transparency log entry that verifies against the
    /// trusted root (default: the shipped public-good root).
    #[arg(long)]
    pub require_tlog: bool,
    /// A Sigstore trusted root (protobuf JSON): Fulcio CAs, CT logs, transparency logs, TSAs.
    /// Keyless default: the Sigstore public-good root shipped with this tool.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// The source repository the provenance must record.
    #[arg(long, value_name = "URL")]
    pub source_repo: Option<String>,
    /// The source commit the provenance must record.
    #[arg(long, value_name = "SHA")]
    pub source_commit: Option<String>,
    /// The source ref the provenance must record (`refs/heads/main`).
    #[arg(long, value_name = "REF")]
    pub source_ref: Option<String>,
    /// The builder id the provenance must record.
    #[arg(long, value_name = "ID")]
    pub builder_id: Option<String>,
    /// Attestation kinds that must be present and verified: provenance, sbom, vex, vuln (default:
    /// provenance).
    #[arg(
        long,
        value_parser = verify::policy::attestation_requirement,
        value_delimiter = ',',
        value_name = "KINDS"
    )]
    pub require: Vec<Requirement>,
    /// With `--require vuln`: the highest severity an unsuppressed vulnerability of a shipped
    /// crate may have in the scan (low, medium, high, critical).
    #[arg(long, value_name = "LEVEL", value_parser = super::audit::parse_level)]
    pub vuln_max_severity: Option<crate::audit::Level>,
    /// The same expectations from a TOML or JSON file; flags override it.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Rebuild the recorded source and compare binary and image digests.
    #[arg(long)]
    pub rebuild: bool,
    /// Read every attestation, cosign's legacy `.att`/`.sig` tags included, also once the
    /// referrers verify the image (by default the tags are read only when they do not).
    #[arg(long)]
    pub all_evidence: bool,
    /// With --rebuild: the repository to check the recorded commit out of (default: the
    /// current one).
    #[arg(long, value_name = "PATH", requires = "rebuild")]
    pub source: Option<PathBuf>,
    /// Verify one Sigstore bundle instead of an image.
    #[arg(long, value_name = "FILE", requires = "artifact", conflicts_with_all = ["reference", "rebuild"])]
    pub bundle: Option<PathBuf>,
    /// With --bundle: the signed artifact, a file or `sha256:HEX`.
    #[arg(long, value_name = "FILE_OR_DIGEST", requires = "bundle")]
    pub artifact: Option<String>,
    /// Never touch the network: registry references are refused (use an `oci:` layout);
    /// the trusted root is the shipped one or `--trusted-root` (verification itself is offline).
    #[arg(long)]
    pub offline: bool,
    /// Allow plain HTTP to the registry (always allowed for loopback hosts).
    #[arg(long)]
    pub plain_http: bool,
    /// How long to talk to the registry in all (`90s`, `3m`, `1m30s`; as cosign's
    /// `--timeout`): past it, verify stops with an error (exit 2).
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = crate::util::duration::parse)]
    pub timeout: std::time::Duration,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
}

/// Runs the command; returns the exit code.
pub fn run(args: Args, ui: &Ui) -> Result<i32> {
    if let Some(reference) = args.reference.as_deref().filter(|r| !r.starts_with("oci:"))
        && args.offline
    {
        return Err(Error::msg(format!(
            "--offline: {reference} is a registry reference; copy the image into a layout \
             first (`cargo provenance push {reference} oci:DIR`) and verify `oci:DIR`"
        )));
    }
    let expectations = expectations(&args)?;
    let identity = identity_flags(&expectations);
    if expectations.vuln_max_severity.is_some()
        && !expectations.required().contains(&Requirement::Vuln)
    {
        return Err(Error::msg(
            "--vuln-max-severity applies to the scan: add `--require vuln`",
        ));
    }
    let key = expectations
        .key
        .as_deref()
        .map(PublicKey::read)
        .transpose()?;
    let report = if let Some(bundle) = &args.bundle {
        refuse_build_expectations(&expectations)?;
        verify_one_bundle(&args, bundle, &expectations, key.as_ref(), &identity)?
    } else {
        verify_image(&args, expectations, key, &identity, ui)?
    };
    print(&report, args.format);
    if report.verified {
        Ok(0)
    } else {
        Err(Error::check_failed(format!(
            "verification of {} failed: {}",
            report.reference,
            report.failure_summary()
        )))
    }
}

/// The flags' expectations over `--policy`'s.
fn expectations(args: &Args) -> Result<Expectations> {
    let flags = Expectations {
        key: args.key.clone(),
        trusted_root: args.trusted_root.clone(),
        builder_id: args.builder_id.clone(),
        source_repo: args.source_repo.clone(),
        source_commit: args.source_commit.clone(),
        source_ref: args.source_ref.clone(),
        require: args.require.clone(),
        vuln_max_severity: args.vuln_max_severity,
        certificate_identity: args.identity.certificate_identity.clone(),
        certificate_identity_regexp: args.identity.certificate_identity_regexp.clone(),
        certificate_oidc_issuer: args.identity.certificate_oidc_issuer.clone(),
        certificate_oidc_issuer_regexp: args.identity.certificate_oidc_issuer_regexp.clone(),
        certificate_github_workflow_repository: args.certificate_github_workflow_repository.clone(),
        certificate_github_workflow_ref: args.certificate_github_workflow_ref.clone(),
        certificate_github_workflow_sha: args.certificate_github_workflow_sha.clone(),
        certificate_github_workflow_trigger: args.certificate_github_workflow_trigger.clone(),
        certificate_github_workflow_name: args.certificate_github_workflow_name.clone(),
    };
    Ok(match &args.policy {
        Some(p) => Expectations::load(p)?.overridden_by(flags),
        None => flags,
    })
}

/// A bundle is checked for its signature, subject and log entries only: expectations about
/// the build would be silently ignored, so they are refused.
fn refuse_build_expectations(e: &Expectations) -> Result<()> {
    let ignored = [
        ("--builder-id", e.builder_id.is_some()),
        ("--source-repo", e.source_repo.is_some()),
        ("--source-commit", e.source_commit.is_some()),
        ("--source-ref", e.source_ref.is_some()),
        ("--require", !e.require.is_empty()),
        ("--vuln-max-severity", e.vuln_max_severity.is_some()),
    ];
    match ignored.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::msg(format!(
            "{flag} (given or from --policy) applies to an image, not to --bundle: verify \
             the image (`verify REF --key PUB {flag} ...`), or drop it"
        ))),
        None => Ok(()),
    }
}

/// Image mode: `--key` and/or the keyless identity policy.
fn verify_image(
    args: &Args,
    expectations: Expectations,
    key: Option<PublicKey>,
    identity: &IdentityFlags,
    ui: &Ui,
) -> Result<Report> {
    let trust = Trust {
        keyless: keyless_trust(args, identity, &expectations, key.is_some())?,
        trusted_root: match key {
            Some(_) => read_root(&expectations, args.require_tlog)?,
            None => None,
        },
        require_tlog: args.require_tlog,
        key,
        // The vulnerability gate (`check_scans`) reads every verified scan, `--rebuild` the
        // first provenance of our build type.
        reading: match args.all_evidence || expectations.vuln_max_severity.is_some() || args.rebuild
        {
            true => verify::Reading::All,
            false => verify::Reading::UntilVerified,
        },
        expectations,
    };
    let reference = args.reference.clone().unwrap_or_default();
    let source = verify::Source::open(&reference, args.plain_http, args.timeout)?;
    ui.status("Verifying", &reference);
    let mut report = verify::verify_image(&source, &reference, &trust)?;
    crate::audit::require::check_scans(&mut report, &trust.expectations);
    if let Some(k) = &trust.keyless {
        // The root keyless attestations are checked against, whether any was found or not.
        report.trusted_root = Some(k.root.name.clone());
    }
    report.slsa = Some(verify::slsa_level::assess(&report));
    if args.rebuild {
        let statements = report.statements.clone();
        let target = report.target.clone();
        crate::rebuild::run(
            &mut report,
            &statements,
            &target,
            args.source.as_deref(),
            ui,
        )?;
    }
    Ok(report)
}

/// `--bundle`: a keyless bundle against the identity policy and the trusted root, a
/// key-signed one against `--key`.
fn verify_one_bundle(
    args: &Args,
    bundle: &std::path::Path,
    expectations: &Expectations,
    key: Option<&PublicKey>,
    identity: &IdentityFlags,
) -> Result<Report> {
    let artifact = Artifact::from_arg(args.artifact.as_deref().unwrap_or_default())?;
    let bytes = crate::util::fs::read(bundle)?;
    let name = bundle.display().to_string();
    if keyless::is_keyless(&bytes) {
        let trust = KeylessTrust {
            policy: IdentityPolicy::required(identity, &name)?,
            root: Arc::new(SigstoreRoot::load(expectations.trusted_root.as_deref())?),
            time_threshold: usize::from(args.verified_time_threshold),
        };
        keyless::verify_bundle(&name, &bytes, &artifact, &trust)
    } else {
        let root = read_root(expectations, args.require_tlog)?;
        let mut report = verify::verify_bundle(&name, &bytes, &artifact, key, root.as_ref())?;
        if args.require_tlog {
            keyless::tlog_required(&mut report, None);
        }
        Ok(report)
    }
}

/// Image mode: the keyless policy when identity flags were given; without them a key is
/// required.
fn keyless_trust(
    args: &Args,
    identity: &IdentityFlags,
    expectations: &Expectations,
    has_key: bool,
) -> Result<Option<KeylessTrust>> {
    let Some(policy) = IdentityPolicy::from_flags(identity)? else {
        if has_key {
            return Ok(None);
        }
        return Err(Error::msg(
            "nothing to verify the attestations against: pass --key PUB (or `key` in \
             --policy), or --certificate-identity and --certificate-oidc-issuer for keyless \
             attestations",
        ));
    };
    Ok(Some(KeylessTrust {
        policy,
        root: Arc::new(SigstoreRoot::load(expectations.trusted_root.as_deref())?),
        time_threshold: usize::from(args.verified_time_threshold),
    }))
}

/// The trusted root for key-signed bundles' log entries: `--trusted-root`; with
/// `--require-tlog` and none given, the shipped public-good root.
fn read_root(expectations: &Expectations, require_tlog: bool) -> Result<Option<TrustedRoot>> {
    match expectations.trusted_root.as_deref() {
        Some(p) => TrustedRoot::read(p).map(Some),
        None if require_tlog => TrustedRoot::parse(
            keyless::root::PUBLIC_GOOD_ROOT.as_bytes(),
            keyless::root::PUBLIC_GOOD_NAME,
        )
        .map(Some),
        None => Ok(None),
    }
}

fn identity_flags(e: &Expectations) -> IdentityFlags {
    IdentityFlags {
        identity: e.certificate_identity.clone(),
        identity_regexp: e.certificate_identity_regexp.clone(),
        issuer: e.certificate_oidc_issuer.clone(),
        issuer_regexp: e.certificate_oidc_issuer_regexp.clone(),
        github: GithubClaims {
            repository: e.certificate_github_workflow_repository.clone(),
            git_ref: e.certificate_github_workflow_ref.clone(),
            sha: e.certificate_github_workflow_sha.clone(),
            trigger: e.certificate_github_workflow_trigger.clone(),
            name: e.certificate_github_workflow_name.clone(),
        },
    }
}

fn print(report: &Report, format: ReportFormat) {
    use std::io::Write;
    let text = match format {
        ReportFormat::Human => report.human(),
        ReportFormat::Json => report.json(),
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
